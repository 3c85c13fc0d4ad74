//! `sx repl`: line editing and history (rustyline), multi-line input (a form is
//! read until its brackets close), and errors that never end the session.
//!
//! - Ctrl-C while an entry is evaluated sets the interpreter's interrupt flag from a
//!   `SIGINT` handler: the next call on any tier raises `interrupted`, the REPL
//!   prints that and goes on with every definition intact. A second Ctrl-C before
//!   the first is seen ends the process, as a plain `SIGINT` would (a primitive
//!   that runs for long without calling a function cannot see the flag). While a
//!   line is typed, Ctrl-C drops the form being typed.
//! - Each entry is appended to the history file as soon as it is read.
//! - Several forms on a line are each evaluated and printed, in order.
//! - Input read past the end of a line (a paste the terminal does not bracket) is
//!   kept for the next line (rustyline's `buffer-redux` feature).
//! - Ctrl-D at the `...` prompt cancels the form; at `sx> ` it quits.
//! - Tab completes the names defined so far and the special forms.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use sx::{format_error, Host};

/// Runs the REPL on `host`; returns the exit code.
pub fn run(host: Result<Host, String>) -> i32 {
    let mut host = match host {
        Ok(h) => h,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let interactive = std::io::stdin().is_terminal();
    if let Err(e) = interrupt_on_ctrl_c(&host.interp.interrupt) {
        tracing::warn!(error = %e, "cannot handle Ctrl-C: it will end the session");
    }
    let mut rl: Editor<Names, FileHistory> = match Editor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    rl.set_helper(Some(Names::of(&host)));
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".sx_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("SX {} — Ctrl-D to quit", env!("CARGO_PKG_VERSION"));
    let mut pending = String::new();
    let mut history_failed = false;
    loop {
        let prompt = if pending.is_empty() { "sx> " } else { "... " };
        match rl.readline(prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if is_incomplete(&pending) {
                    continue;
                }
                let src = std::mem::take(&mut pending);
                if src.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(src.trim_end());
                if let Some(h) = &history {
                    if let Err(e) = rl.append_history(h) {
                        if !history_failed {
                            tracing::warn!(file = %h.display(), error = %e, "cannot write the history");
                            history_failed = true;
                        }
                    }
                }
                eval_entry(&mut host, &src);
                if let Some(names) = rl.helper_mut() {
                    *names = Names::of(&host);
                }
            }
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) if interactive && !pending.is_empty() => pending.clear(),
            Err(ReadlineError::Eof) => {
                if !pending.trim().is_empty() {
                    if let Err(e) = lang::reader::read_all(&pending, "<repl>") {
                        eprintln!("error: {e}");
                    }
                }
                break;
            }
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    0
}

/// Evaluates each form of one entry and prints its value; stops at the first
/// error. An interrupted evaluation prints `interrupted`.
fn eval_entry(host: &mut Host, src: &str) {
    let forms = match lang::reader::read_all(src, "<repl>") {
        Ok(forms) => forms,
        Err(e) => {
            eprintln!("{}", format_error(&e.into()));
            return;
        }
    };
    for form in forms {
        let result = host.run_forms(vec![form]);
        host.interp.flush();
        match result {
            Ok(v) => println!("{}", lang::printer::repr(&v)),
            Err(e) if e.message() == lang::INTERRUPTED => {
                host.interp.interrupt.store(false, Ordering::Relaxed);
                eprintln!("interrupted");
                return;
            }
            Err(e) => {
                eprintln!("{}", format_error(&e));
                return;
            }
        }
    }
}

/// Ctrl-C (`SIGINT`) sets `flag`, or ends the process (status 130) when the flag is
/// still set from an earlier one. signal-hook rather than ctrlc: it sets an
/// `AtomicBool` straight from the handler (async-signal-safe, no helper thread),
/// which is all the interpreter reads, and it composes with the conditional exit.
fn interrupt_on_ctrl_c(flag: &Arc<AtomicBool>) -> std::io::Result<()> {
    use signal_hook::consts::SIGINT;
    // Registered first, so it sees the flag before the next action sets it.
    signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone())?;
    signal_hook::flag::register(SIGINT, flag.clone())?;
    Ok(())
}

/// True when the text so far ends inside an open list or string.
fn is_incomplete(src: &str) -> bool {
    match lang::reader::read_all(src, "<repl>") {
        Err(e) => {
            e.message.contains("found end of input") || e.message.starts_with("unterminated string")
        }
        Ok(_) => false,
    }
}

/// What Tab completes: every defined global and the special forms, sorted.
struct Names(Vec<String>);

impl Names {
    fn of(host: &Host) -> Names {
        let mut names = host.interp.global_names();
        names.retain(|n| !n.starts_with("dl--"));
        let specials = lang::prims::docs::DOCS
            .iter()
            .filter(|(area, _)| *area == "special forms")
            .flat_map(|(_, entries)| entries.iter().map(|(n, _)| n.to_string()));
        names.extend(specials);
        names.extend(["else", "begin", "let*"].map(String::from));
        names.sort();
        names.dedup();
        Names(names)
    }
}

/// Where the word before `pos` starts: after the last delimiter of the reader.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .rfind(|c: char| c.is_whitespace() || "()[]{}'`,\";".contains(c))
        .map_or(0, |i| i + 1)
}

impl Completer for Names {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = word_start(line, pos);
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let found = self
            .0
            .iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.clone(),
                replacement: n.clone(),
            })
            .collect();
        Ok((start, found))
    }
}

impl Hinter for Names {
    type Hint = String;
}

impl Highlighter for Names {}

impl Validator for Names {}

impl Helper for Names {}

#[cfg(test)]
mod tests {
    use super::word_start;

    #[test]
    fn the_word_to_complete_starts_after_the_last_delimiter() {
        assert_eq!(word_start("(map sq", 7), 5);
        assert_eq!(word_start("(fo", 3), 1);
        assert_eq!(word_start("fo", 2), 0);
        assert_eq!(word_start("'(a b", 5), 4);
    }
}
