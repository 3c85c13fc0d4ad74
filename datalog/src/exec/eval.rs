//! The first back end: an interpreter of the plan IR. Loop nests run tuple at a time
//! over registers; chains run set at a time over rows. Semi-naive per stratum.

use crate::ast::AggFunc;
use crate::exec::distinct::Distinct;
use crate::plan::*;
use crate::storage::intern::{Interner, SymbolKind};
use crate::storage::relation::{fits_row, Relation, RowRel};
use crate::storage::rows::{Acc, Row, RowSet};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Work done, for statistics and for tests that check incremental cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tuples added to a relation.
    pub derived: u64,
    /// Index lookups, scans and row unions performed.
    pub probes: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.derived += o.derived;
        self.probes += o.probes;
    }
}

/// Statistics of one rule, accumulated over saturations.
#[derive(Clone, Debug, Default)]
pub struct RuleStats {
    /// The rule as written.
    pub text: String,
    /// Rule versions executed.
    pub runs: u64,
    /// Work counters.
    pub work: Counters,
    /// Time spent evaluating it.
    pub time: Duration,
}

/// The three versions of every relation during evaluation.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// Everything known.
    pub full: Vec<Relation>,
    /// Added by the last iteration (or pending from outside, incrementally).
    pub delta: Vec<Relation>,
    /// Being added by the current iteration.
    pub new: Vec<Relation>,
}

/// How a stratum is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// From its facts: run every rule on full relations, then semi-naive.
    Full,
    /// Continue from pending deltas of the relations it reads.
    Incremental,
}

/// Evaluates one stratum to fixpoint. In incremental mode, on return the delta of each
/// stratum relation holds everything it gained (for strata downstream).
pub fn run_stratum(
    plan: &Plan,
    s: &StratumPlan,
    store: &mut Store,
    mode: Mode,
    stats: &mut [RuleStats],
    interner: &Interner,
) {
    // Incrementally, deltas are small.
    let scratch = |r: RelId| {
        let (repr, arity) = (plan.relations[r].repr, plan.relations[r].types.len());
        match mode {
            Mode::Full => Relation::new(repr, arity),
            Mode::Incremental => Relation::scratch(repr, arity),
        }
    };
    for &r in &s.relations {
        store.new[r] = scratch(r);
        if mode == Mode::Full {
            store.delta[r] = store.new[r].clone();
        }
    }
    if let (Mode::Full, Some(c)) = (mode, s.closure) {
        if store.full[c.head].is_empty() && run_closure(s, c, store, stats) {
            return;
        }
    }
    let mut grown: Vec<Option<Relation>> = vec![None; plan.relations.len()];
    if mode == Mode::Incremental {
        for &r in &s.relations {
            grown[r] = Some(std::mem::replace(&mut store.delta[r], scratch(r)));
            if let Some(g) = &grown[r] {
                store.delta[r].union_with(g);
            }
        }
    }
    // First round: from the facts, every rule's all-full version; incrementally, the
    // versions reading a relation that changed.
    match mode {
        Mode::Full => {
            for rp in &s.rules {
                for v in rp.versions.iter().filter(|v| v.delta_rel.is_none()) {
                    run_version(rp, v, store, &mut stats[rp.rule], interner, Derive::New);
                }
            }
        }
        Mode::Incremental => {
            run_delta_versions(s, store, |_| true, Derive::New, stats, interner);
        }
    }
    let mut iterations = 1u64;
    loop {
        let mut any = false;
        for &r in &s.relations {
            let fresh = std::mem::replace(&mut store.new[r], scratch(r));
            store.full[r].union_with(&fresh);
            if let Some(g) = &mut grown[r] {
                g.union_with(&fresh);
            }
            any |= !fresh.is_empty();
            store.delta[r] = fresh;
        }
        if !s.recursive || !any {
            break;
        }
        iterations += 1;
        let own = |d: RelId| s.relations.contains(&d);
        run_delta_versions(s, store, own, Derive::New, stats, interner);
    }
    tracing::debug!(iterations, "stratum {:?} done", s.relations);
    for &r in &s.relations {
        store.delta[r] = match grown[r].take() {
            Some(g) => g,
            None => scratch(r),
        };
    }
}

