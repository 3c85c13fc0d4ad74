//! The SX-forms front end, independent of the `lang` crate: a small s-expression
//! [`Datum`] (with a tiny reader) and its translation to rules, facts and queries.
//!
//! Variables are symbols starting with an upper-case letter or `_`; `_` alone is a
//! wildcard. Rules are `(<- head literal…)`; literals are atoms, `(not atom)`,
//! comparisons `(< X Y)`, bindings `(= Z (+ X 1))`, and aggregates
//! `(count R V goal)`, `(sum R V goal)`, `(min R V goal)`, `(max R V goal)` where a goal
//! is an atom or `(and literal…)`. Relations are declared implicitly on first use;
//! column types come from the values and typed columns they meet (numbers otherwise).

use crate::ast::*;
use crate::error::{Loc, ParseError};
use crate::value::Value;
use std::fmt;
use std::sync::Arc;

mod answers;
mod infer;
mod lower;

pub use answers::{id_table_fits, AnswerValue, Bindings, SxAnswers, SxConst};
pub(crate) use lower::SYM_MARK;
pub use lower::{fact_from_datum, rule_from_datum};

/// An s-expression value, as the SX host hands it over.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Datum {
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A symbol (`edge`, `X`, `<-`).
    Sym(String),
    /// A list.
    List(Vec<Datum>),
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Int(n) => write!(f, "{n}"),
            Datum::Str(s) => write!(f, "{s:?}"),
            Datum::Sym(s) => f.write_str(s),
            Datum::List(xs) => {
                f.write_str("(")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl Datum {
    /// Builds a symbol.
    pub fn sym(s: &str) -> Datum {
        Datum::Sym(s.to_string())
    }

    /// The datum for a stored value.
    pub fn from_value(v: &Value) -> Datum {
        match v {
            Value::Number(n) => Datum::Int(*n),
            Value::Str(s) => Datum::Str(s.clone()),
            Value::Sym(s) => Datum::Sym(s.clone()),
        }
    }
}

/// Reads every datum in `src` (`;` comments, integers, strings, symbols, lists).
pub fn read_all(src: &str) -> Result<Vec<Datum>, ParseError> {
    let file: Arc<str> = Arc::from("<sx>");
    let chars: Vec<char> = src.chars().collect();
    let mut pos = 0usize;
    let mut line = 1u32;
    let mut col = 1u32;
    let mut stack: Vec<(Vec<Datum>, Span)> = Vec::new();
    let mut out = Vec::new();
    let loc = |line, col| Loc::new(&file, Span { line, col });
    while pos < chars.len() {
        let c = chars[pos];
        let here = Span { line, col };
        let adv = |pos: &mut usize, line: &mut u32, col: &mut u32| {
            if chars[*pos] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *pos += 1;
        };
        if c.is_whitespace() {
            adv(&mut pos, &mut line, &mut col);
            continue;
        }
        if c == ';' {
            while pos < chars.len() && chars[pos] != '\n' {
                adv(&mut pos, &mut line, &mut col);
            }
            continue;
        }
        let datum = match c {
            '(' => {
                adv(&mut pos, &mut line, &mut col);
                stack.push((Vec::new(), here));
                continue;
            }
            ')' => {
                adv(&mut pos, &mut line, &mut col);
                let Some((items, _)) = stack.pop() else {
                    return Err(ParseError::Unexpected {
                        loc: loc(here.line, here.col),
                        expected: "a datum".into(),
                        found: "`)`".into(),
                    });
                };
                Datum::List(items)
            }
            '"' => {
                adv(&mut pos, &mut line, &mut col);
                let mut s = String::new();
                loop {
                    let Some(&ch) = chars.get(pos) else {
                        return Err(ParseError::UnterminatedString {
                            loc: loc(here.line, here.col),
                        });
                    };
                    adv(&mut pos, &mut line, &mut col);
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(pos) else {
                                return Err(ParseError::UnterminatedString {
                                    loc: loc(here.line, here.col),
                                });
                            };
                            adv(&mut pos, &mut line, &mut col);
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                        other => s.push(other),
                    }
                }
                Datum::Str(s)
            }
            _ => {
                let start = pos;
                while pos < chars.len()
                    && !chars[pos].is_whitespace()
                    && !matches!(chars[pos], '(' | ')' | '"' | ';')
                {
                    adv(&mut pos, &mut line, &mut col);
                }
                let text: String = chars[start..pos].iter().collect();
                let numeric = text
                    .strip_prefix('-')
                    .unwrap_or(&text)
                    .chars()
                    .all(|c| c.is_ascii_digit())
                    && text.chars().any(|c| c.is_ascii_digit());
                if numeric {
                    Datum::Int(text.parse().map_err(|_| ParseError::BadNumber {
                        loc: loc(here.line, here.col),
                        text: text.clone(),
                        reason: "does not fit in i64".into(),
                    })?)
                } else {
                    Datum::Sym(text)
                }
            }
        };
        match stack.last_mut() {
            Some((items, _)) => items.push(datum),
            None => out.push(datum),
        }
    }
    if let Some((_, sp)) = stack.pop() {
        return Err(ParseError::Unexpected {
            loc: loc(sp.line, sp.col),
            expected: "`)` closing this list".into(),
            found: "end of input".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::answers::pack_ranked_rows;
    use super::ColumnType;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![-3i64..40, Just(i64::MIN), Just(i64::MAX), any::<i64>()]
    }

    proptest! {
        /// Packed or not, the order is the rows' order and each distinct row comes once;
        /// `None` only when some column spreads too wide even as ranks.
        #[test]
        fn packed_rows_sort_and_dedup_like_the_rows_themselves(
            rows in proptest::collection::vec((value(), 0i64..25, value()), 0..200),
        ) {
            let types = [ColumnType::Number, ColumnType::Symbol, ColumnType::Number];
            let mut keys: Vec<i64> = rows.iter().flat_map(|&(a, b, c)| [a, b, c]).collect();
            let want: Vec<(i64, i64, i64)> = rows.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
            let order = pack_ranked_rows(&mut keys, &types, rows.len())
                .expect("three columns of 200 rows always fit as ranks");
            let got: Vec<(i64, i64, i64)> = order.iter().map(|&i| rows[i]).collect();
            prop_assert_eq!(got, want);
        }
    }
}
