//! The printer: `display` (what `println` writes for a top-level argument: strings
//! raw) and `repr` (the readable form: strings quoted with escapes).

use std::fmt::Write;

use crate::value::Value;

/// The display form: a string is written raw, everything else as `repr`.
pub fn display(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        _ => repr(v),
    }
}

/// The readable form: `print(read(s))` reads back equal for data values.
pub fn repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

/// Appends the readable form of `v` to `out`.
pub fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_string(out, s),
        Value::Sym(s) => s.with_name(|n| out.push_str(n)),
        Value::Keyword(s) => {
            out.push(':');
            s.with_name(|n| out.push_str(n));
        }
        Value::List(l) => {
            out.push('(');
            for (i, x) in l.as_slice().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_repr(out, x);
            }
            out.push(')');
        }
        Value::Dict(d) => {
            out.push('{');
            for (i, (k, x)) in d.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_repr(out, k);
                out.push(' ');
                write_repr(out, x);
            }
            out.push('}');
        }
        Value::Lambda(c) => match c.name() {
            Some(n) => {
                let _ = write!(out, "#<fn {n}>");
            }
            None => out.push_str("#<fn>"),
        },
        Value::Prim(p) => {
            let _ = write!(out, "#<fn {}>", p.name);
        }
        Value::Error(e) => {
            out.push_str("#<error ");
            write_string(out, &e.message);
            out.push('>');
        }
        Value::Native(n) => {
            let _ = write!(out, "#<native {}>", n.kind);
        }
    }
}

/// Floats always show a `.` or an exponent: `2.0`, `0.1`, `1e300`; the
/// non-finite ones print as `##Inf`, `##-Inf` and `##NaN`, which read back.
fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("##NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "##Inf" } else { "##-Inf" });
    } else {
        let _ = write!(out, "{f:?}");
    }
}

/// A string literal with the escapes the reader understands.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
