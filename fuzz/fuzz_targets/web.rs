//! The web primitives on arbitrary text never panic: `json-parse` (and what it
//! parses emits and parses back equal), `url-decode`, `query-parse`, and
//! `markdown->html`, whose output never passes a `<script>` or a `javascript:`
//! address through.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lang::{Interp, Outcome, Value};

fn call(interp: &mut Interp, prim: &str, arg: Value) -> Option<Value> {
    let f = interp.global(prim).expect("a primitive");
    match interp.call(&f, vec![arg]) {
        Outcome::Done(v) => Some(v),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut interp = Interp::with_output(Box::new(std::io::sink()));
    let s = Value::str(&text);
    if let Some(v) = call(&mut interp, "json-parse", s.clone()) {
        let emitted = call(&mut interp, "json-str", v.clone()).expect("parsed JSON emits");
        let again = call(&mut interp, "json-parse", emitted).expect("emitted JSON parses");
        assert!(lang::value::equal(&v, &again));
    }
    let _ = call(&mut interp, "url-decode", s.clone());
    let _ = call(&mut interp, "query-parse", s.clone());
    // Raw HTML in the text comes out escaped, so every tag in the output is one
    // the renderer made: none may be a script or carry a javascript: address.
    let html = lang::prims::web::markdown(&text).to_ascii_lowercase();
    for tag in html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or("")) {
        assert!(!tag.starts_with("script"), "{html}");
        for attr in ["href=\"", "src=\""] {
            for value in tag.split(attr).skip(1) {
                assert!(!value.trim_start().starts_with("javascript:"), "{html}");
            }
        }
    }
});
