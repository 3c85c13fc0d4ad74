//! Static facts about compiled code used by tools: the stack height before each
//! instruction, and which global a call's callee was loaded from.

use super::chunk::{Chunk, Instr};

/// The operand stack height before each instruction (None where unreachable).
pub fn stack_heights(chunk: &Chunk) -> Vec<Option<u32>> {
    let mut h = vec![None; chunk.code.len()];
    let mut work = vec![(0usize, 0u32)];
    while let Some((pc, height)) = work.pop() {
        if pc >= chunk.code.len() || h[pc].is_some() {
            continue;
        }
        h[pc] = Some(height);
        let (pops, pushes, next, jump): (u32, u32, bool, Option<u32>) = match chunk.code[pc] {
            Instr::Const(_)
            | Instr::Nil
            | Instr::True
            | Instr::False
            | Instr::LoadLocal(_)
            | Instr::MoveLocal(_)
            | Instr::LoadEnv(_)
            | Instr::LoadOuter(..)
            | Instr::LoadGlobal(_)
            | Instr::Closure(_) => (0, 1, true, None),
            Instr::Match(_)
            | Instr::PrimLC(..)
            | Instr::PrimLL(..)
            | Instr::AddI(..)
            | Instr::SubI(..)
            | Instr::LtI(..)
            | Instr::GtI(..)
            | Instr::LeI(..)
            | Instr::GeI(..)
            | Instr::EqI(..) => (0, 1, true, None),
            Instr::StoreLocal(_)
            | Instr::StoreEnv(_)
            | Instr::StoreOuter(..)
            | Instr::DefineGlobal(_)
            | Instr::SetGlobal(_)
            | Instr::Pop => (1, 0, true, None),
            Instr::Jump(t) => (0, 0, false, Some(t)),
            Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) => (1, 0, true, Some(t)),
            Instr::JumpIfFalseKeep(t) | Instr::JumpIfTrueKeep(t) => {
                work.push((t as usize, height));
                (1, 0, true, None)
            }
            Instr::Call(n) | Instr::Prim(_, n) => (n + 1, 1, true, None),
            Instr::TailCall(_) | Instr::Return | Instr::Raise | Instr::Reraise => {
                (0, 0, false, None)
            }
            Instr::Perform | Instr::CheckSplice | Instr::PopGuard => (0, 0, true, None),
            Instr::List(n) | Instr::Concat(n) => (n, 1, true, None),
            Instr::Dict(n) => (2 * n, 1, true, None),
            Instr::PushGuard(t, _) => (0, 0, true, Some(t)),
            Instr::ClosureIn(..) => (0, 1, true, None),
            Instr::Rot(_) => (0, 0, true, None),
            Instr::LoopStart(kind, _, end) => {
                // Into the loop: `f [init] xs` becomes `f xs index acc`.
                let ready = height + 4 - (kind.arity() + 1);
                work.push((end as usize, ready));
                work.push((pc + 2, ready));
                (0, 0, true, None)
            }
            Instr::LoopStep(_, _, body) => (1, 0, true, Some(body)),
            Instr::LoopEnd(_) => (4, 1, true, None),
        };
        let after = (height + pushes).saturating_sub(pops);
        if let Some(t) = jump {
            let at_target = if matches!(chunk.code[pc], Instr::PushGuard(..)) {
                height
            } else {
                after
            };
            work.push((t as usize, at_target));
        }
        if next {
            work.push((pc + 1, after));
        }
    }
    h
}

/// The global a call's callee was loaded from, when the instruction that pushed it
/// is a `LoadGlobal` (found as the last instruction before the call that took the
/// stack from the callee's height to one above it).
pub fn callee_global(
    chunk: &Chunk,
    heights: &[Option<u32>],
    pc: usize,
    argc: u32,
) -> Option<String> {
    let h = heights[pc]?;
    let target = h.checked_sub(argc + 1)?;
    (0..pc).rev().find_map(|i| {
        let before = heights[i]?;
        let after = heights.get(i + 1).copied().flatten()?;
        if before == target && after == target + 1 {
            Some(match chunk.code[i] {
                Instr::LoadGlobal(s) => Some(s.name().to_string()),
                _ => None,
            })
        } else {
            None
        }
    })?
}
