//! Type predicates, `type-of`, and error values.

use super::{effect, plain, type_error, Prim, PrimCtx, PrimError};
use crate::printer::{display, repr};
use crate::value::Value;

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("type-of", 1, Some(1), type_of),
    plain!("nil?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Nil
    )))),
    plain!("bool?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Bool(_)
    )))),
    plain!("int?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Int(_)
    )))),
    plain!("float?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Float(_)
    )))),
    plain!("number?", 1, Some(1), |a, _| {
        Ok(Value::Bool(matches!(a[0], Value::Int(_) | Value::Float(_))))
    }),
    plain!("string?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Str(_)
    )))),
    plain!("symbol?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Sym(_)
    )))),
    plain!("keyword?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Keyword(_)
    )))),
    plain!("list?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::List(_)
    )))),
    plain!("dict?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Dict(_)
    )))),
    plain!("fn?", 1, Some(1), |a, _| Ok(Value::Bool(a[0].is_fn()))),
    plain!("error?", 1, Some(1), |a, _| Ok(Value::Bool(matches!(
        a[0],
        Value::Error(_)
    )))),
    plain!("error", 1, None, error),
    plain!("raise", 1, Some(1), |a, _| Err(PrimError::Raise(
        a[0].clone()
    ))),
    plain!("error-message", 1, Some(1), error_message),
    effect!("gensym", 0, Some(1), gensym),
];

fn type_of(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(Value::keyword(args[0].kind()))
}

/// `(error msg irritant…)`: raises an error whose message is `msg` then the
/// irritants' printed forms.
fn error(args: &[Value], _: &mut PrimCtx) -> R {
    let mut message = display(&args[0]);
    for irritant in &args[1..] {
        message.push(' ');
        message.push_str(&repr(irritant));
    }
    Err(PrimError::Raise(Value::error(message, None)))
}

/// The message of an error value; for any other raised value, its display form.
fn error_message(args: &[Value], _: &mut PrimCtx) -> R {
    Ok(match &args[0] {
        Value::Error(e) => Value::str(&e.message),
        other => Value::str(&display(other)),
    })
}

fn gensym(args: &[Value], ctx: &mut PrimCtx) -> R {
    let prefix = match args.first() {
        None => "g".to_string(),
        Some(Value::Str(s)) => s.to_string(),
        Some(Value::Sym(s)) => s.name().to_string(),
        Some(_) => return Err(type_error("gensym", "[string]", args)),
    };
    *ctx.gensym += 1;
    Ok(Value::sym(&format!("{prefix}__{}", ctx.gensym)))
}
