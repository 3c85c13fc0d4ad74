//! Arithmetic and comparison. Integer overflow and division by zero are errors.

use std::cmp::Ordering;

use super::{plain, type_error, Prim, PrimCtx, PrimError};
use crate::value::{compare_numbers, equal, Value};

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("+", 0, None, add, |a, b| a.checked_add(b).map(Value::Int)),
    plain!("-", 1, None, sub, |a, b| a.checked_sub(b).map(Value::Int)),
    plain!("*", 0, None, mul, |a, b| a.checked_mul(b).map(Value::Int)),
    plain!("/", 1, None, div),
    plain!("mod", 2, Some(2), modulo),
    plain!("inc", 1, Some(1), inc),
    plain!("dec", 1, Some(1), dec),
    plain!("abs", 1, Some(1), abs),
    plain!("min", 1, None, min),
    plain!("max", 1, None, max),
    plain!("floor", 1, Some(1), floor),
    plain!("ceil", 1, Some(1), ceil),
    plain!("round", 1, Some(1), round),
    plain!("sqrt", 1, Some(1), sqrt),
    plain!("pow", 2, Some(2), pow),
    plain!("=", 1, None, eq, |a, b| Some(Value::Bool(a == b))),
    plain!("!=", 1, None, ne, |a, b| Some(Value::Bool(a != b))),
    plain!("<", 1, None, lt, |a, b| Some(Value::Bool(a < b))),
    plain!(">", 1, None, gt, |a, b| Some(Value::Bool(a > b))),
    plain!("<=", 1, None, le, |a, b| Some(Value::Bool(a <= b))),
    plain!(">=", 1, None, ge, |a, b| Some(Value::Bool(a >= b))),
    plain!("not", 1, Some(1), not),
    plain!("even?", 1, Some(1), even),
    plain!("odd?", 1, Some(1), odd),
    plain!("zero?", 1, Some(1), zero),
];

fn overflow(name: &str) -> PrimError {
    PrimError::Msg(format!("{name}: integer overflow"))
}

fn div_zero(name: &str) -> PrimError {
    PrimError::Msg(format!("{name}: division by zero"))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => unreachable!("checked numeric"),
    }
}

fn all_numbers(name: &str, args: &[Value]) -> Result<(), PrimError> {
    if args
        .iter()
        .all(|a| matches!(a, Value::Int(_) | Value::Float(_)))
    {
        Ok(())
    } else {
        Err(type_error(name, "number...", args))
    }
}

/// Folds a binary numeric operation over the arguments, staying in ints while it can.
fn fold(
    name: &str,
    args: &[Value],
    init: Value,
    int_op: fn(i64, i64) -> Option<i64>,
    float_op: fn(f64, f64) -> f64,
) -> R {
    all_numbers(name, args)?;
    let mut acc = init;
    for a in args {
        acc = match (&acc, a) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(int_op(*x, *y).ok_or_else(|| overflow(name))?)
            }
            _ => Value::Float(float_op(as_f64(&acc), as_f64(a))),
        };
    }
    Ok(acc)
}

fn add(args: &[Value], _: &mut PrimCtx) -> R {
    fold("+", args, Value::Int(0), i64::checked_add, |a, b| a + b)
}

fn mul(args: &[Value], _: &mut PrimCtx) -> R {
    fold("*", args, Value::Int(1), i64::checked_mul, |a, b| a * b)
}

fn sub(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("-", args)?;
    if args.len() == 1 {
        return match &args[0] {
            Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow("-")),
            v => Ok(Value::Float(-as_f64(v))),
        };
    }
    fold(
        "-",
        &args[1..],
        args[0].clone(),
        i64::checked_sub,
        |a, b| a - b,
    )
}

fn div(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("/", args)?;
    let (first, rest) = if args.len() == 1 {
        (Value::Int(1), args)
    } else {
        (args[0].clone(), &args[1..])
    };
    let mut acc = first;
    for d in rest {
        if as_f64(d) == 0.0 {
            return Err(div_zero("/"));
        }
        acc = match (&acc, d) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(x.checked_div(*y).ok_or_else(|| overflow("/"))?)
            }
            _ => Value::Float(as_f64(&acc) / as_f64(d)),
        };
    }
    Ok(acc)
}

/// `mod` on ints (`b` not zero): the result has the sign of `b`.
#[inline]
pub(crate) fn int_mod(a: i64, b: i64) -> i64 {
    let r = a.wrapping_rem(b);
    if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    }
}

