//! The VM loop: runs bytecode activations on the machine's operand stack.
//!
//! A VM activation that calls out (to a CEK function, a higher-order primitive, the
//! host through `perform`) saves itself as a [`Frame::Vm`] on the shared
//! continuation and returns a [`Mode`] to the machine loop; the value that comes
//! back is pushed onto the operand stack and the activation continues. No Rust
//! loop holds VM state across a call out, so nothing is lost when a `perform`
//! suspends the machine.
//!
//! This file holds the activation (`VmFrame`), entering and resuming it, and the hot
//! loop; `calls.rs` the calls and returns, `loops.rs` the inlined higher-order
//! loops, `step.rs` the general path every instruction can take.

use std::rc::Rc;

use super::borrowed::Borrowed;
use super::chunk::{Chunk, Instr, LoopKind, PrimOp};
use super::hot::HotStack;
use crate::cek::{Frame, Machine, Mode};
use crate::closure::Env;
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::prims::{Prim, PrimError, PrimImpl};
use crate::value::Value;

/// A VM activation: which code, where in it, and where its slots are.
///
/// The chunk and the closure's frame are uncounted ([`Borrowed`]): the value in the
/// callee slot just below `base` owns them while the activation can run (the
/// closure, or for a top-level form the [`TOP_LEVEL`] holder of its chunk).
pub(crate) struct VmFrame {
    pub(crate) chunk: Borrowed<Chunk>,
    /// The frame the function was defined in (for `LoadOuter`).
    pub(crate) closure_env: Option<Borrowed<Env>>,
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

impl Clone for VmFrame {
    /// Another view of the same activation (for a guard, a suspension or a call
    /// out), owned by the same callee slot.
    fn clone(&self) -> VmFrame {
        VmFrame {
            chunk: self.chunk.alias(),
            closure_env: self.closure_env.as_ref().map(Borrowed::alias),
            env: self.env.clone(),
            pc: self.pc,
            base: self.base,
            resume_height: self.resume_height,
            effects_at_entry: self.effects_at_entry,
            caught: self.caught,
        }
    }
}

/// The kind of the native value that holds a top-level form's chunk in its
/// activation's callee slot (a top-level form has no closure to own it).
pub(crate) const TOP_LEVEL: &str = "vm top-level form";

/// The uncounted references of an activation of `chunk` in `closure_env`.
///
/// # Safety
/// As [`Borrowed::new`]: the value in the activation's callee slot owns both.
#[inline(always)]
pub(crate) unsafe fn borrow_code(
    chunk: &Rc<Chunk>,
    closure_env: &Option<Rc<Env>>,
) -> (Borrowed<Chunk>, Option<Borrowed<Env>>) {
    // SAFETY: the caller's contract.
    unsafe {
        (
            Borrowed::new(chunk),
            closure_env.as_ref().map(|e| Borrowed::new(e)),
        )
    }
}

/// Whether the callee-slot value `owner` keeps `chunk` and `closure_env` alive
/// (checked in debug builds wherever a frame starts borrowing them).
pub(crate) fn owns_code(owner: &Value, chunk: &Rc<Chunk>, closure_env: Option<&Rc<Env>>) -> bool {
    match owner {
        Value::Lambda(c) => {
            matches!(c.info.chunk.get(), Some(Ok(k)) if Rc::ptr_eq(k, chunk))
                && crate::cek::same_frame(c.env.as_ref(), closure_env)
        }
        Value::Native(n) => {
            n.kind == TOP_LEVEL
                && closure_env.is_none()
                && n.data
                    .borrow()
                    .downcast_ref::<Rc<Chunk>>()
                    .is_some_and(|k| Rc::ptr_eq(k, chunk))
        }
        _ => false,
    }
}

/// The bytecode a call from the VM with `n` arguments may enter directly: the
/// function is ready for the VM in this epoch, compiled, takes exactly `n`
/// parameters and keeps its slots on the stack. One compare of
/// [`JitState::vm_entry`](crate::tiering::JitState), checked in full the first
/// time. `None`: take the general way.
#[inline(always)]
pub(crate) fn direct_entry<'i>(
    info: &'i crate::ast::LambdaInfo,
    n: u32,
    interp: &Interp,
) -> Option<&'i Rc<Chunk>> {
    let key = interp.policy.vm_entry_key(n);
    if info.jit.vm_entry.get() != key && !fast_entry_checked(info, n, key, interp) {
        return None;
    }
    // SAFETY: `vm_entry` holds the key only for a function with bytecode.
    Some(unsafe {
        match info.chunk.get() {
            Some(Ok(chunk)) => chunk,
            _ => std::hint::unreachable_unchecked(),
        }
    })
}

