//! The bytecode verifier: run on every chunk before it executes.
//!
//! Checks every jump lands inside the code, every constant, closure and slot index
//! exists, the operand stack never underflows and has one height wherever paths
//! meet, guards are balanced, and control never falls off the end. Returns the
//! deepest stack height.

use super::chunk::{Chunk, Instr};

/// Verifies `chunk`; returns its maximum operand stack height, or what is wrong.
pub fn verify(chunk: &Chunk) -> Result<u32, String> {
    let n = chunk.code.len();
    if n == 0 {
        return Err("empty code".into());
    }
    // (stack height, guard depth) at each instruction, once reached.
    let mut state: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut work = vec![(0usize, 0u32, 0u32)];
    let mut max = 0u32;
    let slot_ok = |i: u32| i < chunk.frame_size;
    // Slots on the operand stack: the frame's, or the inlined callbacks' when the
    // frame is on the heap.
    let stack_slots = if chunk.heap_frame {
        chunk.inline_slots
    } else {
        chunk.frame_size
    };
    let stack_slot_ok = |i: u32| i < stack_slots;
    while let Some((pc, h, g)) = work.pop() {
        if pc >= n {
            return Err(format!("control runs off the end of the code (to {pc})"));
        }
        match state[pc] {
            Some(s) if s == (h, g) => continue,
            Some((h0, g0)) => {
                return Err(format!(
                    "at {pc}: paths meet with stack heights {h0} and {h} (guards {g0} and {g})"
                ))
            }
            None => state[pc] = Some((h, g)),
        }
        max = max.max(h);
        let need = |k: u32| -> Result<(), String> {
            if h < k {
                Err(format!(
                    "at {pc}: stack underflow ({:?} needs {k}, height {h})",
                    chunk.code[pc]
                ))
            } else {
                Ok(())
            }
        };
        let target = |t: u32| -> Result<usize, String> {
            if (t as usize) < n {
                Ok(t as usize)
            } else {
                Err(format!(
                    "at {pc}: jump to {t} is outside the code (length {n})"
                ))
            }
        };
        let instr = chunk.code[pc];
        match instr {
            Instr::Const(k) | Instr::Match(k) => {
                if k as usize >= chunk.consts.len() {
                    return Err(format!("at {pc}: unknown constant {k}"));
                }
                if let Instr::Match(_) = instr {
                    need(1)?;
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::Nil | Instr::True | Instr::False | Instr::LoadGlobal(_) => {
                work.push((pc + 1, h + 1, g))
            }
            Instr::LoadLocal(i)
            | Instr::MoveLocal(i)
            | Instr::LoadEnv(i)
            | Instr::StoreLocal(i)
            | Instr::StoreEnv(i) => {
                let on_heap = matches!(instr, Instr::LoadEnv(_) | Instr::StoreEnv(_));
                if on_heap && !chunk.heap_frame {
                    return Err(format!(
                        "at {pc}: {instr:?} does not match where this frame keeps its slots"
                    ));
                }
                let (ok, size) = if on_heap {
                    (slot_ok(i), chunk.frame_size)
                } else {
                    (stack_slot_ok(i), stack_slots)
                };
                if !ok {
                    return Err(format!("at {pc}: slot {i} is outside the frame ({size})"));
                }
                if matches!(instr, Instr::StoreLocal(_) | Instr::StoreEnv(_)) {
                    need(1)?;
                    work.push((pc + 1, h - 1, g));
                } else {
                    work.push((pc + 1, h + 1, g));
                }
            }
            Instr::LoadOuter(d, _) => {
                if d == 0 {
                    return Err(format!("at {pc}: outer access at depth 0"));
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::StoreOuter(d, _) => {
                need(1)?;
                if d == 0 {
                    return Err(format!("at {pc}: outer access at depth 0"));
                }
                work.push((pc + 1, h - 1, g));
            }
            Instr::DefineGlobal(_) | Instr::SetGlobal(_) | Instr::Pop => {
                need(1)?;
                work.push((pc + 1, h - 1, g));
            }
            Instr::Jump(t) => work.push((target(t)?, h, g)),
            Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) => {
                need(1)?;
                work.push((target(t)?, h - 1, g));
                work.push((pc + 1, h - 1, g));
            }
            Instr::JumpIfFalseKeep(t) | Instr::JumpIfTrueKeep(t) => {
                need(1)?;
                work.push((target(t)?, h, g));
                work.push((pc + 1, h - 1, g));
            }
            Instr::Closure(k) => {
                if k as usize >= chunk.lambdas.len() {
                    return Err(format!("at {pc}: unknown function {k}"));
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::Call(a) => {
                need(a + 1)?;
                work.push((pc + 1, h - a, g));
            }
            Instr::TailCall(a) => {
                need(a + 1)?;
                if g != 0 {
                    return Err(format!("at {pc}: tail call inside a guard"));
                }
            }
            Instr::Prim(_, a) => {
                need(a + 1)?;
                work.push((pc + 1, h - a, g));
            }
            Instr::List(a) | Instr::Concat(a) => {
                need(a)?;
                work.push((pc + 1, h + 1 - a, g));
            }
            Instr::Dict(a) => {
                need(2 * a)?;
                work.push((pc + 1, h + 1 - 2 * a, g));
            }
            Instr::AddI(slot, _)
            | Instr::SubI(slot, _)
            | Instr::LtI(slot, _)
            | Instr::GtI(slot, _)
            | Instr::LeI(slot, _)
            | Instr::GeI(slot, _)
            | Instr::EqI(slot, _) => {
                if !stack_slot_ok(slot) {
                    return Err(format!(
                        "at {pc}: {instr:?} names a slot that does not exist"
                    ));
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::PrimLC(_, slot, k) | Instr::PrimLL(_, slot, k) => {
                let k_ok = match instr {
                    Instr::PrimLC(..) => (k as usize) < chunk.consts.len(),
                    _ => stack_slot_ok(k),
                };
                if !stack_slot_ok(slot) || !k_ok {
                    return Err(format!(
                        "at {pc}: {instr:?} names a slot or constant that does not exist"
                    ));
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::Return => {
                need(1)?;
                if g != 0 {
                    return Err(format!("at {pc}: return inside a guard"));
                }
            }
            Instr::Raise => need(1)?,
            Instr::Reraise => need(2)?,
            Instr::Perform | Instr::CheckSplice => {
                need(1)?;
                work.push((pc + 1, h, g));
            }
            Instr::PushGuard(t, slot) => {
                if !slot_ok(slot) {
                    return Err(format!("at {pc}: guard slot {slot} is outside the frame"));
                }
                work.push((target(t)?, h, g));
                work.push((pc + 1, h, g + 1));
            }
            Instr::ClosureIn(k, j) => {
                let frames_ok = chunk
                    .copied_frames
                    .get(j as usize)
                    .is_some_and(|fs| fs.iter().all(|&(at, size)| at + size <= stack_slots));
                if k as usize >= chunk.lambdas.len() || !frames_ok || !chunk.heap_frame {
                    return Err(format!(
                        "at {pc}: {instr:?} names a function or frames that do not exist"
                    ));
                }
                work.push((pc + 1, h + 1, g));
            }
            Instr::Rot(a) => {
                need(a + 1)?;
                work.push((pc + 1, h, g));
            }
            Instr::LoopStart(kind, slot, end) => {
                let operands = kind.arity() + 1;
                need(operands)?;
                if slot + kind.arity() > stack_slots {
                    return Err(format!("at {pc}: loop slot {slot} is outside the frame"));
                }
                let ready = h + 4 - operands;
                work.push((pc + 1, h, g));
                work.push((target(end)?, ready, g));
                work.push((target(pc as u32 + 2)?, ready, g));
            }
            Instr::LoopStep(kind, slot, body) => {
                need(5)?;
                if slot + kind.arity() > stack_slots {
                    return Err(format!("at {pc}: loop slot {slot} is outside the frame"));
                }
                work.push((target(body)?, h - 1, g));
                work.push((pc + 1, h - 1, g));
            }
            Instr::LoopEnd(_) => {
                need(4)?;
                work.push((pc + 1, h - 3, g));
            }
            Instr::PopGuard => {
                if g == 0 {
                    return Err(format!("at {pc}: guard removed that was never installed"));
                }
                work.push((pc + 1, h, g - 1));
            }
        }
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;
    use std::rc::Rc;

    fn chunk(code: Vec<Instr>, consts: usize) -> Chunk {
        Chunk {
            name: Rc::from("f"),
            nparams: 0,
            rest: false,
            frame_size: 1,
            heap_frame: false,
            lines: vec![0; code.len()],
            code,
            consts: vec![crate::value::Value::Nil; consts],
            lambdas: vec![],
            spans: vec![Span::new(Rc::from("t"), 1, 1)],
            max_stack: 0,
            mutates_params: false,
            inline_slots: 0,
            copied_frames: Vec::new(),
        }
    }

    #[test]
    fn accepts_balanced_code_and_reports_its_depth() {
        let c = chunk(
            vec![
                Instr::Const(0),
                Instr::Const(0),
                Instr::List(2),
                Instr::Return,
            ],
            1,
        );
        assert_eq!(verify(&c), Ok(2));
    }

    #[test]
    fn rejects_bad_jumps_underflow_unknown_constants_and_falling_off() {
        let bad_jump = chunk(vec![Instr::Jump(9), Instr::Nil, Instr::Return], 0);
        assert!(verify(&bad_jump).unwrap_err().contains("outside the code"));
        let underflow = chunk(vec![Instr::Pop, Instr::Nil, Instr::Return], 0);
        assert!(verify(&underflow).unwrap_err().contains("underflow"));
        let unknown = chunk(vec![Instr::Const(3), Instr::Return], 1);
        assert!(verify(&unknown).unwrap_err().contains("unknown constant 3"));
        let falls_off = chunk(vec![Instr::Nil], 0);
        assert!(verify(&falls_off).unwrap_err().contains("off the end"));
        let mismatch = chunk(
            vec![
                Instr::True,
                Instr::JumpIfFalse(3),
                Instr::Nil,
                Instr::Nil,
                Instr::Return,
            ],
            0,
        );
        assert!(verify(&mismatch).unwrap_err().contains("paths meet"));
        let slot = chunk(vec![Instr::LoadLocal(5), Instr::Return], 0);
        assert!(verify(&slot).unwrap_err().contains("outside the frame"));
        let int_slot = chunk(vec![Instr::SubI(5, 1), Instr::Return], 0);
        assert!(verify(&int_slot)
            .unwrap_err()
            .contains("SubI(5, 1) names a slot that does not exist"));
    }
}
