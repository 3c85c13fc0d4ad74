//! Source positions carried from the reader through analysis into errors.

use std::fmt;
use std::rc::Rc;

/// A position in a source file: file name, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The file name (or a label such as `<eval>`).
    pub file: Rc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
}

impl Span {
    /// A span in `file` at `line:col`.
    pub fn new(file: Rc<str>, line: u32, col: u32) -> Span {
        Span { file, line, col }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}
