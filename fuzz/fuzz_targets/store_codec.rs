//! The `sx serve` store codec on arbitrary stored text never panics, and a value
//! it decodes encodes to text that decodes equal.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sx::serve::codec::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = decode("fuzz", &text) {
        if let Ok(again) = encode(&v) {
            let back = decode("fuzz", &again).expect("encoded text decodes");
            assert!(lang::value::equal(&v, &back) || again.contains("##NaN"));
        }
    }
});
