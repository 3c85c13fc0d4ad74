//! Runtime values of SX.
//!
//! Lists and dicts are immutable: operations build new values. A list is a view
//! (`start..`) into a shared vector so that `rest` and `drop` are O(1).

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use crate::closure::Closure;
use crate::prims::Prim;
use crate::span::Span;
use crate::symbol::Sym;

/// An SX value.
///
/// `repr(u8)` fixes the layout (a one-byte tag first, each variant's fields laid
/// out after it as in C), which [`Value::write_int`] and [`Value::write_bool`]
/// rely on to store a whole value at once.
#[repr(u8)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit integer; arithmetic overflow is an error, never a wrap.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// An immutable string.
    Str(Rc<str>),
    /// A symbol.
    Sym(Sym),
    /// A keyword (`:name`); the symbol holds the name without the colon.
    Keyword(Sym),
    /// An immutable list.
    List(List),
    /// An immutable dict that keeps insertion order.
    Dict(Rc<Dict>),
    /// A closure made by `fn`/`lambda`/`define`.
    Lambda(Rc<Closure>),
    /// A primitive function.
    Prim(&'static Prim),
    /// An error value, as made by `error` or raised by a primitive.
    Error(Rc<ErrorValue>),
    /// A host object (an engine database, for one): equal only to itself, and
    /// freed when its last reference goes.
    Native(Rc<Native>),
}

/// A host object held by SX values.
pub struct Native {
    /// What it is (printed as `#<native KIND>`).
    pub kind: &'static str,
    /// The object.
    pub data: std::cell::RefCell<Box<dyn std::any::Any>>,
}

impl Native {
    /// A value holding `data`.
    pub fn value(kind: &'static str, data: Box<dyn std::any::Any>) -> Value {
        Value::Native(Rc::new(Native {
            kind,
            data: std::cell::RefCell::new(data),
        }))
    }
}

/// The tag of `v`'s variant: its first byte, under `repr(u8)`.
const fn tag_of(v: Value) -> u8 {
    let v = std::mem::ManuallyDrop::new(v);
    // SAFETY: under `repr(u8)` every variant starts with its initialised tag byte;
    // `ManuallyDrop` is `repr(transparent)`.
    unsafe { *(&v as *const std::mem::ManuallyDrop<Value> as *const u8) }
}

/// The tags of the variants [`Value::write_int`] and [`Value::write_bool`] build.
const INT_TAG: u8 = tag_of(Value::Int(0));
const BOOL_TAG: u8 = tag_of(Value::Bool(false));

