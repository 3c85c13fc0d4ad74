//! The plan verifier: every plan is checked before any back end runs it.
//!
//! A back end trusts the plan IR: it reads registers without asking whether they
//! were written, and indexes relations by the ids and columns the plan names. A
//! planner bug there is a silent wrong answer (an earlier planner probed with a
//! register no op had written, and dropped an atom no join order could bind), so
//! [`verify`] checks, for every rule version (semi-naive, rederivation and keyed):
//!
//! - every register is written (by a search's bind, a `Let`, an aggregate's result
//!   or a `CountRows`) before an op reads it, and is one the version declares;
//! - every relation id exists, every column a mask, bind, `same` pair or key names is
//!   one of the relation's, a key has one operand per masked column, and an insert
//!   has one per column of its head, which is the rule's head;
//! - a loop nest ends in its insert, and an aggregate's locals are bound in its goal;
//! - a `CountRows` or a chain reads binary row relations;
//! - every index a search or negation looks up by is among the version's accesses.
//!
//! A failure is an error naming the rule, the version and the op, never a panic.

use super::ir::{
    ChainPlan, Expr, LoopNest, Op, Operand, Plan, Reg, RelId, RuleVersion, Source, VersionBody,
};
use crate::storage::relation::Repr;
use crate::storage::tuples::ColMask;

/// Checks `plan` (see the module comment): `Err` says what is wrong and where.
pub fn verify(plan: &Plan) -> Result<(), String> {
    for (si, stratum) in plan.strata.iter().enumerate() {
        for &r in &stratum.relations {
            relation(plan, r).map_err(|e| format!("stratum {si}: {e}"))?;
        }
        for rule in &stratum.rules {
            let versions = rule
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("version {i}"), v))
                .chain(
                    rule.rederive
                        .iter()
                        .map(|v| ("the rederive version".to_string(), v)),
                )
                .chain(rule.keyed.iter().filter_map(|k| {
                    k.version
                        .as_ref()
                        .map(|v| (format!("the version keyed by relation {}", k.rel), v))
                }));
            for (what, v) in versions {
                Version {
                    plan,
                    v,
                    head: rule.head,
                }
                .check()
                .map_err(|e| format!("rule `{}`, {what}: {e}", rule.text))?;
            }
        }
    }
    Ok(())
}

fn relation(plan: &Plan, r: RelId) -> Result<(), String> {
    if r < plan.relations.len() {
        Ok(())
    } else {
        Err(format!(
            "relation {r} does not exist ({} relations)",
            plan.relations.len()
        ))
    }
}

struct Version<'a> {
    plan: &'a Plan,
    v: &'a RuleVersion,
    head: RelId,
}

