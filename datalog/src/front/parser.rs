//! The Soufflé-subset text front end: `.dl` source to [`Program`].
//!
//! The accepted subset is stated in `docs/datalog.md`; everything else is rejected with
//! [`ParseError::Unsupported`] naming the construct and its line.

use crate::ast::*;
use crate::error::{Loc, ParseError};
use crate::front::lexer::{tokenize, Tok, Token};
use hashbrown::HashMap;
use std::sync::Arc;

/// Parses a whole `.dl` program. `file` names the source in error messages.
pub fn parse_program(src: &str, file: &str) -> Result<Program, ParseError> {
    let file: Arc<str> = Arc::from(file);
    let toks = crate::front::components::expand(tokenize(src, &file)?, &file)?;
    let mut p = Parser {
        toks,
        pos: 0,
        file,
        prog: Program::default(),
        aliases: HashMap::new(),
        pending_types: Vec::new(),
        eqrel: Vec::new(),
    };
    p.program()?;
    p.resolve_types()?;
    p.close_eqrels()?;
    Ok(p.prog)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    file: Arc<str>,
    prog: Program,
    /// `.type` aliases: name -> target type name.
    aliases: HashMap<String, (String, Span)>,
    /// (decl index, column index, type name, span) to resolve once all aliases are known.
    pending_types: Vec<(usize, usize, String, Span)>,
    /// Relations declared `eqrel`, closed by rules once parsing ends.
    eqrel: Vec<(String, Span)>,
}