/// Saturates a transitive-closure stratum in one pass; false when it does not apply.
fn run_closure(
    s: &StratumPlan,
    c: ClosurePlan,
    store: &mut Store,
    stats: &mut [RuleStats],
) -> bool {
    let t0 = Instant::now();
    let Relation::Rows(head) = &store.full[c.head] else {
        return false;
    };
    let mut out = RowSet::new(head.fwd.kind());
    let mut counters = Counters::default();
    if !crate::exec::transitive::closure_into(&store.full[c.edge], &mut out, &mut counters) {
        return false;
    }
    store.full[c.head] = Relation::Rows(RowRel {
        fwd: out,
        rev: None,
    });
    // Charged to the recursive rule (the one with two body atoms).
    if let Some(rp) = s
        .rules
        .iter()
        .find(|rp| rp.versions.len() == 3)
        .or(s.rules.first())
    {
        let st = &mut stats[rp.rule];
        st.runs += 1;
        st.work += counters;
        st.time += t0.elapsed();
    }
    true
}

/// Which derived head tuples a rule version adds to the head's new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derive {
    /// Those not already in full (saturation, rederivation).
    New,
    /// All of them, known or not (overdeletion: what a deleted tuple may have
    /// supported).
    All,
}

/// Runs the versions of the stratum's rules that read a delta relation for which
/// `pick` holds (and whose delta is not empty), adding what they derive to `new`.
pub fn run_delta_versions(
    s: &StratumPlan,
    store: &mut Store,
    pick: impl Fn(RelId) -> bool,
    derive: Derive,
    stats: &mut [RuleStats],
    interner: &Interner,
) {
    for rp in &s.rules {
        for v in &rp.versions {
            if let Some(d) = v.delta_rel {
                if pick(d) && !store.delta[d].is_empty() {
                    run_version(rp, v, store, &mut stats[rp.rule], interner, derive);
                }
            }
        }
    }
}

/// Runs each rule's rederivation version: for every tuple in the head's delta (the
/// overdeleted ones), whether the body derives it from full; adds those it does, and
/// that full lacks, to `new`. Every rule of `s` must have one.
pub fn run_rederive(
    s: &StratumPlan,
    store: &mut Store,
    stats: &mut [RuleStats],
    interner: &Interner,
) {
    for rp in &s.rules {
        if let Some(v) = &rp.rederive {
            if !store.delta[rp.head].is_empty() {
                run_version(rp, v, store, &mut stats[rp.rule], interner, Derive::New);
            }
        }
    }
}

/// Runs the keyed versions of the stratum's rules for relations read through negation
/// or aggregation for which `pick` holds and whose delta (the changed tuples) is not
/// empty: each rule evaluated again for the groups those tuples touch. A rule whose
/// occurrence binds no group runs its all-full version, once.
pub fn run_keyed(
    s: &StratumPlan,
    store: &mut Store,
    pick: impl Fn(RelId) -> bool,
    derive: Derive,
    stats: &mut [RuleStats],
    interner: &Interner,
) {
    for rp in &s.rules {
        let mut whole = false;
        for k in &rp.keyed {
            if !pick(k.rel) || store.delta[k.rel].is_empty() {
                continue;
            }
            match &k.version {
                Some(v) => run_version(rp, v, store, &mut stats[rp.rule], interner, derive),
                None => whole = true,
            }
        }
        if whole {
            if let Some(v) = rp.versions.iter().find(|v| v.delta_rel.is_none()) {
                run_version(rp, v, store, &mut stats[rp.rule], interner, derive);
            }
        }
    }
}

