//! The VM loop: runs bytecode activations on the machine's operand stack.
//!
//! A VM activation that calls out (to a CEK function, a higher-order primitive, the
//! host through `perform`) saves itself as a [`Frame::Vm`] on the shared
//! continuation and returns a [`Mode`] to the machine loop; the value that comes
//! back is pushed onto the operand stack and the activation continues. No Rust
//! loop holds VM state across a call out, so nothing is lost when a `perform`
//! suspends the machine.

use std::rc::Rc;

use super::borrowed::Borrowed;
use super::chunk::{Chunk, Instr, LoopKind, PrimOp};
use super::hot::HotStack;
use crate::cek::{Frame, HigherStep, Machine, Mode};
use crate::closure::{Closure, Env};
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::prims::{Dispatched, Higher, Prim, PrimCtx, PrimError, PrimImpl};
use crate::value::{equal, List, Value};

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
fn fast_entry_checked(info: &crate::ast::LambdaInfo, n: u32, key: u64, interp: &Interp) -> bool {
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
fn plain_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Plain(_)) && p.check_arity(n as usize).is_ok())
}

/// Whether the callee `n` operands down `stack` is a primitive that gets the
/// interpreter, called with an arity it takes.
#[inline(always)]
fn interp_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Interp(_)) && p.check_arity(n as usize).is_ok())
}

/// `next`, after a primitive on the interpreter ran with tracing `tracing` before it:
/// one that turned tracing on or off makes the loop that runs `fr` be chosen again.
fn retraced(next: Next, tracing: bool, fr: &VmFrame, interp: &Interp) -> Next {
    if matches!(next, Next::Continue) && interp.trace.is_some() != tracing {
        return Next::Exit(Mode::Vm(fr.clone()));
    }
    next
}

/// Whether the callee `n` operands down `stack` is a primitive that may hand its
/// call on, called with an arity it takes.
#[inline(always)]
fn dispatch_prim_ready(stack: &[Value], n: u32) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if matches!(p.imp, PrimImpl::Dispatch(_)) && p.check_arity(n as usize).is_ok())
}

