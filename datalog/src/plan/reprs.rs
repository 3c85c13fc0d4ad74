//! Choosing each relation's representation (hash tuples, or dense or sparse rows
//! for a binary relation) from its declared types and the statistics of its facts.

use super::planner::*;
use crate::ast::*;
use crate::storage::relation::Repr;
use crate::storage::rows::RowKind;
use hashbrown::HashMap;

pub(super) fn choose_reprs(
    prog: &Program,
    rel_index: &HashMap<&str, usize>,
    stats: &[RelStats],
    opts: PlanOptions,
) -> Vec<(Repr, String)> {
    let n = prog.decls.len();
    let mut ok: Vec<bool> = (0..n)
        .map(|r| {
            opts.rows
                && prog.decls[r].columns.len() == 2
                && stats.get(r).is_none_or(|s| {
                    !s.has_negative && s.max_value.is_none_or(|m| m <= MAX_ROW_VALUE)
                })
        })
        .collect();
    // A derived relation stays in rows only if every head column is a variable drawn
    // from some row relation's column.
    loop {
        let mut changed = false;
        for rule in &prog.rules {
            let h = rel_index[rule.head.relation.as_str()];
            if !ok[h] {
                continue;
            }
            let good = rule.head.args.iter().all(|t| match t {
                Term::Var(v) => rule.body.iter().any(|l| match l {
                    Literal::Positive(a) => {
                        ok[rel_index[a.relation.as_str()]]
                            && a.args.iter().any(|x| matches!(x, Term::Var(w) if w == v))
                    }
                    _ => false,
                }),
                _ => false,
            });
            if !good {
                ok[h] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let domain = (0..n)
        .filter(|&r| ok[r])
        .filter_map(|r| stats.get(r).and_then(|s| s.max_value))
        .max()
        .unwrap_or(0)
        + 1;
    (0..n)
        .map(|r| {
            if !ok[r] {
                let why = if prog.decls[r].columns.len() != 2 {
                    format!("arity {}", prog.decls[r].columns.len())
                } else if !opts.rows {
                    "rows disabled".to_string()
                } else {
                    "values outside a small dense id range".to_string()
                };
                return (Repr::Tuples, why);
            }
            let derived = prog
                .rules
                .iter()
                .any(|ru| rel_index[ru.head.relation.as_str()] == r);
            let s = stats.get(r).cloned().unwrap_or_default();
            let words = ((domain + 63) / 64) as usize;
            if derived {
                if domain <= MAX_DENSE_DOMAIN && opts.dense_rows {
                    (
                        Repr::Rows(RowKind::Dense { words }),
                        format!("derived, id domain {domain} (≤ {MAX_DENSE_DOMAIN})"),
                    )
                } else {
                    (
                        Repr::Rows(RowKind::Sparse),
                        format!("derived, id domain {domain}: sparse rows"),
                    )
                }
            } else if domain <= MAX_DENSE_DOMAIN
                && opts.dense_rows
                && s.len as i64 * 64 >= s.keys as i64 * domain
            {
                (
                    Repr::Rows(RowKind::Dense { words }),
                    format!("{} facts over {} keys: dense rows", s.len, s.keys),
                )
            } else {
                (
                    Repr::Rows(RowKind::Sparse),
                    format!(
                        "{} facts over {} keys, id domain {domain}: sparse rows",
                        s.len, s.keys
                    ),
                )
            }
        })
        .collect()
}
