//! Row storage for binary relations over dense ids: key -> set of values. A row is a
//! dense bitset (dense kind: small domains, large rows), or, in the sparse kind, a sorted
//! list while it is small and a roaring bitmap once it grows. Set-at-a-time steps union
//! whole rows through [`Acc`], a scratch bitset.
//!
//! Memory is paid per key that has a row, not per possible key: rows live in a compact
//! vector, reached through a key -> slot table that is a direct array when keys are dense
//! and a hash map when they are not.
//!
//! Invariants: values and keys are non-negative and fit in u32; every stored row is
//! non-empty; `keys[i]` is the key of `rows[i]`, each key once.

use roaring::RoaringBitmap;

/// Largest sparse row of wide values (some at least 2^16) kept as a sorted list; longer
/// rows become roaring bitmaps.
pub const LIST_MAX: usize = 96;

/// Sparse rows whose values are all below this are sorted `u16` lists until a bitset
/// over their largest value would be no bigger, then bitsets.
const SHORT_LIMIT: u32 = 1 << 16;

/// How the rows of a relation are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Each row a bitset of at least `words` 64-bit words (grown on demand).
    Dense {
        /// Initial width in words.
        words: usize,
    },
    /// Each row as small as its values allow: a `u16` list or a bitset below 2^16, a
    /// `u32` list or a roaring bitmap above.
    Sparse,
}

/// One row: the set of values for one key.
#[derive(Clone, Debug)]
pub enum Row {
    /// Sorted, distinct values below 2^16 (sparse kind), fewer than a bitset would hold
    /// in the same bytes.
    Short(Box<[u16]>),
    /// Sorted, distinct values, some at least 2^16 (sparse kind, at most [`LIST_MAX`]).
    List(Box<[u32]>),
    /// A bitset: every row of the dense kind; a sparse row below 2^16 once it is as
    /// small as its list.
    Bits(Box<[u64]>),
    /// A roaring bitmap (sparse kind, wide values, longer than [`LIST_MAX`]).
    Roaring(Box<RoaringBitmap>),
}

/// Whether lists of lengths `a` and `b` are better intersected by a merge walk than
/// by looking each of the shorter up in the longer.
fn similar(a: usize, b: usize) -> bool {
    let (small, large) = if a <= b { (a, b) } else { (b, a) };
    large <= 8 * small.max(1)
}

/// `|a ∩ b|` of sorted distinct slices, by one walk without branches on the values.
fn merge_count<T: Copy + Ord>(a: &[T], b: &[T]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        n += u64::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    n
}

