//! The `dl-*` library of SX and its bridge to the Rust Datalog engine.
//!
//! [`install`] gives an interpreter the library: it registers the engine primitives
//! (`dl-engine?`, `dl-engine-new`, `dl-engine-add-fact!`, `dl-engine-add-rule!`,
//! `dl-engine-saturate!`, `dl-engine-query`, `dl-engine-retract!`) and the operations
//! on a program (`dl-add-fact!`, `dl-add-rule!`, `dl-saturate!`, `dl-query`,
//! `dl-retract!`), and makes `bridge/lib/datalog.sx` available, which defines the rest of
//! the public `dl-*` functions and the pure-SX implementation. `(dl-program)` answers
//! an engine handle by default, and a pure-SX program when the tiering policy keeps
//! `dl-*` on the CEK (`(jit-exclude! "dl-*")`) or when asked for one with
//! `(dl-program :sx)`. The operations serve an engine handle themselves and hand a
//! pure-SX program, as a tail call, to its own operations.
//!
//! A handle `{:dl-engine #<native dl-engine>}` holds its database as a native value,
//! so the database is freed with the last reference to the handle. Values cross as
//! [`Datum`]s (ints, strings, symbols, lists); a query crosses back as its matching
//! bindings only, never a whole relation.
#![forbid(missing_docs)]
#![forbid(unsafe_code)]

use datalog::front::sexpr::{id_table_fits, AnswerValue, Datum, SxConst};
use datalog::{CheckError, Database, DatalogError};
use hashbrown::HashMap;
use lang::prims::{Dispatched, Prim, PrimError, PrimImpl};
use lang::value::{Dict, Native, SharedKeys};
use lang::{Interp, Outcome, SxError, Value};
use std::cell::RefMut;

pub mod relations;

/// The SX source of the `dl-*` library.
pub const LIBRARY: &str = include_str!("../lib/datalog.sx");

/// The file name the library's positions are reported against.
pub const LIBRARY_FILE: &str = "bridge/lib/datalog.sx";

/// The kind name of the native value that holds a database.
const NATIVE_KIND: &str = "dl-engine";

/// Registers the engine primitives and makes the `dl-*` library available in
/// `interp`: every public name of the library (those without a `/`) starts as a small
/// stub that loads the library on first use and then calls the real function, so a
/// host that never uses Datalog does not pay for reading and running the library. The
/// internal `dl-sx/*` functions exist once the library is loaded.
///
/// The library performs nothing while it loads; a `perform` there is reported as an
/// error rather than answered, so a host that serves requests in place (the `sx`
/// host) and one that suspends see the same thing. A global the program defined
/// before the first use keeps the program's value.
pub fn install(interp: &mut Interp) -> Result<(), SxError> {
    install_primitives(interp);
    interp.define(LOAD_LIBRARY.name, Value::Prim(&LOAD_LIBRARY));
    // Stubs for the public names only: the internal `dl-sx/*` functions are called by
    // the library itself, which is loaded by then (88 stubs cost two thirds of the
    // start-up of every `sx` process; the ten public ones a tenth of that).
    let names: Vec<&String> = library_names()
        .iter()
        .filter(|n| !n.contains('/'))
        .collect();
    let stubs: String = names
        .iter()
        .map(|n| format!("(define ({n} &rest args) (dl--load-library!) (apply {n} args))\n"))
        .collect();
    match interp.run_source(&stubs, "<dl-* stubs>") {
        Outcome::Done(_) => {}
        Outcome::Error(e) => return Err(e),
        Outcome::Perform(..) => unreachable!("the stubs perform nothing while defined"),
    }
    let stub_values = names.iter().filter_map(|n| interp.global(n)).collect();
    interp.extension::<LazyLibrary>().stubs = Some(stub_values);
    Ok(())
}

/// Loads the library now (what the stubs do on first use); a second call does nothing.
pub fn load_library(interp: &mut Interp) -> Result<(), SxError> {
    let Some(stubs) = interp.extension::<LazyLibrary>().stubs.take() else {
        return Ok(());
    };
    // Keep what the program itself defined under a library name.
    let is_stub = |v: &Value| stubs.iter().any(|s| lang::value::equal(s, v));
    let mut keep = Vec::new();
    for name in library_names() {
        if let Some(v) = interp.global(name) {
            if !is_stub(&v) {
                keep.push((name, v));
            }
        }
    }
    match interp.run_source(LIBRARY, LIBRARY_FILE) {
        Outcome::Done(_) => {}
        Outcome::Error(e) => return Err(e),
        Outcome::Perform(..) => {
            return Err(SxError::new(
                "the dl-* library performed a request while loading",
                None,
            ))
        }
    }
    for (name, v) in keep {
        interp.define(name, v);
    }
    Ok(())
}

