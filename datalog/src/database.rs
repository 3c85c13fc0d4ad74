//! The library API: a [`Database`] holds a program, its asserted facts and the derived
//! relations, saturated on demand.
//!
//! Saturation is incremental after the first: facts asserted and retracted since the
//! last saturation are carried through the strata by overdeletion, rederivation and
//! semi-naive insertion (see `database/maintain.rs`), so that its cost follows the change, not
//! the database. Adding rules recomputes everything.

use crate::ast::*;
use crate::check::stratify::{stratify, Stratum};
use crate::check::{check_program, check_program_from, VarTypes};
use crate::error::{CheckError, DatalogError, Loc};
use crate::exec::eval::{Counters, RuleStats, Store};
use crate::front::parser::parse_program;
use crate::plan::planner::{plan_maintenance, plan_program, PlanOptions, RelStats, MAX_ROW_VALUE};
use crate::plan::Plan;
use crate::storage::intern::Interner;
use crate::storage::relation::{Relation, Repr};
use crate::storage::tuples::TupleRel;
use crate::value::Value;
use hashbrown::HashMap;
use maintain::run_from_facts;
use std::sync::Arc;

mod maintain;

/// A Datalog database: program, facts, derived relations.
#[derive(Debug)]
pub struct Database {
    program: Program,
    file: Arc<str>,
    var_types: Vec<VarTypes>,
    /// The declarations changed since the rules were checked (`var_types` is stale).
    recheck_rules: bool,
    strata: Vec<Stratum>,
    rel_index: HashMap<String, usize>,
    interner: Interner,
    /// Asserted facts per relation.
    edb: Vec<TupleRel>,
    plan: Option<Plan>,
    store: Store,
    /// Rules changed, a representation no longer fits, or (with
    /// [`Retraction::Recompute`]) a fact was retracted: the next saturation recomputes.
    stale: bool,
    /// Per relation, facts asserted since the last saturation (not yet in the store).
    added: Vec<TupleRel>,
    /// Per relation, facts retracted since the last saturation (still in the store).
    retracted: Vec<TupleRel>,
    /// Some relation's `added` or `retracted` is not empty.
    changed: bool,
    retraction: Retraction,
    /// Per stratum of the plan, the work its last evaluation from its facts took:
    /// what delete and rederive is measured against.
    full_work: Vec<u64>,
    stats: Vec<RuleStats>,
    last_work: Counters,
    options: PlanOptions,
}

/// How changes reach what was derived from them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retraction {
    /// Update each stratum a change reaches by overdeletion, rederivation and
    /// insertion, unless recomputing it looks cheaper: the overdeletion grows past half
    /// of its tuples or past the work its computation took, or it is a transitive
    /// closure whose recomputation is cheaper.
    #[default]
    Adaptive,
    /// Overdelete and rederive wherever the plan allows, however much is overdeleted.
    Rederive,
    /// Recompute everything at the next saturation after a retraction.
    Recompute,
}

impl Default for Database {
    fn default() -> Self {
        Self::new()
    }
}

impl Database {
    /// An empty database.
    pub fn new() -> Self {
        Database {
            program: Program::default(),
            file: Arc::from("<program>"),
            var_types: Vec::new(),
            recheck_rules: false,
            strata: Vec::new(),
            rel_index: HashMap::new(),
            interner: Interner::default(),
            edb: Vec::new(),
            plan: None,
            store: Store::default(),
            stale: true,
            added: Vec::new(),
            retracted: Vec::new(),
            changed: false,
            retraction: Retraction::Adaptive,
            full_work: Vec::new(),
            stats: Vec::new(),
            last_work: Counters::default(),
            options: PlanOptions::default(),
        }
    }

    /// Switches planner passes (call before the first saturation).
    pub fn set_plan_options(&mut self, options: PlanOptions) {
        self.options = options;
        self.stale = true;
    }

    /// Chooses how changes are carried to derived relations (the default is
    /// [`Retraction::Adaptive`]).
    pub fn set_retraction(&mut self, retraction: Retraction) {
        self.retraction = retraction;
    }

    /// Parses Soufflé-subset text and adds its declarations, rules and facts.
    pub fn add_rules(&mut self, src: &str, file: &str) -> Result<(), DatalogError> {
        let prog = parse_program(src, file)?;
        self.file = Arc::from(file);
        self.add_program(prog)
    }

