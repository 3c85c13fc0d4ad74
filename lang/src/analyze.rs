//! Analysis: reader forms to the [`Node`] tree that every tier runs.
//!
//! Expands macros, parses special forms, resolves every variable to a frame slot
//! (`let`, `letrec`, internal `define` and `guard` bindings are flattened into the
//! slots of the enclosing function's frame) or to a global looked up at run time.

use std::rc::Rc;

use thiserror::Error;

use crate::ast::*;
use crate::interp::Interp;
use crate::reader::{Form, FormKind};
use crate::span::Span;
use crate::symbol::Sym;
use crate::value::Value;

/// How deep macro expansions may nest before analysis gives up.
const MAX_EXPANSION_DEPTH: usize = 1000;

/// How many values (list elements, dict keys and values, atoms) the macro
/// expansions of one top-level form may produce in all before analysis gives up.
/// Bounded depth alone is not enough: expansions that grow at every level reached
/// gigabytes long before the thousandth.
const MAX_EXPANDED_VALUES: usize = 2_000_000;

/// A malformed special form or failed macro expansion, with its position.
#[derive(Debug, Error, Clone)]
#[error("{message}")]
pub struct AnalyzeError {
    /// What is wrong and what was expected.
    pub message: String,
    /// Where.
    pub span: Span,
}

type R<T> = Result<T, AnalyzeError>;

fn err<T>(span: &Span, message: impl Into<String>) -> R<T> {
    Err(AnalyzeError {
        message: message.into(),
        span: span.clone(),
    })
}

/// The slots of one function frame under analysis.
#[derive(Default)]
struct Scope {
    /// Visible names, innermost last.
    names: Vec<(Sym, u32)>,
    /// Slots allocated so far (the frame size).
    size: u32,
    /// Start of the current body block in `names` (for internal `define`).
    block_start: usize,
}

/// Analyses one top-level form at a time.
pub struct Analyzer<'i> {
    interp: &'i mut Interp,
    scopes: Vec<Scope>,
    expansion_depth: usize,
    /// Values produced by this form's macro expansions so far.
    expanded_values: usize,
    /// Enclosing functions and `let`/`letrec` bodies: `define` makes a global only
    /// outside all of them.
    local_depth: usize,
    /// Policy names of the enclosing functions (see `LambdaInfo::policy_name`).
    fn_names: Vec<Rc<str>>,
}

/// An analysed top-level form: its code and how many slots its frame needs.
pub struct TopLevel {
    /// The code.
    pub node: Node,
    /// Slots for `let` bindings outside any function.
    pub frame_size: u32,
}

