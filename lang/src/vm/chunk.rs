//! Compiled functions: instructions, constants, and the line table.

use std::rc::Rc;

use crate::ast::LambdaInfo;
use crate::span::Span;
use crate::symbol::Sym;
use crate::value::Value;

/// One VM instruction. Operands are indexes (constants, slots) or absolute jump
/// targets. Stack effects are listed as `before -> after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    /// `-> constants[k]`
    Const(u32),
    /// `-> nil`
    Nil,
    /// `-> true`
    True,
    /// `-> false`
    False,
    /// `-> stack[base + i]` (a slot kept on the operand stack)
    LoadLocal(u32),
    /// `v ->` stores into stack slot `i`
    StoreLocal(u32),
    /// `-> stack[base + i]`, leaving nil in the slot (its last read: a value the
    /// slot alone held stays unshared, so a primitive may grow it in place)
    MoveLocal(u32),
    /// `-> env[i]` (a slot of this activation's heap frame)
    LoadEnv(u32),
    /// `v ->` stores into heap slot `i`
    StoreEnv(u32),
    /// `-> slot i of the frame `depth` functions out`
    LoadOuter(u32, u32),
    /// `v ->` stores into an outer frame's slot
    StoreOuter(u32, u32),
    /// `-> global` (error when undefined)
    LoadGlobal(Sym),
    /// `v ->` defines a global
    DefineGlobal(Sym),
    /// `v ->` assigns an existing global (error when undefined)
    SetGlobal(Sym),
    /// `v ->`
    Pop,
    /// Jump to an absolute instruction index.
    Jump(u32),
    /// `v ->`, jump when v is falsy.
    JumpIfFalse(u32),
    /// `v ->`, jump when v is truthy.
    JumpIfTrue(u32),
    /// `v -> v` and jump when falsy; else `v ->` (for `and`).
    JumpIfFalseKeep(u32),
    /// `v -> v` and jump when truthy; else `v ->` (for `or`).
    JumpIfTrueKeep(u32),
    /// `-> closure over lambdas[k]`
    Closure(u32),
    /// `f a1 … an -> result`
    Call(u32),
    /// `f a1 … an ->` and this activation is replaced by the call.
    TailCall(u32),
    /// Inline primitive: `f a1 … an -> result`. When `f` (the operator, loaded like
    /// any other) is that primitive, runs it in place; otherwise calls `f`.
    Prim(PrimOp, u32),
    /// `-> result`: the inline primitive on a stack slot and a constant, fused from
    /// `LoadGlobal op; LoadLocal slot; Const k; Prim op 2` (nothing can run between
    /// those, so reading the global here is the same as reading it first).
    PrimLC(PrimOp, u32, u32),
    /// `-> result`: the inline primitive on two stack slots (fused likewise).
    PrimLL(PrimOp, u32, u32),
    /// `-> stack[base + slot] + int`: `PrimLC` for `+` with an int constant that fits
    /// in the instruction. The operator is the instruction's own (no branch on it)
    /// and the constant needs no load from the pool or check of its kind.
    AddI(u32, i32),
    /// `-> stack[base + slot] - int` (see `AddI`).
    SubI(u32, i32),
    /// `-> stack[base + slot] < int` (see `AddI`).
    LtI(u32, i32),
    /// `-> stack[base + slot] > int` (see `AddI`).
    GtI(u32, i32),
    /// `-> stack[base + slot] <= int` (see `AddI`).
    LeI(u32, i32),
    /// `-> stack[base + slot] >= int` (see `AddI`).
    GeI(u32, i32),
    /// `-> stack[base + slot] = int` (see `AddI`).
    EqI(u32, i32),
    /// `v ->` returns from this activation.
    Return,
    /// `request -> answer`: suspends to the host.
    Perform,
    /// `x1 … xn -> (x1 … xn)`
    List(u32),
    /// `l1 … ln -> (concatenation)`; each must be a list (or nil).
    Concat(u32),
    /// `v -> v`, raising unless v is a list or nil (`unquote-splicing`).
    CheckSplice,
    /// `k1 v1 … kn vn -> {k1 v1 …}`
    Dict(u32),
    /// `key -> key bool`: whether key equals `constants[k]` (for `case`).
    Match(u32),
    /// Installs a handler at instruction `handler` that stores the raised value in
    /// slot `slot` (a stack slot unless the function keeps its frame on the heap).
    PushGuard(u32, u32),
    /// Removes the innermost handler (the guarded body finished normally).
    PopGuard,
    /// `v ->` raises v.
    Raise,
    /// `v site ->` raises v at the position `site` records (a guard's re-raise).
    Reraise,
    /// `… v -> v …`: moves the top value `n` places down (under the `n` below it).
    Rot(u32),
    /// The start of a higher-order call compiled as a loop (`(map (fn (x) …) xs)`
    /// with the callback's body inlined). Stack `f [init] xs`: when `f` is the
    /// loop's primitive and `xs` a list (or nil), becomes the loop state
    /// `f xs index acc`; then jumps to `end` when there is no element, else binds
    /// the first element to the callback's parameter slots (stack slots from
    /// `slot`) and goes on
    /// at the body (two instructions on). Otherwise nothing changes and the next
    /// instruction (a jump to the ordinary call) runs.
    LoopStart(LoopKind, u32, u32),
    /// `f xs index acc v -> f xs index acc`: the body's value for the current
    /// element is taken (collected, tested or made the accumulator); then the next
    /// element is bound (from `slot`) and control jumps back to `body`, or, after
    /// the last element or an early answer, goes on to the `LoopEnd` below.
    LoopStep(LoopKind, u32, u32),
    /// `f xs index acc -> result`.
    LoopEnd(LoopKind),
    /// `-> closure over lambdas[k]` made inside inlined callbacks: its enclosing
    /// frames are copies of their slots (`copied_frames[j]`, outermost first)
    /// among this activation's stack slots.
    ClosureIn(u32, u32),
}

