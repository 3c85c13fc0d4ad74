//! The reader: source text to [`Form`]s, syntax trees that keep source positions.
//!
//! Every error names `file:line:col` and what was expected. No input panics: nesting
//! is capped at [`MAX_NESTING`] so that later recursive passes stay within the stack.

use std::rc::Rc;

use thiserror::Error;

use crate::span::Span;
use crate::symbol::Sym;
use crate::value::Value;

/// The deepest nesting of lists, dicts and quote sugar the reader accepts.
pub const MAX_NESTING: usize = 1024;

/// A syntax tree node with its source position.
#[derive(Clone, Debug)]
pub struct Form {
    /// What was read.
    pub kind: FormKind,
    /// Where it starts.
    pub span: Span,
}

/// The shapes a [`Form`] can take.
#[derive(Clone, Debug)]
pub enum FormKind {
    /// A number, string, symbol, keyword, `nil`, `true` or `false`.
    Atom(Value),
    /// `( … )` (also `[ … ]`), and the expansion of `'x`, `` `x ``, `,x`, `,@x`.
    List(Vec<Form>),
    /// `{ k v … }`: keys and values are evaluated.
    Dict(Vec<Form>),
}

/// A reader error: what was expected, and where.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{span}: {message}")]
pub struct ReadError {
    /// What went wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

impl Form {
    /// The form as a data value (what `quote` gives).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            FormKind::Atom(v) => v.clone(),
            FormKind::List(items) => Value::list(items.iter().map(Form::to_value).collect()),
            FormKind::Dict(items) => {
                let mut d = crate::value::Dict::default();
                for pair in items.chunks(2) {
                    d.insert(pair[0].to_value(), pair[1].to_value());
                }
                Value::dict(d)
            }
        }
    }

    /// Turns a data value (a macro's output) back into a form located at `span`.
    pub fn from_value(v: &Value, span: &Span) -> Form {
        let kind = match v {
            Value::List(l) => FormKind::List(
                l.as_slice()
                    .iter()
                    .map(|x| Form::from_value(x, span))
                    .collect(),
            ),
            Value::Dict(d) => FormKind::Dict(
                d.iter()
                    .flat_map(|(k, x)| [Form::from_value(k, span), Form::from_value(x, span)])
                    .collect(),
            ),
            other => FormKind::Atom(other.clone()),
        };
        Form {
            kind,
            span: span.clone(),
        }
    }

    /// The symbol this form is, if it is one.
    pub fn as_sym(&self) -> Option<Sym> {
        match &self.kind {
            FormKind::Atom(Value::Sym(s)) => Some(*s),
            _ => None,
        }
    }

    /// The elements, if this form is a list.
    pub fn as_list(&self) -> Option<&[Form]> {
        match &self.kind {
            FormKind::List(items) => Some(items),
            _ => None,
        }
    }
}

/// Reads every form in `src`; `file` names the source in spans.
pub fn read_all(src: &str, file: &str) -> Result<Vec<Form>, ReadError> {
    let mut r = Reader::new(src, file);
    let mut forms = Vec::new();
    while let Some(f) = r.next_form(0)? {
        forms.push(f);
    }
    Ok(forms)
}

/// Reads exactly one form from `src` (trailing whitespace and comments allowed).
pub fn read_one(src: &str, file: &str) -> Result<Form, ReadError> {
    let mut r = Reader::new(src, file);
    let Some(form) = r.next_form(0)? else {
        return Err(r.error("expected a form, found end of input"));
    };
    r.skip_atmosphere();
    if r.peek().is_some() {
        return Err(r.error("expected end of input after one form"));
    }
    Ok(form)
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    file: Rc<str>,
    line: u32,
    col: u32,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';' | '\'' | '`' | ','
        )
}

