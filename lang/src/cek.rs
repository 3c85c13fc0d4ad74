//! The CEK machine: the reference evaluator.
//!
//! Control is a [`Node`] (or a value being returned), the environment an [`Env`],
//! and the continuation a `Vec` of [`Frame`]s on the heap, never the Rust stack. So
//! recursion depth is bounded by memory, every call in tail position is a proper
//! tail call, and `perform` can hand the whole machine to the host and later resume
//! it exactly where it stopped. Higher-order primitives are frames too: a `perform`
//! inside a `map` callback suspends the map loop with everything else.
//!
//! The machine itself (its frames, modes and run loop, shared with the VM) is in
//! `machine.rs`, the higher-order loops in `higher.rs`; this file is the CEK step:
//! evaluating a node, applying a function, resuming a frame with a value.

use std::rc::Rc;

use smallvec::SmallVec;

use crate::analyze::Analyzer;
use crate::ast::*;
use crate::closure::{Closure, Env};
use crate::inplace::push_in_place;
use crate::interp::Interp;
pub(crate) use crate::machine::{BuildState, Frame, HigherLoop, HigherStep, Machine, Mode, Stop};
use crate::prims::{higher_args, Dispatched, Higher, PrimCtx, PrimError, PrimImpl};
use crate::reader::{Form, FormKind};
use crate::span::Span;
use crate::value::{total_cmp, Value};

pub(crate) enum Simple {
    Value(Value),
    Raise(Value, Span),
    No,
}

impl Machine {
    pub(crate) fn eval(&mut self, node: Node, env: Rc<Env>, interp: &mut Interp) -> Mode {
        match node {
            Node::Const(v) => Mode::Return(v),
            Node::Local(i) => Mode::Return(env.get(i)),
            Node::Outer(d, i) => Mode::Return(env.ancestor(d).get(i)),
            Node::Global(g) => match interp.global_value(g.sym) {
                Some(v) => Mode::Return(v),
                None => raise_msg(format!("undefined symbol: {}", g.sym), &g.span),
            },
            Node::SetLocal(s) => {
                let value = s.value.clone();
                push_in_place!(self.kont, Frame::SetLocal(s, env.clone()));
                Mode::Eval(value, env)
            }
            Node::SetGlobal(s) => {
                let value = s.value.clone();
                push_in_place!(self.kont, Frame::SetGlobal(s));
                Mode::Eval(value, env)
            }
            Node::If(i) => match simple(&i.test, &env, interp) {
                Simple::Value(v) => {
                    let next = if v.truthy() {
                        i.then.clone()
                    } else {
                        i.els.clone()
                    };
                    Mode::Eval(next, env)
                }
                Simple::Raise(v, span) => Mode::Raise(v, Some(span)),
                Simple::No => {
                    let test = i.test.clone();
                    push_in_place!(self.kont, Frame::If(i, env.clone()));
                    Mode::Eval(test, env)
                }
            },
            Node::Seq(items) => {
                let first = items[0].clone();
                push_in_place!(self.kont, Frame::Seq(items, 1, env.clone()));
                Mode::Eval(first, env)
            }
            Node::Lambda(info) => Mode::Return(Value::Lambda(Rc::new(Closure {
                info,
                env: Some(env),
            }))),
            Node::Call(c) => self.continue_call(c, env, Vec::new(), interp),
            Node::And(items) => {
                let first = items[0].clone();
                push_in_place!(self.kont, Frame::And(items, 1, env.clone()));
                Mode::Eval(first, env)
            }
            Node::Or(items) => {
                let first = items[0].clone();
                push_in_place!(self.kont, Frame::Or(items, 1, env.clone()));
                Mode::Eval(first, env)
            }
            Node::Case(c) => {
                let key = c.key.clone();
                push_in_place!(self.kont, Frame::Case(c, env.clone()));
                Mode::Eval(key, env)
            }
            Node::Guard(g) => {
                let body = g.body.clone();
                self.kont
                    .push(Frame::Guard(g, env.clone(), self.stack.len()));
                Mode::Eval(body, env)
            }
            Node::Reraise(slot) => Mode::Raise(env.get(slot), raise_site_span(&env.get(slot + 1))),
            Node::Perform(p) => {
                let request = p.request.clone();
                push_in_place!(self.kont, Frame::Perform(p.span.clone()));
                Mode::Eval(request, env)
            }
            Node::BuildList(parts) => self.continue_build_list(BuildState {
                parts,
                idx: 0,
                env,
                acc: Vec::new(),
            }),
            Node::BuildDict(parts) => self.continue_build_dict(BuildState {
                parts,
                idx: 0,
                env,
                acc: Vec::new(),
            }),
        }
    }

