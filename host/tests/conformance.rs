//! The conformance suite: every `tests/conformance/NAME.sx` runs on every tier and
//! must print exactly `NAME.out`, or fail with a message containing `NAME.err`.

use std::path::{Path, PathBuf};

use lang::tiering::JitMode;
use lang::{Interp, OutputBuffer};
use sx::{format_error, with_big_stack, Host, HostOptions};

/// What one run produced.
struct Run {
    stdout: String,
    error: Option<String>,
}

/// Every configuration a case must pass on: each JIT mode (off: all on the CEK;
/// eager: all on the VM; hot:1: a function moves to the VM on its second call),
/// answering requests in place and with every `perform` suspended to the host loop.
const CONFIGS: &[(&str, JitMode, bool)] = &[
    ("--jit=off", JitMode::Off, false),
    ("--jit=off --suspend-everywhere", JitMode::Off, true),
    ("--jit=eager", JitMode::Eager, false),
    ("--jit=eager --suspend-everywhere", JitMode::Eager, true),
    ("--jit=hot:1", JitMode::Hot(1), false),
    ("--jit=hot:1 --suspend-everywhere", JitMode::Hot(1), true),
];

fn run_case(src: String, file: String, jit: JitMode, suspend_everywhere: bool) -> Run {
    with_big_stack(move || {
        let out = OutputBuffer::default();
        let options = HostOptions {
            jit: Some(jit),
            suspend_everywhere,
            ..HostOptions::default()
        };
        let mut host = Host::with_options(Interp::with_output(Box::new(out.clone())), options);
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

/// Checks one case on one configuration; returns the mismatch, if any.
fn check(case: &Path, config: &str, jit: JitMode, suspend: bool) -> Option<String> {
    let file = case
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let name = format!("{file} [{config}]");
    let src = std::fs::read_to_string(case).expect("read case");
    let out_file = case.with_extension("out");
    let err_file = case.with_extension("err");
    let run = run_case(src, file, jit, suspend);
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

fn suite(configs: &[(&str, JitMode, bool)]) {
    let cases = cases();
    assert!(
        cases.len() >= 200,
        "expected at least 200 conformance cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (config, jit, suspend) in configs {
        failures.extend(
            cases
                .iter()
                .filter_map(|c| check(c, config, *jit, *suspend)),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} case runs failed:\n{}",
        failures.len(),
        cases.len() * configs.len(),
        failures.join("\n")
    );
}

#[test]
fn conformance_suite_passes_on_the_cek() {
    suite(&CONFIGS[..2]);
}

#[test]
fn conformance_suite_passes_on_the_vm() {
    suite(&CONFIGS[2..4]);
}

#[test]
fn conformance_suite_passes_when_functions_move_to_the_vm_while_running() {
    suite(&CONFIGS[4..]);
}
