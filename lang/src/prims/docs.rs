//! One line of documentation per primitive and special form, and `help`, which
//! shows them: `(help)` lists every name, `(help 'map)` describes one.

use std::io::Write;

use super::{Prim, PrimError, PrimImpl};
use crate::interp::Interp;
use crate::value::Value;

/// `(name, "(usage) what it does")`, by area, in the order `(help)` lists them.
pub static DOCS: &[(&str, &[(&str, &str)])] = &[
    (
        "special forms",
        &[
            ("define", "(define name value) or (define (f args…) body…): a global, or a local in a body"),
            ("fn", "(fn (params… &rest more) body…): a function; `lambda` is the same"),
            ("lambda", "(lambda (params…) body…): a function; `fn` is the same"),
            ("let", "(let ((x 1) (y x)) body…): sequential bindings; (let loop ((i 0)) …) is a named let"),
            ("letrec", "(letrec ((f (fn …)) …) body…): mutually recursive local bindings"),
            ("if", "(if test then [else]): else is nil when absent"),
            ("cond", "(cond (test body…) … (else body…)): the first true test's body"),
            ("case", "(case key ((d1 d2) body…) … (else body…)): datums compared with ="),
            ("when", "(when test body…): body when test is true, else nil"),
            ("unless", "(unless test body…): body when test is false, else nil"),
            ("do", "(do e…): evaluate in order, the value of the last; `begin` is the same"),
            ("and", "(and e…): the first false value, or the last"),
            ("or", "(or e…): the first true value, or nil"),
            ("quote", "(quote x) or 'x: x unevaluated"),
            ("quasiquote", "`(a ,b ,@cs): a template; ,x inserts a value, ,@xs splices a list"),
            ("set!", "(set! name value): assign an existing local or global"),
            ("defmacro", "(defmacro name (params…) body…): a macro (top level only)"),
            ("guard", "(guard (e clause…) body…): catch what body raises; clauses as in cond"),
            ("perform", "(perform request): ask the host (kv-get, kv-put, kv-delete, kv-scan, now)"),
        ],
    ),
    (
        "numbers",
        &[
            ("+", "(+ x…): sum; (+) is 0"),
            ("-", "(- x y…): difference; (- x) negates"),
            ("*", "(* x…): product; (*) is 1"),
            ("/", "(/ x y…): quotient (ints truncate); (/ x) is 1/x"),
            ("mod", "(mod a b): floored remainder, with the sign of b"),
            ("inc", "(inc x): x + 1"),
            ("dec", "(dec x): x - 1"),
            ("abs", "(abs x): absolute value"),
            ("min", "(min x y…): the least"),
            ("max", "(max x y…): the greatest"),
            ("floor", "(floor x): the int at or below x"),
            ("ceil", "(ceil x): the int at or above x"),
            ("round", "(round x): the nearest int, halves away from zero"),
            ("sqrt", "(sqrt x): square root, a float"),
            ("pow", "(pow x y): x to the power y, a float"),
            ("=", "(= a b…): structural equality (1 and 1.0 are equal)"),
            ("!=", "(!= a b…): (not (= a b…))"),
            ("<", "(< a b…): increasing numbers, or strings by bytes"),
            (">", "(> a b…): decreasing"),
            ("<=", "(<= a b…): non-decreasing"),
            (">=", "(>= a b…): non-increasing"),
            ("not", "(not x): true for nil and false"),
            ("even?", "(even? n): whether an int is even"),
            ("odd?", "(odd? n): whether an int is odd"),
            ("zero?", "(zero? x): whether a number is 0"),
        ],
    ),
    (
        "types",
        &[
            ("type-of", "(type-of v): :nil :bool :int :float :string :symbol :keyword :list :dict :fn :error"),
            ("nil?", "(nil? v)"),
            ("bool?", "(bool? v)"),
            ("int?", "(int? v)"),
            ("float?", "(float? v)"),
            ("number?", "(number? v): int or float"),
            ("string?", "(string? v)"),
            ("symbol?", "(symbol? v)"),
            ("keyword?", "(keyword? v)"),
            ("list?", "(list? v)"),
            ("dict?", "(dict? v)"),
            ("fn?", "(fn? v): a lambda or a primitive"),
            ("error?", "(error? v): an error value"),
        ],
    ),
    (
        "lists",
        &[
            ("list", "(list x…): a list of the arguments"),
            ("cons", "(cons x xs): xs with x in front"),
            ("first", "(first xs): the first element, or nil"),
            ("second", "(second xs): the second element, or nil"),
            ("rest", "(rest xs): all but the first"),
            ("last", "(last xs): the last element, or nil"),
            ("nth", "(nth xs i): element i (an error when out of range)"),
            ("len", "(len x): length of a list, string (characters) or dict"),
            ("empty?", "(empty? x): whether a list, string or dict is empty"),
            ("reverse", "(reverse x): a list or string reversed"),
            ("range", "(range end), (range start end [step]): ints, as in Python"),
            ("distinct", "(distinct xs): first occurrences only"),
            ("append", "(append xs…): the lists joined"),
            ("sort", "(sort xs): by the total order of values"),
            ("take", "(take xs n): the first n"),
            ("drop", "(drop xs n): all but the first n"),
            ("slice", "(slice x start [end]): part of a list or string"),
            ("contains?", "(contains? coll x): member of a list, substring, or dict key"),
            ("index-of", "(index-of coll x): position in a list or string, or nil"),
        ],
    ),
    (
        "higher-order (the function comes first)",
        &[
            ("map", "(map f xs): the list of (f x)"),
            ("filter", "(filter f xs): the xs for which (f x) is true"),
            ("reduce", "(reduce f init xs): (f (f init x1) x2) …"),
            ("for-each", "(for-each f xs): calls (f x) for each x; nil"),
            ("some", "(some f xs): the first true (f x), or nil"),
            ("every?", "(every? f xs): whether (f x) is true for every x"),
            ("sort-by", "(sort-by f xs): stable, by the order of (f x)"),
            ("apply", "(apply f args) or (apply f a b args): f called with the arguments"),
        ],
    ),
    (
        "strings, symbols, keywords",
        &[
            ("str", "(str x…): the display forms concatenated"),
            ("upper", "(upper s): upper case"),
            ("lower", "(lower s): lower case"),
            ("trim", "(trim s): without surrounding whitespace"),
            ("split", "(split s sep): the fields between seps"),
            ("join", "(join xs sep): display forms joined by sep"),
            ("starts-with?", "(starts-with? s prefix)"),
            ("ends-with?", "(ends-with? s suffix)"),
            ("parse-int", "(parse-int s): an int, or nil"),
            ("parse-float", "(parse-float s): a float, or nil"),
            ("symbol-name", "(symbol-name sym): its name, a string"),
            ("keyword-name", "(keyword-name kw): its name without the colon"),
            ("string->symbol", "(string->symbol s)"),
            ("string->keyword", "(string->keyword s)"),
            ("gensym", "(gensym [prefix]): a fresh symbol (for macros)"),
        ],
    ),
    (
        "dicts",
        &[
            ("dict", "(dict k v …): a dict of the pairs"),
            ("get", "(get d k [default]): the value under k, or default (nil)"),
            ("assoc", "(assoc d k v …): d with the keys set"),
            ("dissoc", "(dissoc d k…): d without the keys"),
            ("keys", "(keys d): in insertion order"),
            ("vals", "(vals d): in insertion order"),
            ("has-key?", "(has-key? d k)"),
            ("merge", "(merge d…): later values win"),
        ],
    ),
    (
        "errors and output",
        &[
            ("error", "(error msg irritant…): raise an error value"),
            ("raise", "(raise v): raise any value"),
            ("error-message", "(error-message e): an error's message"),
            ("print", "(print x…): write the display forms, space-separated"),
            ("println", "(println x…): print, then a newline"),
            ("help", "(help) lists every name; (help 'name) describes one"),
        ],
    ),
    (
        "web",
        &[
            ("json-parse", "(json-parse s): JSON text to a value (objects are dicts with string keys)"),
            ("json-str", "(json-str v): a value as JSON text (keywords as strings)"),
            ("html-escape", "(html-escape s): s with & < > \" ' as HTML entities"),
            ("url-decode", "(url-decode s): %XX escapes and + decoded"),
            ("query-parse", "(query-parse \"a=1&b=2\"): a dict of the decoded pairs"),
            ("markdown->html", "(markdown->html s): Markdown as HTML; raw HTML is escaped"),
        ],
    ),
    (
        "tools",
        &[
            ("jit-exclude!", "(jit-exclude! \"pattern\"…): keep matching functions on the CEK"),
            ("jit-include!", "(jit-include! \"pattern\"…): let them move to the VM again"),
            ("jit-excluded?", "(jit-excluded? name): whether a function is kept on the CEK"),
            ("jit-stats", "(jit-stats [verbose]): what the tiering policy did"),
            ("jit-inject-fault!", "(jit-inject-fault! name): corrupt a function's bytecode (testing)"),
            ("bytecode-inspect", "(bytecode-inspect f): a function's bytecode, as text"),
            ("vm-trace", "(vm-trace on): trace every VM instruction"),
            ("prim-check", "(prim-check f): how the VM calls primitives in f"),
        ],
    ),
];

