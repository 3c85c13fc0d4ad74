//! The bytecode compiler: one pass over the analysed tree of a function.

use std::rc::Rc;

use thiserror::Error;

use super::chunk::{Chunk, Instr, LoopKind, PrimOp};
use super::verify::verify;
use crate::ast::*;
use crate::span::Span;
use crate::value::Value;

/// A function that could not be compiled, or whose bytecode failed verification.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{function}: {message}")]
pub struct CompileError {
    /// The function's name.
    pub function: String,
    /// What is wrong.
    pub message: String,
}

/// Compiles a function.
pub fn compile_lambda(info: &LambdaInfo) -> Result<Chunk, CompileError> {
    let name = info.display_name();
    let mut c = Compiler::new(
        name,
        info.nparams,
        info.rest,
        info.frame_size,
        &info.body,
        &info.span,
    );
    c.expr(&info.body, true);
    c.emit(Instr::Return);
    c.finish()
}

/// Compiles a top-level form whose frame has `frame_size` slots.
pub fn compile_toplevel(node: &Node, frame_size: u32, span: &Span) -> Result<Chunk, CompileError> {
    let mut c = Compiler::new(Rc::from("<top>"), 0, false, frame_size, node, span);
    c.expr(node, true);
    c.emit(Instr::Return);
    c.finish()
}

struct Compiler {
    chunk: Chunk,
    span: u32,
    /// The frames of the callbacks being inlined, as (first slot, size) in this
    /// chunk's frame, innermost last (see [`Compiler::inline_loop`]). A variable
    /// `depth` functions out of the innermost inlined callback is one of their
    /// slots while `depth` is below this length; the next depth is this chunk's
    /// own frame.
    levels: Vec<(u32, u32)>,
    /// The stack slot of an inlined `reduce` callback's accumulator whose only read
    /// moves it (see `Compiler::inline_loop`).
    move_slot: Option<u32>,
}

/// Where a variable of the analysed tree lives in the chunk being compiled.
enum Place {
    /// A slot of this chunk's frame.
    Slot(u32),
    /// A stack slot of an inlined callback (see `Chunk::inline_slots`).
    Inline(u32),
    /// A slot of an enclosing function's frame, `depth` functions out.
    Outer(u32, u32),
}

impl Compiler {
    fn new(
        name: Rc<str>,
        nparams: u32,
        rest: bool,
        frame_size: u32,
        body: &Node,
        span: &Span,
    ) -> Compiler {
        Compiler {
            chunk: Chunk {
                name,
                nparams,
                rest,
                frame_size,
                heap_frame: makes_closures(body),
                code: Vec::new(),
                consts: Vec::new(),
                lambdas: Vec::new(),
                lines: Vec::new(),
                spans: vec![span.clone()],
                max_stack: 0,
                mutates_params: false,
                inline_slots: 0,
                copied_frames: Vec::new(),
            },
            span: 0,
            levels: Vec::new(),
            move_slot: None,
        }
    }

    /// Where slot `idx` of the frame `depth` functions out (as the analysed tree
    /// counts them) lives.
    fn place(&self, depth: u32, idx: u32) -> Place {
        let n = self.levels.len() as u32;
        if depth < n {
            Place::Inline(self.levels[(n - 1 - depth) as usize].0 + idx)
        } else if depth == n {
            Place::Slot(idx)
        } else {
            Place::Outer(depth - n, idx)
        }
    }

    fn finish(mut self) -> Result<Chunk, CompileError> {
        self.thread_jumps();
        let nslots = self.chunk.nparams + u32::from(self.chunk.rest);
        self.chunk.mutates_params = self.chunk.code.iter().any(|i| match i {
            Instr::StoreLocal(s) => !self.chunk.heap_frame && *s < nslots,
            Instr::StoreEnv(s) => *s < nslots,
            _ => false,
        });
        self.chunk.max_stack = verify(&self.chunk).map_err(|message| CompileError {
            function: self.chunk.name.to_string(),
            message,
        })?;
        Ok(self.chunk)
    }