impl Instr {
    /// For the instructions on a slot and an int they hold (`AddI` … `EqI`): the
    /// primitive, the slot and the int.
    pub fn slot_int(self) -> Option<(PrimOp, u32, i32)> {
        let (op, slot, int) = match self {
            Instr::AddI(a, k) => (PrimOp::Add, a, k),
            Instr::SubI(a, k) => (PrimOp::Sub, a, k),
            Instr::LtI(a, k) => (PrimOp::Lt, a, k),
            Instr::GtI(a, k) => (PrimOp::Gt, a, k),
            Instr::LeI(a, k) => (PrimOp::Le, a, k),
            Instr::GeI(a, k) => (PrimOp::Ge, a, k),
            Instr::EqI(a, k) => (PrimOp::Eq, a, k),
            _ => return None,
        };
        Some((op, slot, int))
    }

    /// For the instructions that run an inline primitive (`Prim`, `PrimLC`,
    /// `PrimLL`, `AddI` …): the primitive and how many operands it takes.
    pub fn inline_prim(self) -> Option<(PrimOp, u32)> {
        match self {
            Instr::Prim(op, n) => Some((op, n)),
            Instr::PrimLC(op, ..) | Instr::PrimLL(op, ..) => Some((op, 2)),
            other => other.slot_int().map(|(op, ..)| (op, 2)),
        }
    }

    /// The instruction running `op` on a slot and an int it holds, for the
    /// primitives that have one.
    pub fn with_slot_int(op: PrimOp, slot: u32, int: i32) -> Option<Instr> {
        Some(match op {
            PrimOp::Add => Instr::AddI(slot, int),
            PrimOp::Sub => Instr::SubI(slot, int),
            PrimOp::Lt => Instr::LtI(slot, int),
            PrimOp::Gt => Instr::GtI(slot, int),
            PrimOp::Le => Instr::LeI(slot, int),
            PrimOp::Ge => Instr::GeI(slot, int),
            PrimOp::Eq => Instr::EqI(slot, int),
            _ => return None,
        })
    }
}

/// The higher-order primitives the compiler turns into loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LoopKind {
    /// `(map f xs)`
    Map,
    /// `(filter f xs)`
    Filter,
    /// `(for-each f xs)`
    ForEach,
    /// `(some f xs)`
    Some,
    /// `(every? f xs)`
    Every,
    /// `(reduce f init xs)`
    Reduce,
}

impl LoopKind {
    /// The loop for a call of the primitive `name` with `argc` operands.
    pub fn for_call(name: &str, argc: usize) -> Option<LoopKind> {
        Some(match (name, argc) {
            ("map", 2) => LoopKind::Map,
            ("filter", 2) => LoopKind::Filter,
            ("for-each", 2) => LoopKind::ForEach,
            ("some", 2) => LoopKind::Some,
            ("every?", 2) => LoopKind::Every,
            ("reduce", 3) => LoopKind::Reduce,
            _ => return None,
        })
    }

    /// The global name of the loop's primitive.
    pub fn name(self) -> &'static str {
        match self {
            LoopKind::Map => "map",
            LoopKind::Filter => "filter",
            LoopKind::ForEach => "for-each",
            LoopKind::Some => "some",
            LoopKind::Every => "every?",
            LoopKind::Reduce => "reduce",
        }
    }

    /// The higher-order primitive this loop runs.
    pub fn higher(self) -> crate::prims::Higher {
        use crate::prims::Higher;
        match self {
            LoopKind::Map => Higher::Map,
            LoopKind::Filter => Higher::Filter,
            LoopKind::ForEach => Higher::ForEach,
            LoopKind::Some => Higher::Some,
            LoopKind::Every => Higher::Every,
            LoopKind::Reduce => Higher::Reduce,
        }
    }

    /// Parameters of the callback (the accumulator, then the element, for `reduce`).
    pub fn arity(self) -> u32 {
        if self == LoopKind::Reduce {
            2
        } else {
            1
        }
    }
}