fn modulo(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("mod", args)?;
    if as_f64(&args[1]) == 0.0 {
        return Err(div_zero("mod"));
    }
    Ok(match (&args[0], &args[1]) {
        (Value::Int(a), Value::Int(b)) => Value::Int(int_mod(*a, *b)),
        (a, b) => {
            let (a, b) = (as_f64(a), as_f64(b));
            Value::Float(a - b * (a / b).floor())
        }
    })
}

fn step(name: &str, args: &[Value], delta: i64) -> R {
    match &args[0] {
        Value::Int(i) => i
            .checked_add(delta)
            .map(Value::Int)
            .ok_or_else(|| overflow(name)),
        Value::Float(f) => Ok(Value::Float(f + delta as f64)),
        _ => Err(type_error(name, "number", args)),
    }
}

fn inc(args: &[Value], _: &mut PrimCtx) -> R {
    step("inc", args, 1)
}

fn dec(args: &[Value], _: &mut PrimCtx) -> R {
    step("dec", args, -1)
}

fn abs(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| overflow("abs")),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        _ => Err(type_error("abs", "number", args)),
    }
}

fn extremum(name: &str, args: &[Value], want: Ordering) -> R {
    all_numbers(name, args)?;
    let mut best = &args[0];
    for a in &args[1..] {
        if compare_numbers(a, best) == Some(want) {
            best = a;
        }
    }
    Ok(best.clone())
}

fn min(args: &[Value], _: &mut PrimCtx) -> R {
    extremum("min", args, Ordering::Less)
}

fn max(args: &[Value], _: &mut PrimCtx) -> R {
    extremum("max", args, Ordering::Greater)
}

fn to_int(name: &str, f: f64) -> R {
    if f.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Ok(Value::Int(f as i64))
    } else {
        Err(overflow(name))
    }
}

fn rounding(name: &str, args: &[Value], op: fn(f64) -> f64) -> R {
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => to_int(name, op(*f)),
        _ => Err(type_error(name, "number", args)),
    }
}

fn floor(args: &[Value], _: &mut PrimCtx) -> R {
    rounding("floor", args, f64::floor)
}

fn ceil(args: &[Value], _: &mut PrimCtx) -> R {
    rounding("ceil", args, f64::ceil)
}

fn round(args: &[Value], _: &mut PrimCtx) -> R {
    rounding("round", args, f64::round)
}

fn sqrt(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("sqrt", args)?;
    Ok(Value::Float(as_f64(&args[0]).sqrt()))
}

fn pow(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("pow", args)?;
    Ok(Value::Float(as_f64(&args[0]).powf(as_f64(&args[1]))))
}

/// `(= a b …)`: structural, numeric across ints and floats.
fn eq(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(args.windows(2).all(|w| equal(&w[0], &w[1]))))
}

fn ne(args: &[Value], c: &mut PrimCtx) -> R {
    Ok(Value::Bool(!eq(args, c)?.truthy()))
}

/// Orders two numbers or two strings (`None` when a NaN is involved); anything
/// else is an error naming `name`.
pub fn compare(name: &str, a: &Value, b: &Value) -> Result<Option<Ordering>, PrimError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.as_bytes().cmp(y.as_bytes()))),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            Ok(compare_numbers(a, b))
        }
        _ => Err(type_error(
            name,
            "number number | string string",
            &[a.clone(), b.clone()],
        )),
    }
}

fn chain(name: &str, args: &[Value], ok: fn(Ordering) -> bool) -> R {
    let mut result = true;
    for w in args.windows(2) {
        result &= compare(name, &w[0], &w[1])?.is_some_and(ok);
    }
    Ok(Value::Bool(result))
}

fn lt(args: &[Value], _: &mut PrimCtx) -> R {
    chain("<", args, |o| o == Ordering::Less)
}

fn gt(args: &[Value], _: &mut PrimCtx) -> R {
    chain(">", args, |o| o == Ordering::Greater)
}

fn le(args: &[Value], _: &mut PrimCtx) -> R {
    chain("<=", args, |o| o != Ordering::Greater)
}

fn ge(args: &[Value], _: &mut PrimCtx) -> R {
    chain(">=", args, |o| o != Ordering::Less)
}

fn not(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(!args[0].truthy()))
}

fn int_arg<'a>(name: &str, args: &'a [Value]) -> Result<&'a i64, PrimError> {
    match &args[0] {
        Value::Int(i) => Ok(i),
        _ => Err(type_error(name, "int", args)),
    }
}

fn even(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(int_arg("even?", args)? % 2 == 0))
}

fn odd(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::Bool(int_arg("odd?", args)? % 2 != 0))
}

fn zero(args: &[Value], _: &mut PrimCtx) -> R {
    all_numbers("zero?", args)?;
    Ok(Value::Bool(as_f64(&args[0]) == 0.0))
}
