//! `sx repl`: line editing and history (rustyline), multi-line input (a form is
//! read until its brackets close), and errors that never end the session.

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
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
    let mut rl = match DefaultEditor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".sx_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("SX {} — Ctrl-D to quit", env!("CARGO_PKG_VERSION"));
    let mut pending = String::new();
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
                match host.run_source(&src, "<repl>") {
                    Ok(v) => {
                        host.interp.flush();
                        println!("{}", lang::printer::repr(&v));
                    }
                    Err(e) => {
                        host.interp.flush();
                        eprintln!("{}", format_error(&e));
                    }
                }
            }
            Err(ReadlineError::Interrupted) => pending.clear(),
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
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    0
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
