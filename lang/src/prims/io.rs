//! `print` and `println`: the only IO a program does without `perform`.

use super::{effect, Prim, PrimCtx, PrimError};
use crate::printer::display;
use crate::value::Value;

pub(super) static PRIMS: &[Prim] = &[
    effect!("print", 0, None, |a, c| write(a, c, false)),
    effect!("println", 0, None, |a, c| write(a, c, true)),
];

fn write(args: &[Value], ctx: &mut PrimCtx, newline: bool) -> Result<Value, PrimError> {
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&display(a));
    }
    if newline {
        line.push('\n');
    }
    *ctx.effects += 1;
    ctx.out
        .write_all(line.as_bytes())
        .map_err(|e| PrimError::Msg(format!("println: cannot write output: {e}")))?;
    Ok(Value::Nil)
}
