//! Facts as text: Soufflé's `.facts`/CSV layouts read into a relation and written
//! out (delimiters, header lines, RFC 4180 quoting, gzip-compressed input), and the
//! per-rule statistics report. [`crate::io::run`] drives them for `sx datalog`.

use crate::ast::ColumnType;
use crate::error::{DatalogError, FactsError};
use crate::storage::intern::SymbolKind;
use crate::Database;
use std::borrow::Cow;
use std::path::Path;

fn malformed(file: &Path, line: usize, message: String) -> FactsError {
    FactsError::Malformed {
        file: file.to_path_buf(),
        line,
        message,
    }
}

/// How a relation's facts are laid out in a file: Soufflé's `delimiter`, `headers` and
/// `rfc4180` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// Between fields (a tab by default).
    pub delimiter: String,
    /// The first line names the columns (skipped on input, written on output).
    pub headers: bool,
    /// Quoted fields as RFC 4180 has them (`"a, b"`, `""` for a quote); otherwise a
    /// field is taken raw, quotes and all, as Soufflé does.
    pub rfc4180: bool,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            delimiter: "\t".into(),
            headers: false,
            rfc4180: false,
        }
    }
}

/// Parses a number field as the `.dl` front end parses a literal: decimal, `0x…`,
/// `0b…`, with an optional sign.
pub fn parse_number(field: &str) -> Result<i64, String> {
    let t = field.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, b)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(if t.is_empty() {
            "empty field".to_string()
        } else {
            "not a number".to_string()
        });
    }
    let mag = u64::from_str_radix(digits, radix).map_err(|_| "out of range".to_string())?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return Err("out of range".into());
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).map_err(|_| "out of range".to_string())
    }
}

/// One record of a facts file: its 1-based line and its fields.
type Record<'t> = (usize, Vec<Cow<'t, str>>);

/// Splits `text` into records of fields: lines split at the delimiter, or RFC 4180
/// records (quoted fields may hold the delimiter, quotes doubled, and line breaks).
/// Each record comes with its 1-based line.
fn records<'t>(text: &'t str, fmt: &Format, file: &Path) -> Result<Vec<Record<'t>>, FactsError> {
    let mut out = Vec::new();
    if !fmt.rfc4180 {
        for (i, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let fields = if fmt.delimiter.is_empty() {
                vec![Cow::Borrowed(line)]
            } else {
                line.split(fmt.delimiter.as_str())
                    .map(Cow::Borrowed)
                    .collect()
            };
            out.push((i + 1, fields));
        }
        return Ok(out);
    }
    let delim = fmt.delimiter.as_str();
    let mut line = 1usize;
    let mut rest = text;
    while !rest.is_empty() {
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            if let Some(q) = rest.strip_prefix('"') {
                let mut field = String::new();
                let mut chars = q.char_indices();
                let consumed = loop {
                    match chars.next() {
                        None => {
                            return Err(malformed(
                                file,
                                start_line,
                                "unterminated quoted field".into(),
                            ))
                        }
                        Some((i, '"')) => {
                            if q[i + 1..].starts_with('"') {
                                field.push('"');
                                chars.next();
                            } else {
                                break i + 1;
                            }
                        }
                        Some((_, c)) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                };
                rest = &q[consumed..];
                fields.push(Cow::Owned(field));
            } else {
                let end = rest
                    .find(['\n', '\r'])
                    .unwrap_or(rest.len())
                    .min(if delim.is_empty() {
                        usize::MAX
                    } else {
                        rest.find(delim).unwrap_or(usize::MAX)
                    });
                fields.push(Cow::Borrowed(&rest[..end]));
                rest = &rest[end..];
            }
            if !delim.is_empty() && rest.starts_with(delim) {
                rest = &rest[delim.len()..];
                continue;
            }
            if let Some(r) = rest.strip_prefix("\r\n").or(rest.strip_prefix('\n')) {
                rest = r;
                line += 1;
            } else if let Some(r) = rest.strip_prefix('\r') {
                rest = r;
                line += 1;
            } else if !rest.is_empty() {
                return Err(malformed(
                    file,
                    start_line,
                    "text after a closing quote in a field".into(),
                ));
            }
            break;
        }
        out.push((start_line, fields));
    }
    Ok(out)
}