/// `a ∪ b` of sorted distinct slices, and how many of `b` were not in `a`.
fn merge<T: Copy + Ord>(a: &[T], b: &[T]) -> (Vec<T>, u64) {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x < y {
            out.push(x);
            i += 1;
        } else {
            out.push(y);
            j += 1;
            i += (x == y) as usize;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    let added = (out.len() - a.len()) as u64;
    (out, added)
}

fn set_bit(w: &mut Box<[u64]>, v: u32) -> bool {
    let i = v as usize >> 6;
    if i >= w.len() {
        let mut grown = vec![0u64; (i + 1).max(w.len() * 2)];
        grown[..w.len()].copy_from_slice(w);
        *w = grown.into_boxed_slice();
    }
    let bit = 1u64 << (v & 63);
    let was = w[i] & bit != 0;
    w[i] |= bit;
    !was
}

fn bits_of(vals: impl Iterator<Item = u32>, words: usize) -> Box<[u64]> {
    let mut w = vec![0u64; words].into_boxed_slice();
    for v in vals {
        w[v as usize >> 6] |= 1u64 << (v & 63);
    }
    w
}

impl Row {
    /// A row of sorted distinct `vals` (not empty) in the given kind.
    fn from_sorted(vals: Vec<u32>, kind: RowKind) -> Row {
        match kind {
            RowKind::Dense { words } => {
                let top = vals.last().map_or(0, |&v| v as usize >> 6) + 1;
                Row::Bits(bits_of(vals.into_iter(), top.max(words)))
            }
            RowKind::Sparse => Row::sparse(vals),
        }
    }

    /// The sparse row of sorted distinct `vals` (not empty).
    fn sparse(vals: Vec<u32>) -> Row {
        let top = vals.last().copied().unwrap_or(0);
        if top < SHORT_LIMIT {
            Row::short(vals.into_iter().map(|v| v as u16).collect())
        } else if vals.len() <= LIST_MAX {
            Row::List(vals.into_boxed_slice())
        } else {
            Row::Roaring(Box::new(
                RoaringBitmap::from_sorted_iter(vals).expect("sorted by construction"),
            ))
        }
    }

    /// The sparse row of sorted distinct `vals` below 2^16 (not empty).
    fn short(vals: Vec<u16>) -> Row {
        let words = (vals.last().copied().unwrap_or(0) as usize >> 6) + 1;
        if vals.len() * 2 >= words * 8 {
            Row::Bits(bits_of(vals.into_iter().map(u32::from), words))
        } else {
            Row::Short(vals.into_boxed_slice())
        }
    }

    fn to_vec(&self) -> Vec<u32> {
        let mut v = Vec::new();
        self.for_each(|x| v.push(x));
        v
    }

    /// Whether `v` is in the row.
    #[inline]
    pub fn contains(&self, v: u32) -> bool {
        match self {
            Row::Short(l) => v < SHORT_LIMIT && l.binary_search(&(v as u16)).is_ok(),
            Row::List(l) => l.binary_search(&v).is_ok(),
            Row::Bits(w) => w
                .get(v as usize >> 6)
                .is_some_and(|x| x & (1u64 << (v & 63)) != 0),
            Row::Roaring(r) => r.contains(v),
        }
    }

    /// Adds `v`; false when present.
    fn insert(&mut self, v: u32, kind: RowKind) -> bool {
        match self {
            Row::Bits(w) if matches!(kind, RowKind::Dense { .. }) || v < SHORT_LIMIT => {
                set_bit(w, v)
            }
            Row::Roaring(r) => r.insert(v),
            Row::Short(l) if v < SHORT_LIMIT => {
                let Err(pos) = l.binary_search(&(v as u16)) else {
                    return false;
                };
                let mut grown = Vec::with_capacity(l.len() + 1);
                grown.extend_from_slice(&l[..pos]);
                grown.push(v as u16);
                grown.extend_from_slice(&l[pos..]);
                *self = Row::short(grown);
                true
            }
            _ => self.add_sorted(&[v], kind) == 1,
        }
    }

    /// Removes `v`; false when absent. A list keeps its representation (a shorter
    /// list is never worse); the row may be left empty, which its owner then drops.
    fn remove(&mut self, v: u32) -> bool {
        match self {
            Row::Short(l) => {
                if v >= SHORT_LIMIT {
                    return false;
                }
                let Ok(pos) = l.binary_search(&(v as u16)) else {
                    return false;
                };
                let mut kept = l.to_vec();
                kept.remove(pos);
                *l = kept.into_boxed_slice();
                true
            }
            Row::List(l) => {
                let Ok(pos) = l.binary_search(&v) else {
                    return false;
                };
                let mut kept = l.to_vec();
                kept.remove(pos);
                *l = kept.into_boxed_slice();
                true
            }
            Row::Bits(w) => {
                let bit = 1u64 << (v & 63);
                match w.get_mut(v as usize >> 6) {
                    Some(x) if *x & bit != 0 => {
                        *x &= !bit;
                        true
                    }
                    _ => false,
                }
            }
            Row::Roaring(r) => r.remove(v),
        }
    }

    /// Adds sorted distinct `vals`; returns how many were new.
    fn add_sorted(&mut self, vals: &[u32], kind: RowKind) -> u64 {
        let Some(&top) = vals.last() else {
            return 0;
        };
        let narrow = top < SHORT_LIMIT;
        match self {
            Row::Bits(w) if matches!(kind, RowKind::Dense { .. }) || narrow => {
                vals.iter().map(|&v| set_bit(w, v) as u64).sum()
            }
            Row::Roaring(r) => {
                let was = r.len();
                // A union builds each array container at its exact size; inserting one
                // value at a time would leave amortised-growth slack in every row.
                **r |= RoaringBitmap::from_sorted_iter(vals.iter().copied())
                    .expect("sorted by contract");
                r.len() - was
            }
            Row::Short(l) if narrow => {
                let vals: Vec<u16> = vals.iter().map(|&v| v as u16).collect();
                let (merged, added) = merge(l, &vals);
                if added > 0 {
                    *self = Row::short(merged);
                }
                added
            }
            Row::List(l) => {
                let (merged, added) = merge(l, vals);
                if added > 0 {
                    *self = Row::sparse(merged);
                }
                added
            }
            // A narrow row meets a wide value: re-pick the representation.
            _ => {
                let (merged, added) = merge(&self.to_vec(), vals);
                *self = Row::sparse(merged);
                added
            }
        }
    }

    /// Adds every value of `src`; returns how many were new.
    fn union_row(&mut self, src: &Row, kind: RowKind) -> u64 {
        match (self, src) {
            (Row::Bits(d), Row::Bits(s)) => {
                if d.len() < s.len() {
                    let mut grown = vec![0u64; s.len()];
                    grown[..d.len()].copy_from_slice(d);
                    *d = grown.into_boxed_slice();
                }
                let mut added = 0u64;
                for (x, &y) in d.iter_mut().zip(s.iter()) {
                    added += (y & !*x).count_ones() as u64;
                    *x |= y;
                }
                added
            }
            (Row::Roaring(d), Row::Roaring(s)) => {
                let was = d.len();
                **d |= &**s;
                d.len() - was
            }
            (d @ Row::Short(_), Row::Short(s)) => {
                let Row::Short(l) = &*d else {
                    unreachable!("matched above")
                };
                let (merged, added) = merge(l, s);
                if added > 0 {
                    *d = Row::short(merged);
                }
                added
            }
            (d, Row::List(s)) => d.add_sorted(s, kind),
            (d, s) => d.add_sorted(&s.to_vec(), kind),
        }
    }

    /// Calls `f` on every value, ascending.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Row::Short(l) => l.iter().for_each(|&v| f(v as u32)),
            Row::List(l) => l.iter().for_each(|&v| f(v)),
            Row::Bits(words) => {
                for (i, &w) in words.iter().enumerate() {
                    let mut w = w;
                    while w != 0 {
                        let b = w.trailing_zeros();
                        f(((i as u32) << 6) | b);
                        w &= w - 1;
                    }
                }
            }
            Row::Roaring(r) => r.iter().for_each(f),
        }
    }

    /// How many values the two rows share.
    pub fn intersection_len(&self, other: &Row) -> u64 {
        match (self, other) {
            (Row::Bits(a), Row::Bits(b)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| (x & y).count_ones() as u64)
                .sum(),
            (Row::Roaring(a), Row::Roaring(b)) => a.intersection_len(b),
            // Two sorted lists of similar length: one merge walk.
            (Row::Short(a), Row::Short(b)) if similar(a.len(), b.len()) => merge_count(a, b),
            (Row::List(a), Row::List(b)) if similar(a.len(), b.len()) => merge_count(a, b),
            _ => {
                // Walk the shorter, look each value up in the other.
                let (small, large) = if self.len() <= other.len() {
                    (self, other)
                } else {
                    (other, self)
                };
                let mut n = 0;
                small.for_each(|v| n += u64::from(large.contains(v)));
                n
            }
        }
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        match self {
            Row::Short(l) => l.len() as u64,
            Row::List(l) => l.len() as u64,
            Row::Bits(w) => w.iter().map(|x| x.count_ones() as u64).sum(),
            Row::Roaring(r) => r.len(),
        }
    }

    /// Whether the row is empty (never, for a stored row).
    pub fn is_empty(&self) -> bool {
        match self {
            Row::Short(l) => l.is_empty(),
            Row::List(l) => l.is_empty(),
            Row::Bits(w) => w.iter().all(|&x| x == 0),
            Row::Roaring(r) => r.is_empty(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Row::Short(l) => l.len() * 2,
            Row::List(l) => l.len() * 4,
            Row::Bits(w) => w.len() * 8,
            Row::Roaring(r) => r.serialized_size() + 24,
        }
    }
}

