//! From [`Datum`]s to the AST: terms, atoms, literals, rules and facts, and the
//! constants a term stands for.

use super::*;
use crate::error::{CheckError, DatalogError, Loc};
use crate::value::Value;
use std::sync::Arc;

pub(crate) fn is_var(s: &str) -> bool {
    s.starts_with('_') || s.starts_with(|c: char| c.is_ascii_uppercase())
}

pub(crate) fn bad(what: &str, d: &Datum) -> DatalogError {
    DatalogError::Check(CheckError::Other {
        loc: Loc::new(&Arc::from("<sx>"), Span::default()),
        message: format!("{what}: `{d}`"),
    })
}

pub(crate) fn term(d: &Datum) -> Result<Term, DatalogError> {
    Ok(match d {
        Datum::Int(n) => Term::Number(*n),
        Datum::Str(s) => Term::Symbol(s.clone()),
        Datum::Sym(s) if s == "_" => Term::Wildcard,
        Datum::Sym(s) if is_var(s) => Term::Var(s.clone()),
        Datum::Sym(s) => Term::Symbol(format!("\u{1}{s}")),
        Datum::List(xs) => {
            let [Datum::Sym(op), a, b] = xs.as_slice() else {
                return Err(bad("expected a value or (op A B)", d));
            };
            let op = match op.as_str() {
                "+" => ArithOp::Add,
                "-" => ArithOp::Sub,
                "*" => ArithOp::Mul,
                "/" => ArithOp::Div,
                "%" | "mod" => ArithOp::Rem,
                _ => return Err(bad("unknown arithmetic operator", d)),
            };
            Term::Binary(op, Box::new(term(a)?), Box::new(term(b)?))
        }
    })
}

/// SX symbols used as constants travel through the AST as symbol terms marked with a
/// leading \u{1}, so the database interns them as [`Value::Sym`], not strings.
pub(crate) const SYM_MARK: char = '\u{1}';

pub(crate) fn atom(d: &Datum) -> Result<Atom, DatalogError> {
    let Datum::List(xs) = d else {
        return Err(bad("expected an atom (relation arg…)", d));
    };
    let Some(Datum::Sym(rel)) = xs.first() else {
        return Err(bad("expected an atom (relation arg…)", d));
    };
    Ok(Atom {
        relation: rel.clone(),
        args: xs[1..].iter().map(term).collect::<Result<_, _>>()?,
        span: Span::default(),
    })
}

pub(crate) fn literal(d: &Datum) -> Result<Literal, DatalogError> {
    let Datum::List(xs) = d else {
        return Err(bad("expected a body literal", d));
    };
    let head = match xs.first() {
        Some(Datum::Sym(s)) => s.as_str(),
        _ => return Err(bad("expected a body literal", d)),
    };
    let cmp = match head {
        "=" => Some(CmpOp::Eq),
        "!=" => Some(CmpOp::Ne),
        "<" => Some(CmpOp::Lt),
        "<=" => Some(CmpOp::Le),
        ">" => Some(CmpOp::Gt),
        ">=" => Some(CmpOp::Ge),
        _ => None,
    };
    if let Some(op) = cmp {
        let [_, a, b] = xs.as_slice() else {
            return Err(bad("a comparison takes two arguments", d));
        };
        return Ok(Literal::Compare {
            op,
            lhs: term(a)?,
            rhs: term(b)?,
            span: Span::default(),
        });
    }
    let func = match head {
        "count" => Some(AggFunc::Count),
        "sum" => Some(AggFunc::Sum),
        "min" => Some(AggFunc::Min),
        "max" => Some(AggFunc::Max),
        _ => None,
    };
    if let Some(func) = func {
        let [_, Datum::Sym(r), v, goal] = xs.as_slice() else {
            return Err(bad("an aggregate is (func Result Var goal)", d));
        };
        let goal = match goal {
            Datum::List(g) if g.first() == Some(&Datum::sym("and")) => {
                g[1..].iter().map(literal).collect::<Result<Vec<_>, _>>()?
            }
            other => vec![literal(other)?],
        };
        return Ok(Literal::Aggregate {
            result: r.clone(),
            func,
            target: if func == AggFunc::Count {
                None
            } else {
                Some(term(v)?)
            },
            goal,
            span: Span::default(),
        });
    }
    if head == "not" {
        let [_, a] = xs.as_slice() else {
            return Err(bad("(not atom) takes one atom", d));
        };
        return Ok(Literal::Negative(atom(a)?));
    }
    Ok(Literal::Positive(atom(d)?))
}

/// Translates `(<- head literal…)` to a rule.
pub fn rule_from_datum(d: &Datum) -> Result<Rule, DatalogError> {
    let Datum::List(xs) = d else {
        return Err(bad("expected (<- head body…)", d));
    };
    match xs.first() {
        Some(Datum::Sym(s)) if s == "<-" => {}
        _ => return Err(bad("expected (<- head body…)", d)),
    }
    let Some(head) = xs.get(1) else {
        return Err(bad("a rule needs a head", d));
    };
    Ok(Rule {
        head: atom(head)?,
        body: xs[2..].iter().map(literal).collect::<Result<_, _>>()?,
        span: Span::default(),
    })
}

/// Translates a ground atom `(edge 1 2)` to a fact (rejecting variables).
pub fn fact_from_datum(d: &Datum) -> Result<Atom, DatalogError> {
    let a = atom(d)?;
    if !a.args.iter().all(Term::is_ground) {
        return Err(DatalogError::Check(CheckError::NonGroundFact {
            loc: Loc::new(&Arc::from("<sx>"), Span::default()),
            fact: d.to_string(),
        }));
    }
    Ok(a)
}

/// The value of a ground fact argument, computing arithmetic (`(+ 1 1)` is 2).
pub(crate) fn ground_of(t: &Term) -> Result<Value, DatalogError> {
    match t {
        Term::Binary(op, a, b) => match (ground_of(a)?, ground_of(b)?) {
            (Value::Number(x), Value::Number(y)) => {
                op.apply(x, y).map(Value::Number).ok_or_else(|| {
                    DatalogError::Usage(format!(
                        "arithmetic overflow or division by zero in fact argument `{t}`"
                    ))
                })
            }
            _ => Err(DatalogError::Usage(format!(
                "arithmetic on a non-number in fact argument `{t}`"
            ))),
        },
        other => value_of(other)
            .ok_or_else(|| DatalogError::Usage(format!("fact argument `{other}` is not a value"))),
    }
}

pub(crate) fn value_of(t: &Term) -> Option<Value> {
    match t {
        Term::Number(n) => Some(Value::Number(*n)),
        Term::Symbol(s) => Some(match s.strip_prefix(SYM_MARK) {
            Some(sym) => Value::Sym(sym.to_string()),
            None => Value::Str(s.clone()),
        }),
        _ => None,
    }
}
