//! The dict representation: insertion-ordered, keyed by structural equality
//! ([`crate::value::equal`], so `1` and `1.0` are one key).
//!
//! Most dicts SX programs make are small: a `perform` request, a query answer, the
//! bindings of one rule match. A small dict keeps its entries inline, in the
//! allocation of the `Rc` that holds it, and finds a key by a linear scan; only past
//! [`SMALL_MAX`] entries does it become a hash map (an `IndexMap`, whose entries and
//! index are two more allocations). Both forms behave the same: insertion order is
//! kept, re-inserting a key keeps its position, and removing shifts the rest down.

use indexmap::IndexMap;
use smallvec::SmallVec;

use crate::value::{equal, Value};

/// Entries kept inline, in the dict itself.
const INLINE: usize = 4;

/// The most entries a dict keeps without a hash index (past [`INLINE`] they move to
/// the heap, still without an index).
pub const SMALL_MAX: usize = 8;

/// A hashed dict: hashed with foldhash (hashbrown's default: fast, seeded per map)
/// rather than std's SipHash, which dict lookups and `assoc` spent a tenth of the
/// Datalog library's time in.
type Hashed = IndexMap<Value, Value, foldhash::fast::RandomState>;

/// Key equality: [`equal`], with the usual keys (keywords, symbols, ints) compared
/// inline.
#[inline(always)]
fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Keyword(x), Value::Keyword(y)) | (Value::Sym(x), Value::Sym(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => equal(a, b),
    }
}

/// An insertion-ordered map from values to values.
#[derive(Clone)]
pub struct Dict(Repr);

#[derive(Clone)]
enum Repr {
    Small(SmallVec<[(Value, Value); INLINE]>),
    Hashed(Hashed),
}

impl Default for Dict {
    fn default() -> Dict {
        Dict(Repr::Small(SmallVec::new()))
    }
}

