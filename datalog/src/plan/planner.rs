//! Planning: checked AST + relation statistics -> [`Plan`]. Chooses each relation's
//! representation, orders joins by bound variables and size estimates, records the
//! access patterns (indexes) each version needs, and turns chain-shaped rules over row
//! relations into set-at-a-time [`ChainPlan`]s.

use crate::ast::*;
use crate::check::stratify::Stratum;
use crate::check::{bound_vars, VarTypes};
use crate::plan::normalise::{normalise, Normalised};
use crate::plan::*;
use crate::storage::intern::{Interner, SymbolKind};
use crate::storage::relation::Repr;
use crate::storage::tuples::ColMask;
use hashbrown::{HashMap, HashSet};

pub use super::maintenance::plan_maintenance;
use super::reprs::choose_reprs;

/// What the planner knows about a relation's stored facts before running.
#[derive(Clone, Debug, Default)]
pub struct RelStats {
    /// Number of facts.
    pub len: usize,
    /// Distinct values of column 0 (for binary relations).
    pub keys: usize,
    /// Largest value in any column (symbol ids included), if all are non-negative.
    pub max_value: Option<i64>,
    /// Whether some value is negative.
    pub has_negative: bool,
}

/// Largest value a row relation may hold; beyond it, hash tuples are used.
pub const MAX_ROW_VALUE: i64 = (1 << 22) - 1;
/// Largest domain for dense bitset rows of a derived relation (domain² / 8 bytes ≤ 64 MB).
pub const MAX_DENSE_DOMAIN: i64 = 23_170;

/// Options that switch planner passes off (for testing and comparison).
#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    /// Allow row representations and set-at-a-time chains.
    pub rows: bool,
    /// Allow dense bitset rows (otherwise every row relation is sparse).
    pub dense_rows: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            rows: true,
            dense_rows: true,
        }
    }
}

impl PlanOptions {
    /// Hash tuples only: no rows, no set-at-a-time chains.
    pub fn hash_tuples() -> Self {
        PlanOptions {
            rows: false,
            dense_rows: false,
        }
    }

    /// Rows, but only sparse ones (sorted lists and roaring bitmaps).
    pub fn sparse_rows() -> Self {
        PlanOptions {
            rows: true,
            dense_rows: false,
        }
    }
}

/// Plans a checked, stratified program.
pub fn plan_program(
    prog: &Program,
    var_types: &[VarTypes],
    strata: &[Stratum],
    stats: &[RelStats],
    interner: &mut Interner,
    opts: PlanOptions,
) -> Plan {
    let rel_index = rel_index(prog);
    let reprs = choose_reprs(prog, &rel_index, stats, opts);
    let relations: Vec<RelInfo> = prog
        .decls
        .iter()
        .zip(reprs)
        .map(|(d, (repr, reason))| RelInfo {
            name: d.name.clone(),
            types: d.columns.iter().map(|c| c.1).collect(),
            repr,
            reason,
        })
        .collect();
    let estimate: Vec<usize> = (0..prog.decls.len())
        .map(|r| {
            let derived = prog
                .rules
                .iter()
                .any(|ru| rel_index[ru.head.relation.as_str()] == r);
            if derived {
                stats.iter().map(|s| s.len).sum::<usize>().max(1000) * 10
            } else {
                stats.get(r).map_or(0, |s| s.len)
            }
        })
        .collect();
    let mut planner = Planner {
        rel_index: &rel_index,
        relations: &relations,
        estimate: &estimate,
        interner,
    };
    let strata = strata
        .iter()
        .map(|s| StratumPlan {
            relations: s.relations.clone(),
            recursive: s.recursive,
            rules: s
                .rules
                .iter()
                .map(|&ri| {
                    let n = planner.normal(&prog.rules[ri], &var_types[ri]);
                    planner.plan_rule(ri, &prog.rules[ri], &n.rule, &n.types)
                })
                .collect(),
            closure: closure_shape(prog, &rel_index, &relations, s, stats),
        })
        .collect();
    Plan {
        relations,
        strata,
        estimate,
        maintenance: false,
    }
}

/// Each declared relation's number, by name.
pub(super) fn rel_index(prog: &Program) -> HashMap<&str, usize> {
    prog.decls
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect()
}