fn run_version(
    rp: &RulePlan,
    v: &RuleVersion,
    store: &mut Store,
    stats: &mut RuleStats,
    interner: &Interner,
    derive: Derive,
) {
    let t0 = Instant::now();
    for &(rel, source, mask) in &v.accesses {
        match source {
            Source::Full => store.full[rel].ensure_index(mask),
            Source::Delta => store.delta[rel].ensure_index(mask),
        }
    }
    let mut counters = Counters::default();
    match &v.body {
        VersionBody::Nest(nest) => {
            let mut ex = Exec {
                full: &store.full,
                delta: &store.delta,
                new: &mut store.new,
                regs: vec![0; nest.reg_types.len()],
                counters: &mut counters,
                aggs: Vec::new(),
                spare: Vec::new(),
                interner,
                derive,
            };
            ex.run(&nest.ops, 0);
        }
        VersionBody::Chain(c) => run_chain(c, store, &mut counters, derive),
    }
    stats.runs += 1;
    stats.work += counters;
    stats.time += t0.elapsed();
    let _ = rp;
}

struct AggFrame<'a> {
    locals: &'a [Reg],
    target: Option<&'a Expr>,
    seen: Distinct,
}

struct Exec<'a, 'c> {
    full: &'a [Relation],
    delta: &'a [Relation],
    new: &'c mut [Relation],
    regs: Vec<i64>,
    counters: &'c mut Counters,
    aggs: Vec<AggFrame<'a>>,
    /// Sets of finished aggregates, kept for the next group's (no allocation per
    /// group once they have grown).
    spare: Vec<Distinct>,
    interner: &'a Interner,
    derive: Derive,
}

#[inline]
fn operand(regs: &[i64], o: &Operand) -> i64 {
    match o {
        Operand::Reg(r) => regs[*r as usize],
        Operand::Const(c) => *c,
    }
}

fn eval(regs: &[i64], e: &Expr) -> Option<i64> {
    match e {
        Expr::Operand(o) => Some(operand(regs, o)),
        Expr::Arith(op, a, b) => op.apply(eval(regs, a)?, eval(regs, b)?),
    }
}

/// Up to 8 key values live on the stack.
fn with_key<R>(regs: &[i64], key: &[Operand], f: impl FnOnce(&[i64]) -> R) -> R {
    if key.len() <= 8 {
        let mut buf = [0i64; 8];
        for (b, k) in buf.iter_mut().zip(key) {
            *b = operand(regs, k);
        }
        f(&buf[..key.len()])
    } else {
        let v: Vec<i64> = key.iter().map(|k| operand(regs, k)).collect();
        f(&v)
    }
}