impl<'i> Analyzer<'i> {
    /// An analyser that expands macros with `interp`.
    pub fn new(interp: &'i mut Interp) -> Analyzer<'i> {
        Analyzer {
            interp,
            scopes: vec![Scope::default()],
            expansion_depth: 0,
            expanded_values: 0,
            local_depth: 0,
            fn_names: Vec::new(),
        }
    }

    /// Analyses a top-level form (`define` there makes a global).
    pub fn toplevel(mut self, form: &Form) -> R<TopLevel> {
        let node = self.expr(form, true)?;
        Ok(TopLevel {
            node,
            frame_size: self.scopes[0].size,
        })
    }

    fn scope(&mut self) -> &mut Scope {
        self.scopes.last_mut().expect("there is always a scope")
    }

    fn declare(&mut self, sym: Sym) -> u32 {
        let s = self.scope();
        let idx = s.size;
        s.size += 1;
        s.names.push((sym, idx));
        idx
    }

    fn lookup(&self, sym: Sym) -> Option<(u32, u32)> {
        for (depth, scope) in self.scopes.iter().rev().enumerate() {
            if let Some(&(_, idx)) = scope.names.iter().rev().find(|(s, _)| *s == sym) {
                return Some((depth as u32, idx));
            }
        }
        None
    }

    fn var(&self, sym: Sym, span: &Span) -> Node {
        match self.lookup(sym) {
            Some((0, idx)) => Node::Local(idx),
            Some((d, idx)) => Node::Outer(d, idx),
            None => Node::Global(Rc::new(GlobalRef {
                sym,
                span: span.clone(),
            })),
        }
    }

    /// Analyses an expression. `at_top`: directly at top level, where `define` makes
    /// globals and `defmacro` is allowed.
    pub fn expr(&mut self, form: &Form, at_top: bool) -> R<Node> {
        match &form.kind {
            FormKind::Atom(Value::Sym(s)) => Ok(self.var(*s, &form.span)),
            FormKind::Atom(v) => Ok(Node::Const(v.clone())),
            FormKind::Dict(items) => {
                let nodes = items
                    .iter()
                    .map(|f| self.expr(f, false))
                    .collect::<R<Vec<_>>>()?;
                Ok(Node::BuildDict(nodes.into()))
            }
            FormKind::List(items) if items.is_empty() => Ok(Node::Const(Value::empty_list())),
            FormKind::List(items) => {
                if let Some(head) = items[0].as_sym() {
                    if self.lookup(head).is_none() {
                        if let Some(node) = self.special(head, items, &form.span, at_top)? {
                            return Ok(node);
                        }
                        if let Some(mac) = self.interp.macro_named(head) {
                            return self.expand(mac, head, &items[1..], &form.span, at_top);
                        }
                    }
                }
                let f = self.expr(&items[0], false)?;
                let args = items[1..]
                    .iter()
                    .map(|a| self.expr(a, false))
                    .collect::<R<Vec<_>>>()?;
                Ok(call(f, args, &form.span))
            }
        }
    }

    fn expand(
        &mut self,
        mac: Value,
        name: Sym,
        args: &[Form],
        span: &Span,
        at_top: bool,
    ) -> R<Node> {
        if self.expansion_depth >= MAX_EXPANSION_DEPTH {
            return err(
                span,
                format!("{name}: macro expansion deeper than {MAX_EXPANSION_DEPTH} levels"),
            );
        }
        let args: Vec<Value> = args.iter().map(Form::to_value).collect();
        let expanded = self
            .interp
            .call_nested(&mac, args, span)
            .map_err(|e| AnalyzeError {
                message: format!("{name}: macro expansion failed: {}", e.message()),
                span: span.clone(),
            })?;
        let budget = MAX_EXPANDED_VALUES - self.expanded_values;
        match size_within(&expanded, budget) {
            Some(n) => self.expanded_values += n,
            None => {
                return err(
                    span,
                    format!(
                        "{name}: macro expansion too large: more than {MAX_EXPANDED_VALUES} values"
                    ),
                )
            }
        }
        let form = Form::from_value(&expanded, span);
        self.expansion_depth += 1;
        let node = self.expr(&form, at_top);
        self.expansion_depth -= 1;
        node
    }

    /// A body: internal `define`s are declared first (so they can refer to each
    /// other), then the forms run in order.
    fn body(&mut self, forms: &[Form], span: &Span) -> R<Node> {
        let saved_len = self.scope().names.len();
        let saved_block = self.scope().block_start;
        self.scope().block_start = saved_len;
        for f in forms {
            if let Some(name) = defined_name(f).filter(|_| self.local_depth > 0) {
                if self.find_in_block(name).is_none() {
                    self.declare(name);
                }
            }
        }
        let nodes = forms
            .iter()
            .map(|f| self.expr(f, false))
            .collect::<R<Vec<_>>>();
        let s = self.scope();
        s.names.truncate(saved_len);
        s.block_start = saved_block;
        Ok(seq(nodes?, span))
    }

    fn find_in_block(&mut self, sym: Sym) -> Option<u32> {
        let s = self.scope();
        s.names[s.block_start..]
            .iter()
            .rev()
            .find(|(n, _)| *n == sym)
            .map(|&(_, i)| i)
    }

    /// Returns `Some(node)` when `head` names a special form.
    fn special(&mut self, head: Sym, items: &[Form], span: &Span, at_top: bool) -> R<Option<Node>> {
        let args = &items[1..];
        let name = head.name();
        let node = match &*name {
            "quote" => {
                let [x] = args else {
                    return err(span, "quote: expected (quote datum)");
                };
                Node::Const(x.to_value())
            }
            "quasiquote" => {
                let [x] = args else {
                    return err(span, "quasiquote: expected (quasiquote template)");
                };
                self.quasi(x, 1)?
            }
            "unquote" | "unquote-splicing" => {
                return err(span, format!("{name}: only allowed inside quasiquote"));
            }
            "if" => match args {
                [c, t] => if_node(
                    self.expr(c, false)?,
                    self.expr(t, false)?,
                    Node::Const(Value::Nil),
                ),
                [c, t, e] => if_node(
                    self.expr(c, false)?,
                    self.expr(t, false)?,
                    self.expr(e, false)?,
                ),
                _ => return err(span, "if: expected (if test then [else])"),
            },
            "define" => self.define(args, span)?,
            "fn" | "lambda" => {
                let Some((params, body)) = args.split_first() else {
                    return err(span, format!("{name}: expected ({name} (params…) body…)"));
                };
                Node::Lambda(self.lambda(params, body, None, span)?)
            }
            "let" | "let*" => self.let_form(args, span)?,
            "letrec" => self.letrec(args, span)?,
            "do" | "begin" => {
                let nodes = args
                    .iter()
                    .map(|f| self.expr(f, at_top))
                    .collect::<R<Vec<_>>>()?;
                seq(nodes, span)
            }
            "when" | "unless" => {
                let Some((test, body)) = args.split_first() else {
                    return err(span, format!("{name}: expected ({name} test body…)"));
                };
                let test = self.expr(test, false)?;
                let body = self.body(body, span)?;
                let nil = Node::Const(Value::Nil);
                if &*name == "when" {
                    if_node(test, body, nil)
                } else {
                    if_node(test, nil, body)
                }
            }
            "cond" => self.cond(args, span)?,
            "case" => self.case(args, span)?,
            "and" | "or" => {
                let nodes = args
                    .iter()
                    .map(|f| self.expr(f, false))
                    .collect::<R<Vec<_>>>()?;
                let is_and = &*name == "and";
                match nodes.len() {
                    0 => Node::Const(if is_and {
                        Value::Bool(true)
                    } else {
                        Value::Nil
                    }),
                    1 => nodes.into_iter().next().expect("one node"),
                    _ if is_and => Node::And(nodes.into()),
                    _ => Node::Or(nodes.into()),
                }
            }
            "set!" => {
                let [target, value] = args else {
                    return err(span, "set!: expected (set! name value)");
                };
                let Some(sym) = target.as_sym() else {
                    return err(&target.span, "set!: expected a symbol to assign");
                };
                let value = self.expr(value, false)?;
                match self.lookup(sym) {
                    Some((depth, idx)) => Node::SetLocal(Rc::new(SetLocal {
                        depth,
                        idx,
                        value,
                        init: false,
                    })),
                    None => Node::SetGlobal(Rc::new(SetGlobal {
                        sym,
                        value,
                        define: false,
                        span: span.clone(),
                    })),
                }
            }
            "defmacro" => self.defmacro(args, span, at_top)?,
            "guard" => self.guard(args, span)?,
            "perform" => {
                let [request] = args else {
                    return err(span, "perform: expected (perform request)");
                };
                Node::Perform(Rc::new(Perform {
                    request: self.expr(request, false)?,
                    span: span.clone(),
                }))
            }
            _ => return Ok(None),
        };
        Ok(Some(node))
    }

    fn define(&mut self, args: &[Form], span: &Span) -> R<Node> {
        let global = self.local_depth == 0;
        let (name, value) = match args {
            [target, rest @ ..] if target.as_list().is_some() => {
                let parts = target.as_list().expect("checked list");
                let Some(name) = parts.first().and_then(Form::as_sym) else {
                    return err(span, "define: expected (define (name params…) body…)");
                };
                let params = Form {
                    kind: FormKind::List(parts[1..].to_vec()),
                    span: target.span.clone(),
                };
                if !global && self.find_in_block(name).is_none() {
                    self.declare(name);
                }
                (
                    name,
                    Node::Lambda(self.lambda(&params, rest, Some(name), span)?),
                )
            }
            [target, value] => {
                let Some(name) = target.as_sym() else {
                    return err(
                        span,
                        "define: expected a symbol or (name params…) to define",
                    );
                };
                if !global && self.find_in_block(name).is_none() {
                    self.declare(name);
                }
                (name, self.named_expr(value, name)?)
            }
            [_] => {
                return err(span, "define: expected (define name value)");
            }
            _ => {
                return err(
                    span,
                    "define: expected (define name value) or (define (name params…) body…)",
                )
            }
        };
        if global {
            return Ok(Node::SetGlobal(Rc::new(SetGlobal {
                sym: name,
                value,
                define: true,
                span: span.clone(),
            })));
        }
        let idx = self.find_in_block(name).expect("declared above");
        Ok(Node::SetLocal(Rc::new(SetLocal {
            depth: 0,
            idx,
            value,
            init: false,
        })))
    }

    /// Analyses `form`, naming it `name` when it is a `fn`.
    fn named_expr(&mut self, form: &Form, name: Sym) -> R<Node> {
        if let Some(items) = form.as_list() {
            if let (Some(head), Some((params, body))) = (
                items.first().and_then(Form::as_sym),
                items.get(1..).and_then(<[Form]>::split_first),
            ) {
                let h = head.name();
                if (&*h == "fn" || &*h == "lambda") && self.lookup(head).is_none() {
                    return Ok(Node::Lambda(self.lambda(
                        params,
                        body,
                        Some(name),
                        &form.span,
                    )?));
                }
            }
        }
        self.expr(form, false)
    }

    fn lambda(
        &mut self,
        params: &Form,
        body: &[Form],
        name: Option<Sym>,
        span: &Span,
    ) -> R<Rc<LambdaInfo>> {
        let Some(list) = params.as_list() else {
            return err(&params.span, "fn: expected a parameter list");
        };
        let mut names = Vec::new();
        let mut rest = false;
        let mut i = 0;
        while i < list.len() {
            let Some(s) = list[i].as_sym() else {
                return err(&list[i].span, "fn: parameters must be symbols");
            };
            if &*s.name() == "&rest" {
                let [p] = &list[i + 1..] else {
                    return err(
                        &list[i].span,
                        "fn: &rest must be followed by exactly one name",
                    );
                };
                let Some(p) = p.as_sym() else {
                    return err(&p.span, "fn: parameters must be symbols");
                };
                names.push(p);
                rest = true;
                break;
            }
            names.push(s);
            i += 1;
        }
        for (j, n) in names.iter().enumerate() {
            if names[..j].contains(n) {
                return err(&params.span, format!("fn: duplicate parameter {n}"));
            }
        }
        self.scopes.push(Scope::default());
        for n in &names {
            self.declare(*n);
        }
        let policy_name: Rc<str> = match (name, self.fn_names.last()) {
            (Some(n), _) => n.name(),
            (None, Some(outer)) => outer.clone(),
            (None, None) => Rc::from("fn"),
        };
        self.fn_names.push(policy_name.clone());
        self.local_depth += 1;
        let body = self.body(body, span);
        self.local_depth -= 1;
        self.fn_names.pop();
        let scope = self.scopes.pop().expect("pushed above");
        Ok(Rc::new(LambdaInfo {
            name,
            nparams: names.len() as u32 - u32::from(rest),
            rest,
            frame_size: scope.size,
            body: body?,
            span: span.clone(),
            policy_name,
            jit: crate::tiering::JitState::default(),
            chunk: std::cell::OnceCell::new(),
        }))
    }

    /// Parses let-style bindings: `((x 1) (y 2))` or the flat `(x 1 y 2)`.
    fn bindings<'f>(&self, form: &'f Form, what: &str) -> R<Vec<(Sym, &'f Form)>> {
        let bad = || {
            err(
                &form.span,
                format!("{what}: bindings must be ((name value) …)"),
            )
        };
        let Some(list) = form.as_list() else {
            return bad();
        };
        let mut out = Vec::new();
        if list.first().is_some_and(|f| f.as_sym().is_some()) {
            if list.len() % 2 != 0 {
                return bad();
            }
            for pair in list.chunks(2) {
                let Some(s) = pair[0].as_sym() else {
                    return bad();
                };
                out.push((s, &pair[1]));
            }
            return Ok(out);
        }
        for b in list {
            match b.as_list() {
                Some([name, value]) if name.as_sym().is_some() => {
                    out.push((name.as_sym().expect("checked"), value))
                }
                _ => return bad(),
            }
        }
        Ok(out)
    }