/// The primitives the VM runs inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PrimOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `not`
    Not,
    /// `first`
    First,
    /// `rest`
    Rest,
    /// `cons`
    Cons,
    /// `len`
    Len,
    /// `mod`
    Mod,
}

impl PrimOp {
    /// Every inline primitive, in declaration order (`op as usize` indexes it).
    pub const ALL: [PrimOp; 14] = [
        PrimOp::Add,
        PrimOp::Sub,
        PrimOp::Mul,
        PrimOp::Lt,
        PrimOp::Gt,
        PrimOp::Le,
        PrimOp::Ge,
        PrimOp::Eq,
        PrimOp::Not,
        PrimOp::First,
        PrimOp::Rest,
        PrimOp::Cons,
        PrimOp::Len,
        PrimOp::Mod,
    ];

    /// The global name of the primitive.
    pub fn name(self) -> &'static str {
        match self {
            PrimOp::Add => "+",
            PrimOp::Sub => "-",
            PrimOp::Mul => "*",
            PrimOp::Lt => "<",
            PrimOp::Gt => ">",
            PrimOp::Le => "<=",
            PrimOp::Ge => ">=",
            PrimOp::Eq => "=",
            PrimOp::Not => "not",
            PrimOp::First => "first",
            PrimOp::Rest => "rest",
            PrimOp::Cons => "cons",
            PrimOp::Len => "len",
            PrimOp::Mod => "mod",
        }
    }

    /// The inline op for a primitive name called with `argc` operands.
    pub fn for_call(name: &str, argc: usize) -> Option<PrimOp> {
        let op = match (name, argc) {
            ("+", 2) => PrimOp::Add,
            ("-", 2) => PrimOp::Sub,
            ("*", 2) => PrimOp::Mul,
            ("<", 2) => PrimOp::Lt,
            (">", 2) => PrimOp::Gt,
            ("<=", 2) => PrimOp::Le,
            (">=", 2) => PrimOp::Ge,
            ("=", 2) => PrimOp::Eq,
            ("not", 1) => PrimOp::Not,
            ("first", 1) => PrimOp::First,
            ("rest", 1) => PrimOp::Rest,
            ("cons", 2) => PrimOp::Cons,
            ("len", 1) => PrimOp::Len,
            ("mod", 2) => PrimOp::Mod,
            _ => return None,
        };
        Some(op)
    }
}

/// A compiled function (or top-level form).
#[derive(Debug)]
pub struct Chunk {
    /// Name for errors and tools (`fn` when anonymous, `<top>` for a top-level form).
    pub name: Rc<str>,
    /// Required parameters.
    pub nparams: u32,
    /// Whether a rest list follows the parameters.
    pub rest: bool,
    /// Slots in the activation (parameters first).
    pub frame_size: u32,
    /// Whether the slots live in a heap frame (the function makes closures that
    /// capture it) rather than on the operand stack.
    pub heap_frame: bool,
    /// The instructions.
    pub code: Vec<Instr>,
    /// Constants.
    pub consts: Vec<Value>,
    /// Functions made by `Closure`.
    pub lambdas: Vec<Rc<LambdaInfo>>,
    /// The line table: for each instruction, an index into `spans`.
    pub lines: Vec<u32>,
    /// Source positions referred to by `lines`.
    pub spans: Vec<Span>,
    /// Deepest operand stack above the slots (computed by the verifier).
    pub max_stack: u32,
    /// Whether the code assigns a parameter slot (then a faulting call's arguments
    /// cannot be read back from its frame to re-run it).
    pub mutates_params: bool,
    /// Operand-stack slots below the operands of an activation whose frame is on
    /// the heap: the slots of the callbacks inlined as loops (`LoadLocal` and
    /// `StoreLocal` address them in such a chunk). Zero for a stack frame, whose
    /// `frame_size` slots include them.
    pub inline_slots: u32,
    /// For `ClosureIn`: the inlined callbacks' frames, as (first slot, size)
    /// among the stack slots, outermost first.
    pub copied_frames: Vec<Rc<[(u32, u32)]>>,
}

impl Chunk {
    /// The source position of instruction `pc`.
    pub fn span_at(&self, pc: usize) -> &Span {
        &self.spans[self.lines[pc] as usize]
    }
}
