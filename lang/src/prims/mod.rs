//! Primitive functions. Each module holds one area; [`ALL`] lists every primitive.
//!
//! Plain primitives are Rust functions over their arguments. Higher-order ones
//! (`map`, `filter`, …) are not Rust loops: they name a [`Higher`] operation that
//! each evaluator runs as resumable machine state, so a `perform` inside a callback
//! suspends the loop with everything else.

mod dicts;
pub mod docs;
mod io;
mod lists;
mod numbers;
pub(crate) use numbers::int_mod;
mod strings;
mod tools;
mod types;
pub mod web;

use std::io::Write;

use crate::value::Value;

/// A primitive's implementation.
pub enum PrimImpl {
    /// A function of the already-evaluated arguments.
    Plain(fn(&[Value], &mut PrimCtx) -> Result<Value, PrimError>),
    /// A higher-order operation driven by the evaluator.
    Higher(Higher),
    /// A tool that works on the interpreter itself (tiering, bytecode inspection).
    Interp(fn(&[Value], &mut crate::Interp) -> Result<Value, PrimError>),
    /// Like `Interp`, but it may hand its call on: answer a value, or a function
    /// and arguments that the evaluator then calls in its place (a tail call). The
    /// `dl-*` API serves engine programs itself and hands SX ones to their functions.
    Dispatch(fn(&[Value], &mut crate::Interp) -> Result<Dispatched, PrimError>),
}

/// What a [`PrimImpl::Dispatch`] primitive answers.
pub enum Dispatched {
    /// Its value.
    Value(Value),
    /// Call this function with these arguments in its place.
    Call(Value, Vec<Value>),
}

/// The higher-order primitives, run by the evaluator as resumable loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Higher {
    /// `(map f xs)`
    Map,
    /// `(filter f xs)`
    Filter,
    /// `(reduce f init xs)`
    Reduce,
    /// `(for-each f xs)`
    ForEach,
    /// `(some f xs)`
    Some,
    /// `(every? f xs)`
    Every,
    /// `(sort-by f xs)`
    SortBy,
    /// `(apply f args)` / `(apply f a b args)`
    Apply,
}

/// A primitive function.
pub struct Prim {
    /// Its global name.
    pub name: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments (`None`: variadic).
    pub max: Option<usize>,
    /// What it does.
    pub imp: PrimImpl,
    /// No effect beyond its result: safe to evaluate without continuation frames.
    pub pure: bool,
    /// A fast path for exactly two int arguments; `None` from it (overflow) means
    /// "take the general path", which raises the proper error.
    pub int2: Option<fn(i64, i64) -> Option<Value>>,
}

impl std::fmt::Debug for Prim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#<prim {}>", self.name)
    }
}

/// How a primitive fails.
#[derive(Debug)]
pub enum PrimError {
    /// An error with this message (the evaluator adds the position).
    Msg(String),
    /// `raise` of an arbitrary value.
    Raise(Value),
}

/// What primitives may touch besides their arguments.
pub struct PrimCtx<'a> {
    /// Where `print`/`println` write.
    pub out: &'a mut dyn Write,
    /// Counter for `gensym`.
    pub gensym: &'a mut u64,
    /// The interpreter's count of non-idempotent effects (output counts).
    pub effects: &'a mut u64,
}

/// `NAME: expected (SIG), got (KINDS)`.
pub fn type_error(name: &str, expected: &str, args: &[Value]) -> PrimError {
    let kinds: Vec<&str> = args.iter().map(Value::kind).collect();
    PrimError::Msg(format!(
        "{name}: expected ({expected}), got ({})",
        kinds.join(" ")
    ))
}

/// `NAME: expected N arguments, got M` (with "at least" / "at most" / ranges).
pub fn arity_message(name: &str, min: usize, max: Option<usize>, got: usize) -> String {
    match max {
        Some(m) if m == min => format!("{name}: expected {min} arguments, got {got}"),
        Some(m) => format!("{name}: expected {min} to {m} arguments, got {got}"),
        None => format!("{name}: expected at least {min} arguments, got {got}"),
    }
}

impl Prim {
    /// Checks the argument count, giving the arity error message when it is wrong.
    #[inline]
    pub fn check_arity(&self, got: usize) -> Result<(), String> {
        if got < self.min || self.max.is_some_and(|m| got > m) {
            Err(arity_message(self.name, self.min, self.max, got))
        } else {
            Ok(())
        }
    }
}

macro_rules! plain {
    ($name:expr, $min:expr, $max:expr, $f:expr) => {
        $crate::prims::Prim {
            name: $name,
            min: $min,
            max: $max,
            imp: $crate::prims::PrimImpl::Plain($f),
            pure: true,
            int2: None,
        }
    };
    ($name:expr, $min:expr, $max:expr, $f:expr, $int2:expr) => {
        $crate::prims::Prim {
            name: $name,
            min: $min,
            max: $max,
            imp: $crate::prims::PrimImpl::Plain($f),
            pure: true,
            int2: Some($int2),
        }
    };
}
pub(crate) use plain;

macro_rules! effect {
    ($name:expr, $min:expr, $max:expr, $f:expr) => {
        $crate::prims::Prim {
            name: $name,
            min: $min,
            max: $max,
            imp: $crate::prims::PrimImpl::Plain($f),
            pure: false,
            int2: None,
        }
    };
}
pub(crate) use effect;

/// Every primitive, in no particular order.
pub fn all() -> impl Iterator<Item = &'static Prim> {
    numbers::PRIMS
        .iter()
        .chain(types::PRIMS)
        .chain(lists::PRIMS)
        .chain(strings::PRIMS)
        .chain(dicts::PRIMS)
        .chain(io::PRIMS)
        .chain(tools::PRIMS)
        .chain(docs::PRIMS)
        .chain(web::PRIMS)
        .chain(HIGHER.iter())
}

