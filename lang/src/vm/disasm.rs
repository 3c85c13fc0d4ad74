//! The disassembler: readable listings of compiled chunks.

use std::fmt::Write;

use super::chunk::{Chunk, Instr};
use crate::printer::repr;

/// One instruction as text, with constants and names resolved.
pub fn instr_text(chunk: &Chunk, i: &Instr) -> String {
    if let Some((op, a, k)) = i.slot_int() {
        return format!("PRIM_LI {} {a} {k}", op.name());
    }
    match i {
        Instr::Const(k) => format!("CONST {k} ; {}", repr(&chunk.consts[*k as usize])),
        Instr::Match(k) => format!("MATCH {k} ; {}", repr(&chunk.consts[*k as usize])),
        Instr::LoadGlobal(s) => format!("LOAD_GLOBAL {s}"),
        Instr::DefineGlobal(s) => format!("DEFINE_GLOBAL {s}"),
        Instr::SetGlobal(s) => format!("SET_GLOBAL {s}"),
        Instr::Closure(k) => format!(
            "CLOSURE {k} ; {}",
            chunk.lambdas[*k as usize].display_name()
        ),
        Instr::Prim(op, n) => format!("PRIM {} {n}", op.name()),
        Instr::PrimLC(op, a, k) => format!(
            "PRIM_LC {} {a} {k} ; {}",
            op.name(),
            repr(&chunk.consts[*k as usize])
        ),
        Instr::PrimLL(op, a, b) => format!("PRIM_LL {} {a} {b}", op.name()),

        other => {
            let s = format!("{other:?}");
            // CamelCase(args) -> SNAKE_CASE args
            let (name, args) = s
                .split_once('(')
                .map_or((s.as_str(), ""), |(n, a)| (n, a.trim_end_matches(')')));
            let mut out = String::new();
            for (j, c) in name.chars().enumerate() {
                if c.is_uppercase() && j > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            if !args.is_empty() {
                out.push(' ');
                out.push_str(&args.replace(", ", " "));
            }
            out
        }
    }
}

/// A full listing: header (arity, slots, constants) and one line per instruction
/// with its source line.
pub fn disassemble(chunk: &Chunk) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} == params {}{} slots {} ({}){} max-stack {} constants {}",
        chunk.name,
        chunk.nparams,
        if chunk.rest { " +rest" } else { "" },
        chunk.frame_size,
        if chunk.heap_frame { "heap" } else { "stack" },
        if chunk.inline_slots > 0 {
            format!(" +{} inlined-callback stack slots", chunk.inline_slots)
        } else {
            String::new()
        },
        chunk.max_stack,
        chunk.consts.len()
    );
    for (k, c) in chunk.consts.iter().enumerate() {
        let _ = writeln!(out, "  const {k}: {}", repr(c));
    }
    let mut last_line = 0;
    for (pc, i) in chunk.code.iter().enumerate() {
        let span = chunk.span_at(pc);
        let line = if span.line != last_line {
            last_line = span.line;
            format!("{:>4}", span.line)
        } else {
            "   |".to_string()
        };
        let _ = writeln!(out, "{pc:>5} {line}  {}", instr_text(chunk, i));
    }
    out
}

/// Listings of every top-level form in `src` and of every function inside them.
/// Forms are analysed one at a time; analysing a `defmacro` defines the macro, so
/// later forms see it. Nothing else runs.
pub fn disassemble_source(src: &str, file: &str) -> Result<String, crate::SxError> {
    let forms = crate::reader::read_all(src, file)?;
    let mut interp = crate::Interp::with_output(Box::new(std::io::sink()));
    let mut out = String::new();
    for form in &forms {
        let top = crate::analyze::Analyzer::new(&mut interp)
            .toplevel(form)
            .map_err(|e| crate::SxError::new(e.message, Some(e.span)))?;
        let chunk = super::compile_toplevel(&top.node, top.frame_size, &form.span)
            .map_err(|e| crate::SxError::new(e.to_string(), Some(form.span.clone())))?;
        let mut pending = vec![std::rc::Rc::new(chunk)];
        while let Some(c) = pending.pop() {
            out.push_str(&disassemble(&c));
            for info in c.lambdas.iter().rev() {
                let inner = super::compile_lambda(info)
                    .map_err(|e| crate::SxError::new(e.to_string(), Some(info.span.clone())))?;
                pending.push(std::rc::Rc::new(inner));
            }
        }
    }
    Ok(out)
}
