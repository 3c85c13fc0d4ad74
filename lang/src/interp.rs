//! The interpreter's public face: global state, loading programs, and the
//! suspend/resume protocol of `perform`.
//!
//! `lang` never does IO itself (besides `print`/`println` into the output sink it is
//! given): a `perform` stops evaluation with an [`Outcome::Perform`] carrying the
//! request and a [`Suspended`] continuation, and the host answers by resuming it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::analyze::Analyzer;
use crate::ast::Node;
use crate::cek::{Machine, Stop};
use crate::printer::display;
use crate::reader::{read_all, ReadError};
use crate::span::Span;
use crate::symbol::Sym;
use crate::value::Value;

/// Which evaluator runs SX code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tier {
    /// The CEK interpreter, the reference.
    #[default]
    Cek,
    /// The bytecode VM (functions that fail to compile run on the CEK).
    Vm,
}

/// A host callback that answers a `perform` request at once, without suspending:
/// `Some(Ok(answer))`, `Some(Err(message))` (raised at the `perform`), or `None`
/// when this request must suspend to the host (IO the host serves elsewhere).
pub type PerformHandler = Box<dyn FnMut(&Value) -> Option<Result<Value, String>>>;

/// The default cap on continuation frames: deeper recursion is an error, not a crash.
/// A frame costs about 250 bytes on the CEK and 210 on the VM (a pending call of
/// `(+ 1 (f (- n 1)))` is one frame on either), so a runaway recursion stops at
/// about 500 MB, while a non-tail recursion 1,000,000 deep (about 240 MB) works.
pub const DEFAULT_MAX_DEPTH: usize = 2_000_000;

/// The message of the error a program gets when its host sets the interrupt flag
/// ([`Interp::interrupt`]).
pub const INTERRUPTED: &str = "interrupted";

/// What the errors of the limits say about raising them, in the host's terms (for
/// the `sx` command, its flags); `None`: nothing.
#[derive(Clone, Debug, Default)]
pub struct LimitHints {
    /// Added to `recursion depth exceeded (limit N frames; …)`.
    pub max_depth: Option<String>,
    /// Shown in `step limit reached (…)`.
    pub fuel: Option<String>,
}

/// An uncaught SX error: the raised value and where it was raised.
#[derive(Clone, Debug)]
pub struct SxError {
    /// The raised value (an error value, or whatever was passed to `raise`).
    pub value: Value,
    /// Where it was raised, when known.
    pub span: Option<Span>,
    /// Why the tiering layer let it propagate (not part of the error value).
    pub note: Option<String>,
}

impl SxError {
    /// The message: an error value's message, or the display form of another value.
    pub fn message(&self) -> String {
        match &self.value {
            Value::Error(e) => e.message.clone(),
            other => display(other),
        }
    }

    /// An error with `message` at `span`.
    pub fn new(message: impl Into<String>, span: Option<Span>) -> SxError {
        SxError {
            value: Value::error(message, span.clone()),
            span,
            note: None,
        }
    }
}

impl std::fmt::Display for SxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.span {
            Some(s) => write!(f, "{} (at {s})", self.message()),
            None => f.write_str(&self.message()),
        }
    }
}

impl From<ReadError> for SxError {
    fn from(e: ReadError) -> SxError {
        SxError::new(e.message, Some(e.span))
    }
}

/// How a run stopped.
pub enum Outcome {
    /// The program finished with this value.
    Done(Value),
    /// The program performed `request` and waits for an answer.
    Perform(Value, Suspended),
    /// An error was raised and not caught.
    Error(SxError),
}

/// A program stopped at a `perform`. Resume it once with the answer; a second
/// resume is an error.
pub struct Suspended {
    machine: Option<Box<Machine>>,
}

impl Suspended {
    /// Continues the program as if `perform` had returned `answer`.
    pub fn resume(&mut self, interp: &mut Interp, answer: Value) -> Outcome {
        match self.machine.take() {
            Some(mut m) if m.is_suspended() => {
                m.resume(answer);
                interp.run_machine(m)
            }
            _ => Outcome::Error(SxError::new(
                "resume: this continuation was already resumed (continuations are one-shot)",
                None,
            )),
        }
    }

