//! Fuzzes the Soufflé-subset `.dl` front end: parsing, checking and stratifying any
//! input must return a value or an error, never panic. Inputs that pass are also
//! planned (not run: arithmetic recursion may legitimately never end).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let mut db = datalog::Database::new();
    if db.add_rules(src, "fuzz.dl").is_ok() {
        let _ = db.explain();
    }
});
