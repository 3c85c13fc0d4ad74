//! The CEK machine: the reference evaluator.
//!
//! Control is a [`Node`] (or a value being returned), the environment an [`Env`],
//! and the continuation a `Vec` of [`Frame`]s on the heap, never the Rust stack. So
//! recursion depth is bounded by memory, every call in tail position is a proper
//! tail call, and `perform` can hand the whole machine to the host and later resume
//! it exactly where it stopped. Higher-order primitives are frames too: a `perform`
//! inside a `map` callback suspends the map loop with everything else.

use std::rc::Rc;

use smallvec::SmallVec;

use crate::analyze::Analyzer;
use crate::ast::*;
use crate::closure::{Closure, Env};
use crate::inplace::push_in_place;
use crate::interp::{Interp, SxError};
use crate::prims::{higher_args, Dispatched, Higher, PrimCtx, PrimError, PrimImpl};
use crate::reader::{Form, FormKind};
use crate::span::Span;
use crate::value::{total_cmp, List, Value};
use crate::vm::exec::{VmFrame, VmGuard};

/// What the machine does next.
pub(crate) enum Mode {
    /// Evaluate a node in an environment.
    Eval(Node, Rc<Env>),
    /// Hand a value to the top frame.
    Return(Value),
    /// Unwind to the nearest `guard` with a raised value (and where it was raised).
    Raise(Value, Option<Span>),
    /// Suspend: hand a request to the host.
    Perform(Value),
    /// Run a bytecode activation.
    Vm(VmFrame),
}

/// A continuation frame: what to do with the value of the expression under
/// evaluation.
pub(crate) enum Frame {
    If(Rc<If>, Rc<Env>),
    Seq(Rc<[Node]>, usize, Rc<Env>),
    SetLocal(Rc<SetLocal>, Rc<Env>),
    SetGlobal(Rc<SetGlobal>),
    Call(Rc<Call>, Rc<Env>, Vec<Value>),
    And(Rc<[Node]>, usize, Rc<Env>),
    Or(Rc<[Node]>, usize, Rc<Env>),
    Case(Rc<Case>, Rc<Env>),
    /// A CEK `guard`, with the operand stack height to restore when it catches.
    Guard(Rc<Guard>, Rc<Env>, usize),
    Perform(Span),
    /// A VM activation waiting for a value.
    Vm(VmFrame),
    /// A `guard` installed by VM code.
    VmGuard(Box<VmGuard>),
    /// A call re-run on the CEK after it faulted on the VM: a value arriving here
    /// means the fault was the VM's (a miscompile) and the call is recovered.
    Recovery(Rc<LambdaInfo>, String),
    BuildList(Box<BuildState<QuasiPart>>),
    BuildDict(Box<BuildState<Node>>),
    Higher(Box<HigherLoop>),
    TopLevel(Rc<[Form]>, usize),
}

/// A quasiquote or dict literal being built, part by part.
pub(crate) struct BuildState<P> {
    parts: Rc<[P]>,
    idx: usize,
    env: Rc<Env>,
    acc: Vec<Value>,
}

/// A higher-order primitive's loop: which element comes next and what has been
/// gathered so far.
pub(crate) struct HigherLoop {
    op: Higher,
    f: Value,
    items: List,
    idx: usize,
    acc: Vec<Value>,
    span: Span,
}

/// What a step of a higher-order loop leads to (see [`Machine::step_higher_in`]).
pub(crate) enum HigherStep {
    /// Go on in this mode.
    Mode(Mode),
    /// The reused VM activation now runs the next callback.
    RunVm,
}

/// What [`Machine::run`] stopped on.
pub(crate) enum Stop {
    Done(Value),
    Perform(Value),
    Error(SxError),
}

enum Simple {
    Value(Value),
    Raise(Value, Span),
    No,
}

