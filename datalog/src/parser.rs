//! The Soufflé-subset text front end: `.dl` source to [`Program`].
//!
//! The accepted subset is stated in `docs/datalog.md`; everything else is rejected with
//! [`ParseError::Unsupported`] naming the construct and its line.

use crate::ast::*;
use crate::error::{Loc, ParseError};
use crate::lexer::{tokenize, Tok, Token};
use hashbrown::HashMap;
use std::sync::Arc;

/// Parses a whole `.dl` program. `file` names the source in error messages.
pub fn parse_program(src: &str, file: &str) -> Result<Program, ParseError> {
    let file: Arc<str> = Arc::from(file);
    let toks = crate::components::expand(tokenize(src, &file)?, &file)?;
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

const FUNCTORS: [&str; 12] = [
    "cat",
    "strlen",
    "substr",
    "ord",
    "to_number",
    "to_string",
    "match",
    "contains",
    "land",
    "lor",
    "bnot",
    "lnot",
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
        let head = self.atom()?;
        if self.is(",") {
            return self.unsupported(self.span(), "rule with several heads");
        }
        if self.is(".") {
            self.bump();
            self.prog.facts.push(head);
            return Ok(());
        }
        if !self.is(":-") {
            return self.err("`.` or `:-` after an atom");
        }
        self.bump();
        let body = self.body()?;
        self.expect(".")?;
        self.prog.rules.push(Rule { head, body, span });
        Ok(())
    }

    fn body(&mut self) -> Result<Vec<Literal>, ParseError> {
        let mut out = Vec::new();
        loop {
            out.push(self.literal()?);
            if self.is(",") {
                self.bump();
            } else if self.is(";") {
                return self.unsupported(self.span(), "disjunction `;`");
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
        if self.is("(") {
            // A parenthesised term starts a comparison; a parenthesised body is a disjunction.
            let save = self.pos;
            if self.term().is_ok() && self.cmp_op().is_some() {
                self.pos = save;
            } else {
                self.pos = save;
                return self.unsupported(span, "parenthesised body (disjunction)");
            }
        }
        if let Tok::Ident(name) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct("(")) && !FUNCTORS.contains(&name.as_str()) {
                if matches!(name.as_str(), "true" | "false") {
                    return self.unsupported(span, format!("`{name}` literal"));
                }
                return Ok(Literal::Positive(self.atom()?));
            }
            if matches!(name.as_str(), "true" | "false") {
                return self.unsupported(span, format!("`{name}` literal"));
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
        let mut lhs = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("+") => ArithOp::Add,
                Tok::Punct("-") => ArithOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.product()?;
            lhs = Term::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn product(&mut self) -> Result<Term, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("*") => ArithOp::Mul,
                Tok::Punct("/") => ArithOp::Div,
                Tok::Punct("%") => ArithOp::Rem,
                Tok::Punct("^") => return self.unsupported(self.span(), "operator `^`"),
                Tok::Punct("&") | Tok::Punct("|") => {
                    return self.unsupported(self.span(), "bitwise operator")
                }
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Term::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Term, ParseError> {
        if self.is("-") {
            let sp = self.span();
            self.bump();
            if let Tok::Number(n) = *self.peek() {
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
        self.primary()
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
                    return self.unsupported(sp, format!("functor `{name}`"));
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
