//! What a web app needs: JSON in and out, HTML escaping, URL decoding, query strings
//! and Markdown. Pure functions of their arguments (no IO); every bad input is an
//! error naming the primitive and what was wrong where.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

use super::{plain, type_error, Prim, PrimCtx, PrimError};
use crate::value::{Dict, Value};

type R = Result<Value, PrimError>;

pub(super) static PRIMS: &[Prim] = &[
    plain!("json-parse", 1, Some(1), json_parse),
    plain!("json-str", 1, Some(1), json_str),
    plain!("html-escape", 1, Some(1), html_escape),
    plain!("url-decode", 1, Some(1), url_decode),
    plain!("query-parse", 1, Some(1), query_parse),
    plain!("markdown->html", 1, Some(1), markdown_html),
];

fn one_str<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, PrimError> {
    match &args[0] {
        Value::Str(s) => Ok(s),
        _ => Err(type_error(name, "string", args)),
    }
}

fn msg(s: String) -> PrimError {
    PrimError::Msg(s)
}

/// `(json-parse s)`: objects become dicts with string keys (in document order),
/// arrays lists, `null` nil; integers that fit i64 are ints, other numbers floats.
fn json_parse(args: &[Value], _: &mut PrimCtx) -> R {
    let s = one_str("json-parse", args)?;
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        msg(format!(
            "json-parse: invalid JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            json_reason(&e)
        ))
    })?;
    Ok(from_json(&v))
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_reason(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(xs) => Value::list(xs.iter().map(from_json).collect()),
        serde_json::Value::Object(m) => {
            let mut d = Dict::with_capacity(m.len());
            for (k, v) in m {
                d.insert(Value::str(k), from_json(v));
            }
            Value::dict(d)
        }
    }
}

/// `(json-str v)`: nil is `null`; keywords and symbols are strings (a keyword key
/// `:a` is `"a"`); lists are arrays, dicts objects. Functions, errors, non-finite
/// floats and keys that are not strings, keywords or symbols are errors.
fn json_str(args: &[Value], _: &mut PrimCtx) -> R {
    let mut out = String::new();
    write_json(&args[0], &mut out, "the value")?;
    Ok(Value::str(&out))
}

fn write_json(v: &Value, out: &mut String, at: &str) -> Result<(), PrimError> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        // The shortest text that reads back as the same float (ryu, by serde_json):
        // `2.0`, `0.1`, `1e111`.
        Value::Float(f) if f.is_finite() => match serde_json::to_string(f) {
            Ok(s) => out.push_str(&s),
            Err(e) => {
                return Err(msg(format!(
                    "json-str: cannot encode the float {f} ({at}): {e}"
                )))
            }
        },
        Value::Float(f) => {
            return Err(msg(format!(
                "json-str: cannot encode the float {f} ({at}): JSON has no NaN or infinity"
            )))
        }
        Value::Str(s) => quote_json(s, out),
        Value::Sym(s) | Value::Keyword(s) => quote_json(&s.name(), out),
        Value::List(xs) => {
            out.push('[');
            for (i, x) in xs.as_slice().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out, &format!("element {i} of a list"))?;
            }
            out.push(']');
        }
        Value::Dict(d) => {
            out.push('{');
            for (i, (k, x)) in d.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match k {
                    Value::Str(s) => s.to_string(),
                    Value::Sym(s) | Value::Keyword(s) => s.name().to_string(),
                    other => {
                        let kind = other.kind();
                        let why = "a dict key must be a string, keyword or symbol";
                        return Err(msg(format!("json-str: {why}, got {kind} ({at})")));
                    }
                };
                quote_json(&key, out);
                out.push(':');
                write_json(x, out, &format!("the value under \"{key}\""))?;
            }
            out.push('}');
        }
        other => {
            return Err(msg(format!(
                "json-str: cannot encode a {} ({at})",
                other.kind()
            )))
        }
    }
    Ok(())
}