    /// Continues the program by raising `error` at the `perform` (a host that could
    /// not serve the request).
    pub fn resume_error(&mut self, interp: &mut Interp, error: SxError) -> Outcome {
        match self.machine.take() {
            Some(mut m) if m.is_suspended() => {
                m.resume_raise(error.value, error.span);
                interp.run_machine(m)
            }
            _ => Outcome::Error(SxError::new(
                "resume: this continuation was already resumed (continuations are one-shot)",
                None,
            )),
        }
    }

    /// Whether this continuation can still be resumed.
    pub fn is_live(&self) -> bool {
        self.machine.is_some()
    }
}

/// A shared in-memory output sink (what tests use to capture `println`).
#[derive(Clone, Default)]
pub struct OutputBuffer(pub Rc<RefCell<Vec<u8>>>);

impl OutputBuffer {
    /// Everything written so far, as text.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }

    /// Empties the buffer and returns what it held.
    pub fn take(&self) -> String {
        let s = self.contents();
        self.0.borrow_mut().clear();
        s
    }
}

impl Write for OutputBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The interpreter: globals, macros and the output sink. Programs are loaded into
/// it and run on the CEK machine.
pub struct Interp {
    globals: Vec<Option<Value>>,
    macros: HashMap<Sym, Value>,
    pub(crate) out: Box<dyn Write>,
    pub(crate) gensym: u64,
    /// Most continuation frames before a call raises `recursion depth exceeded`.
    pub max_depth: usize,
    /// When set, how many more function calls may run before evaluation raises
    /// `step limit reached` (for sandboxes and fuzzing).
    pub fuel: Option<u64>,
    /// Set from outside (a signal handler, a timer, another thread), this stops
    /// evaluation: the next function call on any tier raises [`INTERRUPTED`], which
    /// no `guard` catches while the flag is set. The host clears it. Read where the
    /// fuel is, so it costs a load per call.
    pub interrupt: Arc<AtomicBool>,
    /// How the limits' errors tell the user to raise them.
    pub limit_hints: LimitHints,
    /// Which tier runs each function (and the record of what it decided).
    pub policy: crate::tiering::TierPolicy,
    /// Count of non-idempotent effects so far (writes, output, assignments): a
    /// faulting call is re-run on the CEK only if this has not moved since it began.
    pub effects: u64,
    /// Answers `perform` requests without suspending, when set and it answers; when
    /// unset every `perform` suspends to the host (`--suspend-everywhere`).
    pub perform_handler: Option<PerformHandler>,
    /// When set, the VM appends a line per executed instruction.
    pub(crate) trace: Option<Vec<String>>,
    /// State that host crates attach to the interpreter (e.g. the Datalog bridge's
    /// databases), one value per type.
    pub extensions: HashMap<std::any::TypeId, Box<dyn std::any::Any>>,
    /// The global names of the VM's inline primitives (`PrimOp as usize` indexes).
    pub(crate) inline_syms: [Sym; 14],
    /// The VM's inline primitives themselves (`PrimOp as usize` indexes).
    pub(crate) inline_prims: [&'static crate::prims::Prim; 14],
    /// Bit `op` is set while the global `inline_syms[op]` is `inline_prims[op]`
    /// (kept by `set_global`): the VM's fused instructions check one bit.
    pub(crate) inline_intact: u16,
    /// Frames that hold closures over themselves, reclaimed when garbage.
    pub cycles: crate::cycles::CycleCollector,
}

impl Default for Interp {
    fn default() -> Self {
        Interp::new()
    }
}

impl Interp {
    /// An interpreter with every primitive defined, printing to stdout.
    pub fn new() -> Interp {
        Interp::with_output(Box::new(std::io::stdout()))
    }

    /// An interpreter printing to `out`.
    pub fn with_output(out: Box<dyn Write>) -> Interp {
        let mut i = Interp {
            globals: Vec::new(),
            macros: HashMap::new(),
            out,
            gensym: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            fuel: None,
            interrupt: Arc::new(AtomicBool::new(false)),
            limit_hints: LimitHints::default(),
            policy: crate::tiering::TierPolicy::default(),
            effects: 0,
            perform_handler: None,
            trace: None,
            extensions: HashMap::new(),
            inline_syms: crate::vm::chunk::PrimOp::ALL.map(|op| Sym::new(op.name())),
            inline_prims: crate::vm::chunk::PrimOp::ALL
                .map(|op| crate::prims::lookup(op.name()).expect("inline primitives exist")),
            inline_intact: 0,
            cycles: crate::cycles::CycleCollector::default(),
        };
        for p in crate::prims::all() {
            i.set_global(Sym::new(p.name), Value::Prim(p));
        }
        i
    }