pub(super) struct Planner<'a> {
    pub(super) rel_index: &'a HashMap<&'a str, usize>,
    pub(super) relations: &'a [RelInfo],
    pub(super) estimate: &'a [usize],
    pub(super) interner: &'a mut Interner,
}

/// Register allocation and op emission for one rule version.
pub(super) struct NestBuilder {
    pub(super) regs: HashMap<String, Reg>,
    pub(super) reg_types: Vec<ColumnType>,
    pub(super) reg_names: Vec<String>,
    pub(super) accesses: Vec<(RelId, Source, ColMask)>,
}

impl NestBuilder {
    pub(super) fn reg(&mut self, name: &str, ty: ColumnType) -> Reg {
        if let Some(&r) = self.regs.get(name) {
            return r;
        }
        let r = self.temp(name, ty);
        self.regs.insert(name.to_string(), r);
        r
    }
    pub(super) fn temp(&mut self, name: &str, ty: ColumnType) -> Reg {
        let r = self.reg_types.len() as Reg;
        self.reg_types.push(ty);
        self.reg_names.push(name.to_string());
        r
    }
}

pub(super) fn term_vars(t: &Term) -> Vec<String> {
    let mut v = Vec::new();
    t.for_each_var(&mut |x| v.push(x.to_string()));
    v
}

pub(super) fn literal_vars(l: &Literal) -> Vec<String> {
    let mut out = Vec::new();
    match l {
        Literal::Positive(a) | Literal::Negative(a) => {
            for t in &a.args {
                out.extend(term_vars(t));
            }
        }
        Literal::Compare { lhs, rhs, .. } => {
            out.extend(term_vars(lhs));
            out.extend(term_vars(rhs));
        }
        Literal::Aggregate { target, goal, .. } => {
            if let Some(t) = target {
                out.extend(term_vars(t));
            }
            for g in goal {
                out.extend(literal_vars(g));
            }
        }
    }
    out
}