/// Key -> slot in [`RowSet::rows`].
#[derive(Clone, Debug)]
enum Slots {
    /// `direct[k]` = slot + 1, 0 when `k` has no row.
    Direct(Vec<u32>),
    /// For keys too scattered for a direct table.
    Hashed(hashbrown::HashMap<u32, u32>),
}

/// A direct table pays 4 bytes per possible key: use one while that is at most this
/// many times the number of keys (or the keys are small anyway).
const DIRECT_SPREAD: usize = 16;
const DIRECT_ALWAYS: usize = 4096;

impl Slots {
    #[inline]
    fn get(&self, k: u32) -> Option<usize> {
        match self {
            Slots::Direct(d) => match d.get(k as usize) {
                Some(&s) if s != 0 => Some(s as usize - 1),
                _ => None,
            },
            Slots::Hashed(h) => h.get(&k).map(|&s| s as usize),
        }
    }

    /// Records a new key's slot; `keys` lists every key (the new one included).
    fn set(&mut self, k: u32, slot: usize, keys: &[u32]) {
        let fits_direct = |top: usize| top < DIRECT_ALWAYS || top <= keys.len() * DIRECT_SPREAD;
        match self {
            Slots::Direct(d) => {
                let i = k as usize;
                if i >= d.len() {
                    if !fits_direct(i + 1) {
                        let mut map = hashbrown::HashMap::with_capacity(keys.len());
                        for &key in keys {
                            if let Some(&s) = d.get(key as usize).filter(|&&s| s != 0) {
                                map.insert(key, s - 1);
                            }
                        }
                        map.insert(k, slot as u32);
                        *self = Slots::Hashed(map);
                        return;
                    }
                    d.resize(i + 1, 0);
                }
                d[i] = slot as u32 + 1;
            }
            Slots::Hashed(h) => {
                h.insert(k, slot as u32);
                if h.len() % 1024 == 0 {
                    let top = keys.iter().copied().max().unwrap_or(0) as usize + 1;
                    if fits_direct(top) {
                        let mut d = vec![0u32; top];
                        for (&key, &s) in h.iter() {
                            d[key as usize] = s + 1;
                        }
                        *self = Slots::Direct(d);
                    }
                }
            }
        }
    }

