//! The dict representation: insertion-ordered, keyed by structural equality
//! ([`crate::value::equal`], so `1` and `1.0` are one key).
//!
//! Most dicts SX programs make are small: a `perform` request, a query answer, the
//! bindings of one rule match. A small dict keeps its entries inline, in the
//! allocation of the `Rc` that holds it, and finds a key by a linear scan; only past
//! [`SMALL_MAX`] entries does it become a hash map (an `IndexMap`, whose entries and
//! index are two more allocations). Both forms behave the same: insertion order is
//! kept, re-inserting a key keeps its position, and removing shifts the rest down.
//!
//! Many dicts with the same keys in the same order (the answers of one query) can
//! share one list of keys ([`SharedKeys`]) and hold only their values: a shaped dict.
//! It reads as a small dict does; setting a key it has keeps the shape, and any other
//! change first makes it a small dict of its own.

use std::rc::Rc;

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
    /// Values under shared keys: `vals[i]` is the value of `keys[i]`.
    Shaped {
        keys: SharedKeys,
        vals: SmallVec<[Value; INLINE]>,
    },
}

/// Distinct keys, in order, for dicts that each hold only their values (see
/// [`Dict::shaped_rc`]). Cloning shares them.
#[derive(Clone)]
pub struct SharedKeys(Rc<[Value]>);

impl SharedKeys {
    /// These keys, when they are distinct and at most [`SMALL_MAX`] (a shaped dict
    /// finds a key by scanning them); otherwise `None`.
    pub fn new(keys: Vec<Value>) -> Option<SharedKeys> {
        let distinct = keys
            .iter()
            .enumerate()
            .all(|(i, k)| !keys[..i].iter().any(|j| key_eq(j, k)));
        (distinct && keys.len() <= SMALL_MAX).then(|| SharedKeys(keys.into()))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &Value) -> Option<usize> {
        self.0.iter().position(|k| key_eq(k, key))
    }
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

    /// The dict with each of `keys` set to `val(i)` for its position `i`, sharing
    /// `keys`, made in its `Rc` (not moved there: a dict is a few cache lines).
    #[inline]
    pub fn shaped_rc(keys: &SharedKeys, mut val: impl FnMut(usize) -> Value) -> Rc<Dict> {
        let mut vals: SmallVec<[Value; INLINE]> = SmallVec::new();
        for i in 0..keys.len() {
            vals.push(val(i));
        }
        let mut d = Rc::<Dict>::new_uninit();
        Rc::get_mut(&mut d)
            .expect("a new Rc is unique")
            .write(Dict(Repr::Shaped {
                keys: keys.clone(),
                vals,
            }));
        // SAFETY: written just above.
        unsafe { d.assume_init() }
    }

