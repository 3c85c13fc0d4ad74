//! SX data to and from the text the store keeps: the printed form, read back by
//! the reader. Only data can be stored (no functions, errors or native handles),
//! and a store's text that does not read back is an error naming the key.

use lang::printer::repr;
use lang::reader::read_one;
use lang::Value;

/// The stored text of `v`, or why it cannot be stored.
pub fn encode(v: &Value) -> Result<String, String> {
    check_data(v)?;
    Ok(repr(v))
}

/// The value of the stored text `text` under `key`.
pub fn decode(key: &str, text: &str) -> Result<Value, String> {
    read_one(text, key)
        .map(|form| form.to_value())
        .map_err(|e| {
            format!(
                "store: the value under {key:?} does not read back: {}",
                e.message
            )
        })
}

fn check_data(v: &Value) -> Result<(), String> {
    match v {
        Value::Nil
        | Value::Bool(_)
        | Value::Int(_)
        | Value::Str(_)
        | Value::Sym(_)
        | Value::Keyword(_) => Ok(()),
        Value::Float(f) if f.is_finite() => Ok(()),
        Value::List(items) => items.as_slice().iter().try_for_each(check_data),
        Value::Dict(d) => d.iter().try_for_each(|(k, v)| {
            check_data(k)?;
            check_data(v)
        }),
        other => Err(format!(
            "the store keeps data only (nil, booleans, numbers, strings, symbols, keywords, lists, dicts), got {}",
            other.kind()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_reads_back_equal() {
        for src in [
            "nil",
            "true",
            "-42",
            "2.5",
            "\"a \\\"quoted\\\" line\\nnext\"",
            "sym",
            ":kw",
            "(1 (2 \"x\") {})",
            "{:slug \"a-b\" :tags (\"x\" \"y\") \"k\" {:n 1}}",
        ] {
            let v = read_one(src, "t").unwrap().to_value();
            let back = decode("k", &encode(&v).unwrap()).unwrap();
            assert_eq!(repr(&back), repr(&v), "{src}");
            assert!(lang::value::equal(&back, &v), "{src}");
        }
    }

    #[test]
    fn functions_are_refused_and_bad_text_names_its_key() {
        let f = Value::list(vec![Value::Int(1), Value::error("boom", None)]);
        assert!(encode(&f).unwrap_err().contains("got error"));
        assert!(decode("post/x", "(1 2").unwrap_err().contains("\"post/x\""));
    }
}