    /// Adds a parsed program (declarations, rules, inline facts, I/O directives).
    /// The combined program is checked and stratified; on error nothing changes.
    pub fn add_program(&mut self, prog: Program) -> Result<(), DatalogError> {
        let mut combined = self.program.clone();
        combined.decls.extend(prog.decls);
        let new_rules = !prog.rules.is_empty();
        combined.rules.extend(prog.rules);
        combined.io.extend(prog.io);
        combined.sx_values |= prog.sx_values;
        // Checked with the new facts only (the old ones passed when added), and the
        // new rules only unless the old ones' declarations changed since they were.
        let old_facts = std::mem::replace(&mut combined.facts, prog.facts);
        let checked = if self.recheck_rules || combined.sx_values != self.program.sx_values {
            0
        } else {
            self.var_types.len()
        };
        let new_types = check_program_from(&combined, &self.file, checked)?;
        let strata = stratify(&combined, &self.file)?;
        let facts = std::mem::replace(&mut combined.facts, old_facts);
        let old_len = self.program.decls.len();
        self.program = combined;
        self.var_types.truncate(checked);
        self.var_types.extend(new_types);
        self.recheck_rules = false;
        self.strata = strata;
        for (i, d) in self.program.decls.iter().enumerate().skip(old_len) {
            self.rel_index.insert(d.name.clone(), i);
            self.edb.push(TupleRel::new(d.columns.len()));
            self.added.push(TupleRel::new(d.columns.len()));
            self.retracted.push(TupleRel::new(d.columns.len()));
        }
        if new_rules || self.program.decls.len() != old_len {
            self.stale = true;
        }
        for f in &facts {
            let vals: Vec<Value> = f
                .args
                .iter()
                .map(ground_value)
                .collect::<Result<_, _>>()
                .map_err(|m| {
                    DatalogError::Check(CheckError::Other {
                        loc: Loc::new(&self.file, f.span),
                        message: m,
                    })
                })?;
            self.add_fact(&f.relation, &vals)?;
        }
        self.program.facts.extend(facts);
        Ok(())
    }

    /// Makes argument `c` of relation `r` symbol-typed for each `(r, c)` in `cols`, so
    /// that it holds numbers and text (an SX program mixing them), then adds `then`.
    /// The asserted numbers of those arguments are re-encoded (interned); everything is
    /// recomputed at the next saturation. Checked first: on error nothing changes.
    pub(crate) fn widen_columns(
        &mut self,
        cols: &[(usize, usize)],
        then: Program,
    ) -> Result<(), DatalogError> {
        if cols.is_empty() {
            return self.add_program(then);
        }
        let mut probe = self.program.clone();
        for &(r, c) in cols {
            probe.decls[r].columns[c].1 = ColumnType::Symbol;
        }
        probe.decls.extend(then.decls.iter().cloned());
        probe.rules.extend(then.rules.iter().cloned());
        probe.sx_values = true;
        check_program(&probe, &self.file)?;
        stratify(&probe, &self.file)?;
        for &(r, c) in cols {
            self.program.decls[r].columns[c].1 = ColumnType::Symbol;
            let old = std::mem::replace(&mut self.edb[r], TupleRel::new(0));
            let mut kept = TupleRel::new(self.program.decls[r].columns.len());
            let interner = &mut self.interner;
            old.for_each(|t| {
                let mut u = t.to_vec();
                u[c] = interner.intern_int(u[c]) as i64;
                kept.insert(&u);
            });
            self.edb[r] = kept;
        }
        self.program.sx_values = true;
        self.stale = true;
        // The rules were checked against the narrower columns.
        self.recheck_rules = true;
        tracing::debug!("widened to hold numbers and text: {cols:?}");
        self.add_program(then)
    }

    /// The program as accumulated so far.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Column types of a relation, if declared.
    pub fn relation_types(&self, name: &str) -> Option<Vec<ColumnType>> {
        let &i = self.rel_index.get(name)?;
        Some(self.program.decls[i].columns.iter().map(|c| c.1).collect())
    }

    /// Names of all relations, in declaration order.
    pub fn relation_names(&self) -> Vec<&str> {
        self.program.decls.iter().map(|d| d.name.as_str()).collect()
    }

    pub(crate) fn rel_id(&self, name: &str) -> Result<usize, DatalogError> {
        self.rel_index
            .get(name)
            .copied()
            .ok_or_else(|| DatalogError::Usage(format!("relation `{name}` is not declared")))
    }