    /// Evaluates the remaining operator/operands of a call (`vals` holds those done,
    /// operator first), then applies.
    pub(crate) fn continue_call(
        &mut self,
        c: Rc<Call>,
        env: Rc<Env>,
        mut vals: Vec<Value>,
        interp: &mut Interp,
    ) -> Mode {
        if vals.is_empty() && c.simple_args && !c.not_simple.get() {
            if let Node::Global(_) = c.f {
                match simple_call(&c, &env, interp) {
                    Simple::Value(v) => return Mode::Return(v),
                    Simple::Raise(v, span) => return Mode::Raise(v, Some(span)),
                    Simple::No => {}
                }
            }
        }
        let total = c.args.len() + 1;
        if vals.capacity() == 0 {
            vals.reserve_exact(total);
        }
        while vals.len() < total {
            let i = vals.len();
            let node = if i == 0 { &c.f } else { &c.args[i - 1] };
            match simple(node, &env, interp) {
                Simple::Value(v) => vals.push(v),
                Simple::Raise(v, span) => return Mode::Raise(v, Some(span)),
                Simple::No => {
                    let node = node.clone();
                    push_in_place!(self.kont, Frame::Call(c, env.clone(), vals));
                    return Mode::Eval(node, env);
                }
            }
        }
        let f = vals.remove(0);
        self.apply(f, vals, &c.span, interp)
    }

    /// Applies `f` to `args`; the call's position is `span`.
    pub(crate) fn apply(
        &mut self,
        f: Value,
        args: Vec<Value>,
        span: &Span,
        interp: &mut Interp,
    ) -> Mode {
        self.apply_on(f, args, span, interp, false)
    }

    /// Applies `f`, running a closure on the CEK whatever the policy says when
    /// `force_cek` (the re-run of a call that faulted on the VM).
    pub(crate) fn apply_on(
        &mut self,
        f: Value,
        args: Vec<Value>,
        span: &Span,
        interp: &mut Interp,
        force_cek: bool,
    ) -> Mode {
        match f {
            Value::Lambda(c) => {
                let info = &c.info;
                if let Err(m) = info.check_arity(args.len()) {
                    return raise_msg(m, span);
                }
                if let Err(m) = interp.enter_call(self.kont.len()) {
                    return raise_msg(m, span);
                }
                if !force_cek && self.recovering == 0 {
                    if interp.runs_on_vm(info) {
                        if let Some(chunk) = interp.chunk_for(info) {
                            let env = c.env.clone();
                            return self.enter_vm(
                                Value::Lambda(c),
                                chunk,
                                env,
                                args,
                                interp.effects,
                            );
                        }
                    }
                    if info.jit.is_failed() && interp.policy.mode() != crate::tiering::JitMode::Off
                    {
                        interp.policy.record_fallback(&info.display_name());
                    }
                }
                let mut slots = args;
                if info.rest {
                    let extra = slots.split_off(info.nparams as usize);
                    slots.push(Value::list(extra));
                }
                slots.resize(info.frame_size as usize, Value::Nil);
                let env = Rc::new(Env {
                    slots: std::cell::RefCell::new(slots),
                    parent: c.env.clone(),
                });
                Mode::Eval(info.body.clone(), env)
            }
            Value::Prim(p) => {
                if let Err(m) = p.check_arity(args.len()) {
                    return raise_msg(m, span);
                }
                match &p.imp {
                    PrimImpl::Plain(func) => {
                        let mut ctx = PrimCtx {
                            out: &mut *interp.out,
                            gensym: &mut interp.gensym,
                            effects: &mut interp.effects,
                        };
                        match func(&args, &mut ctx) {
                            Ok(v) => Mode::Return(v),
                            Err(e) => prim_raise(e, span),
                        }
                    }
                    PrimImpl::Interp(func) => match func(&args, interp) {
                        Ok(v) => Mode::Return(v),
                        Err(e) => prim_raise(e, span),
                    },
                    PrimImpl::Dispatch(func) => match func(&args, interp) {
                        Ok(Dispatched::Value(v)) => Mode::Return(v),
                        Ok(Dispatched::Call(f, args)) => self.apply(f, args, span, interp),
                        Err(e) => prim_raise(e, span),
                    },
                    PrimImpl::Higher(op) => match higher_args(*op, p.name, &args) {
                        Err(e) => prim_raise(e, span),
                        Ok(h) => self.start_higher(*op, h.f, h.init, h.items, span, interp),
                    },
                }
            }
            other => raise_msg(
                format!("not a function: {}", crate::printer::repr(&other)),
                span,
            ),
        }
    }