    /// The value of global `sym`, if defined.
    #[inline(always)]
    pub fn global_value(&self, sym: Sym) -> Option<Value> {
        self.globals.get(sym.index()).and_then(|v| v.clone())
    }

    /// The value of global `sym` by reference, if defined.
    #[inline(always)]
    pub(crate) fn global_value_ref(&self, sym: Sym) -> Option<&Value> {
        self.globals.get(sym.index()).and_then(|v| v.as_ref())
    }

    /// The value of the global named `name`, if defined.
    pub fn global(&self, name: &str) -> Option<Value> {
        self.global_value(Sym::new(name))
    }

    /// The names of every defined global (primitives included), in no particular
    /// order.
    pub fn global_names(&self) -> Vec<String> {
        self.globals
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .map(|(i, _)| Sym(i as u32).name().to_string())
            .collect()
    }

    /// Defines (or redefines) a global.
    pub fn set_global(&mut self, sym: Sym, v: Value) {
        let i = sym.index();
        if i >= self.globals.len() {
            self.globals.resize(i + 1, None);
        }
        if let Some(op) = self.inline_syms.iter().position(|s| *s == sym) {
            let bit = 1u16 << op;
            match &v {
                Value::Prim(p) if std::ptr::eq(*p, self.inline_prims[op]) => {
                    self.inline_intact |= bit
                }
                _ => self.inline_intact &= !bit,
            }
        }
        self.globals[i] = Some(v);
    }

    /// The checks every function call makes on entry, on every tier: the fuel limit
    /// (one unit per call) and the recursion depth (`depth` continuation frames now).
    /// An interrupt comes first, and takes no fuel.
    #[inline]
    pub(crate) fn enter_call(&mut self, depth: usize) -> Result<(), String> {
        if self.interrupted() {
            return Err(INTERRUPTED.into());
        }
        if let Some(fuel) = &mut self.fuel {
            if *fuel == 0 {
                return Err(self.fuel_message());
            }
            *fuel -= 1;
        }
        if depth >= self.max_depth {
            return Err(self.depth_message());
        }
        Ok(())
    }

    /// Whether the host has asked evaluation to stop ([`Interp::interrupt`]).
    #[inline(always)]
    pub fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    #[cold]
    fn fuel_message(&self) -> String {
        match &self.limit_hints.fuel {
            Some(hint) => format!("step limit reached ({hint})"),
            None => "step limit reached".into(),
        }
    }

    #[cold]
    fn depth_message(&self) -> String {
        let hint = match &self.limit_hints.max_depth {
            Some(hint) => format!("; {hint}"),
            None => String::new(),
        };
        format!(
            "recursion depth exceeded (limit {} frames{hint})",
            self.max_depth
        )
    }

    /// Selects a tier for everything: `Cek` is JIT mode `off`, `Vm` is `eager`.
    pub fn set_tier(&mut self, tier: Tier) {
        self.policy.set_mode(match tier {
            Tier::Cek => crate::tiering::JitMode::Off,
            Tier::Vm => crate::tiering::JitMode::Eager,
        });
    }

    /// Whether calls of the function `info` run on the VM.
    #[inline(always)]
    pub(crate) fn runs_on_vm(&mut self, info: &crate::ast::LambdaInfo) -> bool {
        if self.policy.mode() == crate::tiering::JitMode::Off {
            return false;
        }
        self.policy.runs_on_vm(&info.policy_name, &info.jit)
    }

    /// The function's bytecode, compiling it on first use; `None` when it does not
    /// compile: the call runs on the CEK and the function is demoted for good.
    #[inline]
    pub(crate) fn chunk_for(
        &mut self,
        info: &crate::ast::LambdaInfo,
    ) -> Option<Rc<crate::vm::Chunk>> {
        if let Some(Ok(c)) = info.chunk.get() {
            return Some(c.clone());
        }
        let name = info.display_name();
        let inject = self.policy.inject_faults.contains(&*name);
        let fail = self
            .policy
            .inject_faults
            .contains(&format!("{name}:compile"));
        let compiled = info.chunk.get_or_init(|| {
            if fail {
                return Err(crate::vm::CompileError {
                    function: name.to_string(),
                    message: "injected compile failure".into(),
                });
            }
            let mut chunk = crate::vm::compile_lambda(info)?;
            if inject {
                crate::vm::fault::corrupt(&mut chunk)?;
            }
            Ok(Rc::new(chunk))
        });
        match compiled {
            Ok(c) => {
                self.policy.record_compiled(&info.display_name());
                Some(c.clone())
            }
            Err(e) => {
                tracing::warn!(function = %e.function, error = %e.message, "bytecode compile failed; the function runs on the CEK");
                info.jit.fail();
                self.policy
                    .record_compile_failure(&info.display_name(), &e.message);
                None
            }
        }
    }