impl Version<'_> {
    fn check(&self) -> Result<(), String> {
        for &(rel, _, mask) in &self.v.accesses {
            self.columns(rel, mask)?;
        }
        match &self.v.body {
            VersionBody::Nest(nest) => self.nest(nest),
            VersionBody::Chain(chain) => self.chain(chain),
        }
    }

    fn arity(&self, r: RelId) -> Result<usize, String> {
        relation(self.plan, r)?;
        Ok(self.plan.relations[r].types.len())
    }

    /// `mask` names only columns of `r`.
    fn columns(&self, r: RelId, mask: ColMask) -> Result<usize, String> {
        let arity = self.arity(r)?;
        if arity < 32 && mask >> arity != 0 {
            return Err(format!(
                "mask {mask:#b} names a column past the {arity} of `{}`",
                self.plan.relations[r].name
            ));
        }
        Ok(arity)
    }

    fn is_rows(&self, r: RelId) -> Result<bool, String> {
        relation(self.plan, r)?;
        Ok(matches!(self.plan.relations[r].repr, Repr::Rows(_)))
    }

    fn chain(&self, c: &ChainPlan) -> Result<(), String> {
        if c.head != self.head {
            return Err(format!(
                "the chain inserts into relation {}, not the rule's head",
                c.head
            ));
        }
        if c.start >= c.steps.len() {
            return Err(format!(
                "the chain starts at step {} of {}",
                c.start,
                c.steps.len()
            ));
        }
        for r in std::iter::once(c.head).chain(c.steps.iter().map(|s| s.rel)) {
            if self.arity(r)? != 2 || !self.is_rows(r)? {
                return Err(format!(
                    "the chain reads `{}`, which is not a binary row relation",
                    self.plan.relations[r].name
                ));
            }
        }
        Ok(())
    }

    fn nest(&self, nest: &LoopNest) -> Result<(), String> {
        if !matches!(nest.ops.last(), Some(Op::Insert { .. })) {
            return Err("the loop nest does not end in its insert".into());
        }
        let mut written = vec![false; nest.reg_types.len()];
        self.ops(&nest.ops, &mut written, true)
    }

    /// Checks `ops` in order, marking registers as they are written; `top` when they
    /// are the version's own ops (an insert is allowed only there, last).
    fn ops(&self, ops: &[Op], written: &mut [bool], top: bool) -> Result<(), String> {
        for (i, op) in ops.iter().enumerate() {
            self.op(op, written, top && i + 1 == ops.len())
                .map_err(|e| format!("op {i} ({}): {e}", op_name(op)))?;
        }
        Ok(())
    }

    fn op(&self, op: &Op, written: &mut [bool], last: bool) -> Result<(), String> {
        match op {
            Op::Search {
                rel,
                source,
                mask,
                key,
                bind,
                same,
            } => {
                let arity = self.key(*rel, *mask, key, written)?;
                self.indexed(*rel, *source, *mask)?;
                self.pairs(same, arity)?;
                for &(c, r) in bind {
                    if c >= arity {
                        return Err(format!("binds column {c} of a relation of {arity}"));
                    }
                    write(r, written)?;
                }
            }
            Op::NotExists {
                rel,
                mask,
                key,
                same,
            } => {
                let arity = self.key(*rel, *mask, key, written)?;
                self.indexed(*rel, Source::Full, *mask)?;
                self.pairs(same, arity)?;
            }
            Op::Filter { lhs, rhs, .. } | Op::TextFilter { lhs, rhs, .. } => {
                expr(lhs, written)?;
                expr(rhs, written)?;
            }
            Op::Let { reg, expr: e } => {
                expr(e, written)?;
                write(*reg, written)?;
            }
            Op::Aggregate {
                result,
                target,
                locals,
                body,
                ..
            } => {
                // The goal sees what is bound outside; what it binds stays inside.
                let mut inner = written.to_vec();
                self.ops(body, &mut inner, false)?;
                if let Some(t) = target {
                    expr(t, &inner).map_err(|e| format!("its target: {e}"))?;
                }
                for &l in locals {
                    read(l, &inner).map_err(|e| format!("a local of its goal: {e}"))?;
                }
                write(*result, written)?;
            }
            Op::CountRows { result, rows } => {
                for row in rows {
                    if self.arity(row.rel)? != 2 || !self.is_rows(row.rel)? {
                        return Err(format!(
                            "counts rows of `{}`, which is not a binary row relation",
                            self.plan.relations[row.rel].name
                        ));
                    }
                    operand(row.key, written)?;
                }
                write(*result, written)?;
            }
            Op::Insert { rel, args } => {
                if !last {
                    return Err("an insert before the end of the loop nest".into());
                }
                if *rel != self.head {
                    return Err(format!("inserts into relation {rel}, not the rule's head"));
                }
                let arity = self.arity(*rel)?;
                if args.len() != arity {
                    return Err(format!(
                        "{} values for a head of {arity} columns",
                        args.len()
                    ));
                }
                for &a in args {
                    operand(a, written)?;
                }
            }
        }
        Ok(())
    }

    /// A lookup key: one written operand per column of `mask`, which names columns
    /// of `rel`; answers the relation's arity.
    fn key(
        &self,
        rel: RelId,
        mask: ColMask,
        key: &[Operand],
        written: &[bool],
    ) -> Result<usize, String> {
        let arity = self.columns(rel, mask)?;
        if mask.count_ones() as usize != key.len() {
            return Err(format!(
                "{} key values for the {} columns of mask {mask:#b}",
                key.len(),
                mask.count_ones()
            ));
        }
        for &k in key {
            operand(k, written)?;
        }
        Ok(arity)
    }

    fn pairs(&self, same: &[(usize, usize)], arity: usize) -> Result<(), String> {
        match same.iter().find(|&&(a, b)| a >= arity || b >= arity) {
            Some((a, b)) => Err(format!(
                "equates columns {a} and {b} of a relation of {arity}"
            )),
            None => Ok(()),
        }
    }

    /// A lookup by `mask` has its index among the version's accesses (a lookup by no
    /// column or by every column needs none).
    fn indexed(&self, rel: RelId, source: Source, mask: ColMask) -> Result<(), String> {
        let arity = self.arity(rel)?;
        let all = if arity >= 32 {
            ColMask::MAX
        } else {
            (1 << arity) - 1
        };
        if mask == 0 || mask == all || self.is_rows(rel)? {
            return Ok(());
        }
        if self
            .v
            .accesses
            .iter()
            .any(|&(r, s, m)| r == rel && s == source && m == mask)
        {
            Ok(())
        } else {
            Err(format!(
                "looks `{}` up by mask {mask:#b}, which is not among the version's accesses",
                self.plan.relations[rel].name
            ))
        }
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Search { .. } => "search",
        Op::TextFilter { .. } => "text filter",
        Op::Filter { .. } => "filter",
        Op::Let { .. } => "let",
        Op::NotExists { .. } => "not exists",
        Op::Aggregate { .. } => "aggregate",
        Op::CountRows { .. } => "count rows",
        Op::Insert { .. } => "insert",
    }
}