impl<'a> Reader<'a> {
    fn new(src: &'a str, file: &str) -> Reader<'a> {
        Reader {
            chars: src.chars().peekable(),
            file: Rc::from(file),
            line: 1,
            col: 1,
        }
    }

    fn span(&self) -> Span {
        Span::new(self.file.clone(), self.line, self.col)
    }

    fn error(&self, message: impl Into<String>) -> ReadError {
        ReadError {
            message: message.into(),
            span: self.span(),
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_atmosphere(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// The next form, or `None` at end of input.
    fn next_form(&mut self, depth: usize) -> Result<Option<Form>, ReadError> {
        self.skip_atmosphere();
        let span = self.span();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        if depth >= MAX_NESTING {
            return Err(self.error(format!("nesting deeper than {MAX_NESTING} levels")));
        }
        let kind = match c {
            '(' | '[' => {
                self.bump();
                let close = if c == '(' { ')' } else { ']' };
                FormKind::List(self.read_seq(close, &span, depth)?)
            }
            '{' => {
                self.bump();
                let items = self.read_seq('}', &span, depth)?;
                if items.len() % 2 != 0 {
                    return Err(ReadError {
                        message: "dict literal needs an even number of forms (key value pairs)"
                            .into(),
                        span,
                    });
                }
                FormKind::Dict(items)
            }
            ')' | ']' | '}' => {
                return Err(self.error(format!("unexpected '{c}' with no form open")));
            }
            '"' => {
                self.bump();
                FormKind::Atom(Value::Str(Rc::from(self.read_string(&span)?)))
            }
            '\'' | '`' | ',' => {
                self.bump();
                let name = match c {
                    '\'' => "quote",
                    '`' => "quasiquote",
                    _ if self.peek() == Some('@') => {
                        self.bump();
                        "unquote-splicing"
                    }
                    _ => "unquote",
                };
                let Some(inner) = self.next_form(depth + 1)? else {
                    return Err(
                        self.error(format!("expected a form after {name}, found end of input"))
                    );
                };
                let head = Form {
                    kind: FormKind::Atom(Value::sym(name)),
                    span: span.clone(),
                };
                FormKind::List(vec![head, inner])
            }
            _ => FormKind::Atom(self.read_atom(&span)?),
        };
        Ok(Some(Form { kind, span }))
    }

    fn read_seq(&mut self, close: char, open: &Span, depth: usize) -> Result<Vec<Form>, ReadError> {
        let mut items = Vec::new();
        loop {
            self.skip_atmosphere();
            match self.peek() {
                None => {
                    return Err(self.error(format!(
                        "expected '{close}' to close the form opened at {}:{}, found end of input",
                        open.line, open.col
                    )))
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(c @ (')' | ']' | '}')) => {
                    return Err(self.error(format!(
                        "expected '{close}' to close the form opened at {}:{}, found '{c}'",
                        open.line, open.col
                    )))
                }
                Some(_) => {
                    if let Some(f) = self.next_form(depth + 1)? {
                        items.push(f);
                    }
                }
            }
        }
    }

    fn read_string(&mut self, open: &Span) -> Result<String, ReadError> {
        let mut s = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(ReadError {
                    message: "unterminated string: expected '\"' before end of input".into(),
                    span: open.clone(),
                });
            };
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let esc = self.span();
                    match self.bump() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some('0') => s.push('\0'),
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('u') => s.push(self.read_unicode_escape(&esc)?),
                        Some(other) => {
                            return Err(ReadError {
                                message: format!(
                                    "unknown escape '\\{other}' in string (expected one of \\n \\t \\r \\0 \\\" \\\\ \\u{{hex}})"
                                ),
                                span: esc,
                            })
                        }
                        None => {
                            return Err(ReadError {
                                message: "unterminated string: expected '\"' before end of input"
                                    .into(),
                                span: open.clone(),
                            })
                        }
                    }
                }
                c => s.push(c),
            }
        }
    }

