//! Dicts: immutable, insertion-ordered.

use std::rc::Rc;

use super::{plain, type_error, Prim, PrimCtx, PrimError};
use crate::value::{Dict, Value};

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("dict", 0, None, dict),
    plain!("get", 2, Some(3), get),
    plain!("assoc", 3, None, assoc),
    plain!("dissoc", 1, None, dissoc),
    plain!("keys", 1, Some(1), |a, _| entries("keys", a, |k, _| k
        .clone())),
    plain!("vals", 1, Some(1), |a, _| entries("vals", a, |_, v| v
        .clone())),
    plain!("has-key?", 2, Some(2), has_key),
    plain!("merge", 0, None, merge),
];

fn dict(args: &[Value], _: &mut PrimCtx) -> R {
    if !args.len().is_multiple_of(2) {
        return Err(PrimError::Msg(format!(
            "dict: expected key value pairs, got {} arguments",
            args.len()
        )));
    }
    Ok(Value::dict_built(args.len() / 2, |d| {
        d.insert_pairs(args.iter().cloned())
    }))
}

fn get(args: &[Value], _: &mut PrimCtx) -> R {
    let default = args.get(2).cloned().unwrap_or(Value::Nil);
    let found = match (&args[0], &args[1]) {
        (Value::Dict(d), k) => d.get(k).cloned(),
        (Value::List(l), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| l.as_slice().get(i).cloned()),
        (Value::Nil, _) => None,
        _ => return Err(type_error("get", "dict any [any] | list int [any]", args)),
    };
    Ok(found.unwrap_or(default))
}

/// A mutable copy of the dict argument (or a new one for nil).
fn dict_arg(name: &str, sig: &str, args: &[Value]) -> Result<Rc<Dict>, PrimError> {
    match &args[0] {
        Value::Dict(d) => Ok(d.clone()),
        Value::Nil => Ok(Rc::new(Dict::default())),
        _ => Err(type_error(name, sig, args)),
    }
}

fn assoc(args: &[Value], _: &mut PrimCtx) -> R {
    let mut d = dict_arg("assoc", "dict key value...", args)?;
    if args.len().is_multiple_of(2) {
        return Err(PrimError::Msg(format!(
            "assoc: expected a dict then key value pairs, got {} arguments",
            args.len()
        )));
    }
    let m = Rc::make_mut(&mut d);
    for kv in args[1..].chunks(2) {
        m.insert(kv[0].clone(), kv[1].clone());
    }
    Ok(Value::Dict(d))
}

fn dissoc(args: &[Value], _: &mut PrimCtx) -> R {
    let mut d = dict_arg("dissoc", "dict key...", args)?;
    let m = Rc::make_mut(&mut d);
    for k in &args[1..] {
        m.shift_remove(k);
    }
    Ok(Value::Dict(d))
}

fn entries(name: &str, args: &[Value], f: fn(&Value, &Value) -> Value) -> R {
    match &args[0] {
        Value::Dict(d) => Ok(Value::list(d.iter().map(|(k, v)| f(k, v)).collect())),
        Value::Nil => Ok(Value::empty_list()),
        _ => Err(type_error(name, "dict", args)),
    }
}

fn has_key(args: &[Value], _: &mut PrimCtx) -> R {
    match &args[0] {
        Value::Dict(d) => Ok(Value::Bool(d.contains_key(&args[1]))),
        Value::Nil => Ok(Value::Bool(false)),
        _ => Err(type_error("has-key?", "dict any", args)),
    }
}

fn merge(args: &[Value], _: &mut PrimCtx) -> R {
    if !args
        .iter()
        .all(|a| matches!(a, Value::Dict(_) | Value::Nil))
    {
        return Err(type_error("merge", "dict...", args));
    }
    let size = args.iter().map(|a| a.as_dict().map_or(0, Dict::len)).sum();
    Ok(Value::dict_built(size, |out| {
        for d in args.iter().filter_map(Value::as_dict) {
            for (k, v) in d.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
    }))
}