    /// A jump to a `Return` becomes that `Return`, and a jump to a jump goes
    /// straight to the final target (the stack height is the same at both ends, so
    /// the effect is the same).
    fn thread_jumps(&mut self) {
        let code = &mut self.chunk.code;
        for pc in 0..code.len() {
            if let Instr::Jump(mut t) = code[pc] {
                let mut hops = 0;
                while let Instr::Jump(u) = code[t as usize] {
                    if hops == 8 || u == t {
                        break;
                    }
                    t = u;
                    hops += 1;
                }
                code[pc] = match code[t as usize] {
                    Instr::Return => Instr::Return,
                    _ => Instr::Jump(t),
                };
            }
        }
    }

    fn emit(&mut self, i: Instr) -> usize {
        self.chunk.code.push(i);
        self.chunk.lines.push(self.span);
        self.chunk.code.len() - 1
    }

    fn here(&self) -> u32 {
        self.chunk.code.len() as u32
    }

    fn patch(&mut self, at: usize) {
        let target = self.here();
        match &mut self.chunk.code[at] {
            Instr::Jump(t)
            | Instr::JumpIfFalse(t)
            | Instr::JumpIfTrue(t)
            | Instr::JumpIfFalseKeep(t)
            | Instr::JumpIfTrueKeep(t)
            | Instr::PushGuard(t, _) => *t = target,
            other => unreachable!("patching a non-jump {other:?}"),
        }
    }

    fn at_span(&mut self, span: &Span) -> u32 {
        let saved = self.span;
        if self.chunk.spans.last() != Some(span) {
            self.chunk.spans.push(span.clone());
        }
        self.span = self.chunk.spans.len() as u32 - 1;
        saved
    }

    fn constant(&mut self, v: Value) -> u32 {
        self.chunk.consts.push(v);
        self.chunk.consts.len() as u32 - 1
    }

    fn push_value(&mut self, v: &Value) {
        match v {
            Value::Nil => self.emit(Instr::Nil),
            Value::Bool(true) => self.emit(Instr::True),
            Value::Bool(false) => self.emit(Instr::False),
            other => {
                let k = self.constant(other.clone());
                self.emit(Instr::Const(k))
            }
        };
    }

    fn load(&mut self, depth: u32, idx: u32) {
        match self.place(depth, idx) {
            Place::Slot(i) => self.load_slot(i),
            Place::Inline(i) if self.move_slot == Some(i) => {
                self.emit(Instr::MoveLocal(i));
            }
            Place::Inline(i) => {
                self.emit(Instr::LoadLocal(i));
            }
            Place::Outer(d, i) => {
                self.emit(Instr::LoadOuter(d, i));
            }
        }
    }

    fn load_slot(&mut self, idx: u32) {
        if self.chunk.heap_frame {
            self.emit(Instr::LoadEnv(idx));
        } else {
            self.emit(Instr::LoadLocal(idx));
        }
    }

    fn store_slot(&mut self, depth: u32, idx: u32) {
        match self.place(depth, idx) {
            Place::Slot(i) if self.chunk.heap_frame => self.emit(Instr::StoreEnv(i)),
            Place::Slot(i) | Place::Inline(i) => self.emit(Instr::StoreLocal(i)),
            Place::Outer(d, i) => self.emit(Instr::StoreOuter(d, i)),
        };
    }

    /// The stack slot `node` reads, when it reads one.
    fn stack_slot(&self, node: &Node) -> Option<u32> {
        let (depth, idx) = match node {
            Node::Local(i) => (0, *i),
            Node::Outer(d, i) => (*d, *i),
            _ => return None,
        };
        match self.place(depth, idx) {
            Place::Inline(i) => Some(i),
            Place::Slot(i) if !self.chunk.heap_frame => Some(i),
            _ => None,
        }
    }