    /// Points existing key `k` at `slot`.
    fn update(&mut self, k: u32, slot: usize) {
        match self {
            Slots::Direct(d) => d[k as usize] = slot as u32 + 1,
            Slots::Hashed(h) => {
                h.insert(k, slot as u32);
            }
        }
    }

    /// Forgets key `k`.
    fn remove(&mut self, k: u32) {
        match self {
            Slots::Direct(d) => {
                if let Some(s) = d.get_mut(k as usize) {
                    *s = 0;
                }
            }
            Slots::Hashed(h) => {
                h.remove(&k);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Slots::Direct(d) => d.capacity() * 4,
            Slots::Hashed(h) => h.capacity() * 9,
        }
    }
}

/// A binary relation stored as rows keyed by one column.
#[derive(Clone, Debug)]
pub struct RowSet {
    kind: RowKind,
    keys: Vec<u32>,
    rows: Vec<Row>,
    slots: Slots,
    len: u64,
}

impl RowSet {
    /// An empty row set.
    pub fn new(kind: RowKind) -> Self {
        RowSet {
            kind,
            keys: Vec::new(),
            rows: Vec::new(),
            slots: Slots::Direct(Vec::new()),
            len: 0,
        }
    }

    /// The storage kind.
    pub fn kind(&self) -> RowKind {
        self.kind
    }

    /// Number of (key, value) pairs.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys with a row, in first-insertion order (unless a row was removed).
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    /// Every (key, row), in the order of [`keys`](Self::keys).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Row)> + '_ {
        self.keys.iter().copied().zip(&self.rows)
    }

    /// The row of `k`, if any (never empty).
    #[inline]
    pub fn row(&self, k: u32) -> Option<&Row> {
        self.slots.get(k).map(|s| &self.rows[s])
    }

    /// Whether (k, v) is present.
    #[inline]
    pub fn contains(&self, k: u32, v: u32) -> bool {
        self.row(k).is_some_and(|r| r.contains(v))
    }

    fn push_row(&mut self, k: u32, row: Row) {
        let slot = self.rows.len();
        self.rows.push(row);
        self.keys.push(k);
        self.slots.set(k, slot, &self.keys);
    }

    /// Adds (k, v); false when present.
    #[inline]
    pub fn insert(&mut self, k: u32, v: u32) -> bool {
        let added = match self.slots.get(k) {
            Some(s) => self.rows[s].insert(v, self.kind),
            None => {
                self.push_row(k, Row::from_sorted(vec![v], self.kind));
                true
            }
        };
        self.len += added as u64;
        added
    }

    /// Removes (k, v); false when absent. A row left empty is dropped: the last row
    /// takes its slot (so [`keys`](Self::keys) is no longer in insertion order).
    pub fn remove(&mut self, k: u32, v: u32) -> bool {
        let Some(s) = self.slots.get(k) else {
            return false;
        };
        if !self.rows[s].remove(v) {
            return false;
        }
        self.len -= 1;
        if self.rows[s].is_empty() {
            self.rows.swap_remove(s);
            self.keys.swap_remove(s);
            self.slots.remove(k);
            if let Some(&moved) = self.keys.get(s) {
                self.slots.update(moved, s);
            }
        }
        true
    }

    /// Adds sorted distinct `vals` to row `k`; returns how many were new.
    pub fn add_sorted(&mut self, k: u32, vals: &[u32]) -> u64 {
        if vals.is_empty() {
            return 0;
        }
        let added = match self.slots.get(k) {
            Some(s) => self.rows[s].add_sorted(vals, self.kind),
            None => {
                self.push_row(k, Row::from_sorted(vals.to_vec(), self.kind));
                vals.len() as u64
            }
        };
        self.len += added;
        added
    }

