//! Soufflé components (`.comp`, `.init`, inheritance, `.override`), expanded on the
//! token stream before parsing: each `.init inst = C<T…>` is replaced by C's items (its
//! bases' first, less the clauses of relations it overrides) with the type parameters
//! substituted in type positions and every relation and type the component declares
//! renamed `inst.name`; nested instances compose (`a.b.r`). Qualified names written
//! `a.b.r` are merged into one identifier token.

use crate::error::{Loc, ParseError};
use crate::front::lexer::{Tok, Token};
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

/// One statement of a component body (or of the program).
#[derive(Clone, Debug)]
enum Item {
    /// Tokens passed through, renamed; `decls` are the relations a `.decl` declares
    /// (with whether they are `overridable`), `ty` the type a `.type` declares, `head`
    /// the head relation of a clause.
    Plain {
        toks: Vec<Token>,
        decls: Vec<(String, bool)>,
        ty: Option<String>,
        head: Option<String>,
    },
    Comp(Arc<CompDef>),
    Init {
        inst: String,
        comp: Token,
        args: Vec<Token>,
    },
    Override(String, Token),
}

#[derive(Debug)]
struct CompDef {
    name: String,
    params: Vec<String>,
    bases: Vec<(Token, Vec<Token>)>,
    items: Vec<Item>,
}

type Scope = Vec<HashMap<String, Arc<CompDef>>>;

fn err(file: &Arc<str>, t: &Token, message: String) -> ParseError {
    ParseError::Component {
        loc: Loc::new(file, t.span),
        message,
    }
}

/// Expands the components of a token stream (ending with `Eof`).
pub fn expand(toks: Vec<Token>, file: &Arc<str>) -> Result<Vec<Token>, ParseError> {
    let toks = merge_qualified(toks);
    if !toks.windows(2).any(|w| {
        w[0].tok == Tok::Punct(".")
            && matches!(&w[1].tok, Tok::Ident(s) if s == "comp" || s == "init")
    }) {
        return Ok(toks);
    }
    let eof = toks.last().cloned().expect("token stream ends with Eof");
    let mut s = Splitter {
        toks: &toks,
        pos: 0,
        file,
    };
    let items = s.items(false)?;
    let mut scope: Scope = vec![local_defs(&items)];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for item in &items {
        match item {
            Item::Plain { toks, .. } => out.extend(toks.iter().cloned()),
            Item::Comp(_) => {}
            Item::Init { inst, comp, args } => {
                let (t, _) = instantiate(inst, comp, args, &mut scope, &mut stack, file)?;
                out.extend(t);
            }
            Item::Override(_, t) => {
                return Err(err(file, t, "`.override` outside a component".into()))
            }
        }
    }
    out.push(eof);
    Ok(out)
}

fn local_defs(items: &[Item]) -> HashMap<String, Arc<CompDef>> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Comp(c) => Some((c.name.clone(), c.clone())),
            _ => None,
        })
        .collect()
}

fn lookup(scope: &Scope, name: &str) -> Option<Arc<CompDef>> {
    scope.iter().rev().find_map(|m| m.get(name).cloned())
}

fn ident(t: &Token) -> Option<&str> {
    match &t.tok {
        Tok::Ident(s) => Some(s),
        _ => None,
    }
}

