//! Tools that work on the interpreter itself: tiering rules and statistics, and
//! bytecode inspection (`bytecode-inspect`, `vm-trace`, `prim-check`).

use std::rc::Rc;

use super::{type_error, Prim, PrimError, PrimImpl};
use crate::interp::{Interp, Outcome};
use crate::value::{Dict, Value};
use crate::vm::chunk::{Chunk, Instr};
use crate::vm::shape::{callee_global, stack_heights};

type R = Result<Value, PrimError>;

macro_rules! tool {
    ($name:expr, $min:expr, $max:expr, $f:expr) => {
        Prim {
            name: $name,
            min: $min,
            max: $max,
            imp: PrimImpl::Interp($f),
            pure: false,
            int2: None,
        }
    };
}

pub(super) static PRIMS: &[Prim] = &[
    tool!("jit-exclude!", 0, None, |a, i| rules(
        "jit-exclude!",
        a,
        i,
        false
    )),
    tool!("jit-include!", 0, None, |a, i| rules(
        "jit-include!",
        a,
        i,
        true
    )),
    tool!("jit-stats", 0, Some(1), jit_stats),
    tool!("jit-excluded?", 1, Some(1), |a, i| {
        let [name] = strings("jit-excluded?", "string", a)?[..] else {
            unreachable!("arity checked")
        };
        Ok(Value::Bool(i.policy.is_excluded(name)))
    }),
    tool!("jit-inject-fault!", 1, Some(1), inject_fault),
    tool!("bytecode-inspect", 1, Some(1), bytecode_inspect),
    tool!("vm-trace", 1, Some(1), vm_trace),
    tool!("prim-check", 1, Some(1), prim_check),
];

fn strings<'a>(name: &str, sig: &str, args: &'a [Value]) -> Result<Vec<&'a str>, PrimError> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(&**s),
            _ => Err(type_error(name, sig, args)),
        })
        .collect()
}

fn rules(name: &str, args: &[Value], interp: &mut Interp, include: bool) -> R {
    for p in strings(name, "string...", args)? {
        if include {
            interp.policy.include(p);
        } else {
            interp.policy.exclude(p);
        }
    }
    Ok(Value::Nil)
}

fn kw(name: &str) -> Value {
    Value::keyword(name)
}

fn jit_stats(args: &[Value], interp: &mut Interp) -> R {
    let s = &interp.policy.stats;
    let mut d = Dict::default();
    let mode = match interp.policy.mode() {
        crate::tiering::JitMode::Off => "off".to_string(),
        crate::tiering::JitMode::Hot(n) => format!("hot:{n}"),
        crate::tiering::JitMode::Eager => "eager".to_string(),
    };
    d.insert(kw("mode"), Value::str(&mode));
    for (k, v) in [
        ("compiled", s.compiled),
        ("failed", s.failed),
        ("excluded", s.excluded),
        ("fallbacks", s.fallbacks),
        ("recovered", s.recovered),
    ] {
        d.insert(kw(k), Value::Int(v as i64));
    }
    if args.first().is_some_and(Value::truthy) {
        let mut per = Dict::default();
        for (name, f) in &s.functions {
            let mut e = Dict::default();
            e.insert(kw("compiled"), Value::Bool(f.compiled));
            e.insert(kw("excluded"), Value::Bool(f.excluded));
            e.insert(
                kw("demoted"),
                f.demoted.as_deref().map_or(Value::Nil, Value::str),
            );
            e.insert(kw("fallbacks"), Value::Int(f.fallbacks as i64));
            e.insert(kw("recovered"), Value::Int(f.recovered as i64));
            per.insert(Value::str(name), Value::dict(e));
        }
        d.insert(kw("functions"), Value::dict(per));
    }
    Ok(Value::dict(d))
}

fn inject_fault(args: &[Value], interp: &mut Interp) -> R {
    let [name] = strings("jit-inject-fault!", "string", args)?[..] else {
        unreachable!("arity checked")
    };
    interp.policy.inject_faults.insert(name.to_string());
    Ok(Value::Nil)
}