impl Planner<'_> {
    pub(super) fn rel(&self, name: &str) -> RelId {
        self.rel_index[name]
    }

    /// `rule` in normal form (see [`crate::plan::normalise`]).
    pub(super) fn normal(&self, rule: &Rule, types: &VarTypes) -> Normalised {
        let relations = self.relations;
        let rel_index = self.rel_index;
        normalise(rule, types, &|name: &str| {
            relations[rel_index[name]].types.as_slice()
        })
    }

    /// Plans `rule` (its normal form; `written` is the rule as written, for display).
    pub(super) fn plan_rule(
        &mut self,
        ri: usize,
        written: &Rule,
        rule: &Rule,
        types: &VarTypes,
    ) -> RulePlan {
        let head = self.rel(&rule.head.relation);
        let positives: Vec<usize> = rule
            .body
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Literal::Positive(_)))
            .map(|(i, _)| i)
            .collect();
        let chain = self.chain_shape(rule);
        let mut versions = Vec::new();
        let mut starts: Vec<Option<usize>> = vec![None];
        starts.extend(positives.iter().map(|&i| Some(i)));
        for delta in starts {
            let delta_rel = delta.map(|i| match &rule.body[i] {
                Literal::Positive(a) => self.rel(&a.relation),
                _ => unreachable!("positives holds positive atoms only"),
            });
            let v = match &chain {
                Some((steps, order, head_forward, distinct_ends)) => {
                    let (start, start_source) = match delta {
                        None => (0, Source::Full),
                        Some(i) => (
                            order.iter().position(|&o| o == i).unwrap_or(0),
                            Source::Delta,
                        ),
                    };
                    let plan = ChainPlan {
                        head,
                        head_forward: *head_forward,
                        steps: steps.clone(),
                        start,
                        start_source,
                        distinct_ends: *distinct_ends,
                    };
                    let accesses = chain_accesses(&plan);
                    RuleVersion {
                        delta_rel,
                        body: VersionBody::Chain(plan),
                        accesses,
                    }
                }
                None => {
                    let (nest, accesses) = self.plan_nest(rule, types, delta);
                    RuleVersion {
                        delta_rel,
                        body: VersionBody::Nest(nest),
                        accesses,
                    }
                }
            };
            versions.push(v);
        }
        let mut nonmonotone_reads = Vec::new();
        for l in &rule.body {
            match l {
                Literal::Negative(a) => nonmonotone_reads.push(self.rel(&a.relation)),
                Literal::Aggregate { goal, .. } => {
                    for g in goal {
                        if let Literal::Positive(a) | Literal::Negative(a) = g {
                            nonmonotone_reads.push(self.rel(&a.relation));
                        }
                    }
                }
                _ => {}
            }
        }
        RulePlan {
            rule: ri,
            text: written.to_string(),
            head,
            versions,
            rederive: None,
            keyed: Vec::new(),
            nonmonotone_reads,
        }
    }

    /// If the rule is `h(a, b) :- r1(a, x1), r2(x1, x2), …, rk(x(k-1), b)` (each atom in
    /// either orientation) over row relations, perhaps with `a != b`: its steps, body
    /// order, head orientation and whether `a != b` is required.
    pub(super) fn chain_shape(
        &self,
        rule: &Rule,
    ) -> Option<(Vec<ChainStep>, Vec<usize>, bool, bool)> {
        let head = self.rel(&rule.head.relation);
        if !matches!(self.relations[head].repr, Repr::Rows(_)) {
            return None;
        }
        let (Term::Var(a), Term::Var(b)) = (&rule.head.args[0], &rule.head.args[1]) else {
            return None;
        };
        if a == b {
            return None;
        }
        let mut atoms = Vec::new();
        let mut distinct_ends = false;
        for (i, l) in rule.body.iter().enumerate() {
            let at = match l {
                Literal::Positive(at) => at,
                Literal::Compare {
                    op: CmpOp::Ne,
                    lhs: Term::Var(x),
                    rhs: Term::Var(y),
                    ..
                } if !distinct_ends && ((x == a && y == b) || (x == b && y == a)) => {
                    distinct_ends = true;
                    continue;
                }
                _ => return None,
            };
            let r = self.rel(&at.relation);
            if !matches!(self.relations[r].repr, Repr::Rows(_)) {
                return None;
            }
            let (Term::Var(x), Term::Var(y)) = (&at.args[0], &at.args[1]) else {
                return None;
            };
            if x == y {
                return None;
            }
            atoms.push((i, r, x.clone(), y.clone()));
        }
        let mut used = vec![false; atoms.len()];
        let mut cur = a.clone();
        let mut steps = Vec::new();
        let mut order = Vec::new();
        let mut seen_vars: HashSet<String> = HashSet::from([a.clone()]);
        while steps.len() < atoms.len() {
            let mut found = None;
            for (k, (i, r, x, y)) in atoms.iter().enumerate() {
                if used[k] {
                    continue;
                }
                if *x == cur || *y == cur {
                    if found.is_some() {
                        return None; // branching: not a chain
                    }
                    let forward = *x == cur;
                    found = Some((
                        k,
                        *i,
                        *r,
                        forward,
                        if forward { y.clone() } else { x.clone() },
                    ));
                }
            }
            let (k, i, r, forward, next) = found?;
            used[k] = true;
            if !seen_vars.insert(next.clone()) {
                return None;
            }
            steps.push(ChainStep { rel: r, forward });
            order.push(i);
            cur = next;
        }
        if cur != *b || steps.is_empty() {
            return None;
        }
        Some((steps, order, true, distinct_ends))
    }

    pub(super) fn plan_nest(
        &mut self,
        rule: &Rule,
        types: &VarTypes,
        delta: Option<usize>,
    ) -> (LoopNest, Vec<(RelId, Source, ColMask)>) {
        let mut nb = NestBuilder {
            regs: HashMap::new(),
            reg_types: Vec::new(),
            reg_names: Vec::new(),
            accesses: Vec::new(),
        };
        let mut bound: HashSet<String> = HashSet::new();
        let mut ops = Vec::new();
        let lits: Vec<(usize, &Literal)> = rule.body.iter().enumerate().collect();
        self.plan_body(&lits, delta, types, &mut nb, &mut bound, &mut ops);
        let mut args = Vec::new();
        let head = self.rel(&rule.head.relation);
        for (c, t) in rule.head.args.iter().enumerate() {
            args.push(self.column_operand(t, head, c, types, &mut nb, &mut ops));
        }
        ops.push(Op::Insert { rel: head, args });
        (
            LoopNest {
                ops,
                reg_types: nb.reg_types,
                reg_names: nb.reg_names,
            },
            nb.accesses,
        )
    }

    /// Emits ops for `lits` in a good order; `bound` grows as variables get bound.
    pub(super) fn plan_body(
        &mut self,
        lits: &[(usize, &Literal)],
        delta: Option<usize>,
        types: &VarTypes,
        nb: &mut NestBuilder,
        bound: &mut HashSet<String>,
        ops: &mut Vec<Op>,
    ) {
        // Variables the body binds: they group an aggregate; others are local to it.
        let all: Vec<Literal> = lits.iter().map(|(_, l)| (*l).clone()).collect();
        let outer = bound_vars(&all, bound);
        let mut pending: Vec<(usize, &Literal)> = lits.to_vec();
        if let Some(d) = delta {
            if let Some(pos) = pending.iter().position(|(i, _)| *i == d) {
                let (_, l) = pending.remove(pos);
                if let Literal::Positive(a) = l {
                    self.emit_search(a, Source::Delta, types, nb, bound, ops);
                }
            }
        }
        loop {
            // Everything that is ready and not a positive atom.
            let mut progress = true;
            while progress {
                progress = false;
                let mut k = 0;
                while k < pending.len() {
                    let (_, l) = pending[k];
                    if self.try_emit_check(l, types, nb, bound, &outer, ops) {
                        pending.remove(k);
                        progress = true;
                    } else {
                        k += 1;
                    }
                }
            }
            let best = pending
                .iter()
                .enumerate()
                .filter_map(|(k, (_, l))| match l {
                    // An expression argument needs its variables bound first.
                    Literal::Positive(a)
                        if a.args.iter().all(|t| {
                            !matches!(t, Term::Binary(..))
                                || term_vars(t).iter().all(|v| bound.contains(v))
                        }) =>
                    {
                        let nbound = a
                            .args
                            .iter()
                            .filter(|t| match t {
                                Term::Var(v) => bound.contains(v),
                                Term::Wildcard => false,
                                other => term_vars(other).iter().all(|v| bound.contains(v)),
                            })
                            .count();
                        let est = self.estimate[self.rel(&a.relation)];
                        let full = nbound == a.args.len();
                        Some((k, (full, nbound > 0, nbound, std::cmp::Reverse(est))))
                    }
                    _ => None,
                })
                .max_by_key(|(_, score)| *score)
                .map(|(k, _)| k);
            match best {
                Some(k) => {
                    let (_, l) = pending.remove(k);
                    if let Literal::Positive(a) = l {
                        self.emit_search(a, Source::Full, types, nb, bound, ops);
                    }
                }
                None => break,
            }
        }
        // Safety guarantees nothing is left; emit leftovers anyway to stay total.
        for (_, l) in pending {
            let _ = self.try_emit_check(l, types, nb, bound, &outer, ops);
        }
    }

    pub(super) fn operand(
        &mut self,
        t: &Term,
        types: &VarTypes,
        nb: &mut NestBuilder,
        ops: &mut Vec<Op>,
    ) -> Operand {
        match t {
            Term::Var(v) => {
                Operand::Reg(nb.reg(v, types.get(v).copied().unwrap_or(ColumnType::Number)))
            }
            Term::Number(n) => Operand::Const(*n),
            Term::Symbol(s) => {
                Operand::Const(match s.strip_prefix(crate::front::sexpr::SYM_MARK) {
                    Some(sym) => self.interner.intern(SymbolKind::Sym, sym) as i64,
                    None => self.interner.intern(SymbolKind::Str, s) as i64,
                })
            }
            Term::Wildcard => Operand::Const(0),
            Term::Binary(..) => {
                let e = self.expr(t, types, nb);
                let r = nb.temp(&format!("{t}"), ColumnType::Number);
                ops.push(Op::Let { reg: r, expr: e });
                Operand::Reg(r)
            }
        }
    }

    /// The operand for argument `c` of relation `rel`: a number in a symbol-typed
    /// column (an SX program mixing numbers and text) is its interned id.
    pub(super) fn column_operand(
        &mut self,
        t: &Term,
        rel: RelId,
        c: usize,
        types: &VarTypes,
        nb: &mut NestBuilder,
        ops: &mut Vec<Op>,
    ) -> Operand {
        if let Term::Number(n) = t {
            if self.relations[rel].types.get(c) == Some(&ColumnType::Symbol) {
                return Operand::Const(self.interner.intern_int(*n) as i64);
            }
        }
        self.operand(t, types, nb, ops)
    }

    /// The expression for `t` compared with (or bound to) `other`: a number compared
    /// with a symbol-typed variable is its interned id.
    pub(super) fn compared_expr(
        &mut self,
        t: &Term,
        other: &Term,
        types: &VarTypes,
        nb: &mut NestBuilder,
    ) -> Expr {
        if let (Term::Number(n), Term::Var(v)) = (t, other) {
            if types.get(v) == Some(&ColumnType::Symbol) {
                return Expr::Operand(Operand::Const(self.interner.intern_int(*n) as i64));
            }
        }
        self.expr(t, types, nb)
    }

    pub(super) fn expr(&mut self, t: &Term, types: &VarTypes, nb: &mut NestBuilder) -> Expr {
        match t {
            Term::Binary(op, a, b) => Expr::Arith(
                *op,
                Box::new(self.expr(a, types, nb)),
                Box::new(self.expr(b, types, nb)),
            ),
            other => {
                let mut dummy = Vec::new();
                Expr::Operand(self.operand(other, types, nb, &mut dummy))
            }
        }
    }

    pub(super) fn emit_search(
        &mut self,
        a: &Atom,
        source: Source,
        types: &VarTypes,
        nb: &mut NestBuilder,
        bound: &mut HashSet<String>,
        ops: &mut Vec<Op>,
    ) {
        let rel = self.rel(&a.relation);
        let mut mask: ColMask = 0;
        let mut key = Vec::new();
        let mut bind = Vec::new();
        let mut same = Vec::new();
        let mut first_col: HashMap<&str, usize> = HashMap::new();
        for (c, t) in a.args.iter().enumerate() {
            match t {
                Term::Var(v) if bound.contains(v) => {
                    mask |= 1 << c;
                    key.push(self.operand(t, types, nb, ops));
                }
                Term::Var(v) => {
                    if let Some(&fc) = first_col.get(v.as_str()) {
                        same.push((fc, c));
                    } else {
                        first_col.insert(v, c);
                        let ty = types.get(v).copied().unwrap_or(ColumnType::Number);
                        bind.push((c, nb.reg(v, ty)));
                    }
                }
                Term::Wildcard => {}
                other => {
                    mask |= 1 << c;
                    key.push(self.column_operand(other, rel, c, types, nb, ops));
                }
            }
        }
        for v in first_col.keys() {
            bound.insert(v.to_string());
        }
        nb.accesses.push((rel, source, mask));
        ops.push(Op::Search {
            rel,
            source,
            mask,
            key,
            bind,
            same,
        });
    }

    /// Emits a non-atom literal if its inputs are bound; true when emitted.
    pub(super) fn try_emit_check(
        &mut self,
        l: &Literal,
        types: &VarTypes,
        nb: &mut NestBuilder,
        bound: &mut HashSet<String>,
        outer: &HashSet<String>,
        ops: &mut Vec<Op>,
    ) -> bool {
        let all_bound =
            |t: &Term, bound: &HashSet<String>| term_vars(t).iter().all(|v| bound.contains(v));
        match l {
            Literal::Positive(_) => false,
            Literal::Compare { op, lhs, rhs, .. } => {
                let lb = all_bound(lhs, bound);
                let rb = all_bound(rhs, bound);
                if lb && rb {
                    let text = op.is_ordering()
                        && [lhs, rhs].iter().any(|t| match t {
                            Term::Symbol(_) => true,
                            Term::Var(v) => types.get(v) == Some(&ColumnType::Symbol),
                            _ => false,
                        });
                    let l = self.compared_expr(lhs, rhs, types, nb);
                    let r = self.compared_expr(rhs, lhs, types, nb);
                    ops.push(if text {
                        Op::TextFilter {
                            op: *op,
                            lhs: l,
                            rhs: r,
                        }
                    } else {
                        Op::Filter {
                            op: *op,
                            lhs: l,
                            rhs: r,
                        }
                    });
                    return true;
                }
                if *op == CmpOp::Eq {
                    for (x, e, eb) in [(lhs, rhs, rb), (rhs, lhs, lb)] {
                        if let Term::Var(v) = x {
                            if eb && !bound.contains(v) {
                                let ex = self.compared_expr(e, x, types, nb);
                                let ty = types.get(v).copied().unwrap_or(ColumnType::Number);
                                let reg = nb.reg(v, ty);
                                ops.push(Op::Let { reg, expr: ex });
                                bound.insert(v.clone());
                                return true;
                            }
                        }
                    }
                }
                false
            }
            Literal::Negative(a) => {
                let mut occ: HashMap<&str, usize> = HashMap::new();
                for t in &a.args {
                    if let Term::Var(v) = t {
                        *occ.entry(v).or_insert(0) += 1;
                    }
                }
                // Non-local variables must be bound first; locals are those not in `outer`.
                let ready = a.args.iter().all(|t| match t {
                    Term::Var(v) => bound.contains(v) || !outer.contains(v),
                    Term::Wildcard => true,
                    other => all_bound(other, bound),
                });
                if !ready {
                    return false;
                }
                let rel = self.rel(&a.relation);
                let mut mask = 0;
                let mut key = Vec::new();
                let mut same = Vec::new();
                let mut first: HashMap<&str, usize> = HashMap::new();
                for (c, t) in a.args.iter().enumerate() {
                    match t {
                        Term::Var(v) if bound.contains(v) => {
                            mask |= 1 << c;
                            key.push(self.operand(t, types, nb, ops));
                        }
                        Term::Var(v) => {
                            if let Some(&fc) = first.get(v.as_str()) {
                                same.push((fc, c));
                            } else {
                                first.insert(v, c);
                            }
                        }
                        Term::Wildcard => {}
                        other => {
                            mask |= 1 << c;
                            key.push(self.column_operand(other, rel, c, types, nb, ops));
                        }
                    }
                }
                nb.accesses.push((rel, Source::Full, mask));
                ops.push(Op::NotExists {
                    rel,
                    mask,
                    key,
                    same,
                });
                true
            }
            Literal::Aggregate {
                result,
                func,
                target,
                goal,
                ..
            } => {
                let goal_vars: Vec<String> = goal.iter().flat_map(literal_vars).collect();
                let ready = goal_vars
                    .iter()
                    .all(|v| !outer.contains(v) || bound.contains(v));
                if !ready {
                    return false;
                }
                let mut inner_bound = bound.clone();
                let mut body = Vec::new();
                // Wildcards of a goal are distinct locals: count and sum range over
                // distinct goal tuples, wildcard positions included.
                let mut fresh = 0usize;
                let goal: Vec<Literal> =
                    goal.iter().map(|g| name_wildcards(g, &mut fresh)).collect();
                let goal_vars: Vec<String> = goal.iter().flat_map(literal_vars).collect();
                let glits: Vec<(usize, &Literal)> = goal.iter().enumerate().collect();
                self.plan_body(&glits, None, types, nb, &mut inner_bound, &mut body);
                let mut locals: Vec<Reg> = Vec::new();
                for v in &goal_vars {
                    if !bound.contains(v) {
                        let r = nb.reg(v, types.get(v).copied().unwrap_or(ColumnType::Number));
                        if !locals.contains(&r) {
                            locals.push(r);
                        }
                    }
                }
                let target = target.as_ref().map(|t| self.expr(t, types, nb));
                // A result variable bound earlier in the rule (by an atom, or by an
                // `(= N 1)` planned first) is compared with the aggregate, not
                // overwritten by it.
                let already = bound.contains(result);
                let reg = if already {
                    nb.temp(result, ColumnType::Number)
                } else {
                    nb.reg(result, ColumnType::Number)
                };
                // Row relations are binary (see `choose_reprs`).
                let rows = |r: RelId| matches!(self.relations[r].repr, Repr::Rows(_));
                let set_at_a_time = (*func == AggFunc::Count && target.is_none())
                    .then(|| count_rows(&body, &locals, rows))
                    .flatten();
                if let Some(rows) = set_at_a_time {
                    for r in rows.iter().filter(|r| !r.forward) {
                        nb.accesses.push((r.rel, Source::Full, 0b10));
                    }
                    ops.push(Op::CountRows { result: reg, rows });
                } else {
                    let distinct = matches!(func, AggFunc::Min | AggFunc::Max)
                        || yields_distinct(&body, &locals, |r| self.relations[r].types.len());
                    ops.push(Op::Aggregate {
                        func: *func,
                        result: reg,
                        target,
                        locals,
                        distinct,
                        body,
                    });
                }
                if already {
                    let ty = types.get(result).copied().unwrap_or(ColumnType::Number);
                    let earlier = nb.reg(result, ty);
                    ops.push(Op::Filter {
                        op: CmpOp::Eq,
                        lhs: Expr::Operand(Operand::Reg(earlier)),
                        rhs: Expr::Operand(Operand::Reg(reg)),
                    });
                }
                bound.insert(result.clone());
                true
            }
        }
    }
}