impl<'a> Exec<'a, '_> {
    fn run(&mut self, ops: &'a [Op], i: usize) {
        let Some(op) = ops.get(i) else {
            self.yield_agg();
            return;
        };
        match op {
            Op::Search {
                rel,
                source,
                mask,
                key,
                bind,
                same,
            } => {
                let r: &'a Relation = match source {
                    Source::Full => &self.full[*rel],
                    Source::Delta => &self.delta[*rel],
                };
                self.counters.probes += 1;
                let mut kbuf = [0i64; 8];
                let kvec: Vec<i64>;
                let k: &[i64] = if key.len() <= 8 {
                    for (b, o) in kbuf.iter_mut().zip(key) {
                        *b = operand(&self.regs, o);
                    }
                    &kbuf[..key.len()]
                } else {
                    kvec = key.iter().map(|o| operand(&self.regs, o)).collect();
                    &kvec
                };
                r.lookup(*mask, k, |t| {
                    if same.iter().any(|&(a, b)| t[a] != t[b]) {
                        return;
                    }
                    for &(c, reg) in bind {
                        self.regs[reg as usize] = t[c];
                    }
                    self.run(ops, i + 1);
                });
            }
            Op::TextFilter { op, lhs, rhs } => {
                if let (Some(a), Some(b)) = (eval(&self.regs, lhs), eval(&self.regs, rhs)) {
                    let value =
                        |v: i64| u32::try_from(v).ok().and_then(|v| self.interner.resolve(v));
                    let ord = match (value(a), value(b)) {
                        (Some((SymbolKind::Str, x)), Some((SymbolKind::Str, y))) => {
                            Some(x.as_bytes().cmp(y.as_bytes()))
                        }
                        (Some((SymbolKind::Int, _)), Some((SymbolKind::Int, _))) => self
                            .interner
                            .int_of(a)
                            .zip(self.interner.int_of(b))
                            .map(|(x, y)| x.cmp(&y)),
                        _ => None,
                    };
                    if ord.is_some_and(|o| op.holds(o)) {
                        self.run(ops, i + 1);
                    }
                }
            }
            Op::Filter { op, lhs, rhs } => {
                if let (Some(a), Some(b)) = (eval(&self.regs, lhs), eval(&self.regs, rhs)) {
                    if op.eval(a, b) {
                        self.run(ops, i + 1);
                    }
                }
            }
            Op::Let { reg, expr } => {
                if let Some(v) = eval(&self.regs, expr) {
                    self.regs[*reg as usize] = v;
                    self.run(ops, i + 1);
                }
            }
            Op::NotExists {
                rel,
                mask,
                key,
                same,
            } => {
                let r = &self.full[*rel];
                self.counters.probes += 1;
                let mut found = false;
                with_key(&self.regs, key, |k| {
                    r.lookup(*mask, k, |t| {
                        if !found && same.iter().all(|&(a, b)| t[a] == t[b]) {
                            found = true;
                        }
                    })
                });
                if !found {
                    self.run(ops, i + 1);
                }
            }
            Op::Aggregate {
                func,
                result,
                target,
                locals,
                distinct,
                body,
            } => {
                let mut seen = self.spare.pop().unwrap_or_default();
                // A tuple is the goal's local values and the target's (0 for count).
                if *distinct {
                    seen.reset_known_distinct(locals.len() + 1);
                } else {
                    seen.reset(locals.len() + 1);
                }
                self.aggs.push(AggFrame {
                    locals,
                    target: target.as_ref(),
                    seen,
                });
                self.run(body, 0);
                let frame = self.aggs.pop().expect("pushed above");
                let value = {
                    let mut vals = frame.seen.last_values();
                    match func {
                        AggFunc::Count => Some(frame.seen.len() as i64),
                        AggFunc::Sum => vals.try_fold(0i64, |a, b| a.checked_add(b)),
                        AggFunc::Min => vals.min(),
                        AggFunc::Max => vals.max(),
                    }
                };
                self.spare.push(frame.seen);
                if let Some(v) = value {
                    self.regs[*result as usize] = v;
                    self.run(ops, i + 1);
                }
            }
            Op::CountRows { result, rows } => {
                self.counters.probes += rows.len() as u64;
                self.regs[*result as usize] = count_in_rows(self.full, &self.regs, rows) as i64;
                self.run(ops, i + 1);
            }
            Op::Insert { rel, args } => {
                let regs = &self.regs;
                let full = &self.full[*rel];
                let new = &mut self.new[*rel];
                let counters = &mut *self.counters;
                // (A head still empty, as every head is at the first saturation, holds
                // nothing to look up.)
                let known = self.derive == Derive::New && !full.is_empty();
                with_key(regs, args, |t| {
                    if !(known && full.contains(t)) && new.insert(t) {
                        counters.derived += 1;
                    }
                });
            }
        }
    }

    fn yield_agg(&mut self) {
        let regs = &self.regs;
        let Some(frame) = self.aggs.last_mut() else {
            return;
        };
        let target = match frame.target {
            Some(e) => match eval(regs, e) {
                Some(v) => v,
                None => return,
            },
            None => 0,
        };
        let n = frame.locals.len();
        if n < 8 {
            let mut t = [0i64; 8];
            for (slot, &r) in t.iter_mut().zip(frame.locals) {
                *slot = regs[r as usize];
            }
            t[n] = target;
            frame.seen.insert(&t[..=n]);
        } else {
            let mut t: Vec<i64> = frame.locals.iter().map(|&r| regs[r as usize]).collect();
            t.push(target);
            frame.seen.insert(&t);
        }
    }
}

