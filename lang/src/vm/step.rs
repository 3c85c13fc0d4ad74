//! The VM's general path: `step` runs any instruction the long way (whatever the
//! hot loop hands it, and everything under `vm-trace`), with the traced loop and
//! the general binary operators.

use super::chunk::{Instr, PrimOp};
use super::exec::*;
use crate::cek::{Frame, Machine, Mode};
use crate::closure::{Closure, Env};
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::value::{equal, Value};
use std::rc::Rc;

impl Machine {
    /// `run_vm_inner` under `vm-trace`: each instruction traced, then run by `step`.
    #[inline(never)]
    pub(super) fn run_vm_traced(
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
    pub(super) fn binary_general(
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
    pub(super) fn step(&mut self, fr: &mut VmFrame, interp: &mut Interp) -> Step {
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

    pub(super) fn trace_instr(&self, fr: &VmFrame, pc: usize, interp: &mut Interp) {
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