/// Soufflé's functor names: `name(` starts a term, not an atom, in a body.
const FUNCTORS: [&str; 30] = [
    "cat",
    "strlen",
    "substr",
    "ord",
    "to_number",
    "to_string",
    "to_float",
    "to_unsigned",
    "itof",
    "itou",
    "ftoi",
    "ftou",
    "utoi",
    "utof",
    "match",
    "contains",
    "land",
    "lor",
    "lxor",
    "bnot",
    "lnot",
    "band",
    "bor",
    "bxor",
    "min",
    "max",
    "as",
    "range",
    "autoinc",
    "mean",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Span {
        self.toks[self.pos].span
    }
    fn loc(&self) -> Loc {
        Loc::new(&self.file, self.span())
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }
    fn err<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(ParseError::Unexpected {
            loc: self.loc(),
            expected: expected.into(),
            found: self.peek().describe(),
        })
    }
    fn unsupported<T>(&self, span: Span, construct: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::Unsupported {
            loc: Loc::new(&self.file, span),
            construct: construct.into(),
        })
    }
    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.is(p) {
            self.bump();
            Ok(())
        } else {
            self.err(&format!("`{p}`"))
        }
    }
    fn ident(&mut self, what: &str) -> Result<(String, Span), ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let sp = self.span();
                self.bump();
                Ok((s, sp))
            }
            _ => self.err(what),
        }
    }

    fn program(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Tok::Eof => return Ok(()),
                Tok::Punct(".") => self.directive()?,
                Tok::Ident(_) => self.clause()?,
                Tok::Punct("#") => return self.unsupported(self.span(), "preprocessor directive"),
                _ => return self.err("a directive or a rule"),
            }
        }
    }

    fn directive(&mut self) -> Result<(), ParseError> {
        let dot = self.bump();
        let name_tok = self.toks[self.pos].clone();
        let name = match &name_tok.tok {
            Tok::Ident(s) if name_tok.start == dot.end => s.clone(),
            _ => return self.err("a directive name after `.`"),
        };
        self.bump();
        match name.as_str() {
            "decl" => self.decl(dot.span),
            "type" => self.type_decl(dot.span),
            "input" | "output" | "printsize" => {
                let kind = match name.as_str() {
                    "input" => IoKind::Input,
                    "output" => IoKind::Output,
                    _ => IoKind::PrintSize,
                };
                // `.output a, b(key=value, …)`: the parameters apply to every relation.
                let mut rels = Vec::new();
                loop {
                    rels.push(self.qualified_name("a relation name")?);
                    if self.is(",") {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let params = if self.is("(") {
                    self.io_params()?
                } else {
                    Vec::new()
                };
                for (relation, span) in rels {
                    self.prog.io.push(IoDirective {
                        kind,
                        relation,
                        params: params.clone(),
                        span,
                    });
                }
                Ok(())
            }
            "pragma" => {
                // `.pragma "key" "value"` (or `.pragma "key"`): options of Soufflé's own
                // optimiser and profiler; none changes what a program derives, so each
                // is accepted and reported in the trace.
                let key = self.string_lit("a pragma key string")?;
                let value = if let Tok::Str(v) = self.peek().clone() {
                    self.bump();
                    v
                } else {
                    String::new()
                };
                tracing::debug!(key, value, "pragma accepted and ignored");
                Ok(())
            }
            "limitsize" => self.unsupported(dot.span, "directive `.limitsize`"),
            other => self.unsupported(dot.span, format!("directive `.{other}`")),
        }
    }

    /// A string literal.
    fn string_lit(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.err(what),
        }
    }

    /// A relation name, perhaps qualified by component instances (`a.b.r`).
    fn qualified_name(&mut self, what: &str) -> Result<(String, Span), ParseError> {
        let (mut name, span) = self.ident(what)?;
        while self.is(".")
            && self.adjacent(0)
            && self.adjacent(1)
            && matches!(self.peek_at(1), Tok::Ident(_))
        {
            self.bump();
            let (part, _) = self.ident(what)?;
            name.push('.');
            name.push_str(&part);
        }
        Ok((name, span))
    }

    /// Whether the token `k` ahead starts where the one before it ends.
    fn adjacent(&self, k: usize) -> bool {
        let i = self.pos + k;
        i < self.toks.len() && i > 0 && self.toks[i].start == self.toks[i - 1].end
    }

    /// `(key = value, …)`: values are strings, identifiers, numbers or `true`/`false`.
    fn io_params(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.is(")") {
            let (key, _) = self.ident("an I/O parameter name")?;
            self.expect("=")?;
            let value = match self.peek().clone() {
                Tok::Str(s) => s,
                Tok::Ident(s) => s,
                Tok::Number(n) => n.to_string(),
                _ => return self.err("a parameter value (a string, a name or a number)"),
            };
            self.bump();
            out.push((key, value));
            if self.is(",") {
                self.bump();
            } else {
                break;
            }
        }
        self.expect(")")?;
        Ok(out)
    }

    fn decl(&mut self, span: Span) -> Result<(), ParseError> {
        // `.decl a, b(x: number)` declares several relations of one shape.
        let mut names = vec![self.ident("a relation name")?.0];
        while self.is(",") {
            self.bump();
            names.push(self.ident("a relation name")?.0);
        }
        self.expect("(")?;
        let mut columns = Vec::new();
        let mut types = Vec::new();
        if !self.is(")") {
            loop {
                let (col, _) = self.ident("a column name")?;
                self.expect(":")?;
                let (ty, tsp) = self.ident("a column type")?;
                types.push((ty, tsp));
                columns.push((col, ColumnType::Number));
                if self.is(",") {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        // Qualifiers: storage hints (`brie`, `btree`, `btree_delete`), optimiser hints
        // (`inline`, `no_inline`, `magic`, `no_magic`, `overridable`) change nothing SX
        // derives; `input`, `output` and `printsize` are the old spelling of the
        // directives; `eqrel` makes the relation an equivalence.
        let mut io = Vec::new();
        let mut eqrel = false;
        while let Tok::Ident(q) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct("(")) {
                break;
            }
            match q.as_str() {
                "brie" | "btree" | "btree_delete" | "inline" | "no_inline" | "magic"
                | "no_magic" | "overridable" => {}
                "eqrel" => eqrel = true,
                "input" => io.push(IoKind::Input),
                "output" => io.push(IoKind::Output),
                "printsize" => io.push(IoKind::PrintSize),
                "choice" => return self.unsupported(self.span(), "choice-domain"),
                _ => break,
            }
            self.bump();
        }
        if self.is("choice") {
            return self.unsupported(self.span(), "choice-domain");
        }
        for name in names {
            let idx = self.prog.decls.len();
            for (c, (ty, tsp)) in types.iter().enumerate() {
                self.pending_types.push((idx, c, ty.clone(), *tsp));
            }
            for &kind in &io {
                self.prog.io.push(IoDirective {
                    kind,
                    relation: name.clone(),
                    params: Vec::new(),
                    span,
                });
            }
            if eqrel {
                self.eqrel.push((name.clone(), span));
            }
            self.prog.decls.push(RelationDecl {
                name,
                columns: columns.clone(),
                span,
            });
        }
        Ok(())
    }

    fn type_decl(&mut self, span: Span) -> Result<(), ParseError> {
        let (name, _) = self.ident("a type name")?;
        if self.is("<:") || self.is("=") {
            let eq = self.is("=");
            self.bump();
            if self.is("[") || self.is("(") {
                return self.unsupported(self.span(), "record type");
            }
            let (target, tsp) = self.ident("a type (number, symbol or an alias)")?;
            if self.is("|") {
                return self.unsupported(self.span(), "union type");
            }
            if eq && self.is("[") {
                return self.unsupported(span, "record type");
            }
            self.aliases.insert(name, (target, tsp));
            Ok(())
        } else if self.is("[") {
            self.unsupported(span, "record type")
        } else {
            self.err("`<:` or `=` in a `.type` alias")
        }
    }

    fn resolve(&self, name: &str, span: Span) -> Result<ColumnType, ParseError> {
        let mut cur = name.to_string();
        for _ in 0..64 {
            match cur.as_str() {
                "number" => return Ok(ColumnType::Number),
                "symbol" => return Ok(ColumnType::Symbol),
                "unsigned" | "float" => {
                    return self.unsupported(span, format!("type `{cur}`"));
                }
                _ => match self.aliases.get(&cur) {
                    Some((t, _)) => cur = t.clone(),
                    None => {
                        return Err(ParseError::Unexpected {
                            loc: Loc::new(&self.file, span),
                            expected: "a type (number, symbol or a .type alias)".into(),
                            found: format!("`{cur}`"),
                        })
                    }
                },
            }
        }
        Err(ParseError::Unexpected {
            loc: Loc::new(&self.file, span),
            expected: "a non-cyclic type alias".into(),
            found: format!("`{name}`"),
        })
    }

    /// An `eqrel` relation holds the equivalence its tuples generate: reflexive on
    /// every value it mentions, symmetric and transitive, by four rules.
    fn close_eqrels(&mut self) -> Result<(), ParseError> {
        for (name, span) in std::mem::take(&mut self.eqrel) {
            let arity = self
                .prog
                .decls
                .iter()
                .find(|d| d.name == name)
                .map_or(0, |d| d.columns.len());
            if arity != 2 {
                return Err(ParseError::Unexpected {
                    loc: Loc::new(&self.file, span),
                    expected: "a binary relation for `eqrel`".into(),
                    found: format!("`{name}` of arity {arity}"),
                });
            }
            let v = |n: &str| Term::Var(n.to_string());
            let atom = |a: Term, b: Term| Atom {
                relation: name.clone(),
                args: vec![a, b],
                span,
            };
            let rule = |head: Atom, body: Vec<Atom>| Rule {
                head,
                body: body.into_iter().map(Literal::Positive).collect(),
                span,
            };
            self.prog.rules.extend([
                rule(atom(v("x"), v("x")), vec![atom(v("x"), Term::Wildcard)]),
                rule(atom(v("x"), v("x")), vec![atom(Term::Wildcard, v("x"))]),
                rule(atom(v("y"), v("x")), vec![atom(v("x"), v("y"))]),
                rule(
                    atom(v("x"), v("z")),
                    vec![atom(v("x"), v("y")), atom(v("y"), v("z"))],
                ),
            ]);
        }
        Ok(())
    }

    fn resolve_types(&mut self) -> Result<(), ParseError> {
        let pending = std::mem::take(&mut self.pending_types);
        for (d, c, ty, sp) in pending {
            let t = self.resolve(&ty, sp)?;
            self.prog.decls[d].columns[c].1 = t;
        }
        Ok(())
    }

    /// A fact `a(1, 2).` or a rule `h(x) :- body.`
    fn clause(&mut self) -> Result<(), ParseError> {
        let span = self.span();
        // `a(x), b(x) :- body.`: one rule per head.
        let mut heads = vec![self.atom()?];
        while self.is(",") {
            self.bump();
            heads.push(self.atom()?);
        }
        if self.is(".") {
            self.bump();
            self.prog.facts.extend(heads);
            return Ok(());
        }
        if !self.is(":-") {
            return self.err("`.` or `:-` after an atom");
        }
        self.bump();
        let bodies = self.disjunction()?;
        self.expect(".")?;
        for head in heads {
            for body in &bodies {
                self.prog.rules.push(Rule {
                    head: head.clone(),
                    body: body.clone(),
                    span,
                });
            }
        }
        Ok(())
    }

    /// `conj ; conj ; …`, in disjunctive normal form: one literal list per way the
    /// body can hold (a rule becomes one rule per disjunct, as in Soufflé).
    fn disjunction(&mut self) -> Result<Vec<Vec<Literal>>, ParseError> {
        let mut out = self.conjunction()?;
        while self.is(";") {
            self.bump();
            out.extend(self.conjunction()?);
            self.check_disjuncts(out.len())?;
        }
        Ok(out)
    }

    /// `item, item, …` where an item is a literal or a parenthesised disjunction.
    fn conjunction(&mut self) -> Result<Vec<Vec<Literal>>, ParseError> {
        let mut acc: Vec<Vec<Literal>> = vec![Vec::new()];
        loop {
            let alternatives = if self.is("(") && !self.starts_comparison() {
                self.bump();
                let d = self.disjunction()?;
                self.expect(")")?;
                d
            } else {
                vec![vec![self.literal()?]]
            };
            self.check_disjuncts(acc.len() * alternatives.len())?;
            acc = acc
                .iter()
                .flat_map(|a| {
                    alternatives.iter().map(move |b| {
                        let mut c = a.clone();
                        c.extend(b.iter().cloned());
                        c
                    })
                })
                .collect();
            if self.is(",") {
                self.bump();
            } else {
                return Ok(acc);
            }
        }
    }

    /// A body whose normal form would pass 4,096 rules is refused rather than expanded.
    fn check_disjuncts(&self, n: usize) -> Result<(), ParseError> {
        if n > 4096 {
            return self.unsupported(
                self.span(),
                "a disjunction of more than 4096 alternatives (in normal form)",
            );
        }
        Ok(())
    }

    /// Whether the `(` here opens a term compared with something (`(x + 1) < y`),
    /// not a parenthesised body.
    fn starts_comparison(&mut self) -> bool {
        let save = self.pos;
        let yes = self.term().is_ok() && self.cmp_op().is_some();
        self.pos = save;
        yes
    }

    /// An aggregate's goal: a conjunction of literals.
    fn body(&mut self) -> Result<Vec<Literal>, ParseError> {
        let mut out = Vec::new();
        loop {
            out.push(self.literal()?);
            if self.is(",") {
                self.bump();
            } else if self.is(";") {
                return self.unsupported(self.span(), "disjunction `;` inside an aggregate");
            } else {
                return Ok(out);
            }
        }
    }

    fn atom(&mut self) -> Result<Atom, ParseError> {
        let (relation, span) = self.ident("a relation name")?;
        if self.is(".") && matches!(self.peek_at(1), Tok::Ident(_)) {
            return self.unsupported(span, "component instance (qualified name)");
        }
        let args = self.arguments()?;
        Ok(Atom {
            relation,
            args,
            span,
        })
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        let span = self.span();
        if self.is("!") {
            self.bump();
            return Ok(Literal::Negative(self.atom()?));
        }
        if self.is("(") && !self.starts_comparison() {
            // Reached only inside an aggregate's goal: rule bodies take groups above.
            return self.unsupported(span, "parenthesised body inside an aggregate");
        }
        if let Tok::Ident(name) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct("(")) && !FUNCTORS.contains(&name.as_str()) {
                return Ok(Literal::Positive(self.atom()?));
            }
            if matches!(name.as_str(), "true" | "false")
                && matches!(self.peek_at(1), Tok::Punct("," | "." | ")" | ";" | "}"))
            {
                // `true` holds, `false` never does: a ground comparison each.
                self.bump();
                let op = if name == "true" { CmpOp::Eq } else { CmpOp::Ne };
                return Ok(Literal::Compare {
                    op,
                    lhs: Term::Number(0),
                    rhs: Term::Number(0),
                    span,
                });
            }
        }
        let lhs = self.operand()?;
        let Some(op) = self.cmp_op() else {
            return self.err("a comparison operator (= != < <= > >=)");
        };
        self.bump();
        let rhs = self.operand()?;
        match (lhs, rhs) {
            (Operand::Term(lhs), Operand::Term(rhs)) => Ok(Literal::Compare { op, lhs, rhs, span }),
            (Operand::Term(Term::Var(v)), Operand::Agg(func, target, goal))
            | (Operand::Agg(func, target, goal), Operand::Term(Term::Var(v)))
                if op == CmpOp::Eq =>
            {
                Ok(Literal::Aggregate {
                    result: v,
                    func,
                    target,
                    goal,
                    span,
                })
            }
            _ => self.unsupported(
                span,
                "aggregate outside `Var = aggregate` (bind the aggregate to a variable)",
            ),
        }
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        Some(match self.peek() {
            Tok::Punct("=") => CmpOp::Eq,
            Tok::Punct("!=") => CmpOp::Ne,
            Tok::Punct("<") => CmpOp::Lt,
            Tok::Punct("<=") => CmpOp::Le,
            Tok::Punct(">") => CmpOp::Gt,
            Tok::Punct(">=") => CmpOp::Ge,
            _ => return None,
        })
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        if let Tok::Ident(name) = self.peek().clone() {
            let func = match name.as_str() {
                "count" => Some(AggFunc::Count),
                "sum" => Some(AggFunc::Sum),
                "min" => Some(AggFunc::Min),
                "max" => Some(AggFunc::Max),
                "mean" => return self.unsupported(self.span(), "aggregate `mean`"),
                _ => None,
            };
            if let Some(func) = func {
                if !matches!(self.peek_at(1), Tok::Punct("(")) {
                    self.bump();
                    let target = if func == AggFunc::Count {
                        None
                    } else {
                        Some(self.term()?)
                    };
                    self.expect(":")?;
                    let goal = if self.is("{") {
                        self.bump();
                        let g = self.body()?;
                        self.expect("}")?;
                        g
                    } else {
                        vec![Literal::Positive(self.atom()?)]
                    };
                    return Ok(Operand::Agg(func, target, goal));
                }
            }
        }
        Ok(Operand::Term(self.term()?))
    }

    fn term(&mut self) -> Result<Term, ParseError> {
        self.binary(0)
    }

    /// Infix operators from the loosest level to the tightest, as Soufflé's grammar
    /// orders them; each level is left-associative.
    const LEVELS: [&'static [(&'static str, ArithOp)]; 9] = [
        &[("lor", ArithOp::LOr)],
        &[("lxor", ArithOp::LXor)],
        &[("land", ArithOp::LAnd)],
        &[("bor", ArithOp::BOr)],
        &[("bxor", ArithOp::BXor)],
        &[("band", ArithOp::BAnd)],
        &[
            ("bshl", ArithOp::BShl),
            ("bshr", ArithOp::BShr),
            ("bshru", ArithOp::BShrU),
        ],
        &[("+", ArithOp::Add), ("-", ArithOp::Sub)],
        &[
            ("*", ArithOp::Mul),
            ("/", ArithOp::Div),
            ("%", ArithOp::Rem),
        ],
    ];

    fn binary(&mut self, level: usize) -> Result<Term, ParseError> {
        if level == Self::LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let here = match self.peek() {
                Tok::Punct(p) => *p,
                Tok::Ident(name) => name.as_str(),
                _ => return Ok(lhs),
            };
            let Some(&(_, op)) = Self::LEVELS[level].iter().find(|(t, _)| *t == here) else {
                return Ok(lhs);
            };
            self.bump();
            let rhs = self.binary(level + 1)?;
            lhs = Term::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    /// Prefix operators: `-`, `bnot`, `lnot`; then powers.
    fn unary(&mut self) -> Result<Term, ParseError> {
        let sp = self.span();
        if self.is("-") {
            self.bump();
            if let (Tok::Number(n), false) = (
                self.peek().clone(),
                matches!(self.peek_at(1), Tok::Punct("^")),
            ) {
                self.bump();
                return Ok(Term::Number(n.checked_neg().ok_or_else(|| {
                    ParseError::BadNumber {
                        loc: Loc::new(&self.file, sp),
                        text: format!("-{n}"),
                        reason: "out of range".into(),
                    }
                })?));
            }
            let t = self.unary()?;
            return Ok(Term::Binary(
                ArithOp::Sub,
                Box::new(Term::Number(0)),
                Box::new(t),
            ));
        }
        if let Tok::Ident(name) = self.peek() {
            if !matches!(self.peek_at(1), Tok::Punct("(" | "," | ")" | ".")) {
                match name.as_str() {
                    "bnot" => {
                        self.bump();
                        let t = self.unary()?;
                        // Every bit flipped: x bxor -1.
                        return Ok(Term::Binary(
                            ArithOp::BXor,
                            Box::new(t),
                            Box::new(Term::Number(-1)),
                        ));
                    }
                    "lnot" => {
                        self.bump();
                        let t = self.unary()?;
                        // 1 when x is 0, else 0: 1 - (x lor 0).
                        return Ok(Term::Binary(
                            ArithOp::Sub,
                            Box::new(Term::Number(1)),
                            Box::new(Term::Binary(
                                ArithOp::LOr,
                                Box::new(t),
                                Box::new(Term::Number(0)),
                            )),
                        ));
                    }
                    _ => {}
                }
            }
        }
        self.power()
    }

    /// `base ^ exponent`, right-associative, binding tighter than a prefix minus.
    fn power(&mut self) -> Result<Term, ParseError> {
        let base = self.primary()?;
        if self.is("^") {
            self.bump();
            let exp = self.unary()?;
            return Ok(Term::Binary(ArithOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    /// `f(a, b, …)`'s arguments.
    fn arguments(&mut self) -> Result<Vec<Term>, ParseError> {
        self.expect("(")?;
        let mut args = Vec::new();
        if !self.is(")") {
            loop {
                args.push(self.term()?);
                if self.is(",") {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        Ok(args)
    }

    fn primary(&mut self) -> Result<Term, ParseError> {
        let sp = self.span();
        match self.peek().clone() {
            Tok::Number(n) => {
                self.bump();
                Ok(Term::Number(n))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Term::Symbol(s))
            }
            Tok::Ident(name) => {
                if matches!(self.peek_at(1), Tok::Punct("(")) {
                    let op = match name.as_str() {
                        "min" => ArithOp::Min,
                        "max" => ArithOp::Max,
                        _ => return self.unsupported(sp, format!("functor `{name}`")),
                    };
                    self.bump();
                    let args = self.arguments()?;
                    let mut it = args.into_iter();
                    let Some(first) = it.next() else {
                        return self.err("at least one argument");
                    };
                    return Ok(
                        it.fold(first, |acc, t| Term::Binary(op, Box::new(acc), Box::new(t)))
                    );
                }
                if matches!(name.as_str(), "count" | "sum" | "min" | "max") {
                    return self.unsupported(sp, "aggregate inside an expression");
                }
                if matches!(name.as_str(), "nil") {
                    return self.unsupported(sp, "record constant `nil`");
                }
                self.bump();
                if name == "_" {
                    Ok(Term::Wildcard)
                } else {
                    Ok(Term::Var(name))
                }
            }
            Tok::Punct("(") => {
                self.bump();
                let t = self.term()?;
                self.expect(")")?;
                Ok(t)
            }
            Tok::Punct("$") => self.unsupported(sp, "counter `$` or ADT constructor"),
            Tok::Punct("[") => self.unsupported(sp, "record"),
            Tok::Punct("@") => self.unsupported(sp, "user-defined functor `@`"),
            _ => self.err("a term (variable, number, string or `(`)"),
        }
    }
}

enum Operand {
    Term(Term),
    Agg(AggFunc, Option<Term>, Vec<Literal>),
}