    fn encode(&mut self, rel: usize, vals: &[Value]) -> Result<Vec<i64>, DatalogError> {
        let d = &self.program.decls[rel];
        if vals.len() != d.columns.len() {
            return Err(DatalogError::Usage(format!(
                "`{}` has arity {}, fact has {} values",
                d.name,
                d.columns.len(),
                vals.len()
            )));
        }
        let mixed = self.program.sx_values;
        for (v, (_, ty)) in vals.iter().zip(&d.columns) {
            let fits = v.column_type() == *ty || (mixed && *ty == ColumnType::Symbol);
            if !fits {
                return Err(DatalogError::Usage(format!(
                    "type mismatch in `{}`: `{v}` is not a {ty}",
                    d.name
                )));
            }
        }
        let types: Vec<ColumnType> = d.columns.iter().map(|c| c.1).collect();
        Ok(vals
            .iter()
            .zip(types)
            .map(|(v, ty)| v.encode_in(ty, &mut self.interner).unwrap_or(0))
            .collect())
    }

    /// Adds one fact; returns whether it was new. Saturate to see its consequences.
    pub fn add_fact(&mut self, relation: &str, values: &[Value]) -> Result<bool, DatalogError> {
        let rel = self.rel_id(relation)?;
        let t = self.encode(rel, values)?;
        Ok(self.add_encoded(rel, &t))
    }

    /// Adds many facts to one relation; returns how many were new.
    pub fn add_facts<I>(&mut self, relation: &str, rows: I) -> Result<usize, DatalogError>
    where
        I: IntoIterator,
        I::Item: AsRef<[Value]>,
    {
        let rel = self.rel_id(relation)?;
        let mut n = 0;
        for row in rows {
            let t = self.encode(rel, row.as_ref())?;
            n += self.add_encoded(rel, &t) as usize;
        }
        Ok(n)
    }

    /// Adds an already-encoded fact (numbers as is, symbols as interned ids).
    pub(crate) fn add_encoded(&mut self, rel: usize, t: &[i64]) -> bool {
        if !self.edb[rel].insert(t) {
            return false;
        }
        if self.stale {
            return true;
        }
        let Some(plan) = &self.plan else {
            return true;
        };
        if let Repr::Rows(_) = plan.relations[rel].repr {
            if t.iter().any(|&v| !(0..=MAX_ROW_VALUE).contains(&v)) {
                self.stale = true;
                return true;
            }
        }
        self.record_change(rel, t, true);
        true
    }

    /// Records that `t` was asserted (or retracted) since the last saturation. A change
    /// that undoes a pending one of the other kind cancels it: asserted again before a
    /// retraction was carried out, the store still holds `t` and everything it
    /// supports; retracted before an addition was, the store never held it.
    fn record_change(&mut self, rel: usize, t: &[i64], asserted: bool) {
        let (undone, pending) = if asserted {
            (&mut self.retracted, &mut self.added)
        } else {
            (&mut self.added, &mut self.retracted)
        };
        if !undone[rel].remove(t) {
            pending[rel].insert(t);
        }
        self.changed = true;
    }

    /// Interns a string for encoded loading.
    pub(crate) fn interner_mut(&mut self) -> &mut Interner {
        &mut self.interner
    }

    /// Removes an asserted fact; returns whether it was there. Saturate to see its
    /// consequences (see [`Retraction`]).
    pub fn retract_fact(&mut self, relation: &str, values: &[Value]) -> Result<bool, DatalogError> {
        let rel = self.rel_id(relation)?;
        let types = &self.program.decls[rel].columns;
        let Some(t) = values
            .iter()
            .zip(types)
            .map(|(v, (_, ty))| v.lookup_in(*ty, &self.interner))
            .collect::<Option<Vec<i64>>>()
        else {
            return Ok(false);
        };
        Ok(self.retract_encoded(rel, &t))
    }

    /// Retracts an already-encoded fact; false when it was not asserted.
    fn retract_encoded(&mut self, rel: usize, t: &[i64]) -> bool {
        if !self.edb[rel].contains(t) {
            return false;
        }
        self.edb[rel].remove(t);
        if self.stale || self.plan.is_none() || self.retraction == Retraction::Recompute {
            self.stale = true;
            return true;
        }
        self.record_change(rel, t, false);
        true
    }

    fn stats_of_edb(&self) -> Vec<RelStats> {
        self.edb
            .iter()
            .map(|r| {
                let mut s = RelStats {
                    len: r.len(),
                    ..Default::default()
                };
                let mut keys = hashbrown::HashSet::new();
                let mut max = None::<i64>;
                r.for_each(|t| {
                    if let Some(&k) = t.first() {
                        keys.insert(k);
                    }
                    for &v in t {
                        if v < 0 {
                            s.has_negative = true;
                        }
                        max = Some(max.map_or(v, |m| m.max(v)));
                    }
                });
                s.keys = keys.len();
                s.max_value = max;
                s
            })
            .collect()
    }