impl Dict {
    /// An empty dict with room for `n` entries.
    pub fn with_capacity(n: usize) -> Dict {
        if n <= SMALL_MAX {
            Dict(Repr::Small(SmallVec::with_capacity(n)))
        } else {
            Dict(Repr::Hashed(Hashed::with_capacity_and_hasher(
                n,
                Default::default(),
            )))
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Hashed(m) => m.len(),
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value under `key`.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => v.iter().find(|(k, _)| key_eq(k, key)).map(|(_, v)| v),
            Repr::Hashed(m) => m.get(key),
        }
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &Value) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`: a new key goes last, an existing one keeps its place
    /// (and its first spelling, as `1` stays `1` when `1.0` is set). Answers the old
    /// value.
    pub fn insert(&mut self, key: Value, value: Value) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => {
                if let Some((_, old)) = v.iter_mut().find(|(k, _)| key_eq(k, &key)) {
                    return Some(std::mem::replace(old, value));
                }
                if v.len() < SMALL_MAX {
                    v.push((key, value));
                    return None;
                }
                let mut m = Hashed::with_capacity_and_hasher(v.len() * 2, Default::default());
                m.extend(v.drain(..));
                m.insert(key, value);
                self.0 = Repr::Hashed(m);
                None
            }
            Repr::Hashed(m) => m.insert(key, value),
        }
    }

    /// Inserts keys and values given alternately (`k1 v1 k2 v2 …`, as a dict literal
    /// or `(dict …)` lists them); a key without a value is left out.
    pub fn insert_pairs(&mut self, items: impl IntoIterator<Item = Value>) {
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            self.insert(k, v);
        }
    }

    /// Removes `key`, keeping the order of the rest; answers its value.
    pub fn shift_remove(&mut self, key: &Value) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => {
                let at = v.iter().position(|(k, _)| key_eq(k, key))?;
                Some(v.remove(at).1)
            }
            Repr::Hashed(m) => m.shift_remove(key),
        }
    }

    /// The entry at position `i` in insertion order.
    pub fn get_index(&self, i: usize) -> Option<(&Value, &Value)> {
        match &self.0 {
            Repr::Small(v) => v.get(i).map(|(k, v)| (k, v)),
            Repr::Hashed(m) => m.get_index(i),
        }
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter()),
            Repr::Hashed(m) => Iter::Hashed(m.iter()),
        }
    }

    /// The entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        match &mut self.0 {
            Repr::Small(v) => IterMut::Small(v.iter_mut()),
            Repr::Hashed(m) => IterMut::Hashed(m.iter_mut()),
        }
    }

    /// Whether the entries sit in a hash map (more than [`SMALL_MAX`] at some point).
    pub fn is_hashed(&self) -> bool {
        matches!(self.0, Repr::Hashed(_))
    }
}

impl Extend<(Value, Value)> for Dict {
    fn extend<I: IntoIterator<Item = (Value, Value)>>(&mut self, items: I) {
        for (k, v) in items {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Value, Value)> for Dict {
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(items: I) -> Dict {
        let mut d = Dict::default();
        d.extend(items);
        d
    }
}

/// The entries of a [`Dict`] in insertion order.
pub enum Iter<'a> {
    /// Of a small dict.
    Small(std::slice::Iter<'a, (Value, Value)>),
    /// Of a hashed dict.
    Hashed(indexmap::map::Iter<'a, Value, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Value, &'a Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(k, v)| (k, v)),
            Iter::Hashed(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(it) => it.size_hint(),
            Iter::Hashed(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The entries of a [`Dict`] in insertion order, values mutable.
pub enum IterMut<'a> {
    /// Of a small dict.
    Small(std::slice::IterMut<'a, (Value, Value)>),
    /// Of a hashed dict.
    Hashed(indexmap::map::IterMut<'a, Value, Value>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Value, &'a mut Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IterMut::Small(it) => it.next().map(|(k, v)| (&*k, v)),
            IterMut::Hashed(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            IterMut::Small(it) => it.size_hint(),
            IterMut::Hashed(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for IterMut<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One operation on a dict, keys drawn from few values so that they collide.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64, i64),
        InsertFloat(i64, i64),
        Remove(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..24i64, any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0..24i64, any::<i64>()).prop_map(|(k, v)| Op::InsertFloat(k, v)),
            (0..24i64).prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Both forms behave as the hash map they replace, through growth past
        /// `SMALL_MAX`, removal and keys equal across int and float.
        #[test]
        fn agrees_with_an_index_map(ops in prop::collection::vec(op(), 0..80)) {
            let mut d = Dict::default();
            let mut m = Hashed::default();
            for op in ops {
                let (old_d, old_m) = match op {
                    Op::Insert(k, v) => (
                        d.insert(Value::Int(k), Value::Int(v)),
                        m.insert(Value::Int(k), Value::Int(v)),
                    ),
                    Op::InsertFloat(k, v) => (
                        d.insert(Value::Float(k as f64), Value::Int(v)),
                        m.insert(Value::Float(k as f64), Value::Int(v)),
                    ),
                    Op::Remove(k) => (
                        d.shift_remove(&Value::Int(k)),
                        m.shift_remove(&Value::Int(k)),
                    ),
                };
                prop_assert_eq!(old_d.map(|v| format!("{v:?}")), old_m.map(|v| format!("{v:?}")));
                prop_assert_eq!(d.len(), m.len());
                let listed = |it: &mut dyn Iterator<Item = (&Value, &Value)>| {
                    it.map(|(k, v)| format!("{k:?}={v:?}")).collect::<Vec<_>>()
                };
                prop_assert_eq!(listed(&mut d.iter()), listed(&mut m.iter()));
                for k in 0..24 {
                    let key = Value::Int(k);
                    prop_assert_eq!(
                        d.get(&key).map(|v| format!("{v:?}")),
                        m.get(&key).map(|v| format!("{v:?}"))
                    );
                }
            }
        }
    }

    #[test]
    fn a_small_dict_becomes_hashed_past_the_limit_and_keeps_its_order() {
        let mut d = Dict::default();
        for k in 0..SMALL_MAX as i64 {
            d.insert(Value::Int(k), Value::Int(k * 10));
        }
        assert!(!d.is_hashed());
        d.insert(Value::Int(100), Value::Nil);
        assert!(d.is_hashed());
        let keys: Vec<String> = d.iter().map(|(k, _)| format!("{k:?}")).collect();
        assert_eq!(keys, ["0", "1", "2", "3", "4", "5", "6", "7", "100"]);
        assert_eq!(
            d.get(&Value::Int(3)).map(|v| format!("{v:?}")),
            Some("30".into())
        );
    }
}
