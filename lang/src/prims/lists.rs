//! Lists (and the operations shared with strings: `len`, `slice`, `reverse`,
//! `contains?`, `index-of`, `empty?`). `nil` is accepted where an empty list is.

use std::collections::HashSet;

use super::{plain, type_error, Prim, PrimCtx, PrimError};
use crate::value::{equal, total_cmp, Value};

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("list", 0, None, |a, _| Ok(Value::list(a.to_vec()))),
    plain!("cons", 2, Some(2), cons),
    plain!("first", 1, Some(1), first),
    plain!("second", 1, Some(1), second),
    plain!("rest", 1, Some(1), rest),
    plain!("last", 1, Some(1), last),
    plain!("nth", 2, Some(2), nth),
    plain!("len", 1, Some(1), len),
    plain!("empty?", 1, Some(1), empty),
    plain!("reverse", 1, Some(1), reverse),
    plain!("range", 1, Some(3), range),
    plain!("distinct", 1, Some(1), distinct),
    plain!("append", 0, None, append),
    plain!("sort", 1, Some(1), sort),
    plain!("drop", 2, Some(2), drop),
    plain!("take", 2, Some(2), take),
    plain!("slice", 2, Some(3), slice),
    plain!("contains?", 2, Some(2), contains),
    plain!("index-of", 2, Some(2), index_of),
];

/// The list argument (nil reads as the empty list).
fn list_arg<'a>(
    name: &str,
    sig: &str,
    args: &'a [Value],
    i: usize,
) -> Result<&'a [Value], PrimError> {
    match &args[i] {
        Value::List(l) => Ok(l.as_slice()),
        Value::Nil => Ok(&[]),
        _ => Err(type_error(name, sig, args)),
    }
}

fn cons(args: &[Value], _: &mut PrimCtx) -> R {
    let tail = list_arg("cons", "any list", args, 1)?;
    let mut v = Vec::with_capacity(tail.len() + 1);
    v.push(args[0].clone());
    v.extend_from_slice(tail);
    Ok(Value::list(v))
}