    fn let_form(&mut self, args: &[Form], span: &Span) -> R<Node> {
        let Some((first, rest)) = args.split_first() else {
            return err(span, "let: expected (let ((name value) …) body…)");
        };
        if let Some(loop_name) = first.as_sym() {
            return self.named_let(loop_name, rest, span);
        }
        let bindings = self.bindings(first, "let")?;
        let saved = self.scope().names.len();
        let mut nodes = Vec::new();
        for (name, value) in bindings {
            let value = self.named_expr(value, name);
            let idx = self.declare(name);
            nodes.push(Node::SetLocal(Rc::new(SetLocal {
                depth: 0,
                idx,
                value: value?,
                init: true,
            })));
        }
        self.local_depth += 1;
        let body = self.body(rest, span);
        self.local_depth -= 1;
        self.scope().names.truncate(saved);
        nodes.push(body?);
        Ok(seq(nodes, span))
    }

    /// `(let loop ((v init) …) body…)`: a local recursive function called at once.
    fn named_let(&mut self, loop_name: Sym, args: &[Form], span: &Span) -> R<Node> {
        let Some((binds, body)) = args.split_first() else {
            return err(span, "let: expected (let name ((var init) …) body…)");
        };
        let bindings = self.bindings(binds, "let")?;
        let inits = bindings
            .iter()
            .map(|(_, v)| self.expr(v, false))
            .collect::<R<Vec<_>>>()?;
        let params = Form {
            kind: FormKind::List(
                bindings
                    .iter()
                    .map(|(s, f)| Form {
                        kind: FormKind::Atom(Value::Sym(*s)),
                        span: f.span.clone(),
                    })
                    .collect(),
            ),
            span: binds.span.clone(),
        };
        let saved = self.scope().names.len();
        let idx = self.declare(loop_name);
        let lambda = self.lambda(&params, body, Some(loop_name), span);
        self.scope().names.truncate(saved);
        let bind = Node::SetLocal(Rc::new(SetLocal {
            depth: 0,
            idx,
            value: Node::Lambda(lambda?),
            init: false,
        }));
        Ok(seq(vec![bind, call(Node::Local(idx), inits, span)], span))
    }