    /// Compiles `node`, leaving its value on the stack. `tail`: the value is the
    /// function's result, so a call may replace the activation.
    fn expr(&mut self, node: &Node, tail: bool) {
        match node {
            Node::Const(v) => self.push_value(v),
            Node::Local(i) => self.load(0, *i),
            Node::Outer(d, i) => self.load(*d, *i),
            Node::Global(g) => {
                let saved = self.at_span(&g.span);
                self.emit(Instr::LoadGlobal(g.sym));
                self.span = saved;
            }
            Node::SetLocal(s) => {
                self.expr(&s.value, false);
                self.store_slot(s.depth, s.idx);
                self.emit(Instr::Nil);
            }
            Node::SetGlobal(s) => {
                self.expr(&s.value, false);
                let saved = self.at_span(&s.span);
                self.emit(if s.define {
                    Instr::DefineGlobal(s.sym)
                } else {
                    Instr::SetGlobal(s.sym)
                });
                self.span = saved;
                self.emit(Instr::Nil);
            }
            Node::If(i) => {
                self.expr(&i.test, false);
                let to_else = self.emit(Instr::JumpIfFalse(0));
                self.expr(&i.then, tail);
                let to_end = self.emit(Instr::Jump(0));
                self.patch(to_else);
                self.expr(&i.els, tail);
                self.patch(to_end);
            }
            Node::Seq(items) => {
                let (last, init) = items.split_last().expect("a sequence has items");
                for item in init {
                    self.effect(item);
                }
                self.expr(last, tail);
            }
            Node::Lambda(info) => self.closure(info),
            Node::Call(c) => self.call(c, tail),
            Node::And(items) | Node::Or(items) => {
                let is_and = matches!(node, Node::And(_));
                let (last, init) = items.split_last().expect("and/or has operands");
                let mut exits = Vec::new();
                for item in init {
                    self.expr(item, false);
                    exits.push(self.emit(if is_and {
                        Instr::JumpIfFalseKeep(0)
                    } else {
                        Instr::JumpIfTrueKeep(0)
                    }));
                }
                self.expr(last, tail);
                for e in exits {
                    self.patch(e);
                }
            }
            Node::Case(c) => {
                self.expr(&c.key, false);
                let mut to_bodies = Vec::new();
                for (datums, _) in &c.clauses {
                    let mut jumps = Vec::new();
                    for d in datums {
                        let k = self.constant(d.clone());
                        self.emit(Instr::Match(k));
                        jumps.push(self.emit(Instr::JumpIfTrue(0)));
                    }
                    to_bodies.push(jumps);
                }
                self.emit(Instr::Pop);
                self.expr(&c.default, tail);
                let mut to_end = vec![self.emit(Instr::Jump(0))];
                for ((_, body), jumps) in c.clauses.iter().zip(to_bodies) {
                    for j in jumps {
                        self.patch(j);
                    }
                    self.emit(Instr::Pop);
                    self.expr(body, tail);
                    to_end.push(self.emit(Instr::Jump(0)));
                }
                for j in to_end {
                    self.patch(j);
                }
            }
            Node::Guard(g) => {
                let push = self.emit(Instr::PushGuard(0, g.slot));
                self.expr(&g.body, false);
                self.emit(Instr::PopGuard);
                let to_end = self.emit(Instr::Jump(0));
                self.patch(push);
                self.expr(&g.handler, tail);
                self.patch(to_end);
            }
            Node::Reraise(slot) => {
                self.load_slot(*slot);
                self.load_slot(*slot + 1);
                self.emit(Instr::Reraise);
            }
            Node::Perform(p) => {
                self.expr(&p.request, false);
                let saved = self.at_span(&p.span);
                self.emit(Instr::Perform);
                self.span = saved;
            }
            Node::BuildList(parts) => {
                let splices = parts.iter().any(|p| matches!(p, QuasiPart::Splice(..)));
                for part in parts.iter() {
                    match part {
                        QuasiPart::Item(n) => {
                            self.expr(n, false);
                            if splices {
                                self.emit(Instr::List(1));
                            }
                        }
                        QuasiPart::Splice(n, span) => {
                            self.expr(n, false);
                            let saved = self.at_span(span);
                            self.emit(Instr::CheckSplice);
                            self.span = saved;
                        }
                    }
                }
                let n = parts.len() as u32;
                self.emit(if splices {
                    Instr::Concat(n)
                } else {
                    Instr::List(n)
                });
            }
            Node::BuildDict(items) => {
                for item in items.iter() {
                    self.expr(item, false);
                }
                self.emit(Instr::Dict(items.len() as u32 / 2));
            }
        }
    }