fn first(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(list_arg("first", "list", args, 0)?
        .first()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn second(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(list_arg("second", "list", args, 0)?
        .get(1)
        .cloned()
        .unwrap_or(Value::Nil))
}

fn rest(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::List(l) => Ok(Value::List(l.drop_front(1))),
        Value::Nil => Ok(Value::empty_list()),
        _ => Err(type_error("rest", "list", args)),
    }
}

fn last(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(list_arg("last", "list", args, 0)?
        .last()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn index(name: &str, sig: &str, args: &[Value], i: usize) -> Result<i64, PrimError> {
    match &args[i] {
        Value::Int(n) => Ok(*n),
        _ => Err(type_error(name, sig, args)),
    }
}

fn nth(args: &[Value], _: &mut PrimCtx) -> R {
    let xs = list_arg("nth", "list int", args, 0)?;
    let i = index("nth", "list int", args, 1)?;
    usize::try_from(i)
        .ok()
        .and_then(|i| xs.get(i))
        .cloned()
        .ok_or_else(|| {
            PrimError::Msg(format!(
                "nth: index {i} out of range for a list of length {}",
                xs.len()
            ))
        })
}

fn len(args: &[Value], _: &mut PrimCtx) -> R {
    let n = match &args[0] {
        Value::List(l) => l.len(),
        Value::Str(s) => s.chars().count(),
        Value::Dict(d) => d.len(),
        Value::Nil => 0,
        _ => return Err(type_error("len", "list | string | dict", args)),
    };
    Ok(Value::Int(n as i64))
}

fn empty(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(match &args[0] {
        Value::List(l) => l.is_empty(),
        Value::Str(s) => s.is_empty(),
        Value::Dict(d) => d.is_empty(),
        Value::Nil => true,
        _ => return Err(type_error("empty?", "list | string | dict", args)),
    }))
}

fn reverse(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Str(s) => Ok(Value::str(&s.chars().rev().collect::<String>())),
        _ => {
            let xs = list_arg("reverse", "list | string", args, 0)?;
            Ok(Value::list(xs.iter().rev().cloned().collect()))
        }
    }
}

fn range(args: &[Value], _: &mut PrimCtx) -> R {
    let mut ints = [0i64, 0, 1];
    for (i, a) in args.iter().enumerate() {
        match a {
            Value::Int(n) => ints[i] = *n,
            _ => return Err(type_error("range", "int [int [int]]", args)),
        }
    }
    let (start, end, step) = match args.len() {
        1 => (0, ints[0], 1),
        2 => (ints[0], ints[1], 1),
        _ => (ints[0], ints[1], ints[2]),
    };
    if step == 0 {
        return Err(PrimError::Msg("range: step must not be 0".into()));
    }
    let count = if step > 0 {
        (end as i128 - start as i128 + step as i128 - 1) / step as i128
    } else {
        (start as i128 - end as i128 + (-step) as i128 - 1) / (-(step as i128))
    };
    let count = count.max(0);
    if count > 100_000_000 {
        return Err(PrimError::Msg(format!(
            "range: {count} elements is more than the limit of 100000000"
        )));
    }
    let mut v = Vec::with_capacity(count as usize);
    let mut x = start as i128;
    for _ in 0..count {
        v.push(Value::Int(x as i64));
        x += step as i128;
    }
    Ok(Value::list(v))
}

fn distinct(args: &[Value], _: &mut PrimCtx) -> R {
    let xs = list_arg("distinct", "list", args, 0)?;
    let mut seen = HashSet::new();
    Ok(Value::list(
        xs.iter()
            .filter(|x| seen.insert((*x).clone()))
            .cloned()
            .collect(),
    ))
}

fn append(args: &[Value], _: &mut PrimCtx) -> R {
    let mut v = Vec::new();
    for i in 0..args.len() {
        v.extend_from_slice(list_arg("append", "list...", args, i)?);
    }
    Ok(Value::list(v))
}

fn sort(args: &[Value], _: &mut PrimCtx) -> R {
    let mut v = list_arg("sort", "list", args, 0)?.to_vec();
    v.sort_by(total_cmp);
    Ok(Value::list(v))
}

fn count_arg(name: &str, args: &[Value]) -> Result<usize, PrimError> {
    let n = index(name, "list int", args, 1)?;
    usize::try_from(n)
        .map_err(|_| PrimError::Msg(format!("{name}: count must not be negative, got {n}")))
}

fn drop(args: &[Value], _: &mut PrimCtx) -> R {
    let n = count_arg("drop", args)?;
    match &args[0] {
        Value::List(l) => Ok(Value::List(l.drop_front(n))),
        Value::Nil => Ok(Value::empty_list()),
        _ => Err(type_error("drop", "list int", args)),
    }
}

fn take(args: &[Value], _: &mut PrimCtx) -> R {
    let n = count_arg("take", args)?;
    let xs = list_arg("take", "list int", args, 0)?;
    Ok(Value::list(xs[..n.min(xs.len())].to_vec()))
}

/// Clamps `start..end` (end defaulting to `len`) to `0..len`.
fn bounds(name: &str, sig: &str, args: &[Value], len: usize) -> Result<(usize, usize), PrimError> {
    let clamp = |i: i64| i.clamp(0, len as i64) as usize;
    let start = clamp(index(name, sig, args, 1)?);
    let end = if args.len() > 2 {
        clamp(index(name, sig, args, 2)?)
    } else {
        len
    };
    Ok((start, end.max(start)))
}

fn slice(args: &[Value], _: &mut PrimCtx) -> R {
    const SIG: &str = "list|string int [int]";
    match &args[0] {
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (a, b) = bounds("slice", SIG, args, chars.len())?;
            Ok(Value::str(&chars[a..b].iter().collect::<String>()))
        }
        Value::List(l) => {
            let (a, b) = bounds("slice", SIG, args, l.len())?;
            Ok(Value::list(l.as_slice()[a..b].to_vec()))
        }
        _ => Err(type_error("slice", SIG, args)),
    }
}

fn contains(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(match (&args[0], &args[1]) {
        (Value::List(l), x) => l.as_slice().iter().any(|y| equal(x, y)),
        (Value::Str(s), Value::Str(sub)) => s.contains(&**sub),
        (Value::Dict(d), k) => d.contains_key(k),
        (Value::Nil, _) => false,
        _ => {
            return Err(type_error(
                "contains?",
                "list any | string string | dict any",
                args,
            ))
        }
    }))
}

fn index_of(args: &[Value], _: &mut PrimCtx) -> R {
    let found = match (&args[0], &args[1]) {
        (Value::Str(s), Value::Str(sub)) => s.find(&**sub).map(|b| s[..b].chars().count()),
        (Value::List(l), x) => l.as_slice().iter().position(|y| equal(x, y)),
        _ => return Err(type_error("index-of", "string string | list any", args)),
    };
    Ok(found.map_or(Value::Nil, |i| Value::Int(i as i64)))
}
