//! Incremental maintenance: carries the facts asserted and retracted since the last
//! saturation through the strata, in order, each stratum from the changes of the
//! relations it reads.
//!
//! A stratum is updated in three steps.
//! 1. Overdeletion, against the old state (the relations it reads are viewed as they
//!    were, by putting back what they lost and taking out what they gained): every
//!    tuple that a derivation through a lost tuple supports (rule versions led by the
//!    lost tuples, semi-naive through the stratum's own relations), and every tuple of a
//!    group that a changed tuple of a relation read through negation or aggregation
//!    touches (the rules' keyed versions, led by the changed tuples). Asserted facts
//!    are never overdeleted. The overdeleted tuples are then removed.
//! 2. Rederivation, against the new state: the overdeleted tuples that the rules still
//!    derive (rederivation versions, led by the overdeleted tuples), the tuples of the
//!    touched groups (keyed versions again), and the newly asserted facts.
//! 3. Insertion, semi-naive, from what step 2 added and from what the relations it
//!    reads gained.
//!
//! What the stratum lost and gained is then handed to the strata after it. A stratum is
//! recomputed from its facts instead (and what it lost and gained found by comparing,
//! when a later stratum reads it) when it has a rule whose head holds an expression
//! (no rederivation version), when it is a transitive closure that recomputes more
//! cheaply than it rederives, or when the overdeletion outgrows the work of computing
//! the stratum ([`Retraction::Adaptive`]).

use super::{Database, Retraction};
use crate::exec::eval::{
    run_delta_versions, run_keyed, run_rederive, run_stratum, Derive, Mode, RuleStats, Store,
};
use crate::plan::planner::plan_maintenance;
use crate::plan::{ClosurePlan, Op, Plan, StratumPlan, VersionBody};
use crate::storage::intern::Interner;
use crate::storage::relation::Relation;
use crate::DatalogError;

/// What each relation lost and gained in this maintenance (already applied to the
/// store), relative to the last saturated state.
struct Changes {
    lost: Vec<Relation>,
    gained: Vec<Relation>,
}

impl Changes {
    fn touched(&self, r: usize) -> bool {
        !self.lost[r].is_empty() || !self.gained[r].is_empty()
    }

    /// Both kinds of change of `r`, as one relation.
    fn either(&self, r: usize) -> Relation {
        let mut all = self.lost[r].clone();
        all.union_with(&self.gained[r]);
        all
    }
}

impl Database {
    /// Carries the pending additions and retractions through every stratum (see the
    /// module comment).
    pub(super) fn maintain(&mut self) -> Result<(), DatalogError> {
        let Some(mut plan) = self.plan.take() else {
            return Ok(());
        };
        let fresh = !plan.maintenance;
        plan_maintenance(
            &self.program,
            &self.var_types,
            &mut plan,
            &mut self.interner,
        );
        if fresh {
            if let Err(e) = crate::plan::verify::verify(&plan) {
                // The state stays as the last saturation left it.
                self.plan = Some(plan);
                return Err(DatalogError::Plan(e));
            }
        }
        let n = plan.relations.len();
        let mut ch = Changes {
            lost: (0..n).map(|r| scratch(&plan, r)).collect(),
            gained: (0..n).map(|r| scratch(&plan, r)).collect(),
        };
        let mut in_stratum = vec![false; n];
        for s in &plan.strata {
            for &r in &s.relations {
                in_stratum[r] = true;
            }
        }
        // Relations no rule derives change exactly by their facts.
        for r in (0..n).filter(|&r| !in_stratum[r]) {
            let full = &mut self.store.full[r];
            let (lost, gained) = (&mut ch.lost[r], &mut ch.gained[r]);
            self.retracted[r].for_each(|t| {
                if full.remove(t) {
                    lost.insert(t);
                }
            });
            self.added[r].for_each(|t| {
                if full.insert(t) {
                    gained.insert(t);
                }
            });
        }
        for si in 0..plan.strata.len() {
            let s = &plan.strata[si];
            let own_facts = s
                .relations
                .iter()
                .any(|&r| !self.added[r].is_empty() || !self.retracted[r].is_empty());
            let reads = stratum_reads(s);
            let nonmonotone = nonmonotone_reads(s);
            if !own_facts && !reads.iter().chain(&nonmonotone).any(|&r| ch.touched(r)) {
                continue;
            }
            // Something may be overdeleted (and must be rederived): a lost tuple read
            // positively, a retracted fact, a change read through negation or
            // aggregation.
            let deletes = s.relations.iter().any(|&r| !self.retracted[r].is_empty())
                || reads.iter().any(|&r| !ch.lost[r].is_empty())
                || nonmonotone.iter().any(|&r| ch.touched(r));
            if deletes && s.rules.iter().any(|rp| rp.rederive.is_none()) {
                self.recompute_stratum(&plan, si, &mut ch);
                continue;
            }
            // A closure that only loses edges loses exactly the paths through them.
            let closure_deletes = s.closure.filter(|c| {
                !own_facts
                    && !ch.lost[c.edge].is_empty()
                    && ch.gained[c.edge].is_empty()
                    && reads.iter().all(|&r| r == c.edge || !ch.touched(r))
            });
            let del = match closure_deletes {
                Some(c) => self.closure_overdelete(&plan, si, c, &ch.lost[c.edge]),
                None => self.overdelete(&plan, si, &reads, &nonmonotone, &ch),
            };
            match del {
                Some(del) => {
                    self.rederive_and_insert(&plan, si, &reads, &nonmonotone, &mut ch, del)
                }
                None => self.recompute_stratum(&plan, si, &mut ch),
            }
        }
        for r in 0..n {
            self.added[r].clear();
            self.retracted[r].clear();
        }
        self.changed = false;
        self.plan = Some(plan);
        Ok(())
    }