    /// Compiles `node` for its effect only.
    fn effect(&mut self, node: &Node) {
        match node {
            Node::SetLocal(s) => {
                self.expr(&s.value, false);
                self.store_slot(s.depth, s.idx);
            }
            Node::Const(_) | Node::Local(_) | Node::Lambda(_) => {}
            _ => {
                self.expr(node, false);
                self.emit(Instr::Pop);
            }
        }
    }

    fn call(&mut self, c: &Call, tail: bool) {
        let saved = self.at_span(&c.span);
        let inline = self
            .chunk
            .heap_frame
            .then(|| inline_loop(c, self.levels.len() as u32));
        if let Some((kind, info)) = inline.flatten() {
            self.inline_loop(c, kind, info, tail);
            self.span = saved;
            return;
        }
        if let Node::Global(g) = &c.f {
            // The operator is still loaded first (as the CEK does), so the inline
            // op runs the primitive only if that is what the name held then.
            if let Some(op) = g.sym.with_name(|n| PrimOp::for_call(n, c.args.len())) {
                if let Some(fused) = self.fused(op, &c.args) {
                    self.emit(fused);
                    self.span = saved;
                    return;
                }
                self.expr(&c.f, false);
                for a in c.args.iter() {
                    self.expr(a, false);
                }
                self.emit(Instr::Prim(op, c.args.len() as u32));
                self.span = saved;
                return;
            }
        }
        self.expr(&c.f, false);
        for a in c.args.iter() {
            self.expr(a, false);
        }
        let n = c.args.len() as u32;
        self.emit(if tail {
            Instr::TailCall(n)
        } else {
            Instr::Call(n)
        });
        self.span = saved;
    }
}

impl Compiler {
    /// Compiles `(map (fn (x) body) xs)` (and `filter`, `for-each`, `some`,
    /// `every?`, `reduce`) as a loop running `body` in this activation, with the
    /// callback's slots appended to this frame: no call and return per element.
    ///
    /// The operator is loaded first and the list evaluated, as for any call; the
    /// loop runs only if the operator is still the primitive and the list a list,
    /// else the callback is made a closure and the call made as written (which
    /// raises what the primitive raises). Each element takes the fuel and depth
    /// check a call of the callback would. This function's frame is on the heap
    /// (the code makes a closure, the fallback's), so both paths share its
    /// variables; the callback's slots are stack slots (nothing captures them).
    fn inline_loop(&mut self, c: &Call, kind: LoopKind, info: &Rc<LambdaInfo>, tail: bool) {
        self.expr(&c.f, false);
        for a in &c.args[1..] {
            self.expr(a, false);
        }
        let slot = self.chunk.inline_slots;
        self.chunk.inline_slots += info.frame_size;
        let start = self.emit(Instr::LoopStart(kind, slot, 0));
        let to_fallback = self.emit(Instr::Jump(0));
        let body = self.here();
        self.levels.push((slot, info.frame_size));
        let inner = self.at_span(&info.span);
        // `reduce`'s accumulator read once (and not in a nested loop, which would
        // read it again) is moved, not copied, out of its slot: the loop overwrites
        // the slot before the next read, and a dict or list the accumulator alone
        // holds can then grow in place (`(assoc acc k v)`, `(append acc …)`).
        let saved_move = self.move_slot;
        self.move_slot = (kind == LoopKind::Reduce && reads_once(&info.body, 0, 0)).then_some(slot);
        self.expr(&info.body, false);
        self.move_slot = saved_move;
        self.span = inner;
        self.levels.pop();
        self.emit(Instr::LoopStep(kind, slot, body));
        let end = self.emit(Instr::LoopEnd(kind));
        if let Instr::LoopStart(_, _, e) = &mut self.chunk.code[start] {
            *e = end as u32;
        }
        let to_done = self.emit(Instr::Jump(0));
        self.patch(to_fallback);
        self.closure(info);
        self.emit(Instr::Rot(c.args.len() as u32 - 1));
        let n = c.args.len() as u32;
        self.emit(if tail {
            Instr::TailCall(n)
        } else {
            Instr::Call(n)
        });
        self.patch(to_done);
    }