    fn letrec(&mut self, args: &[Form], span: &Span) -> R<Node> {
        let Some((first, rest)) = args.split_first() else {
            return err(span, "letrec: expected (letrec ((name value) …) body…)");
        };
        let bindings = self.bindings(first, "letrec")?;
        let saved = self.scope().names.len();
        let slots: Vec<u32> = bindings.iter().map(|(n, _)| self.declare(*n)).collect();
        let mut nodes = Vec::new();
        for ((name, value), idx) in bindings.iter().zip(slots) {
            match self.named_expr(value, *name) {
                Ok(value) => nodes.push(Node::SetLocal(Rc::new(SetLocal {
                    depth: 0,
                    idx,
                    value,
                    init: false,
                }))),
                Err(e) => {
                    self.scope().names.truncate(saved);
                    return Err(e);
                }
            }
        }
        self.local_depth += 1;
        let body = self.body(rest, span);
        self.local_depth -= 1;
        self.scope().names.truncate(saved);
        nodes.push(body?);
        Ok(seq(nodes, span))
    }

    fn cond(&mut self, clauses: &[Form], span: &Span) -> R<Node> {
        let mut acc = Node::Const(Value::Nil);
        for clause in clauses.iter().rev() {
            let Some(parts) = clause.as_list().filter(|p| !p.is_empty()) else {
                return err(&clause.span, "cond: each clause must be (test body…)");
            };
            let (test, body) = parts.split_first().expect("non-empty");
            if is_else(test) {
                acc = self.body(body, &clause.span)?;
                continue;
            }
            let test = self.expr(test, false)?;
            acc = if body.is_empty() {
                Node::Or(vec![test, acc].into())
            } else {
                if_node(test, self.body(body, &clause.span)?, acc)
            };
        }
        let _ = span;
        Ok(acc)
    }

