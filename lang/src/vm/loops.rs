//! The VM side of inlined higher-order loops (`LoopStart`, `LoopStep`, `LoopEnd`):
//! binding each element to the callback's slots in the caller's frame and taking
//! the body's value, on the operand stack, so a loop suspends like any VM state.

use super::chunk::LoopKind;
use super::exec::*;
use super::hot::HotStack;
use crate::cek::Machine;
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::prims::PrimImpl;
use crate::value::{List, Value};

impl Machine {
    /// The common case of `LoopStep`, in the hot loop: a `map`, `filter`,
    /// `for-each` or `reduce` loop with another element to bind and no fuel or depth
    /// limit in reach. Takes the body's value and binds the next element to the
    /// stack slots from `at`; the caller jumps to the body. `false`: nothing done.
    #[inline(always)]
    pub(super) fn loop_step_fast(&mut self, kind: LoopKind, at: usize, interp: &Interp) -> bool {
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
    pub(super) unsafe fn loop_step_hot(
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
    pub(super) fn loop_take(&mut self, kind: LoopKind, v: Value) -> bool {
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
    pub(super) fn loop_next_element(&mut self, kind: LoopKind, at: usize) {
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
    pub(super) fn loop_start(
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
    pub(super) fn loop_bind(
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
    pub(super) fn loop_step(
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
}