/// The items of component `c` with arguments `args`: its bases' items, then its own.
fn collect(
    c: &Arc<CompDef>,
    at: &Token,
    args: &[Token],
    scope: &Scope,
    chain: &mut Vec<String>,
    file: &Arc<str>,
) -> Result<Vec<Item>, ParseError> {
    if chain.contains(&c.name) {
        chain.push(c.name.clone());
        return Err(err(
            file,
            at,
            format!("cycle of component inheritance: {}", chain.join(" -> ")),
        ));
    }
    if args.len() != c.params.len() {
        return Err(err(
            file,
            at,
            format!(
                "component `{}` takes {} type argument(s), given {}",
                c.name,
                c.params.len(),
                args.len()
            ),
        ));
    }
    let subst: HashMap<&str, &Token> = c.params.iter().map(String::as_str).zip(args).collect();
    chain.push(c.name.clone());
    let mut inner = scope.clone();
    inner.push(local_defs(&c.items));
    let overrides: Vec<(&String, &Token)> = c
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Override(r, t) => Some((r, t)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    let mut overridable = HashSet::new();
    for (base, bargs) in &c.bases {
        let name = ident(base).unwrap_or_default();
        let bname = subst.get(name).and_then(|t| ident(t)).unwrap_or(name);
        let Some(b) = lookup(&inner, bname) else {
            return Err(err(file, base, format!("unknown component `{bname}`")));
        };
        let bargs: Vec<Token> = bargs.iter().map(|t| sub(t, &subst)).collect();
        for item in collect(&b, base, &bargs, &inner, chain, file)? {
            if let Item::Plain { decls, head, .. } = &item {
                for (d, o) in decls {
                    if *o {
                        overridable.insert(d.clone());
                    }
                }
                if head
                    .as_ref()
                    .is_some_and(|h| overrides.iter().any(|(r, _)| *r == h))
                {
                    continue;
                }
            }
            out.push(item);
        }
    }
    for (r, t) in &overrides {
        if !overridable.contains(*r) {
            return Err(err(
                file,
                t,
                format!(
                    "component `{}` overrides `{r}`, which no base declares `overridable`",
                    c.name
                ),
            ));
        }
    }
    chain.pop();
    for item in &c.items {
        out.push(match item {
            Item::Plain {
                toks,
                decls,
                ty,
                head,
            } => {
                let mut nt = Vec::with_capacity(toks.len());
                for (i, t) in toks.iter().enumerate() {
                    let typos =
                        i > 0 && toks[i - 1].tok == Tok::Punct(":") || ty.is_some() && i > 2;
                    nt.push(if typos { sub(t, &subst) } else { t.clone() });
                }
                Item::Plain {
                    toks: nt,
                    decls: decls.clone(),
                    ty: ty.clone(),
                    head: head.clone(),
                }
            }
            Item::Init { inst, comp, args } => Item::Init {
                inst: inst.clone(),
                comp: sub(comp, &subst),
                args: args.iter().map(|t| sub(t, &subst)).collect(),
            },
            other => other.clone(),
        });
    }
    Ok(out)
}

fn sub(t: &Token, subst: &HashMap<&str, &Token>) -> Token {
    match ident(t).and_then(|s| subst.get(s)) {
        Some(a) => Token {
            tok: a.tok.clone(),
            ..t.clone()
        },
        None => t.clone(),
    }
}

/// Expands `.init inst = comp<args>`: the tokens, and the names (relations and types)
/// it declares, qualified by `inst`.
fn instantiate(
    inst: &str,
    comp: &Token,
    args: &[Token],
    scope: &mut Scope,
    stack: &mut Vec<String>,
    file: &Arc<str>,
) -> Result<(Vec<Token>, HashSet<String>), ParseError> {
    let name = ident(comp).unwrap_or_default();
    let Some(c) = lookup(scope, name) else {
        return Err(err(file, comp, format!("unknown component `{name}`")));
    };
    if stack.contains(&c.name) || stack.len() > 64 {
        return Err(err(
            file,
            comp,
            format!("component `{name}` instantiates itself"),
        ));
    }
    let items = collect(&c, comp, args, scope, &mut Vec::new(), file)?;
    stack.push(c.name.clone());
    scope.push(local_defs(&items));
    let mut declared: HashSet<String> = HashSet::new();
    let mut parts: Vec<Vec<Token>> = Vec::new();
    for item in &items {
        match item {
            Item::Plain {
                toks, decls, ty, ..
            } => {
                declared.extend(decls.iter().map(|d| d.0.clone()));
                declared.extend(ty.iter().cloned());
                parts.push(toks.clone());
            }
            Item::Init { inst, comp, args } => {
                let (t, names) = instantiate(inst, comp, args, scope, stack, file)?;
                declared.extend(names);
                parts.push(t);
            }
            _ => {}
        }
    }
    scope.pop();
    stack.pop();
    let mut out = Vec::new();
    for part in parts {
        for (i, t) in part.iter().enumerate() {
            let directive =
                i > 0 && part[i - 1].tok == Tok::Punct(".") && part[i - 1].end == t.start;
            match ident(t) {
                Some(s) if !directive && declared.contains(s) => out.push(Token {
                    tok: Tok::Ident(format!("{inst}.{s}")),
                    ..t.clone()
                }),
                _ => out.push(t.clone()),
            }
        }
    }
    let names = declared
        .into_iter()
        .map(|s| format!("{inst}.{s}"))
        .collect();
    Ok((out, names))
}

/// Merges `a` `.` `b` written without spaces into the identifier `a.b`.
fn merge_qualified(toks: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if let (Some(last), Tok::Punct("."), Some(next)) = (out.last_mut(), &t.tok, toks.get(i + 1))
        {
            if let (Tok::Ident(a), Tok::Ident(b)) = (&mut last.tok, &next.tok) {
                if last.end == t.start && t.end == next.start {
                    a.push('.');
                    a.push_str(b);
                    last.end = next.end;
                    i += 2;
                    continue;
                }
            }
        }
        out.push(t.clone());
        i += 1;
    }
    out
}