    /// Adds every value of `src` to row `k`; returns how many were new.
    pub fn union_row(&mut self, k: u32, src: &Row) -> u64 {
        let added = match self.slots.get(k) {
            Some(s) => self.rows[s].union_row(src, self.kind),
            None => {
                let row = match (self.kind, src) {
                    (RowKind::Dense { words }, Row::Bits(s)) if s.len() >= words => src.clone(),
                    (RowKind::Sparse, Row::Short(_) | Row::List(_) | Row::Roaring(_)) => {
                        src.clone()
                    }
                    _ => Row::from_sorted(src.to_vec(), self.kind),
                };
                let n = row.len();
                if n == 0 {
                    return 0;
                }
                self.push_row(k, row);
                n
            }
        };
        self.len += added;
        added
    }

    /// Calls `f(k, v)` on every pair.
    pub fn for_each(&self, mut f: impl FnMut(u32, u32)) {
        for (k, row) in self.iter() {
            row.for_each(|v| f(k, v));
        }
    }

    /// Adds every pair of `other`.
    pub fn union_with(&mut self, other: &RowSet) {
        for (k, row) in other.iter() {
            self.union_row(k, row);
        }
    }

    /// Removes everything (and frees the rows).
    pub fn clear(&mut self) {
        *self = RowSet::new(self.kind);
    }

    /// The same pairs keyed by the other column.
    pub fn transposed(&self) -> RowSet {
        match self.kind {
            RowKind::Dense { .. } => self.transposed_dense(),
            RowKind::Sparse => self.transposed_sparse(),
        }
    }

    /// Sparse transposition in two passes: count each target row, then fill exact-size
    /// rows in ascending key order, so every row is built by appending.
    fn transposed_sparse(&self) -> RowSet {
        let mut out = RowSet::new(self.kind);
        if self.is_empty() {
            return out;
        }
        let mut order: Vec<u32> = (0..self.keys.len() as u32).collect();
        order.sort_unstable_by_key(|&s| self.keys[s as usize]);
        // counts[v]: size of target row v; then its slot in `targets`.
        let mut top = 0u32;
        for row in &self.rows {
            row.for_each(|v| top = top.max(v));
        }
        let mut counts = vec![0u32; top as usize + 1];
        for row in &self.rows {
            row.for_each(|v| counts[v as usize] += 1);
        }
        let mut targets: Vec<(u32, Vec<u32>)> = Vec::new();
        for (v, c) in counts.iter_mut().enumerate() {
            if *c > 0 {
                targets.push((v as u32, Vec::with_capacity(*c as usize)));
                *c = targets.len() as u32 - 1;
            }
        }
        for &s in &order {
            let k = self.keys[s as usize];
            self.rows[s as usize].for_each(|v| targets[counts[v as usize] as usize].1.push(k));
        }
        drop(counts);
        out.keys.reserve_exact(targets.len());
        out.rows.reserve_exact(targets.len());
        for (v, ks) in targets {
            out.len += ks.len() as u64;
            out.push_row(v, Row::from_sorted(ks, self.kind));
        }
        out
    }

    /// Dense transposition by 64×64 bit blocks: a block of 64 source rows and one word
    /// column becomes one word in each of 64 target rows.
    fn transposed_dense(&self) -> RowSet {
        let mut out = RowSet::new(self.kind);
        let Some(&max_key) = self.keys.iter().max() else {
            return out;
        };
        let width = self.rows.iter().map(|r| match r {
            Row::Bits(w) => w.len(),
            _ => 0,
        });
        let width = width.max().unwrap_or(0);
        let out_words = (max_key as usize >> 6) + 1;
        let out_words = match self.kind {
            RowKind::Dense { words } => out_words.max(words),
            RowKind::Sparse => out_words,
        };
        // Rows of the source grouped by block of 64 keys.
        let mut blocks: Vec<Vec<(u32, usize)>> = vec![Vec::new(); (max_key as usize >> 6) + 1];
        for (s, &k) in self.keys.iter().enumerate() {
            blocks[k as usize >> 6].push((k & 63, s));
        }
        let mut target: Vec<Option<Box<[u64]>>> = vec![None; width * 64];
        let mut m = [0u64; 64];
        for (b, members) in blocks.iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            for j in 0..width {
                m.fill(0);
                let mut any = 0u64;
                for &(r, s) in members {
                    if let Row::Bits(w) = &self.rows[s] {
                        let x = w.get(j).copied().unwrap_or(0);
                        m[r as usize] = x;
                        any |= x;
                    }
                }
                if any == 0 {
                    continue;
                }
                transpose64(&mut m);
                for (c, &x) in m.iter().enumerate() {
                    if x != 0 {
                        let t = target[j * 64 + c]
                            .get_or_insert_with(|| vec![0u64; out_words].into_boxed_slice());
                        t[b] = x;
                    }
                }
            }
        }
        for (v, t) in target.into_iter().enumerate() {
            if let Some(t) = t {
                out.len += t.iter().map(|x| x.count_ones() as u64).sum::<u64>();
                out.push_row(v as u32, Row::Bits(t));
            }
        }
        out
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * size_of::<Row>()
            + self.keys.capacity() * 4
            + self.slots.heap_bytes()
            + self.rows.iter().map(Row::heap_bytes).sum::<usize>()
    }
}