    /// Derives everything that follows; returns the work done.
    pub fn saturate(&mut self) -> Result<Counters, DatalogError> {
        let before = self.total_work();
        if self.stale || self.plan.is_none() {
            self.full_recompute()?;
        } else if self.changed {
            self.maintain()?;
        }
        let after = self.total_work();
        self.last_work = Counters {
            derived: after.derived - before.derived,
            probes: after.probes - before.probes,
        };
        Ok(self.last_work)
    }

    fn total_work(&self) -> Counters {
        let mut c = Counters::default();
        for s in &self.stats {
            c += s.work;
        }
        c
    }

    /// A plan of the program for the asserted facts as they are now.
    fn plan_for_facts(&mut self) -> Plan {
        let stats = self.stats_of_edb();
        plan_program(
            &self.program,
            &self.var_types,
            &self.strata,
            &stats,
            &mut self.interner,
            self.options,
        )
    }

    fn full_recompute(&mut self) -> Result<(), DatalogError> {
        let plan = self.plan_for_facts();
        tracing::debug!("plan:\n{plan}");
        crate::plan::verify::verify(&plan).map_err(DatalogError::Plan)?;
        let n = plan.relations.len();
        let mut store = Store::default();
        for (r, info) in plan.relations.iter().enumerate() {
            store
                .full
                .push(Relation::from_tuples(info.repr, &self.edb[r]));
            store.delta.push(Relation::new(info.repr, info.types.len()));
            store.new.push(Relation::new(info.repr, info.types.len()));
        }
        if self.stats.len() != self.program.rules.len() {
            let mut stats: Vec<RuleStats> = self
                .program
                .rules
                .iter()
                .map(|r| RuleStats {
                    text: r.to_string(),
                    ..Default::default()
                })
                .collect();
            for (s, old) in stats.iter_mut().zip(&self.stats) {
                *s = old.clone();
            }
            self.stats = stats;
        }
        self.full_work = plan
            .strata
            .iter()
            .map(|s| run_from_facts(&plan, s, &mut store, &mut self.stats, &self.interner))
            .collect();
        for r in 0..n {
            store.delta[r].clear();
        }
        self.store = store;
        self.plan = Some(plan);
        self.stale = false;
        if self.changed {
            for t in self.added.iter_mut().chain(&mut self.retracted) {
                t.clear();
            }
            self.changed = false;
        }
        Ok(())
    }

    /// Work done by the last [`saturate`](Self::saturate).
    pub fn last_work(&self) -> Counters {
        self.last_work
    }

    /// Per-rule statistics, in rule order.
    pub fn rule_stats(&self) -> &[RuleStats] {
        &self.stats
    }

    /// The current plan (after a saturation), for `--explain`.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// Plans without running (so `--explain` shows the representation choices).
    pub fn explain(&mut self) -> String {
        let mut plan = match self.plan.take() {
            Some(plan) if !self.stale => plan,
            stale => {
                self.plan = stale;
                self.plan_for_facts()
            }
        };
        plan_maintenance(
            &self.program,
            &self.var_types,
            &mut plan,
            &mut self.interner,
        );
        let text = plan.to_string();
        // The saturated state's plan goes back; one made for a stale state does not.
        if self.plan.is_none() && !self.stale {
            self.plan = Some(plan);
        }
        text
    }

    /// Number of tuples in a relation (asserted facts only before saturating).
    pub fn size(&self, relation: &str) -> Result<usize, DatalogError> {
        let r = self.rel_id(relation)?;
        Ok(if self.plan.is_some() && !self.stale {
            self.store.full[r].len()
        } else {
            self.edb[r].len()
        })
    }

    /// Sizes of every relation, in declaration order.
    pub fn relation_sizes(&self) -> Vec<(String, usize)> {
        self.program
            .decls
            .iter()
            .map(|d| (d.name.clone(), self.size(&d.name).unwrap_or(0)))
            .collect()
    }