/// The documentation line of `name`, if it has one.
pub fn doc(name: &str) -> Option<&'static str> {
    DOCS.iter()
        .flat_map(|(_, entries)| entries.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, d)| *d)
}

pub(super) static PRIMS: &[Prim] = &[Prim {
    name: "help",
    min: 0,
    max: Some(1),
    imp: PrimImpl::Interp(help),
    pure: false,
    int2: None,
}];

/// `(help)`: every documented name by area, and any other global; `(help 'name)`
/// (a symbol, string, or the function itself): its line. Writes to the output
/// sink and returns nil.
fn help(args: &[Value], interp: &mut Interp) -> Result<Value, PrimError> {
    let text = match args.first() {
        None => overview(interp),
        Some(v) => {
            let name = match v {
                Value::Sym(s) => s.name().to_string(),
                Value::Str(s) => s.to_string(),
                Value::Prim(p) => p.name.to_string(),
                Value::Lambda(c) => c.info.display_name().to_string(),
                other => {
                    return Err(super::type_error(
                        "help",
                        "symbol | string | fn",
                        std::slice::from_ref(other),
                    ))
                }
            };
            describe(&name, interp)
        }
    };
    interp.effects += 1;
    interp
        .out
        .write_all(text.as_bytes())
        .map_err(|e| PrimError::Msg(format!("help: cannot write output: {e}")))?;
    Ok(Value::Nil)
}

