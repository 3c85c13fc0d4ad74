//! A relation's storage, whichever representation the planner chose: hash tuples for
//! any arity, or rows (forward, and reverse when some access binds only column 1) for
//! binary relations over dense ids.

use crate::storage::rows::{RowKind, RowSet};
use crate::storage::tuples::{ColMask, TupleRel};

/// The representation of one relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr {
    /// Hash-deduplicated tuples with hash indexes per access pattern.
    Tuples,
    /// Binary relation as rows keyed by column 0 (and column 1 when needed).
    Rows(RowKind),
}

/// Storage of a binary relation as rows.
#[derive(Clone, Debug)]
pub struct RowRel {
    /// Rows keyed by column 0.
    pub fwd: RowSet,
    /// Rows keyed by column 1, kept in step with `fwd` once built.
    pub rev: Option<RowSet>,
}

/// One relation (a full, delta or new version).
#[derive(Clone, Debug)]
pub enum Relation {
    /// See [`TupleRel`].
    Tuples(TupleRel),
    /// See [`RowRel`].
    Rows(RowRel),
}

/// Whether a value can live in a row relation.
#[inline]
pub fn fits_row(v: i64) -> bool {
    (0..=u32::MAX as i64).contains(&v)
}

impl Relation {
    /// An empty relation in the given representation.
    pub fn new(repr: Repr, arity: usize) -> Self {
        match repr {
            Repr::Tuples => Relation::Tuples(TupleRel::new(arity)),
            Repr::Rows(kind) => Relation::Rows(RowRel {
                fwd: RowSet::new(kind),
                rev: None,
            }),
        }
    }

    /// An empty relation to hold a few tuples of a relation stored as `repr` for a
    /// while (a delta, what a change adds or removes): `repr`, except that rows are
    /// as small as their values allow (a dense row allocates and clears the whole
    /// domain for each key).
    pub fn scratch(repr: Repr, arity: usize) -> Self {
        match repr {
            Repr::Rows(_) => Relation::new(Repr::Rows(RowKind::Sparse), arity),
            Repr::Tuples => Relation::new(repr, arity),
        }
    }

