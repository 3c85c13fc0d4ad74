//! One-shot runs of a program file (`sx datalog`): each `.input` loaded as its I/O
//! parameters say, saturation, then `.printsize` and `.output`.
//!
//! Parameters, as Soufflé documents them: `IO=file` (the default), `IO=stdout` for an
//! output, `IO=stdin` for an input; `filename=` (relative to the facts directory for
//! an input, the output directory for an output; default `R.facts` and `R.csv`);
//! `delimiter=`, `headers=true`, `rfc4180=true`; a gzip-compressed input is read as
//! such. Other `IO=` kinds (`sqlite`, `jsonfile`) are rejected naming the directive.
//! Unknown keys are ignored, as Soufflé ignores them.
//!
//! Invariant: outputs are written to temporary files and renamed into place only after
//! every output succeeded, so a failed run leaves nothing half-written.

use crate::ast::{IoDirective, IoKind};
use crate::error::{CheckError, DatalogError, FactsError, Loc};
use crate::io::facts::{load_facts, read_text, render, stats_report, Format};
use crate::plan::planner::PlanOptions;
use crate::Database;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where outputs go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputDest {
    /// `OUT_DIR/R.csv` per output relation.
    Dir(PathBuf),
    /// Print to standard output (`-D -`).
    Stdout,
}

/// Options of a one-shot run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Directory of `.facts` files.
    pub facts_dir: PathBuf,
    /// Output destination.
    pub output: OutputDest,
    /// Print the plan before running.
    pub explain: bool,
    /// Print per-rule statistics after running.
    pub stats: bool,
    /// Planner switches.
    pub plan: PlanOptions,
}

/// Where one directive reads or writes.
enum Target {
    File(PathBuf),
    Stdout,
    Stdin,
}

/// The target and layout of directive `d`, with `dir` the directory relative names
/// are taken from and `ext` the default file extension.
fn target_of(
    d: &IoDirective,
    dir: &Path,
    ext: &str,
    program: &Arc<str>,
) -> Result<(Target, Format), DatalogError> {
    let bad = |message: String| {
        DatalogError::Check(CheckError::Other {
            loc: Loc::new(program, d.span),
            message,
        })
    };
    let flag = |key: &str| -> Result<bool, DatalogError> {
        match d.param(key) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(bad(format!(
                "`.{} {}`: `{key}` must be true or false, found `{v}`",
                d.kind.name(),
                d.relation
            ))),
        }
    };
    let fmt = Format {
        delimiter: d.param("delimiter").unwrap_or("\t").to_string(),
        headers: flag("headers")?,
        rfc4180: flag("rfc4180")?,
    };
    let target = match (d.param("IO").unwrap_or("file"), d.kind) {
        ("file", _) => {
            let name = d
                .param("filename")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}.{ext}", d.relation));
            Target::File(dir.join(name))
        }
        ("stdout", IoKind::Output | IoKind::PrintSize) => Target::Stdout,
        ("stdin", IoKind::Input) => Target::Stdin,
        (io, kind) => {
            return Err(bad(format!(
                "`.{} {}(IO={io})` is not supported (SX reads and writes IO=file{})",
                kind.name(),
                d.relation,
                if kind == IoKind::Input {
                    " and IO=stdin"
                } else {
                    " and IO=stdout"
                }
            )))
        }
    };
    Ok((target, fmt))
}

/// Runs a program file: load inputs, saturate, print sizes, write outputs.
pub fn run_file(
    program: &Path,
    opts: &RunOptions,
    stdout: &mut dyn Write,
) -> Result<Database, DatalogError> {
    let src = std::fs::read_to_string(program).map_err(|source| FactsError::Io {
        file: program.to_path_buf(),
        source,
    })?;
    let name: Arc<str> = Arc::from(program.display().to_string());
    let mut db = Database::new();
    db.set_plan_options(opts.plan);
    db.add_rules(&src, &name)?;
    let directives = db.program().io.clone();
    // Every directive's parameters are checked before anything is read or written.
    let out_dir = match &opts.output {
        OutputDest::Dir(d) => d.clone(),
        OutputDest::Stdout => PathBuf::new(),
    };
    let mut plans = Vec::new();
    for d in &directives {
        let (dir, ext) = match d.kind {
            IoKind::Input => (opts.facts_dir.as_path(), "facts"),
            _ => (out_dir.as_path(), "csv"),
        };
        plans.push(target_of(d, dir, ext, &name)?);
    }
    for (d, (target, fmt)) in directives.iter().zip(&plans) {
        if d.kind != IoKind::Input {
            continue;
        }
        match target {
            Target::File(path) => {
                let text = read_text(path)?;
                load_facts(&mut db, &d.relation, &text, fmt, path)?;
            }
            Target::Stdin => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|source| FactsError::Io {
                        file: PathBuf::from("<stdin>"),
                        source,
                    })?;
                load_facts(&mut db, &d.relation, &text, fmt, Path::new("<stdin>"))?;
            }
            Target::Stdout => unreachable!("target_of gives inputs no stdout"),
        }
    }
    let io_err = |source| DatalogError::Io {
        path: PathBuf::from("<stdout>"),
        source,
    };
    if opts.explain {
        write!(stdout, "{}", db.explain()).map_err(io_err)?;
    }
    db.saturate()?;
    for d in directives.iter().filter(|d| d.kind == IoKind::PrintSize) {
        writeln!(stdout, "{}\t{}", d.relation, db.size(&d.relation)?).map_err(io_err)?;
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (d, (target, fmt)) in directives.iter().zip(&plans) {
        if d.kind != IoKind::Output {
            continue;
        }
        let to_stdout = matches!(target, Target::Stdout) || opts.output == OutputDest::Stdout;
        let text = render(&db, &d.relation, fmt)?;
        match target {
            Target::File(path) if !to_stdout => {
                // Two directives naming one file: the last one written wins, as in
                // Soufflé.
                files.retain(|(p, _)| p != path);
                files.push((path.clone(), text));
            }
            _ => {
                writeln!(stdout, "---------------\n{}\n===============", d.relation)
                    .map_err(io_err)?;
                write!(stdout, "{text}").map_err(io_err)?;
                writeln!(stdout, "===============").map_err(io_err)?;
            }
        }
    }
    write_all_or_nothing(&files)?;
    if opts.stats {
        write!(stdout, "{}", stats_report(&db)).map_err(io_err)?;
    }
    Ok(db)
}

/// Writes every file, or none: each goes to a temporary file beside it, and all are
/// renamed into place only once every one is written.
fn write_all_or_nothing(files: &[(PathBuf, String)]) -> Result<(), DatalogError> {
    let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        for (dest, text) in files {
            let dir = dest.parent().unwrap_or(Path::new("."));
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| DatalogError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            let file = dest
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into());
            let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
            std::fs::write(&tmp, text).map_err(|source| DatalogError::Io {
                path: tmp.clone(),
                source,
            })?;
            written.push((tmp, dest.clone()));
        }
        Ok::<(), DatalogError>(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &written {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, dest) in &written {
        std::fs::rename(tmp, dest).map_err(|source| DatalogError::Io {
            path: dest.clone(),
            source,
        })?;
    }
    Ok(())
}
