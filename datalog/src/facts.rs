//! File I/O for one-shot runs (`sx datalog`): `.facts` input with Soufflé's naming
//! (`FACTS_DIR/R.facts`, tab-separated), `.csv` output (`OUT_DIR/R.csv`), `.printsize`.
//!
//! Invariant: outputs are written to temporary files and renamed into place only after
//! every output succeeded, so a failed run leaves nothing half-written.

use crate::ast::ColumnType;
use crate::error::{DatalogError, FactsError};
use crate::intern::SymbolKind;
use crate::planner::PlanOptions;
use crate::Database;
use std::io::Write;
use std::path::{Path, PathBuf};

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

fn malformed(file: &Path, line: usize, message: String) -> FactsError {
    FactsError::Malformed {
        file: file.to_path_buf(),
        line,
        message,
    }
}

/// Parses one field of a symbol column: raw text, or a `"…"` string with escapes.
fn symbol_field(field: &str, file: &Path, line: usize) -> Result<String, FactsError> {
    let Some(rest) = field.strip_prefix('"') else {
        return Ok(field.to_string());
    };
    let mut out = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next() {
            None => return Err(malformed(file, line, "unterminated string".into())),
            Some('"') => {
                if chars.next().is_some() {
                    return Err(malformed(
                        file,
                        line,
                        "text after a closing quote in a field".into(),
                    ));
                }
                return Ok(out);
            }
            Some('\\') => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                _ => return Err(malformed(file, line, "bad escape in a string".into())),
            },
            Some(c) => out.push(c),
        }
    }
}

/// Loads a tab-separated file into `relation`; returns the number of lines read.
pub fn load_facts_file(
    db: &mut Database,
    relation: &str,
    path: &Path,
) -> Result<usize, DatalogError> {
    let types = db
        .relation_types(relation)
        .ok_or_else(|| DatalogError::Usage(format!("relation `{relation}` is not declared")))?;
    let text = std::fs::read_to_string(path).map_err(|source| FactsError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let rel = db.rel_index_of(relation)?;
    let mut tuple = vec![0i64; types.len()];
    let mut lines = 0;
    for (ln, line) in text.lines().enumerate() {
        let ln = ln + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() && !types.is_empty() {
            continue;
        }
        let mut n = 0;
        for (i, field) in line.split('\t').enumerate() {
            n = i + 1;
            if i >= types.len() {
                continue;
            }
            tuple[i] = match types[i] {
                ColumnType::Number => field.trim().parse::<i64>().map_err(|e| {
                    malformed(
                        path,
                        ln,
                        format!("column {}: bad number `{field}`: {e}", i + 1),
                    )
                })?,
                ColumnType::Symbol => {
                    let s = symbol_field(field, path, ln)?;
                    db.intern_str(&s)
                }
            };
        }
        if types.is_empty() {
            n = 0;
        }
        if n != types.len() {
            return Err(malformed(
                path,
                ln,
                format!("`{relation}` has {} columns, line has {n}", types.len()),
            )
            .into());
        }
        db.add_encoded_tuple(rel, &tuple);
        lines += 1;
    }
    Ok(lines)
}

fn render(db: &Database, relation: &str) -> Result<String, DatalogError> {
    let mut out = String::new();
    for t in db.tuples(relation)? {
        if t.is_empty() {
            // Soufflé writes a nullary tuple as `()`.
            out.push_str("()");
        }
        let fields: Vec<String> = t.iter().map(|v| v.to_string()).collect();
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    Ok(out)
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
    let mut db = Database::new();
    db.set_plan_options(opts.plan);
    db.add_rules(&src, &program.display().to_string())?;
    let inputs: Vec<String> = db.program().inputs.iter().map(|(r, _)| r.clone()).collect();
    for r in inputs {
        let path = opts.facts_dir.join(format!("{r}.facts"));
        load_facts_file(&mut db, &r, &path)?;
    }
    let io_err = |source| DatalogError::Io {
        path: PathBuf::from("<stdout>"),
        source,
    };
    if opts.explain {
        write!(stdout, "{}", db.explain()).map_err(io_err)?;
    }
    db.saturate()?;
    for (r, _) in db.program().printsizes.clone() {
        writeln!(stdout, "{r}\t{}", db.size(&r)?).map_err(io_err)?;
    }
    let outputs: Vec<String> = db
        .program()
        .outputs
        .iter()
        .map(|(r, _)| r.clone())
        .collect();
    match &opts.output {
        OutputDest::Stdout => {
            for r in &outputs {
                writeln!(stdout, "---------------\n{r}\n===============").map_err(io_err)?;
                write!(stdout, "{}", render(&db, r)?).map_err(io_err)?;
                writeln!(stdout, "===============").map_err(io_err)?;
            }
        }
        OutputDest::Dir(dir) => {
            if !outputs.is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| DatalogError::Io {
                    path: dir.clone(),
                    source,
                })?;
            }
            let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
            let result = (|| {
                for r in &outputs {
                    let dest = dir.join(format!("{r}.csv"));
                    let tmp = dir.join(format!(".{r}.csv.tmp-{}", std::process::id()));
                    std::fs::write(&tmp, render(&db, r)?).map_err(|source| DatalogError::Io {
                        path: tmp.clone(),
                        source,
                    })?;
                    written.push((tmp, dest));
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
        }
    }
    if opts.stats {
        write!(stdout, "{}", stats_report(&db)).map_err(io_err)?;
    }
    Ok(db)
}

/// Per-rule statistics and relation sizes, readable.
pub fn stats_report(db: &Database) -> String {
    let mut s = String::from("RULE STATISTICS (runs, derived, probes, seconds)\n");
    for r in db.rule_stats() {
        s.push_str(&format!(
            "  {}\t{}\t{}\t{:.6}\t{}\n",
            r.runs,
            r.work.derived,
            r.work.probes,
            r.time.as_secs_f64(),
            r.text
        ));
    }
    s.push_str("RELATION SIZES\n");
    for (name, n) in db.relation_sizes() {
        s.push_str(&format!("  {name}\t{n}\n"));
    }
    s
}

impl Database {
    /// The index of a declared relation.
    pub(crate) fn rel_index_of(&self, name: &str) -> Result<usize, DatalogError> {
        self.relation_names()
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| DatalogError::Usage(format!("relation `{name}` is not declared")))
    }

    /// Interns a Soufflé string value.
    pub(crate) fn intern_str(&mut self, s: &str) -> i64 {
        self.interner_mut().intern(SymbolKind::Str, s) as i64
    }

    /// Adds an encoded tuple.
    pub(crate) fn add_encoded_tuple(&mut self, rel: usize, t: &[i64]) {
        self.add_encoded(rel, t);
    }
}