    fn case(&mut self, args: &[Form], span: &Span) -> R<Node> {
        let Some((key, clauses)) = args.split_first() else {
            return err(span, "case: expected (case key clause…)");
        };
        let key = self.expr(key, false)?;
        let mut out = Vec::new();
        let mut default = Node::Const(Value::Nil);
        for clause in clauses {
            let Some((datums, body)) = clause.as_list().and_then(|p| p.split_first()) else {
                return err(
                    &clause.span,
                    "case: each clause must be ((datum…) body…) or (else body…)",
                );
            };
            let body = self.body(body, &clause.span)?;
            if is_else(datums) {
                default = body;
            } else {
                let values = match datums.as_list() {
                    Some(list) => list.iter().map(Form::to_value).collect(),
                    None => vec![datums.to_value()],
                };
                out.push((values, body));
            }
        }
        Ok(Node::Case(Rc::new(Case {
            key,
            clauses: out,
            default,
        })))
    }

    fn defmacro(&mut self, args: &[Form], span: &Span, at_top: bool) -> R<Node> {
        if !at_top {
            return err(span, "defmacro: only allowed at top level");
        }
        let Some((name, rest)) = args.split_first() else {
            return err(span, "defmacro: expected (defmacro name (params…) body…)");
        };
        let Some(name) = name.as_sym() else {
            return err(span, "defmacro: expected a symbol to name the macro");
        };
        let Some((params, body)) = rest.split_first() else {
            return err(span, "defmacro: expected (defmacro name (params…) body…)");
        };
        let info = self.lambda(params, body, Some(name), span)?;
        let frame = self.scopes[0].size;
        let f = self
            .interp
            .eval_node_nested(Node::Lambda(info), frame, span)
            .map_err(|e| AnalyzeError {
                message: format!("defmacro: {}", e.message()),
                span: span.clone(),
            })?;
        self.interp.define_macro(name, f);
        Ok(Node::Const(Value::Nil))
    }

