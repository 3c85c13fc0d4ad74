//! The VM loop: runs bytecode activations on the machine's operand stack.
//!
//! A VM activation that calls out (to a CEK function, a higher-order primitive, the
//! host through `perform`) saves itself as a [`Frame::Vm`] on the shared
//! continuation and returns a [`Mode`] to the machine loop; the value that comes
//! back is pushed onto the operand stack and the activation continues. No Rust
//! loop holds VM state across a call out, so nothing is lost when a `perform`
//! suspends the machine.

use std::rc::Rc;

use super::chunk::{Chunk, Instr, PrimOp};
use crate::cek::{Frame, Machine, Mode};
use crate::closure::{Closure, Env};
use crate::interp::Interp;
use crate::prims::{Prim, PrimCtx, PrimError, PrimImpl};
use crate::value::{equal, Value};

/// A VM activation: which code, where in it, and where its slots are.
#[derive(Clone)]
pub(crate) struct VmFrame {
    pub(crate) chunk: Rc<Chunk>,
    /// The frame the function was defined in (for `LoadOuter`).
    pub(crate) closure_env: Option<Rc<Env>>,
    /// This activation's heap frame, when the chunk keeps its slots on the heap.
    pub(crate) env: Option<Rc<Env>>,
    pub(crate) pc: u32,
    /// Stack index of slot 0; the callee value sits just below.
    pub(crate) base: u32,
    /// Stack height expected when a value is handed back to this activation.
    pub(crate) resume_height: u32,
    /// The interpreter's effect count when the activation began.
    pub(crate) effects_at_entry: u64,
    /// A guard of this activation has caught an error: what it raises afterwards
    /// derives from that error and is not re-run as a fault.
    pub(crate) caught: bool,
}

/// A `guard` installed by VM code: where its handler runs and what to restore.
pub(crate) struct VmGuard {
    pub(crate) frame: VmFrame,
    pub(crate) height: u32,
    pub(crate) slot: u32,
}

enum Next {
    Continue,
    Exit(Mode),
}

impl Machine {
    /// Starts a VM activation of `chunk` with `args` (already arity-checked).
    pub(crate) fn enter_vm(
        &mut self,
        chunk: Rc<Chunk>,
        closure_env: Option<Rc<Env>>,
        mut args: Vec<Value>,
        effects: u64,
    ) -> Mode {
        let np = chunk.nparams as usize;
        if chunk.rest {
            let extra = args.split_off(np);
            args.push(Value::list(extra));
        }
        self.stack.push(Value::Nil);
        let base = self.stack.len() as u32;
        let env = if chunk.heap_frame {
            args.resize(chunk.frame_size as usize, Value::Nil);
            Some(Rc::new(Env {
                slots: std::cell::RefCell::new(args),
                parent: closure_env.clone(),
            }))
        } else {
            self.stack.append(&mut args);
            if args.capacity() <= 8 && self.spare_args.len() < 64 {
                self.spare_args.push(args);
            }
            let top = base as usize + chunk.frame_size as usize;
            if self.stack.len() < top {
                self.stack.resize(top, Value::Nil);
            }
            None
        };
        Mode::Vm(VmFrame {
            chunk,
            closure_env,
            env,
            pc: 0,
            base,
            resume_height: 0,
            effects_at_entry: effects,
            caught: false,
        })
    }

    /// A VM activation waiting in the continuation gets the value `v`.
    pub(crate) fn resume_vm(&mut self, fr: VmFrame, v: Value) -> Mode {
        debug_assert_eq!(
            self.stack.len(),
            fr.resume_height as usize,
            "operand stack misaligned on resume in {}",
            fr.chunk.name
        );
        self.stack.push(v);
        Mode::Vm(fr)
    }

    /// Unwinding reached a VM guard: restore its activation at the handler.
    pub(crate) fn enter_vm_handler(
        &mut self,
        g: VmGuard,
        v: Value,
        span: Option<crate::span::Span>,
    ) -> Mode {
        self.stack.truncate(g.height as usize);
        let mut fr = g.frame;
        fr.caught = true;
        let site = crate::ast::raise_site(span);
        match &fr.env {
            Some(env) => {
                env.set(g.slot, v);
                env.set(g.slot + 1, site);
            }
            None => {
                self.stack[(fr.base + g.slot) as usize] = v;
                self.stack[(fr.base + g.slot + 1) as usize] = site;
            }
        }
        Mode::Vm(fr)
    }