    /// Makes a closure of `info`. Inside inlined callbacks (only a loop's
    /// fallback makes one there) it gets frames of its own holding copies of
    /// theirs: the frames a real call of each callback would have made. Copies
    /// are exact because inlined code never writes a callback's variable after
    /// code that sees it has run (only `let` initialises them: see `body_ok`).
    fn closure(&mut self, info: &Rc<LambdaInfo>) {
        self.chunk.lambdas.push(info.clone());
        let k = self.chunk.lambdas.len() as u32 - 1;
        if self.levels.is_empty() {
            self.emit(Instr::Closure(k));
        } else {
            self.chunk.copied_frames.push(self.levels.clone().into());
            let j = self.chunk.copied_frames.len() as u32 - 1;
            self.emit(Instr::ClosureIn(k, j));
        }
    }

    /// A fused instruction for an inline binary primitive on stack slots and
    /// constants, when the operands allow it.
    fn fused(&mut self, op: PrimOp, args: &[Node]) -> Option<Instr> {
        let [a, b] = args else {
            return None;
        };
        let a = self.stack_slot(a)?;
        if let Node::Const(v) = b {
            if let Value::Int(i) = v {
                if let Some(fused) = i32::try_from(*i)
                    .ok()
                    .and_then(|i| Instr::with_slot_int(op, a, i))
                {
                    return Some(fused);
                }
            }
            let k = self.constant(v.clone());
            return Some(Instr::PrimLC(op, a, k));
        }
        Some(Instr::PrimLL(op, a, self.stack_slot(b)?))
    }
}

/// The loop a call compiles to, when it is a higher-order primitive (by name)
/// given a literal callback whose body can run inline (see `body_ok`), with
/// exact arity and no rest parameter. `nest`: how many inlined callbacks the call
/// is in.
fn inline_loop(c: &Call, nest: u32) -> Option<(LoopKind, &Rc<LambdaInfo>)> {
    let Node::Global(g) = &c.f else {
        return None;
    };
    let kind = g.sym.with_name(|n| LoopKind::for_call(n, c.args.len()))?;
    let Node::Lambda(info) = &c.args[0] else {
        return None;
    };
    if info.nparams != kind.arity() || info.rest || !body_ok(&info.body, nest + 1) {
        return None;
    }
    Some((kind, info))
}

/// Whether `node` (at `depth` functions inside the callback) reads slot `idx` of
/// the callback's frame exactly once, outside nested loops, and never assigns it.
fn reads_once(node: &Node, depth: u32, idx: u32) -> bool {
    fn count(node: &Node, depth: u32, idx: u32, in_loop: bool, n: &mut u32) {
        let visit = |child: &Node, n: &mut u32| count(child, depth, idx, in_loop, n);
        match node {
            Node::Local(i) if depth == 0 && *i == idx => *n += if in_loop { 2 } else { 1 },
            Node::Outer(d, i) if *d == depth && *i == idx => *n += if in_loop { 2 } else { 1 },
            Node::Const(_)
            | Node::Local(_)
            | Node::Outer(..)
            | Node::Global(_)
            | Node::Reraise(_) => {}
            Node::SetLocal(st) => {
                if st.depth == depth && st.idx == idx {
                    *n += 2;
                }
                visit(&st.value, n);
            }
            Node::SetGlobal(st) => visit(&st.value, n),
            Node::If(i) => {
                // One branch runs: the reads along the busier one count.
                visit(&i.test, n);
                let (mut a, mut b) = (0, 0);
                visit(&i.then, &mut a);
                visit(&i.els, &mut b);
                *n += a.max(b);
            }
            Node::Seq(items) | Node::And(items) | Node::Or(items) | Node::BuildDict(items) => {
                items.iter().for_each(|i| visit(i, n))
            }
            Node::Call(c) => {
                visit(&c.f, n);
                for a in c.args.iter() {
                    match a {
                        // A callback body runs once per element: any read there
                        // would read the moved slot again.
                        Node::Lambda(info) => count(&info.body, depth + 1, idx, true, n),
                        other => visit(other, n),
                    }
                }
            }
            Node::Lambda(info) => count(&info.body, depth + 1, idx, true, n),
            Node::Case(c) => {
                visit(&c.key, n);
                let mut most = 0;
                for body in c.clauses.iter().map(|(_, b)| b).chain([&c.default]) {
                    let mut k = 0;
                    visit(body, &mut k);
                    most = most.max(k);
                }
                *n += most;
            }
            Node::Guard(g) => {
                visit(&g.body, n);
                visit(&g.handler, n);
            }
            Node::Perform(p) => visit(&p.request, n),
            Node::BuildList(parts) => parts.iter().for_each(|p| match p {
                QuasiPart::Item(x) | QuasiPart::Splice(x, _) => visit(x, n),
            }),
        }
    }
    let mut n = 0;
    count(node, depth, idx, false, &mut n);
    n == 1
}