    /// A shaped dict made small, so that it can gain or lose keys.
    fn unshape(&mut self) {
        if let Repr::Shaped { keys, vals } = &mut self.0 {
            let entries = keys.0.iter().cloned().zip(vals.drain(..)).collect();
            self.0 = Repr::Small(entries);
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Hashed(m) => m.len(),
            Repr::Shaped { vals, .. } => vals.len(),
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
            Repr::Shaped { keys, vals } => keys.position(key).map(|i| &vals[i]),
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
        if let Repr::Shaped { keys, vals } = &mut self.0 {
            if let Some(i) = keys.position(&key) {
                return Some(std::mem::replace(&mut vals[i], value));
            }
            self.unshape();
        }
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
            Repr::Shaped { .. } => unreachable!("unshaped above"),
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
        if let Repr::Shaped { keys, .. } = &self.0 {
            keys.position(key)?;
            self.unshape();
        }
        match &mut self.0 {
            Repr::Small(v) => {
                let at = v.iter().position(|(k, _)| key_eq(k, key))?;
                Some(v.remove(at).1)
            }
            Repr::Hashed(m) => m.shift_remove(key),
            Repr::Shaped { .. } => unreachable!("unshaped above"),
        }
    }

    /// The entry at position `i` in insertion order.
    pub fn get_index(&self, i: usize) -> Option<(&Value, &Value)> {
        match &self.0 {
            Repr::Small(v) => v.get(i).map(|(k, v)| (k, v)),
            Repr::Hashed(m) => m.get_index(i),
            Repr::Shaped { keys, vals } => Some((keys.0.get(i)?, vals.get(i)?)),
        }
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter()),
            Repr::Hashed(m) => Iter::Hashed(m.iter()),
            Repr::Shaped { keys, vals } => Iter::Shaped(keys.0.iter().zip(vals.iter())),
        }
    }

    /// The entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        match &mut self.0 {
            Repr::Small(v) => IterMut::Small(v.iter_mut()),
            Repr::Hashed(m) => IterMut::Hashed(m.iter_mut()),
            Repr::Shaped { keys, vals } => IterMut::Shaped(keys.0.iter().zip(vals.iter_mut())),
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
    /// Of a shaped dict.
    Shaped(std::iter::Zip<std::slice::Iter<'a, Value>, std::slice::Iter<'a, Value>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Value, &'a Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(k, v)| (k, v)),
            Iter::Hashed(it) => it.next(),
            Iter::Shaped(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(it) => it.size_hint(),
            Iter::Hashed(it) => it.size_hint(),
            Iter::Shaped(it) => it.size_hint(),
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
    /// Of a shaped dict.
    Shaped(std::iter::Zip<std::slice::Iter<'a, Value>, std::slice::IterMut<'a, Value>>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Value, &'a mut Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IterMut::Small(it) => it.next().map(|(k, v)| (&*k, v)),
            IterMut::Hashed(it) => it.next(),
            IterMut::Shaped(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            IterMut::Small(it) => it.size_hint(),
            IterMut::Hashed(it) => it.size_hint(),
            IterMut::Shaped(it) => it.size_hint(),
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
        fn agrees_with_an_index_map(
            start in prop::collection::vec((0..24i64, any::<i64>()), 0..=SMALL_MAX),
            shaped in any::<bool>(),
            ops in prop::collection::vec(op(), 0..80),
        ) {
            // The dict starts with entries `start` (first of each key), shaped or small.
            let mut m = Hashed::default();
            for &(k, v) in &start {
                m.entry(Value::Int(k)).or_insert(Value::Int(v));
            }
            let mut d = if shaped {
                let keys = SharedKeys::new(m.keys().cloned().collect()).expect("distinct");
                let vals: Vec<Value> = m.values().cloned().collect();
                let d = Dict::shaped_rc(&keys, |i| vals[i].clone());
                Rc::try_unwrap(d).ok().expect("unique")
            } else {
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
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
    fn shared_keys_must_be_distinct_and_few() {
        let ints = |ks: &[i64]| ks.iter().map(|&k| Value::Int(k)).collect::<Vec<_>>();
        assert!(SharedKeys::new(ints(&[1, 2, 3])).is_some());
        assert!(SharedKeys::new(ints(&[])).is_some());
        assert!(SharedKeys::new(ints(&[1, 2, 1])).is_none());
        // 1 and 1.0 are one key.
        assert!(SharedKeys::new(vec![Value::Int(1), Value::Float(1.0)]).is_none());
        let many: Vec<i64> = (0..=SMALL_MAX as i64).collect();
        assert!(SharedKeys::new(ints(&many)).is_none());
    }

    #[test]
    fn dicts_sharing_keys_are_apart_and_stay_shaped_until_a_key_changes() {
        let keys = SharedKeys::new(vec![Value::keyword("x"), Value::keyword("y")]).unwrap();
        let mut a = Dict::shaped_rc(&keys, |i| Value::Int(i as i64));
        let b = Dict::shaped_rc(&keys, |i| Value::Int(10 + i as i64));
        let get = |d: &Dict, k: &str| d.get(&Value::keyword(k)).map(|v| format!("{v:?}"));
        assert_eq!(
            (get(&a, "x"), get(&a, "y")),
            (Some("0".into()), Some("1".into()))
        );
        assert_eq!(
            (get(&b, "x"), get(&b, "y")),
            (Some("10".into()), Some("11".into()))
        );
        assert_eq!(get(&a, "z"), None);
        // Setting a key it has changes one dict and keeps its shape.
        let m = Rc::get_mut(&mut a).unwrap();
        assert_eq!(
            m.insert(Value::keyword("y"), Value::Nil)
                .map(|v| format!("{v:?}")),
            Some("1".into())
        );
        assert!(matches!(m.0, Repr::Shaped { .. }));
        assert_eq!(get(&b, "y"), Some("11".into()));
        // A new key makes it small, in order.
        m.insert(Value::keyword("z"), Value::Int(2));
        assert!(matches!(m.0, Repr::Small(_)));
        let listed: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}={v:?}")).collect();
        assert_eq!(listed, [":x=0", ":y=nil", ":z=2"]);
        // Removing a key it lacks changes nothing.
        let mut c = Rc::try_unwrap(b).ok().unwrap();
        assert!(c.shift_remove(&Value::keyword("q")).is_none());
        assert!(matches!(c.0, Repr::Shaped { .. }));
        for (_, v) in c.iter_mut() {
            *v = Value::Bool(true);
        }
        assert_eq!(get(&c, "y"), Some("true".into()));
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
