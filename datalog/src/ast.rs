//! The program AST shared by both front ends (Soufflé text and SX forms).
//!
//! Invariant: an AST is what the user wrote, desugared only as far as both front ends
//! agree (aggregates appear as their own literal kind). Checks live in `check`.

use std::fmt;

/// A source position: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The type of one column: numbers are `i64`, symbols are interned strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A signed 64-bit integer.
    Number,
    /// An interned string.
    Symbol,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Number => "number",
            ColumnType::Symbol => "symbol",
        })
    }
}

/// A relation declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationDecl {
    /// The relation's name.
    pub name: String,
    /// Column names and types, in order.
    pub columns: Vec<(String, ColumnType)>,
    /// Where it was declared.
    pub span: Span,
}

/// Binary operators on numbers: arithmetic, bitwise and logical, as Soufflé has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating)
    Div,
    /// `%` (remainder, sign of the dividend)
    Rem,
    /// `^` (power; a negative exponent gives 0 unless the base is 1 or -1)
    Pow,
    /// `band`
    BAnd,
    /// `bor`
    BOr,
    /// `bxor`
    BXor,
    /// `bshl` (a shift by less than 0 or 64 or more derives nothing)
    BShl,
    /// `bshr` (arithmetic)
    BShr,
    /// `bshru` (logical)
    BShrU,
    /// `land`: 1 when both are non-zero, else 0
    LAnd,
    /// `lor`
    LOr,
    /// `lxor`
    LXor,
    /// `min(a, b)`
    Min,
    /// `max(a, b)`
    Max,
}

impl ArithOp {
    /// The operator's source text.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
            ArithOp::Pow => "^",
            ArithOp::BAnd => "band",
            ArithOp::BOr => "bor",
            ArithOp::BXor => "bxor",
            ArithOp::BShl => "bshl",
            ArithOp::BShr => "bshr",
            ArithOp::BShrU => "bshru",
            ArithOp::LAnd => "land",
            ArithOp::LOr => "lor",
            ArithOp::LXor => "lxor",
            ArithOp::Min => "min",
            ArithOp::Max => "max",
        }
    }

    /// Whether the operator is written as a function, `min(a, b)`, not infix.
    pub fn is_functor(self) -> bool {
        matches!(self, ArithOp::Min | ArithOp::Max)
    }

    /// Applies the operator; `None` (no tuple) on overflow, division by zero or a
    /// shift out of range.
    pub fn apply(self, a: i64, b: i64) -> Option<i64> {
        let shift = |b: i64| u32::try_from(b).ok().filter(|&s| s < 64);
        match self {
            ArithOp::Add => a.checked_add(b),
            ArithOp::Sub => a.checked_sub(b),
            ArithOp::Mul => a.checked_mul(b),
            ArithOp::Div => a.checked_div(b),
            ArithOp::Rem => a.checked_rem(b),
            ArithOp::Pow => match u32::try_from(b) {
                Ok(e) => a.checked_pow(e),
                Err(_) if b < 0 => match a {
                    1 => Some(1),
                    -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
                    0 => None,
                    _ => Some(0),
                },
                Err(_) => match a {
                    0 | 1 => Some(a),
                    -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
                    _ => None,
                },
            },
            ArithOp::BAnd => Some(a & b),
            ArithOp::BOr => Some(a | b),
            ArithOp::BXor => Some(a ^ b),
            ArithOp::BShl => shift(b).map(|s| a << s),
            ArithOp::BShr => shift(b).map(|s| a >> s),
            ArithOp::BShrU => shift(b).map(|s| ((a as u64) >> s) as i64),
            ArithOp::LAnd => Some(i64::from(a != 0 && b != 0)),
            ArithOp::LOr => Some(i64::from(a != 0 || b != 0)),
            ArithOp::LXor => Some(i64::from((a != 0) != (b != 0))),
            ArithOp::Min => Some(a.min(b)),
            ArithOp::Max => Some(a.max(b)),
        }
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator's source text.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether the operator only makes sense on numbers.
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    /// Evaluates the comparison.
    pub fn eval(self, a: i64, b: i64) -> bool {
        self.holds(a.cmp(&b))
    }

    /// Whether the comparison holds for two values ordered as `ord`.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// A term: a variable, a constant or an arithmetic expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A named variable.
    Var(String),
    /// `_`: a fresh variable at each occurrence.
    Wildcard,
    /// A number constant.
    Number(i64),
    /// A symbol (string) constant.
    Symbol(String),
    /// `lhs op rhs`.
    Binary(ArithOp, Box<Term>, Box<Term>),
}

impl Term {
    /// Calls `f` on every variable name in the term.
    pub fn for_each_var(&self, f: &mut impl FnMut(&str)) {
        match self {
            Term::Var(v) => f(v),
            Term::Binary(_, a, b) => {
                a.for_each_var(f);
                b.for_each_var(f);
            }
            Term::Wildcard | Term::Number(_) | Term::Symbol(_) => {}
        }
    }

    /// Whether the term contains no variables or wildcards.
    pub fn is_ground(&self) -> bool {
        match self {
            Term::Var(_) | Term::Wildcard => false,
            Term::Number(_) | Term::Symbol(_) => true,
            Term::Binary(_, a, b) => a.is_ground() && b.is_ground(),
        }
    }
}

