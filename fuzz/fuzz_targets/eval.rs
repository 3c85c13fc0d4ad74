//! Evaluating arbitrary source never panics: every failure is an SX error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let mut interp = lang::Interp::with_output(Box::new(std::io::sink()));
    interp.fuel = Some(100_000);
    interp.max_depth = 10_000;
    let mut outcome = interp.run_source(&src, "fuzz");
    // Answer every perform with nil, a bounded number of times.
    for _ in 0..100 {
        match outcome {
            lang::Outcome::Perform(_, mut k) => outcome = k.resume(&mut interp, lang::Value::Nil),
            _ => break,
        }
    }
});