/// Whether `node`, inside `nest` inlined callbacks, lets them share one set of
/// slots for all elements: it makes no closure (except callbacks inlined in
/// turn), so nothing captures their slots; and it assigns their variables only
/// by `let` (never `set!`, internal `define` or `letrec`), so every slot is
/// written before it is read within an element, and a loop fallback's closure
/// may hold copies (see `Compiler::closure`).
fn body_ok(node: &Node, nest: u32) -> bool {
    let ok = |n: &Node| body_ok(n, nest);
    match node {
        Node::Lambda(_) => false,
        Node::Const(_) | Node::Local(_) | Node::Outer(..) | Node::Global(_) | Node::Reraise(_) => {
            true
        }
        Node::SetLocal(s) => (s.init || s.depth >= nest) && ok(&s.value),
        Node::SetGlobal(s) => ok(&s.value),
        Node::If(i) => ok(&i.test) && ok(&i.then) && ok(&i.els),
        Node::Seq(items) | Node::And(items) | Node::Or(items) | Node::BuildDict(items) => {
            items.iter().all(ok)
        }
        Node::Call(c) => match inline_loop(c, nest) {
            Some(_) => c.args[1..].iter().all(ok),
            None => ok(&c.f) && c.args.iter().all(ok),
        },
        Node::Case(c) => ok(&c.key) && ok(&c.default) && c.clauses.iter().all(|(_, b)| ok(b)),
        // A guard's slots would be stack slots its handler cannot address.
        Node::Guard(_) => false,
        Node::Perform(p) => ok(&p.request),
        Node::BuildList(parts) => parts.iter().all(|p| match p {
            QuasiPart::Item(n) | QuasiPart::Splice(n, _) => ok(n),
        }),
    }
}

/// Whether `node` makes closures (which capture the activation's frame, so the
/// frame must live on the heap).
fn makes_closures(node: &Node) -> bool {
    match node {
        Node::Lambda(_) => true,
        Node::Const(_) | Node::Local(_) | Node::Outer(..) | Node::Global(_) | Node::Reraise(_) => {
            false
        }
        Node::SetLocal(s) => makes_closures(&s.value),
        Node::SetGlobal(s) => makes_closures(&s.value),
        Node::If(i) => makes_closures(&i.test) || makes_closures(&i.then) || makes_closures(&i.els),
        Node::Seq(items) | Node::And(items) | Node::Or(items) | Node::BuildDict(items) => {
            items.iter().any(makes_closures)
        }
        Node::Call(c) => makes_closures(&c.f) || c.args.iter().any(makes_closures),
        Node::Case(c) => {
            makes_closures(&c.key)
                || makes_closures(&c.default)
                || c.clauses.iter().any(|(_, b)| makes_closures(b))
        }
        Node::Guard(g) => makes_closures(&g.body) || makes_closures(&g.handler),
        Node::Perform(p) => makes_closures(&p.request),
        Node::BuildList(parts) => parts.iter().any(|p| match p {
            QuasiPart::Item(n) | QuasiPart::Splice(n, _) => makes_closures(n),
        }),
    }
}