impl Value {
    /// Writes `Value::Int(i)` at `dst` with one 16-byte store.
    ///
    /// The VM moves values with wide loads; a value built from a tag store and a
    /// payload store cannot be forwarded to such a load, which then waits for both
    /// stores to reach the cache: a stall on every int result a call returns.
    ///
    /// # Safety
    /// `dst` must be valid for a write and hold nothing that needs dropping.
    #[inline(always)]
    pub unsafe fn write_int(dst: *mut Value, i: i64) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: under `repr(u8)` an `Int` is the tag byte at 0 (then padding) and
        // the i64 at 8, so these 16 bytes are a valid `Value::Int(i)`; SSE2 is part
        // of x86_64; the caller's contract covers the write.
        unsafe {
            use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_storeu_si128};
            _mm_storeu_si128(dst.cast::<__m128i>(), _mm_set_epi64x(i, INT_TAG as i64));
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: the caller's contract.
        unsafe {
            dst.write(Value::Int(i))
        }
    }

    /// Writes `Value::Bool(b)` at `dst` with one 16-byte store (see
    /// [`Value::write_int`]).
    ///
    /// # Safety
    /// As [`Value::write_int`].
    #[inline(always)]
    pub unsafe fn write_bool(dst: *mut Value, b: bool) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Bool` is the tag byte at 0 and the bool byte at 1; the rest of
        // the 16 bytes is padding.
        unsafe {
            use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_storeu_si128};
            let word = BOOL_TAG as i64 | (b as i64) << 8;
            _mm_storeu_si128(dst.cast::<__m128i>(), _mm_set_epi64x(0, word));
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: the caller's contract.
        unsafe {
            dst.write(Value::Bool(b))
        }
    }

    /// Writes a clone of the value at `dst`: counts the new owner of a shared
    /// payload, then copies the value whole, straight into place (a clone returned
    /// by value went through a temporary on the stack first).
    ///
    /// # Safety
    /// `dst` must be valid for a write, hold nothing that needs dropping, and not
    /// overlap `self`.
    #[inline(always)]
    pub unsafe fn clone_to(&self, dst: *mut Value) {
        self.count_new_owner();
        // SAFETY: the count was raised for the copy to own; the caller's contract
        // covers the write.
        unsafe { std::ptr::copy_nonoverlapping(self, dst, 1) }
    }

    /// Raises the count of a shared payload for one more owner.
    #[inline(always)]
    fn count_new_owner(&self) {
        match self {
            Value::Str(s) => std::mem::forget(Rc::clone(s)),
            Value::List(l) => std::mem::forget(Rc::clone(&l.items)),
            Value::Dict(d) => std::mem::forget(Rc::clone(d)),
            Value::Lambda(c) => std::mem::forget(Rc::clone(c)),
            Value::Error(e) => std::mem::forget(Rc::clone(e)),
            Value::Native(n) => std::mem::forget(Rc::clone(n)),
            // Plain data (see `owns_heap`).
            _ => {}
        }
    }
}

impl Clone for Value {
    /// Counts the new owner of a shared payload, then copies the value whole. (The
    /// derived field-by-field copy built values from partial stores that the next
    /// full-width load could not forward: a stall on every VM push.)
    #[inline(always)]
    fn clone(&self) -> Value {
        self.count_new_owner();
        // SAFETY: a shared payload's count was raised above for the copy to own;
        // every other payload is plain data.
        unsafe { std::ptr::read(self) }
    }
}

pub use crate::dict::{Dict, SharedKeys};

/// An error value: a message and where it was raised.
#[derive(Debug)]
pub struct ErrorValue {
    /// The full message (irritants already appended).
    pub message: String,
    /// Where the error was raised, when known.
    pub span: Option<Span>,
}

/// An immutable list: a view from `start` to the end of a shared vector.
#[derive(Clone)]
pub struct List {
    items: Rc<Vec<Value>>,
    start: u32,
}

impl List {
    /// The empty list.
    pub fn empty() -> List {
        thread_local! {
            static EMPTY: Rc<Vec<Value>> = Rc::new(Vec::new());
        }
        List {
            items: EMPTY.with(|e| e.clone()),
            start: 0,
        }
    }

    /// A list owning `items`.
    pub fn from_vec(items: Vec<Value>) -> List {
        List {
            items: Rc::new(items),
            start: 0,
        }
    }

    /// The elements.
    pub fn as_slice(&self) -> &[Value] {
        &self.items[self.start as usize..]
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len() - self.start as usize
    }

    /// True when the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The list without its first `n` elements (clamped), sharing storage.
    pub fn drop_front(&self, n: usize) -> List {
        let n = n.min(self.len());
        if n == self.len() {
            return List::empty();
        }
        List {
            items: self.items.clone(),
            start: self.start + n as u32,
        }
    }

    /// Whether this list alone holds its storage, from its start (so `push` grows it
    /// in place).
    pub fn is_unique(&mut self) -> bool {
        self.start == 0 && Rc::get_mut(&mut self.items).is_some()
    }

    /// Appends `v`, in place when no other list shares the storage (a list being
    /// built by a loop), else on a copy.
    pub fn push(&mut self, v: Value) {
        if self.start != 0 {
            *self = List::from_vec(self.to_vec());
        }
        Rc::make_mut(&mut self.items).push(v);
    }

    /// The elements as an owned vector.
    pub fn to_vec(&self) -> Vec<Value> {
        self.as_slice().to_vec()
    }
}

impl Value {
    /// Whether dropping this value releases anything (a shared payload).
    #[inline(always)]
    pub fn owns_heap(&self) -> bool {
        !matches!(
            self,
            Value::Nil
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Sym(_)
                | Value::Keyword(_)
                | Value::Prim(_)
        )
    }

    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    /// A symbol value.
    pub fn sym(name: &str) -> Value {
        Value::Sym(Sym::new(name))
    }

    /// A keyword value (`name` without the colon).
    pub fn keyword(name: &str) -> Value {
        Value::Keyword(Sym::new(name))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(List::from_vec(items))
    }

    /// The empty list.
    pub fn empty_list() -> Value {
        Value::List(List::empty())
    }

    /// A dict value.
    pub fn dict(d: Dict) -> Value {
        Value::Dict(Rc::new(d))
    }

    /// A dict value with room for `capacity` entries, filled by `build` where it
    /// lives (a small dict is as large as its inline entries: moving one built
    /// elsewhere into place is a copy of all of them).
    #[inline]
    pub fn dict_built(capacity: usize, build: impl FnOnce(&mut Dict)) -> Value {
        let mut d = Rc::new(Dict::with_capacity(capacity));
        if let Some(d) = Rc::get_mut(&mut d) {
            build(d);
        }
        Value::Dict(d)
    }

    /// An error value with `message`.
    pub fn error(message: impl Into<String>, span: Option<Span>) -> Value {
        Value::Error(Rc::new(ErrorValue {
            message: message.into(),
            span,
        }))
    }

    /// Only `nil` and `false` are falsy.
    #[inline]
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// The kind name used in error messages and by `type-of`.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Sym(_) => "symbol",
            Value::Keyword(_) => "keyword",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Lambda(_) | Value::Prim(_) => "fn",
            Value::Error(_) => "error",
            Value::Native(_) => "native",
        }
    }

    /// True for lambdas and primitives.
    pub fn is_fn(&self) -> bool {
        matches!(self, Value::Lambda(_) | Value::Prim(_))
    }

    /// The elements when this is a list.
    pub fn as_list(&self) -> Option<&List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries when this is a dict.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The rank of this value's kind in the total order.
    fn order_rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Sym(_) => 4,
            Value::Keyword(_) => 5,
            Value::List(_) => 6,
            Value::Dict(_) => 7,
            Value::Lambda(_) | Value::Prim(_) => 8,
            Value::Error(_) => 9,
            Value::Native(_) => 10,
        }
    }
}

/// Structural equality, numeric across ints and floats (`(= 1 1.0)` is true).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => int_eq_float(*x, *y),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Sym(x), Value::Sym(y)) => x == y,
        (Value::Keyword(x), Value::Keyword(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (x.as_slice(), y.as_slice());
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Lambda(x), Value::Lambda(y)) => Rc::ptr_eq(x, y),
        (Value::Prim(x), Value::Prim(y)) => std::ptr::eq(*x, *y),
        (Value::Error(x), Value::Error(y)) => Rc::ptr_eq(x, y) || x.message == y.message,
        (Value::Native(x), Value::Native(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn int_eq_float(i: i64, f: f64) -> bool {
    f.fract() == 0.0
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
        && f as i64 == i
}

/// Compares two numbers exactly (no precision lost for large ints).
pub fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => cmp_int_float(*y, *x).map(Ordering::reverse),
        _ => None,
    }
}

fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9.223_372_036_854_776e18 {
        return Some(Ordering::Less);
    }
    if f < -9.223_372_036_854_776e18 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)),
        o => Some(o),
    }
}

/// The one total order over values: nil < booleans < numbers < strings < symbols <
/// keywords < lists < dicts (then functions and errors, which compare equal among
/// themselves). Used by `sort`, `sort-by` and `dl-query`.
pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
    // The common case first (rows of ints, sorted by `sort` and `dl-query`).
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return x.cmp(y);
    }
    let (ra, rb) = (a.order_rank(), b.order_rank());
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), _) => compare_numbers(a, b).unwrap_or_else(|| {
            // NaN sorts after every other number.
            let an = matches!(a, Value::Float(f) if f.is_nan());
            let bn = matches!(b, Value::Float(f) if f.is_nan());
            an.cmp(&bn)
        }),
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Sym(x), Value::Sym(y)) | (Value::Keyword(x), Value::Keyword(y)) => {
            x.with_name(|xn| y.with_name(|yn| xn.as_bytes().cmp(yn.as_bytes())))
        }
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (x.as_slice(), y.as_slice());
            for (p, q) in x.iter().zip(y) {
                let o = total_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Dict(x), Value::Dict(y)) => {
            for ((k1, v1), (k2, v2)) in x.iter().zip(y.iter()) {
                let o = total_cmp(k1, k2).then_with(|| total_cmp(v1, v2));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Native(x), Value::Native(y)) => Rc::as_ptr(x).cmp(&Rc::as_ptr(y)),
        _ => Ordering::Equal,
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        equal(self, other)
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Nil => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => {
                // Equal to an int: hash as that int, so `=` and hashing agree.
                if int_eq_float(*f as i64, *f) {
                    (*f as i64).hash(state)
                } else {
                    f.to_bits().hash(state)
                }
            }
            Value::Str(s) => s.hash(state),
            Value::Sym(s) => (1u8, s.0).hash(state),
            Value::Keyword(s) => (2u8, s.0).hash(state),
            Value::List(l) => {
                l.len().hash(state);
                for v in l.as_slice() {
                    v.hash(state);
                }
            }
            // Dict equality ignores order, so the hash must too.
            Value::Dict(d) => d.len().hash(state),
            Value::Lambda(c) => (Rc::as_ptr(c) as usize).hash(state),
            Value::Prim(p) => (*p as *const Prim as usize).hash(state),
            Value::Error(e) => e.message.hash(state),
            Value::Native(n) => (Rc::as_ptr(n) as usize).hash(state),
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::printer::repr(self))
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::printer::display(self))
    }
}

#[cfg(test)]
mod tests {
    use super::Value;
    use std::mem::MaybeUninit;

    #[test]
    fn wide_writes_build_the_values_they_name() {
        for i in [0, 1, -1, i64::MIN, i64::MAX, 0x1234_5678_9abc] {
            let mut slot = MaybeUninit::<Value>::uninit();
            // SAFETY: the slot is writable and holds nothing.
            let v = unsafe {
                Value::write_int(slot.as_mut_ptr(), i);
                slot.assume_init()
            };
            assert!(matches!(v, Value::Int(j) if j == i), "write_int({i})");
        }
        for b in [false, true] {
            let mut slot = MaybeUninit::<Value>::uninit();
            // SAFETY: as above.
            let v = unsafe {
                Value::write_bool(slot.as_mut_ptr(), b);
                slot.assume_init()
            };
            assert!(matches!(v, Value::Bool(c) if c == b), "write_bool({b})");
        }
    }
}