/// The compiled code of the global function `name` (compiled now if need be).
fn chunk_of(tool: &str, args: &[Value], interp: &mut Interp) -> Result<Rc<Chunk>, PrimError> {
    let [name] = strings(tool, "string", args)?[..] else {
        unreachable!("arity checked")
    };
    match interp.global(name) {
        Some(Value::Lambda(c)) => crate::vm::compile_lambda(&c.info)
            .and_then(|mut chunk| {
                if interp.policy.inject_faults.contains(name) {
                    crate::vm::fault::corrupt(&mut chunk)?;
                }
                Ok(Rc::new(chunk))
            })
            .map_err(|e| PrimError::Msg(format!("{tool}: {e}"))),
        Some(other) => Err(PrimError::Msg(format!(
            "{tool}: {name} is a {}, not a function defined in SX",
            other.kind()
        ))),
        None => Err(PrimError::Msg(format!("{tool}: undefined symbol: {name}"))),
    }
}

fn bytecode_inspect(args: &[Value], interp: &mut Interp) -> R {
    let chunk = chunk_of("bytecode-inspect", args, interp)?;
    let mut d = Dict::default();
    d.insert(kw("name"), Value::str(&chunk.name));
    d.insert(kw("arity"), Value::Int(chunk.nparams as i64));
    d.insert(kw("rest"), Value::Bool(chunk.rest));
    d.insert(kw("locals"), Value::Int(chunk.frame_size as i64));
    d.insert(kw("heap-frame"), Value::Bool(chunk.heap_frame));
    d.insert(kw("max-stack"), Value::Int(chunk.max_stack as i64));
    d.insert(kw("constants"), Value::list(chunk.consts.clone()));
    d.insert(
        kw("code"),
        Value::str(&crate::vm::disasm::disassemble(&chunk)),
    );
    Ok(Value::dict(d))
}

/// Runs `src` on the VM with tracing on; returns the trace, a line per instruction.
fn vm_trace(args: &[Value], interp: &mut Interp) -> R {
    let [src] = strings("vm-trace", "string", args)?[..] else {
        unreachable!("arity checked")
    };
    let saved_mode = interp.policy.mode();
    let saved_trace = interp.trace.replace(Vec::new());
    interp.policy.set_mode(crate::tiering::JitMode::Eager);
    let outcome = interp.run_source(src, "<vm-trace>");
    interp.policy.set_mode(saved_mode);
    let lines = std::mem::replace(&mut interp.trace, saved_trace).unwrap_or_default();
    match outcome {
        Outcome::Done(_) => Ok(Value::str(&(lines.join("\n") + "\n"))),
        Outcome::Error(e) => Err(PrimError::Msg(format!("vm-trace: {}", e.message()))),
        Outcome::Perform(..) => Err(PrimError::Msg(
            "vm-trace: the traced code performed a request with no handler in place".into(),
        )),
    }
}

/// Checks every call of a primitive in the function `name`: the primitive exists
/// and accepts that many arguments. Returns `{:checked N :problems (…)}`.
fn prim_check(args: &[Value], interp: &mut Interp) -> R {
    let chunk = chunk_of("prim-check", args, interp)?;
    let heights = stack_heights(&chunk);
    let mut checked = 0;
    let mut problems = Vec::new();
    for (pc, instr) in chunk.code.iter().enumerate() {
        let inline = instr.inline_prim();
        let (name, argc) = match (*instr, inline) {
            (_, Some((op, n))) => (Some(op.name().to_string()), n),
            (Instr::Call(n) | Instr::TailCall(n), _) => (callee_global(&chunk, &heights, pc, n), n),
            (Instr::LoopStart(kind, ..), _) => (Some(kind.name().to_string()), kind.arity() + 1),
            _ => continue,
        };
        let Some(name) = name else { continue };
        let Some(Value::Prim(p)) = interp.global(&name) else {
            if inline.is_some() {
                problems.push(Value::str(&format!("at {pc}: {name} is not a primitive")));
            }
            continue;
        };
        checked += 1;
        if let Err(m) = p.check_arity(argc as usize) {
            problems.push(Value::str(&format!("at {pc}: {m}")));
        }
    }
    let mut d = Dict::default();
    d.insert(kw("checked"), Value::Int(checked));
    d.insert(kw("problems"), Value::list(problems));
    Ok(Value::dict(d))
}
