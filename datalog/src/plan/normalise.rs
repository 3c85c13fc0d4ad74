//! Normalisation: a checked rule rewritten, as Soufflé does, into a form in which every
//! body atom binds what it reads, before the planner orders it.
//!
//! - An expression argument of a positive atom (`s(x + 1, x)`) becomes a fresh variable
//!   of that column, constrained by an equality (`s(e, x), e = x + 1`): the atom binds
//!   the fresh variable from its tuple, and the equality filters once the expression's
//!   variables are bound, whatever order the planner picks. (An atom with an
//!   expression argument can then be scanned before the atoms that bind the
//!   expression's variables, so delta versions never probe with an unwritten register,
//!   and no order leaves the atom out.)
//! - The result variable of an aggregate that nothing else in the body binds is local
//!   inside the aggregate: in `y = max y : a(y)` the inner `y` is the aggregated value
//!   and the outer one its maximum, as in Soufflé.
//!
//! Negated atoms keep their expression arguments (their variables must be bound before
//! the negation is checked, so there is nothing to bind). Fresh names start with `<`,
//! which no front end accepts in a variable, so they never clash with the user's.
//!
//! Invariant: the rewritten rule has exactly the models of the original; the checks
//! run on the rule as written, the planner on its normal form.

use crate::ast::{Atom, CmpOp, ColumnType, Literal, Rule, Term};
use crate::check::{bound_vars, VarTypes};
use hashbrown::HashSet;

/// A rule in normal form, with the types of its variables (fresh ones included).
pub struct Normalised {
    /// The rewritten rule.
    pub rule: Rule,
    /// Every variable's column type.
    pub types: VarTypes,
}

/// The normal form of `rule`; `column_types(relation)` gives a relation's column types.
pub fn normalise<'a>(
    rule: &Rule,
    types: &VarTypes,
    column_types: &dyn Fn(&str) -> &'a [ColumnType],
) -> Normalised {
    let mut n = Normaliser {
        types: types.clone(),
        fresh: 0,
        column_types,
    };
    let body = n.body(&rule.body, &HashSet::new());
    Normalised {
        rule: Rule {
            head: rule.head.clone(),
            body,
            span: rule.span,
        },
        types: n.types,
    }
}

struct Normaliser<'f, 'a> {
    types: VarTypes,
    fresh: usize,
    column_types: &'f dyn Fn(&str) -> &'a [ColumnType],
}

impl Normaliser<'_, '_> {
    fn fresh(&mut self, base: &str, ty: ColumnType) -> String {
        let name = format!("<{base}{}>", self.fresh);
        self.fresh += 1;
        self.types.insert(name.clone(), ty);
        name
    }

    /// `body` normalised; `outer` holds the variables bound around it (for a goal,
    /// those of the enclosing rule).
    fn body(&mut self, body: &[Literal], outer: &HashSet<String>) -> Vec<Literal> {
        let mut out = Vec::with_capacity(body.len());
        let mut equalities = Vec::new();
        for (i, l) in body.iter().enumerate() {
            match l {
                Literal::Positive(a) => {
                    out.push(Literal::Positive(self.atom(a, &mut equalities)));
                }
                Literal::Aggregate {
                    result,
                    func,
                    target,
                    goal,
                    span,
                } => {
                    // The variables the rest of the body binds, without this aggregate.
                    let others: Vec<Literal> = body
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, l)| l.clone())
                        .collect();
                    let around = bound_vars(&others, outer);
                    let (target, goal) = if around.contains(result) {
                        (target.clone(), goal.clone())
                    } else {
                        let ty = self
                            .types
                            .get(result)
                            .copied()
                            .unwrap_or(ColumnType::Number);
                        let inner = self.fresh(result, ty);
                        let target = target.as_ref().map(|t| rename(t, result, &inner));
                        let goal = goal.iter().map(|g| rename_lit(g, result, &inner)).collect();
                        (target, goal)
                    };
                    let goal = self.body(&goal, &around);
                    out.push(Literal::Aggregate {
                        result: result.clone(),
                        func: *func,
                        target,
                        goal,
                        span: *span,
                    });
                }
                other => out.push(other.clone()),
            }
        }
        out.extend(equalities);
        out
    }

    /// `a` with each expression argument replaced by a fresh variable, and the
    /// equality that constrains it pushed on `equalities`.
    fn atom(&mut self, a: &Atom, equalities: &mut Vec<Literal>) -> Atom {
        let cols = (self.column_types)(&a.relation);
        let args = a
            .args
            .iter()
            .enumerate()
            .map(|(c, t)| match t {
                Term::Binary(..) => {
                    let ty = cols.get(c).copied().unwrap_or(ColumnType::Number);
                    let v = self.fresh("e", ty);
                    equalities.push(Literal::Compare {
                        op: CmpOp::Eq,
                        lhs: Term::Var(v.clone()),
                        rhs: t.clone(),
                        span: a.span,
                    });
                    Term::Var(v)
                }
                other => other.clone(),
            })
            .collect();
        Atom {
            relation: a.relation.clone(),
            args,
            span: a.span,
        }
    }
}

fn rename(t: &Term, from: &str, to: &str) -> Term {
    match t {
        Term::Var(v) if v == from => Term::Var(to.to_string()),
        Term::Binary(op, a, b) => Term::Binary(
            *op,
            Box::new(rename(a, from, to)),
            Box::new(rename(b, from, to)),
        ),
        other => other.clone(),
    }
}

fn rename_lit(l: &Literal, from: &str, to: &str) -> Literal {
    let atom = |a: &Atom| Atom {
        relation: a.relation.clone(),
        args: a.args.iter().map(|t| rename(t, from, to)).collect(),
        span: a.span,
    };
    match l {
        Literal::Positive(a) => Literal::Positive(atom(a)),
        Literal::Negative(a) => Literal::Negative(atom(a)),
        Literal::Compare { op, lhs, rhs, span } => Literal::Compare {
            op: *op,
            lhs: rename(lhs, from, to),
            rhs: rename(rhs, from, to),
            span: *span,
        },
        Literal::Aggregate {
            result,
            func,
            target,
            goal,
            span,
        } => Literal::Aggregate {
            // A nested aggregate's own result shadows nothing outside it.
            result: if result == from {
                to.to_string()
            } else {
                result.clone()
            },
            func: *func,
            target: target.as_ref().map(|t| rename(t, from, to)),
            goal: goal.iter().map(|g| rename_lit(g, from, to)).collect(),
            span: *span,
        },
    }
}
