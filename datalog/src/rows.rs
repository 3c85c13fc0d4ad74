//! Row storage for binary relations over dense ids: key -> set of values, each set a
//! dense bitset row (small domains, large rows) or a roaring bitmap (sparse rows).
//! Set-at-a-time steps union whole rows through [`Acc`], a scratch bitset.
//!
//! Invariant: values and keys are non-negative and fit in u32; `nonempty` lists every
//! key whose row is non-empty, each once.

use roaring::RoaringBitmap;

/// How the rows of a relation are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Each row a bitset of `words` 64-bit words (grown on demand).
    Dense {
        /// Initial width in words.
        words: usize,
    },
    /// Each row a roaring bitmap.
    Sparse,
}

/// One row: the set of values for one key.
#[derive(Clone, Debug)]
pub enum Row {
    /// A dense bitset.
    Dense(Vec<u64>),
    /// A roaring bitmap.
    Sparse(RoaringBitmap),
}

impl Row {
    fn empty(kind: RowKind) -> Row {
        match kind {
            RowKind::Dense { .. } => Row::Dense(Vec::new()),
            RowKind::Sparse => Row::Sparse(RoaringBitmap::new()),
        }
    }

    /// Whether `v` is in the row.
    #[inline]
    pub fn contains(&self, v: u32) -> bool {
        match self {
            Row::Dense(w) => w
                .get(v as usize >> 6)
                .is_some_and(|x| x & (1u64 << (v & 63)) != 0),
            Row::Sparse(r) => r.contains(v),
        }
    }

    /// Adds `v`; false when present. `words` is the initial width of a dense row.
    #[inline]
    fn insert(&mut self, v: u32, words: usize) -> bool {
        match self {
            Row::Dense(w) => {
                let i = v as usize >> 6;
                if i >= w.len() {
                    w.resize((i + 1).max(words), 0);
                }
                let bit = 1u64 << (v & 63);
                let was = w[i] & bit != 0;
                w[i] |= bit;
                !was
            }
            Row::Sparse(r) => r.insert(v),
        }
    }

    /// Calls `f` on every value, ascending.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Row::Dense(words) => {
                for (i, &w) in words.iter().enumerate() {
                    let mut w = w;
                    while w != 0 {
                        let b = w.trailing_zeros();
                        f(((i as u32) << 6) | b);
                        w &= w - 1;
                    }
                }
            }
            Row::Sparse(r) => r.iter().for_each(f),
        }
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        match self {
            Row::Dense(w) => w.iter().map(|x| x.count_ones() as u64).sum(),
            Row::Sparse(r) => r.len(),
        }
    }

    /// Whether the row is empty.
    pub fn is_empty(&self) -> bool {
        match self {
            Row::Dense(w) => w.iter().all(|&x| x == 0),
            Row::Sparse(r) => r.is_empty(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Row::Dense(w) => w.capacity() * 8,
            Row::Sparse(r) => r.serialized_size(),
        }
    }
}

/// A binary relation stored as rows keyed by one column.
#[derive(Clone, Debug)]
pub struct RowSet {
    kind: RowKind,
    rows: Vec<Row>,
    nonempty: Vec<u32>,
    /// listed[k]: k is in `nonempty`.
    listed: Vec<bool>,
    len: u64,
}