    /// Tuples of `relation` matching `pattern` (`Some` = bound position, `None` = free),
    /// decoded. Reads the last saturated state.
    pub fn query(
        &self,
        relation: &str,
        pattern: &[Option<Value>],
    ) -> Result<impl Iterator<Item = Vec<Value>> + '_, DatalogError> {
        let r = self.rel_id(relation)?;
        let mut out: Vec<Vec<i64>> = Vec::new();
        self.query_encoded(r, pattern, |t| out.push(t.to_vec()))?;
        let types: Vec<ColumnType> = self.program.decls[r].columns.iter().map(|c| c.1).collect();
        let interner = &self.interner;
        Ok(out.into_iter().map(move |t| {
            t.iter()
                .zip(&types)
                .map(|(&v, &ty)| Value::decode(v, ty, interner))
                .collect()
        }))
    }

    /// Makes the lookups of relation number `r` by the columns of `bound` (a bit
    /// per column) use an index, built now if none has that shape and then
    /// maintained by every later change: a query by key costs its answers, not a
    /// scan of the relation.
    pub(crate) fn index_for_query(&mut self, r: usize, bound: u32) {
        let mask = bound;
        if mask != 0 {
            if let Some(rel) = self.store.full.get_mut(r) {
                rel.ensure_index(mask);
            }
        }
    }

    /// Calls `f` on every stored (encoded) tuple of relation number `r` matching
    /// `pattern`, from the last saturated state.
    pub(crate) fn query_encoded(
        &self,
        r: usize,
        pattern: &[Option<Value>],
        mut f: impl FnMut(&[i64]),
    ) -> Result<(), DatalogError> {
        let d = &self.program.decls[r];
        if pattern.len() != d.columns.len() {
            return Err(DatalogError::Usage(format!(
                "`{}` has arity {}, pattern has {} positions",
                d.name,
                d.columns.len(),
                pattern.len()
            )));
        }
        let mut mask = 0u32;
        let mut key = Vec::new();
        for (c, p) in pattern.iter().enumerate() {
            if let Some(v) = p {
                let ty = d.columns[c].1;
                let mixed = self.program.sx_values && ty == ColumnType::Symbol;
                if v.column_type() != ty && !mixed {
                    return Err(DatalogError::Usage(format!(
                        "type mismatch in query of `{}`: `{v}` is not a {ty}",
                        d.name
                    )));
                }
                mask |= 1 << c;
                match v.lookup_in(ty, &self.interner) {
                    Some(x) => key.push(x),
                    // Text never seen: nothing matches.
                    None => return Ok(()),
                }
            }
        }
        if self.plan.is_none() || self.stale {
            return Err(DatalogError::Usage(
                "query before saturate: call saturate first".into(),
            ));
        }
        self.store.full[r].lookup(mask, &key, |t| {
            let ok = (0..t.len())
                .filter(|c| mask & (1 << c) != 0)
                .zip(&key)
                .all(|(c, k)| t[c] == *k);
            if ok {
                f(t);
            }
        });
        Ok(())
    }

    /// Every tuple of a relation, decoded and sorted (numbers numerically, text by bytes).
    pub fn tuples(&self, relation: &str) -> Result<Vec<Vec<Value>>, DatalogError> {
        let arity = self.relation_types(relation).map_or(0, |t| t.len());
        let mut v: Vec<Vec<Value>> = self.query(relation, &vec![None; arity])?.collect();
        v.sort();
        Ok(v)
    }

    /// Calls `f` on every stored (encoded) tuple of a relation.
    pub fn for_each_encoded(
        &self,
        relation: &str,
        f: impl FnMut(&[i64]),
    ) -> Result<(), DatalogError> {
        let r = self.rel_id(relation)?;
        if self.plan.is_some() && !self.stale {
            self.store.full[r].for_each(f);
        } else {
            self.edb[r].for_each(f);
        }
        Ok(())
    }

    /// The interner (to decode symbol ids).
    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// Approximate heap bytes of the stored relations and facts (pending changes too).
    pub fn heap_bytes(&self) -> usize {
        self.store
            .full
            .iter()
            .map(|r| r.heap_bytes())
            .sum::<usize>()
            + self
                .edb
                .iter()
                .chain(&self.added)
                .chain(&self.retracted)
                .map(|r| r.heap_bytes())
                .sum::<usize>()
    }
}

fn ground_value(t: &Term) -> Result<Value, String> {
    match t {
        Term::Number(n) => Ok(Value::Number(*n)),
        Term::Symbol(s) => Ok(Value::Str(s.clone())),
        Term::Binary(op, a, b) => {
            let (Value::Number(x), Value::Number(y)) = (ground_value(a)?, ground_value(b)?) else {
                return Err(format!("arithmetic on a symbol in `{t}`"));
            };
            op.apply(x, y)
                .map(Value::Number)
                .ok_or_else(|| format!("arithmetic overflow or division by zero in `{t}`"))
        }
        _ => Err(format!("non-ground term `{t}`")),
    }
}
