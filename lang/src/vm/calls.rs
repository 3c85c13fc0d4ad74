//! Calls from VM code: the direct entry into compiled callees (and tail calls that
//! slide over the caller), calls of plain, interpreter and dispatching primitives,
//! the general call path, returns to a VM caller, and calls out to the CEK.

use super::borrowed::Borrowed;
use super::chunk::{Chunk, PrimOp};
use super::exec::*;
use super::hot::HotStack;
use crate::cek::{Frame, HigherStep, Machine, Mode};
use crate::closure::Env;
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::prims::{Dispatched, Higher, Prim, PrimCtx, PrimError, PrimImpl};
use crate::value::{equal, Value};
use std::rc::Rc;

impl Machine {
    /// Enters a call of the value `n` operands down when it is the common case: a
    /// closure compiled and ready for the VM by the policy's fast path, exact arity,
    /// slots on the stack, no fuel or depth limit in reach. The caller (to resume at
    /// `next`) is saved to the continuation and `fr` becomes the callee. Anything
    /// else (`false`, nothing done) takes [`Machine::call`], which does the same for
    /// it with every check.
    ///
    /// Frames are written field by field in place: building them whole and moving
    /// them made the processor reload fresh partial stores as wide words, a stall on
    /// every call.
    #[inline(always)]
    pub(super) fn fast_call(
        &mut self,
        h: &mut HotStack,
        fr: &mut VmFrame,
        base: usize,
        next: u32,
        n: u32,
        interp: &mut Interp,
    ) -> Option<(usize, *const Chunk)> {
        let (fidx, chunk, closure_env) = self.direct_callee(h, n, interp)?;
        let entered: *const Chunk = Rc::as_ptr(&chunk);
        h.open_frame(&mut self.stack, fidx + 1, &chunk);
        if self.kont.len() == self.kont.capacity() {
            crate::inplace::grow(&mut self.kont);
        }
        let len = self.kont.len();
        // SAFETY: there is room for one more frame; `fr`'s fields are moved into it
        // (each read once) and then each overwritten without being dropped.
        unsafe {
            use std::ptr::{addr_of, addr_of_mut};
            let slot = self.kont.as_mut_ptr().add(len);
            slot.write(Frame::Vm(VmFrame {
                chunk: addr_of!(fr.chunk).read(),
                closure_env: addr_of!(fr.closure_env).read(),
                env: addr_of!(fr.env).read(),
                pc: next,
                base: base as u32,
                resume_height: fidx as u32,
                effects_at_entry: fr.effects_at_entry,
                caught: fr.caught,
            }));
            self.kont.set_len(len + 1);
            addr_of_mut!(fr.chunk).write(chunk);
            addr_of_mut!(fr.closure_env).write(closure_env);
            addr_of_mut!(fr.env).write(None);
        }
        fr.pc = 0;
        fr.base = fidx as u32 + 1;
        fr.resume_height = 0;
        fr.effects_at_entry = interp.effects;
        fr.caught = false;
        Some((fidx + 1, entered))
    }

    /// The callee of a call with `n` operands on top of `h`, when the hot loop may
    /// enter it directly: a VM function (see `direct_entry`) within the limits the
    /// general way's `enter_call` checks (and raises for), fuel taken. Answers its
    /// slot, and its chunk and closure frame borrowed from it: the value in that
    /// slot owns them for as long as the activation it starts runs.
    #[inline(always)]
    pub(super) fn direct_callee(
        &self,
        h: &HotStack,
        n: u32,
        interp: &mut Interp,
    ) -> Option<(usize, Borrowed<Chunk>, Option<Borrowed<Env>>)> {
        let fidx = h.len() - n as usize - 1;
        // SAFETY: the verifier checked that a call has its callee and operands on
        // the stack.
        let Value::Lambda(c) = (unsafe { &*h.at(fidx) }) else {
            return None;
        };
        let chunk = direct_entry(&c.info, n, interp)?;
        if self.recovering != 0 || self.kont.len() >= interp.max_depth || !take_fuel(interp) {
            return None;
        }
        // SAFETY: the callee, in its slot, owns both (see above).
        let (chunk, closure_env) = unsafe { borrow_code(chunk, &c.env) };
        Some((fidx, chunk, closure_env))
    }