/// The full check behind [`direct_entry`]; if it passes, records `key` so that
/// the next call compares only that.
#[inline(never)]
pub(super) fn fast_entry_checked(
    info: &crate::ast::LambdaInfo,
    n: u32,
    key: u64,
    interp: &Interp,
) -> bool {
    let fits = info.nparams == n
        && !info.rest
        && interp.policy.ready_for_vm(&info.jit)
        && matches!(info.chunk.get(), Some(Ok(chunk)) if !chunk.heap_frame);
    if fits {
        info.jit.vm_entry.set(key);
    }
    fits
}

/// Whether the callee `n` operands down `stack` is a plain primitive that takes
/// `n` arguments.
#[inline(always)]
pub(super) fn plain_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Plain(_)) && p.check_arity(n as usize).is_ok())
}

/// Whether the callee `n` operands down `stack` is a primitive that gets the
/// interpreter, called with an arity it takes.
#[inline(always)]
pub(super) fn interp_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Interp(_)) && p.check_arity(n as usize).is_ok())
}

/// `next`, after a primitive on the interpreter ran with tracing `tracing` before it:
/// one that turned tracing on or off makes the loop that runs `fr` be chosen again.
pub(super) fn retraced(next: Next, tracing: bool, fr: &VmFrame, interp: &Interp) -> Next {
    if matches!(next, Next::Continue) && interp.trace.is_some() != tracing {
        return Next::Exit(Mode::Vm(fr.clone()));
    }
    next
}

/// Whether the callee `n` operands down `stack` is a primitive that may hand its
/// call on, called with an arity it takes.
#[inline(always)]
pub(super) fn dispatch_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Dispatch(_)) && p.check_arity(n as usize).is_ok())
}

/// What calling a primitive that may hand its call on did (see
/// [`Machine::call_dispatch_prim`]).
pub(super) enum Handed {
    /// Its value replaced callee and operands.
    Value,
    /// It raised; the stack is as it was.
    Raised(PrimError),
    /// The function it named and that many arguments replaced callee and operands.
    Call(u32),
}

/// Whether the operator `n` operands down `stack` is the inline primitive `op`
/// itself (not a redefinition).
#[inline(always)]
pub(super) fn is_inline_prim(stack: &[Value], op: PrimOp, n: u32, interp: &Interp) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if std::ptr::eq(*p, interp.inline_prims[op as usize]))
}

/// The fast path of `Prim op 2`: the operator is that primitive and both operands
/// are ints with an int or bool result, which replaces all three.
#[inline(always)]
pub(super) fn inline_prim2_fast(h: &mut HotStack, op: PrimOp, interp: &Interp) -> bool {
    debug_assert!(h.len() >= 3);
    // SAFETY: the verifier checked that the operator and two operands are there.
    let (p, a, b) = unsafe { (h.peek(2), h.peek(1), h.peek(0)) };
    if let (Value::Prim(p), Value::Int(a), Value::Int(b)) = (p, a, b) {
        if std::ptr::eq(*p, interp.inline_prims[op as usize]) {
            let (a, b) = (*a, *b);
            // SAFETY: the result replaces the primitive (nothing to drop) and the
            // two ints above it are forgotten.
            unsafe {
                let slot = h.at(h.len() - 3);
                if int_binop_into(op, a, b, slot) {
                    h.forget(2);
                    return true;
                }
            }
        }
    }
    false
}

/// Whether the value in `fr`'s callee slot still owns what `fr` borrows (checked
/// in debug builds whenever the hot loop takes up an activation).
pub(super) fn frame_owned(stack: &[Value], fr: &VmFrame) -> bool {
    stack
        .get(fr.base as usize - 1)
        .is_some_and(|owner| owns_code(owner, &fr.chunk, fr.closure_env.as_deref()))
}

/// A `guard` installed by VM code: where its handler runs and what to restore.
pub(crate) struct VmGuard {
    pub(crate) frame: VmFrame,
    pub(crate) height: u32,
    pub(crate) slot: u32,
}

pub(super) enum Next {
    /// Go on with `fr`.
    Continue,
    /// Control leaves the running activation `fr`; a raise here is its own (the
    /// activation is still current) and may be a fault.
    Exit(Mode),
    /// A raise from below an activation already saved in the continuation (or
    /// already gone): ordinary unwinding, never a fault of `fr`.
    Unwind(Mode),
}

/// What an out-of-line VM step did.
pub(super) enum Step {
    /// Go on with `fr` (which may now be another activation).
    Next,
    /// Control leaves the VM.
    Exit(Mode),
    /// The running activation raised (see `vm_fault`).
    Fault(Mode),
}