/// Transposes a 64×64 bit matrix in place: bit c of `a[r]` moves to bit r of `a[c]`.
fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k] ^= t << j;
            a[k + j] ^= t;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// A scratch bitset accumulating one row of a set-at-a-time step.
#[derive(Clone, Debug, Default)]
pub struct Acc {
    words: Vec<u64>,
    touched: Vec<u32>,
    scratch: Vec<u32>,
}

impl Acc {
    /// Adds `v`.
    #[inline]
    pub fn set(&mut self, v: u32) {
        let i = v as usize >> 6;
        if i >= self.words.len() {
            self.words.resize(i + 1, 0);
        }
        if self.words[i] == 0 {
            self.touched.push(i as u32);
        }
        self.words[i] |= 1u64 << (v & 63);
    }

    /// Adds every value of `row`.
    #[inline]
    pub fn or_row(&mut self, row: &Row) {
        match row {
            Row::Bits(ws) => {
                if ws.len() > self.words.len() {
                    self.words.resize(ws.len(), 0);
                }
                for (i, &w) in ws.iter().enumerate() {
                    if w != 0 {
                        let d = &mut self.words[i];
                        if *d == 0 {
                            self.touched.push(i as u32);
                        }
                        *d |= w;
                    }
                }
            }
            Row::Short(l) => {
                for &v in l.iter() {
                    self.set(v as u32);
                }
            }
            Row::List(l) => {
                for &v in l.iter() {
                    self.set(v);
                }
            }
            Row::Roaring(r) => r.iter().for_each(|v| self.set(v)),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty()
    }

    /// Calls `f` on every value (unordered), leaving the accumulator unchanged.
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        for &i in &self.touched {
            let mut w = self.words[i as usize];
            while w != 0 {
                f((i << 6) | w.trailing_zeros());
                w &= w - 1;
            }
        }
    }

    /// Empties the accumulator.
    pub fn clear(&mut self) {
        for &i in &self.touched {
            self.words[i as usize] = 0;
        }
        self.touched.clear();
    }

    /// Adds the accumulated values to row `k` of `dst`, skipping those in row `k` of
    /// `known`; clears the accumulator and returns how many pairs were added.
    pub fn drain_into(&mut self, k: u32, dst: &mut RowSet, known: Option<&RowSet>) -> u64 {
        self.union_into(k, dst, known, true)
    }

    /// Like [`drain_into`](Self::drain_into), but keeps the accumulator when `clear` is
    /// false (to add the same row under several keys).
    pub fn union_into(
        &mut self,
        k: u32,
        dst: &mut RowSet,
        known: Option<&RowSet>,
        clear: bool,
    ) -> u64 {
        self.union_into_except(k, dst, known, clear, None)
    }

