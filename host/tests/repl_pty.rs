//! `sx repl` on a pseudo-terminal, as a person at a terminal meets it: Ctrl-C during
//! an evaluation, history written as entries are read, pasted blocks, Ctrl-D at the
//! continuation prompt, several forms on a line, help and completion.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

/// A fresh directory for one test, used as `$HOME` (the history file goes there).
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("repl_pty")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// `sx repl` on a new pseudo-terminal, with `dir` as its home, waiting for input.
fn repl(dir: &Path) -> PtySession {
    repl_with(dir, &[])
}

/// `sx repl EXTRA…` on a new pseudo-terminal, as [`repl`].
fn repl_with(dir: &Path, extra: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sx"));
    cmd.arg("repl")
        .args(extra)
        .current_dir(dir)
        .env("HOME", dir)
        .env("TERM", "xterm")
        .env_remove("SX_LOG");
    let mut p = spawn_command(cmd, Some(10_000)).expect("spawn sx repl on a pty");
    p.exp_string("Ctrl-D to quit").expect("the banner");
    p.exp_string("sx> ").expect("the first prompt");
    p
}

/// Sends `line` and waits until the REPL has printed `answer` and prompts again.
fn ask(p: &mut PtySession, line: &str, answer: &str) {
    p.send_line(line).expect("send a line");
    p.exp_string(answer)
        .unwrap_or_else(|e| panic!("after {line:?}, expected {answer:?}: {e}"));
    p.exp_string("sx> ").expect("the next prompt");
}

#[test]
fn a_pasted_four_line_define_is_read_whole() {
    let dir = scratch("paste");
    let mut p = repl(&dir);
    // One write, as a terminal delivers a paste without bracketed paste mode.
    p.send("(define (area w h)\n  (let ((a (* w h)))\n    a))\n(area 6 7)\n")
        .expect("paste");
    p.flush().expect("flush");
    p.exp_string("42").expect("the pasted definition works");
}

#[test]
fn ctrl_c_interrupts_a_running_loop_and_the_session_goes_on() {
    for tier in ["cek", "vm"] {
        let dir = scratch(&format!("ctrl_c_{tier}"));
        interrupt_loops(repl_with(&dir, &["--tier", tier]), tier);
    }
}

fn interrupt_loops(mut p: PtySession, tier: &str) {
    ask(&mut p, "(define kept 41)", "nil");
    for (tier_loop, name) in [
        ("(let loop ((i 0)) (loop (+ i 1)))", "tail loop"),
        // Deep but bounded, repeated forever: an unbounded recursion could reach the
        // depth limit before the Ctrl-C arrives on a fast machine.
        (
            "(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1))))) (let loop () (deep 100000) (loop))",
            "deep recursion",
        ),
        (
            "(let loop () (map (fn (x) (* x x)) (range 100)) (loop))",
            "map loop",
        ),
    ] {
        p.send_line(tier_loop).expect("start a loop");
        std::thread::sleep(std::time::Duration::from_millis(300));
        p.send_control('c').expect("Ctrl-C");
        p.exp_string("interrupted")
            .unwrap_or_else(|e| panic!("{tier}, {name}: no `interrupted`: {e}"));
        p.exp_string("sx> ").expect("the prompt again");
        ask(&mut p, "(+ kept 1)", "42");
    }
    p.send_control('d').expect("Ctrl-D");
    p.exp_eof().expect("the session ends");
}

#[test]
fn history_is_written_as_each_entry_is_read_and_survives_a_kill() {
    let dir = scratch("history");
    let mut p = repl(&dir);
    ask(&mut p, "(define first-entry 1)", "nil");
    ask(&mut p, "(+ first-entry 2)", "3");
    let pid = p.process().child_pid.as_raw();
    // SAFETY: kill only sends a signal, to the child this test spawned.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let _ = p.exp_eof();
    let history = std::fs::read_to_string(dir.join(".sx_history")).expect("the history file");
    assert!(
        history.contains("(define first-entry 1)") && history.contains("(+ first-entry 2)"),
        "{history:?}"
    );
    // A new session finds them.
    let mut p = repl(&dir);
    ask(&mut p, "(+ 1 1)", "2");
    p.send_control('d').expect("Ctrl-D");
    p.exp_eof().expect("the session ends");
    let history = std::fs::read_to_string(dir.join(".sx_history")).expect("the history file");
    assert!(history.contains("(define first-entry 1)") && history.contains("(+ 1 1)"));
}

#[test]
fn ctrl_d_at_the_continuation_prompt_cancels_the_form() {
    let dir = scratch("ctrl_d");
    let mut p = repl(&dir);
    p.send_line("(define (half-typed x)").expect("an open form");
    p.exp_string("... ").expect("the continuation prompt");
    p.send_control('d').expect("Ctrl-D");
    p.exp_string("sx> ").expect("back at the first prompt");
    // The session is still there, and the cancelled form was not defined.
    ask(&mut p, "(+ 20 22)", "42");
    ask(&mut p, "(help 'half-typed)", "half-typed: not defined");
    p.send_control('d').expect("Ctrl-D");
    p.exp_eof().expect("Ctrl-D at sx> quits");
}

#[test]
fn each_form_on_a_line_is_evaluated_and_printed() {
    let dir = scratch("forms_on_a_line");
    let mut p = repl(&dir);
    p.send_line("1 2 (+ 3 4)").expect("send");
    p.exp_regex(r"1\r\n2\r\n7\r\n")
        .expect("1, 2 and 7 each printed");
    p.exp_string("sx> ").expect("the prompt");
}

#[test]
fn help_describes_primitives_and_tab_completes_defined_names() {
    let dir = scratch("help_and_tab");
    let mut p = repl(&dir);
    ask(&mut p, "(help 'map)", "map: (map f xs): the list of (f x)");
    p.send_line("(help)").expect("send");
    p.exp_string("higher-order").expect("the overview");
    p.exp_string("sx> ").expect("the prompt");
    ask(&mut p, "(define (distinctive-name x) (* x 3))", "nil");
    p.send("(distinctive-na\t").expect("type and Tab");
    p.send_line(" 14)").expect("finish the line");
    p.exp_string("42").expect("the completed name was called");
}