fn overview(interp: &Interp) -> String {
    let mut out = String::from("(help 'name) describes one of these.\n");
    for (area, entries) in DOCS {
        out.push_str(area);
        out.push_str(":\n ");
        let mut width = 1;
        for (name, _) in entries.iter() {
            if width + name.len() + 1 > 78 {
                out.push_str("\n ");
                width = 1;
            }
            out.push(' ');
            out.push_str(name);
            width += name.len() + 1;
        }
        out.push('\n');
    }
    let mut others: Vec<String> = interp
        .global_names()
        .into_iter()
        .filter(|n| doc(n).is_none() && !n.starts_with("dl--"))
        .collect();
    others.sort();
    if !others.is_empty() {
        out.push_str("also defined:\n ");
        let mut width = 1;
        for name in &others {
            if width + name.len() + 1 > 78 {
                out.push_str("\n ");
                width = 1;
            }
            out.push(' ');
            out.push_str(name);
            width += name.len() + 1;
        }
        out.push('\n');
    }
    out
}

fn describe(name: &str, interp: &Interp) -> String {
    let global = interp.global(name);
    let redefined = !matches!(&global, None | Some(Value::Prim(_)));
    match (doc(name), global) {
        (Some(line), _) if !redefined => format!("{name}: {line}\n"),
        (_, Some(Value::Lambda(c))) => {
            let arity = if c.info.rest {
                format!("at least {}", c.info.nparams)
            } else {
                c.info.nparams.to_string()
            };
            format!("{name}: a function defined in SX, taking {arity} arguments\n")
        }
        (_, Some(Value::Prim(p))) => format!("{name}: a primitive ({})\n", p.name),
        (_, Some(v)) => {
            let mut shown = crate::printer::repr(&v);
            if let Some((at, _)) = shown.char_indices().nth(60) {
                shown.truncate(at);
                shown.push('…');
            }
            format!("{name}: a global, {shown}\n")
        }
        (Some(line), None) => format!("{name}: {line}\n"),
        (None, None) => format!("{name}: not defined\n"),
    }
}