const QUALIFIERS: [&str; 14] = [
    "brie",
    "btree",
    "btree_delete",
    "inline",
    "no_inline",
    "magic",
    "no_magic",
    "overridable",
    "eqrel",
    "input",
    "output",
    "printsize",
    "choice",
    "nullary",
];

struct Splitter<'a> {
    toks: &'a [Token],
    pos: usize,
    file: &'a Arc<str>,
}

impl Splitter<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }
    fn at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }
    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn is(&self, p: &str) -> bool {
        self.peek().tok
            == Tok::Punct(match p {
                "(" => "(",
                ")" => ")",
                "," => ",",
                "<" => "<",
                ">" => ">",
                ":" => ":",
                "{" => "{",
                "}" => "}",
                "=" => "=",
                "|" => "|",
                "[" => "[",
                "]" => "]",
                "." => ".",
                _ => return false,
            })
    }
    fn fail<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(ParseError::Unexpected {
            loc: Loc::new(self.file, self.peek().span),
            expected: expected.into(),
            found: self.peek().tok.describe(),
        })
    }
    fn name(&mut self, what: &str) -> Result<Token, ParseError> {
        if ident(self.peek()).is_some() {
            Ok(self.bump())
        } else {
            self.fail(what)
        }
    }
    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.is(p) {
            self.bump();
            Ok(())
        } else {
            self.fail(&format!("`{p}`"))
        }
    }
    /// `<T, U>` if present.
    fn type_args(&mut self) -> Result<Vec<Token>, ParseError> {
        let mut v = Vec::new();
        if self.is("<") {
            self.bump();
            loop {
                v.push(self.name("a type")?);
                if self.is(",") {
                    self.bump();
                } else {
                    break;
                }
            }
            self.expect(">")?;
        }
        Ok(v)
    }
    /// Consumes a balanced group starting at the current bracket.
    fn group(&mut self, toks: &mut Vec<Token>) {
        let mut depth = 0i32;
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")" | "]" | "}") => depth -= 1,
                Tok::Eof => return,
                _ => {}
            }
            toks.push(t);
            if depth <= 0 {
                return;
            }
        }
    }
    fn directive_start(&self) -> bool {
        self.is(".") && matches!(self.at(1), Tok::Ident(_)) && {
            let a = &self.toks[self.pos];
            let b = &self.toks[(self.pos + 1).min(self.toks.len() - 1)];
            a.end == b.start
        }
    }
    fn items(&mut self, in_comp: bool) -> Result<Vec<Item>, ParseError> {
        let mut out = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof || (in_comp && self.is("}")) {
                return Ok(out);
            }
            let start = self.pos;
            if self.directive_start() {
                let kw = ident(&self.toks[self.pos + 1])
                    .unwrap_or_default()
                    .to_string();
                match kw.as_str() {
                    "comp" => {
                        self.bump();
                        self.bump();
                        let span = self.name("a component name")?;
                        let params = self
                            .type_args()?
                            .iter()
                            .map(|t| ident(t).unwrap_or_default().to_string())
                            .collect();
                        let mut bases = Vec::new();
                        if self.is(":") {
                            self.bump();
                            loop {
                                let b = self.name("a base component")?;
                                bases.push((b, self.type_args()?));
                                if self.is(",") {
                                    self.bump();
                                } else {
                                    break;
                                }
                            }
                        }
                        self.expect("{")?;
                        let items = self.items(true)?;
                        self.expect("}")?;
                        out.push(Item::Comp(Arc::new(CompDef {
                            name: ident(&span).unwrap_or_default().to_string(),
                            params,
                            bases,
                            items,
                        })));
                    }
                    "init" => {
                        self.bump();
                        self.bump();
                        let inst = self.name("an instance name")?;
                        self.expect("=")?;
                        let comp = self.name("a component name")?;
                        let args = self.type_args()?;
                        out.push(Item::Init {
                            inst: ident(&inst).unwrap_or_default().to_string(),
                            comp,
                            args,
                        });
                    }
                    "override" => {
                        self.bump();
                        self.bump();
                        let r = self.name("a relation name")?;
                        out.push(Item::Override(ident(&r).unwrap_or_default().to_string(), r));
                    }
                    _ => out.push(self.directive(&kw)?),
                }
                continue;
            }
            if ident(self.peek()).is_some() {
                // A clause: up to its final `.` outside brackets.
                let head = ident(self.peek()).map(str::to_string);
                let mut toks = Vec::new();
                let mut depth = 0i32;
                loop {
                    let t = self.bump();
                    match t.tok {
                        Tok::Punct("(" | "[" | "{") => depth += 1,
                        Tok::Punct(")" | "]" | "}") => depth -= 1,
                        Tok::Eof => return self.fail("`.` at the end of a clause"),
                        _ => {}
                    }
                    let end = depth == 0 && t.tok == Tok::Punct(".");
                    toks.push(t);
                    if end {
                        break;
                    }
                }
                out.push(Item::Plain {
                    toks,
                    decls: Vec::new(),
                    ty: None,
                    head,
                });
                continue;
            }
            // Anything else: one token through, for the parser to report.
            let _ = start;
            out.push(Item::Plain {
                toks: vec![self.bump()],
                decls: Vec::new(),
                ty: None,
                head: None,
            });
        }
    }
    fn directive(&mut self, kw: &str) -> Result<Item, ParseError> {
        let mut toks = vec![self.bump(), self.bump()];
        let mut decls = Vec::new();
        let mut ty = None;
        match kw {
            "decl" => {
                let mut names = Vec::new();
                loop {
                    let n = self.name("a relation name")?;
                    names.push(ident(&n).unwrap_or_default().to_string());
                    toks.push(n);
                    if self.is(",") {
                        toks.push(self.bump());
                    } else {
                        break;
                    }
                }
                if self.is("(") {
                    self.group(&mut toks);
                }
                let mut over = false;
                while let Some(q) = ident(self.peek()) {
                    if !QUALIFIERS.contains(&q) || matches!(self.at(1), Tok::Punct("(")) {
                        break;
                    }
                    over |= q == "overridable";
                    toks.push(self.bump());
                }
                decls = names.into_iter().map(|n| (n, over)).collect();
            }
            "type" => {
                let n = self.name("a type name")?;
                ty = ident(&n).map(str::to_string);
                toks.push(n);
                if self.is("=") || self.peek().tok == Tok::Punct("<:") {
                    toks.push(self.bump());
                    loop {
                        if self.is("[") {
                            self.group(&mut toks);
                        } else if ident(self.peek()).is_some() {
                            toks.push(self.bump());
                            if self.is("{") {
                                self.group(&mut toks);
                            }
                        } else {
                            break;
                        }
                        if self.is("|") {
                            toks.push(self.bump());
                        } else {
                            break;
                        }
                    }
                }
            }
            "pragma" => {
                while matches!(self.peek().tok, Tok::Str(_)) {
                    toks.push(self.bump());
                }
            }
            _ => {
                // `.input a, b(params)` and the like.
                while ident(self.peek()).is_some() {
                    toks.push(self.bump());
                    if self.is(",") {
                        toks.push(self.bump());
                    } else {
                        break;
                    }
                }
                if self.is("(") {
                    self.group(&mut toks);
                }
            }
        }
        Ok(Item::Plain {
            toks,
            decls,
            ty,
            head: None,
        })
    }
}
