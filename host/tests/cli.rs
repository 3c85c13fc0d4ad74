//! The `sx` binary as a user meets it: `run`, `eval`, `repl`, `--boot`, exit codes
//! and what goes to stdout and stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sx"))
}

/// A fresh directory for one test (also used as `$HOME`, so the REPL's history file
/// never touches the real one).
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write(dir: &Path, name: &str, src: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, src).expect("write file");
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `sx` in `dir` with `args`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    sx().current_dir(dir)
        .env("HOME", dir)
        .args(args)
        .output()
        .expect("run sx")
}

/// Runs `sx repl` (plus `extra` arguments) with `input` piped to stdin.
fn repl(dir: &Path, extra: &[&str], input: &str) -> Output {
    let mut child = sx()
        .current_dir(dir)
        .env("HOME", dir)
        .arg("repl")
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sx repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to the repl");
    child.wait_with_output().expect("wait for sx repl")
}

#[test]
fn run_prints_only_what_the_program_prints() {
    let dir = scratch("run_prints_only");
    write(
        &dir,
        "prog.sx",
        "(println \"hello\" 42 \"world\")\n(print \"no newline\")\n(+ 1 2)\n(define x 5)\n",
    );
    let out = run_in(&dir, &["run", "prog.sx"]);
    assert!(out.status.success(), "{out:?}");
    // Neither the value of the last form nor the `define` is echoed.
    assert_eq!(stdout(&out), "hello 42 world\nno newline");
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_uncaught_error_prints_message_and_position_and_exits_1() {
    let dir = scratch("uncaught_error");
    write(
        &dir,
        "boom.sx",
        "(println \"before\")\n(define x 1)\n  (/ x 0)\n(println \"after\")\n",
    );
    let out = run_in(&dir, &["run", "boom.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "before\n", "output before the error is kept");
    assert_eq!(
        stderr(&out),
        "error: /: division by zero\n  at boom.sx:3:3\n"
    );
}

#[test]
fn an_uncaught_error_from_a_nested_call_points_at_the_failing_call() {
    let dir = scratch("nested_error");
    write(
        &dir,
        "nested.sx",
        "(define (check n)\n  (if (< n 0)\n      (error \"negative:\" n)\n      n))\n(check 1)\n(check -4)\n",
    );
    let out = run_in(&dir, &["run", "nested.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: negative: -4\n  at nested.sx:3:7\n");
}

#[test]
fn raising_a_non_error_value_prints_its_display_form() {
    let dir = scratch("raise_value");
    write(&dir, "r.sx", "(raise \"plain string\")\n");
    let out = run_in(&dir, &["run", "r.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: plain string\n  at r.sx:1:1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_reader_error_names_file_line_and_column_and_nothing_runs() {
    let dir = scratch("reader_error");
    write(
        &dir,
        "bad.sx",
        "(println \"never printed\")\n(define s\n  (list 1 \"abc))\n",
    );
    let out = run_in(&dir, &["run", "bad.sx"]);
    assert_eq!(out.status.code(), Some(1));
    // The whole file is read before any of it runs.
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: unterminated string: expected '\"' before end of input\n  at bad.sx:3:11\n"
    );

    write(&dir, "close.sx", "(list 1\n     2))\n");
    let out = run_in(&dir, &["run", "close.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: unexpected ')' with no form open\n  at close.sx:2:8\n"
    );

    write(&dir, "open.sx", "(define (f x)\n  (+ x 1)\n");
    let out = run_in(&dir, &["run", "open.sx"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: expected ')'"), "{err}");
    assert!(err.contains("opened at 1:1"), "{err}");
    assert!(err.contains("  at open.sx:3:1"), "{err}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = scratch("missing_file");
    let out = run_in(&dir, &["run", "no-such-file.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cannot read no-such-file.sx: "),
        "{err}"
    );
    assert!(err.contains("No such file"), "{err}");
}

#[test]
fn eval_prints_the_value_of_the_last_form() {
    let dir = scratch("eval_value");
    let out = run_in(&dir, &["eval", "(+ 1 2)"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "3\n");

    // The value is printed readably (strings quoted); earlier forms run first.
    let out = run_in(&dir, &["eval", "(define x 2) (list x \"s\" :k 1.0)"]);
    assert_eq!(stdout(&out), "(2 \"s\" :k 1.0)\n");
    let out = run_in(&dir, &["eval", "\"hi\""]);
    assert_eq!(stdout(&out), "\"hi\"\n");

    // What the expression prints comes before its value.
    let out = run_in(&dir, &["eval", "(println \"side\") {:a (* 6 7)}"]);
    assert_eq!(stdout(&out), "side\n{:a 42}\n");
}

#[test]
fn eval_reports_errors_like_run() {
    let dir = scratch("eval_error");
    let out = run_in(&dir, &["eval", "(perform {:op \"launch\"})"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: perform: no handler for op \"launch\"\n  at <eval>:1:1\n"
    );
}

#[test]
fn eval_serves_the_kv_operations() {
    let dir = scratch("eval_kv");
    let out = run_in(
        &dir,
        &[
            "eval",
            "(perform {:op \"kv-put\" :key \"b\" :value 2}) \
             (perform {:op \"kv-put\" :key \"a\" :value '(1)}) \
             (perform {:op \"kv-put\" :key \"x\" :value 3}) \
             (perform {:op \"kv-delete\" :key \"x\"}) \
             (list (perform {:op \"kv-get\" :key \"b\"}) \
                   (perform {:op \"kv-get\" :key \"x\"}) \
                   (perform {:op \"kv-scan\" :prefix \"\"}) \
                   (int? (perform {:op \"now\"})))",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "(2 nil ((\"a\" (1)) (\"b\" 2)) true)\n");
}

#[test]
fn every_tier_prints_the_same_values_and_errors() {
    let dir = scratch("tiers");
    write(
        &dir,
        "tiers.sx",
        "(println (map inc (range 3)) (guard (e (true (error-message e))) (car 1)))\n\
         (println (perform {:op \"kv-put\" :key \"k\" :value 1}) (perform {:op \"kv-get\" :key \"k\"}))\n\
         (nth '(1 2) 5)\n",
    );
    for tier in ["cek", "vm"] {
        for extra in [None, Some("--suspend-everywhere")] {
            let mut args = vec!["run", "--tier", tier];
            args.extend(extra);
            args.push("tiers.sx");
            let out = run_in(&dir, &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert_eq!(
                stdout(&out),
                "(1 2 3) undefined symbol: car\ntrue 1\n",
                "{args:?}"
            );
            assert_eq!(
                stderr(&out),
                "error: nth: index 5 out of range for a list of length 2\n  at tiers.sx:3:1\n",
                "{args:?}"
            );
        }
    }
}

#[test]
fn boot_file_performs_are_served_by_the_same_host() {
    let dir = scratch("boot_io");
    // The boot file writes, then reads back what it wrote: if code run at boot had
    // no IO handler, `kv-get` would give nil and `kv-scan` an empty list.
    write(
        &dir,
        "boot.sx",
        "(perform {:op \"kv-put\" :key \"greeting\" :value \"from boot\"})\n\
         (define boot-greeting (perform {:op \"kv-get\" :key \"greeting\"}))\n\
         (define boot-scan (perform {:op \"kv-scan\" :prefix \"gr\"}))\n\
         (defmacro twice (x) `(list ,x ,x))\n",
    );
    write(
        &dir,
        "main.sx",
        "(println boot-greeting)\n\
         (println boot-scan)\n\
         (println (perform {:op \"kv-get\" :key \"greeting\"}))\n\
         (println (twice 7))\n",
    );
    let out = run_in(&dir, &["run", "--boot", "boot.sx", "main.sx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "from boot\n((\"greeting\" \"from boot\"))\nfrom boot\n(7 7)\n"
    );

    // Without the boot file, the global does not exist.
    let out = run_in(&dir, &["run", "main.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: undefined symbol: boot-greeting\n  at main.sx:1:10"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn boot_files_run_in_order_and_also_serve_eval_and_repl() {
    let dir = scratch("boot_order");
    write(
        &dir,
        "one.sx",
        "(perform {:op \"kv-put\" :key \"n\" :value 1})\n",
    );
    write(
        &dir,
        "two.sx",
        "(define n (inc (perform {:op \"kv-get\" :key \"n\"})))\n\
         (perform {:op \"kv-put\" :key \"n\" :value n})\n",
    );
    let out = run_in(
        &dir,
        &[
            "eval",
            "--boot",
            "one.sx",
            "--boot",
            "two.sx",
            "(list n (perform {:op \"kv-get\" :key \"n\"}))",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "(2 2)\n");

    let out = repl(
        &dir,
        &["--boot", "one.sx", "--boot", "two.sx"],
        "(* n 10)\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().any(|l| l == "20"), "{}", stdout(&out));
}

#[test]
fn an_error_in_a_boot_file_stops_before_the_program() {
    let dir = scratch("boot_error");
    write(
        &dir,
        "bad-boot.sx",
        "(println \"booting\")\n(error \"boot failed\" 7)\n",
    );
    write(&dir, "main.sx", "(println \"main ran\")\n");
    let out = run_in(&dir, &["run", "--boot", "bad-boot.sx", "main.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "booting\n");
    assert_eq!(stderr(&out), "error: boot failed 7\n  at bad-boot.sx:2:1\n");

    let out = run_in(&dir, &["run", "--boot", "missing-boot.sx", "main.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("error: cannot read missing-boot.sx: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn repl_reads_multi_line_forms_prints_values_and_survives_errors() {
    let dir = scratch("repl_session");
    let input = "(define (double x)\n\
                 \x20 (* x 2))\n\
                 (double 21)\n\
                 (undefined-thing 1)\n\
                 (+ 1\n\
                 \x20  2\n\
                 \x20  3)\n\
                 \"a\nb\"\n\
                 )\n\
                 (println \"printed\") (double 5)\n\
                 (double 100)\n";
    let out = repl(&dir, &[], input);
    assert!(out.status.success(), "{out:?}");
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    // A banner, then one value per form (prompts are not written when stdin is not
    // a terminal): `(println "printed") (double 5)` prints its output, nil and 10.
    assert!(lines[0].starts_with("SX "), "{stdout}");
    assert_eq!(
        &lines[1..],
        &["nil", "42", "6", "\"a\\nb\"", "printed", "nil", "10", "200"],
        "{stdout}"
    );
    let stderr = stderr(&out);
    assert!(
        stderr.contains("error: undefined symbol: undefined-thing\n  at <repl>:1:2\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: unexpected ')' with no form open"),
        "{stderr}"
    );
}

#[test]
fn repl_keeps_state_across_inputs_and_exits_on_eof() {
    let dir = scratch("repl_state");
    let input = "(define total 0)\n\
                 (perform {:op \"kv-put\" :key \"k\" :value 5})\n\
                 (set! total (+ total (perform {:op \"kv-get\" :key \"k\"})))\n\
                 (defmacro inc! (v) `(set! ,v (inc ,v)))\n\
                 (inc! total)\n\
                 total\n";
    let out = repl(&dir, &[], input);
    assert_eq!(out.status.code(), Some(0), "EOF ends the session cleanly");
    let stdout = stdout(&out);
    assert_eq!(stdout.lines().last(), Some("6"), "{stdout}");
    assert_eq!(stderr(&out), "");
}

#[test]
fn the_jit_mode_comes_from_the_flag_or_sx_jit_and_bad_modes_are_rejected() {
    let mode = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let q = "(get (jit-stats) :mode)";
    assert_eq!(mode(sx().args(["eval", q])), "\"off\"\n");
    assert_eq!(
        mode(sx().args(["eval", "--jit", "hot:5", q])),
        "\"hot:5\"\n"
    );
    assert_eq!(
        mode(sx().args(["eval", q]).env("SX_JIT", "eager")),
        "\"eager\"\n"
    );
    assert_eq!(
        mode(
            sx().args(["eval", "--jit", "off", q])
                .env("SX_JIT", "eager")
        ),
        "\"off\"\n"
    );
    let bad = sx().args(["eval", "--jit", "warm", "1"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown JIT mode \"warm\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_file_as_the_first_argument_runs_it_like_run() {
    let dir = scratch("file_shorthand");
    write(
        &dir,
        "prog.sx",
        "(define (f n) (* n 2))\n(println (f 21))\n",
    );
    for args in [
        &["prog.sx"][..],
        &["prog.sx", "--tier", "vm"],
        &["run", "prog.sx"],
    ] {
        let out = run_in(&dir, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(stdout(&out), "42\n", "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // A missing file is reported as `run` reports it.
    let out = run_in(&dir, &["nope.sx"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: cannot read nope.sx: No such file or directory\n"),
        "{}",
        stderr(&out)
    );
}

/// Runs `sx` in `dir` with `args`, `input` on its standard input.
fn run_with_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = sx()
        .current_dir(dir)
        .env("HOME", dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sx");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the program");
    child.wait_with_output().expect("wait for sx")
}

#[test]
fn a_dash_reads_the_program_from_standard_input() {
    let dir = scratch("dash_stdin");
    for args in [&["-"][..], &["run", "-"], &["-", "--tier", "vm"]] {
        let out = run_with_stdin(&dir, args, "(println (+ 1 2))\n(car 1)\n");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert_eq!(stdout(&out), "3\n", "{args:?}");
        assert!(
            stderr(&out).contains("error: undefined symbol: car\n  at <stdin>:2:2"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let dir = scratch("closed_stdout");
    write(&dir, "many.sx", "(for-each println (range 1000000))\n");
    for args in [
        &["run", "many.sx"][..],
        &["eval", "(do (for-each println (range 1000000)) 1)"],
    ] {
        let mut child = sx()
            .current_dir(&dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sx");
        // Read the first line, then close the pipe, as `| head -1` does.
        let mut first = [0u8; 2];
        std::io::Read::read_exact(child.stdout.as_mut().expect("stdout"), &mut first)
            .expect("read the first line");
        assert_eq!(&first, b"0\n");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for sx");
        assert!(!out.status.success(), "{args:?}: ran to the end: {out:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn os_errors_of_sx_datalog_say_what_sx_was_doing() {
    let dir = scratch("datalog_os_errors");
    write(
        &dir,
        "p.dl",
        ".decl e(x: number)\n.input e\n.decl r(x: number)\n.output r\nr(x) :- e(x).\n",
    );
    write(&dir, "blocker", "a file, not a directory\n");
    write(&dir, "e.facts", "1\n2\n");
    let out = run_in(&dir, &["datalog", "p.dl", "-D", "blocker/out"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stderr(&out),
        "error: cannot create output directory blocker/out: Not a directory\n"
    );
    let out = run_in(&dir, &["datalog", "p.dl", "-F", "nowhere", "-D", "-"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stderr(&out),
        "error: cannot read facts file nowhere/e.facts: No such file or directory\n"
    );
    let out = run_in(&dir, &["datalog", "missing.dl"]);
    assert_eq!(
        stderr(&out),
        "error: cannot read missing.dl: No such file or directory\n"
    );
    let out = run_in(&dir, &["datalog", "p.dl", "-D", "out"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("out/r.csv")).expect("r.csv"),
        "1\n2\n"
    );
}

/// The largest resident set, in bytes, of any child this test process has waited
/// for so far.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn by_default_a_runaway_recursion_stops_well_before_a_gigabyte_and_a_million_deep_one_works() {
    let dir = scratch("default_depth");
    write(&dir, "runaway.sx", "(define (f n) (+ 1 (f n)))\n(f 0)\n");
    write(
        &dir,
        "million.sx",
        "(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))\n(println (deep 1000000))\n",
    );
    for tier in ["cek", "vm"] {
        let out = run_in(&dir, &["run", "runaway.sx", "--tier", tier]);
        assert_eq!(out.status.code(), Some(1), "{tier}: {out:?}");
        assert_eq!(
            stderr(&out),
            "error: recursion depth exceeded (limit 2000000 frames; raise it with --max-depth N)\n  at runaway.sx:1:20\n",
            "{tier}"
        );
        let out = run_in(&dir, &["run", "million.sx", "--tier", tier]);
        assert!(out.status.success(), "{tier}: {out:?}");
        assert_eq!(stdout(&out), "1000000\n", "{tier}");
    }
    let peak = children_peak_rss();
    assert!(peak < 700 << 20, "a child held {} MB", peak >> 20);
}

#[test]
fn max_depth_sets_the_depth_limit_and_its_error_says_how_to_raise_it() {
    let dir = scratch("max_depth");
    for tier in ["cek", "vm"] {
        let out = run_in(
            &dir,
            &[
                "eval",
                "(define (f n) (+ 1 (f n))) (f 0)",
                "--max-depth",
                "1000",
                "--tier",
                tier,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{tier}: {out:?}");
        assert_eq!(
            stderr(&out),
            "error: recursion depth exceeded (limit 1000 frames; raise it with --max-depth N)\n  at <eval>:1:20\n",
            "{tier}"
        );
        // A guard catches it, as any error.
        let out = run_in(
            &dir,
            &[
                "eval",
                "(define (f n) (+ 1 (f n))) (guard (e (true (error-message e))) (f 0))",
                "--max-depth",
                "1000",
                "--tier",
                tier,
            ],
        );
        assert!(out.status.success(), "{tier}: {out:?}");
        assert_eq!(
            stdout(&out),
            "\"recursion depth exceeded (limit 1000 frames; raise it with --max-depth N)\"\n"
        );
    }
}

#[test]
fn fuel_limits_the_calls_and_its_error_says_how_to_raise_it() {
    let dir = scratch("fuel");
    for tier in ["cek", "vm"] {
        let out = run_in(
            &dir,
            &[
                "eval",
                "(define (f n) (f (+ n 1))) (f 0)",
                "--fuel",
                "100",
                "--tier",
                tier,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{tier}: {out:?}");
        assert_eq!(
            stderr(&out),
            "error: step limit reached (limit 100 calls; raise it with --fuel N)\n  at <eval>:1:15\n",
            "{tier}"
        );
        let out = run_in(
            &dir,
            &[
                "eval",
                "(define (f n) (if (= n 0) :done (f (- n 1)))) (f 98)",
                "--fuel",
                "100",
                "--tier",
                tier,
            ],
        );
        assert_eq!(stdout(&out), ":done\n", "{tier}: {out:?}");
    }
}

#[test]
fn timeout_stops_a_long_evaluation_and_its_error_says_how_to_raise_it() {
    let dir = scratch("timeout");
    for tier in ["cek", "vm"] {
        let started = std::time::Instant::now();
        let out = run_in(
            &dir,
            &[
                "eval",
                "(let loop ((i 0)) (loop (+ i 1)))",
                "--timeout",
                "0.3",
                "--tier",
                tier,
            ],
        );
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{tier}: {out:?}");
        assert_eq!(
            stderr(&out),
            "error: time limit exceeded (limit 0.3 s; raise it with --timeout SECONDS)\n  at <eval>:1:19\n",
            "{tier}"
        );
        assert!(took < std::time::Duration::from_secs(5), "{tier}: {took:?}");
        // A guard does not catch it.
        let out = run_in(
            &dir,
            &[
                "eval",
                "(guard (e (true :caught)) (let loop ((i 0)) (loop (+ i 1))))",
                "--timeout",
                "0.2",
                "--tier",
                tier,
            ],
        );
        assert!(
            stderr(&out).starts_with("error: time limit exceeded"),
            "{tier}: {out:?}"
        );
        // Quick evaluations are not affected.
        let out = run_in(&dir, &["eval", "(+ 1 2)", "--timeout", "5", "--tier", tier]);
        assert_eq!(stdout(&out), "3\n", "{tier}: {out:?}");
    }
}

#[test]
fn max_memory_stops_an_evaluation_that_holds_too_much_and_says_how_to_raise_it() {
    let dir = scratch("max_memory");
    for tier in ["cek", "vm"] {
        let out = run_in(
            &dir,
            &[
                "eval",
                "(len (map (fn (x) (range 10)) (range 10000000)))",
                "--max-memory",
                "150",
                "--tier",
                tier,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{tier}: {out:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: memory limit exceeded (limit 150 MB, ")
                && err.contains(" MB in use; raise it with --max-memory MB)\n"),
            "{tier}: {err}"
        );
        let out = run_in(
            &dir,
            &[
                "eval",
                "(len (range 1000))",
                "--max-memory",
                "150",
                "--tier",
                tier,
            ],
        );
        assert_eq!(stdout(&out), "1000\n", "{tier}: {out:?}");
    }
}

#[test]
fn after_a_limit_stops_a_repl_entry_the_next_entries_run_under_fresh_limits() {
    let dir = scratch("repl_limits");
    let input = "(define big (map (fn (x) (range 10)) (range 10000000)))\n\
                 (+ 1 2)\n\
                 (define (spin) (spin))\n\
                 (spin)\n\
                 (+ 3 4)\n";
    let out = repl(&dir, &["--max-memory", "200", "--timeout", "0.5"], input);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = stdout(&out).lines().skip(1).map(String::from).collect();
    assert_eq!(lines, ["3", "nil", "7"], "{out:?}");
    let err = stderr(&out);
    // The memory the first entry held is given back, so the loop is stopped by
    // the timeout, not by memory already freed.
    assert!(
        err.contains("error: memory limit exceeded (limit 200 MB, ")
            && err.contains("error: time limit exceeded (limit 0.5 s; raise it with --timeout SECONDS)\n  at <repl>:1:16"),
        "{err}"
    );
}