    /// A relation of representation `repr` holding the tuples of `t`: a copy of `t`
    /// as tuples; as rows (of pairs), built a key at a time from the pairs sorted,
    /// rather than one value at a time.
    pub fn from_tuples(repr: Repr, t: &TupleRel) -> Self {
        let kind = match repr {
            Repr::Tuples => return Relation::Tuples(t.clone()),
            Repr::Rows(kind) => kind,
        };
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(t.len());
        t.for_each(|x| {
            if fits_row(x[0]) && fits_row(x[1]) {
                pairs.push((x[0] as u32, x[1] as u32));
            } else {
                tracing::error!("value out of row range ignored: {x:?}");
            }
        });
        pairs.sort_unstable();
        let mut fwd = RowSet::new(kind);
        let mut vals: Vec<u32> = Vec::new();
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            vals.clear();
            vals.extend(run.iter().map(|p| p.1));
            fwd.add_sorted(run[0].0, &vals);
        }
        debug_assert_eq!(t.arity(), 2);
        Relation::Rows(RowRel { fwd, rev: None })
    }

    /// The representation.
    pub fn repr(&self) -> Repr {
        match self {
            Relation::Tuples(_) => Repr::Tuples,
            Relation::Rows(r) => Repr::Rows(r.fwd.kind()),
        }
    }

    /// Number of tuples.
    pub fn len(&self) -> usize {
        match self {
            Relation::Tuples(t) => t.len(),
            Relation::Rows(r) => r.fwd.len() as usize,
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `t` is present.
    #[inline]
    pub fn contains(&self, t: &[i64]) -> bool {
        match self {
            Relation::Tuples(r) => r.contains(t),
            Relation::Rows(r) => {
                fits_row(t[0]) && fits_row(t[1]) && r.fwd.contains(t[0] as u32, t[1] as u32)
            }
        }
    }

    /// Inserts `t`; false when present. A row relation accepts only values that
    /// [`fits_row`]; the planner guarantees that (others are ignored and reported false).
    #[inline]
    pub fn insert(&mut self, t: &[i64]) -> bool {
        match self {
            Relation::Tuples(r) => r.insert(t),
            Relation::Rows(r) => {
                if !(fits_row(t[0]) && fits_row(t[1])) {
                    tracing::error!("value out of row range ignored: {t:?}");
                    return false;
                }
                let (k, v) = (t[0] as u32, t[1] as u32);
                let added = r.fwd.insert(k, v);
                if added {
                    if let Some(rev) = &mut r.rev {
                        rev.insert(v, k);
                    }
                }
                added
            }
        }
    }

    /// Removes `t`; false when absent.
    pub fn remove(&mut self, t: &[i64]) -> bool {
        match self {
            Relation::Tuples(r) => r.remove(t),
            Relation::Rows(r) => {
                if !(fits_row(t[0]) && fits_row(t[1])) {
                    return false;
                }
                let (k, v) = (t[0] as u32, t[1] as u32);
                let removed = r.fwd.remove(k, v);
                if removed {
                    if let Some(rev) = &mut r.rev {
                        rev.remove(v, k);
                    }
                }
                removed
            }
        }
    }

    /// Builds what a lookup on `mask` needs.
    pub fn ensure_index(&mut self, mask: ColMask) {
        match self {
            Relation::Tuples(r) => r.ensure_index(mask),
            Relation::Rows(r) => {
                if mask == 0b10 {
                    r.ensure_rev();
                }
            }
        }
    }

    /// Calls `f` on every tuple whose columns in `mask` equal `key` (in column order).
    #[inline]
    pub fn lookup(&self, mask: ColMask, key: &[i64], mut f: impl FnMut(&[i64])) {
        match self {
            Relation::Tuples(r) => {
                if mask == 0 {
                    r.for_each(f)
                } else {
                    r.lookup(mask, key, f)
                }
            }
            Relation::Rows(r) => match mask {
                0 => r.fwd.for_each(|k, v| f(&[k as i64, v as i64])),
                0b01 => {
                    if !fits_row(key[0]) {
                        return;
                    }
                    if let Some(row) = r.fwd.row(key[0] as u32) {
                        let k = key[0];
                        row.for_each(|v| f(&[k, v as i64]));
                    }
                }
                0b10 => {
                    if !fits_row(key[0]) {
                        return;
                    }
                    match &r.rev {
                        Some(rev) => {
                            if let Some(row) = rev.row(key[0] as u32) {
                                let v = key[0];
                                row.for_each(|k| f(&[k as i64, v]));
                            }
                        }
                        None => r.fwd.for_each(|k, v| {
                            if v as i64 == key[0] {
                                f(&[k as i64, v as i64])
                            }
                        }),
                    }
                }
                _ => {
                    if self.contains(key) {
                        f(key)
                    }
                }
            },
        }
    }

    /// Calls `f` on every tuple.
    pub fn for_each(&self, f: impl FnMut(&[i64])) {
        self.lookup(0, &[], f)
    }

    /// Adds every tuple of `other`.
    pub fn union_with(&mut self, other: &Relation) {
        match (self, other) {
            (Relation::Rows(a), Relation::Rows(b)) => {
                a.fwd.union_with(&b.fwd);
                if let Some(rev) = &mut a.rev {
                    match rev.kind() {
                        // Dense inserts are O(1); a transposed dense delta could be wide.
                        RowKind::Dense { .. } => b.fwd.for_each(|k, v| {
                            rev.insert(v, k);
                        }),
                        RowKind::Sparse => rev.union_with(&b.fwd.transposed()),
                    }
                }
            }
            // The first union into an empty relation (a stratum's first round): a copy.
            (Relation::Tuples(a), Relation::Tuples(b)) if a.is_empty() => a.assign(b),
            (me, other) => other.for_each(|t| {
                me.insert(t);
            }),
        }
    }

    /// Removes every tuple.
    pub fn clear(&mut self) {
        match self {
            Relation::Tuples(t) => t.clear(),
            Relation::Rows(r) => {
                r.fwd.clear();
                if let Some(rev) = &mut r.rev {
                    rev.clear();
                }
            }
        }
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Relation::Tuples(t) => t.heap_bytes(),
            Relation::Rows(r) => r.fwd.heap_bytes() + r.rev.as_ref().map_or(0, |x| x.heap_bytes()),
        }
    }
}

impl RowRel {
    /// Builds the reverse rows if missing.
    pub fn ensure_rev(&mut self) {
        if self.rev.is_none() {
            self.rev = Some(self.fwd.transposed());
        }
    }

    /// Rows keyed by column 1 (a copy of the kept reverse rows, or built).
    pub fn transposed(&self) -> RowSet {
        match &self.rev {
            Some(rev) => rev.clone(),
            None => self.fwd.transposed(),
        }
    }
}