    /// Runs VM code until control leaves the VM (returns to a non-VM frame, calls
    /// out, performs, or raises).
    pub(crate) fn run_vm(&mut self, fr: VmFrame, interp: &mut Interp) -> Mode {
        let mut faulted = None;
        let mode = self.run_vm_inner(fr, interp, &mut faulted);
        match faulted {
            Some(fr) if matches!(mode, Mode::Raise(..)) => self.vm_fault(fr, mode, interp),
            _ => mode,
        }
    }

    fn run_vm_inner(
        &mut self,
        mut fr: VmFrame,
        interp: &mut Interp,
        faulted: &mut Option<VmFrame>,
    ) -> Mode {
        // A raise from the running activation: remember it for `vm_fault`.
        macro_rules! fault {
            ($mode:expr) => {{
                let m = $mode;
                *faulted = Some(fr);
                return m;
            }};
        }
        // Only a primitive that gets the interpreter (`vm-trace`) changes the trace,
        // and calling one leaves this loop, so one check per entry is enough.
        let tracing = interp.trace.is_some();
        loop {
            let pc = fr.pc as usize;
            let instr = fr.chunk.code[pc];
            if tracing {
                self.trace_instr(&fr, pc, interp);
            }
            fr.pc += 1;
            match instr {
                Instr::Const(k) => {
                    let v = fr.chunk.consts[k as usize].clone();
                    self.stack.push(v);
                }
                Instr::Nil => self.stack.push(Value::Nil),
                Instr::True => self.stack.push(Value::Bool(true)),
                Instr::False => self.stack.push(Value::Bool(false)),
                Instr::LoadLocal(i) => {
                    let v = self.stack[(fr.base + i) as usize].clone();
                    self.stack.push(v);
                }
                Instr::StoreLocal(i) => {
                    let v = self.pop();
                    self.stack[(fr.base + i) as usize] = v;
                }
                Instr::LoadEnv(i) => {
                    let v = fr.env.as_ref().expect("heap frame").get(i);
                    self.stack.push(v);
                }
                Instr::StoreEnv(i) => {
                    let v = self.pop();
                    fr.env.as_ref().expect("heap frame").set(i, v);
                }
                Instr::LoadOuter(d, i) => {
                    let v = outer(&fr, d).get(i);
                    self.stack.push(v);
                }
                Instr::StoreOuter(d, i) => {
                    let v = self.pop();
                    interp.effects += 1;
                    outer(&fr, d).set(i, v);
                }
                Instr::LoadGlobal(sym) => match interp.global_value(sym) {
                    Some(v) => self.stack.push(v),
                    None => fault!(raise_at(&fr, pc, format!("undefined symbol: {sym}"))),
                },
                Instr::DefineGlobal(sym) => {
                    let v = self.pop();
                    interp.effects += 1;
                    interp.set_global(sym, v);
                }
                Instr::SetGlobal(sym) => {
                    let v = self.pop();
                    interp.effects += 1;
                    if interp.global_value_ref(sym).is_none() {
                        fault!(raise_at(&fr, pc, format!("set!: undefined symbol: {sym}")));
                    }
                    interp.set_global(sym, v);
                }
                Instr::Pop => {
                    self.stack.pop();
                }
                Instr::Jump(t) => fr.pc = t,
                Instr::JumpIfFalse(t) => {
                    if !self.pop_truthy() {
                        fr.pc = t;
                    }
                }
                Instr::JumpIfTrue(t) => {
                    if self.pop_truthy() {
                        fr.pc = t;
                    }
                }
                Instr::JumpIfFalseKeep(t) => {
                    if self.stack.last().expect("verified").truthy() {
                        self.stack.pop();
                    } else {
                        fr.pc = t;
                    }
                }
                Instr::JumpIfTrueKeep(t) => {
                    if self.stack.last().expect("verified").truthy() {
                        fr.pc = t;
                    } else {
                        self.stack.pop();
                    }
                }
                Instr::Closure(k) => {
                    let info = fr.chunk.lambdas[k as usize].clone();
                    let env = fr.env.clone().or_else(|| fr.closure_env.clone());
                    self.stack
                        .push(Value::Lambda(Rc::new(Closure { info, env })));
                }
                Instr::Call(n) => match self.call(&mut fr, pc, n, false, interp) {
                    Next::Continue => {}
                    Next::Exit(m @ Mode::Raise(..)) => fault!(m),
                    Next::Exit(m) => return m,
                },
                Instr::TailCall(n) => match self.call(&mut fr, pc, n, true, interp) {
                    Next::Continue => {}
                    Next::Exit(m @ Mode::Raise(..)) => fault!(m),
                    Next::Exit(m) => return m,
                },
                Instr::Prim(op, n) => {
                    let len = self.stack.len();
                    if n == 2 {
                        if let [Value::Prim(p), Value::Int(a), Value::Int(b)] =
                            &self.stack[len - 3..]
                        {
                            if std::ptr::eq(*p, interp.inline_prims[op as usize]) {
                                if let Some(v) = int_binop(op, *a, *b) {
                                    // Two ints and the primitive: nothing to drop.
                                    std::mem::forget(self.stack.pop());
                                    std::mem::forget(self.stack.pop());
                                    let slot =
                                        self.stack.last_mut().expect("the primitive is below");
                                    std::mem::forget(std::mem::replace(slot, v));
                                    continue;
                                }
                            }
                        }
                    }
                    let fidx = len - n as usize - 1;
                    let is_prim = matches!(&self.stack[fidx], Value::Prim(p) if std::ptr::eq(*p, interp.inline_prims[op as usize]));
                    if !is_prim {
                        match self.call(&mut fr, pc, n, false, interp) {
                            Next::Continue => {}
                            Next::Exit(m @ Mode::Raise(..)) => fault!(m),
                            Next::Exit(m) => return m,
                        }
                        continue;
                    }
                    if let Err(m) = self.inline_op(op, n, interp) {
                        fault!(prim_raise_at(&fr, pc, m));
                    }
                }
                Instr::PrimLC(op, a, k) | Instr::PrimLL(op, a, k) => {
                    let x = &self.stack[(fr.base + a) as usize];
                    let y = match instr {
                        Instr::PrimLC(..) => &fr.chunk.consts[k as usize],
                        _ => &self.stack[(fr.base + k) as usize],
                    };
                    let sym = interp.inline_syms[op as usize];
                    let is_prim = matches!(interp.global_value_ref(sym), Some(Value::Prim(p)) if std::ptr::eq(*p, interp.inline_prims[op as usize]));
                    if is_prim {
                        if let (Value::Int(a), Value::Int(b)) = (x, y) {
                            if let Some(v) = int_binop(op, *a, *b) {
                                self.stack.push(v);
                                continue;
                            }
                        }
                    }
                    // The general path: exactly what the unfused instructions do.
                    let (x, y) = (x.clone(), y.clone());
                    let Some(f) = interp.global_value(sym) else {
                        fault!(raise_at(&fr, pc, format!("undefined symbol: {sym}")));
                    };
                    self.stack.push(f);
                    self.stack.push(x);
                    self.stack.push(y);
                    if is_prim {
                        if let Err(m) = self.inline_op(op, 2, interp) {
                            fault!(prim_raise_at(&fr, pc, m));
                        }
                    } else {
                        match self.call(&mut fr, pc, 2, false, interp) {
                            Next::Continue => {}
                            Next::Exit(m @ Mode::Raise(..)) => fault!(m),
                            Next::Exit(m) => return m,
                        }
                    }
                }
                Instr::Return => {
                    let v = self.pop();
                    self.stack.truncate(fr.base as usize - 1);
                    // The common case of `deliver`, inline: back to a waiting VM caller.
                    if let Some(Frame::Vm(_)) = self.kont.last() {
                        let Some(Frame::Vm(caller)) = self.kont.pop() else {
                            unreachable!("checked above")
                        };
                        fr = caller;
                        debug_assert_eq!(self.stack.len(), fr.resume_height as usize);
                        self.stack.push(v);
                        continue;
                    }
                    if let Some(m) = self.deliver(v, &mut fr, interp) {
                        return m;
                    }
                }
                Instr::Perform => {
                    let req = self.pop();
                    fr.resume_height = self.stack.len() as u32;
                    self.perform_span = Some(fr.chunk.span_at(pc).clone());
                    self.kont.push(Frame::Vm(fr));
                    return Mode::Perform(req);
                }
                Instr::List(n) => {
                    let at = self.stack.len() - n as usize;
                    let items = self.stack.split_off(at);
                    self.stack.push(Value::list(items));
                }
                Instr::Concat(n) => {
                    let at = self.stack.len() - n as usize;
                    let mut out = Vec::new();
                    for part in self.stack.drain(at..) {
                        if let Value::List(l) = part {
                            out.extend_from_slice(l.as_slice());
                        }
                    }
                    self.stack.push(Value::list(out));
                }
                Instr::CheckSplice => {
                    let top = self.stack.last().expect("verified");
                    if !matches!(top, Value::List(_) | Value::Nil) {
                        let msg = format!("unquote-splicing: expected a list, got {}", top.kind());
                        fault!(raise_at(&fr, pc, msg));
                    }
                }
                Instr::Dict(n) => {
                    let at = self.stack.len() - 2 * n as usize;
                    let mut d = crate::value::Dict::with_capacity(n as usize);
                    let mut it = self.stack.drain(at..);
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        d.insert(k, v);
                    }
                    drop(it);
                    self.stack.push(Value::dict(d));
                }
                Instr::Match(k) => {
                    let hit = equal(
                        self.stack.last().expect("verified"),
                        &fr.chunk.consts[k as usize],
                    );
                    self.stack.push(Value::Bool(hit));
                }
                Instr::PushGuard(handler, slot) => {
                    let mut at_handler = fr.clone();
                    at_handler.pc = handler;
                    let height = self.stack.len() as u32;
                    self.kont.push(Frame::VmGuard(Box::new(VmGuard {
                        frame: at_handler,
                        height,
                        slot,
                    })));
                }
                Instr::PopGuard => {
                    let popped = self.kont.pop();
                    debug_assert!(
                        matches!(popped, Some(Frame::VmGuard(_))),
                        "unbalanced guard in {}",
                        fr.chunk.name
                    );
                }
                Instr::Raise => {
                    let v = self.pop();
                    let span = fr.chunk.span_at(pc).clone();
                    fault!(Mode::Raise(v, Some(span)));
                }
                Instr::Reraise => {
                    // Propagation of a caught value, never a fault of this code.
                    let site = self.pop();
                    let v = self.pop();
                    return Mode::Raise(v, crate::ast::raise_site_span(&site));
                }
            }
        }
    }

    #[inline]
    fn pop(&mut self) -> Value {
        self.stack.pop().expect("verified stack height")
    }

    /// Pops the top of the stack and says whether it is truthy (no destructor call
    /// for the booleans and nils that tests leave).
    #[inline(always)]
    fn pop_truthy(&mut self) -> bool {
        match self.stack.pop() {
            Some(Value::Bool(b)) => b,
            Some(Value::Nil) => false,
            Some(other) => {
                drop(other);
                true
            }
            None => unreachable!("verified stack height"),
        }
    }

    /// `Call`/`TailCall` with `n` operands above the callee.
    fn call(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        n: u32,
        tail: bool,
        interp: &mut Interp,
    ) -> Next {
        let fidx = self.stack.len() - n as usize - 1;
        match &self.stack[fidx] {
            Value::Lambda(c) if self.recovering == 0 && interp.runs_on_vm(&c.info) => {
                let info = &*c.info;
                let chunk = match info.chunk.get() {
                    Some(Ok(chunk)) => chunk.clone(),
                    _ => {
                        let c = c.clone();
                        match interp.chunk_for(&c.info) {
                            Some(chunk) => chunk,
                            None => return self.call_out(fr, fidx, pc, tail, interp),
                        }
                    }
                };
                // Borrow the callee again (compiling it may not move it, but the
                // borrow checker cannot see that through `chunk_for`).
                let Value::Lambda(c) = &self.stack[fidx] else {
                    unreachable!("matched above")
                };
                let info = &*c.info;
                let np = info.nparams as usize;
                if let Err(m) = info.check_arity(n as usize) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                if let Err(m) = interp.enter_call(self.kont.len()) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                let rest = info.rest;
                let closure_env = c.env.clone();
                let mut fidx = fidx;
                if tail {
                    // Slide the callee and its operands down over this activation.
                    let start = fr.base as usize - 1;
                    self.stack.drain(start..fidx);
                    fidx = start;
                }
                let base = fidx + 1;
                if rest {
                    let extra = self.stack.split_off(base + np);
                    self.stack.push(Value::list(extra));
                }
                let env = if chunk.heap_frame {
                    let mut slots = self.stack.split_off(base);
                    slots.resize(chunk.frame_size as usize, Value::Nil);
                    Some(Rc::new(Env {
                        slots: std::cell::RefCell::new(slots),
                        parent: closure_env.clone(),
                    }))
                } else {
                    let top = base + chunk.frame_size as usize;
                    if self.stack.len() < top {
                        self.stack.resize(top, Value::Nil);
                    }
                    None
                };
                let callee = VmFrame {
                    chunk,
                    closure_env,
                    env,
                    pc: 0,
                    base: base as u32,
                    resume_height: 0,
                    effects_at_entry: interp.effects,
                    caught: false,
                };
                if tail {
                    *fr = callee;
                } else {
                    let mut caller = std::mem::replace(fr, callee);
                    caller.resume_height = fidx as u32;
                    self.kont.push(Frame::Vm(caller));
                }
                Next::Continue
            }
            Value::Prim(p) if matches!(p.imp, PrimImpl::Plain(_)) => {
                let p: &'static Prim = p;
                let PrimImpl::Plain(func) = &p.imp else {
                    unreachable!("matched above")
                };
                if let Err(m) = p.check_arity(n as usize) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                let mut ctx = PrimCtx {
                    out: &mut *interp.out,
                    gensym: &mut interp.gensym,
                    effects: &mut interp.effects,
                };
                let result = func(&self.stack[fidx + 1..], &mut ctx);
                match result {
                    Ok(v) => {
                        self.stack.truncate(fidx);
                        if tail {
                            // Return the value at once.
                            self.stack.push(v);
                            self.vm_return(fr, interp)
                        } else {
                            self.stack.push(v);
                            Next::Continue
                        }
                    }
                    Err(e) => Next::Exit(prim_raise_at(fr, pc, e)),
                }
            }
            _ => self.call_out(fr, fidx, pc, tail, interp),
        }
    }

    /// Returns from the current activation with the value on top of the stack.
    fn vm_return(&mut self, fr: &mut VmFrame, interp: &mut Interp) -> Next {
        let v = self.pop();
        self.stack.truncate(fr.base as usize - 1);
        match self.deliver(v, fr, interp) {
            None => Next::Continue,
            Some(m) => Next::Exit(m),
        }
    }

    /// Hands a returned value to the continuation without leaving the VM loop when
    /// it can: to a waiting VM activation (which becomes `fr`), or to a higher-order
    /// loop whose next callback runs on the VM (that activation becomes `fr`).
    /// Otherwise returns the mode for the machine loop.
    fn deliver(&mut self, mut v: Value, fr: &mut VmFrame, interp: &mut Interp) -> Option<Mode> {
        loop {
            match self.kont.last() {
                Some(Frame::Vm(_)) => {
                    let Some(Frame::Vm(caller)) = self.kont.pop() else {
                        unreachable!("checked above")
                    };
                    *fr = caller;
                    debug_assert_eq!(self.stack.len(), fr.resume_height as usize);
                    self.stack.push(v);
                    return None;
                }
                Some(Frame::Higher(_)) => {
                    let Some(Frame::Higher(h)) = self.kont.pop() else {
                        unreachable!("checked above")
                    };
                    match self.step_higher(h, v, interp) {
                        Mode::Vm(next) => {
                            *fr = next;
                            return None;
                        }
                        Mode::Return(done) => v = done,
                        other => return Some(other),
                    }
                }
                _ => return Some(Mode::Return(v)),
            }
        }
    }

    /// Calls something the VM does not run itself (a CEK function, a higher-order
    /// primitive, a non-function): the activation waits in the continuation.
    fn call_out(
        &mut self,
        fr: &mut VmFrame,
        fidx: usize,
        pc: usize,
        tail: bool,
        interp: &mut Interp,
    ) -> Next {
        let args = self.stack.split_off(fidx + 1);
        let f = self.pop();
        let span = fr.chunk.span_at(pc).clone();
        if let Some(rejected) = reject_call(&f, &args, &span) {
            // Raised while this activation is still current (even for a tail call).
            return Next::Exit(rejected);
        }
        if tail {
            self.stack.truncate(fr.base as usize - 1);
            return Next::Exit(self.apply(f, args, &span, interp));
        }
        let mut caller = fr.clone();
        caller.resume_height = self.stack.len() as u32;
        let depth = self.kont.len();
        self.kont.push(Frame::Vm(caller));
        let mode = self.apply(f, args, &span, interp);
        if matches!(mode, Mode::Raise(..)) && self.kont.len() == depth + 1 {
            // The callee rejected the call at once: the fault belongs to this
            // activation, which is still current.
            self.kont.pop();
        }
        Next::Exit(mode)
    }

    /// Runs an inline primitive over the top `n` operands (the primitive itself is
    /// just below them).
    fn inline_op(&mut self, op: PrimOp, n: u32, interp: &mut Interp) -> Result<(), PrimError> {
        let len = self.stack.len();
        if n == 2 {
            if let (Value::Int(a), Value::Int(b)) = (&self.stack[len - 2], &self.stack[len - 1]) {
                let fast = int_binop(op, *a, *b);
                if let Some(v) = fast {
                    // Two ints and the primitive: nothing to drop but their slots.
                    self.stack.pop();
                    self.stack.pop();
                    *self.stack.last_mut().expect("the primitive is below") = v;
                    return Ok(());
                }
            }
        }
        if n == 1 {
            let fast = match (op, &self.stack[len - 1]) {
                (PrimOp::Not, v) => Some(Value::Bool(!v.truthy())),
                (PrimOp::First, Value::List(l)) => {
                    Some(l.as_slice().first().cloned().unwrap_or(Value::Nil))
                }
                (PrimOp::Rest, Value::List(l)) => Some(Value::List(l.drop_front(1))),
                (PrimOp::Len, Value::List(l)) => Some(Value::Int(l.len() as i64)),
                _ => None,
            };
            if let Some(v) = fast {
                self.stack.truncate(len - 2);
                self.stack.push(v);
                return Ok(());
            }
        }
        let p = interp.inline_prims[op as usize];
        let PrimImpl::Plain(func) = &p.imp else {
            unreachable!("inline primitives are plain")
        };
        let mut ctx = PrimCtx {
            out: &mut *interp.out,
            gensym: &mut interp.gensym,
            effects: &mut interp.effects,
        };
        let v = func(&self.stack[len - n as usize..], &mut ctx)?;
        self.stack.truncate(len - n as usize - 1);
        self.stack.push(v);
        Ok(())
    }

    fn trace_instr(&self, fr: &VmFrame, pc: usize, interp: &mut Interp) {
        let top = self
            .stack
            .last()
            .map(crate::printer::repr)
            .unwrap_or_else(|| "-".into());
        let line = format!(
            "{} {:>4} {:<24} top={} depth={}",
            fr.chunk.name,
            pc,
            super::disasm::instr_text(&fr.chunk, &fr.chunk.code[pc]),
            top,
            self.kont.len()
        );
        if let Some(t) = interp.trace.as_mut() {
            t.push(line);
        }
    }
}

