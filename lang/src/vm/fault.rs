//! Fault injection: deliberately miscompiled bytecode, so that the tiering layer's
//! recovery can be tested end to end.
//!
//! The corruption is the classic one: a call to a primitive gets the wrong argument
//! count. An extra `nil` operand is pushed and the call's count raised by one, so the
//! stack stays balanced (the verifier accepts it) but the primitive receives one
//! argument too many and raises an error the CEK never would.

use super::chunk::{Chunk, Instr};
use super::shape::{callee_global, stack_heights};
use super::verify::verify;
use super::CompileError;

/// Corrupts the first call of a fixed-arity primitive in `chunk` (one that an
/// extra argument makes fail); returns whether anything was corrupted. The corrupted
/// chunk is verified again like any other: if it fails, so does the compile (nothing
/// unverified ever runs).
pub fn corrupt(chunk: &mut Chunk) -> Result<bool, CompileError> {
    let heights = stack_heights(chunk);
    let fixed = |name: &str| crate::prims::lookup(name).is_some_and(|p| p.max.is_some());
    let target = chunk.code.iter().enumerate().position(|(pc, i)| match *i {
        Instr::Prim(op, _) => fixed(op.name()),
        Instr::Call(n) | Instr::TailCall(n) => {
            callee_global(chunk, &heights, pc, n).is_some_and(|g| fixed(&g))
        }
        Instr::LoopStart(..) => true,
        _ => false,
    });
    let Some(mut at) = target else {
        return Ok(false);
    };
    if let Instr::LoopStart(..) = chunk.code[at] {
        // A loop: it always takes its fallback (the call as written, by the jump
        // after it: closure, rotate, call), and that call is corrupted.
        let Instr::Jump(fallback) = chunk.code[at + 1] else {
            unreachable!("a loop's start is followed by the jump to its fallback")
        };
        chunk.code[at] = Instr::Jump(at as u32 + 1);
        at = fallback as usize + 2;
    }
    let corrupted = match chunk.code[at] {
        Instr::Prim(_, n) | Instr::Call(n) => Instr::Call(n + 1),
        Instr::TailCall(n) => Instr::TailCall(n + 1),
        _ => unreachable!("found above"),
    };
    // Insert `Nil` before the call and shift every jump target past it.
    for i in chunk.code.iter_mut() {
        if let Instr::Jump(t)
        | Instr::JumpIfFalse(t)
        | Instr::JumpIfTrue(t)
        | Instr::JumpIfFalseKeep(t)
        | Instr::JumpIfTrueKeep(t)
        | Instr::PushGuard(t, _)
        | Instr::LoopStart(_, _, t)
        | Instr::LoopStep(_, _, t) = i
        {
            if *t as usize >= at {
                *t += 1;
            }
        }
    }
    chunk.code[at] = corrupted;
    chunk.code.insert(at, Instr::Nil);
    let line = chunk.lines[at];
    chunk.lines.insert(at, line);
    chunk.max_stack = verify(chunk).map_err(|message| CompileError {
        function: chunk.name.to_string(),
        message: format!("after fault injection: {message}"),
    })?;
    tracing::info!(function = %chunk.name, at, "injected a fault: wrong primitive argument count");
    Ok(true)
}