    /// Step 1 for stratum `si` (see the module comment): the tuples of its relations to
    /// overdelete, per relation, found against the old state (nothing is removed yet).
    /// `None`, with the store as it was, when [`Retraction::Adaptive`] finds
    /// recomputing cheaper.
    fn overdelete(
        &mut self,
        plan: &Plan,
        si: usize,
        reads: &[usize],
        nonmonotone: &[usize],
        ch: &Changes,
    ) -> Option<Vec<Relation>> {
        let s = &plan.strata[si];
        let own = &s.relations;
        let lower: Vec<usize> = {
            let mut v: Vec<usize> = reads
                .iter()
                .chain(nonmonotone)
                .copied()
                .filter(|r| !own.contains(r) && ch.touched(*r))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let held: usize = own.iter().map(|&r| self.store.full[r].len()).sum();
        let work_before = stratum_work(&self.stats, s);
        // The overdeleted tuples, per own relation; first the retracted facts.
        let mut del: Vec<Relation> = (0..plan.relations.len())
            .map(|r| scratch(plan, r))
            .collect();
        for &r in own {
            let (full, d) = (&self.store.full[r], &mut del[r]);
            self.retracted[r].for_each(|t| {
                if full.contains(t) {
                    d.insert(t);
                }
            });
        }
        // 1. Overdeletion, against the old state.
        for &r in &lower {
            revert(&mut self.store.full[r], &ch.lost[r], &ch.gained[r]);
        }
        for &r in own {
            self.store.new[r] = scratch(plan, r);
        }
        self.evaluate_touched_groups(s, nonmonotone, ch, Derive::All);
        let keyed_work = stratum_work(&self.stats, s) - work_before;
        for &r in reads.iter().filter(|r| !own.contains(r)) {
            self.store.delta[r] = ch.lost[r].clone();
        }
        for &r in own {
            self.store.delta[r] = del[r].clone();
        }
        run_delta_versions(
            s,
            &mut self.store,
            |_| true,
            Derive::All,
            &mut self.stats,
            &self.interner,
        );
        for &r in reads {
            self.store.delta[r].clear();
        }
        // The last two rounds' new tuples and the last round's work, to project the next.
        let (mut fresh_now, mut round_start) = (0usize, work_before);
        let within_budget = loop {
            let mut any = false;
            let last_fresh = std::mem::replace(&mut fresh_now, 0);
            for &r in own {
                let derived = std::mem::replace(&mut self.store.new[r], scratch(plan, r));
                let mut fresh = scratch(plan, r);
                let (edb, gone) = (&self.edb[r], &del[r]);
                derived.for_each(|t| {
                    if !gone.contains(t) && !edb.contains(t) {
                        fresh.insert(t);
                    }
                });
                del[r].union_with(&fresh);
                any |= !fresh.is_empty();
                fresh_now += fresh.len();
                self.store.delta[r] = fresh;
            }
            // Rederiving searches each rule's body once per overdeleted tuple, and the
            // touched groups are evaluated again: when that and the overdeletion so far
            // outgrow the work of computing the stratum from its facts, or half its
            // tuples are gone, recomputing is cheaper. Overdeletion often grows round
            // by round (a subtree, a cycle), so the next round is projected at the
            // last one's growth: stopping before a round that would cross the budget
            // saves that round.
            let gone: usize = own.iter().map(|&r| del[r].len()).sum();
            let now = stratum_work(&self.stats, s);
            let (spent, round) = (now - work_before, now - round_start);
            round_start = now;
            let growth = if last_fresh > 0 && fresh_now > last_fresh {
                fresh_now as f64 / last_fresh as f64
            } else {
                0.0
            };
            let next = (round as f64 * growth) as u64;
            let next_gone = (fresh_now as f64 * growth) as u64;
            let per = rederive_probes(s);
            let ahead = (gone as u64 + next_gone) * per + keyed_work + next;
            let budget = self.full_work.get(si).copied().unwrap_or(0);
            if self.retraction == Retraction::Adaptive
                && (gone * 2 > held.max(1) || spent + ahead > budget)
            {
                break false;
            }
            if !any || !s.recursive {
                break true;
            }
            run_delta_versions(
                s,
                &mut self.store,
                |d| own.contains(&d),
                Derive::All,
                &mut self.stats,
                &self.interner,
            );
        };
        for &r in own {
            self.store.delta[r].clear();
            self.store.new[r].clear();
        }
        for &r in &lower {
            apply(&mut self.store.full[r], &ch.lost[r], &ch.gained[r]);
        }
        within_budget.then_some(del)
    }

    /// Steps 2 and 3 for stratum `si` (see the module comment), after overdeletion
    /// found `del`: removal, rederivation against the new state, semi-naive insertion;
    /// records what its relations lost and gained in `ch`.
    fn rederive_and_insert(
        &mut self,
        plan: &Plan,
        si: usize,
        reads: &[usize],
        nonmonotone: &[usize],
        ch: &mut Changes,
        del: Vec<Relation>,
    ) {
        let s = &plan.strata[si];
        let own = &s.relations;
        for &r in own {
            let full = &mut self.store.full[r];
            del[r].for_each(|t| {
                full.remove(t);
            });
        }
        // 2. Rederivation, against the new state.
        for &r in own {
            self.store.delta[r] = del[r].clone();
            self.store.new[r] = scratch(plan, r);
        }
        run_rederive(s, &mut self.store, &mut self.stats, &self.interner);
        for &r in own {
            self.store.delta[r].clear();
        }
        self.evaluate_touched_groups(s, nonmonotone, ch, Derive::New);
        for &r in own {
            let (full, new) = (&self.store.full[r], &mut self.store.new[r]);
            self.added[r].for_each(|t| {
                if !full.contains(t) {
                    new.insert(t);
                }
            });
        }
        // 3. Insertion, semi-naive, from what came back and what the reads gained.
        let mut any = false;
        for &r in own {
            let back = std::mem::replace(&mut self.store.new[r], scratch(plan, r));
            self.store.full[r].union_with(&back);
            any |= !back.is_empty();
            self.store.delta[r] = back;
        }
        for &r in reads.iter().filter(|r| !own.contains(r)) {
            any |= !ch.gained[r].is_empty();
            self.store.delta[r] = ch.gained[r].clone();
        }
        if any {
            run_stratum(
                plan,
                s,
                &mut self.store,
                Mode::Incremental,
                &mut self.stats,
                &self.interner,
            );
        }
        for &r in reads {
            if !own.contains(&r) {
                self.store.delta[r].clear();
            }
        }
        for &r in own {
            // Lost: overdeleted and not back; gained: added and not overdeleted.
            let grown = std::mem::replace(&mut self.store.delta[r], scratch(plan, r));
            let (full, gone) = (&self.store.full[r], &del[r]);
            let (lost, gained) = (&mut ch.lost[r], &mut ch.gained[r]);
            gone.for_each(|t| {
                if !full.contains(t) {
                    lost.insert(t);
                }
            });
            grown.for_each(|t| {
                if !gone.contains(t) {
                    gained.insert(t);
                }
            });
        }
    }

    /// Evaluates the rules of `s` again for the groups that the changed tuples of the
    /// relations it reads through negation or aggregation touch (its keyed versions,
    /// led by those tuples), adding what they derive to `new`.
    fn evaluate_touched_groups(
        &mut self,
        s: &StratumPlan,
        nonmonotone: &[usize],
        ch: &Changes,
        derive: Derive,
    ) {
        let touched: Vec<usize> = nonmonotone
            .iter()
            .copied()
            .filter(|&r| ch.touched(r))
            .collect();
        for &r in &touched {
            self.store.delta[r] = ch.either(r);
        }
        run_keyed(
            s,
            &mut self.store,
            |r| touched.contains(&r),
            derive,
            &mut self.stats,
            &self.interner,
        );
        for &r in &touched {
            self.store.delta[r].clear();
        }
    }

    /// Recomputes stratum `si` from its facts and the relations it reads (already
    /// updated). When a later stratum reads its relations, what they lost and gained
    /// is found by comparing them before and after.
    fn recompute_stratum(&mut self, plan: &Plan, si: usize, ch: &mut Changes) {
        let s = &plan.strata[si];
        let read_later = plan.strata[si + 1..].iter().any(|t| {
            stratum_reads(t)
                .iter()
                .chain(&nonmonotone_reads(t))
                .any(|r| s.relations.contains(r))
        });
        let mut old = Vec::new();
        for &r in &s.relations {
            let facts = self.facts_only(plan, r);
            old.push(std::mem::replace(&mut self.store.full[r], facts));
        }
        self.full_work[si] =
            run_from_facts(plan, s, &mut self.store, &mut self.stats, &self.interner);
        for &r in &s.relations {
            self.store.delta[r].clear();
        }
        if read_later {
            for (&r, old) in s.relations.iter().zip(&old) {
                let new = &self.store.full[r];
                let (lost, gained) = (&mut ch.lost[r], &mut ch.gained[r]);
                old.for_each(|t| {
                    if !new.contains(t) {
                        lost.insert(t);
                    }
                });
                new.for_each(|t| {
                    if !old.contains(t) {
                        gained.insert(t);
                    }
                });
            }
        }
    }

    /// Step 1 for a transitive closure `c` that only lost the edges `gone`: deleting
    /// edge (a, b) loses exactly the paths through it, from `a` or a node that reaches
    /// `a`, to `b` or a node `b` reaches, read off the closure's rows (its reverse row
    /// of `a` when kept, else a pass over its forward rows). `None` when those are
    /// more than 1/64 of the closure and [`Retraction::Adaptive`] chooses to recompute
    /// by SCC condensation, which costs about a machine word per 64 tuples where these
    /// cost about a tuple each.
    fn closure_overdelete(
        &mut self,
        plan: &Plan,
        si: usize,
        c: ClosurePlan,
        gone: &Relation,
    ) -> Option<Vec<Relation>> {
        const MAX_EDGES: usize = 64;
        const TUPLE_COST: u64 = 64;
        let adaptive = self.retraction == Retraction::Adaptive;
        let Relation::Rows(head) = &self.store.full[c.head] else {
            return None;
        };
        if adaptive && gone.len() > MAX_EDGES {
            return None;
        }
        let mut through: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
        let mut reach = 0u64;
        let mut probes = 0u64;
        gone.for_each(|t| {
            let (a, b) = (t[0] as u32, t[1] as u32);
            let mut from = vec![a];
            match &head.rev {
                Some(rev) => {
                    probes += 1;
                    if let Some(row) = rev.row(a) {
                        row.for_each(|x| from.push(x));
                    }
                }
                None => {
                    probes += head.fwd.keys().len() as u64;
                    from.extend(
                        head.fwd
                            .iter()
                            .filter(|(_, row)| row.contains(a))
                            .map(|(x, _)| x),
                    );
                }
            }
            let mut to = vec![b];
            probes += 1;
            if let Some(row) = head.fwd.row(b) {
                row.for_each(|z| to.push(z));
            }
            reach += (from.len() * to.len()) as u64;
            through.push((from, to));
        });
        let mut del: Option<Vec<Relation>> = None;
        if !adaptive || reach * TUPLE_COST <= head.fwd.len() {
            let mut d: Vec<Relation> = (0..plan.relations.len())
                .map(|r| scratch(plan, r))
                .collect();
            let asserted = &self.edb[c.head];
            for (from, to) in &through {
                for &x in from {
                    for &z in to {
                        let t = [i64::from(x), i64::from(z)];
                        if !asserted.contains(&t) {
                            d[c.head].insert(&t);
                        }
                    }
                }
            }
            del = Some(d);
        }
        // Charged to the recursive rule, as the condensation is.
        if let Some(rp) = plan.strata[si]
            .rules
            .iter()
            .find(|rp| rp.versions.len() == 3)
            .or(plan.strata[si].rules.first())
        {
            let work = &mut self.stats[rp.rule].work;
            work.probes += probes;
            work.derived += del.as_ref().map_or(0, |d| d[c.head].len() as u64);
        }
        del
    }

    /// Relation `r`'s full version rebuilt from its asserted facts alone.
    pub(super) fn facts_only(&self, plan: &Plan, r: usize) -> Relation {
        Relation::from_tuples(plan.relations[r].repr, &self.edb[r])
    }
}

/// `full` as it was before it lost `lost` and gained `gained`.
fn revert(full: &mut Relation, lost: &Relation, gained: &Relation) {
    gained.for_each(|t| {
        full.remove(t);
    });
    lost.for_each(|t| {
        full.insert(t);
    });
}

/// `full` after it loses `lost` and gains `gained` (undoes [`revert`]).
fn apply(full: &mut Relation, lost: &Relation, gained: &Relation) {
    lost.for_each(|t| {
        full.remove(t);
    });
    gained.for_each(|t| {
        full.insert(t);
    });
}

/// An empty relation to hold some of `r`'s tuples for a while ([`Relation::scratch`]).
fn scratch(plan: &Plan, r: usize) -> Relation {
    Relation::scratch(plan.relations[r].repr, plan.relations[r].types.len())
}

/// The relations stratum `s` reads positively (its rules' delta versions' relations),
/// its own included, each once.
fn stratum_reads(s: &StratumPlan) -> Vec<usize> {
    let mut reads: Vec<usize> = s
        .rules
        .iter()
        .flat_map(|rp| rp.versions.iter().filter_map(|v| v.delta_rel))
        .collect();
    reads.sort_unstable();
    reads.dedup();
    reads
}

/// The relations stratum `s` reads through negation or aggregation, each once.
fn nonmonotone_reads(s: &StratumPlan) -> Vec<usize> {
    let mut reads: Vec<usize> = s
        .rules
        .iter()
        .flat_map(|rp| rp.nonmonotone_reads.iter().copied())
        .collect();
    reads.sort_unstable();
    reads.dedup();
    reads
}

/// Evaluates stratum `s` from its facts (its relations already hold only them);
/// returns the work it took.
pub(super) fn run_from_facts(
    plan: &Plan,
    s: &StratumPlan,
    store: &mut Store,
    stats: &mut [RuleStats],
    interner: &Interner,
) -> u64 {
    let before = stratum_work(stats, s);
    run_stratum(plan, s, store, Mode::Full, stats, interner);
    stratum_work(stats, s) - before
}

/// Work done so far by the rules of stratum `s` (tuples derived and probes).
fn stratum_work(stats: &[RuleStats], s: &StratumPlan) -> u64 {
    s.rules
        .iter()
        .map(|rp| stats[rp.rule].work.derived + stats[rp.rule].work.probes)
        .sum()
}

/// Probes rederiving one overdeleted tuple of stratum `s` takes at least: a search per
/// body atom of each rule's rederivation version.
fn rederive_probes(s: &StratumPlan) -> u64 {
    s.rules
        .iter()
        .filter_map(|rp| rp.rederive.as_ref())
        .map(|v| match &v.body {
            VersionBody::Nest(n) => n
                .ops
                .iter()
                .filter(|op| matches!(op, Op::Search { .. } | Op::NotExists { .. }))
                .count() as u64,
            VersionBody::Chain(_) => 1,
        })
        .sum()
}
