//! Strings, symbols and keywords. Indexes count characters, not bytes.

use super::{plain, type_error, Prim, PrimCtx, PrimError};
use crate::printer::display;
use crate::value::Value;

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("str", 0, None, str),
    plain!("upper", 1, Some(1), |a, _| map_str("upper", a, |s| s
        .to_uppercase())),
    plain!("lower", 1, Some(1), |a, _| map_str("lower", a, |s| s
        .to_lowercase())),
    plain!("trim", 1, Some(1), |a, _| map_str("trim", a, |s| s
        .trim()
        .to_string())),
    plain!("split", 2, Some(2), split),
    plain!("join", 2, Some(2), join),
    plain!("starts-with?", 2, Some(2), |a, _| two_str(
        "starts-with?",
        a,
        |s, p| s.starts_with(p)
    )),
    plain!("ends-with?", 2, Some(2), |a, _| two_str(
        "ends-with?",
        a,
        |s, p| s.ends_with(p)
    )),
    plain!("parse-int", 1, Some(1), parse_int),
    plain!("parse-float", 1, Some(1), parse_float),
    plain!("symbol-name", 1, Some(1), symbol_name),
    plain!("keyword-name", 1, Some(1), keyword_name),
    plain!("string->symbol", 1, Some(1), |a, _| match &a[0] {
        Value::Str(s) => Ok(Value::sym(s)),
        _ => Err(type_error("string->symbol", "string", a)),
    }),
    plain!("string->keyword", 1, Some(1), |a, _| match &a[0] {
        Value::Str(s) => Ok(Value::keyword(s)),
        _ => Err(type_error("string->keyword", "string", a)),
    }),
];

/// `(str a b …)`: the display forms concatenated; nil contributes nothing.
fn str(args: &[Value], _: &mut PrimCtx) -> R {
    let mut s = String::new();
    for a in args {
        if !matches!(a, Value::Nil) {
            s.push_str(&display(a));
        }
    }
    Ok(Value::str(&s))
}

fn map_str(name: &str, args: &[Value], f: fn(&str) -> String) -> R {
    match &args[0] {
        Value::Str(s) => Ok(Value::str(&f(s))),
        _ => Err(type_error(name, "string", args)),
    }
}

fn two_str(name: &str, args: &[Value], f: fn(&str, &str) -> bool) -> R {
    match (&args[0], &args[1]) {
        (Value::Str(a), Value::Str(b)) => Ok(Value::Bool(f(a, b))),
        _ => Err(type_error(name, "string string", args)),
    }
}

fn split(args: &[Value], _: &mut PrimCtx) -> R {
    match (&args[0], &args[1]) {
        (Value::Str(s), Value::Str(sep)) if sep.is_empty() => Ok(Value::list(
            s.chars().map(|c| Value::str(&c.to_string())).collect(),
        )),
        (Value::Str(s), Value::Str(sep)) => {
            Ok(Value::list(s.split(&**sep).map(Value::str).collect()))
        }
        _ => Err(type_error("split", "string string", args)),
    }
}

fn join(args: &[Value], _: &mut PrimCtx) -> R {
    let items = match &args[0] {
        Value::List(l) => l.as_slice(),
        Value::Nil => &[],
        _ => return Err(type_error("join", "list string", args)),
    };
    let Value::Str(sep) = &args[1] else {
        return Err(type_error("join", "list string", args));
    };
    let parts: Vec<String> = items.iter().map(display).collect();
    Ok(Value::str(&parts.join(sep)))
}

fn parse_int(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Str(s) => Ok(s.trim().parse::<i64>().map_or(Value::Nil, Value::Int)),
        Value::Int(i) => Ok(Value::Int(*i)),
        _ => Err(type_error("parse-int", "string | int", args)),
    }
}

fn parse_float(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Str(s) => Ok(s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map_or(Value::Nil, Value::Float)),
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        _ => Err(type_error("parse-float", "string | number", args)),
    }
}

fn symbol_name(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Sym(s) => Ok(Value::Str(s.name())),
        _ => Err(type_error("symbol-name", "symbol", args)),
    }
}

fn keyword_name(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Keyword(s) => Ok(Value::Str(s.name())),
        _ => Err(type_error("keyword-name", "keyword", args)),
    }
}