fn outer(fr: &VmFrame, depth: u32) -> &Rc<Env> {
    fr.closure_env
        .as_ref()
        .expect("verified: outer access has an enclosing frame")
        .ancestor(depth - 1)
}

fn raise_at(fr: &VmFrame, pc: usize, message: String) -> Mode {
    let span = fr.chunk.span_at(pc).clone();
    Mode::Raise(Value::error(message, Some(span.clone())), Some(span))
}

fn prim_raise_at(fr: &VmFrame, pc: usize, e: PrimError) -> Mode {
    crate::cek::prim_raise(e, fr.chunk.span_at(pc))
}

impl Machine {
    /// An error is leaving the VM activation `fr` (raised by its own code). Unless a
    /// guard of `fr` catches it, the call is re-run on the CEK: if the CEK raises too
    /// the error was genuine and propagates unchanged; if it returns, the VM was
    /// wrong and the call is recovered. A call that has already performed a
    /// non-idempotent effect is never re-run: its error propagates, with a note.
    fn vm_fault(&mut self, fr: VmFrame, raise: Mode, interp: &mut Interp) -> Mode {
        let Mode::Raise(v, span) = raise else {
            return raise;
        };
        if let Some(Frame::VmGuard(g)) = self.kont.last() {
            if g.frame.base == fr.base {
                return Mode::Raise(v, span);
            }
        }
        let Some(Value::Lambda(c)) = self.stack.get(fr.base as usize - 1).cloned() else {
            return Mode::Raise(v, span);
        };
        let name = c.info.display_name();
        let message = match &v {
            Value::Error(e) => e.message.clone(),
            other => crate::printer::display(other),
        };
        if fr.caught {
            // Raised after one of this activation's guards caught an error: the
            // handler's doing, derived from an error already dealt with.
            return Mode::Raise(v, span);
        }
        let why_not = if interp.effects != fr.effects_at_entry {
            Some("the call had already performed a non-idempotent effect (a write, output or assignment)")
        } else if fr.chunk.mutates_params {
            Some("it assigns its parameters, so its arguments are gone")
        } else {
            None
        };
        if let Some(why) = why_not {
            tracing::warn!(function = %name, error = %message, why, "error on the VM not re-run on the CEK");
            self.note = Some(format!(
                "{name} raised this on the VM and was not re-run on the interpreter: {why}"
            ));
            return Mode::Raise(v, span);
        }
        let n = (fr.chunk.nparams + u32::from(fr.chunk.rest)) as usize;
        let mut args: Vec<Value> = match &fr.env {
            Some(env) => env.slots.borrow()[..n].to_vec(),
            None => self.stack[fr.base as usize..fr.base as usize + n].to_vec(),
        };
        if fr.chunk.rest {
            if let Some(Value::List(extra)) = args.pop() {
                args.extend_from_slice(extra.as_slice());
            }
        }
        self.stack.truncate(fr.base as usize - 1);
        tracing::info!(function = %name, error = %message, "error on the VM: re-running the call on the CEK");
        self.kont.push(Frame::Recovery(c.info.clone(), message));
        self.recovering += 1;
        let call_span = span.unwrap_or_else(|| c.info.span.clone());
        self.apply_on(Value::Lambda(c), args, &call_span, interp, true)
    }
}