    /// Like [`Machine::apply`] for machines being built (no interpreter needed for
    /// the first step of a lambda or higher-order call).
    pub(crate) fn apply_with(&mut self, f: Value, args: Vec<Value>, span: &Span) -> Mode {
        // Build the first step lazily: run() will do the work with the interpreter.
        let call = Rc::new(Call {
            f: Node::Const(f),
            args: args.into_iter().map(Node::Const).collect(),
            simple_args: false,
            not_simple: std::cell::Cell::new(true),
            span: span.clone(),
        });
        Mode::Eval(Node::Call(call), Env::new(0, None))
    }

    pub(crate) fn continue_build_list(&mut self, mut b: BuildState<QuasiPart>) -> Mode {
        while b.idx < b.parts.len() {
            let node = match &b.parts[b.idx] {
                QuasiPart::Item(Node::Const(v)) => {
                    b.acc.push(v.clone());
                    b.idx += 1;
                    continue;
                }
                QuasiPart::Item(n) | QuasiPart::Splice(n, _) => n.clone(),
            };
            let env = b.env.clone();
            push_in_place!(self.kont, Frame::BuildList(Box::new(b)));
            return Mode::Eval(node, env);
        }
        Mode::Return(Value::list(b.acc))
    }

    pub(crate) fn continue_build_dict(&mut self, b: BuildState<Node>) -> Mode {
        if b.idx < b.parts.len() {
            let node = b.parts[b.idx].clone();
            let env = b.env.clone();
            push_in_place!(self.kont, Frame::BuildDict(Box::new(b)));
            return Mode::Eval(node, env);
        }
        Mode::Return(Value::dict_built(b.acc.len() / 2, |d| {
            d.insert_pairs(b.acc)
        }))
    }

    pub(crate) fn resume_frame(&mut self, frame: Frame, v: Value, interp: &mut Interp) -> Mode {
        match frame {
            Frame::If(i, env) => {
                let next = if v.truthy() {
                    i.then.clone()
                } else {
                    i.els.clone()
                };
                Mode::Eval(next, env)
            }
            Frame::Seq(items, idx, env) => {
                let node = items[idx].clone();
                if idx + 1 < items.len() {
                    push_in_place!(self.kont, Frame::Seq(items, idx + 1, env.clone()));
                }
                Mode::Eval(node, env)
            }
            Frame::SetLocal(s, env) => {
                if s.depth > 0 {
                    interp.effects += 1;
                }
                interp.cycles.set(env.ancestor(s.depth), s.idx, v);
                Mode::Return(Value::Nil)
            }
            Frame::SetGlobal(s) => {
                interp.effects += 1;
                if !s.define && interp.global_value_ref(s.sym).is_none() {
                    return raise_msg(format!("set!: undefined symbol: {}", s.sym), &s.span);
                }
                interp.set_global(s.sym, v);
                Mode::Return(Value::Nil)
            }
            Frame::Call(c, env, mut vals) => {
                vals.push(v);
                self.continue_call(c, env, vals, interp)
            }
            Frame::And(items, idx, env) => {
                if !v.truthy() {
                    return Mode::Return(v);
                }
                let node = items[idx].clone();
                if idx + 1 < items.len() {
                    push_in_place!(self.kont, Frame::And(items, idx + 1, env.clone()));
                }
                Mode::Eval(node, env)
            }
            Frame::Or(items, idx, env) => {
                if v.truthy() {
                    return Mode::Return(v);
                }
                let node = items[idx].clone();
                if idx + 1 < items.len() {
                    push_in_place!(self.kont, Frame::Or(items, idx + 1, env.clone()));
                }
                Mode::Eval(node, env)
            }
            Frame::Case(c, env) => {
                let branch = c
                    .clauses
                    .iter()
                    .find(|(datums, _)| datums.iter().any(|d| crate::value::equal(d, &v)))
                    .map_or_else(|| c.default.clone(), |(_, body)| body.clone());
                Mode::Eval(branch, env)
            }
            Frame::Guard(..) | Frame::VmGuard(_) => Mode::Return(v),
            Frame::Recovery(info, fault) => {
                self.recovering -= 1;
                let name = info.display_name();
                tracing::warn!(function = %name, fault = %fault, "call recovered on the CEK; function demoted from the VM");
                info.jit.fail();
                interp.policy.record_recovered(&name, &fault);
                Mode::Return(v)
            }
            Frame::Vm(fr) => self.resume_vm(fr, v),
            Frame::Perform(span) => {
                self.perform_span = Some(span);
                Mode::Perform(v)
            }
            Frame::BuildList(mut b) => {
                match &b.parts[b.idx] {
                    QuasiPart::Item(_) => b.acc.push(v),
                    QuasiPart::Splice(_, span) => match &v {
                        Value::List(l) => b.acc.extend_from_slice(l.as_slice()),
                        Value::Nil => {}
                        other => {
                            return raise_msg(
                                format!("unquote-splicing: expected a list, got {}", other.kind()),
                                span,
                            )
                        }
                    },
                }
                b.idx += 1;
                self.continue_build_list(*b)
            }
            Frame::BuildDict(mut b) => {
                b.acc.push(v);
                b.idx += 1;
                self.continue_build_dict(*b)
            }
            Frame::Higher(h) => {
                push_in_place!(self.kont, Frame::Higher(h));
                self.step_higher(v, interp)
            }
            Frame::TopLevel(forms, idx) => self.next_toplevel(forms, idx, v, interp),
        }
    }