static HIGHER: &[Prim] = &[
    Prim {
        name: "map",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::Map),
        pure: false,
        int2: None,
    },
    Prim {
        name: "filter",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::Filter),
        pure: false,
        int2: None,
    },
    Prim {
        name: "reduce",
        min: 3,
        max: Some(3),
        imp: PrimImpl::Higher(Higher::Reduce),
        pure: false,
        int2: None,
    },
    Prim {
        name: "for-each",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::ForEach),
        pure: false,
        int2: None,
    },
    Prim {
        name: "some",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::Some),
        pure: false,
        int2: None,
    },
    Prim {
        name: "every?",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::Every),
        pure: false,
        int2: None,
    },
    Prim {
        name: "sort-by",
        min: 2,
        max: Some(2),
        imp: PrimImpl::Higher(Higher::SortBy),
        pure: false,
        int2: None,
    },
    Prim {
        name: "apply",
        min: 2,
        max: None,
        imp: PrimImpl::Higher(Higher::Apply),
        pure: false,
        int2: None,
    },
];

/// Looks a primitive up by name.
pub fn lookup(name: &str) -> Option<&'static Prim> {
    all().find(|p| p.name == name)
}

/// Validates the arguments of a higher-order primitive and returns the function, the
/// list it walks, and (for `reduce`) the initial accumulator. Shared by every tier so
/// that they raise identical messages.
pub fn higher_args(op: Higher, name: &str, args: &[Value]) -> Result<HigherArgs, PrimError> {
    match op {
        Higher::Reduce => match args {
            [f, init, Value::List(xs)] if f.is_fn() => Ok(HigherArgs {
                f: f.clone(),
                init: init.clone(),
                items: xs.clone(),
            }),
            [f, init, Value::Nil] if f.is_fn() => Ok(HigherArgs {
                f: f.clone(),
                init: init.clone(),
                items: crate::value::List::empty(),
            }),
            _ => Err(type_error(name, "fn any list", args)),
        },
        Higher::Apply => {
            let (f, middle, xs) = apply_parts(name, args)?;
            let mut all = middle.to_vec();
            all.extend_from_slice(xs.as_slice());
            Ok(HigherArgs {
                f: f.clone(),
                init: Value::Nil,
                items: crate::value::List::from_vec(all),
            })
        }
        _ => match args {
            [f, Value::List(xs)] if f.is_fn() => Ok(HigherArgs {
                f: f.clone(),
                init: Value::Nil,
                items: xs.clone(),
            }),
            [f, Value::Nil] if f.is_fn() => Ok(HigherArgs {
                f: f.clone(),
                init: Value::Nil,
                items: crate::value::List::empty(),
            }),
            _ => Err(type_error(name, "fn list", args)),
        },
    }
}

/// Whether [`higher_args`] would accept `args`, without building them (for
/// `apply`, building means copying the whole argument list).
pub fn check_higher_args(op: Higher, name: &str, args: &[Value]) -> Result<(), PrimError> {
    match op {
        Higher::Apply => apply_parts(name, args).map(drop),
        _ => higher_args(op, name, args).map(drop),
    }
}

/// `apply`'s arguments checked: the function, the arguments before the list, and
/// the list.
pub(crate) fn apply_parts<'a>(
    name: &str,
    args: &'a [Value],
) -> Result<(&'a Value, &'a [Value], &'a crate::value::List), PrimError> {
    let (f, rest) = args.split_first().expect("arity checked");
    let (last, middle) = rest.split_last().expect("arity checked");
    match (f.is_fn(), last) {
        (true, Value::List(xs)) => Ok((f, middle, xs)),
        _ => Err(type_error(name, "fn any... list", args)),
    }
}

/// The validated arguments of a higher-order primitive.
pub struct HigherArgs {
    /// The function argument.
    pub f: Value,
    /// The accumulator (`reduce`), else nil.
    pub init: Value,
    /// The list walked (for `apply`: the full argument list).
    pub items: crate::value::List,
}

#[cfg(test)]
mod tests {
    use super::{check_higher_args, higher_args, lookup, Higher};
    use crate::value::{List, Value};

    /// The check without building accepts and rejects `apply`'s arguments exactly
    /// as building them does, with the same message.
    /// `(help 'name)` has a line for every primitive.
    #[test]
    fn every_primitive_is_documented() {
        let missing: Vec<&str> = super::all()
            .map(|p| p.name)
            .filter(|n| super::docs::doc(n).is_none())
            .collect();
        assert!(missing.is_empty(), "no help line for {missing:?}");
    }

    #[test]
    fn checking_apply_arguments_agrees_with_building_them() {
        let f = Value::Prim(lookup("+").expect("+ exists"));
        let list = Value::List(List::from_vec(vec![Value::Int(1), Value::Int(2)]));
        let cases = [
            vec![f.clone(), list.clone()],
            vec![f.clone(), Value::Int(1), list.clone()],
            vec![f.clone(), Value::Int(1)],
            vec![f.clone(), Value::Nil],
            vec![Value::Int(3), list],
        ];
        for args in cases {
            let built = higher_args(Higher::Apply, "apply", &args).map(drop);
            let checked = check_higher_args(Higher::Apply, "apply", &args);
            assert_eq!(
                format!("{:?}", checked.err().map(|e| format!("{e:?}"))),
                format!("{:?}", built.err().map(|e| format!("{e:?}"))),
            );
        }
    }
}
