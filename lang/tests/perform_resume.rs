//! The suspend/resume protocol seen from a host written in Rust.

use lang::{Interp, Outcome, OutputBuffer, Value};

fn interp() -> (Interp, OutputBuffer) {
    let out = OutputBuffer::default();
    (Interp::with_output(Box::new(out.clone())), out)
}

fn request_op(req: &Value) -> String {
    let Value::Dict(d) = req else {
        panic!("request is not a dict: {req:?}")
    };
    match d.get(&Value::keyword("op")) {
        Some(Value::Str(s)) => s.to_string(),
        other => panic!("no :op: {other:?}"),
    }
}

#[test]
fn perform_hands_the_request_to_the_host_and_resumes_where_it_stopped() {
    let (mut i, out) = interp();
    let outcome = i.run_source(
        r#"(println "before") (println "got" (+ 1 (perform {:op "ask"}))) 42"#,
        "t",
    );
    let Outcome::Perform(req, mut k) = outcome else {
        panic!("expected a perform")
    };
    assert_eq!(request_op(&req), "ask");
    assert_eq!(out.contents(), "before\n");
    let Outcome::Done(v) = k.resume(&mut i, Value::Int(41)) else {
        panic!("expected done")
    };
    assert_eq!(out.contents(), "before\ngot 42\n");
    assert!(matches!(v, Value::Int(42)));
}

#[test]
fn a_second_resume_is_a_clear_error() {
    let (mut i, _) = interp();
    let Outcome::Perform(_, mut k) = i.run_source(r#"(perform {:op "x"})"#, "t") else {
        panic!()
    };
    assert!(k.is_live());
    assert!(matches!(k.resume(&mut i, Value::Nil), Outcome::Done(_)));
    assert!(!k.is_live());
    let Outcome::Error(e) = k.resume(&mut i, Value::Nil) else {
        panic!("second resume must fail")
    };
    assert!(e.message().contains("already resumed"), "{}", e.message());
}

#[test]
fn perform_inside_a_map_callback_suspends_the_loop_thousands_of_times() {
    let (mut i, _) = interp();
    let mut outcome = i.run_source(
        r#"(reduce + 0 (map (fn (x) (perform {:op "double" :n x})) (range 5000)))"#,
        "t",
    );
    let mut performs = 0;
    let v = loop {
        match outcome {
            Outcome::Perform(req, mut k) => {
                performs += 1;
                let Value::Dict(d) = &req else { panic!() };
                let Some(Value::Int(n)) = d.get(&Value::keyword("n")) else {
                    panic!()
                };
                outcome = k.resume(&mut i, Value::Int(n * 2));
            }
            Outcome::Done(v) => break v,
            Outcome::Error(e) => panic!("{e}"),
        }
    };
    assert_eq!(performs, 5000);
    assert!(matches!(v, Value::Int(n) if n == 2 * (4999 * 5000 / 2)));
}

#[test]
fn a_host_failure_is_raised_at_the_perform_and_can_be_caught() {
    let (mut i, _) = interp();
    let src = r#"(guard (e (true (str "caught " (error-message e)))) (perform {:op "nope"}))"#;
    let Outcome::Perform(_, mut k) = i.run_source(src, "t") else {
        panic!()
    };
    let err = lang::SxError::new("perform: no handler for op \"nope\"", None);
    let Outcome::Done(v) = k.resume_error(&mut i, err) else {
        panic!()
    };
    assert_eq!(
        lang::printer::display(&v),
        "caught perform: no handler for op \"nope\""
    );
}

#[test]
fn an_uncaught_host_failure_points_at_the_perform() {
    let (mut i, _) = interp();
    let Outcome::Perform(_, mut k) = i.run_source("\n  (perform {:op \"nope\"})", "f.sx") else {
        panic!()
    };
    let Outcome::Error(e) = k.resume_error(&mut i, lang::SxError::new("no handler", None)) else {
        panic!()
    };
    assert_eq!(e.span.map(|s| s.to_string()).as_deref(), Some("f.sx:2:3"));
}

#[test]
fn calls_from_the_host_can_perform_too() {
    let (mut i, _) = interp();
    assert!(matches!(i.run_source(r#"(define (get-twice k) (list (perform {:op "get" :k k}) (perform {:op "get" :k k})))"#, "t"), Outcome::Done(_)));
    let f = i.global("get-twice").expect("defined");
    let mut outcome = i.call(&f, vec![Value::str("a")]);
    let mut n = 0;
    let v = loop {
        match outcome {
            Outcome::Perform(_, mut k) => {
                n += 1;
                outcome = k.resume(&mut i, Value::Int(n));
            }
            Outcome::Done(v) => break v,
            Outcome::Error(e) => panic!("{e}"),
        }
    };
    assert_eq!(lang::printer::repr(&v), "(1 2)");
}
