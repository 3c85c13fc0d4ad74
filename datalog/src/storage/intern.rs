//! Symbol interning: every distinct string gets a dense `u32` id, stored in tuples as i64.

use hashbrown::HashMap;

/// Whether an interned value came from a string or from an SX symbol; Soufflé text only
/// has strings. The two never compare equal, so `"a"` and `a` stay distinct values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    /// A string (Soufflé `symbol` values, SX strings).
    Str,
    /// An SX symbol used as a constant (`alice` in `(parent alice bob)`).
    Sym,
    /// A number in a symbol-typed column of an SX program (one that mixes numbers and
    /// text); the text is the number in decimal.
    Int,
}

/// A bidirectional map between strings and dense ids.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    /// Ids of strings, looked up by `&str` without allocating.
    strs: HashMap<Box<str>, u32>,
    /// Ids of SX symbols.
    syms: HashMap<Box<str>, u32>,
    /// Ids of numbers held in symbol-typed columns, by their decimal text.
    ints: HashMap<Box<str>, u32>,
    texts: Vec<(SymbolKind, Box<str>)>,
}

impl Interner {
    /// The id of `text`, assigning the next one on first sight.
    pub fn intern(&mut self, kind: SymbolKind, text: &str) -> u32 {
        if let Some(id) = self.get(kind, text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push((kind, Box::from(text)));
        self.map_mut(kind).insert(Box::from(text), id);
        id
    }

    /// The id of `text` if it was interned.
    pub fn get(&self, kind: SymbolKind, text: &str) -> Option<u32> {
        match kind {
            SymbolKind::Str => self.strs.get(text),
            SymbolKind::Sym => self.syms.get(text),
            SymbolKind::Int => self.ints.get(text),
        }
        .copied()
    }

    fn map_mut(&mut self, kind: SymbolKind) -> &mut HashMap<Box<str>, u32> {
        match kind {
            SymbolKind::Str => &mut self.strs,
            SymbolKind::Sym => &mut self.syms,
            SymbolKind::Int => &mut self.ints,
        }
    }

    /// The id of the number `n` as held in a symbol-typed column.
    pub fn intern_int(&mut self, n: i64) -> u32 {
        self.intern(SymbolKind::Int, &n.to_string())
    }

    /// The id of the number `n` in symbol-typed columns, if it was interned.
    pub fn get_int(&self, n: i64) -> Option<u32> {
        self.get(SymbolKind::Int, &n.to_string())
    }

    /// The number behind an id made by [`intern_int`](Self::intern_int).
    pub fn int_of(&self, id: i64) -> Option<i64> {
        match self.resolve(u32::try_from(id).ok()?)? {
            (SymbolKind::Int, text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The text and kind of an id.
    pub fn resolve(&self, id: u32) -> Option<(SymbolKind, &str)> {
        self.texts.get(id as usize).map(|(k, t)| (*k, &**t))
    }

    /// How many symbols are interned.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}