    /// Runs top-level form `idx` (analysing it only now, after the forms before it
    /// ran, so their macros and definitions are in place). A top-level `do` is
    /// spliced so that its `defmacro`s take effect for the forms after them.
    pub(crate) fn next_toplevel(
        &mut self,
        forms: Rc<[Form]>,
        idx: usize,
        last: Value,
        interp: &mut Interp,
    ) -> Mode {
        let Some(form) = forms.get(idx) else {
            return Mode::Return(last);
        };
        let form = form.clone();
        push_in_place!(self.kont, Frame::TopLevel(forms, idx + 1));
        if let FormKind::List(items) = &form.kind {
            let is_do = items
                .first()
                .and_then(Form::as_sym)
                .is_some_and(|s| matches!(&*s.name(), "do" | "begin"));
            if is_do {
                self.kont
                    .push(Frame::TopLevel(items[1..].to_vec().into(), 0));
                return Mode::Return(Value::Nil);
            }
        }
        match Analyzer::new(interp).toplevel(&form) {
            Ok(top) => {
                if interp.policy.mode() == crate::tiering::JitMode::Eager {
                    if let Ok(chunk) =
                        crate::vm::compile_toplevel(&top.node, top.frame_size, &form.span)
                    {
                        return self.enter_vm(
                            Value::Nil,
                            Rc::new(chunk),
                            None,
                            Vec::new(),
                            interp.effects,
                        );
                    }
                }
                Mode::Eval(top.node, Env::new(top.frame_size as usize, None))
            }
            Err(e) => raise_msg(e.message, &e.span),
        }
    }
}

/// Requests the contract names as reads (idempotent); anything else is a write.
pub(crate) fn is_read_request(req: &Value) -> bool {
    let Value::Dict(d) = req else {
        return false;
    };
    match d.get(&Value::keyword("op")) {
        Some(Value::Str(op)) => matches!(&**op, "kv-get" | "kv-scan" | "now"),
        _ => false,
    }
}

/// Whether two optional frames are the same frame (or both absent).
pub(crate) fn same_frame(a: Option<&Rc<Env>>, b: Option<&Rc<Env>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The chunk for the next callback `c` of a higher-order loop when `apply` would
/// certainly enter it on the VM with its slots on the stack (compiled, ready by
/// the policy's fast path, exact arity, no fuel or depth limit in reach); `None`:
/// take `apply`.
#[inline(always)]
pub(crate) fn fast_vm_chunk<'c>(
    c: &'c Closure,
    reduce: bool,
    recovering: u32,
    depth: usize,
    interp: &mut Interp,
) -> Option<&'c Rc<crate::vm::Chunk>> {
    if recovering > 0 {
        return None;
    }
    let chunk = crate::vm::exec::direct_entry(&c.info, if reduce { 2 } else { 1 }, interp)?;
    // `apply` checks the depth with the loop's frame pushed: one more than now.
    if depth + 1 >= interp.max_depth || !crate::vm::exec::take_fuel(interp) {
        return None;
    }
    Some(chunk)
}