/// Loads `text`, laid out as `fmt` says, into `relation`; `file` names it in errors.
/// Returns the number of records read. On error nothing is added.
pub fn load_facts(
    db: &mut Database,
    relation: &str,
    text: &str,
    fmt: &Format,
    file: &Path,
) -> Result<usize, DatalogError> {
    let types = db
        .relation_types(relation)
        .ok_or_else(|| DatalogError::Usage(format!("relation `{relation}` is not declared")))?;
    let rel = db.rel_index_of(relation)?;
    let mut tuples: Vec<i64> = Vec::new();
    let mut n = 0;
    for (k, (ln, fields)) in records(text, fmt, file)?.into_iter().enumerate() {
        if k == 0 && fmt.headers {
            continue;
        }
        if types.is_empty() {
            // A nullary relation: any record (Soufflé writes `()`) is the empty tuple.
            n += 1;
            continue;
        }
        if fields.len() == 1 && fields[0].is_empty() {
            continue;
        }
        if fields.len() != types.len() {
            return Err(malformed(
                file,
                ln,
                format!(
                    "`{relation}` has {} columns, line has {}",
                    types.len(),
                    fields.len()
                ),
            )
            .into());
        }
        for (i, field) in fields.iter().enumerate() {
            tuples.push(match types[i] {
                ColumnType::Number => parse_number(field).map_err(|e| {
                    malformed(
                        file,
                        ln,
                        format!("column {}: bad number `{field}`: {e}", i + 1),
                    )
                })?,
                ColumnType::Symbol => db.intern_str(field),
            });
        }
        n += 1;
    }
    if types.is_empty() {
        if n > 0 {
            db.add_encoded_tuple(rel, &[]);
        }
        return Ok(n);
    }
    for t in tuples.chunks_exact(types.len()) {
        db.add_encoded_tuple(rel, t);
    }
    Ok(n)
}

/// Loads a tab-separated file into `relation`; returns the number of lines read.
pub fn load_facts_file(
    db: &mut Database,
    relation: &str,
    path: &Path,
) -> Result<usize, DatalogError> {
    let text = read_text(path)?;
    load_facts(db, relation, &text, &Format::default(), path)
}

/// A file's text; gzip-compressed when its name ends in `.gz` or it starts with
/// gzip's magic bytes.
pub fn read_text(path: &Path) -> Result<String, DatalogError> {
    let io = |source| FactsError::Io {
        file: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
            .map_err(io)?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        malformed(path, line, "not UTF-8 text".into()).into()
    })
}

/// `relation`'s tuples as Soufflé writes them: one record per line, fields joined
/// by the delimiter (quoted where RFC 4180 needs it), a nullary tuple as `()`, a
/// header line first when asked.
pub fn render(db: &Database, relation: &str, fmt: &Format) -> Result<String, DatalogError> {
    let mut out = String::new();
    if fmt.headers {
        let names: Vec<String> = db
            .program()
            .decls
            .iter()
            .find(|d| d.name == relation)
            .map(|d| d.columns.iter().map(|c| c.0.clone()).collect())
            .unwrap_or_default();
        out.push_str(&names.join(&fmt.delimiter));
        out.push('\n');
    }
    for t in db.tuples(relation)? {
        if t.is_empty() {
            out.push_str("()");
        }
        for (i, v) in t.iter().enumerate() {
            if i > 0 {
                out.push_str(&fmt.delimiter);
            }
            let text = v.to_string();
            let quote = fmt.rfc4180
                && (text.contains('"')
                    || text.contains('\n')
                    || text.contains('\r')
                    || (!fmt.delimiter.is_empty() && text.contains(fmt.delimiter.as_str())));
            if quote {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        out.push('\n');
    }
    Ok(out)
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