/// The size of the one row of `rows`, or of the intersection of its two (0 when a
/// row is missing).
fn count_in_rows(full: &[Relation], regs: &[i64], rows: &[RowOf]) -> u64 {
    // The rows where they are stored (the common case: the reverse rows are built
    // when a stratum first needs them), looked up without building anything.
    enum Stored<'r> {
        Row(&'r Row),
        None,
        Unbuilt,
    }
    let stored = |r: &RowOf| -> Stored<'_> {
        let key = operand(regs, &r.key);
        let Some(rr) = rows_of(&full[r.rel]) else {
            return Stored::Unbuilt;
        };
        let set = if r.forward {
            &rr.fwd
        } else {
            match &rr.rev {
                Some(rev) => rev,
                None => return Stored::Unbuilt,
            }
        };
        match fits_row(key).then(|| set.row(key as u32)).flatten() {
            Some(row) => Stored::Row(row),
            None => Stored::None,
        }
    };
    match rows {
        [a] => match stored(a) {
            Stored::Row(x) => return x.len(),
            Stored::None => return 0,
            Stored::Unbuilt => {}
        },
        [a, b] => match (stored(a), stored(b)) {
            (Stored::Row(x), Stored::Row(y)) => return x.intersection_len(y),
            (Stored::None, _) | (_, Stored::None) => return 0,
            _ => {}
        },
        _ => {}
    }
    let set = |r: &RowOf| -> Option<(Cow<'_, RowSet>, u32)> {
        // Planned as rows, stored as rows; a key no row can have has none.
        let key = operand(regs, &r.key);
        fits_row(key).then_some(())?;
        Some((oriented(rows_of(&full[r.rel])?, r.forward), key as u32))
    };
    let count = || -> Option<u64> {
        match rows {
            [a] => {
                let (s, k) = set(a)?;
                Some(s.row(k)?.len())
            }
            [a, b] => {
                let ((sa, ka), (sb, kb)) = (set(a)?, set(b)?);
                Some(sa.row(ka)?.intersection_len(sb.row(kb)?))
            }
            _ => None,
        }
    };
    count().unwrap_or(0)
}

fn rows_of(r: &Relation) -> Option<&RowRel> {
    match r {
        Relation::Rows(rr) => Some(rr),
        Relation::Tuples(_) => None,
    }
}

/// Rows of `r` keyed by column 0 (`forward`) or column 1.
fn oriented(r: &RowRel, forward: bool) -> Cow<'_, RowSet> {
    if forward {
        Cow::Borrowed(&r.fwd)
    } else {
        match &r.rev {
            Some(rev) => Cow::Borrowed(rev),
            None => Cow::Owned(r.transposed()),
        }
    }
}