pub(crate) fn finish_higher(h: HigherLoop) -> Value {
    match h.op {
        Higher::Map | Higher::Filter => Value::list(h.acc),
        Higher::SortBy => {
            let items = h.items.as_slice();
            let mut order: Vec<usize> = (0..items.len()).collect();
            order.sort_by(|&a, &b| total_cmp(&h.acc[a], &h.acc[b]));
            Value::list(order.into_iter().map(|i| items[i].clone()).collect())
        }
        Higher::Reduce => h.acc.into_iter().next().unwrap_or(Value::Nil),
        Higher::Every => Value::Bool(true),
        Higher::Some | Higher::ForEach | Higher::Apply => Value::Nil,
    }
}

/// Raise an error value with `message` at `span`.
pub(crate) fn raise_msg(message: String, span: &Span) -> Mode {
    Mode::Raise(
        Value::error(message, Some(span.clone())),
        Some(span.clone()),
    )
}

/// Turns a primitive's failure into a raise at `span`.
pub(crate) fn prim_raise(e: PrimError, span: &Span) -> Mode {
    let (v, s) = prim_error_value(e, span);
    Mode::Raise(v, Some(s))
}

pub(crate) fn prim_error_value(e: PrimError, span: &Span) -> (Value, Span) {
    match e {
        PrimError::Msg(m) => (Value::error(m, Some(span.clone())), span.clone()),
        PrimError::Raise(Value::Error(mut err)) => {
            if let Some(inner) = Rc::get_mut(&mut err) {
                if inner.span.is_none() {
                    inner.span = Some(span.clone());
                }
            }
            (Value::Error(err), span.clone())
        }
        PrimError::Raise(v) => (v, span.clone()),
    }
}

/// Evaluates constants, variables and pure primitive calls on simple operands
/// without touching the continuation.
#[inline]
pub(crate) fn simple(node: &Node, env: &Rc<Env>, interp: &mut Interp) -> Simple {
    match node {
        Node::Const(v) => Simple::Value(v.clone()),
        Node::Local(i) => Simple::Value(env.get(*i)),
        Node::Outer(d, i) => Simple::Value(env.ancestor(*d).get(*i)),
        Node::Global(g) => match interp.global_value(g.sym) {
            Some(v) => Simple::Value(v),
            None => Simple::Raise(
                Value::error(format!("undefined symbol: {}", g.sym), Some(g.span.clone())),
                g.span.clone(),
            ),
        },
        Node::Call(c) if c.simple_args && matches!(c.f, Node::Global(_)) => {
            simple_call(c, env, interp)
        }
        _ => Simple::No,
    }
}

/// A call whose operator is a global and whose operands are simple: evaluated
/// directly when the global is a pure plain primitive. Operands are pure, so giving
/// up part-way (`Simple::No`) repeats no effect.
pub(crate) fn simple_call(c: &Call, env: &Rc<Env>, interp: &mut Interp) -> Simple {
    let Node::Global(g) = &c.f else {
        return Simple::No;
    };
    let func = match interp.global_value_ref(g.sym) {
        Some(Value::Prim(p)) if p.pure => match &p.imp {
            PrimImpl::Plain(func) => (*p, *func),
            PrimImpl::Higher(_) | PrimImpl::Interp(_) | PrimImpl::Dispatch(_) => {
                c.not_simple.set(true);
                return Simple::No;
            }
        },
        _ => {
            c.not_simple.set(true);
            return Simple::No;
        }
    };
    let (p, func) = func;
    let mut args: SmallVec<[Value; 4]> = SmallVec::with_capacity(c.args.len());
    for a in c.args.iter() {
        match simple(a, env, interp) {
            Simple::Value(v) => args.push(v),
            Simple::No => {
                c.not_simple.set(true);
                return Simple::No;
            }
            raise => return raise,
        }
    }
    if let (Some(int2), [Value::Int(a), Value::Int(b)]) = (p.int2, args.as_slice()) {
        if let Some(v) = int2(*a, *b) {
            return Simple::Value(v);
        }
    }
    if let Err(m) = p.check_arity(args.len()) {
        return Simple::Raise(Value::error(m, Some(c.span.clone())), c.span.clone());
    }
    let mut ctx = PrimCtx {
        out: &mut *interp.out,
        gensym: &mut interp.gensym,
        effects: &mut interp.effects,
    };
    match func(&args, &mut ctx) {
        Ok(v) => Simple::Value(v),
        Err(e) => {
            let (v, s) = prim_error_value(e, &c.span);
            Simple::Raise(v, s)
        }
    }
}