pub(super) fn chain_accesses(c: &ChainPlan) -> Vec<(RelId, Source, ColMask)> {
    let mut out = Vec::new();
    for (i, st) in c.steps.iter().enumerate() {
        if i == c.start {
            if !st.forward && c.start_source == Source::Full {
                out.push((st.rel, Source::Full, 0b10));
            }
        } else if i > c.start {
            out.push((st.rel, Source::Full, if st.forward { 0b01 } else { 0b10 }));
        } else {
            out.push((st.rel, Source::Full, if st.forward { 0b10 } else { 0b01 }));
        }
    }
    out
}

/// Replaces each `_` in a positive goal atom by a fresh variable `_N`.
pub(super) fn name_wildcards(l: &Literal, fresh: &mut usize) -> Literal {
    match l {
        Literal::Positive(a) => {
            let mut a = a.clone();
            for t in &mut a.args {
                if matches!(t, Term::Wildcard) {
                    *t = Term::Var(format!("_{fresh}"));
                    *fresh += 1;
                }
            }
            Literal::Positive(a)
        }
        other => other.clone(),
    }
}

/// Whether stratum `s` computes exactly `h = e⁺` over row relations, `h` having no facts
/// of its own: `h(x, y) :- e(x, y).` and `h(x, z) :- h(x, y), e(y, z).` (or
/// `h(x, z) :- e(x, y), h(y, z).`), with distinct variables, body atoms in any order.
pub(super) fn closure_shape(
    prog: &Program,
    rel_index: &HashMap<&str, usize>,
    relations: &[RelInfo],
    s: &Stratum,
    stats: &[RelStats],
) -> Option<ClosurePlan> {
    if !s.recursive || s.relations.len() != 1 || s.rules.len() != 2 {
        return None;
    }
    let h = s.relations[0];
    if stats.get(h).is_some_and(|st| st.len > 0) {
        return None;
    }
    let pair = |a: &Atom| -> Option<(usize, String, String)> {
        match (&a.args[..], rel_index.get(a.relation.as_str())) {
            ([Term::Var(x), Term::Var(y)], Some(&r)) if x != y => Some((r, x.clone(), y.clone())),
            _ => None,
        }
    };
    let mut base = None;
    let mut step = None;
    for &ri in &s.rules {
        let rule = &prog.rules[ri];
        let (hr, hx, hy) = pair(&rule.head)?;
        if hr != h {
            return None;
        }
        let atoms: Vec<(usize, String, String)> = rule
            .body
            .iter()
            .map(|l| match l {
                Literal::Positive(a) => pair(a),
                _ => None,
            })
            .collect::<Option<_>>()?;
        match &atoms[..] {
            [(e, x, y)] if *e != h && *x == hx && *y == hy => base = Some(*e),
            [a, b] => {
                let (rec, other) = match (a.0 == h, b.0 == h) {
                    (true, false) => (a, b),
                    (false, true) => (b, a),
                    _ => return None,
                };
                let right_linear = rec.1 == hx && rec.2 == other.1 && other.2 == hy;
                let left_linear = other.1 == hx && other.2 == rec.1 && rec.2 == hy;
                // The middle variable is neither head variable.
                let mid = if right_linear { &rec.2 } else { &other.2 };
                if !(right_linear || left_linear) || *mid == hx || *mid == hy {
                    return None;
                }
                step = Some(other.0);
            }
            _ => return None,
        }
    }
    let (e, e2) = (base?, step?);
    let rows = |r: usize| matches!(relations[r].repr, Repr::Rows(_));
    (e == e2 && e != h && rows(e) && rows(h)).then_some(ClosurePlan { head: h, edge: e })
}