    /// The common case of `TailCall(n)`, in the hot loop: as `fast_call`, but the
    /// callee and its operands slide down over the running activation (slots from
    /// `base`, its callee just below), which the callee's replaces; the
    /// continuation does not grow. Returns the callee's chunk (its slots start at
    /// `base` too). `None`: nothing done, take the general way.
    #[inline(always)]
    pub(super) fn fast_tail_call(
        &mut self,
        h: &mut HotStack,
        fr: &mut VmFrame,
        base: usize,
        n: u32,
        interp: &mut Interp,
    ) -> Option<*const Chunk> {
        // The callee stays alive: it only moves down to the slot below `base`,
        // from where it owns its chunk and frame while the activation runs.
        let (fidx, chunk, closure_env) = self.direct_callee(h, n, interp)?;
        let entered: *const Chunk = Rc::as_ptr(&chunk);
        // SAFETY: `base - 1` (the running activation's callee slot) is below `fidx`.
        // Its callee, dropped here, owned `fr`'s borrowed chunk: `fr` takes the new
        // one's below before it is read again.
        unsafe { h.slide_down(base - 1, fidx) };
        h.open_frame(&mut self.stack, base, &chunk);
        fr.chunk = chunk;
        fr.closure_env = closure_env;
        fr.env = None;
        fr.pc = 0;
        fr.resume_height = 0;
        fr.effects_at_entry = interp.effects;
        fr.caught = false;
        debug_assert_eq!(fr.base as usize, base);
        Some(entered)
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Value {
        self.stack.pop().expect("verified stack height")
    }

    /// Calls the plain primitive `n` operands down the stack on them and replaces
    /// all with its value (as `call` does for one).
    #[inline(always)]
    pub(super) fn call_plain_prim(&mut self, n: u32, interp: &mut Interp) -> Result<(), PrimError> {
        let fidx = self.stack.len() - n as usize - 1;
        let Value::Prim(p) = &self.stack[fidx] else {
            unreachable!("checked by the caller")
        };
        let p: &'static Prim = p;
        let PrimImpl::Plain(func) = &p.imp else {
            unreachable!("checked by the caller")
        };
        if let Some(v) = grow_in_place(p, &mut self.stack[fidx + 1..]) {
            self.truncate_stack(fidx);
            push_in_place!(self.stack, v);
            return Ok(());
        }
        let mut ctx = PrimCtx {
            out: &mut *interp.out,
            gensym: &mut interp.gensym,
            effects: &mut interp.effects,
        };
        let r = func(&self.stack[fidx + 1..], &mut ctx);
        self.take_result(fidx, r)
    }

    /// A primitive's result, for its call at `fidx`: its value replaces callee and
    /// operands; on error the stack is left as it is. A bool or an int (what
    /// predicates, comparisons and arithmetic answer) is read by its fields, in
    /// place, and written with one store: the result was written by the callee in
    /// narrower stores, and moving it whole loads across them, which stalls (see
    /// `inplace`).
    #[inline(always)]
    pub(super) fn take_result(
        &mut self,
        fidx: usize,
        r: Result<Value, PrimError>,
    ) -> Result<(), PrimError> {
        // Read as an int (8 bytes at 8) or a bool (the byte at 1), never as a whole
        // value (which a merged copy of both would be).
        enum Small {
            Int(i64),
            Bool(bool),
        }
        let small = match &r {
            Ok(Value::Int(i)) => Some(Small::Int(*i)),
            Ok(Value::Bool(b)) => Some(Small::Bool(*b)),
            _ => None,
        };
        match small {
            Some(v) => {
                // A bool or an int owns nothing.
                std::mem::forget(r);
                self.truncate_stack(fidx);
                if self.stack.len() == self.stack.capacity() {
                    crate::inplace::grow(&mut self.stack);
                }
                let len = self.stack.len();
                // SAFETY: there is room at `len` (made just above), holding nothing.
                unsafe {
                    let dst = self.stack.as_mut_ptr().add(len);
                    match v {
                        Small::Int(i) => Value::write_int(dst, i),
                        Small::Bool(b) => Value::write_bool(dst, b),
                    }
                    self.stack.set_len(len + 1);
                }
            }
            None => {
                let v = r?;
                self.truncate_stack(fidx);
                push_in_place!(self.stack, v);
            }
        }
        Ok(())
    }

    /// Calls the primitive that gets the interpreter `n` operands down the stack
    /// (checked by the caller: see [`interp_prim_ready`]); its value replaces callee
    /// and operands. On error the stack is as it was.
    pub(super) fn call_interp_prim(
        &mut self,
        n: u32,
        interp: &mut Interp,
    ) -> Result<(), PrimError> {
        let fidx = self.stack.len() - n as usize - 1;
        let Value::Prim(p) = &self.stack[fidx] else {
            unreachable!("checked by the caller")
        };
        let PrimImpl::Interp(func) = p.imp else {
            unreachable!("checked by the caller")
        };
        let r = func(&self.stack[fidx + 1..], interp);
        self.take_result(fidx, r)
    }

    /// Calls the primitive that may hand its call on, `n` operands down the stack
    /// (checked by the caller: see [`dispatch_prim_ready`]).
    pub(super) fn call_dispatch_prim(&mut self, n: u32, interp: &mut Interp) -> Handed {
        let fidx = self.stack.len() - n as usize - 1;
        let Value::Prim(p) = &self.stack[fidx] else {
            unreachable!("checked by the caller")
        };
        let PrimImpl::Dispatch(func) = p.imp else {
            unreachable!("checked by the caller")
        };
        match func(&self.stack[fidx + 1..], interp) {
            Ok(Dispatched::Value(v)) => match self.take_result(fidx, Ok(v)) {
                Ok(()) => Handed::Value,
                Err(e) => Handed::Raised(e),
            },
            Ok(Dispatched::Call(f, args)) => {
                let argc = args.len() as u32;
                self.truncate_stack(fidx);
                push_in_place!(self.stack, f);
                for a in args {
                    push_in_place!(self.stack, a);
                }
                Handed::Call(argc)
            }
            Err(e) => Handed::Raised(e),
        }
    }

    /// Pops the top of the stack and says whether it is truthy (no destructor call
    /// for the booleans and nils that tests leave).
    #[inline(always)]
    pub(super) fn pop_truthy(&mut self) -> bool {
        assert!(!self.stack.is_empty(), "verified stack height");
        let mut h = HotStack::take(&mut self.stack);
        // SAFETY: the stack is not empty.
        let truthy = unsafe { h.pop_truthy() };
        h.put(&mut self.stack);
        truthy
    }

    /// Drops the operand stack down to `height`, calling a destructor only for
    /// values that own something.
    #[inline(always)]
    pub(super) fn truncate_stack(&mut self, height: usize) {
        let mut h = HotStack::take(&mut self.stack);
        h.truncate(height);
        h.put(&mut self.stack);
    }

    /// `Call`/`TailCall` with `n` operands above the callee.
    pub(super) fn call(
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
                    push_in_place!(self.stack, Value::list(extra));
                }
                let env = if chunk.heap_frame {
                    let mut slots = self.stack.split_off(base);
                    slots.resize(chunk.frame_size as usize, Value::Nil);
                    self.stack
                        .resize(base + chunk.inline_slots as usize, Value::Nil);
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
                debug_assert!(owns_code(&self.stack[fidx], &chunk, closure_env.as_ref()));
                // SAFETY: the callee, in the slot below the new activation's, owns both.
                let (chunk, closure_env) = unsafe { borrow_code(&chunk, &closure_env) };
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
                    push_in_place!(self.kont, Frame::Vm(caller));
                }
                Next::Continue
            }
            Value::Prim(p) if matches!(p.imp, PrimImpl::Plain(_)) => {
                if let Err(m) = p.check_arity(n as usize) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                match self.call_plain_prim(n, interp) {
                    // A tail call returns the value at once.
                    Ok(()) if tail => self.vm_return(fr, interp),
                    Ok(()) => Next::Continue,
                    Err(e) => Next::Exit(prim_raise_at(fr, pc, e)),
                }
            }
            Value::Prim(p) if matches!(p.imp, PrimImpl::Interp(_)) => {
                let p: &'static Prim = p;
                let PrimImpl::Interp(func) = p.imp else {
                    unreachable!("matched above")
                };
                if let Err(m) = p.check_arity(n as usize) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                // What `call_out` would do (through `apply`), without leaving the VM
                // to run it: a tool or the Datalog bridge called once per fact.
                let tracing = interp.trace.is_some();
                let result = func(&self.stack[fidx + 1..], interp);
                let next = self.finish_call(fr, pc, fidx, tail, result, interp);
                retraced(next, tracing, fr, interp)
            }
            Value::Prim(p) if matches!(p.imp, PrimImpl::Dispatch(_)) => {
                if let Err(m) = p.check_arity(n as usize) {
                    return Next::Exit(raise_at(fr, pc, m));
                }
                let tracing = interp.trace.is_some();
                match self.call_dispatch_prim(n, interp) {
                    Handed::Value => {
                        // A tail call returns the value at once.
                        let next = if tail {
                            self.vm_return(fr, interp)
                        } else {
                            Next::Continue
                        };
                        retraced(next, tracing, fr, interp)
                    }
                    // The call handed on: the function and its arguments are in the
                    // primitive's place, and the call is made again, as written.
                    Handed::Call(argc) => self.call(fr, pc, argc, tail, interp),
                    Handed::Raised(e) => self.finish_call(fr, pc, fidx, tail, Err(e), interp),
                }
            }
            Value::Prim(p) if matches!(p.imp, PrimImpl::Higher(Higher::Apply)) => {
                let p: &'static Prim = p;
                match self.apply_plain(fidx, p, interp) {
                    Some(result) => self.finish_call(fr, pc, fidx, tail, result, interp),
                    None => self.call_out(fr, fidx, pc, tail, interp),
                }
            }
            _ => self.call_out(fr, fidx, pc, tail, interp),
        }
    }

    /// `(apply f … xs)` with `f` a plain primitive and the arguments well formed:
    /// `f`'s value on the spread arguments, as the CEK's `apply` computes it (its
    /// arity error too), without leaving the VM and, when nothing comes before the
    /// list, without copying it. `None`: anything else, for `call_out`.
    pub(super) fn apply_plain(
        &mut self,
        fidx: usize,
        apply: &'static Prim,
        interp: &mut Interp,
    ) -> Option<Result<Value, PrimError>> {
        let args = &self.stack[fidx + 1..];
        apply.check_arity(args.len()).ok()?;
        let (f, middle, xs) = crate::prims::apply_parts(apply.name, args).ok()?;
        let Value::Prim(fp) = f else {
            return None;
        };
        let PrimImpl::Plain(func) = fp.imp else {
            return None;
        };
        if let Err(m) = fp.check_arity(middle.len() + xs.len()) {
            return Some(Err(PrimError::Msg(m)));
        }
        let mut ctx = PrimCtx {
            out: &mut *interp.out,
            gensym: &mut interp.gensym,
            effects: &mut interp.effects,
        };
        Some(if middle.is_empty() {
            func(xs.as_slice(), &mut ctx)
        } else {
            let mut all = middle.to_vec();
            all.extend_from_slice(xs.as_slice());
            func(&all, &mut ctx)
        })
    }

    /// Ends a call (callee at `fidx`) whose value, or error, was computed in place
    /// as `call_out` would have had it computed: the value replaces callee and
    /// operands (and a tail call returns it); an error is the activation's own,
    /// except after a tail call, where the activation is gone and it unwinds.
    pub(super) fn finish_call(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        fidx: usize,
        tail: bool,
        result: Result<Value, PrimError>,
        interp: &mut Interp,
    ) -> Next {
        match result {
            Ok(v) => {
                self.truncate_stack(fidx);
                push_in_place!(self.stack, v);
                if tail {
                    return self.vm_return(fr, interp);
                }
                Next::Continue
            }
            Err(e) if tail => {
                let m = prim_raise_at(fr, pc, e);
                self.truncate_stack(fr.base as usize - 1);
                Next::Unwind(m)
            }
            Err(e) => Next::Exit(prim_raise_at(fr, pc, e)),
        }
    }

    /// Returns the value on top of the stack from the running activation `fr` (slots
    /// from `base`, its callee just below them) to the VM activation waiting on top
    /// of the continuation, which becomes `fr`: the value takes the callee's place,
    /// the height the caller waits for plus one.
    #[inline(always)]
    pub(super) fn return_to_vm_caller(
        &mut self,
        h: &mut HotStack,
        fr: &mut VmFrame,
        base: usize,
    ) -> (u32, usize, *const Chunk) {
        let top = h.len() - 1;
        debug_assert!(top >= base);
        // SAFETY: the value on top moves into the callee slot (which it never
        // overlaps: the slots lie between), the callee is read out first and
        // dropped below, and the slots go with the truncation (once each).
        let callee = unsafe {
            let callee = h.at(base - 1).read();
            std::ptr::copy_nonoverlapping(h.at(top), h.at(base - 1), 1);
            h.forget(1);
            callee
        };
        h.truncate(base);
        match callee {
            // The common case, with the count dropped here rather than in the
            // out-of-line drop of any value.
            Value::Lambda(c) => drop(c),
            other => drop(other),
        }
        let len = self.kont.len() - 1;
        // SAFETY: the caller checked that the top frame is `Frame::Vm`; it is moved
        // into `fr` once (the continuation no longer owns it) and `fr`'s own fields
        // are dropped once, after being read out.
        unsafe {
            self.kont.set_len(len);
            let Frame::Vm(caller) = &*self.kont.as_ptr().add(len) else {
                std::hint::unreachable_unchecked()
            };
            // Where the caller goes on, read from its saved frame (written long
            // ago) rather than from `fr` once written.
            let to = (caller.pc, caller.base as usize, Rc::as_ptr(&caller.chunk));
            // Of the returned activation only its heap frame is owned (the code
            // was borrowed from the callee just dropped).
            let env = std::ptr::read(&fr.env);
            std::ptr::copy_nonoverlapping(caller, fr, 1);
            if let Some(e) = env {
                drop(e);
            }
            debug_assert_eq!(h.len(), fr.resume_height as usize + 1);
            to
        }
    }

    /// Returns from the current activation with the value on top of the stack.
    pub(super) fn vm_return(&mut self, fr: &mut VmFrame, interp: &mut Interp) -> Next {
        let v = self.pop();
        self.stack.truncate(fr.base as usize - 1);
        match self.deliver(v, fr, interp) {
            None => Next::Continue,
            // The activation has returned: whatever happens next is not its doing.
            Some(m) => Next::Unwind(m),
        }
    }

    /// Hands a returned value to the continuation without leaving the VM loop when
    /// it can: to a waiting VM activation (which becomes `fr`), or to a higher-order
    /// loop whose next callback runs on the VM (that activation becomes `fr`).
    /// Otherwise returns the mode for the machine loop.
    pub(super) fn deliver(
        &mut self,
        mut v: Value,
        fr: &mut VmFrame,
        interp: &mut Interp,
    ) -> Option<Mode> {
        loop {
            match self.kont.last() {
                Some(Frame::Vm(_)) => {
                    let Some(Frame::Vm(caller)) = self.kont.pop() else {
                        unreachable!("checked above")
                    };
                    *fr = caller;
                    debug_assert_eq!(self.stack.len(), fr.resume_height as usize);
                    push_in_place!(self.stack, v);
                    return None;
                }
                Some(Frame::Higher(_)) => match self.step_higher_in(v, Some(fr), interp) {
                    HigherStep::RunVm => return None,
                    HigherStep::Mode(Mode::Return(done)) => v = done,
                    HigherStep::Mode(other) => return Some(other),
                },
                _ => return Some(Mode::Return(v)),
            }
        }
    }

    /// Calls something the VM does not run itself (a CEK function, a higher-order
    /// primitive, a non-function): the activation waits in the continuation.
    pub(super) fn call_out(
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
            // The activation is gone: a raise from the callee is not its fault.
            self.stack.truncate(fr.base as usize - 1);
            return Next::Unwind(self.apply(f, args, &span, interp));
        }
        let mut caller = fr.clone();
        caller.resume_height = self.stack.len() as u32;
        let depth = self.kont.len();
        push_in_place!(self.kont, Frame::Vm(caller));
        let mode = self.apply(f, args, &span, interp);
        if matches!(mode, Mode::Raise(..)) {
            if self.kont.len() == depth + 1 {
                // The callee rejected the call at once: the fault belongs to this
                // activation, which is current again.
                self.kont.pop();
                return Next::Exit(mode);
            }
            // Raised inside the callee (say, by the first callback of a `map`), with
            // this activation saved below it: plain unwinding.
            return Next::Unwind(mode);
        }
        Next::Exit(mode)
    }

    /// Runs an inline primitive over the top `n` operands (the primitive itself is
    /// just below them).
    pub(super) fn inline_op(
        &mut self,
        op: PrimOp,
        n: u32,
        interp: &mut Interp,
    ) -> Result<(), PrimError> {
        if n == 2 {
            let mut h = HotStack::take(&mut self.stack);
            let done = inline_prim2_fast(&mut h, op, interp);
            h.put(&mut self.stack);
            if done {
                return Ok(());
            }
        }
        let len = self.stack.len();
        if n == 2 && op == PrimOp::Eq {
            // `=` on any two values is structural equality.
            let same = equal(&self.stack[len - 2], &self.stack[len - 1]);
            self.truncate_stack(len - 3);
            push_in_place!(self.stack, Value::Bool(same));
            return Ok(());
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
                push_in_place!(self.stack, v);
                return Ok(());
            }
        }
        // The primitive below the operands is `op`'s own (the callers check).
        self.call_plain_prim(n, interp)
    }
}