    fn guard(&mut self, args: &[Form], span: &Span) -> R<Node> {
        let spec = args.first().and_then(Form::as_list);
        let Some((var, clauses)) = spec.and_then(|s| s.split_first()) else {
            return err(span, "guard: expected (guard (var clause…) body…)");
        };
        let Some(var) = var.as_sym() else {
            return err(
                &var.span,
                "guard: expected a variable name to bind the raised value",
            );
        };
        let body = self.body(&args[1..], span)?;
        let saved = self.scope().names.len();
        let slot = self.declare(var);
        // The slot after the variable holds where the value was raised (for re-raise).
        let site = self.declare(Sym::new(" raise-site"));
        debug_assert_eq!(site, slot + 1);
        let mut handler = Node::Reraise(slot);
        for clause in clauses.iter().rev() {
            let Some(parts) = clause.as_list().filter(|p| !p.is_empty()) else {
                self.scope().names.truncate(saved);
                return err(&clause.span, "guard: each clause must be (test body…)");
            };
            let (test, cbody) = parts.split_first().expect("non-empty");
            let built = if is_else(test) {
                self.body(cbody, &clause.span)
            } else {
                self.expr(test, false).and_then(|t| {
                    if cbody.is_empty() {
                        Ok(Node::Or(vec![t, handler.clone()].into()))
                    } else {
                        Ok(if_node(t, self.body(cbody, &clause.span)?, handler.clone()))
                    }
                })
            };
            match built {
                Ok(n) => handler = n,
                Err(e) => {
                    self.scope().names.truncate(saved);
                    return Err(e);
                }
            }
        }
        self.scope().names.truncate(saved);
        Ok(Node::Guard(Rc::new(Guard {
            slot,
            body,
            handler,
        })))
    }

    /// A quasiquoted template at nesting `depth` (1 = outermost).
    fn quasi(&mut self, form: &Form, depth: usize) -> R<Node> {
        if !has_unquote(form) {
            return Ok(Node::Const(form.to_value()));
        }
        match &form.kind {
            FormKind::Atom(v) => Ok(Node::Const(v.clone())),
            FormKind::Dict(items) => {
                let nodes = items
                    .iter()
                    .map(|f| self.quasi(f, depth))
                    .collect::<R<Vec<_>>>()?;
                Ok(Node::BuildDict(nodes.into()))
            }
            FormKind::List(items) => {
                if let Some((tag, inner)) = tagged(form) {
                    match &*tag.name() {
                        "unquote" if depth == 1 => return self.expr(inner, false),
                        "unquote-splicing" if depth == 1 => {
                            return err(
                                &form.span,
                                "unquote-splicing: only allowed inside a list (,@x splices into the list around it)",
                            )
                        }
                        "unquote" | "unquote-splicing" => {
                            return self.rebuild(tag, inner, depth - 1, &form.span)
                        }
                        "quasiquote" => return self.rebuild(tag, inner, depth + 1, &form.span),
                        _ => {}
                    }
                }
                let mut parts = Vec::new();
                for item in items {
                    match tagged(item) {
                        Some((tag, inner)) if depth == 1 && &*tag.name() == "unquote-splicing" => {
                            parts.push(QuasiPart::Splice(
                                self.expr(inner, false)?,
                                item.span.clone(),
                            ))
                        }
                        _ => parts.push(QuasiPart::Item(self.quasi(item, depth)?)),
                    }
                }
                Ok(Node::BuildList(parts.into()))
            }
        }
    }