/// The error a call raises before running anything (wrong arity, wrong argument
/// kinds for a higher-order primitive, not a function), if any.
fn reject_call(f: &Value, args: &[Value], span: &crate::span::Span) -> Option<Mode> {
    let message = match f {
        Value::Lambda(c) => c.info.check_arity(args.len()).err()?,
        Value::Prim(p) => match p.check_arity(args.len()) {
            Err(m) => m,
            Ok(()) => match &p.imp {
                PrimImpl::Higher(op) => match crate::prims::higher_args(*op, p.name, args) {
                    Err(PrimError::Msg(m)) => m,
                    _ => return None,
                },
                _ => return None,
            },
        },
        other => format!("not a function: {}", crate::printer::repr(other)),
    };
    Some(Mode::Raise(
        Value::error(message, Some(span.clone())),
        Some(span.clone()),
    ))
}

/// An inline binary primitive on two ints, when it has an int or bool result
/// (`None`: overflow or not a binary numeric op; take the general path).
#[inline(always)]
fn int_binop(op: PrimOp, a: i64, b: i64) -> Option<Value> {
    match op {
        PrimOp::Add => a.checked_add(b).map(Value::Int),
        PrimOp::Sub => a.checked_sub(b).map(Value::Int),
        PrimOp::Mul => a.checked_mul(b).map(Value::Int),
        PrimOp::Lt => Some(Value::Bool(a < b)),
        PrimOp::Gt => Some(Value::Bool(a > b)),
        PrimOp::Le => Some(Value::Bool(a <= b)),
        PrimOp::Ge => Some(Value::Bool(a >= b)),
        PrimOp::Eq => Some(Value::Bool(a == b)),
        _ => None,
    }
}