/// Whether the library still waits for its first use (the stubs are in place).
#[derive(Default)]
struct LazyLibrary {
    stubs: Option<Vec<Value>>,
}

/// Every global the library defines at top level, read from its source once.
fn library_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| scan_library_names(LIBRARY))
}

/// The names of the top-level `define`s, found by a line scan (much cheaper than
/// reading the whole library at every start; a test checks it against the reader).
fn scan_library_names(src: &str) -> Vec<String> {
    src.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("(define ")?;
            let rest = rest.strip_prefix('(').unwrap_or(rest);
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')')
                .unwrap_or(rest.len());
            (end > 0).then(|| rest[..end].to_string())
        })
        .collect()
}

#[cfg(test)]
fn read_library_names() -> Vec<String> {
    let Ok(forms) = lang::reader::read_all(LIBRARY, LIBRARY_FILE) else {
        return Vec::new();
    };
    forms
        .iter()
        .filter_map(|f| {
            let items = f.as_list()?;
            if items.first()?.as_sym()?.name().as_ref() != "define" {
                return None;
            }
            let target = items.get(1)?;
            let sym = target
                .as_sym()
                .or_else(|| target.as_list()?.first()?.as_sym())?;
            Some(sym.name().to_string())
        })
        .collect()
}

static LOAD_LIBRARY: Prim = Prim {
    name: "dl--load-library!",
    min: 0,
    max: Some(0),
    imp: PrimImpl::Interp(|_, interp| {
        load_library(interp).map(|()| Value::Nil).map_err(|e| {
            PrimError::Msg(format!("dl-*: loading the library failed: {}", e.message()))
        })
    }),
    pure: false,
    int2: None,
};

/// Registers only the `dl-engine-*` primitives (without the SX library).
pub fn install_primitives(interp: &mut Interp) {
    for p in PRIMS {
        interp.define(p.name, Value::Prim(p));
    }
    relations::install(interp);
}

macro_rules! engine_prim {
    ($name:expr, $min:expr, $f:expr) => {
        Prim {
            name: $name,
            min: $min,
            max: Some($min),
            imp: PrimImpl::Interp($f),
            pure: false,
            int2: None,
        }
    };
}

/// A public `dl-*` operation: served by the engine for an engine handle (as
/// `dl-engine?` tells one), handed to the program's own operations for a program of
/// the SX library, rejected for anything else.
macro_rules! api_prim {
    ($name:expr, $arity:expr, $op:expr, $engine:expr) => {
        Prim {
            name: $name,
            min: $arity,
            max: Some($arity),
            imp: PrimImpl::Dispatch(|args, interp| dispatch(args, interp, $op, $engine)),
            pure: false,
            int2: None,
        }
    };
}

/// See [`api_prim`].
fn dispatch(
    args: &[Value],
    interp: &mut Interp,
    op: &str,
    engine: fn(&[Value], &mut Interp) -> R,
) -> Result<Dispatched, PrimError> {
    if is_handle(&args[0]) {
        return engine(args, interp).map(Dispatched::Value);
    }
    if let Value::Dict(d) = &args[0] {
        if let Some(ops) = d.get(&Value::keyword("dl-sx")) {
            let arg = args.get(1).cloned().unwrap_or(Value::Nil);
            return Ok(Dispatched::Call(ops.clone(), vec![Value::keyword(op), arg]));
        }
    }
    Err(PrimError::Msg(format!(
        "dl: expected a program made by dl-program, got {}",
        lang::printer::repr(&args[0])
    )))
}

static PRIMS: &[Prim] = &[
    // `(and (dict? db) (has-key? db :dl-engine))`, which the library asks on every call.
    Prim {
        name: "dl-engine?",
        min: 1,
        max: Some(1),
        imp: PrimImpl::Plain(|args, _| Ok(Value::Bool(is_handle(&args[0])))),
        pure: true,
        int2: None,
    },
    api_prim!("dl-add-fact!", 2, "add-fact", engine_add_fact),
    api_prim!("dl-add-rule!", 2, "add-rule", engine_add_rule),
    api_prim!("dl-saturate!", 1, "saturate", engine_saturate),
    api_prim!("dl-query", 2, "query", engine_query),
    api_prim!("dl-retract!", 2, "retract", engine_retract),
    engine_prim!("dl-engine-new", 0, engine_new),
    engine_prim!("dl-engine-add-fact!", 2, engine_add_fact),
    engine_prim!("dl-engine-add-rule!", 2, engine_add_rule),
    engine_prim!("dl-engine-saturate!", 1, engine_saturate),
    engine_prim!("dl-engine-query", 2, engine_query),
    engine_prim!("dl-engine-retract!", 2, engine_retract),
];