    /// `(tag inner)` kept as data, with `inner` processed at `depth`.
    fn rebuild(&mut self, tag: Sym, inner: &Form, depth: usize, span: &Span) -> R<Node> {
        let _ = span;
        let inner = self.quasi(inner, depth)?;
        Ok(Node::BuildList(
            vec![
                QuasiPart::Item(Node::Const(Value::Sym(tag))),
                QuasiPart::Item(inner),
            ]
            .into(),
        ))
    }
}

/// `(tag x)` where tag is one of the quasiquote symbols.
fn tagged(form: &Form) -> Option<(Sym, &Form)> {
    match form.as_list()? {
        [head, inner] => {
            let s = head.as_sym()?;
            let n = s.name();
            matches!(&*n, "unquote" | "unquote-splicing" | "quasiquote").then_some((s, inner))
        }
        _ => None,
    }
}

fn has_unquote(form: &Form) -> bool {
    match &form.kind {
        FormKind::Atom(_) => false,
        FormKind::Dict(items) => items.iter().any(has_unquote),
        FormKind::List(items) => {
            tagged(form).is_some_and(|(t, _)| &*t.name() != "quasiquote")
                || items.iter().any(has_unquote)
        }
    }
}

fn is_else(form: &Form) -> bool {
    match &form.kind {
        FormKind::Atom(Value::Sym(s)) => &*s.name() == "else",
        FormKind::Atom(Value::Keyword(s)) => &*s.name() == "else",
        _ => false,
    }
}

/// The name a body-level `define` introduces.
fn defined_name(form: &Form) -> Option<Sym> {
    let items = form.as_list()?;
    if items.first()?.as_sym().map(|s| s.name()).as_deref() != Some("define") {
        return None;
    }
    let target = items.get(1)?;
    target
        .as_sym()
        .or_else(|| target.as_list()?.first()?.as_sym())
}

fn if_node(test: Node, then: Node, els: Node) -> Node {
    Node::If(Rc::new(If { test, then, els }))
}

fn seq(mut nodes: Vec<Node>, _span: &Span) -> Node {
    match nodes.len() {
        0 => Node::Const(Value::Nil),
        1 => nodes.pop().expect("one node"),
        _ => Node::Seq(nodes.into()),
    }
}

fn call(f: Node, args: Vec<Node>, span: &Span) -> Node {
    let simple_args = args.iter().all(is_simple);
    Node::Call(Rc::new(Call {
        f,
        args: args.into(),
        simple_args,
        not_simple: std::cell::Cell::new(false),
        span: span.clone(),
    }))
}

/// Whether `node` can be evaluated without a continuation frame: constants,
/// variables, and calls of global functions whose arguments are themselves simple
/// (taken directly at run time only when the function is a pure primitive).
pub fn is_simple(node: &Node) -> bool {
    match node {
        Node::Const(_) | Node::Local(_) | Node::Outer(..) | Node::Global(_) => true,
        Node::Call(c) => c.simple_args && matches!(c.f, Node::Global(_)),
        _ => false,
    }
}

/// The number of values in `v` (itself and, in lists and dicts, everything they
/// hold), or `None` when that is more than `budget`: the walk stops there.
fn size_within(v: &Value, budget: usize) -> Option<usize> {
    fn walk(v: &Value, left: &mut usize) -> bool {
        if *left == 0 {
            return false;
        }
        *left -= 1;
        match v {
            Value::List(l) => l.as_slice().iter().all(|x| walk(x, left)),
            Value::Dict(d) => d.iter().all(|(k, x)| walk(k, left) && walk(x, left)),
            _ => true,
        }
    }
    let mut left = budget;
    walk(v, &mut left).then(|| budget - left)
}