    /// Like [`union_into`](Self::union_into), but never adds the value `except`.
    pub fn union_into_except(
        &mut self,
        k: u32,
        dst: &mut RowSet,
        known: Option<&RowSet>,
        clear: bool,
        except: Option<u32>,
    ) -> u64 {
        // The word holding `except`, and the value without it.
        let (except_word, except_mask) = match except {
            Some(x) => ((x >> 6) as usize, !(1u64 << (x & 63))),
            None => (usize::MAX, !0),
        };
        let known_row = known.and_then(|kn| kn.row(k));
        let added = match dst.kind {
            RowKind::Dense { words } => {
                let slot = dst.slots.get(k);
                let mut fresh: Option<Box<[u64]>> = None;
                let mut added = 0u64;
                for &i in &self.touched {
                    let i = i as usize;
                    let mut w = self.words[i];
                    if clear {
                        self.words[i] = 0;
                    }
                    if i == except_word {
                        w &= except_mask;
                    }
                    match known_row {
                        Some(Row::Bits(kw)) => w &= !kw.get(i).copied().unwrap_or(0),
                        Some(kr) => {
                            let mut m = w;
                            while m != 0 {
                                let b = m.trailing_zeros();
                                if kr.contains(((i as u32) << 6) | b) {
                                    w &= !(1u64 << b);
                                }
                                m &= m - 1;
                            }
                        }
                        None => {}
                    }
                    if w == 0 {
                        continue;
                    }
                    let dw: &mut Box<[u64]> = match slot {
                        Some(s) => match &mut dst.rows[s] {
                            Row::Bits(dw) => dw,
                            _ => unreachable_kind(),
                        },
                        None => fresh.get_or_insert_with(|| {
                            vec![0u64; words.max(self.words.len())].into_boxed_slice()
                        }),
                    };
                    if i >= dw.len() {
                        let mut grown = vec![0u64; self.words.len().max(i + 1)];
                        grown[..dw.len()].copy_from_slice(dw);
                        *dw = grown.into_boxed_slice();
                    }
                    let new = w & !dw[i];
                    dw[i] |= new;
                    added += new.count_ones() as u64;
                }
                if let Some(row) = fresh {
                    if added > 0 {
                        dst.push_row(k, Row::Bits(row));
                    }
                }
                dst.len += added;
                added
            }
            RowKind::Sparse => {
                self.touched.sort_unstable();
                let mut vals = std::mem::take(&mut self.scratch);
                vals.clear();
                let mut kpos = 0usize;
                for &i in &self.touched {
                    let i = i as usize;
                    let mut w = self.words[i];
                    if clear {
                        self.words[i] = 0;
                    }
                    if i == except_word {
                        w &= except_mask;
                    }
                    while w != 0 {
                        let v = ((i as u32) << 6) | w.trailing_zeros();
                        w &= w - 1;
                        let known = match known_row {
                            None => false,
                            // Values come ascending: walk the known list once.
                            Some(Row::Short(l)) => {
                                while kpos < l.len() && u32::from(l[kpos]) < v {
                                    kpos += 1;
                                }
                                kpos < l.len() && u32::from(l[kpos]) == v
                            }
                            Some(Row::List(l)) => {
                                while kpos < l.len() && l[kpos] < v {
                                    kpos += 1;
                                }
                                kpos < l.len() && l[kpos] == v
                            }
                            Some(kr) => kr.contains(v),
                        };
                        if !known {
                            vals.push(v);
                        }
                    }
                }
                let added = dst.add_sorted(k, &vals);
                self.scratch = vals;
                added
            }
        };
        if clear {
            self.touched.clear();
        }
        added
    }
}