impl Machine {
    /// Starts a VM activation of `chunk` with `args` (already arity-checked).
    /// `callee` (the closure, or nil for a top-level form) sits below the slots, as
    /// for a call made by VM code: a fault re-runs it from there.
    pub(crate) fn enter_vm(
        &mut self,
        callee: Value,
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
        // The callee slot owns the code the frame borrows: the closure, or for a
        // top-level form (no closure) a holder of its chunk.
        let callee = match callee {
            Value::Nil => crate::value::Native::value(TOP_LEVEL, Box::new(chunk.clone())),
            other => other,
        };
        debug_assert!(owns_code(&callee, &chunk, closure_env.as_ref()));
        push_in_place!(self.stack, callee);
        let base = self.stack.len() as u32;
        let env = if chunk.heap_frame {
            args.resize(chunk.frame_size as usize, Value::Nil);
            self.stack
                .resize(base as usize + chunk.inline_slots as usize, Value::Nil);
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
        // SAFETY: the callee slot, just filled, owns both (see above).
        let (chunk, closure_env) = unsafe { borrow_code(&chunk, &closure_env) };
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
        push_in_place!(self.stack, v);
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

    #[inline(never)]
    pub(super) fn run_vm_inner(
        &mut self,
        mut fr: VmFrame,
        interp: &mut Interp,
        faulted: &mut Option<VmFrame>,
    ) -> Mode {
        // Only a primitive that gets the interpreter (`vm-trace`) changes the trace,
        // and calling one leaves this loop, so one check per entry is enough.
        if interp.trace.is_some() {
            return self.run_vm_traced(fr, interp, faulted);
        }
        // The hot loop: the common instructions, and the common case of the others,
        // with the running activation's code, next instruction and stack base in
        // locals, and the operand stack's height too (`h`: the vector's own length
        // is 0 meanwhile, see `HotStack`); everything else is `step`, out of line,
        // with the values handed back to the vector (`h.put`) around it. That keeps
        // this loop small enough for its state to stay in registers.
        let mut h = HotStack::take(&mut self.stack);
        let mut next = fr.pc;
        let mut base = fr.base as usize;
        // SAFETY (for every use of `chunk`): `fr` holds the chunk alive, and `chunk`
        // is reloaded (`reload!`) whenever `fr` is replaced.
        let mut chunk: *const Chunk = Rc::as_ptr(&fr.chunk);
        // The chunk's code, kept apart so that a dispatch loads one pointer.
        let mut code: *const Instr = fr.chunk.code.as_ptr();
        // Takes up the activation `fr` has become: its place, stack base and chunk
        // (from values at hand when there are, rather than read back from the
        // fields of `fr` just written).
        macro_rules! enter {
            ($next:expr, $base:expr, $chunk:expr) => {{
                next = $next;
                base = $base;
                chunk = $chunk;
                // SAFETY: see `chunk`.
                code = unsafe { (*chunk).code.as_ptr() };
                debug_assert!(
                    next == fr.pc
                        && base == fr.base as usize
                        && std::ptr::eq(chunk, Rc::as_ptr(&fr.chunk))
                );
                debug_assert!(
                    frame_owned(h.as_slice(), &fr),
                    "{} lost its callee",
                    fr.chunk.name
                );
            }};
        }
        macro_rules! reload {
            () => {{
                enter!(fr.pc, fr.base as usize, Rc::as_ptr(&fr.chunk))
            }};
        }
        debug_assert!(
            frame_owned(h.as_slice(), &fr),
            "{} lost its callee",
            fr.chunk.name
        );
        // Runs `$e` with the values back in the vector.
        macro_rules! cold {
            ($e:expr) => {{
                h.put(&mut self.stack);
                let r = $e;
                h = HotStack::take(&mut self.stack);
                r
            }};
        }
        // Leaves the loop with `$m` raised by the running activation at `pc`.
        macro_rules! fault {
            ($m:expr) => {{
                h.put(&mut self.stack);
                let m = $m;
                *faulted = Some(fr);
                return m;
            }};
        }
        // The instruction at `pc` the general way (`step`), and what follows from it.
        macro_rules! general {
            ($pc:expr) => {{
                fr.pc = $pc as u32;
                h.put(&mut self.stack);
                match self.step(&mut fr, interp) {
                    Step::Next => {
                        h = HotStack::take(&mut self.stack);
                        reload!()
                    }
                    Step::Exit(m) => return m,
                    Step::Fault(m) => {
                        *faulted = Some(fr);
                        return m;
                    }
                }
            }};
        }
        // `AddI`/`SubI` (at `$pc`; loop labels `$d` and `$c`): the int result is
        // written straight into its slot, and a `Call` that takes it next runs at once.
        macro_rules! arith_int {
            ($d:lifetime, $c:lifetime, $pc:ident, $a:expr, $k:expr, $op:ident, $f:ident) => {{
                let Some(r) = int_operand(&h, base, $a, PrimOp::$op, interp)
                    .and_then(|x| x.$f($k as i64))
                else {
                    general!($pc);
                    continue $d;
                };
                // SAFETY: the free slot is written, then counted.
                unsafe {
                    Value::write_int(h.free_slot(&mut self.stack), r);
                    h.pushed();
                }
                // SAFETY: the verifier made sure code follows.
                if let Instr::Call(n) = unsafe { *code.add(next as usize) } {
                    $pc = next as usize;
                    next += 1;
                    break $c n;
                }
            }};
        }
        // `LtI` … (likewise): a `JumpIfFalse` next consumes the result at once.
        macro_rules! compare_int {
            ($d:lifetime, $pc:ident, $a:expr, $k:expr, $op:ident, $cmp:tt) => {{
                let Some(x) = int_operand(&h, base, $a, PrimOp::$op, interp) else {
                    general!($pc);
                    continue $d;
                };
                // SAFETY: the verifier made sure code follows.
                let after = unsafe { *code.add(next as usize) };
                branch_or_push(&mut h, &mut self.stack, x $cmp ($k as i64), after, &mut next);
            }};
        }
        'dispatch: loop {
            let mut pc = next as usize;
            // SAFETY: see `chunk`; the verifier made sure control stays in the code.
            debug_assert!(pc < unsafe { &(*chunk).code }.len());
            // SAFETY: likewise.
            let instr: &Instr = unsafe { &*code.add(pc) };
            next += 1;
            // The arms `continue` when done. A `Call` (`break 'call n`) and a `Return`
            // (`break 'ret`) go on to shared code below, so that an instruction whose
            // fast path leaves its value where the next instruction wants it can run
            // that next `Call` or `Return` at once instead of dispatching it (`pc` and
            // `next` are moved on to it first): exactly the two instructions in order.
            //
            // SAFETY (for every stack access below): the verifier checked each
            // instruction's operands against the stack height and the frame's
            // slots, which lie on the stack from `base` while the frame runs.
            let n = 'call: {
                'ret: {
                    'lc: {
                        match *instr {
                            Instr::Const(k) => unsafe {
                                // The verifier also checked the constant's index.
                                h.push_clone(
                                    &mut self.stack,
                                    { &(*chunk).consts }.get_unchecked(k as usize),
                                )
                            },
                            Instr::LoadLocal(i) => {
                                unsafe { h.push_clone(&mut self.stack, h.at(base + i as usize)) };
                                // SAFETY: the verifier made sure code follows a load.
                                if let Instr::Return = unsafe { *code.add(next as usize) } {
                                    pc = next as usize;
                                    break 'ret;
                                }
                            }
                            Instr::StoreLocal(i) => unsafe {
                                let v = h.pop();
                                *h.at(base + i as usize) = v;
                            },
                            Instr::MoveLocal(i) => {
                                let v = std::mem::replace(
                                    unsafe { &mut *h.at(base + i as usize) },
                                    Value::Nil,
                                );
                                h.push(&mut self.stack, v)
                            }
                            Instr::Nil => h.push(&mut self.stack, Value::Nil),
                            Instr::TailCall(n) => {
                                if let Some(c) =
                                    self.fast_tail_call(&mut h, &mut fr, base, n, interp)
                                {
                                    enter!(0, base, c)
                                } else if plain_prim_ready(h.as_slice(), n)
                                    && matches!(self.kont.last(), Some(Frame::Vm(_)))
                                {
                                    // A primitive in tail position with a VM caller
                                    // waiting: its value is returned at once, as
                                    // `call` and `vm_return` would (a raise is this
                                    // activation's, at the call).
                                    if let Err(e) = cold!(self.call_plain_prim(n, interp)) {
                                        fr.pc = pc as u32;
                                        fault!(prim_raise_at(&fr, pc, e));
                                    }
                                    break 'ret;
                                } else if interp_prim_ready(h.as_slice(), n)
                                    && matches!(self.kont.last(), Some(Frame::Vm(_)))
                                {
                                    // Likewise for a primitive that gets the
                                    // interpreter, as `call` runs it: a raise unwinds
                                    // (the activation is gone), and one that turned
                                    // tracing on leaves for the loop that traces.
                                    match cold!(self.call_interp_prim(n, interp)) {
                                        Ok(()) if interp.trace.is_none() => break 'ret,
                                        Ok(()) => {
                                            h.put(&mut self.stack);
                                            return match self.vm_return(&mut fr, interp) {
                                                Next::Continue => Mode::Vm(fr.clone()),
                                                Next::Exit(m) | Next::Unwind(m) => m,
                                            };
                                        }
                                        Err(e) => {
                                            h.put(&mut self.stack);
                                            let m = prim_raise_at(&fr, pc, e);
                                            self.truncate_stack(fr.base as usize - 1);
                                            return m;
                                        }
                                    }
                                } else {
                                    general!(pc)
                                }
                            }
                            Instr::LoadEnv(i) => {
                                h.push(&mut self.stack, fr.env.as_ref().expect("heap frame").get(i))
                            }
                            Instr::StoreEnv(i) => {
                                let v = unsafe { h.pop() };
                                interp
                                    .cycles
                                    .set(fr.env.as_ref().expect("heap frame"), i, v);
                            }
                            Instr::LoadOuter(d, i) => h.push(&mut self.stack, outer(&fr, d).get(i)),
                            Instr::Pop => drop(unsafe { h.pop() }),
                            Instr::Jump(t) => next = t,
                            Instr::JumpIfFalse(t) => {
                                if !unsafe { h.pop_truthy() } {
                                    next = t;
                                }
                            }
                            Instr::JumpIfTrue(t) => {
                                if unsafe { h.pop_truthy() } {
                                    next = t;
                                }
                            }
                            Instr::LoadGlobal(sym) => match interp.global_value_ref(sym) {
                                Some(g) => unsafe { h.push_clone(&mut self.stack, g) },
                                None => general!(pc),
                            },
                            Instr::AddI(a, k) => {
                                arith_int!('dispatch, 'call, pc, a, k, Add, checked_add)
                            }
                            Instr::SubI(a, k) => {
                                arith_int!('dispatch, 'call, pc, a, k, Sub, checked_sub)
                            }
                            Instr::LtI(a, k) => compare_int!('dispatch, pc, a, k, Lt, <),
                            Instr::GtI(a, k) => compare_int!('dispatch, pc, a, k, Gt, >),
                            Instr::LeI(a, k) => compare_int!('dispatch, pc, a, k, Le, <=),
                            Instr::GeI(a, k) => compare_int!('dispatch, pc, a, k, Ge, >=),
                            Instr::EqI(a, k) => compare_int!('dispatch, pc, a, k, Eq, ==),
                            Instr::PrimLC(..) | Instr::PrimLL(..) => break 'lc,
                            Instr::Prim(op, 2) if inline_prim2_fast(&mut h, op, interp) => {
                                // SAFETY: the verifier made sure code follows.
                                if let Instr::Return = unsafe { *code.add(next as usize) } {
                                    pc = next as usize;
                                    break 'ret;
                                }
                            }
                            Instr::Prim(op, n) if is_inline_prim(h.as_slice(), op, n, interp) => {
                                if let Err(e) = cold!(self.inline_op(op, n, interp)) {
                                    fr.pc = next;
                                    fault!(prim_raise_at(&fr, pc, e));
                                }
                            }
                            Instr::Call(n) => break 'call n,
                            Instr::Return => break 'ret,
                            Instr::LoopStep(kind @ (LoopKind::Map | LoopKind::ForEach), slot, body)
                                // SAFETY: the verifier checked the loop's state and
                                // slots (as for `loop_step_fast`).
                                if unsafe {
                                    self.loop_step_hot(&mut h, kind, base + slot as usize, interp)
                                } =>
                            {
                                next = body
                            }
                            Instr::LoopStep(kind, slot, body)
                                if cold!(self.loop_step_fast(
                                    kind,
                                    base + slot as usize,
                                    interp
                                )) =>
                            {
                                next = body
                            }
                            _ => general!(pc),
                        }
                        continue 'dispatch;
                    }
                    // `PrimLC`/`PrimLL` (`instr`, at `pc`).
                    if let Instr::PrimLC(op, a, k) | Instr::PrimLL(op, a, k) = *instr {
                        let konst = matches!(*instr, Instr::PrimLC(..));
                        if self.inline_binop_fast(
                            &mut h, konst, op, base, a, k, chunk, &mut next, interp,
                        ) {
                            // SAFETY: the verifier made sure code follows (a jump
                            // taken by a fused comparison lands on code too).
                            if let Instr::Call(n) = unsafe { *code.add(next as usize) } {
                                pc = next as usize;
                                next += 1;
                                break 'call n;
                            }
                            continue 'dispatch;
                        }
                    }
                    general!(pc);
                    continue 'dispatch;
                }
                // `Return` (at `pc`) with the value on top of the stack.
                if matches!(self.kont.last(), Some(Frame::Vm(_))) {
                    // Back to a waiting VM caller (the common case of `deliver`).
                    let (to, at, c) = self.return_to_vm_caller(&mut h, &mut fr, base);
                    enter!(to, at, c);
                } else if cold!(self.vm_loop_next(&mut fr, base, interp)) {
                    reload!();
                } else {
                    general!(pc);
                }
                continue 'dispatch;
            };
            // `Call(n)` (at `pc`).
            if let Some((at, c)) = self.fast_call(&mut h, &mut fr, base, next, n, interp) {
                enter!(0, at, c);
            } else if plain_prim_ready(h.as_slice(), n) {
                if let Err(e) = cold!(self.call_plain_prim(n, interp)) {
                    fr.pc = next;
                    fault!(prim_raise_at(&fr, pc, e));
                }
            } else if dispatch_prim_ready(h.as_slice(), n) {
                // As `call` runs one (see there), without going through `step`.
                match cold!(self.call_dispatch_prim(n, interp)) {
                    Handed::Value if interp.trace.is_none() => {}
                    Handed::Value => {
                        // It turned tracing on: the traced loop goes on from here.
                        h.put(&mut self.stack);
                        fr.pc = next;
                        return Mode::Vm(fr.clone());
                    }
                    Handed::Raised(e) => {
                        fr.pc = next;
                        fault!(prim_raise_at(&fr, pc, e));
                    }
                    Handed::Call(argc) => {
                        // The function it named, with its arguments, is in its place:
                        // the call is made the general way, as `step` makes it.
                        h.put(&mut self.stack);
                        fr.pc = next;
                        match self.call(&mut fr, pc, argc, false, interp) {
                            Next::Continue => {
                                h = HotStack::take(&mut self.stack);
                                reload!();
                            }
                            Next::Exit(m @ Mode::Raise(..)) => {
                                *faulted = Some(fr);
                                return m;
                            }
                            Next::Exit(m) | Next::Unwind(m) => return m,
                        }
                    }
                }
            } else {
                general!(pc);
            }
        }
    }

    /// The fast path of `PrimLC`/`PrimLL` (operands: slot `a`, and constant or slot
    /// `k`): the primitive is still the global's value and both operands are ints
    /// with an int or bool result; pushes it. A comparison whose result the next
    /// instruction (at `next`) would consume with `JumpIfFalse` branches at once
    /// instead. `false`: nothing done.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn inline_binop_fast(
        &mut self,
        h: &mut HotStack,
        konst: bool,
        op: PrimOp,
        base: usize,
        a: u32,
        k: u32,
        chunk: *const Chunk,
        next: &mut u32,
        interp: &Interp,
    ) -> bool {
        debug_assert!(base + (a as usize) < h.len());
        debug_assert!(if konst {
            // SAFETY: as below.
            (k as usize) < unsafe { &(*chunk).consts }.len()
        } else {
            base + (k as usize) < h.len()
        });
        // SAFETY: the verifier checked the slot indexes against the frame's size and
        // the constant index against the pool; the frame's slots stay on the stack
        // while it runs; the caller's `chunk` is alive (see `run_vm_inner`).
        let Value::Int(x) = *(unsafe { &*h.at(base + a as usize) }) else {
            return false;
        };
        let y = if konst {
            unsafe { { &(*chunk).consts }.get_unchecked(k as usize) }
        } else {
            unsafe { &*h.at(base + k as usize) }
        };
        let Value::Int(y) = *y else {
            return false;
        };
        if interp.inline_intact & (1 << op as u16) == 0 {
            return false;
        }
        // One branch on the operator for both kinds (as two `match`es it compiled
        // to two jump tables). Room for a result is made first, so that results
        // are written straight into their slot: built in a temporary before a
        // possible call to grow the stack, they were copied out with wide loads of
        // narrow stores, a store-forwarding stall on every int result.
        if let Some(holds) = int_compare(op, x, y) {
            // SAFETY: `chunk` is alive; the verifier made sure code follows.
            let after = unsafe { *{ &(*chunk).code }.get_unchecked(*next as usize) };
            branch_or_push(h, &mut self.stack, holds, after, next);
            return true;
        }
        let Some(r) = int_arith(op, x, y) else {
            return false;
        };
        // SAFETY: the free slot is written, then counted.
        unsafe {
            Value::write_int(h.free_slot(&mut self.stack), r);
            h.pushed();
        }
        true
    }
}

/// `(assoc d k v …)` and `(append xs ys …)` when the first argument is a dict or list
/// that nothing else holds (moved out of its slot by `MoveLocal`): the same value
/// the primitive would make, made by growing the argument in place instead of
/// copying it. None: take the primitive (which also raises for bad arguments).
#[inline(always)]
pub(super) fn grow_in_place(p: &Prim, args: &mut [Value]) -> Option<Value> {
    // The kind of the first argument first, in line: most calls are of neither.
    if !matches!(args.first(), Some(Value::Dict(_) | Value::List(_))) {
        return None;
    }
    grow_in_place_named(p, args)
}

/// [`grow_in_place`] once the first argument is a dict or a list.
#[inline(never)]
pub(super) fn grow_in_place_named(p: &Prim, args: &mut [Value]) -> Option<Value> {
    let (first, rest) = args.split_first_mut()?;
    match (p.name, &mut *first) {
        ("assoc", Value::Dict(d)) if rest.len() % 2 == 0 => {
            let m = Rc::get_mut(d)?;
            for kv in rest.chunks(2) {
                m.insert(kv[0].clone(), kv[1].clone());
            }
        }
        ("append", Value::List(l))
            if rest
                .iter()
                .all(|r| matches!(r, Value::List(_) | Value::Nil)) =>
        {
            if !l.is_unique() {
                return None;
            }
            for r in rest.iter() {
                if let Value::List(r) = r {
                    for v in r.as_slice() {
                        l.push(v.clone());
                    }
                }
            }
        }
        _ => return None,
    }
    Some(std::mem::replace(first, Value::Nil))
}

/// Drops `v`, calling its destructor only when it owns something.
#[inline(always)]
pub(super) fn drop_owning(v: Value) {
    if v.owns_heap() {
        drop(v);
    } else {
        std::mem::forget(v);
    }
}

/// Takes the unit of fuel a call costs (`Interp::enter_call`), if there is a limit;
/// `false` when it is used up or the host has set the interrupt flag (the general
/// path then raises the error).
#[inline(always)]
pub(crate) fn take_fuel(interp: &mut Interp) -> bool {
    if interp.interrupted() {
        return false;
    }
    match &mut interp.fuel {
        None => true,
        Some(0) => false,
        Some(f) => {
            *f -= 1;
            true
        }
    }
}

pub(super) fn outer(fr: &VmFrame, depth: u32) -> &Rc<Env> {
    fr.closure_env
        .as_ref()
        .expect("verified: outer access has an enclosing frame")
        .ancestor(depth - 1)
}

pub(super) fn raise_at(fr: &VmFrame, pc: usize, message: String) -> Mode {
    let span = fr.chunk.span_at(pc).clone();
    Mode::Raise(Value::error(message, Some(span.clone())), Some(span))
}

pub(super) fn prim_raise_at(fr: &VmFrame, pc: usize, e: PrimError) -> Mode {
    crate::cek::prim_raise(e, fr.chunk.span_at(pc))
}

impl Machine {
    /// An error is leaving the VM activation `fr` (raised by its own code). Unless a
    /// guard of `fr` catches it, the call is re-run on the CEK: if the CEK raises too
    /// the error was genuine and propagates unchanged; if it returns, the VM was
    /// wrong and the call is recovered. A call that has already performed a
    /// non-idempotent effect is never re-run: its error propagates, with a note.
    pub(super) fn vm_fault(&mut self, fr: VmFrame, raise: Mode, interp: &mut Interp) -> Mode {
        // An interrupted program is being stopped: nothing is re-run.
        if interp.interrupted() {
            return raise;
        }
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
        push_in_place!(self.kont, Frame::Recovery(c.info.clone(), message));
        self.recovering += 1;
        let call_span = span.unwrap_or_else(|| c.info.span.clone());
        self.apply_on(Value::Lambda(c), args, &call_span, interp, true)
    }
}

/// The error a call raises before running anything (wrong arity, wrong argument
/// kinds for a higher-order primitive, not a function), if any.
pub(super) fn reject_call(f: &Value, args: &[Value], span: &crate::span::Span) -> Option<Mode> {
    let message = match f {
        Value::Lambda(c) => c.info.check_arity(args.len()).err()?,
        Value::Prim(p) => match p.check_arity(args.len()) {
            Err(m) => m,
            Ok(()) => match &p.imp {
                PrimImpl::Higher(op) => match crate::prims::check_higher_args(*op, p.name, args) {
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

/// Writes the inline binary primitive's result on two ints to `dst` and says
/// `true`; `false`, writing nothing, on overflow or for a non-numeric op. Each
/// result is stored straight into `dst` (not returned, which built it in a
/// temporary that stalled the copy).
///
/// # Safety
/// `dst` must be valid for a write and hold nothing that needs dropping.
#[inline(always)]
unsafe fn int_binop_into(op: PrimOp, a: i64, b: i64, dst: *mut Value) -> bool {
    if let Some(holds) = int_compare(op, a, b) {
        // SAFETY: the caller guarantees `dst` is valid and holds nothing to drop.
        unsafe { Value::write_bool(dst, holds) };
        return true;
    }
    match int_arith(op, a, b) {
        Some(v) => {
            // SAFETY: as above.
            unsafe { Value::write_int(dst, v) };
            true
        }
        None => false,
    }
}

/// The inline arithmetic `op` on two ints (`None`: not arithmetic, or the general
/// path must raise: overflow, a zero divisor).
///
/// Subtraction and addition are tested first, one compare each: a `match` over
/// every operator was an indirect jump on every call of `-` or `+`.
#[inline(always)]
pub(super) fn int_arith(op: PrimOp, a: i64, b: i64) -> Option<i64> {
    if op == PrimOp::Sub {
        return a.checked_sub(b);
    }
    if op == PrimOp::Add {
        return a.checked_add(b);
    }
    match op {
        PrimOp::Mul => a.checked_mul(b),
        PrimOp::Mod if b != 0 => Some(crate::prims::int_mod(a, b)),
        _ => None,
    }
}

/// The end of an int comparison's fast path: a `JumpIfFalse` as the next
/// instruction (`after`, at `next`) consumes the result at once, moving `next`;
/// otherwise the result is pushed.
#[inline(always)]
pub(super) fn branch_or_push(
    h: &mut HotStack,
    stack: &mut Vec<Value>,
    holds: bool,
    after: Instr,
    next: &mut u32,
) {
    if let Instr::JumpIfFalse(t) = after {
        *next = if holds { *next + 1 } else { t };
    } else {
        // SAFETY: the free slot is written, then counted.
        unsafe {
            Value::write_bool(h.free_slot(stack), holds);
            h.pushed();
        }
    }
}

/// The int in slot `a` of the activation at `base`, when it holds an int and the
/// inline primitive `op` is still its global's value.
#[inline(always)]
pub(super) fn int_operand(
    h: &HotStack,
    base: usize,
    a: u32,
    op: PrimOp,
    interp: &Interp,
) -> Option<i64> {
    debug_assert!(base + (a as usize) < h.len());
    // SAFETY: the verifier checked the slot against the frame's size; the frame's
    // slots stay on the stack while it runs.
    match *(unsafe { &*h.at(base + a as usize) }) {
        Value::Int(x) if interp.inline_intact & (1 << op as u16) != 0 => Some(x),
        _ => None,
    }
}

/// Which orderings (bit 0 less, bit 1 equal, bit 2 greater) each comparison
/// accepts, three bits per operator from `Lt`: `Lt`, `Gt`, `Le`, `Ge`, `Eq`.
const COMPARE_ACCEPTS: u32 = 0b001 | 0b100 << 3 | 0b011 << 6 | 0b110 << 9 | 0b010 << 12;

/// The inline comparison `op` on two ints (`None`: not a comparison), without a
/// branch on the operator: the ordering of the two picks a bit of the operator's
/// accepted orderings.
#[inline(always)]
pub(super) fn int_compare(op: PrimOp, a: i64, b: i64) -> Option<bool> {
    let i = (op as u32).wrapping_sub(PrimOp::Lt as u32);
    if i > PrimOp::Eq as u32 - PrimOp::Lt as u32 {
        return None;
    }
    // 0: less, 1: equal, 2: greater.
    let ordering = (a > b) as u32 + (a >= b) as u32;
    Some((COMPARE_ACCEPTS >> (i * 3 + ordering)) & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::{int_arith, int_compare, PrimOp};

    #[test]
    pub(super) fn inline_int_ops_agree_with_rust_operators() {
        let samples = [i64::MIN, -7, -1, 0, 1, 2, 7, i64::MAX];
        for op in PrimOp::ALL {
            for a in samples {
                for b in samples {
                    let want = match op {
                        PrimOp::Lt => Some(a < b),
                        PrimOp::Gt => Some(a > b),
                        PrimOp::Le => Some(a <= b),
                        PrimOp::Ge => Some(a >= b),
                        PrimOp::Eq => Some(a == b),
                        _ => None,
                    };
                    assert_eq!(int_compare(op, a, b), want, "{op:?} {a} {b}");
                    let want = match op {
                        PrimOp::Add => a.checked_add(b),
                        PrimOp::Sub => a.checked_sub(b),
                        PrimOp::Mul => a.checked_mul(b),
                        PrimOp::Mod if b != 0 => Some(crate::prims::int_mod(a, b)),
                        _ => None,
                    };
                    assert_eq!(int_arith(op, a, b), want, "{op:?} {a} {b}");
                }
            }
        }
    }
}
