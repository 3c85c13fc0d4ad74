//! The analysed program: what the reader's forms become after macro expansion,
//! special-form parsing and lexical addressing. Every evaluator tier consumes this
//! tree: the CEK walks it, the bytecode compiler translates it.
//!
//! Compound nodes sit behind `Rc` so that a continuation frame can hold on to the
//! node it will resume in (cloning a node is one reference-count bump).

use std::rc::Rc;

use crate::span::Span;
use crate::symbol::Sym;
use crate::value::Value;

/// An analysed expression.
#[derive(Clone, Debug)]
pub enum Node {
    /// A constant (also every quoted datum).
    Const(Value),
    /// A slot of the current function's frame.
    Local(u32),
    /// A slot `depth` frames out (depth >= 1).
    Outer(u32, u32),
    /// A global (top-level) variable, looked up when evaluated.
    Global(Rc<GlobalRef>),
    /// Assign a frame slot (`let` bindings, internal `define`, local `set!`).
    SetLocal(Rc<SetLocal>),
    /// Define or assign a global.
    SetGlobal(Rc<SetGlobal>),
    /// `if`, and the expansion of `cond`, `when`, `unless`.
    If(Rc<If>),
    /// A sequence of at least two expressions; the value is the last one's.
    Seq(Rc<[Node]>),
    /// `fn` / `lambda`.
    Lambda(Rc<LambdaInfo>),
    /// A call.
    Call(Rc<Call>),
    /// `and` with at least two operands.
    And(Rc<[Node]>),
    /// `or` with at least two operands.
    Or(Rc<[Node]>),
    /// `case`.
    Case(Rc<Case>),
    /// `guard`.
    Guard(Rc<Guard>),
    /// Re-raise the value in a frame slot (a `guard` whose clauses did not match),
    /// at the position recorded in the next slot.
    Reraise(u32),
    /// `perform`.
    Perform(Rc<Perform>),
    /// A quasiquoted list: each part is an element or a spliced list.
    BuildList(Rc<[QuasiPart]>),
    /// A dict literal: keys and values alternate, all evaluated.
    BuildDict(Rc<[Node]>),
}

/// A global variable reference with the position of its use.
#[derive(Debug)]
pub struct GlobalRef {
    /// The name.
    pub sym: Sym,
    /// Where it is used (for `undefined symbol` errors).
    pub span: Span,
}

/// Assigns `value` to slot `idx` of the frame `depth` levels out.
#[derive(Debug)]
pub struct SetLocal {
    /// Frames out from the current one (0 = current).
    pub depth: u32,
    /// The slot.
    pub idx: u32,
    /// The new value.
    pub value: Node,
    /// A `let` binding's initialisation (the variable is not visible before it);
    /// false for `set!`, internal `define` and `letrec`, which may write a variable
    /// code has already seen.
    pub init: bool,
}

/// Defines (or, for `set!`, assigns an existing) global.
#[derive(Debug)]
pub struct SetGlobal {
    /// The global's name.
    pub sym: Sym,
    /// The value.
    pub value: Node,
    /// `define` (true) or `set!` (false: the global must already exist).
    pub define: bool,
    /// Where.
    pub span: Span,
}

/// `(if test then else)`.
#[derive(Debug)]
pub struct If {
    /// The condition.
    pub test: Node,
    /// Taken when the condition is truthy.
    pub then: Node,
    /// Taken otherwise.
    pub els: Node,
}

/// A function's code: parameters, frame layout and body.
#[derive(Debug)]
pub struct LambdaInfo {
    /// The name from `define` or a `let` binding, if any.
    pub name: Option<Sym>,
    /// Number of required parameters (slots `0..nparams`).
    pub nparams: u32,
    /// Whether a `&rest` list follows in slot `nparams`.
    pub rest: bool,
    /// Total slots: parameters, then every `let`/`define`/`guard` binding in the body.
    pub frame_size: u32,
    /// The body.
    pub body: Node,
    /// Where the `fn` form starts.
    pub span: Span,
    /// The name the tiering policy matches rules against: the function's own name,
    /// else that of the nearest named function around it.
    pub policy_name: Rc<str>,
    /// The tiering policy's state for this function.
    pub jit: crate::tiering::JitState,
    /// The bytecode, compiled the first time the VM runs this function.
    pub chunk: std::cell::OnceCell<Result<Rc<crate::vm::Chunk>, crate::vm::CompileError>>,
}

impl LambdaInfo {
    /// Checks a call's argument count, giving the arity error message (the same on
    /// every tier) when it is wrong.
    #[inline]
    pub fn check_arity(&self, got: usize) -> Result<(), String> {
        let np = self.nparams as usize;
        if got == np || (self.rest && got >= np) {
            return Ok(());
        }
        let max = if self.rest { None } else { Some(np) };
        Err(crate::prims::arity_message(
            &self.display_name(),
            np,
            max,
            got,
        ))
    }

    /// The name used in arity errors: the function's name, or `fn`.
    pub fn display_name(&self) -> Rc<str> {
        match self.name {
            Some(n) => n.name(),
            None => Rc::from("fn"),
        }
    }
}

/// A call `(f args…)`.
#[derive(Debug)]
pub struct Call {
    /// The operator.
    pub f: Node,
    /// The operands.
    pub args: Box<[Node]>,
    /// Every operand is simple (see `analyze::is_simple`), so when the operator is a
    /// pure primitive the call can be evaluated without continuation frames.
    pub simple_args: bool,
    /// Set once the frameless path found a non-primitive operator inside: a hint
    /// (never needed for correctness) to stop trying it.
    pub not_simple: std::cell::Cell<bool>,
    /// Where the call starts (errors raised by the callee point here).
    pub span: Span,
}

/// `(case key ((datum…) body) … (else body))`.
#[derive(Debug)]
pub struct Case {
    /// The key expression.
    pub key: Node,
    /// Datums and the branch taken when the key equals one of them.
    pub clauses: Vec<(Vec<Value>, Node)>,
    /// The `else` branch (nil when absent).
    pub default: Node,
}

/// `(guard (e clause…) body…)`.
#[derive(Debug)]
pub struct Guard {
    /// The frame slot that receives the raised value; the slot after it receives
    /// where it was raised (see [`raise_site`]).
    pub slot: u32,
    /// The protected body.
    pub body: Node,
    /// The clauses, ending in a re-raise when none matches.
    pub handler: Node,
}

/// `(perform request)`.
#[derive(Debug)]
pub struct Perform {
    /// The request expression.
    pub request: Node,
    /// Where.
    pub span: Span,
}

/// One element of a quasiquoted list.
#[derive(Debug, Clone)]
pub enum QuasiPart {
    /// `x` or `,x`: one element.
    Item(Node),
    /// `,@xs`: the elements of a list.
    Splice(Node, Span),
}

/// The value stored beside a caught value: where it was raised, as an error value
/// carrying only the position (so a re-raise reports the original position).
pub fn raise_site(span: Option<Span>) -> Value {
    Value::error("", span)
}

/// The position a [`raise_site`] value records.
pub fn raise_site_span(v: &Value) -> Option<Span> {
    match v {
        Value::Error(e) => e.span.clone(),
        _ => None,
    }
}