/// A CEK machine: the continuation and what to do next.
pub(crate) struct Machine {
    pub(crate) kont: Vec<Frame>,
    /// The VM's operand stack (CEK frames keep their values in the frames).
    pub(crate) stack: Vec<Value>,
    mode: Mode,
    awaiting_resume: bool,
    pub(crate) perform_span: Option<Span>,
    /// Why the tiering layer let the error being raised propagate.
    pub(crate) note: Option<String>,
    /// Emptied argument vectors, reused by higher-order loops for their callbacks.
    pub(crate) spare_args: Vec<Vec<Value>>,
    /// How many CEK re-runs of faulting VM calls are in progress: while any is, every
    /// call runs on the CEK, so a re-run is a pure reference evaluation (and nested
    /// faults cannot trigger nested re-runs).
    pub(crate) recovering: u32,
    /// The non-idempotent effects this run has made so far ([`Interp::effects`] while
    /// it runs): several suspended runs interleave on one interpreter (a server's
    /// requests), and another run's write must not count as this one's.
    pub(crate) effects: u64,
}

impl Machine {
    /// A machine that will evaluate `node` in a fresh top-level frame of `frame_size`.
    pub(crate) fn for_node(node: Node, frame_size: u32) -> Machine {
        Machine::starting(
            Vec::new(),
            Mode::Eval(node, Env::new(frame_size as usize, None)),
        )
    }

    /// A fresh machine with continuation `kont` about to do `mode`.
    fn starting(kont: Vec<Frame>, mode: Mode) -> Machine {
        Machine {
            kont,
            stack: Vec::new(),
            mode,
            awaiting_resume: false,
            perform_span: None,
            note: None,
            spare_args: Vec::new(),
            recovering: 0,
            effects: 0,
        }
    }

    /// A machine that analyses and runs `forms` one after the other, like a file.
    pub(crate) fn for_forms(forms: Vec<Form>) -> Machine {
        Machine::starting(
            vec![Frame::TopLevel(forms.into(), 0)],
            Mode::Return(Value::Nil),
        )
    }

    /// A machine that applies `f` to `args`.
    pub(crate) fn for_call(f: Value, args: Vec<Value>, span: &Span) -> Machine {
        let mut m = Machine::starting(Vec::new(), Mode::Return(Value::Nil));
        let mode = m.apply_with(f, args, span);
        m.mode = mode;
        m
    }

    /// Continue after a `perform` with the host's answer.
    pub(crate) fn resume(&mut self, v: Value) {
        debug_assert!(self.awaiting_resume, "resume only after a perform");
        self.awaiting_resume = false;
        self.mode = Mode::Return(v);
    }

    /// Continue after a `perform` by raising `err` at the `perform`.
    pub(crate) fn resume_raise(&mut self, err: Value, span: Option<Span>) {
        self.awaiting_resume = false;
        let span = span.or_else(|| self.perform_span.clone());
        let err = match err {
            Value::Error(mut e) => {
                if let Some(inner) = Rc::get_mut(&mut e) {
                    if inner.span.is_none() {
                        inner.span = span.clone();
                    }
                }
                Value::Error(e)
            }
            other => other,
        };
        self.mode = Mode::Raise(err, span);
    }

    /// Whether the machine is suspended at a `perform`.
    pub(crate) fn is_suspended(&self) -> bool {
        self.awaiting_resume
    }

    /// Runs until the program finishes, performs, or raises an uncaught error.
    pub(crate) fn run(&mut self, interp: &mut Interp) -> Stop {
        let mut mode = std::mem::replace(&mut self.mode, Mode::Return(Value::Nil));
        loop {
            mode = match mode {
                Mode::Eval(node, env) => self.eval(node, env, interp),
                Mode::Return(v) => match self.kont.last() {
                    None => return Stop::Done(v),
                    // A higher-order loop steps with its frame left in place.
                    Some(Frame::Higher(_)) => self.step_higher(v, interp),
                    Some(_) => {
                        let frame = self.kont.pop().expect("checked above");
                        self.resume_frame(frame, v, interp)
                    }
                },
                Mode::Vm(fr) => self.run_vm(fr, interp),
                Mode::Raise(v, span) => match self.unwind_raised(&v, interp) {
                    Some(Frame::Guard(guard, env, height)) => {
                        self.note = None;
                        self.stack.truncate(height);
                        env.set(guard.slot, v);
                        env.set(guard.slot + 1, raise_site(span));
                        Mode::Eval(guard.handler.clone(), env)
                    }
                    Some(Frame::VmGuard(g)) => {
                        self.note = None;
                        self.enter_vm_handler(*g, v, span)
                    }
                    Some(_) => unreachable!("unwind stops only at guards"),
                    None => {
                        let span = match &v {
                            Value::Error(e) if e.span.is_some() => e.span.clone(),
                            _ => span,
                        };
                        return Stop::Error(SxError {
                            value: v,
                            span,
                            note: self.note.take(),
                        });
                    }
                },
                Mode::Perform(req) => {
                    if !is_read_request(&req) {
                        interp.effects += 1;
                    }
                    match interp.perform_handler.as_mut().and_then(|h| h(&req)) {
                        // The host answers at once: no suspension needed.
                        Some(Ok(answer)) => Mode::Return(answer),
                        Some(Err(message)) => {
                            let span = self.perform_span.clone();
                            Mode::Raise(Value::error(message, span.clone()), span)
                        }
                        None => {
                            self.awaiting_resume = true;
                            return Stop::Perform(req);
                        }
                    }
                }
            }
        }
    }

