//! Planning what only incremental maintenance runs: each rule's rederivation
//! version (led by the head's overdeleted tuples) and keyed versions (led by the
//! changed tuples of a relation it reads through negation or an aggregate).

use super::planner::*;
use crate::ast::*;
use crate::check::{bound_vars, VarTypes};
use crate::plan::*;
use crate::storage::intern::Interner;
use hashbrown::HashSet;

/// Plans every rule's rederivation and keyed versions (see [`RulePlan::rederive`] and
/// [`RulePlan::keyed`]), which only incremental maintenance runs: done once per plan,
/// when it first needs them, so that a program saturated once pays nothing for them.
pub fn plan_maintenance(
    prog: &Program,
    var_types: &[VarTypes],
    plan: &mut Plan,
    interner: &mut Interner,
) {
    if plan.maintenance {
        return;
    }
    let rel_index = rel_index(prog);
    let Plan {
        relations,
        strata,
        estimate,
        maintenance,
    } = plan;
    let mut planner = Planner {
        rel_index: &rel_index,
        relations,
        estimate,
        interner,
    };
    for rp in strata.iter_mut().flat_map(|s| s.rules.iter_mut()) {
        let n = planner.normal(&prog.rules[rp.rule], &var_types[rp.rule]);
        rp.rederive = planner.plan_rederive(&n.rule, &n.types);
        rp.keyed = planner.plan_keyed(&n.rule, &n.types);
    }
    *maintenance = true;
}

impl Planner<'_> {
    /// The keyed versions of `rule` (see [`RulePlan::keyed`]): for each atom of a
    /// negation or an aggregate's goal, the rule led by that atom read from delta, its
    /// arguments kept where they are variables bound elsewhere in the rule (the ones
    /// that group the aggregate, or that the negation shares) or constants, and
    /// wildcards elsewhere, so that each changed tuple binds the group it touches.
    pub(super) fn plan_keyed(&mut self, rule: &Rule, types: &VarTypes) -> Vec<KeyedVersion> {
        let outer = bound_vars(&rule.body, &HashSet::new());
        let mut atoms: Vec<&Atom> = Vec::new();
        for l in &rule.body {
            match l {
                Literal::Negative(a) => atoms.push(a),
                Literal::Aggregate { goal, .. } => {
                    for g in goal {
                        if let Literal::Positive(a) | Literal::Negative(a) = g {
                            atoms.push(a);
                        }
                    }
                }
                _ => {}
            }
        }
        atoms
            .into_iter()
            .map(|a| {
                let rel = self.rel(&a.relation);
                let args: Vec<Term> = a
                    .args
                    .iter()
                    .map(|t| match t {
                        Term::Var(v) if outer.contains(v) => t.clone(),
                        Term::Number(_) | Term::Symbol(_) => t.clone(),
                        _ => Term::Wildcard,
                    })
                    .collect();
                if !args.iter().any(|t| matches!(t, Term::Var(_))) {
                    return KeyedVersion { rel, version: None };
                }
                let lead = Atom {
                    relation: a.relation.clone(),
                    args,
                    span: a.span,
                };
                KeyedVersion {
                    rel,
                    version: Some(self.plan_led_by(rule, lead, types)),
                }
            })
            .collect()
    }

    /// The rederivation version of `rule`: `h(args) :- Δh(args), body`, a loop nest
    /// that binds the head's variables from each overdeleted tuple first and then
    /// searches the body with them bound. None when a head argument is an expression
    /// (its variables could not be read back from the tuple).
    pub(super) fn plan_rederive(&mut self, rule: &Rule, types: &VarTypes) -> Option<RuleVersion> {
        if rule
            .head
            .args
            .iter()
            .any(|t| matches!(t, Term::Binary(..) | Term::Wildcard))
        {
            return None;
        }
        Some(self.plan_led_by(rule, rule.head.clone(), types))
    }

    /// `rule` with `lead` searched first, from its relation's delta: a loop nest that
    /// runs the body once per tuple of that delta, with `lead`'s variables bound.
    pub(super) fn plan_led_by(&mut self, rule: &Rule, lead: Atom, types: &VarTypes) -> RuleVersion {
        let rel = self.rel(&lead.relation);
        let mut body = Vec::with_capacity(rule.body.len() + 1);
        body.push(Literal::Positive(lead));
        body.extend(rule.body.iter().cloned());
        let led = Rule {
            head: rule.head.clone(),
            body,
            span: rule.span,
        };
        let (nest, accesses) = self.plan_nest(&led, types, Some(0));
        RuleVersion {
            delta_rel: Some(rel),
            body: VersionBody::Nest(nest),
            accesses,
        }
    }
}
