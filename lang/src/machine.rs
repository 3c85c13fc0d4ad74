//! The machine both tiers run on: the continuation (a heap `Vec` of [`Frame`]s, never
//! the Rust stack), the VM's operand stack, what to do next ([`Mode`]), and the loop
//! that runs it until it finishes, raises or performs. The CEK step (`cek.rs`) and
//! the VM (`vm/`) are its two users; higher-order primitives run as its frames
//! (`higher.rs`).

use crate::ast::*;
use crate::cek::*;
use crate::closure::Env;
use crate::interp::{Interp, SxError};
use crate::prims::Higher;
use crate::reader::Form;
use crate::span::Span;
use crate::value::{List, Value};
use crate::vm::exec::{VmFrame, VmGuard};
use std::rc::Rc;

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
    pub(crate) parts: Rc<[P]>,
    pub(crate) idx: usize,
    pub(crate) env: Rc<Env>,
    pub(crate) acc: Vec<Value>,
}

/// A higher-order primitive's loop: which element comes next and what has been
/// gathered so far.
pub(crate) struct HigherLoop {
    pub(crate) op: Higher,
    pub(crate) f: Value,
    pub(crate) items: List,
    pub(crate) idx: usize,
    pub(crate) acc: Vec<Value>,
    pub(crate) span: Span,
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

/// A CEK machine: the continuation and what to do next.
pub(crate) struct Machine {
    pub(crate) kont: Vec<Frame>,
    /// The VM's operand stack (CEK frames keep their values in the frames).
    pub(crate) stack: Vec<Value>,
    pub(crate) mode: Mode,
    pub(crate) awaiting_resume: bool,
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
    pub(crate) fn starting(kont: Vec<Frame>, mode: Mode) -> Machine {
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
    pub(crate) fn unwind_raised(&mut self, v: &Value, interp: &Interp) -> Option<Frame> {
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
    pub(crate) fn unwind(&mut self) -> Option<Frame> {
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
}