fn quote_json(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Keeps `</script>` inert when JSON is embedded in a page.
            '<' => out.push_str("\\u003c"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `(html-escape s)`: `& < > " '` as entities, safe in text and attribute values.
fn html_escape(args: &[Value], _: &mut PrimCtx) -> R {
    let s = one_str("html-escape", args)?;
    Ok(Value::str(&escape(s)))
}

/// `s` with `& < > " '` replaced by entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `(url-decode s)`: `%XX` escapes and `+` as a space; the result must be UTF-8.
fn url_decode(args: &[Value], _: &mut PrimCtx) -> R {
    let s = one_str("url-decode", args)?;
    decode("url-decode", s).map(|d| Value::str(&d))
}

fn decode(name: &str, s: &str) -> Result<String, PrimError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        return Err(msg(format!(
                            "{name}: bad percent escape at byte {i} of {:?}: expected two hex digits after %",
                            s
                        )))
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| {
        msg(format!(
            "{name}: {:?} decodes to invalid UTF-8 at byte {}",
            s,
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `(query-parse "a=1&b=x%20y")`: a dict from each decoded name to its decoded
/// value (a name without `=` gets ""; a repeated name keeps its last value).
fn query_parse(args: &[Value], _: &mut PrimCtx) -> R {
    parse_query(one_str("query-parse", args)?).map(Value::dict)
}

/// A query string (`a=1&b=x%20y`, without the `?`) as a dict of decoded strings,
/// in order; a later repeat of a key replaces its value.
pub fn parse_query(s: &str) -> Result<Dict, PrimError> {
    let mut d = Dict::default();
    for part in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        d.insert(
            Value::str(&decode("query-parse", k)?),
            Value::str(&decode("query-parse", v)?),
        );
    }
    Ok(d)
}

/// `(markdown->html s)`: CommonMark with tables and strikethrough. Raw HTML in the
/// text is escaped (shown, never passed through), and links or images whose
/// address uses a scheme other than http, https or mailto lose the address.
fn markdown_html(args: &[Value], _: &mut PrimCtx) -> R {
    let s = one_str("markdown->html", args)?;
    Ok(Value::str(&markdown(s)))
}

/// Markdown to HTML with raw HTML escaped and unsafe link schemes dropped.
pub fn markdown(s: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(s, options).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        e => e,
    });
    let mut out = String::with_capacity(s.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The address when it is relative or http(s)/mailto; otherwise empty.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme_end = lower.find(':');
    let slash = lower.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, slash) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    };
    if !has_scheme
        || lower.starts_with("http:")
        || lower.starts_with("https:")
        || lower.starts_with("mailto:")
    {
        url
    } else {
        CowStr::Borrowed("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_emit_as_json_that_parses_back_the_same() {
        // Found by the web fuzz target: 1E111 was emitted as 112 digits that
        // serde_json's fast float parse read back one ulp off.
        for f in [1e111, 0.1, 2.0, -0.0, 5e-324, f64::MAX, 123_456.789, 1e-7] {
            let mut out = String::new();
            write_json(&Value::Float(f), &mut out, "test").unwrap();
            let back: f64 = serde_json::from_str(&out).unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{out}");
            assert!(out.contains(['.', 'e']), "a float stays a float: {out}");
        }
        let v = from_json(&serde_json::from_str("1.0000000000000001e111").unwrap());
        assert!(matches!(v, Value::Float(f) if f == 1.0000000000000001e111));
    }

    #[test]
    fn markdown_escapes_raw_html_and_scripts() {
        let h = markdown("hi <script>alert(1)</script>\n\n<div onclick=x>y</div>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<div"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
    }

    #[test]
    fn markdown_drops_javascript_links() {
        let h = markdown("[a](javascript:alert(1)) [b](https://x.org/) [c](/posts/c/)");
        assert!(!h.contains("javascript"), "{h}");
        assert!(h.contains("href=\"https://x.org/\""), "{h}");
        assert!(h.contains("href=\"/posts/c/\""), "{h}");
    }

    #[test]
    fn decode_rejects_bad_escapes() {
        assert!(decode("url-decode", "a%2").is_err());
        assert!(decode("url-decode", "%ff").is_err());
        assert_eq!(decode("url-decode", "a+b%2Fc").unwrap(), "a b/c");
    }
}
