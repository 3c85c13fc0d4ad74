//! The Datalog side of a graph: the edge facts, the condensation's edges and their
//! closure, in one [`Database`] that is saturated after every write.
//!
//! ```text
//! .decl edge(src: symbol, dst: symbol, kind: symbol)   // every edge, as related
//! .decl dag(a: number, b: number)                      // condensed edges
//! .decl reach(a: number, b: number)                    // their closure
//! reach(a, b) :- dag(a, b).
//! reach(a, c) :- reach(a, b), dag(b, c).
//! ```
//!
//! `dag` and `reach` range over component ids, which are unique across every layer
//! (each kind, and the layer of every kind), so one closure serves them all and
//! never joins two layers. The engine keeps `reach` up to date incrementally, and
//! saturates it by condensation when it recomputes.

use crate::error::GraphError;
use datalog::PlanOptions;
use datalog::{Counters, Database, Value};

/// A component's id: a node of the condensation of one layer.
pub(crate) type CompId = u32;

const PROGRAM: &str = "\
.decl edge(src: symbol, dst: symbol, kind: symbol)
.decl dag(a: number, b: number)
.decl reach(a: number, b: number)
reach(a, b) :- dag(a, b).
reach(a, c) :- reach(a, b), dag(b, c).
";

/// The database, the pool of component ids, and whether a change awaits saturation.
#[derive(Debug)]
pub(crate) struct Engine {
    db: Database,
    next: CompId,
    free: Vec<CompId>,
    pending: bool,
    /// The work of every saturation since [`start_write`](Self::start_write).
    work: Counters,
}

fn num(c: CompId) -> Value {
    Value::Number(i64::from(c))
}

impl Engine {
    /// An empty, saturated database holding the program above.
    pub(crate) fn new() -> Result<Self, GraphError> {
        let mut db = Database::new();
        // Component ids grow past the dense-row domain a first plan would size for.
        db.set_plan_options(PlanOptions::sparse_rows());
        db.add_rules(PROGRAM, "relations.dl")?;
        db.saturate()?;
        Ok(Engine {
            db,
            next: 0,
            free: Vec::new(),
            pending: false,
            work: Counters::default(),
        })
    }

    /// The database (saturated outside a write).
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// A fresh component id (the smallest freed one first, so ids stay dense).
    pub(crate) fn alloc(&mut self) -> CompId {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Gives back a component id that no `dag` fact names any more.
    pub(crate) fn release(&mut self, c: CompId) {
        self.free.push(c);
    }

    /// Asserts the condensed edge `a -> b`.
    pub(crate) fn add_dag(&mut self, a: CompId, b: CompId) -> Result<(), GraphError> {
        self.db.add_fact("dag", &[num(a), num(b)])?;
        self.pending = true;
        Ok(())
    }

    /// Retracts the condensed edge `a -> b`.
    pub(crate) fn retract_dag(&mut self, a: CompId, b: CompId) -> Result<(), GraphError> {
        self.db.retract_fact("dag", &[num(a), num(b)])?;
        self.pending = true;
        Ok(())
    }

    /// Asserts or retracts the edge fact `edge(src, dst, kind)`.
    pub(crate) fn set_edge(
        &mut self,
        src: &str,
        dst: &str,
        kind: &str,
        present: bool,
    ) -> Result<(), GraphError> {
        let t = [
            Value::Str(src.into()),
            Value::Str(dst.into()),
            Value::Str(kind.into()),
        ];
        if present {
            self.db.add_fact("edge", &t)?;
        } else {
            self.db.retract_fact("edge", &t)?;
        }
        self.pending = true;
        Ok(())
    }

    /// Carries every pending change through the rules.
    pub(crate) fn saturate(&mut self) -> Result<(), GraphError> {
        if self.pending {
            self.work += self.db.saturate()?;
            self.pending = false;
        }
        Ok(())
    }

    /// Starts counting the work of a write anew.
    pub(crate) fn start_write(&mut self) {
        self.work = Counters::default();
    }

    /// The work of the saturations since the write started (a write may saturate
    /// before its end, to ask whether an arc closes a cycle).
    pub(crate) fn write_work(&self) -> Counters {
        self.work
    }

    /// Whether component `a` reaches `b` by one or more condensed edges (saturated).
    pub(crate) fn reaches(&self, a: CompId, b: CompId) -> bool {
        self.db
            .query("reach", &[Some(num(a)), Some(num(b))])
            .is_ok_and(|mut it| it.next().is_some())
    }

    /// Every component `a` reaches by one or more condensed edges (saturated).
    pub(crate) fn reached_from(&self, a: CompId) -> Vec<CompId> {
        let Ok(it) = self.db.query("reach", &[Some(num(a)), None]) else {
            return Vec::new();
        };
        it.filter_map(|t| match t.get(1) {
            Some(Value::Number(n)) => CompId::try_from(*n).ok(),
            _ => None,
        })
        .collect()
    }
}
