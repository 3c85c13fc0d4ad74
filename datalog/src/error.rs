//! Error types. Every error names what was expected and where (file:line:col) when it
//! has a position: programs built through the API (SX forms, [`crate::ast`] values)
//! have none, and their errors start with the message itself.

use crate::ast::Span;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A source location: file name plus line and column. Line 0 means no position (a
/// program built through the API); such a location prints as nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file (or a pseudo-name such as `<sx>`).
    pub file: Arc<str>,
    /// Line and column.
    pub span: Span,
}

impl Loc {
    /// Builds a location.
    pub fn new(file: &Arc<str>, span: Span) -> Self {
        Loc {
            file: file.clone(),
            span,
        }
    }

    /// Whether this names a real position in a text (line 0 does not).
    pub fn is_known(&self) -> bool {
        self.span.line != 0
    }
}

impl fmt::Display for Loc {
    /// `file:line:col: ` (with the separator before the message), or nothing when the
    /// location is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() {
            write!(f, "{}:{}: ", self.file, self.span)
        } else {
            Ok(())
        }
    }
}

/// A malformed program text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// A token other than the one the grammar needs.
    #[error("{loc}expected {expected}, found {found}")]
    Unexpected {
        /// Where.
        loc: Loc,
        /// What the grammar needed.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A Soufflé construct outside the supported subset.
    #[error(
        "{loc}{construct} is not supported (outside the SX Datalog subset, see docs/datalog.md)"
    )]
    Unsupported {
        /// Where.
        loc: Loc,
        /// The construct, named.
        construct: String,
    },
    /// A string literal without its closing quote.
    #[error("{loc}unterminated string")]
    UnterminatedString {
        /// Where the string starts.
        loc: Loc,
    },
    /// A `/*` comment without `*/`.
    #[error("{loc}unterminated comment")]
    UnterminatedComment {
        /// Where the comment starts.
        loc: Loc,
    },
    /// A component error: unknown component, wrong number of type arguments, a cycle
    /// of inheritance, overriding a relation not declared `overridable`.
    #[error("{loc}{message}")]
    Component {
        /// Where.
        loc: Loc,
        /// What.
        message: String,
    },
    /// A number that does not fit in i64, or is malformed.
    #[error("{loc}bad number `{text}`: {reason}")]
    BadNumber {
        /// Where.
        loc: Loc,
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
}

/// A program that parses but breaks a static rule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// A relation used without a declaration.
    #[error("{loc}relation `{name}` is not declared")]
    Undeclared {
        /// Where.
        loc: Loc,
        /// The relation.
        name: String,
    },
    /// A relation declared twice.
    #[error("{loc}relation `{name}` is declared twice")]
    Redeclared {
        /// Where.
        loc: Loc,
        /// The relation.
        name: String,
    },
    /// A type name that is neither `number`, `symbol` nor a declared alias.
    #[error("{loc}unknown type `{name}`")]
    UnknownType {
        /// Where.
        loc: Loc,
        /// The type name.
        name: String,
    },
    /// An atom with the wrong number of arguments.
    #[error("{loc}`{name}` has arity {expected}, used with {found} arguments")]
    Arity {
        /// Where.
        loc: Loc,
        /// The relation.
        name: String,
        /// Declared arity.
        expected: usize,
        /// Arguments given.
        found: usize,
    },
    /// A term whose type conflicts with its use.
    #[error("{loc}type mismatch: {what}")]
    Type {
        /// Where.
        loc: Loc,
        /// What conflicts.
        what: String,
    },
    /// A variable not bound by a positive atom (range restriction).
    #[error("{loc}unsafe rule: variable `{var}` is not bound by a positive atom in `{rule}`")]
    Unsafe {
        /// Where.
        loc: Loc,
        /// The variable.
        var: String,
        /// The rule, printed.
        rule: String,
    },
    /// A fact with variables.
    #[error("{loc}non-ground fact `{fact}`")]
    NonGroundFact {
        /// Where.
        loc: Loc,
        /// The fact, printed.
        fact: String,
    },
    /// Recursion through negation or aggregation.
    #[error("{loc}unstratifiable program: cycle through {kind} {cycle}")]
    Unstratifiable {
        /// A rule on the cycle.
        loc: Loc,
        /// `negation` or `aggregation`.
        kind: String,
        /// The cycle, e.g. `p -> !q -> p`.
        cycle: String,
    },
    /// Anything else about the program's shape (e.g. an `.input` of an undeclared relation).
    #[error("{loc}{message}")]
    Other {
        /// Where.
        loc: Loc,
        /// What.
        message: String,
    },
}

/// A malformed `.facts` file or facts given through the API.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// A line that does not fit the relation's columns.
    #[error("{}:{line}: {message}", file.display())]
    Malformed {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Any error of the engine.
#[derive(Debug, thiserror::Error)]
pub enum DatalogError {
    /// See [`ParseError`].
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// See [`CheckError`].
    #[error(transparent)]
    Check(#[from] CheckError),
    /// See [`FactsError`].
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// Writing outputs failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A fact or query that does not fit the program (unknown relation, wrong arity or type).
    #[error("{0}")]
    Usage(String),
    /// The planner made a plan the verifier rejects: a bug in SX, reported instead of
    /// running the plan (see [`crate::plan::verify`]).
    #[error("internal error: the plan failed verification: {0} (please report this)")]
    Plan(String),
}