/// What calling a primitive that may hand its call on did (see
/// [`Machine::call_dispatch_prim`]).
enum Handed {
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
fn is_inline_prim(stack: &[Value], op: PrimOp, n: u32, interp: &Interp) -> bool {
    matches!(&stack[stack.len() - n as usize - 1],
        Value::Prim(p) if std::ptr::eq(*p, interp.inline_prims[op as usize]))
}

/// The fast path of `Prim op 2`: the operator is that primitive and both operands
/// are ints with an int or bool result, which replaces all three.
#[inline(always)]
fn inline_prim2_fast(h: &mut HotStack, op: PrimOp, interp: &Interp) -> bool {
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
fn frame_owned(stack: &[Value], fr: &VmFrame) -> bool {
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

enum Next {
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
enum Step {
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
    fn run_vm_inner(
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
    fn inline_binop_fast(
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

    /// `run_vm_inner` under `vm-trace`: each instruction traced, then run by `step`.
    #[inline(never)]
    fn run_vm_traced(
        &mut self,
        mut fr: VmFrame,
        interp: &mut Interp,
        faulted: &mut Option<VmFrame>,
    ) -> Mode {
        loop {
            self.trace_instr(&fr, fr.pc as usize, interp);
            match self.step(&mut fr, interp) {
                Step::Next => {}
                Step::Exit(m) => return m,
                Step::Fault(m) => {
                    *faulted = Some(fr);
                    return m;
                }
            }
        }
    }

    /// A fused inline binary primitive (`PrimLC`, `PrimLL`, `AddI` …) on its
    /// operands `x` and `y`, exactly as the unfused instructions would run it: the
    /// primitive in place when the global still holds it, else a call of whatever
    /// the global holds now.
    fn binary_general(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        op: PrimOp,
        x: Value,
        y: Value,
        interp: &mut Interp,
    ) -> Step {
        let sym = interp.inline_syms[op as usize];
        let is_prim = interp.inline_intact & (1 << op as u16) != 0;
        // `inline_op` has the fast path for ints.
        let Some(f) = interp.global_value(sym) else {
            return Step::Fault(raise_at(fr, pc, format!("undefined symbol: {sym}")));
        };
        push_in_place!(self.stack, f);
        push_in_place!(self.stack, x);
        push_in_place!(self.stack, y);
        if is_prim {
            if let Err(m) = self.inline_op(op, 2, interp) {
                return Step::Fault(prim_raise_at(fr, pc, m));
            }
        } else {
            match self.call(fr, pc, 2, false, interp) {
                Next::Continue => {}
                Next::Exit(m @ Mode::Raise(..)) => return Step::Fault(m),
                Next::Exit(m) | Next::Unwind(m) => return Step::Exit(m),
            }
        }
        Step::Next
    }

    /// Runs the instruction at `fr.pc` in the general way (any instruction; the
    /// hot loop sends here all but its common cases). Jumps and calls set `fr.pc`.
    #[inline(never)]
    fn step(&mut self, fr: &mut VmFrame, interp: &mut Interp) -> Step {
        let pc = fr.pc as usize;
        let instr = fr.chunk.code[pc];
        fr.pc += 1;
        match instr {
            Instr::Const(k) => push_in_place!(self.stack, fr.chunk.consts[k as usize].clone()),
            Instr::Nil => push_in_place!(self.stack, Value::Nil),
            Instr::True => push_in_place!(self.stack, Value::Bool(true)),
            Instr::False => push_in_place!(self.stack, Value::Bool(false)),
            Instr::LoadLocal(i) => {
                push_in_place!(self.stack, self.stack[(fr.base + i) as usize].clone())
            }
            Instr::StoreLocal(i) => {
                let v = self.pop();
                self.stack[(fr.base + i) as usize] = v;
            }
            Instr::MoveLocal(i) => {
                let v = std::mem::replace(&mut self.stack[(fr.base + i) as usize], Value::Nil);
                push_in_place!(self.stack, v);
            }
            Instr::LoadEnv(i) => {
                let v = fr.env.as_ref().expect("heap frame").get(i);
                push_in_place!(self.stack, v);
            }
            Instr::StoreEnv(i) => {
                let v = self.pop();
                interp
                    .cycles
                    .set(fr.env.as_ref().expect("heap frame"), i, v);
            }
            Instr::LoadOuter(d, i) => {
                let v = outer(fr, d).get(i);
                push_in_place!(self.stack, v);
            }
            Instr::StoreOuter(d, i) => {
                let v = self.pop();
                interp.effects += 1;
                interp.cycles.set(outer(fr, d), i, v);
            }
            Instr::LoadGlobal(sym) => match interp.global_value_ref(sym) {
                Some(v) => push_in_place!(self.stack, v.clone()),
                None => return Step::Fault(raise_at(fr, pc, format!("undefined symbol: {sym}"))),
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
                    return Step::Fault(raise_at(fr, pc, format!("set!: undefined symbol: {sym}")));
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
                let env = fr
                    .env
                    .clone()
                    .or_else(|| fr.closure_env.as_deref().cloned());
                self.stack
                    .push(Value::Lambda(Rc::new(Closure { info, env })));
            }
            Instr::Call(n) => match self.call(fr, pc, n, false, interp) {
                Next::Continue => {}
                Next::Exit(m @ Mode::Raise(..)) => return Step::Fault(m),
                Next::Exit(m) | Next::Unwind(m) => return Step::Exit(m),
            },
            Instr::TailCall(n) => match self.call(fr, pc, n, true, interp) {
                Next::Continue => {}
                Next::Exit(m @ Mode::Raise(..)) => return Step::Fault(m),
                Next::Exit(m) | Next::Unwind(m) => return Step::Exit(m),
            },
            Instr::Prim(op, n) => {
                if !is_inline_prim(&self.stack, op, n, interp) {
                    match self.call(fr, pc, n, false, interp) {
                        Next::Continue => {}
                        Next::Exit(m @ Mode::Raise(..)) => return Step::Fault(m),
                        Next::Exit(m) | Next::Unwind(m) => return Step::Exit(m),
                    }
                    return Step::Next;
                }
                if let Err(m) = self.inline_op(op, n, interp) {
                    return Step::Fault(prim_raise_at(fr, pc, m));
                }
            }
            Instr::PrimLC(..)
            | Instr::PrimLL(..)
            | Instr::AddI(..)
            | Instr::SubI(..)
            | Instr::LtI(..)
            | Instr::GtI(..)
            | Instr::LeI(..)
            | Instr::GeI(..)
            | Instr::EqI(..) => {
                let slot = |i: u32| self.stack[(fr.base + i) as usize].clone();
                let (op, x, y) = match instr {
                    Instr::PrimLC(op, a, k) => (op, slot(a), fr.chunk.consts[k as usize].clone()),
                    Instr::PrimLL(op, a, k) => (op, slot(a), slot(k)),
                    _ => {
                        let (op, a, k) = instr.slot_int().expect("an instruction on an int");
                        (op, slot(a), Value::Int(k as i64))
                    }
                };
                return self.binary_general(fr, pc, op, x, y, interp);
            }
            Instr::Return => match self.vm_return(fr, interp) {
                Next::Continue => {}
                Next::Exit(m) | Next::Unwind(m) => return Step::Exit(m),
            },
            Instr::Perform => {
                let req = self.pop();
                fr.resume_height = self.stack.len() as u32;
                self.perform_span = Some(fr.chunk.span_at(pc).clone());
                push_in_place!(self.kont, Frame::Vm(fr.clone()));
                return Step::Exit(Mode::Perform(req));
            }
            Instr::List(n) => {
                let at = self.stack.len() - n as usize;
                let items = self.stack.split_off(at);
                push_in_place!(self.stack, Value::list(items));
            }
            Instr::Concat(n) => {
                let at = self.stack.len() - n as usize;
                let mut out = Vec::new();
                for part in self.stack.drain(at..) {
                    if let Value::List(l) = part {
                        out.extend_from_slice(l.as_slice());
                    }
                }
                push_in_place!(self.stack, Value::list(out));
            }
            Instr::CheckSplice => {
                let top = self.stack.last().expect("verified");
                if !matches!(top, Value::List(_) | Value::Nil) {
                    let msg = format!("unquote-splicing: expected a list, got {}", top.kind());
                    return Step::Fault(raise_at(fr, pc, msg));
                }
            }
            Instr::Dict(n) => {
                let at = self.stack.len() - 2 * n as usize;
                let d = Value::dict_built(n as usize, |d| d.insert_pairs(self.stack.drain(at..)));
                push_in_place!(self.stack, d);
            }
            Instr::Match(k) => {
                let hit = equal(
                    self.stack.last().expect("verified"),
                    &fr.chunk.consts[k as usize],
                );
                push_in_place!(self.stack, Value::Bool(hit));
            }
            Instr::PushGuard(handler, slot) => {
                let mut at_handler = fr.clone();
                at_handler.pc = handler;
                let height = self.stack.len() as u32;
                push_in_place!(
                    self.kont,
                    Frame::VmGuard(Box::new(VmGuard {
                        frame: at_handler,
                        height,
                        slot,
                    }))
                );
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
                return Step::Fault(Mode::Raise(v, Some(span)));
            }
            Instr::Reraise => {
                // Propagation of a caught value, never a fault of this code.
                let site = self.pop();
                let v = self.pop();
                return Step::Exit(Mode::Raise(v, crate::ast::raise_site_span(&site)));
            }
            Instr::Rot(n) => {
                let v = self.pop();
                let at = self.stack.len() - n as usize;
                self.stack.insert(at, v);
            }
            Instr::ClosureIn(k, j) => {
                let info = fr.chunk.lambdas[k as usize].clone();
                let mut env = fr.env.clone();
                let base = fr.base as usize;
                for &(at, size) in fr.chunk.copied_frames[j as usize].iter() {
                    let at = base + at as usize;
                    let slots = self.stack[at..at + size as usize].to_vec();
                    env = Some(Rc::new(Env {
                        slots: std::cell::RefCell::new(slots),
                        parent: env,
                    }));
                }
                push_in_place!(self.stack, Value::Lambda(Rc::new(Closure { info, env })));
            }
            Instr::LoopStart(kind, slot, end) => {
                return self.loop_start(fr, pc, kind, slot, end, interp)
            }
            Instr::LoopStep(kind, slot, body) => {
                return self.loop_step(fr, pc, kind, slot, body, interp)
            }
            Instr::LoopEnd(_) => {
                let acc = self.pop();
                self.truncate_stack(self.stack.len() - 3);
                push_in_place!(self.stack, acc);
            }
        }
        Step::Next
    }

    /// The common case of `LoopStep`, in the hot loop: a `map`, `filter`,
    /// `for-each` or `reduce` loop with another element to bind and no fuel or depth
    /// limit in reach. Takes the body's value and binds the next element to the
    /// stack slots from `at`; the caller jumps to the body. `false`: nothing done.
    #[inline(always)]
    fn loop_step_fast(&mut self, kind: LoopKind, at: usize, interp: &Interp) -> bool {
        let len = self.stack.len();
        let (Value::Int(i), Value::List(items)) = (&self.stack[len - 3], &self.stack[len - 4])
        else {
            return false;
        };
        if *i as usize >= items.len()
            || interp.fuel.is_some()
            || interp.interrupted()
            || self.kont.len() + 1 >= interp.max_depth
            || matches!(kind, LoopKind::Some | LoopKind::Every)
        {
            return false;
        }
        let v = self.pop();
        self.loop_take(kind, v);
        self.loop_next_element(kind, at);
        true
    }

    /// [`loop_step_fast`](Self::loop_step_fast) for `map` and `for-each`, on the hot
    /// loop's stack: no bounds checks, and no destructor call for the values that
    /// own nothing (a `for-each` body's value, the element it replaces).
    ///
    /// # Safety
    /// The loop state (`f xs index acc`) lies under the body's value on top of `h`,
    /// and `at` is the callback's slot, below them.
    #[inline(always)]
    unsafe fn loop_step_hot(
        &self,
        h: &mut HotStack,
        kind: LoopKind,
        at: usize,
        interp: &Interp,
    ) -> bool {
        let len = h.len();
        // SAFETY (for every access): the caller's layout.
        let (Value::Int(i), Value::List(items)) =
            (unsafe { &*h.at(len - 3) }, unsafe { &*h.at(len - 4) })
        else {
            return false;
        };
        let i = *i as usize;
        if i >= items.len()
            || interp.fuel.is_some()
            || interp.interrupted()
            || self.kont.len() + 1 >= interp.max_depth
        {
            return false;
        }
        let x = items.as_slice()[i].clone();
        if kind == LoopKind::Map {
            let v = unsafe { h.pop() };
            if let Value::List(acc) = unsafe { &mut *h.at(len - 2) } {
                acc.push(v);
            }
        } else {
            // Dropped by its tag (a value that owns nothing, just written, is not
            // loaded whole).
            h.truncate(len - 1);
        }
        unsafe {
            // An int owns nothing: overwritten without a drop.
            std::ptr::write(h.at(len - 3), Value::Int(i as i64 + 1));
            drop_owning(std::ptr::replace(h.at(at), x));
        }
        true
    }

    /// Gives the body's value `v` for the current element to the loop state on top
    /// of the stack (`f xs index acc`): collected, tested or made the accumulator.
    /// `true`: the loop has its answer early (`some`, `every?`).
    #[inline(always)]
    fn loop_take(&mut self, kind: LoopKind, v: Value) -> bool {
        let top = self.stack.len();
        match kind {
            LoopKind::Map => {
                if let Value::List(acc) = &mut self.stack[top - 1] {
                    acc.push(v);
                }
                false
            }
            LoopKind::Filter => {
                if v.truthy() {
                    let (Value::Int(i), Value::List(items)) =
                        (&self.stack[top - 2], &self.stack[top - 3])
                    else {
                        unreachable!("the loop state")
                    };
                    let keep = items.as_slice()[*i as usize - 1].clone();
                    if let Value::List(acc) = &mut self.stack[top - 1] {
                        acc.push(keep);
                    }
                }
                false
            }
            LoopKind::ForEach => false,
            LoopKind::Some => {
                let found = v.truthy();
                if found {
                    self.stack[top - 1] = v;
                }
                found
            }
            LoopKind::Every => {
                let failed = !v.truthy();
                if failed {
                    self.stack[top - 1] = Value::Bool(false);
                }
                failed
            }
            LoopKind::Reduce => {
                self.stack[top - 1] = v;
                false
            }
        }
    }

    /// Binds the element at the loop's index to the callback's stack slots from
    /// `at` (after the accumulator, moved out of the state, for `reduce`) and
    /// advances the index.
    #[inline(always)]
    fn loop_next_element(&mut self, kind: LoopKind, at: usize) {
        let top = self.stack.len();
        let Value::Int(i) = self.stack[top - 2] else {
            unreachable!("the loop index")
        };
        let Value::List(items) = &self.stack[top - 3] else {
            unreachable!("the loop's list")
        };
        let x = items.as_slice()[i as usize].clone();
        // SAFETY: an int owns nothing, so it is overwritten without a drop.
        unsafe { std::ptr::write(&mut self.stack[top - 2], Value::Int(i + 1)) };
        if kind == LoopKind::Reduce {
            // The accumulator's place holds nil while the body runs.
            let acc = std::mem::replace(&mut self.stack[top - 1], Value::Nil);
            self.stack[at] = acc;
            self.stack[at + 1] = x;
        } else {
            self.stack[at] = x;
        }
    }

    /// `LoopStart`: sets up the loop when the operator is the loop's primitive and
    /// the list a list (else goes on to the fallback call), then binds the first
    /// element or, for none, goes to the end.
    fn loop_start(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        kind: LoopKind,
        slot: u32,
        end: u32,
        interp: &mut Interp,
    ) -> Step {
        let fidx = self.stack.len() - kind.arity() as usize - 1;
        let is_prim = matches!(&self.stack[fidx],
            Value::Prim(p) if matches!(p.imp, PrimImpl::Higher(h) if h == kind.higher()));
        let items = match self.stack.last() {
            Some(Value::List(l)) => l.clone(),
            Some(Value::Nil) => List::empty(),
            _ => return Step::Next,
        };
        if !is_prim {
            return Step::Next;
        }
        let acc = match kind {
            LoopKind::Map => Value::List(List::from_vec(Vec::with_capacity(items.len()))),
            LoopKind::Filter => Value::empty_list(),
            LoopKind::ForEach | LoopKind::Some => Value::Nil,
            LoopKind::Every => Value::Bool(true),
            LoopKind::Reduce => self.stack[fidx + 1].clone(),
        };
        let n = items.len();
        self.truncate_stack(fidx + 1);
        push_in_place!(self.stack, Value::List(items));
        push_in_place!(self.stack, Value::Int(0));
        push_in_place!(self.stack, acc);
        if n == 0 {
            fr.pc = end;
            return Step::Next;
        }
        fr.pc = pc as u32 + 2;
        self.loop_bind(fr, pc, kind, slot, interp)
    }

    /// Binds the next element (see `loop_next_element`) after the fuel and depth
    /// check a call of the callback would make (the loop's own frame counted, as
    /// `apply` counts it).
    fn loop_bind(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        kind: LoopKind,
        slot: u32,
        interp: &mut Interp,
    ) -> Step {
        if let Err(m) = interp.enter_call(self.kont.len() + 1) {
            return Step::Fault(raise_at(fr, pc, m));
        }
        self.loop_next_element(kind, fr.base as usize + slot as usize);
        Step::Next
    }

    /// `LoopStep`: takes the body's value for the current element, then binds the
    /// next element and jumps to `body`, or goes on to `LoopEnd`.
    fn loop_step(
        &mut self,
        fr: &mut VmFrame,
        pc: usize,
        kind: LoopKind,
        slot: u32,
        body: u32,
        interp: &mut Interp,
    ) -> Step {
        let v = self.pop();
        let early = self.loop_take(kind, v);
        let top = self.stack.len();
        let (Value::Int(i), Value::List(items)) = (&self.stack[top - 2], &self.stack[top - 3])
        else {
            unreachable!("the loop state")
        };
        if early || *i as usize == items.len() {
            return Step::Next;
        }
        fr.pc = body;
        self.loop_bind(fr, pc, kind, slot, interp)
    }

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
    fn fast_call(
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
    fn direct_callee(
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
    fn fast_tail_call(
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
    fn pop(&mut self) -> Value {
        self.stack.pop().expect("verified stack height")
    }

    /// Calls the plain primitive `n` operands down the stack on them and replaces
    /// all with its value (as `call` does for one).
    #[inline(always)]
    fn call_plain_prim(&mut self, n: u32, interp: &mut Interp) -> Result<(), PrimError> {
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
    fn take_result(&mut self, fidx: usize, r: Result<Value, PrimError>) -> Result<(), PrimError> {
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
    fn call_interp_prim(&mut self, n: u32, interp: &mut Interp) -> Result<(), PrimError> {
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
    fn call_dispatch_prim(&mut self, n: u32, interp: &mut Interp) -> Handed {
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
    fn pop_truthy(&mut self) -> bool {
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
    fn truncate_stack(&mut self, height: usize) {
        let mut h = HotStack::take(&mut self.stack);
        h.truncate(height);
        h.put(&mut self.stack);
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
    fn apply_plain(
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
    fn finish_call(
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
    fn return_to_vm_caller(
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
    fn vm_return(&mut self, fr: &mut VmFrame, interp: &mut Interp) -> Next {
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
    fn deliver(&mut self, mut v: Value, fr: &mut VmFrame, interp: &mut Interp) -> Option<Mode> {
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
    fn inline_op(&mut self, op: PrimOp, n: u32, interp: &mut Interp) -> Result<(), PrimError> {
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

/// `(assoc d k v …)` and `(append xs ys …)` when the first argument is a dict or list
/// that nothing else holds (moved out of its slot by `MoveLocal`): the same value
/// the primitive would make, made by growing the argument in place instead of
/// copying it. None: take the primitive (which also raises for bad arguments).
#[inline(always)]
fn grow_in_place(p: &Prim, args: &mut [Value]) -> Option<Value> {
    // The kind of the first argument first, in line: most calls are of neither.
    if !matches!(args.first(), Some(Value::Dict(_) | Value::List(_))) {
        return None;
    }
    grow_in_place_named(p, args)
}

/// [`grow_in_place`] once the first argument is a dict or a list.
#[inline(never)]
fn grow_in_place_named(p: &Prim, args: &mut [Value]) -> Option<Value> {
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
fn drop_owning(v: Value) {
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
fn reject_call(f: &Value, args: &[Value], span: &crate::span::Span) -> Option<Mode> {
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
fn int_arith(op: PrimOp, a: i64, b: i64) -> Option<i64> {
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
fn branch_or_push(
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
fn int_operand(h: &HotStack, base: usize, a: u32, op: PrimOp, interp: &Interp) -> Option<i64> {
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
fn int_compare(op: PrimOp, a: i64, b: i64) -> Option<bool> {
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
    fn inline_int_ops_agree_with_rust_operators() {
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
