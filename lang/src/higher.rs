//! Higher-order primitives (`map`, `filter`, `reduce`, `for-each`, `some`, `every?`,
//! `sort-by`, `apply`) as frames of the machine, for both tiers: the loop's frame stays
//! on top of the continuation while it runs, so a `perform` in a callback suspends it
//! with everything else.

use crate::cek::*;
use crate::inplace::push_in_place;
use crate::interp::Interp;
use crate::prims::{Higher, PrimCtx, PrimImpl};
use crate::span::Span;
use crate::value::{List, Value};
use crate::vm::exec::VmFrame;
use smallvec::SmallVec;
use std::rc::Rc;

impl Machine {
    pub(crate) fn start_higher(
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
}
