//! Every program in `examples/` runs through the real `sx` binary, on every tier, with
//! and without forced suspension, and prints exactly its `NAME.expected`, with nothing
//! on stderr and exit status 0.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn examples() -> Vec<PathBuf> {
    let dir = examples_dir();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sx"))
        .collect();
    found.sort();
    found
}

fn expected_for(example: &Path) -> String {
    let path = example.with_extension("expected");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} has no expected output: {e}", path.display()))
}

#[test]
fn the_documented_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in [
        "blog",
        "calc",
        "closures",
        "demo",
        "errors",
        "macros",
        "queue",
        "transform",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "examples/{name}.sx is missing"
        );
    }
}

/// The ways `sx run` can evaluate a program; all must print the same.
const MODES: &[&[&str]] = &[
    &["--tier", "cek"],
    &["--tier", "vm"],
    &["--tier", "cek", "--suspend-everywhere"],
    &["--tier", "vm", "--suspend-everywhere"],
];

#[test]
fn every_example_prints_its_expected_output_in_every_mode() {
    let mut failures = Vec::new();
    for example in examples() {
        let expected = expected_for(&example);
        for mode in MODES {
            let out = Command::new(env!("CARGO_BIN_EXE_sx"))
                .arg("run")
                .args(*mode)
                .arg(&example)
                .output()
                .expect("run sx");
            let name = format!(
                "{} ({})",
                example.file_name().unwrap().to_string_lossy(),
                mode.join(" ")
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                failures.push(format!("{name}: exit {:?}, stderr:\n{stderr}", out.status));
            } else if stdout != expected {
                failures.push(format!(
                    "{name}: stdout differs\n--- expected\n{expected}--- actual\n{stdout}"
                ));
            } else if !stderr.is_empty() {
                failures.push(format!("{name}: unexpected stderr:\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sx_with_no_arguments_runs_the_demo() {
    let out = Command::new(env!("CARGO_BIN_EXE_sx"))
        .output()
        .expect("run sx");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected_for(&examples_dir().join("demo.sx"))
    );
}