fn unreachable_kind() -> ! {
    // Every row of a RowSet is created in its set's kind.
    unreachable!("row kind matches its row set by construction")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A row of every representation the values allow, by how they are drawn.
    fn rows_of(vals: &BTreeSet<u32>) -> Vec<Row> {
        let v: Vec<u32> = vals.iter().copied().collect();
        let mut out = vec![
            Row::from_sorted(v.clone(), RowKind::Dense { words: 1 }),
            Row::from_sorted(v.clone(), RowKind::Sparse),
            Row::List(v.clone().into_boxed_slice()),
        ];
        if let Ok(r) = RoaringBitmap::from_sorted_iter(v) {
            out.push(Row::Roaring(Box::new(r)));
        }
        out
    }

    proptest! {
        #[test]
        fn intersection_len_counts_the_shared_values_in_every_pair_of_representations(
            a in proptest::collection::btree_set(prop_oneof![0u32..200, 60_000u32..70_000], 1..60),
            b in proptest::collection::btree_set(prop_oneof![0u32..200, 60_000u32..70_000], 1..60),
        ) {
            let want = a.intersection(&b).count() as u64;
            for x in rows_of(&a) {
                for y in rows_of(&b) {
                    prop_assert_eq!(x.intersection_len(&y), want, "{:?} {:?}", x, y);
                }
            }
        }
    }

    proptest! {
        /// Inserts and removals in any order leave exactly the model's pairs, in
        /// every kind and row representation (values narrow and wide, keys near and
        /// far, rows emptied and refilled).
        #[test]
        fn removals_leave_exactly_the_pairs_not_removed(
            ops in proptest::collection::vec(
                (any::<bool>(), prop_oneof![0u32..6, 5_000u32..5_003, 4_000_000u32..4_000_002],
                 prop_oneof![0u32..130, 65_530u32..65_600, 200_000u32..200_003]),
                1..400),
        ) {
            for kind in [RowKind::Dense { words: 1 }, RowKind::Sparse] {
                let mut set = RowSet::new(kind);
                let mut want = BTreeSet::new();
                for &(add, k, v) in &ops {
                    // Dense rows hold narrow values only (as the planner guarantees).
                    let v = if matches!(kind, RowKind::Dense { .. }) { v % 300 } else { v };
                    if add {
                        prop_assert_eq!(set.insert(k, v), want.insert((k, v)));
                    } else {
                        prop_assert_eq!(set.remove(k, v), want.remove(&(k, v)));
                    }
                    prop_assert_eq!(set.len() as usize, want.len());
                }
                prop_assert_eq!(pairs(&set), want.iter().copied().collect::<Vec<_>>());
                for (k, row) in set.iter() {
                    prop_assert!(!row.is_empty(), "key {} kept an empty row", k);
                    prop_assert_eq!(set.row(k).map(|r| r.len()), Some(row.len()));
                }
                let keys: BTreeSet<u32> = want.iter().map(|p| p.0).collect();
                prop_assert_eq!(set.keys().iter().copied().collect::<BTreeSet<u32>>(), keys);
            }
        }
    }

    fn pairs(s: &RowSet) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        s.for_each(|k, x| v.push((k, x)));
        v.sort_unstable();
        v
    }

    #[test]
    fn transpose64_moves_bit_c_of_row_r_to_bit_r_of_row_c() {
        let mut a = [0u64; 64];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for w in a.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x;
        }
        let orig = a;
        transpose64(&mut a);
        for (r, &row) in orig.iter().enumerate() {
            for (c, &col) in a.iter().enumerate() {
                assert_eq!((row >> c) & 1, (col >> r) & 1, "r{r} c{c}");
            }
        }
    }

    #[test]
    fn both_kinds_agree_on_inserts_unions_and_transposition() {
        let mut x = 12345u64;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        for kind in [RowKind::Dense { words: 2 }, RowKind::Sparse] {
            let mut a = RowSet::new(kind);
            let mut b = RowSet::new(kind);
            let mut want = BTreeSet::new();
            for i in 0..3000 {
                // Few keys with long rows (roaring), many with short ones (lists).
                let k = next(if i % 2 == 0 { 300 } else { 12 }) as u32;
                let v = match i % 3 {
                    0 => next(200),
                    1 => next(700),
                    _ => 65_000 + next(3000),
                } as u32;
                let target = if i % 3 == 0 { &mut b } else { &mut a };
                target.insert(k, v);
                want.insert((k, v));
            }
            // A key far away switches the slot table to a hash map and back.
            a.insert(4_000_000, 5);
            want.insert((4_000_000, 5));
            a.union_with(&b);
            let got = pairs(&a);
            assert_eq!(got, want.iter().copied().collect::<Vec<_>>());
            assert_eq!(a.len() as usize, want.len());
            if matches!(kind, RowKind::Sparse) {
                for form in ["short", "list", "roaring"] {
                    let has = a.iter().any(|(_, r)| {
                        matches!(
                            (form, r),
                            ("short", Row::Short(_))
                                | ("list", Row::List(_))
                                | ("roaring", Row::Roaring(_))
                        )
                    });
                    assert!(has, "no {form} row");
                }
                let t = a.transposed();
                let mut tw: Vec<(u32, u32)> = want.iter().map(|&(k, v)| (v, k)).collect();
                tw.sort_unstable();
                assert_eq!(pairs(&t), tw);
                assert_eq!(t.len() as usize, tw.len());
            }
            let mut acc = Acc::default();
            for v in [1u32, 64, 65, 699, 3] {
                acc.set(v);
            }
            let before = a.len();
            let added = acc.drain_into(7, &mut a, Some(&b));
            assert_eq!(a.len(), before + added);
        }
    }

    #[test]
    fn dense_transposition_matches_pairwise() {
        let mut a = RowSet::new(RowKind::Dense { words: 3 });
        let mut x = 7u64;
        for _ in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let (k, v) = (((x >> 20) % 190) as u32, ((x >> 40) % 180) as u32);
            a.insert(k, v);
        }
        let t = a.transposed();
        let mut want: Vec<(u32, u32)> = pairs(&a).into_iter().map(|(k, v)| (v, k)).collect();
        want.sort_unstable();
        assert_eq!(pairs(&t), want);
        assert_eq!(t.len(), a.len());
    }
}