    fn read_unicode_escape(&mut self, esc: &Span) -> Result<char, ReadError> {
        let bad = |msg: &str| ReadError {
            message: format!("bad unicode escape: {msg} (expected \\u{{hex digits}})"),
            span: esc.clone(),
        };
        if self.bump() != Some('{') {
            return Err(bad("missing '{'"));
        }
        let mut hex = String::new();
        loop {
            match self.bump() {
                Some('}') => break,
                Some(c) if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
                _ => return Err(bad("not hex digits closed by '}'")),
            }
        }
        u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| bad("not a unicode scalar value"))
    }

    fn read_atom(&mut self, span: &Span) -> Result<Value, ReadError> {
        let mut tok = String::new();
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            tok.push(c);
            self.bump();
        }
        let err = |message: String| ReadError {
            message,
            span: span.clone(),
        };
        match tok.as_str() {
            "##Inf" => return Ok(Value::Float(f64::INFINITY)),
            "##-Inf" => return Ok(Value::Float(f64::NEG_INFINITY)),
            "##NaN" => return Ok(Value::Float(f64::NAN)),
            "nil" => return Ok(Value::Nil),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        if tok.starts_with("##") {
            return Err(err(format!(
                "unknown literal {tok} (expected ##Inf, ##-Inf or ##NaN)"
            )));
        }
        if let Some(name) = tok.strip_prefix(':') {
            if name.is_empty() {
                return Err(err("expected a keyword name after ':'".into()));
            }
            return Ok(Value::keyword(name));
        }
        let digits = tok.strip_prefix(['+', '-']).unwrap_or(&tok);
        if digits.starts_with(|c: char| c.is_ascii_digit()) {
            return parse_number(&tok).ok_or_else(|| err(number_error(&tok)));
        }
        Ok(Value::sym(&tok))
    }
}

fn parse_number(tok: &str) -> Option<Value> {
    let body = tok.strip_prefix('+').unwrap_or(tok);
    if body
        .bytes()
        .skip(usize::from(body.starts_with('-')))
        .all(|b| b.is_ascii_digit())
    {
        return body.parse::<i64>().ok().map(Value::Int);
    }
    let valid = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !valid {
        return None;
    }
    body.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::Float)
}

fn number_error(tok: &str) -> String {
    let body = tok.strip_prefix(['+', '-']).unwrap_or(tok);
    if body.bytes().all(|b| b.is_ascii_digit()) {
        format!("integer literal {tok} is out of range (integers are 64-bit)")
    } else {
        format!("invalid number literal {tok}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::repr;

    fn round(src: &str) -> String {
        repr(&read_one(src, "t").unwrap().to_value())
    }

    #[test]
    fn reads_atoms_and_lists() {
        assert_eq!(
            round("(1 -2 +3 1.5 -2.0e3 \"a\\nb\" nil true :k sym)"),
            "(1 -2 3 1.5 -2000.0 \"a\\nb\" nil true :k sym)"
        );
        assert_eq!(round("'x"), "(quote x)");
        assert_eq!(
            round("`(a ,b ,@c)"),
            "(quasiquote (a (unquote b) (unquote-splicing c)))"
        );
        assert_eq!(round("{:a 1 \"b\" 2}"), "{:a 1 \"b\" 2}");
        assert_eq!(round("host/blog--edges-block"), "host/blog--edges-block");
        assert_eq!(
            round("(<- -> dl-saturate! empty?)"),
            "(<- -> dl-saturate! empty?)"
        );
    }

    #[test]
    fn errors_name_position_and_expectation() {
        let e = read_all("(a\n  (b c)", "f.sx").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.sx:2:8: expected ')' to close the form opened at 1:1, found end of input"
        );
        let e = read_all("  \"abc", "f.sx").unwrap_err();
        assert!(
            e.to_string().starts_with("f.sx:1:3: unterminated string"),
            "{e}"
        );
        let e = read_all("99999999999999999999", "f.sx").unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
        let e = read_all("{1}", "f.sx").unwrap_err();
        assert!(e.message.contains("even number"), "{e}");
        let e = read_all(")", "f.sx").unwrap_err();
        assert!(e.message.contains("unexpected ')'"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "(".repeat(MAX_NESTING + 10);
        let e = read_all(&src, "f").unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{e}");
    }
}