fn read(r: Reg, written: &[bool]) -> Result<(), String> {
    match written.get(r as usize) {
        Some(true) => Ok(()),
        Some(false) => Err(format!("reads register r{r} before any op writes it")),
        None => Err(format!(
            "reads register r{r}, which the version does not declare"
        )),
    }
}

fn write(r: Reg, written: &mut [bool]) -> Result<(), String> {
    match written.get_mut(r as usize) {
        Some(w) => {
            *w = true;
            Ok(())
        }
        None => Err(format!(
            "writes register r{r}, which the version does not declare"
        )),
    }
}

fn operand(o: Operand, written: &[bool]) -> Result<(), String> {
    match o {
        Operand::Reg(r) => read(r, written),
        Operand::Const(_) => Ok(()),
    }
}

fn expr(e: &Expr, written: &[bool]) -> Result<(), String> {
    match e {
        Expr::Operand(o) => operand(*o, written),
        Expr::Arith(_, a, b) => {
            expr(a, written)?;
            expr(b, written)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::sexpr::read_all;
    use crate::Database;

    /// The saturated plan of a small program with a join, a negation, an
    /// aggregate and arithmetic.
    fn plan() -> Plan {
        let mut db = Database::new();
        for src in [
            "(<- (path X Y) (edge X Y))",
            "(<- (path X Z) (path X Y) (edge Y Z))",
            "(<- (far X Z W) (path X Z) (not (edge X Z)) (= W (+ X Z)))",
            "(<- (outs X N) (node X) (count N Y (edge X Y)))",
        ] {
            db.add_sx_rule(&read_all(src).unwrap()[0]).unwrap();
        }
        for f in [
            "(edge 1 2)",
            "(edge 2 3)",
            "(node 1)",
            "(node 2)",
            "(node 3)",
        ] {
            db.add_sx_fact(&read_all(f).unwrap()[0]).unwrap();
        }
        db.saturate().unwrap();
        db.plan().expect("saturated").clone()
    }

    /// The first loop nest whose ops satisfy `pick`, mutably.
    fn nest_with(plan: &mut Plan, pick: impl Fn(&LoopNest) -> bool) -> &mut LoopNest {
        plan.strata
            .iter_mut()
            .flat_map(|s| s.rules.iter_mut())
            .flat_map(|r| r.versions.iter_mut())
            .find_map(|v| match &mut v.body {
                VersionBody::Nest(n) if pick(n) => Some(n),
                _ => None,
            })
            .expect("such a nest")
    }

    #[test]
    fn the_planner_s_plans_pass() {
        assert_eq!(verify(&plan()), Ok(()));
    }

    #[test]
    fn a_register_read_before_it_is_written_is_named() {
        let mut p = plan();
        let n = nest_with(&mut p, |n| n.ops.len() >= 3);
        // Make the last op (the insert) read a register no op writes before it.
        let fresh = n.reg_types.len() as Reg;
        n.reg_types.push(crate::ast::ColumnType::Number);
        n.reg_names.push("Ghost".into());
        let Some(Op::Insert { args, .. }) = n.ops.last_mut() else {
            panic!("a nest ends in its insert")
        };
        args[0] = Operand::Reg(fresh);
        let e = verify(&p).unwrap_err();
        assert!(
            e.contains(&format!("reads register r{fresh} before any op writes it")),
            "{e}"
        );
        assert!(e.contains("rule `"), "names the rule: {e}");
    }

    #[test]
    fn an_insert_of_the_wrong_width_and_an_unknown_relation_are_named() {
        let mut p = plan();
        let n = nest_with(&mut p, |_| true);
        let Some(Op::Insert { args, .. }) = n.ops.last_mut() else {
            panic!("a nest ends in its insert")
        };
        args.push(Operand::Const(0));
        let e = verify(&p).unwrap_err();
        assert!(e.contains("values for a head of"), "{e}");

        let mut p = plan();
        let n = nest_with(&mut p, |n| matches!(n.ops[0], Op::Search { .. }));
        let Op::Search { rel, .. } = &mut n.ops[0] else {
            unreachable!()
        };
        *rel = 999;
        let e = verify(&p).unwrap_err();
        assert!(e.contains("relation 999 does not exist"), "{e}");
    }

    #[test]
    fn a_key_that_does_not_fit_its_mask_is_named() {
        let mut p = plan();
        let n = nest_with(&mut p, |n| {
            n.ops
                .iter()
                .any(|o| matches!(o, Op::Search { key, .. } | Op::NotExists { key, .. } if !key.is_empty()))
        });
        let op = n
            .ops
            .iter_mut()
            .find(|o| matches!(o, Op::Search { key, .. } | Op::NotExists { key, .. } if !key.is_empty()))
            .unwrap();
        match op {
            Op::Search { key, .. } | Op::NotExists { key, .. } => key.push(Operand::Const(1)),
            _ => unreachable!(),
        }
        let e = verify(&p).unwrap_err();
        assert!(e.contains("key values for the"), "{e}");
    }
}
