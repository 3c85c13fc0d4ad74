//! A set of distinct fixed-width tuples of ids, for aggregates: `count` and `sum`
//! range over the distinct tuples their goal yields in a group.
//!
//! The tuples are stored end to end in one vector and deduplicated through a hash
//! table of tuple numbers, so inserting allocates nothing per tuple, and a cleared
//! set keeps its room for the next group.

use foldhash::fast::FixedState;
use hashbrown::hash_table::{Entry, HashTable};
use std::hash::BuildHasher;

/// Distinct tuples of one width, in the order first inserted.
#[derive(Debug, Default)]
pub struct Distinct {
    width: usize,
    flat: Vec<i64>,
    table: HashTable<u32>,
    hasher: FixedState,
    /// The tuples are known to come distinct: kept without the table.
    known_distinct: bool,
}

impl Distinct {
    /// Empties the set and makes it hold tuples of `width` values.
    pub fn reset(&mut self, width: usize) {
        self.width = width;
        self.flat.clear();
        self.table.clear();
        self.known_distinct = false;
    }

    /// Empties the set for tuples of `width` values that the caller knows arrive
    /// distinct (or whose repeats do not matter): they are kept, not looked up.
    pub fn reset_known_distinct(&mut self, width: usize) {
        self.reset(width);
        self.known_distinct = true;
    }

    /// Adds `tuple` (of the set's width); whether it was new.
    pub fn insert(&mut self, tuple: &[i64]) -> bool {
        debug_assert_eq!(tuple.len(), self.width);
        if self.known_distinct {
            self.flat.extend_from_slice(tuple);
            return true;
        }
        let Distinct {
            width,
            flat,
            table,
            hasher,
            ..
        } = self;
        let w = *width;
        let row = |i: u32| &flat[i as usize * w..(i as usize + 1) * w];
        match table.entry(
            hasher.hash_one(tuple),
            |&i| row(i) == tuple,
            |&i| hasher.hash_one(row(i)),
        ) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                let n = u32::try_from(flat.len() / w.max(1)).expect("fewer than 2^32 tuples");
                slot.insert(n);
                flat.extend_from_slice(tuple);
                true
            }
        }
    }

    /// How many distinct tuples the set holds.
    pub fn len(&self) -> usize {
        if self.known_distinct {
            self.flat.len() / self.width.max(1)
        } else {
            self.table.len()
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last value of each tuple (an aggregate's target), in insertion order.
    pub fn last_values(&self) -> impl Iterator<Item = i64> + '_ {
        self.flat
            .chunks_exact(self.width.max(1))
            .map(|t| t[t.len() - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::Distinct;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn holds_exactly_the_distinct_tuples(
            width in 1usize..4,
            values in proptest::collection::vec(-3i64..3, 0..120),
        ) {
            let mut d = Distinct::default();
            // A set used before, then reset, must not remember the earlier tuples,
            // nor that they were known to be distinct.
            d.reset_known_distinct(width);
            d.insert(&vec![99; width]);
            d.insert(&vec![99; width]);
            prop_assert_eq!(d.len(), 2);
            d.reset(width);
            d.insert(&vec![99; width]);
            d.reset(width);
            let mut want = BTreeSet::new();
            let mut order = Vec::new();
            for t in values.chunks_exact(width) {
                let fresh = want.insert(t.to_vec());
                prop_assert_eq!(d.insert(t), fresh);
                if fresh {
                    order.push(t[width - 1]);
                }
            }
            prop_assert_eq!(d.len(), want.len());
            prop_assert_eq!(d.last_values().collect::<Vec<_>>(), order);
        }
    }
}
