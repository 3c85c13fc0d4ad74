//! Tokens of the Soufflé-subset text front end.

use crate::ast::Span;
use crate::error::{Loc, ParseError};
use std::sync::Arc;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier (`edge`, `x`, `_`).
    Ident(String),
    /// An integer literal.
    Number(i64),
    /// A string literal, escapes resolved.
    Str(String),
    /// Punctuation or an operator, as written (`(`, `:-`, `<=`, …).
    Punct(&'static str),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

/// A token with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it starts.
    pub span: Span,
    /// Byte offset just past its end, to detect adjacency (`.decl`).
    pub end: usize,
    /// Byte offset of its start.
    pub start: usize,
}

const PUNCTS: [&str; 27] = [
    ":-", "!=", "<=", ">=", "<:", "(", ")", ",", ".", ":", "!", "=", "<", ">", "+", "-", "*", "/",
    "%", "{", "}", ";", "$", "@", "^", "|", "&",
];

/// Splits `src` into tokens, skipping whitespace and `//` / `/* */` comments.
pub fn tokenize(src: &str, file: &Arc<str>) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut line = 1u32;
    let mut line_start = 0usize;
    let loc = |line: u32, col: usize| {
        Loc::new(
            file,
            Span {
                line,
                col: col as u32,
            },
        )
    };
    while i < bytes.len() {
        let c = bytes[i];
        let col = i - line_start + 1;
        if c == b'\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let (sl, sc) = (line, col);
            i += 2;
            loop {
                if i + 1 >= bytes.len() {
                    return Err(ParseError::UnterminatedComment { loc: loc(sl, sc) });
                }
                if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                if bytes[i] == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                i += 1;
            }
            continue;
        }
        let span = Span {
            line,
            col: col as u32,
        };
        let start = i;
        if c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&b) = bytes.get(i) else {
                    return Err(ParseError::UnterminatedString {
                        loc: loc(span.line, col),
                    });
                };
                match b {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\n' => {
                        return Err(ParseError::UnterminatedString {
                            loc: loc(span.line, col),
                        })
                    }
                    b'\\' => {
                        let esc = bytes.get(i + 1).copied();
                        let ch = match esc {
                            Some(b'n') => '\n',
                            Some(b't') => '\t',
                            Some(b'r') => '\r',
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            _ => {
                                return Err(ParseError::Unexpected {
                                    loc: loc(line, i - line_start + 1),
                                    expected: "an escape (\\n \\t \\r \\\" \\\\)".into(),
                                    found: "an unknown escape".into(),
                                })
                            }
                        };
                        s.push(ch);
                        i += 2;
                    }
                    _ => {
                        // Copy one UTF-8 character whole.
                        let rest = &src[i..];
                        let ch = rest.chars().next().unwrap_or('\u{fffd}');
                        s.push(ch);
                        i += ch.len_utf8().max(1);
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                span,
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            let radix = if c == b'0' && matches!(bytes.get(i + 1), Some(b'x') | Some(b'X')) {
                j += 2;
                16
            } else if c == b'0' && matches!(bytes.get(i + 1), Some(b'b') | Some(b'B')) {
                j += 2;
                2
            } else {
                10
            };
            let ds = j;
            while j < bytes.len() && (bytes[j] as char).is_digit(radix) {
                j += 1;
            }
            if radix == 10
                && bytes.get(j) == Some(&b'.')
                && bytes.get(j + 1).is_some_and(|b| b.is_ascii_digit())
            {
                return Err(ParseError::Unsupported {
                    loc: loc(line, col),
                    construct: "float constant".into(),
                });
            }
            if j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                return Err(ParseError::BadNumber {
                    loc: loc(line, col),
                    text: src[i..=j].to_string(),
                    reason: "unexpected character in a number".into(),
                });
            }
            let text = &src[ds..j];
            let n = i64::from_str_radix(text, radix).map_err(|e| ParseError::BadNumber {
                loc: loc(line, col),
                text: src[i..j].to_string(),
                reason: e.to_string(),
            })?;
            out.push(Token {
                tok: Tok::Number(n),
                span,
                start,
                end: j,
            });
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'?' {
            let mut j = i + 1;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'?')
            {
                j += 1;
            }
            out.push(Token {
                tok: Tok::Ident(src[i..j].to_string()),
                span,
                start,
                end: j,
            });
            i = j;
            continue;
        }
        let Some(p) = PUNCTS.iter().find(|p| bytes[i..].starts_with(p.as_bytes())) else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(ParseError::Unexpected {
                loc: loc(line, col),
                expected: "a token".into(),
                found: format!("character {ch:?}"),
            });
        };
        i += p.len();
        out.push(Token {
            tok: Tok::Punct(p),
            span,
            start,
            end: i,
        });
    }
    let span = Span {
        line,
        col: (i - line_start + 1) as u32,
    };
    out.push(Token {
        tok: Tok::Eof,
        span,
        start: i,
        end: i,
    });
    Ok(out)
}