impl RowSet {
    /// An empty row set.
    pub fn new(kind: RowKind) -> Self {
        RowSet {
            kind,
            rows: Vec::new(),
            nonempty: Vec::new(),
            listed: Vec::new(),
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

    /// Keys with a non-empty row, in first-insertion order.
    pub fn keys(&self) -> &[u32] {
        &self.nonempty
    }

    /// The row of `k`, if any.
    #[inline]
    pub fn row(&self, k: u32) -> Option<&Row> {
        self.rows.get(k as usize)
    }

    /// Whether (k, v) is present.
    #[inline]
    pub fn contains(&self, k: u32, v: u32) -> bool {
        self.rows.get(k as usize).is_some_and(|r| r.contains(v))
    }

    /// Records that row `k` is non-empty.
    #[inline]
    fn mark(&mut self, k: u32) {
        let i = k as usize;
        if i >= self.listed.len() {
            self.listed.resize(i + 1, false);
        }
        if !self.listed[i] {
            self.listed[i] = true;
            self.nonempty.push(k);
        }
    }

    fn row_mut(&mut self, k: u32) -> &mut Row {
        let k = k as usize;
        if k >= self.rows.len() {
            let kind = self.kind;
            self.rows.resize_with(k + 1, || Row::empty(kind));
        }
        &mut self.rows[k]
    }

    fn words(&self) -> usize {
        match self.kind {
            RowKind::Dense { words } => words,
            RowKind::Sparse => 0,
        }
    }

    /// Adds (k, v); false when present.
    #[inline]
    pub fn insert(&mut self, k: u32, v: u32) -> bool {
        let words = self.words();
        let added = self.row_mut(k).insert(v, words);
        if added {
            self.len += 1;
            self.mark(k);
        }
        added
    }

    /// Calls `f(k, v)` on every pair.
    pub fn for_each(&self, mut f: impl FnMut(u32, u32)) {
        for &k in &self.nonempty {
            self.rows[k as usize].for_each(|v| f(k, v));
        }
    }

    /// Adds every pair of `other` (same orientation).
    pub fn union_with(&mut self, other: &RowSet) {
        for &k in &other.nonempty {
            let src = &other.rows[k as usize];
            match src {
                Row::Sparse(b) if matches!(self.kind, RowKind::Sparse) => {
                    let was = self.rows.get(k as usize).map_or(0, |r| r.len());
                    let dst = self.row_mut(k);
                    if let Row::Sparse(d) = dst {
                        *d |= b;
                    }
                    let now = self.rows[k as usize].len();
                    if now > 0 {
                        self.mark(k);
                    }
                    self.len += now - was;
                }
                Row::Dense(sw) if matches!(self.kind, RowKind::Dense { .. }) => {
                    let words = self.words().max(sw.len());
                    let dst = self.row_mut(k);
                    let Row::Dense(dw) = dst else { continue };
                    if dw.len() < sw.len() {
                        dw.resize(words, 0);
                    }
                    let mut added = 0u64;
                    for (d, s) in dw.iter_mut().zip(sw) {
                        added += (s & !*d).count_ones() as u64;
                        *d |= s;
                    }
                    if added > 0 {
                        self.mark(k);
                    }
                    self.len += added;
                }
                _ => {
                    let mut vals = Vec::new();
                    src.for_each(|v| vals.push(v));
                    for v in vals {
                        self.insert(k, v);
                    }
                }
            }
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        for &k in &self.nonempty {
            self.rows[k as usize] = Row::empty(self.kind);
            self.listed[k as usize] = false;
        }
        self.nonempty.clear();
        self.len = 0;
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self
                .nonempty
                .iter()
                .map(|&k| self.rows[k as usize].heap_bytes())
                .sum::<usize>()
    }
}

/// A scratch bitset accumulating one row of a set-at-a-time step.
#[derive(Clone, Debug, Default)]
pub struct Acc {
    words: Vec<u64>,
    touched: Vec<u32>,
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
            Row::Dense(ws) => {
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
            Row::Sparse(r) => {
                for v in r.iter() {
                    self.set(v);
                }
            }
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
        let known_row = known.and_then(|kn| kn.row(k));
        let mut added = 0u64;
        match dst.kind {
            RowKind::Dense { words } => {
                let max_w = self.touched.iter().copied().max().unwrap_or(0) as usize + 1;
                let row = dst.row_mut(k);
                let Row::Dense(dw) = row else {
                    unreachable_kind()
                };
                if dw.len() < max_w {
                    dw.resize(max_w.max(words), 0);
                }
                for &i in &self.touched {
                    let i = i as usize;
                    let mut w = self.words[i];
                    if clear {
                        self.words[i] = 0;
                    }
                    if let Some(kr) = known_row {
                        match kr {
                            Row::Dense(kw) => w &= !kw.get(i).copied().unwrap_or(0),
                            Row::Sparse(_) => {
                                let mut m = w;
                                while m != 0 {
                                    let b = m.trailing_zeros();
                                    if kr.contains(((i as u32) << 6) | b) {
                                        w &= !(1u64 << b);
                                    }
                                    m &= m - 1;
                                }
                            }
                        }
                    }
                    let new = w & !dw[i];
                    dw[i] |= new;
                    added += new.count_ones() as u64;
                }
                if clear {
                    self.touched.clear();
                }
                if added > 0 {
                    dst.mark(k);
                }
                dst.len += added;
            }
            RowKind::Sparse => {
                self.touched.sort_unstable();
                let mut vals = Vec::new();
                for &i in &self.touched {
                    let i = i as usize;
                    let mut w = self.words[i];
                    if clear {
                        self.words[i] = 0;
                    }
                    while w != 0 {
                        let v = ((i as u32) << 6) | w.trailing_zeros();
                        w &= w - 1;
                        if known_row.is_none_or(|kr| !kr.contains(v)) {
                            vals.push(v);
                        }
                    }
                }
                if clear {
                    self.touched.clear();
                }
                if vals.is_empty() {
                    return 0;
                }
                let was = dst.rows.get(k as usize).map_or(0, |r| r.len());
                let row = dst.row_mut(k);
                let Row::Sparse(b) = row else {
                    unreachable_kind()
                };
                if b.is_empty() {
                    *b = RoaringBitmap::from_sorted_iter(vals).unwrap_or_default();
                } else {
                    b.extend(vals);
                }
                let now = b.len();
                added = now - was;
                if now > 0 {
                    dst.mark(k);
                }
                dst.len += added;
            }
        }
        added
    }
}

fn unreachable_kind() -> ! {
    // Every row of a RowSet is created by `Row::empty(self.kind)`.
    unreachable!("row kind matches its row set by construction")
}

impl RowSet {
    /// Adds every value of `src` to row `k`.
    pub fn union_row(&mut self, k: u32, src: &Row) {
        let words = self.words();
        let was = self.rows.get(k as usize).map_or(0, |r| r.len());
        let dst = self.row_mut(k);
        match (dst, src) {
            (Row::Sparse(d), Row::Sparse(s)) => *d |= s,
            (Row::Dense(d), Row::Dense(s)) => {
                if d.len() < s.len() {
                    d.resize(s.len().max(words), 0);
                }
                for (x, y) in d.iter_mut().zip(s) {
                    *x |= y;
                }
            }
            (dst, src) => src.for_each(|v| {
                dst.insert(v, words);
            }),
        }
        let now = self.rows[k as usize].len();
        if now > 0 {
            self.mark(k);
        }
        self.len += now - was;
    }
}