    /// [`unwind`](Self::unwind) for the raised value `v`, except that the
    /// interrupt error, while the host's flag is set, passes every guard: the
    /// whole continuation goes.
    fn unwind_raised(&mut self, v: &Value, interp: &Interp) -> Option<Frame> {
        if interp.interrupted()
            && matches!(v, Value::Error(e) if e.message == crate::interp::INTERRUPTED)
        {
            while self.kont.pop().is_some() {}
            self.recovering = 0;
            return None;
        }
        self.unwind()
    }

    /// Pops frames up to and including the nearest `guard` (CEK or VM).
    fn unwind(&mut self) -> Option<Frame> {
        while let Some(frame) = self.kont.pop() {
            match frame {
                Frame::Guard(..) | Frame::VmGuard(_) => return Some(frame),
                // A re-run on the CEK raised too: the error is genuine.
                Frame::Recovery(..) => self.recovering -= 1,
                _ => {}
            }
        }
        None
    }

    fn eval(&mut self, node: Node, env: Rc<Env>, interp: &mut Interp) -> Mode {
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
    fn continue_call(
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
    fn apply_with(&mut self, f: Value, args: Vec<Value>, span: &Span) -> Mode {
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

    fn start_higher(
        &mut self,
        op: Higher,
        f: Value,
        init: Value,
        items: List,
        span: &Span,
        interp: &mut Interp,
    ) -> Mode {
        if op == Higher::Apply {
            return self.apply(f, items.to_vec(), span, interp);
        }
        if items.is_empty() {
            return Mode::Return(match op {
                Higher::Map | Higher::Filter | Higher::SortBy => Value::empty_list(),
                Higher::Reduce => init,
                Higher::Every => Value::Bool(true),
                _ => Value::Nil,
            });
        }
        let first = items.as_slice()[0].clone();
        let args = if op == Higher::Reduce {
            vec![init, first]
        } else {
            vec![first]
        };
        let cap = if matches!(op, Higher::Map | Higher::SortBy) {
            items.len()
        } else {
            0
        };
        push_in_place!(
            self.kont,
            Frame::Higher(Box::new(HigherLoop {
                op,
                f: f.clone(),
                items,
                idx: 0,
                acc: Vec::with_capacity(cap),
                span: span.clone(),
            }))
        );
        self.apply(f, args, span, interp)
    }

    /// One element of the higher-order loop on top of the continuation has
    /// produced `v`: the loop's next step as a mode for the machine loop.
    pub(crate) fn step_higher(&mut self, v: Value, interp: &mut Interp) -> Mode {
        match self.step_higher_in(v, None, interp) {
            HigherStep::Mode(m) => m,
            HigherStep::RunVm => unreachable!("no activation to reuse was given"),
        }
    }

    /// The common case of a VM callback returning to its higher-order loop, done
    /// in place: the loop is on top of the continuation, `fr` (slots at `base`) is
    /// the activation of the loop's callback, the value it returns is on top of the
    /// stack, and the loop goes on with another element whose callback the policy
    /// would run on the VM again. The element's value is taken, the activation's
    /// slots get the next arguments (locals back to nil, the closure stays below)
    /// and `fr` starts over: the state `apply` would have built, without tearing
    /// down and rebuilding it. `false`: nothing done (take the general path).
    #[inline(never)]
    pub(crate) fn vm_loop_next(
        &mut self,
        fr: &mut VmFrame,
        base: usize,
        interp: &mut Interp,
    ) -> bool {
        let Machine {
            kont,
            stack,
            recovering,
            ..
        } = self;
        // The depth as the callback's entry sees it without the loop's frame (when
        // there is one on top, checked next).
        let depth = kont.len().saturating_sub(1);
        let Some(Frame::Higher(h)) = kont.last_mut() else {
            return false;
        };
        if h.idx + 1 >= h.items.len() {
            return false;
        }
        let Value::Lambda(c) = &h.f else {
            return false;
        };
        let Some(Ok(chunk)) = c.info.chunk.get() else {
            return false;
        };
        let reduce = match h.op {
            Higher::Map | Higher::Filter | Higher::ForEach => false,
            Higher::Reduce => true,
            _ => return false,
        };
        // The returning activation is this callback's, with only its value above
        // the slots; then the entry checks of any next callback (fuel taken last).
        if !Rc::ptr_eq(&fr.chunk, chunk)
            || !same_frame(fr.closure_env.as_deref(), c.env.as_ref())
            || fr.env.is_some()
            || stack.len() != base + chunk.frame_size as usize + 1
            || fast_vm_chunk(c, reduce, *recovering, depth, interp).is_none()
        {
            return false;
        }
        let v = stack.pop().expect("the returned value");
        match h.op {
            Higher::Map => h.acc.push(v),
            Higher::Filter if v.truthy() => h.acc.push(h.items.as_slice()[h.idx].clone()),
            Higher::Reduce => stack[base] = v,
            _ => {}
        }
        h.idx += 1;
        let next = h.items.as_slice()[h.idx].clone();
        let first_local = if reduce {
            stack[base + 1] = next;
            base + 2
        } else {
            stack[base] = next;
            base + 1
        };
        for slot in &mut stack[first_local..] {
            if !matches!(slot, Value::Nil) {
                *slot = Value::Nil;
            }
        }
        fr.pc = 0;
        fr.effects_at_entry = interp.effects;
        fr.caught = false;
        true
    }

    /// [`Machine::step_higher`], reusing `reuse` (the VM activation of the callback
    /// that just returned) for the next callback when it runs on the VM: then
    /// `RunVm`, and `reuse` is that callback's activation, entered. The loop's frame
    /// stays on the continuation while it runs (popping it and pushing it back for
    /// every element cost a 48-byte copy each way); it is popped when it finishes.
    pub(crate) fn step_higher_in(
        &mut self,
        mut v: Value,
        reuse: Option<&mut VmFrame>,
        interp: &mut Interp,
    ) -> HigherStep {
        let recovering = self.recovering;
        let stack_len = self.stack.len();
        // The depth as the callback's entry sees it without this loop's frame.
        let depth = self.kont.len() - 1;
        let Some(Frame::Higher(h)) = self.kont.last_mut() else {
            unreachable!("a higher-order loop is on top of the continuation")
        };
        // A plain primitive as the callback cannot suspend or re-enter the machine,
        // so its calls run here in a Rust loop, one after another, exactly as
        // `apply` would make them (same arguments, same error at the loop's call).
        let plain = match &h.f {
            Value::Prim(p) => match &p.imp {
                PrimImpl::Plain(func) => {
                    let argc = if h.op == Higher::Reduce { 2 } else { 1 };
                    p.check_arity(argc).is_ok().then_some(*func)
                }
                _ => None,
            },
            _ => None,
        };
        // Its int case, for `reduce` (`(reduce + 0 xs)`): the same value the
        // primitive gives two ints, or None where it needs the general path.
        let int2 = match &h.f {
            Value::Prim(p) if plain.is_some() && h.op == Higher::Reduce => p.int2,
            _ => None,
        };
        loop {
            let item = &h.items.as_slice()[h.idx];
            let early = match h.op {
                Higher::Map | Higher::SortBy => {
                    h.acc.push(v);
                    None
                }
                Higher::Filter => {
                    if v.truthy() {
                        let keep = item.clone();
                        h.acc.push(keep);
                    }
                    None
                }
                Higher::Some => v.truthy().then_some(v),
                Higher::Every => (!v.truthy()).then_some(Value::Bool(false)),
                Higher::Reduce => {
                    h.acc.clear();
                    h.acc.push(v);
                    None
                }
                Higher::ForEach | Higher::Apply => None,
            };
            if let Some(result) = early {
                self.kont.pop();
                return HigherStep::Mode(Mode::Return(result));
            }
            h.idx += 1;
            if h.idx == h.items.len() {
                let Some(Frame::Higher(h)) = self.kont.pop() else {
                    unreachable!("checked above")
                };
                return HigherStep::Mode(Mode::Return(finish_higher(*h)));
            }
            let next = h.items.as_slice()[h.idx].clone();
            let reduce = h.op == Higher::Reduce;
            let acc = if reduce {
                Some(h.acc.pop().expect("accumulator"))
            } else {
                None
            };
            if let Some(func) = plain {
                if let (Some(int2), Some(Value::Int(a)), Value::Int(b)) = (int2, &acc, &next) {
                    if let Some(r) = int2(*a, *b) {
                        v = r;
                        continue;
                    }
                }
                let mut args: SmallVec<[Value; 2]> = SmallVec::new();
                args.extend(acc);
                args.push(next);
                let mut ctx = PrimCtx {
                    out: &mut *interp.out,
                    gensym: &mut interp.gensym,
                    effects: &mut interp.effects,
                };
                match func(&args, &mut ctx) {
                    Ok(r) => {
                        v = r;
                        continue;
                    }
                    Err(e) => return HigherStep::Mode(prim_raise(e, &h.span)),
                }
            }
            let f = h.f.clone();
            if let Value::Lambda(c) = &f {
                if let Some(chunk) = fast_vm_chunk(c, reduce, recovering, depth, interp) {
                    // Exactly what `apply` would do for this callback, without the detour.
                    let base = stack_len + 1;
                    let top = base + chunk.frame_size as usize;
                    // SAFETY: `f`, pushed into the callee slot below, owns both for
                    // as long as the callback's activation runs.
                    let (code, closure_env) =
                        unsafe { crate::vm::exec::borrow_code(chunk, &c.env) };
                    let entered = match reuse {
                        Some(fr) => {
                            fr.chunk = code;
                            fr.closure_env = closure_env;
                            fr.env = None;
                            fr.pc = 0;
                            fr.base = base as u32;
                            fr.resume_height = 0;
                            fr.effects_at_entry = interp.effects;
                            fr.caught = false;
                            HigherStep::RunVm
                        }
                        None => HigherStep::Mode(Mode::Vm(VmFrame {
                            chunk: code,
                            closure_env,
                            env: None,
                            pc: 0,
                            base: base as u32,
                            resume_height: 0,
                            effects_at_entry: interp.effects,
                            caught: false,
                        })),
                    };
                    push_in_place!(self.stack, f.clone());
                    if let Some(acc) = acc {
                        push_in_place!(self.stack, acc);
                    }
                    push_in_place!(self.stack, next);
                    if self.stack.len() < top {
                        self.stack.resize(top, Value::Nil);
                    }
                    return entered;
                }
            }
            let Some(Frame::Higher(h)) = self.kont.last() else {
                unreachable!("the loop is still on top")
            };
            let span = h.span.clone();
            let mut args = self.spare_args.pop().unwrap_or_default();
            args.extend(acc);
            args.push(next);
            return HigherStep::Mode(self.apply(f, args, &span, interp));
        }
    }

    fn continue_build_list(&mut self, mut b: BuildState<QuasiPart>) -> Mode {
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

    fn continue_build_dict(&mut self, b: BuildState<Node>) -> Mode {
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

    fn resume_frame(&mut self, frame: Frame, v: Value, interp: &mut Interp) -> Mode {
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
    fn next_toplevel(
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
fn fast_vm_chunk<'c>(
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

fn finish_higher(h: HigherLoop) -> Value {
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
fn raise_msg(message: String, span: &Span) -> Mode {
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

fn prim_error_value(e: PrimError, span: &Span) -> (Value, Span) {
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
fn simple(node: &Node, env: &Rc<Env>, interp: &mut Interp) -> Simple {
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
fn simple_call(c: &Call, env: &Rc<Env>, interp: &mut Interp) -> Simple {
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