    /// The extension of type `T`, created with `T::default()` on first use.
    pub fn extension<T: Default + 'static>(&mut self) -> &mut T {
        self.extensions
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("extensions are keyed by their type")
    }

    /// Defines the global `name`.
    pub fn define(&mut self, name: &str, v: Value) {
        self.set_global(Sym::new(name), v);
    }

    pub(crate) fn macro_named(&self, sym: Sym) -> Option<Value> {
        self.macros.get(&sym).cloned()
    }

    pub(crate) fn define_macro(&mut self, sym: Sym, f: Value) {
        self.macros.insert(sym, f);
    }

    /// Flushes the output sink.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Reads `src` and starts running it as a program (top-level forms in order,
    /// each analysed after the previous one ran). Returns how it stopped.
    pub fn run_source(&mut self, src: &str, file: &str) -> Outcome {
        match read_all(src, file) {
            Ok(forms) => self.run_machine(Box::new(Machine::for_forms(forms))),
            Err(e) => Outcome::Error(e.into()),
        }
    }

    /// Starts running `forms` (already read) as a program, like
    /// [`run_source`](Self::run_source) after reading.
    pub fn run_forms(&mut self, forms: Vec<crate::reader::Form>) -> Outcome {
        self.run_machine(Box::new(Machine::for_forms(forms)))
    }

    /// Starts applying `f` to `args` (a host calling into SX).
    pub fn call(&mut self, f: &Value, args: Vec<Value>) -> Outcome {
        let span = Span::new(Rc::from("<host>"), 0, 0);
        self.run_machine(Box::new(Machine::for_call(f.clone(), args, &span)))
    }

    pub(crate) fn run_machine(&mut self, mut m: Box<Machine>) -> Outcome {
        // The run counts its effects on its own counter (see `Machine::effects`);
        // what it adds shows in the enclosing count too (a nested run inside a call).
        let enclosing = self.effects;
        self.effects = m.effects;
        let stop = m.run(self);
        let added = self.effects - m.effects;
        m.effects = self.effects;
        self.effects = enclosing + added;
        match stop {
            Stop::Done(v) => Outcome::Done(v),
            Stop::Error(e) => Outcome::Error(e),
            Stop::Perform(req) => Outcome::Perform(req, Suspended { machine: Some(m) }),
        }
    }

    /// Runs `f` on `args` to completion inside analysis (macro expansion); a
    /// `perform` there is an error.
    pub(crate) fn call_nested(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        span: &Span,
    ) -> Result<Value, SxError> {
        let m = Box::new(Machine::for_call(f.clone(), args, span));
        self.finish_nested(m, span)
    }

    /// Evaluates an analysed node to completion inside analysis.
    pub(crate) fn eval_node_nested(
        &mut self,
        node: Node,
        frame_size: u32,
        span: &Span,
    ) -> Result<Value, SxError> {
        self.finish_nested(Box::new(Machine::for_node(node, frame_size)), span)
    }

    fn finish_nested(&mut self, m: Box<Machine>, span: &Span) -> Result<Value, SxError> {
        match self.run_machine(m) {
            Outcome::Done(v) => Ok(v),
            Outcome::Error(e) => Err(e),
            Outcome::Perform(..) => Err(SxError::new(
                "perform is not allowed during macro expansion",
                Some(span.clone()),
            )),
        }
    }

    /// Analyses one expression (for tools): the node and its top-level frame size.
    pub fn analyze(&mut self, src: &str, file: &str) -> Result<(Node, u32), SxError> {
        let form = crate::reader::read_one(src, file)?;
        let top = Analyzer::new(self)
            .toplevel(&form)
            .map_err(|e| SxError::new(e.message, Some(e.span)))?;
        Ok((top.node, top.frame_size))
    }
}
