//! Runs every case under `tests/datalog`: `prog.dl`, optional `facts/*.facts`, and
//! either `expected/*.csv` (+ optional `expected.stdout`) or `expected.err` (a substring
//! of the error; nothing may be written to the output directory). Each case runs twice:
//! with the planner's row representations and with hash tuples only.

use datalog::io::run::{run_file, OutputDest, RunOptions};
use datalog::PlanOptions;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/datalog")
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn run_case(dir: &Path, plan: PlanOptions) -> Result<(), String> {
    let mode = if !plan.rows {
        "tuples"
    } else if plan.dense_rows {
        "rows"
    } else {
        "sparse"
    };
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let out = std::env::temp_dir().join(format!("sx-dl-case-{}-{name}-{mode}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let opts = RunOptions {
        facts_dir: dir.join("facts"),
        output: OutputDest::Dir(out.clone()),
        explain: false,
        stats: false,
        plan,
    };
    let mut stdout = Vec::new();
    let result = run_file(&dir.join("prog.dl"), &opts, &mut stdout);
    let produced: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let err_file = dir.join("expected.err");
    let outcome = if err_file.exists() {
        let want = std::fs::read_to_string(&err_file).unwrap();
        let want = want.trim_end();
        match result {
            Ok(_) => Err(format!(
                "{name}: expected error containing {want:?}, run succeeded"
            )),
            Err(e) if !e.to_string().contains(want) => Err(format!(
                "{name}: error {:?} does not contain {want:?}",
                e.to_string()
            )),
            Err(_) if !produced.is_empty() => Err(format!(
                "{name}: failed run left files behind: {produced:?}"
            )),
            Err(_) => Ok(()),
        }
    } else {
        match result {
            Err(e) => Err(format!("{name}: unexpected error: {e}")),
            Ok(_) => check_outputs(&name, dir, &out, &produced, &stdout),
        }
    };
    let _ = std::fs::remove_dir_all(&out);
    outcome
}

fn check_outputs(
    name: &str,
    dir: &Path,
    out: &Path,
    produced: &[PathBuf],
    stdout: &[u8],
) -> Result<(), String> {
    let expected_dir = dir.join("expected");
    let mut expected: Vec<String> = Vec::new();
    if expected_dir.exists() {
        for e in std::fs::read_dir(&expected_dir).unwrap() {
            let p = e.unwrap().path();
            let file = p.file_name().unwrap().to_string_lossy().to_string();
            expected.push(file.clone());
            let want = std::fs::read_to_string(&p).unwrap();
            let got = std::fs::read_to_string(out.join(&file))
                .map_err(|e| format!("{name}: output {file} missing: {e}"))?;
            if sorted_lines(&want) != sorted_lines(&got) {
                return Err(format!(
                    "{name}: {file} differs\n--- expected\n{want}--- got\n{got}"
                ));
            }
        }
    }
    for p in produced {
        let file = p.file_name().unwrap().to_string_lossy().to_string();
        if !expected.contains(&file) {
            return Err(format!("{name}: unexpected output {file}"));
        }
    }
    let stdout_file = dir.join("expected.stdout");
    if stdout_file.exists() {
        let want = std::fs::read_to_string(&stdout_file).unwrap();
        let got = String::from_utf8_lossy(stdout);
        if want != got {
            return Err(format!("{name}: stdout {got:?}, expected {want:?}"));
        }
    }
    Ok(())
}

fn all_cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/datalog exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("prog.dl").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn suite_has_at_least_sixty_cases() {
    assert!(all_cases().len() >= 60, "only {} cases", all_cases().len());
}

#[test]
fn every_case_passes_with_row_storage() {
    let failures: Vec<String> = all_cases()
        .iter()
        .filter_map(|d| run_case(d, PlanOptions::default()).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_passes_with_hash_tuples_only() {
    let failures: Vec<String> = all_cases()
        .iter()
        .filter_map(|d| run_case(d, PlanOptions::hash_tuples()).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_passes_with_sparse_rows_only() {
    let failures: Vec<String> = all_cases()
        .iter()
        .filter_map(|d| run_case(d, PlanOptions::sparse_rows()).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
