//! Hash-tuple storage: a relation of any arity as a flat column-interleaved `Vec<i64>`,
//! deduplicated by a hash table of tuple ids, with one hash index per access pattern.
//!
//! Invariant: tuple ids are dense and stable (append-only); every index covers every tuple.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// A bit mask of bound columns (bit i: column i is bound).
pub type ColMask = u32;

/// One index: tuples grouped by the values of the columns in `mask`.
#[derive(Clone, Debug)]
struct Index {
    mask: ColMask,
    cols: Vec<usize>,
    /// group id per distinct key; the key is read from the group's first tuple.
    table: HashTable<u32>,
    groups: Vec<Vec<u32>>,
}

/// Whether two tuples of one relation are equal: compared value by value in line
/// (`==` on slices calls `memcmp`, a call per probe for two or three values).
#[inline(always)]
fn same(a: &[i64], b: &[i64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A set of tuples of fixed arity.
#[derive(Clone, Debug)]
pub struct TupleRel {
    arity: usize,
    data: Vec<i64>,
    len: usize,
    set: HashTable<u32>,
    indexes: Vec<Index>,
    hasher: DefaultHashBuilder,
}

impl TupleRel {
    /// An empty relation of `arity` columns.
    pub fn new(arity: usize) -> Self {
        TupleRel {
            arity,
            data: Vec::new(),
            len: 0,
            set: HashTable::new(),
            indexes: Vec::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Number of columns.
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Number of tuples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no tuples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tuple with id `i`.
    #[inline]
    pub fn tuple(&self, i: u32) -> &[i64] {
        let a = self.arity;
        &self.data[i as usize * a..i as usize * a + a]
    }

    fn hash_key(&self, vals: impl Iterator<Item = i64>) -> u64 {
        rehash(&self.hasher, vals)
    }

    /// Whether `t` is present.
    pub fn contains(&self, t: &[i64]) -> bool {
        self.id_of(t).is_some()
    }

    /// The id of tuple `t`, if present.
    fn id_of(&self, t: &[i64]) -> Option<u32> {
        let h = self.hash_key(t.iter().copied());
        self.set.find(h, |&i| same(self.tuple(i), t)).copied()
    }

    /// Inserts `t`; false when it was already present.
    pub fn insert(&mut self, t: &[i64]) -> bool {
        debug_assert_eq!(t.len(), self.arity);
        let h = self.hash_key(t.iter().copied());
        let Self {
            data, set, arity, ..
        } = self;
        let a = *arity;
        let hasher = self.hasher;
        // One probe finds the tuple or the slot for it (a find then an insert probed
        // twice).
        let id = self.len as u32;
        match set.entry(
            h,
            |&i| same(&data[i as usize * a..i as usize * a + a], t),
            |&i| {
                rehash(
                    &hasher,
                    data[i as usize * a..i as usize * a + a].iter().copied(),
                )
            },
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => return false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(id);
            }
        }
        self.data.extend_from_slice(t);
        self.len += 1;
        for ix in 0..self.indexes.len() {
            self.index_insert(ix, id);
        }
        true
    }

    /// Removes `t`; false when it was not there. The last tuple takes the freed id,
    /// so ids stay dense; the cost is one probe of the set and of each index, plus a
    /// walk of `t`'s group (and the moved tuple's) in each index.
    pub fn remove(&mut self, t: &[i64]) -> bool {
        debug_assert_eq!(t.len(), self.arity);
        let a = self.arity;
        let h = self.hash_key(t.iter().copied());
        let id = {
            let Self { data, set, .. } = &mut *self;
            match set.find_entry(h, |&i| same(&data[i as usize * a..i as usize * a + a], t)) {
                Ok(e) => e.remove().0,
                Err(_) => return false,
            }
        };
        for ix in 0..self.indexes.len() {
            self.index_remove(ix, id);
        }
        let last = (self.len - 1) as u32;
        if id != last {
            // The last tuple moves into the freed id: the set and every index that
            // named it by `last` now name it by `id`.
            let moved: Vec<i64> = self.tuple(last).to_vec();
            let hm = self.hash_key(moved.iter().copied());
            if let Some(slot) = self.set.find_mut(hm, |&i| i == last) {
                *slot = id;
            }
            for ix in 0..self.indexes.len() {
                if let Some(g) = self.group_of(ix, &moved) {
                    let group = &mut self.indexes[ix].groups[g as usize];
                    if let Some(p) = group.iter().position(|&i| i == last) {
                        group[p] = id;
                    }
                }
            }
            self.data
                .copy_within(last as usize * a..last as usize * a + a, id as usize * a);
        }
        self.data.truncate(last as usize * a);
        self.len -= 1;
        true
    }

    /// The group of index `ix` that holds tuples with `t`'s key, if any.
    fn group_of(&self, ix: usize, t: &[i64]) -> Option<u32> {
        let a = self.arity;
        let index = &self.indexes[ix];
        let h = rehash(&self.hasher, index.cols.iter().map(|&c| t[c]));
        let data = &self.data;
        index
            .table
            .find(h, |&g| {
                let f = index.groups[g as usize][0] as usize;
                index.cols.iter().all(|&c| data[f * a + c] == t[c])
            })
            .copied()
    }

    /// Takes tuple `id` out of its group of index `ix` (its data still in place). A
    /// group left empty leaves the table (its slot in `groups` stays, unused, until the
    /// relation is cleared), so every group the table reaches has a first tuple.
    fn index_remove(&mut self, ix: usize, id: u32) {
        let t: Vec<i64> = self.tuple(id).to_vec();
        let Some(g) = self.group_of(ix, &t) else {
            debug_assert!(false, "an index covers every tuple");
            return;
        };
        let index = &mut self.indexes[ix];
        let group = &mut index.groups[g as usize];
        if group.len() > 1 {
            if let Some(p) = group.iter().position(|&i| i == id) {
                group.remove(p);
            }
            return;
        }
        let h = rehash(&self.hasher, index.cols.iter().map(|&c| t[c]));
        if let Ok(e) = index.table.find_entry(h, |&x| x == g) {
            e.remove();
        }
        index.groups[g as usize] = Vec::new();
    }

    fn index_insert(&mut self, ix: usize, id: u32) {
        let a = self.arity;
        let Self {
            data,
            indexes,
            hasher,
            ..
        } = self;
        let index = &mut indexes[ix];
        let t = &data[id as usize * a..id as usize * a + a];
        let h = rehash(hasher, index.cols.iter().map(|&c| t[c]));
        let groups = &index.groups;
        let cols = &index.cols;
        let key_of = |g: u32| groups[g as usize][0] as usize;
        // One probe finds the group or the slot for a new one.
        let entry = index.table.entry(
            h,
            |&g| {
                let f = key_of(g);
                cols.iter().all(|&c| data[f * a + c] == t[c])
            },
            |&g| {
                let f = key_of(g);
                rehash(hasher, cols.iter().map(|&c| data[f * a + c]))
            },
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => index.groups[*o.get() as usize].push(id),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(index.groups.len() as u32);
                index.groups.push(vec![id]);
            }
        }
    }

    /// Makes sure an index on `mask` exists (building it from all tuples if needed).
    pub fn ensure_index(&mut self, mask: ColMask) {
        // All columns: the set itself is the index.
        if mask == 0 || mask == self.all_columns() || self.indexes.iter().any(|i| i.mask == mask) {
            return;
        }
        let cols = (0..self.arity).filter(|c| mask & (1 << c) != 0).collect();
        self.indexes.push(Index {
            mask,
            cols,
            table: HashTable::new(),
            groups: Vec::new(),
        });
        let ix = self.indexes.len() - 1;
        for id in 0..self.len as u32 {
            self.index_insert(ix, id);
        }
    }

    /// Whether an index on `mask` exists.
    pub fn has_index(&self, mask: ColMask) -> bool {
        mask == self.all_columns() || self.indexes.iter().any(|i| i.mask == mask)
    }

    /// The mask of every column.
    fn all_columns(&self) -> ColMask {
        let bits = u32::try_from(self.arity).unwrap_or(u32::MAX);
        1u64.checked_shl(bits).map_or(u64::MAX, |b| b - 1) as ColMask
    }

    /// Tuple ids whose columns in `mask` equal `key` (values in column order).
    /// Requires [`ensure_index`](Self::ensure_index) on `mask` first; otherwise scans.
    pub fn lookup(&self, mask: ColMask, key: &[i64], mut f: impl FnMut(&[i64])) {
        let a = self.arity;
        if mask == self.all_columns() && a > 0 {
            if let Some(i) = self.id_of(key) {
                f(self.tuple(i));
            }
            return;
        }
        let Some(index) = self.indexes.iter().find(|i| i.mask == mask) else {
            for i in 0..self.len as u32 {
                let t = self.tuple(i);
                let cols = (0..a).filter(|c| mask & (1 << c) != 0);
                if cols.zip(key).all(|(c, k)| t[c] == *k) {
                    f(t);
                }
            }
            return;
        };
        let h = rehash(&self.hasher, key.iter().copied());
        let data = &self.data;
        let found = index.table.find(h, |&g| {
            let fst = index.groups[g as usize][0] as usize;
            index
                .cols
                .iter()
                .zip(key)
                .all(|(&c, k)| data[fst * a + c] == *k)
        });
        if let Some(&g) = found {
            for &id in &index.groups[g as usize] {
                f(self.tuple(id));
            }
        }
    }

    /// Calls `f` on every tuple, in insertion order.
    pub fn for_each(&self, mut f: impl FnMut(&[i64])) {
        if self.arity == 0 {
            for _ in 0..self.len {
                f(&[]);
            }
            return;
        }
        for t in self.data.chunks_exact(self.arity) {
            f(t);
        }
    }

    /// Makes this relation hold exactly the tuples of `other` (of the same arity),
    /// keeping its own set of indexes: a copy of `other`'s tables rather than an
    /// insertion per tuple.
    pub fn assign(&mut self, other: &TupleRel) {
        debug_assert_eq!(self.arity, other.arity);
        let masks: Vec<ColMask> = self.indexes.iter().map(|i| i.mask).collect();
        *self = other.clone();
        self.indexes.retain(|i| masks.contains(&i.mask));
        for m in masks {
            self.ensure_index(m);
        }
    }

    /// Removes every tuple (keeps the set of indexes).
    pub fn clear(&mut self) {
        self.data.clear();
        self.len = 0;
        self.set.clear();
        for ix in &mut self.indexes {
            ix.table.clear();
            ix.groups.clear();
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() * 8
            + self.set.capacity() * 4
            + self
                .indexes
                .iter()
                .map(|i| {
                    i.table.capacity() * 4
                        + i.groups
                            .iter()
                            .map(|g| g.capacity() * 4 + 24)
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

fn rehash(hasher: &DefaultHashBuilder, vals: impl Iterator<Item = i64>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in vals {
        h = (h ^ v as u64).wrapping_mul(0x0000_0100_0000_01b3);
        h = h.rotate_left(23);
    }
    hasher.hash_one(h)
}

#[cfg(test)]
mod tests {
    use super::TupleRel;

    fn found(r: &TupleRel, mask: u32, key: &[i64]) -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        r.lookup(mask, key, |t| out.push(t.to_vec()));
        out
    }

    proptest::proptest! {
        /// Inserts and removals in any order leave exactly the model's tuples, found
        /// by membership and by every index (built before, between and after them).
        #[test]
        fn removals_leave_exactly_the_tuples_not_removed(
            ops in proptest::collection::vec((proptest::bool::ANY, 0i64..4, 0i64..3, 0i64..4), 1..300),
        ) {
            let mut r = TupleRel::new(3);
            r.ensure_index(0b001);
            let mut want = std::collections::BTreeSet::new();
            for (n, &(add, a, b, c)) in ops.iter().enumerate() {
                let t = [a, b, c];
                if add {
                    proptest::prop_assert_eq!(r.insert(&t), want.insert(t));
                } else {
                    proptest::prop_assert_eq!(r.remove(&t), want.remove(&t));
                }
                if n == ops.len() / 2 {
                    r.ensure_index(0b110);
                }
                proptest::prop_assert_eq!(r.len(), want.len());
            }
            r.ensure_index(0b010);
            let mut all = Vec::new();
            r.for_each(|t| all.push([t[0], t[1], t[2]]));
            all.sort_unstable();
            proptest::prop_assert_eq!(&all, &want.iter().copied().collect::<Vec<_>>());
            for a in 0..4 {
                for b in 0..3 {
                    for c in 0..4 {
                        let t = [a, b, c];
                        proptest::prop_assert_eq!(r.contains(&t), want.contains(&t));
                        for (mask, key) in [(0b001, vec![a]), (0b110, vec![b, c]), (0b010, vec![b])] {
                            let mut got = found(&r, mask, &key);
                            got.sort();
                            let model: Vec<Vec<i64>> = want
                                .iter()
                                .filter(|u| (0..3).filter(|i| mask & (1 << i) != 0).zip(&key).all(|(i, k)| u[i] == *k))
                                .map(|u| u.to_vec())
                                .collect();
                            proptest::prop_assert_eq!(got, model, "mask {:b} key {:?}", mask, key);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_lookup_by_every_column_uses_the_set_and_finds_the_tuple_or_nothing() {
        let mut r = TupleRel::new(3);
        for t in [[1, 2, 3], [1, 2, 4], [2, 2, 3]] {
            assert!(r.insert(&t));
        }
        r.ensure_index(0b111);
        r.ensure_index(0b011);
        assert!(r.has_index(0b111));
        assert_eq!(found(&r, 0b111, &[1, 2, 4]), [vec![1, 2, 4]]);
        assert!(found(&r, 0b111, &[1, 2, 5]).is_empty());
        // Assigned to an empty relation with its own index: the same tuples, the
        // index kept and filled.
        let mut copy = TupleRel::new(3);
        copy.ensure_index(0b100);
        copy.assign(&r);
        assert!(copy.has_index(0b100) && !copy.has_index(0b011));
        assert_eq!(found(&copy, 0b100, &[4]), [vec![1, 2, 4]]);
        assert!(copy.contains(&[2, 2, 3]) && copy.len() == 3);
        // A tuple added after the lookups were prepared is found too.
        assert!(r.insert(&[7, 8, 9]));
        assert_eq!(found(&r, 0b111, &[7, 8, 9]), [vec![7, 8, 9]]);
        assert_eq!(found(&r, 0b011, &[1, 2]), [vec![1, 2, 3], vec![1, 2, 4]]);
    }
}