type R = Result<Value, PrimError>;

/// What the library takes for an engine handle: a dict with a `:dl-engine` entry
/// (the engine primitives then check the entry itself, see [`database`]).
fn is_handle(v: &Value) -> bool {
    matches!(v, Value::Dict(d) if d.contains_key(&handle_key()))
}

fn handle_key() -> Value {
    thread_local! {
        static KEY: Value = Value::keyword("dl-engine");
    }
    KEY.with(Value::clone)
}

fn engine_new(_: &[Value], _: &mut Interp) -> R {
    let mut d = Dict::default();
    d.insert(
        handle_key(),
        Native::value(NATIVE_KIND, Box::new(Database::new())),
    );
    Ok(Value::dict(d))
}

/// The database behind the handle in `args[0]` (borrowed while the primitive runs;
/// nothing it calls can reach the handle again).
fn database<'a>(name: &str, args: &'a [Value]) -> Result<RefMut<'a, Database>, PrimError> {
    let native = match &args[0] {
        // A handle has one entry, a native database: only `engine_new` makes those.
        Value::Dict(d) if d.len() == 1 => match d.get_index(0) {
            Some((_, Value::Native(n))) if n.kind == NATIVE_KIND => Some(n),
            _ => None,
        },
        _ => None,
    };
    native
        .and_then(|n| n.data.try_borrow_mut().ok())
        .and_then(|b| RefMut::filter_map(b, |b| b.downcast_mut::<Database>()).ok())
        .ok_or_else(|| {
            PrimError::Msg(format!(
                "{name}: expected an engine program made by dl-program, got {}",
                lang::printer::repr(&args[0])
            ))
        })
}

/// Converts an SX value to a datum: ints, strings, symbols and lists of them.
pub fn to_datum(v: &Value) -> Result<Datum, String> {
    Ok(match v {
        Value::Int(n) => Datum::Int(*n),
        Value::Str(s) => Datum::Str(s.to_string()),
        Value::Sym(s) => Datum::Sym(s.name().to_string()),
        Value::List(xs) => Datum::List(
            xs.as_slice()
                .iter()
                .map(to_datum)
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(format!(
                "expected an int, string, symbol or list, got {} {}",
                other.kind(),
                lang::printer::repr(other)
            ))
        }
    })
}

/// Converts a datum back to an SX value.
pub fn from_datum(d: &Datum) -> Value {
    match d {
        Datum::Int(n) => Value::Int(*n),
        Datum::Str(s) => Value::str(s),
        Datum::Sym(s) => Value::sym(s),
        Datum::List(xs) => Value::list(xs.iter().map(from_datum).collect()),
    }
}

fn datum_arg(name: &str, v: &Value) -> Result<Datum, PrimError> {
    to_datum(v).map_err(|e| PrimError::Msg(format!("{name}: {e}")))
}

/// The engine's error as an SX error message (errors of programs built from SX forms
/// carry no position).
fn engine_error(e: DatalogError) -> PrimError {
    PrimError::Msg(e.to_string())
}

fn engine_add_fact(args: &[Value], _: &mut Interp) -> R {
    // The common case, a fact of up to 4 constants, goes straight in, its arguments
    // gathered on the stack (ints and strings borrowed; a symbol's name held while it
    // is borrowed).
    if let Value::List(items) = &args[1] {
        if let Some((Value::Sym(rel), rest)) = items.as_slice().split_first() {
            if rest.len() <= 4 {
                let mut names: [Option<std::rc::Rc<str>>; 4] = Default::default();
                for (slot, v) in names.iter_mut().zip(rest) {
                    if let Value::Sym(s) = v {
                        *slot = Some(s.name());
                    }
                }
                let mut consts = [SxConst::Int(0); 4];
                let mut all = true;
                for ((c, v), name) in consts.iter_mut().zip(rest).zip(&names) {
                    *c = match (v, name) {
                        (Value::Int(n), _) => SxConst::Int(*n),
                        (Value::Str(s), _) => SxConst::Str(s),
                        (Value::Sym(_), Some(name)) => SxConst::Sym(name),
                        _ => {
                            all = false;
                            break;
                        }
                    };
                }
                if all {
                    let mut db = database("dl-add-fact!", args)?;
                    let added =
                        rel.with_name(|rel| db.add_sx_fact_consts(rel, &consts[..rest.len()]));
                    if let Some(new) = added.map_err(engine_error)? {
                        return Ok(Value::Bool(new));
                    }
                }
            }
        }
    }
    let fact = datum_arg("dl-add-fact!", &args[1])?;
    let mut db = database("dl-add-fact!", args)?;
    db.add_sx_fact(&fact).map(Value::Bool).map_err(engine_error)
}