/// `relation(args…)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Atom {
    /// The relation's name.
    pub relation: String,
    /// One term per column.
    pub args: Vec<Term>,
    /// Where the atom starts.
    pub span: Span,
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// Number of distinct goal tuples.
    Count,
    /// Sum of the target over distinct goal tuples.
    Sum,
    /// Least target value.
    Min,
    /// Greatest target value.
    Max,
}

impl AggFunc {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// One body literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A positive atom.
    Positive(Atom),
    /// A negated atom; variables occurring nowhere else in the rule are local to it.
    Negative(Atom),
    /// A comparison; `X = expr` with `X` otherwise unbound binds `X`.
    Compare {
        /// The operator.
        op: CmpOp,
        /// Left side.
        lhs: Term,
        /// Right side.
        rhs: Term,
        /// Where the comparison starts.
        span: Span,
    },
    /// `result = func target : { goal }`.
    Aggregate {
        /// The variable receiving the aggregate's value.
        result: String,
        /// The function.
        func: AggFunc,
        /// What is summed / minimised / maximised (absent for count).
        target: Option<Term>,
        /// The goal: positive atoms, negations and comparisons.
        goal: Vec<Literal>,
        /// Where the aggregate starts.
        span: Span,
    },
}

impl Literal {
    /// Where the literal starts.
    pub fn span(&self) -> Span {
        match self {
            Literal::Positive(a) | Literal::Negative(a) => a.span,
            Literal::Compare { span, .. } | Literal::Aggregate { span, .. } => *span,
        }
    }
}

/// `head :- body.`
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The derived atom.
    pub head: Atom,
    /// The conjunction of literals.
    pub body: Vec<Literal>,
    /// Where the rule starts.
    pub span: Span,
}

/// A whole program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// Declared relations, in order.
    pub decls: Vec<RelationDecl>,
    /// Rules with a non-empty body.
    pub rules: Vec<Rule>,
    /// Ground facts written inline.
    pub facts: Vec<Atom>,
    /// `.input`, `.output` and `.printsize` directives, in order.
    pub io: Vec<IoDirective>,
    /// SX value semantics (set by the SX-forms front end; Soufflé text keeps its own):
    /// ordering comparisons (`<` …) may compare symbol-typed values (two strings by
    /// their bytes, numbers numerically; anything else fails), and a symbol-typed
    /// column may also hold numbers (interned as [`crate::storage::intern::SymbolKind::Int`]),
    /// so a relation can mix numbers and text in one argument as SX relations do.
    pub sx_values: bool,
}

impl Program {
    /// The directives of one kind, in order.
    pub fn io_of(&self, kind: IoKind) -> impl Iterator<Item = &IoDirective> {
        self.io.iter().filter(move |d| d.kind == kind)
    }
}

/// What an I/O directive asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoKind {
    /// `.input r`: load facts before saturating.
    Input,
    /// `.output r`: write the relation after saturating.
    Output,
    /// `.printsize r`: print the relation's size after saturating.
    PrintSize,
}

impl IoKind {
    /// The directive's name, without its dot.
    pub fn name(self) -> &'static str {
        match self {
            IoKind::Input => "input",
            IoKind::Output => "output",
            IoKind::PrintSize => "printsize",
        }
    }
}

/// `.input r(key=value, …)` and its kin: the relation and its I/O parameters as
/// written (`IO`, `filename`, `delimiter`, …; interpreted by [`crate::io::facts`]).
#[derive(Clone, Debug, PartialEq)]
pub struct IoDirective {
    /// Which directive.
    pub kind: IoKind,
    /// The relation.
    pub relation: String,
    /// `key=value` parameters, values unquoted.
    pub params: Vec<(String, String)>,
    /// Where the relation is named.
    pub span: Span,
}

impl IoDirective {
    /// The value of parameter `key`, if given.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, args: &[Term]) -> fmt::Result {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Var(v) => f.write_str(v),
            Term::Wildcard => f.write_str("_"),
            Term::Number(n) => write!(f, "{n}"),
            Term::Symbol(s) => match s.strip_prefix('\u{1}') {
                Some(sym) => f.write_str(sym),
                None => write!(f, "{s:?}"),
            },
            Term::Binary(op, a, b) if op.is_functor() => write!(f, "{}({a}, {b})", op.symbol()),
            Term::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.relation)?;
        write_args(f, &self.args)?;
        f.write_str(")")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Positive(a) => write!(f, "{a}"),
            Literal::Negative(a) => write!(f, "!{a}"),
            Literal::Compare { op, lhs, rhs, .. } => write!(f, "{lhs} {} {rhs}", op.symbol()),
            Literal::Aggregate {
                result,
                func,
                target,
                goal,
                ..
            } => {
                write!(f, "{result} = {}", func.name())?;
                if let Some(t) = target {
                    write!(f, " {t}")?;
                }
                f.write_str(" : { ")?;
                for (i, l) in goal.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} :- ", self.head)?;
        for (i, l) in self.body.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{l}")?;
        }
        f.write_str(".")
    }
}