fn run_chain(c: &ChainPlan, store: &mut Store, counters: &mut Counters, derive: Derive) {
    let Store { full, delta, new } = store;
    let rows = |rel: RelId, src: Source| -> Option<&RowRel> {
        rows_of(match src {
            Source::Full => &full[rel],
            Source::Delta => &delta[rel],
        })
    };
    let first = &c.steps[c.start];
    let Some(start_rel) = rows(first.rel, c.start_source) else {
        return;
    };
    let start = oriented(start_rel, first.forward);
    let mut right: Vec<Cow<'_, RowSet>> = Vec::new();
    for st in &c.steps[c.start + 1..] {
        let Some(r) = rows(st.rel, Source::Full) else {
            return;
        };
        right.push(oriented(r, st.forward));
    }
    let mut left: Vec<Cow<'_, RowSet>> = Vec::new();
    for st in c.steps[..c.start].iter().rev() {
        let Some(r) = rows(st.rel, Source::Full) else {
            return;
        };
        // Predecessors of v_i+1 through rel(v_i, v_i+1): keyed by column 1.
        left.push(oriented(r, !st.forward));
    }
    let Some(head_full) = rows_of(&full[c.head]) else {
        return;
    };
    let Relation::Rows(head_new) = &mut new[c.head] else {
        return;
    };
    let head_new = &mut head_new.fwd;
    let known = (derive == Derive::New).then_some(&head_full.fwd);
    let mut acc = Acc::default();
    let mut acc2 = Acc::default();
    let kind = head_full.fwd.kind();
    // Adds the accumulated row, keyed by `k`, to the head; leaves `acc` empty.
    // `k` is the chain's first value v0 here; with `distinct_ends`, vk = v0 is left out.
    let except = |k: u32| c.distinct_ends.then_some(k);
    let emit = |k: u32, acc: &mut Acc, head_new: &mut RowSet, counters: &mut Counters| {
        if c.head_forward {
            counters.derived += acc.union_into_except(k, head_new, known, true, except(k));
        } else {
            acc.for_each(|v| {
                if except(k) != Some(v)
                    && !known.is_some_and(|kn| kn.contains(v, k))
                    && head_new.insert(v, k)
                {
                    counters.derived += 1;
                }
            });
            acc.clear();
        }
    };
    // The last left step (forward head) fans each row straight into the head, so the
    // widest intermediate rows are never materialised.
    let fan_last = c.head_forward && !left.is_empty();
    // Rows keyed by the leftmost chain variable reached so far (materialised only when
    // more than the last left step remains).
    let mut mid = RowSet::new(kind);
    for (k, row) in start.iter() {
        // Semi-join: a start key with no predecessor on the left derives nothing.
        if left.first().is_some_and(|pred| pred.row(k).is_none()) {
            continue;
        }
        acc.clear();
        acc.or_row(row);
        for r in &right {
            acc2.clear();
            acc.for_each(|e| {
                if let Some(next) = r.row(e) {
                    counters.probes += 1;
                    acc2.or_row(next);
                }
            });
            std::mem::swap(&mut acc, &mut acc2);
        }
        if acc.is_empty() {
            continue;
        }
        if left.is_empty() {
            emit(k, &mut acc, head_new, counters);
        } else if fan_last && left.len() == 1 {
            fan_out(
                k,
                &mut acc,
                &left[0],
                head_new,
                known,
                c.distinct_ends,
                counters,
            );
        } else {
            acc.drain_into(k, &mut mid, None);
        }
    }
    if left.is_empty() || (fan_last && left.len() == 1) {
        return;
    }
    let materialised = if fan_last {
        &left[..left.len() - 1]
    } else {
        &left[..]
    };
    for (li, pred) in materialised.iter().enumerate() {
        let mut next = RowSet::new(kind);
        let after = left.get(li + 1);
        for (y, row) in mid.iter() {
            let Some(ps) = pred.row(y) else {
                continue;
            };
            ps.for_each(|u| {
                // Semi-join with the following step: u without predecessors is useless.
                if after.is_some_and(|a| a.row(u).is_none()) {
                    return;
                }
                counters.probes += 1;
                next.union_row(u, row);
            });
        }
        mid = next;
    }
    for (x, row) in mid.iter() {
        acc.clear();
        acc.or_row(row);
        if fan_last {
            fan_out(
                x,
                &mut acc,
                &left[left.len() - 1],
                head_new,
                known,
                c.distinct_ends,
                counters,
            );
        } else {
            emit(x, &mut acc, head_new, counters);
        }
    }
}

/// Adds the accumulated row to the head under every predecessor of `k` in `pred`, minus
/// what is known (and, with `distinct_ends`, minus the predecessor itself); leaves
/// `acc` empty.
fn fan_out(
    k: u32,
    acc: &mut Acc,
    pred: &RowSet,
    head_new: &mut RowSet,
    known: Option<&RowSet>,
    distinct_ends: bool,
    counters: &mut Counters,
) {
    if let Some(ps) = pred.row(k) {
        ps.for_each(|u| {
            counters.probes += 1;
            let except = distinct_ends.then_some(u);
            counters.derived += acc.union_into_except(u, head_new, known, false, except);
        });
    }
    acc.clear();
}