fn engine_retract(args: &[Value], _: &mut Interp) -> R {
    let fact = datum_arg("dl-retract!", &args[1])?;
    let mut db = database("dl-retract!", args)?;
    db.retract_sx_fact(&fact)
        .map(Value::Bool)
        .map_err(engine_error)
}

fn engine_add_rule(args: &[Value], _: &mut Interp) -> R {
    let rule = datum_arg("dl-add-rule!", &args[1])?;
    let mut db = database("dl-add-rule!", args)?;
    db.add_sx_rule(&rule)
        .map(|_| Value::Nil)
        .map_err(|e| match e {
            // Name the rule as the program wrote it (an SX form), as the SX library does,
            // not in the engine's Datalog syntax: every tier raises the same message.
            DatalogError::Check(CheckError::Unsafe { loc, var, .. }) => PrimError::Msg(format!(
                "{loc}unsafe rule: variable `{var}` is not bound by a positive atom in {}",
                lang::printer::repr(&args[1])
            )),
            e => engine_error(e),
        })
}

fn engine_saturate(args: &[Value], _: &mut Interp) -> R {
    let mut db = database("dl-saturate!", args)?;
    db.saturate().map(|_| Value::Nil).map_err(engine_error)
}

fn engine_query(args: &[Value], _: &mut Interp) -> R {
    let pattern = datum_arg("dl-query", &args[1])?;
    let mut db = database("dl-query", args)?;
    let answers = db.query_sx_answers(&pattern).map_err(engine_error)?;
    // Every answer is a dict with the same keys, in the same order: the keys are made
    // once and shared by every answer, which holds only its values; each distinct
    // string or symbol is made once.
    // (More variables than a shaped dict holds: each answer has its own keys.)
    let key_list: Vec<Value> = answers.vars().iter().map(|v| Value::sym(v)).collect();
    let width = key_list.len();
    let shared = SharedKeys::new(key_list.clone());
    let text_columns: Vec<bool> = (0..width).map(|i| answers.is_text(i)).collect();
    // Each distinct string or symbol made once: in a table indexed by its interned
    // id when the ids are few enough (they count up from 0), else in a map.
    let max_id = answers
        .rows()
        .flat_map(|row| row.iter().zip(&text_columns).filter(|c| *c.1).map(|c| *c.0))
        .max()
        .unwrap_or(-1);
    let dense_len = if id_table_fits(max_id, answers.len()) {
        (max_id + 1) as usize
    } else {
        0
    };
    let mut dense: Vec<Option<Value>> = vec![None; dense_len];
    let mut sparse: HashMap<i64, Value> = HashMap::new();
    let mut out = Vec::with_capacity(answers.len());
    for row in answers.rows() {
        let mut val = |i: usize| {
            let raw = row[i];
            if !text_columns[i] {
                return Value::Int(raw);
            }
            let make = || answer_value(answers.value(i, raw));
            match usize::try_from(raw).ok().and_then(|k| dense.get_mut(k)) {
                Some(slot) => slot.get_or_insert_with(make).clone(),
                None => sparse.entry(raw).or_insert_with(make).clone(),
            }
        };
        out.push(Value::Dict(match &shared {
            Some(keys) => Dict::shaped_rc(keys, val),
            None => std::rc::Rc::new((0..width).map(|i| (key_list[i].clone(), val(i))).collect()),
        }));
    }
    Ok(Value::list(out))
}

/// The SX value of one answer value.
fn answer_value(v: AnswerValue<'_>) -> Value {
    match v {
        AnswerValue::Int(n) => Value::Int(n),
        AnswerValue::Str(s) => Value::str(s),
        AnswerValue::Sym(s) => Value::sym(s),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_line_scan_finds_exactly_the_top_level_defines() {
        let scanned = super::scan_library_names(super::LIBRARY);
        assert!(scanned.iter().any(|n| n == "dl-program"), "{scanned:?}");
        assert_eq!(scanned, super::read_library_names());
    }
}
