//! Values as the API sees them (numbers, strings, SX symbols) and their encoding to
//! the interned i64 stored in tuples.

use crate::ast::ColumnType;
use crate::storage::intern::{Interner, SymbolKind};
use std::fmt;

/// One column value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// A number.
    Number(i64),
    /// A string (Soufflé `symbol` values; SX strings).
    Str(String),
    /// An SX symbol used as a constant.
    Sym(String),
}

impl Value {
    /// The column type that holds this value.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Value::Number(_) => ColumnType::Number,
            Value::Str(_) | Value::Sym(_) => ColumnType::Symbol,
        }
    }

    /// Encodes the value, interning text.
    pub fn encode(&self, interner: &mut Interner) -> i64 {
        match self {
            Value::Number(n) => *n,
            Value::Str(s) => interner.intern(SymbolKind::Str, s) as i64,
            Value::Sym(s) => interner.intern(SymbolKind::Sym, s) as i64,
        }
    }

    /// Encodes for a column of type `ty`: a number in a symbol-typed column (an SX
    /// program mixing numbers and text) is interned. `None`: text in a number column.
    pub fn encode_in(&self, ty: ColumnType, interner: &mut Interner) -> Option<i64> {
        match (self, ty) {
            (Value::Number(n), ColumnType::Symbol) => Some(interner.intern_int(*n) as i64),
            (Value::Number(n), ColumnType::Number) => Some(*n),
            (_, ColumnType::Symbol) => Some(self.encode(interner)),
            (_, ColumnType::Number) => None,
        }
    }

    /// Looks up as [`encode_in`](Self::encode_in) encodes, without interning (None: never
    /// seen, or text in a number column: nothing matches).
    pub fn lookup_in(&self, ty: ColumnType, interner: &Interner) -> Option<i64> {
        match (self, ty) {
            (Value::Number(n), ColumnType::Symbol) => interner.get_int(*n).map(i64::from),
            (Value::Number(n), ColumnType::Number) => Some(*n),
            (_, ColumnType::Symbol) => self.lookup(interner),
            (_, ColumnType::Number) => None,
        }
    }

    /// Encodes without interning (None: the text was never seen, so nothing matches).
    pub fn lookup(&self, interner: &Interner) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Str(s) => interner.get(SymbolKind::Str, s).map(i64::from),
            Value::Sym(s) => interner.get(SymbolKind::Sym, s).map(i64::from),
        }
    }

    /// Decodes a stored value of a column of type `ty`.
    pub fn decode(v: i64, ty: ColumnType, interner: &Interner) -> Value {
        match ty {
            ColumnType::Number => Value::Number(v),
            ColumnType::Symbol => match interner.resolve(v as u32) {
                Some((SymbolKind::Str, s)) => Value::Str(s.to_string()),
                Some((SymbolKind::Sym, s)) => Value::Sym(s.to_string()),
                Some((SymbolKind::Int, s)) => {
                    s.parse().map_or(Value::Str(format!("#{v}")), Value::Number)
                }
                None => Value::Str(format!("#{v}")),
            },
        }
    }
}

/// `42.into()` is a number.
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n)
    }
}

/// `"alice".into()` is a string, what a Soufflé `symbol` column holds.
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

/// An owned string is a string value.
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl fmt::Display for Value {
    /// Soufflé's output format: numbers in decimal, text raw.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Str(s) | Value::Sym(s) => f.write_str(s),
        }
    }
}
