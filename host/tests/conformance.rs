//! The conformance suite: every `tests/conformance/NAME.sx` runs on every tier and
//! must print exactly `NAME.out`, or fail with a message containing `NAME.err`.

use std::path::{Path, PathBuf};

use lang::{Interp, OutputBuffer};
use sx::{format_error, with_big_stack, Host};

/// What one run produced.
struct Run {
    stdout: String,
    error: Option<String>,
}

fn run_case(src: String, file: String) -> Run {
    with_big_stack(move || {
        let out = OutputBuffer::default();
        let mut host = Host::new(Interp::with_output(Box::new(out.clone())));
        let result = host.run_source(&src, &file);
        Run {
            stdout: out.contents(),
            error: result.err().map(|e| format_error(&e)),
        }
    })
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sx"))
        .collect();
    cases.sort();
    cases
}

/// Checks one case; returns a description of the mismatch, if any.
fn check(case: &Path) -> Option<String> {
    let name = case
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let src = std::fs::read_to_string(case).expect("read case");
    let out_file = case.with_extension("out");
    let err_file = case.with_extension("err");
    let run = run_case(src, name.clone());
    if let Ok(expected) = std::fs::read_to_string(&out_file) {
        if let Some(e) = &run.error {
            return Some(format!(
                "{name}: expected success, got {e}\n  stdout so far: {:?}",
                run.stdout
            ));
        }
        if run.stdout != expected {
            return Some(format!(
                "{name}: stdout differs\n  expected: {expected:?}\n  actual:   {:?}",
                run.stdout
            ));
        }
        return None;
    }
    match std::fs::read_to_string(&err_file) {
        Ok(expected) => {
            let expected = expected.trim_end_matches('\n');
            match &run.error {
                None => Some(format!(
                    "{name}: expected an error containing {expected:?}, but it succeeded"
                )),
                Some(e) if !e.contains(expected) => {
                    Some(format!("{name}: error {e:?} does not contain {expected:?}"))
                }
                Some(_) => None,
            }
        }
        Err(_) => Some(format!("{name}: has neither a .out nor a .err file")),
    }
}

#[test]
fn conformance_suite_passes_on_the_cek() {
    let cases = cases();
    assert!(!cases.is_empty(), "no conformance cases found");
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
