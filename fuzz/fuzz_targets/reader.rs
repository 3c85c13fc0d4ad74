//! The reader never panics, and what it reads prints and reads back equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    if let Ok(forms) = lang::reader::read_all(&src, "fuzz") {
        for f in forms {
            let v = f.to_value();
            let printed = lang::printer::repr(&v);
            if let Ok(again) = lang::reader::read_one(&printed, "fuzz") {
                assert!(lang::value::equal(&v, &again.to_value()) || printed.contains("##NaN"));
            }
        }
    }
});
