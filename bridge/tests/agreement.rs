//! Agreement: the `dl-*` library gives identical answers and identical rejections on
//! three tiers — SX on the CEK (`--jit=off`, `dl-*` excluded), SX on the VM
//! (`--jit=eager`, `(dl-program :sx)`) and the Rust engine (`(dl-program)`).
//!
//! Every case of `tests/datalog` whose program parses is translated automatically into
//! SX forms (the datalog crate's parser gives the AST; its facts files are loaded through
//! the engine's own reader) and run on all three; results must match each other and,
//! for cases that succeed, the case's expected CSV files. Cases whose program does not
//! parse (syntax errors, unsupported Soufflé constructs) have no SX form and are skipped.

mod common;
use common::{normalise_error, Tier, TIERS};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use datalog::ast::{Atom, IoKind, Literal, Program, Term};
use datalog::Database;
use lang::tiering::JitMode;
use lang::{Interp, OutputBuffer};
use sx::{format_error, Host, HostOptions};

/// Runs `body` (which refers to the program as `db`) on `tier`: what it printed, then
/// `error: MESSAGE` if it raised.
fn run(tier: Tier, body: &str) -> String {
    let (jit, prelude) = match tier {
        Tier::SxCek => (
            JitMode::Off,
            "(jit-exclude! \"dl-*\")\n(define db (dl-program))",
        ),
        Tier::SxVm => (JitMode::Eager, "(define db (dl-program :sx))"),
        Tier::Engine => (JitMode::Off, "(define db (dl-program))"),
    };
    let check = match tier {
        Tier::Engine => "(unless (= (dl-implementation db) :engine) (error \"wrong tier\"))",
        _ => "(unless (= (dl-implementation db) :sx) (error \"wrong tier\"))",
    };
    let out = OutputBuffer::default();
    let interp = Interp::with_output(Box::new(out.clone()));
    let mut host = Host::with_options(
        interp,
        HostOptions {
            jit: Some(jit),
            ..HostOptions::default()
        },
    );
    let src = format!("{prelude}\n{check}\n{body}");
    let result = host.run_source(&src, "<agreement>");
    let mut text = out.take();
    if let Err(e) = result {
        let _ = writeln!(text, "error: {}", normalise_error(&e.message()));
        let _ = format_error;
    }
    if let Tier::SxVm = tier {
        assert!(
            host.interp.policy.stats.compiled > 0,
            "the VM tier compiled nothing"
        );
    }
    text
}

/// Runs `body` on every tier and asserts they print the same; returns that text.
fn agree(name: &str, body: &str) -> String {
    let outs: Vec<String> = TIERS.iter().map(|t| run(*t, body)).collect();
    for (t, o) in TIERS.iter().zip(&outs).skip(1) {
        assert_eq!(
            &outs[0], o,
            "{name}: {:?} and {t:?} disagree\n--- program ---\n{body}",
            TIERS[0]
        );
    }
    outs.into_iter().next().unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Translation of tests/datalog cases into SX forms.

fn var_name(v: &str) -> String {
    format!("V{v}")
}

fn term(t: &Term) -> String {
    match t {
        Term::Var(v) => var_name(v),
        Term::Wildcard => "_".into(),
        Term::Number(n) => n.to_string(),
        Term::Symbol(s) => match s.strip_prefix('\u{1}') {
            Some(sym) => sym.to_string(),
            None => format!("{s:?}"),
        },
        // SX forms have the arithmetic operators only: a case using Soufflé's others
        // has no SX form (`NOT_SX` makes `translate` give up on it).
        Term::Binary(op, ..) if !"+-*/%".contains(op.symbol()) => NOT_SX.into(),
        Term::Binary(op, a, b) => format!("({} {} {})", op.symbol(), term(a), term(b)),
    }
}

/// Stands for a term SX forms cannot write.
const NOT_SX: &str = "\u{0}";

/// A ground term's value (facts may use ground arithmetic); `None` when it fails.
fn ground(t: &Term) -> Option<String> {
    fn eval(t: &Term) -> Option<i64> {
        match t {
            Term::Number(n) => Some(*n),
            Term::Binary(op, a, b) => op.apply(eval(a)?, eval(b)?),
            _ => None,
        }
    }
    match t {
        Term::Binary(..) => eval(t).map(|n| n.to_string()),
        other => Some(term(other)),
    }
}

fn atom(a: &Atom) -> String {
    let mut s = format!("({}", a.relation);
    for t in &a.args {
        s.push(' ');
        s.push_str(&term(t));
    }
    s.push(')');
    s
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Positive(a) => atom(a),
        Literal::Negative(a) => format!("(not {})", atom(a)),
        Literal::Compare { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.symbol(), term(lhs), term(rhs))
        }
        Literal::Aggregate {
            result,
            func,
            target,
            goal,
            ..
        } => {
            let goal = match goal.as_slice() {
                [one] => literal(one),
                many => format!(
                    "(and {})",
                    many.iter().map(literal).collect::<Vec<_>>().join(" ")
                ),
            };
            let target = target.as_ref().map(term).unwrap_or_else(|| "_".into());
            format!("({} {} {target} {goal})", func.name(), var_name(result))
        }
    }
}

/// The facts of a case: its program's facts and its input files, as SX atoms.
fn facts(prog: &Program, dir: &Path) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for f in &prog.facts {
        let args: Option<Vec<String>> = f.args.iter().map(ground).collect();
        let args = args?;
        if f.args
            .iter()
            .any(|t| matches!(t, Term::Var(_) | Term::Wildcard))
        {
            // A non-ground fact: kept as written so every tier rejects it.
            out.push(atom(f));
            continue;
        }
        out.push(format!("({} {})", f.relation, args.join(" ")));
    }
    let mut db = Database::new();
    db.add_program(Program {
        decls: prog.decls.clone(),
        ..Program::default()
    })
    .ok()?;
    for rel in prog.io_of(IoKind::Input).map(|d| &d.relation) {
        let path = dir.join("facts").join(format!("{rel}.facts"));
        datalog::io::facts::load_facts_file(&mut db, rel, &path).ok()?;
    }
    db.saturate().ok()?;
    for rel in prog.io_of(IoKind::Input).map(|d| &d.relation) {
        for tuple in db.tuples(rel).ok()? {
            let vals: Vec<String> = tuple
                .iter()
                .map(|v| match v {
                    datalog::Value::Number(n) => n.to_string(),
                    datalog::Value::Str(s) => format!("{s:?}"),
                    datalog::Value::Sym(s) => s.clone(),
                })
                .collect();
            out.push(format!("({rel} {})", vals.join(" ")));
        }
    }
    Some(out)
}

/// The SX program for a case, or `None` when it has no SX form. Facts come first so
/// that the engine takes its column types from values, as a `.decl` would give them.
fn translate(dir: &Path) -> Option<(String, Vec<(String, usize)>)> {
    let src = std::fs::read_to_string(dir.join("prog.dl")).ok()?;
    let prog = datalog::parse_program(&src, "prog.dl").ok()?;
    let mut body = String::new();
    for f in facts(&prog, dir)? {
        let _ = writeln!(body, "(dl-add-fact! db '{f})");
    }
    for r in &prog.rules {
        let lits: Vec<String> = r.body.iter().map(literal).collect();
        let _ = writeln!(
            body,
            "(dl-add-rule! db '(<- {} {}))",
            atom(&r.head),
            lits.join(" ")
        );
    }
    let arity = |rel: &str| {
        prog.decls
            .iter()
            .find(|d| d.name == rel)
            .map(|d| d.columns.len())
            .unwrap_or(0)
    };
    let mut outputs: Vec<(String, usize)> = Vec::new();
    for rel in prog
        .io
        .iter()
        .filter(|d| d.kind != IoKind::Input)
        .map(|d| &d.relation)
    {
        if !outputs.iter().any(|(r, _)| r == rel) {
            outputs.push((rel.clone(), arity(rel)));
        }
    }
    if body.contains(NOT_SX) {
        return None;
    }
    let _ = writeln!(body, "(dl-saturate! db)");
    for (rel, n) in &outputs {
        let vars: Vec<String> = (0..*n).map(|i| format!("A{i}")).collect();
        let _ = writeln!(
            body,
            "(println \"{rel}\" (map (fn (d) (vals d)) (dl-query db '({rel} {}))))",
            vars.join(" ")
        );
    }
    Some((body, outputs))
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/datalog")
}

/// The expected CSV lines of `rel` in the SX printed form `(v1 v2)` per tuple.
fn expected_rows(dir: &Path, rel: &str, arity: usize) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("expected").join(format!("{rel}.csv"))).ok()?;
    let decls = datalog::parse_program(
        &std::fs::read_to_string(dir.join("prog.dl")).ok()?,
        "prog.dl",
    )
    .ok()?
    .decls;
    let types: Vec<datalog::ast::ColumnType> = decls
        .iter()
        .find(|d| d.name == rel)?
        .columns
        .iter()
        .map(|c| c.1)
        .collect();
    let mut rows: Vec<Vec<(bool, String)>> = text
        .lines()
        .filter(|l| !l.is_empty() || arity == 0)
        .map(|l| {
            let fields: Vec<&str> = if arity == 0 {
                vec![]
            } else {
                l.split('\t').collect()
            };
            fields
                .iter()
                .zip(&types)
                .map(|(f, t)| (*t == datalog::ast::ColumnType::Number, f.to_string()))
                .collect()
        })
        .collect();
    rows.sort_by(|a, b| {
        for (x, y) in a.iter().zip(b) {
            let o = if x.0 && y.0 {
                x.1.parse::<i64>()
                    .unwrap_or(0)
                    .cmp(&y.1.parse::<i64>().unwrap_or(0))
            } else {
                x.1.as_bytes().cmp(y.1.as_bytes())
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let printed: Vec<String> = rows
        .iter()
        .map(|r| {
            let vals: Vec<String> = r
                .iter()
                .map(|(num, v)| if *num { v.clone() } else { format!("{v:?}") })
                .collect();
            format!("({})", vals.join(" "))
        })
        .collect();
    Some(format!("{rel} ({})", printed.join(" ")))
}

#[test]
fn every_expressible_datalog_case_agrees_on_cek_vm_and_engine() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/datalog exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let err = std::fs::read_to_string(dir.join("expected.err")).ok();
        // Rejections about declarations and types have no SX form: SX programs
        // declare nothing.
        let expressible_err = err.as_deref().is_none_or(|e| {
            [
                "unsafe rule",
                "non-ground fact",
                "cycle through",
                "unstratifiable",
            ]
            .iter()
            .any(|w| e.contains(w))
        });
        let translated = if expressible_err {
            translate(dir)
        } else {
            None
        };
        let Some((body, outputs)) = translated else {
            skipped.push(name);
            continue;
        };
        let text = agree(&name, &body);
        match err {
            Some(want) => {
                let word = [
                    ("unsafe rule", "unsafe rule"),
                    ("non-ground fact", "non-ground fact"),
                    ("cycle through", "unstratifiable program: cycle through"),
                    ("unstratifiable", "unstratifiable program: cycle through"),
                ]
                .into_iter()
                .find(|(w, _)| want.contains(w))
                .map_or("error", |(_, said)| said);
                assert!(
                    text.contains(&format!("error: {word}")),
                    "{name}: expected a rejection like {want:?}, got\n{text}"
                );
            }
            None => {
                assert!(
                    !text.contains("error: "),
                    "{name}: unexpected error\n{text}"
                );
                for (rel, arity) in &outputs {
                    if let Some(want) = expected_rows(dir, rel, *arity) {
                        assert!(
                            text.lines().any(|l| l == want),
                            "{name}: {rel} differs from expected/{rel}.csv\nwant {want}\ngot\n{text}"
                        );
                    }
                }
            }
        }
        ran.push(name);
    }
    eprintln!(
        "agreement: {} cases ran on three tiers; {} without an SX form: {}",
        ran.len(),
        skipped.len(),
        skipped.join(" ")
    );
    assert!(ran.len() >= 60, "too few cases translated: {}", ran.len());
}

// ---------------------------------------------------------------------------
// SX.md's examples, on every tier.

/// Asserts that `body` prints `want` on every tier.
fn prints(name: &str, body: &str, want: &str) {
    assert_eq!(agree(name, body), want, "{name}");
}

const GRAPH: &str = "(dl-add-fact! db '(edge 1 2))
(dl-add-fact! db '(edge 2 3))
(dl-add-rule! db '(<- (path X Y) (edge X Y)))
(dl-add-rule! db '(<- (path X Z) (path X Y) (edge Y Z)))
";

#[test]
fn a_query_answers_dicts_from_variables_sorted_by_value() {
    prints(
        "path",
        &format!("{GRAPH}(println (dl-query db '(path 1 X)))\n(println (dl-query db '(path X Y)))"),
        "({X 2} {X 3})\n({X 1 Y 2} {X 1 Y 3} {X 2 Y 3})\n",
    );
}

#[test]
fn answers_are_dicts_like_any_other_when_read_changed_and_compared() {
    // The engine's answers share their keys; each must still be its own dict.
    prints(
        "answers",
        &format!(
            "{GRAPH}(define a (dl-query db '(path X Y)))
(println (map (fn (d) (assoc d :Y 0)) a))
(println (map (fn (d) (assoc d 'Z (get d 'Y))) a))
(println (map (fn (d) (dissoc d 'X)) a) (keys (first a)) (vals (last a)))
(println (= (first a) {{'X 1 'Y 2}}) (= (first a) {{'Y 2 'X 1}}) (= (first a) (second a)))
(println a)"
        ),
        "({X 1 Y 2 :Y 0} {X 1 Y 3 :Y 0} {X 2 Y 3 :Y 0})\n\
         ({X 1 Y 2 Z 2} {X 1 Y 3 Z 3} {X 2 Y 3 Z 3})\n\
         ({Y 2} {Y 3} {Y 3}) (X Y) (2 3)\n\
         true true false\n\
         ({X 1 Y 2} {X 1 Y 3} {X 2 Y 3})\n",
    );
}

#[test]
fn a_query_of_more_variables_than_a_small_dict_holds_answers_every_one() {
    prints(
        "wide",
        "(dl-add-fact! db '(w 1 2 3 4 5 6 7 8 9))
(dl-add-rule! db '(<- (v A B C D E F G H I) (w A B C D E F G H I)))
(println (dl-query db '(v A B C D E F G H I)))",
        "({A 1 B 2 C 3 D 4 E 5 F 6 G 7 H 8 I 9})\n",
    );
}

#[test]
fn answers_of_strings_interned_long_after_the_first_sort_by_value() {
    // Far more strings than answers: the engine ranks and makes them from a map, not
    // from a table indexed by id.
    prints(
        "many strings",
        "(for-each (fn (i) (dl-add-fact! db (list 's (str \"w\" i)))) (range 1100))
(dl-add-fact! db '(t \"w5\" 2))
(dl-add-fact! db '(t \"w1099\" 1))
(dl-add-fact! db '(t \"w5\" 3))
(dl-add-rule! db '(<- (u X N) (t X N) (s X)))
(println (dl-query db '(u X N)))",
        "({X \"w1099\" N 1} {X \"w5\" N 2} {X \"w5\" N 3})\n",
    );
}

#[test]
fn a_ground_query_answers_one_empty_dict_or_nothing() {
    prints(
        "ground",
        &format!(
            "{GRAPH}(println (dl-query db '(path 1 3)) (dl-query db '(path 3 1)) (dl-query db '(nothing 1)))"
        ),
        "({}) () ()\n",
    );
}

#[test]
fn a_wildcard_is_a_fresh_variable_at_each_occurrence() {
    prints(
        "wildcard",
        &format!(
            "{GRAPH}(dl-add-rule! db '(<- (has-out X) (edge X _)))
(println (dl-query db '(has-out X)) (dl-query db '(path _ _)) (dl-query db '(path _ X)))"
        ),
        "({X 1} {X 2}) ({}) ({X 2} {X 3})\n",
    );
}

#[test]
fn variables_only_inside_a_negated_atom_are_local_to_it() {
    prints(
        "negation",
        "(dl-add-fact! db '(n 1)) (dl-add-fact! db '(n 2)) (dl-add-fact! db '(n 3))
(dl-add-fact! db '(s 1 5 5)) (dl-add-fact! db '(s 2 5 6))
(dl-add-fact! db '(banned 3 \"why\"))
(dl-add-rule! db '(<- (r X) (n X) (not (s X P P))))
(dl-add-rule! db '(<- (ok X) (n X) (not (banned X _))))
(println (dl-query db '(r X)) (dl-query db '(ok X)))",
        "({X 2} {X 3}) ({X 1} {X 2})\n",
    );
}

#[test]
fn aggregates_of_nothing_count_and_sum_zero_and_min_max_derive_nothing() {
    prints(
        "aggregates",
        "(dl-add-fact! db '(n 1)) (dl-add-fact! db '(n 2))
(dl-add-fact! db '(e 1 10)) (dl-add-fact! db '(e 1 20)) (dl-add-fact! db '(e 1 30))
(dl-add-rule! db '(<- (c X K) (n X) (count K Y (e X Y))))
(dl-add-rule! db '(<- (s X K) (n X) (sum K Y (e X Y))))
(dl-add-rule! db '(<- (lo X K) (n X) (min K Y (e X Y))))
(dl-add-rule! db '(<- (hi X K) (n X) (max K Y (e X Y))))
(dl-add-rule! db '(<- (total K) (count K X (e X _))))
(println (dl-query db '(c X K)))
(println (dl-query db '(s X K)))
(println (dl-query db '(lo X K)) (dl-query db '(hi X K)) (dl-query db '(total K)))",
        "({X 1 K 3} {X 2 K 0})\n({X 1 K 60} {X 2 K 0})\n({X 1 K 10}) ({X 1 K 30}) ({K 3})\n",
    );
}

#[test]
fn arithmetic_bindings_and_comparisons_derive_and_filter() {
    prints(
        "arith",
        "(dl-add-fact! db '(n 1)) (dl-add-fact! db '(n 2)) (dl-add-fact! db '(n 0))
(dl-add-rule! db '(<- (next X Z) (n X) (= Z (+ X 1)) (> Z 1)))
(dl-add-rule! db '(<- (inv X Z) (n X) (= Z (/ 10 X))))
(println (dl-query db '(next X Y)) (dl-query db '(inv X Y)))",
        "({X 1 Y 2} {X 2 Y 3}) ({X 1 Y 10} {X 2 Y 5})\n",
    );
}

#[test]
fn symbols_and_strings_are_distinct_constants() {
    prints(
        "symbols",
        "(dl-add-fact! db '(likes alice \"bob\"))
(dl-add-rule! db '(<- (fan X) (likes X \"bob\")))
(println (dl-query db '(fan X)) (dl-query db '(likes alice bob)) (dl-query db '(likes alice \"bob\")))",
        "({X alice}) () ({})\n",
    );
}

#[test]
fn ordering_comparisons_order_strings_by_bytes_and_never_symbols() {
    prints(
        "string-ordering",
        "(dl-add-fact! db '(w \"pear\")) (dl-add-fact! db '(w \"apple\"))
(dl-add-fact! db '(w \"B\")) (dl-add-fact! db '(w b)) (dl-add-fact! db '(w a))
(dl-add-rule! db '(<- (lt X Y) (w X) (w Y) (< X Y)))
(dl-add-rule! db '(<- (ge X) (w X) (>= X \"apple\")))
(dl-add-rule! db '(<- (le X) (w X) (<= X b)))
(dl-add-rule! db '(<- (gt X) (w X) (> X \"B\") (!= X a)))
(println (dl-query db '(lt X Y)))
(println (dl-query db '(ge X)) (dl-query db '(le X)) (dl-query db '(gt X)))",
        "({X \"B\" Y \"apple\"} {X \"B\" Y \"pear\"} {X \"apple\" Y \"pear\"})\n\
({X \"apple\"} {X \"pear\"}) () ({X \"apple\"} {X \"pear\"})\n",
    );
}

#[test]
fn a_relation_may_mix_numbers_and_text_in_one_argument() {
    prints(
        "mixed",
        "(dl-add-fact! db '(v 1)) (dl-add-fact! db '(v \"x\")) (dl-add-fact! db '(v b))
(dl-add-fact! db '(v 10)) (dl-add-fact! db '(n 1)) (dl-add-fact! db '(n 2)) (dl-add-fact! db '(n 10))
(dl-add-rule! db '(<- (both X) (v X) (n X)))
(dl-add-rule! db '(<- (only X) (v X) (not (n X))))
(dl-add-rule! db '(<- (small X) (v X) (< X 5)))
(dl-add-rule! db '(<- (pair X Y) (v X) (v Y) (< X Y)))
(dl-add-rule! db '(<- (one X) (v X) (= X 1)))
(println (dl-query db '(v X)) (dl-query db '(both X)) (dl-query db '(only X)))
(println (dl-query db '(small X)) (dl-query db '(pair X Y)) (dl-query db '(one X)) (dl-query db '(v 10)))
(dl-add-fact! db '(n \"x\")) (dl-add-fact! db '(w 3 \"a\")) (dl-add-fact! db '(w \"a\" 3))
(println (dl-query db '(both X)) (dl-query db '(only X)) (dl-query db '(w X Y)))
(println (dl-retract! db '(v 10)) (dl-query db '(both X)) (dl-query db '(w 3 X)))",
        "({X 1} {X 10} {X \"x\"} {X b}) ({X 1} {X 10}) ({X \"x\"} {X b})
({X 1}) ({X 1 Y 10}) ({X 1}) ({})
({X 1} {X 10} {X \"x\"}) ({X b}) ({X 3 Y \"a\"} {X \"a\" Y 3})
true ({X 1} {X \"x\"}) ({X \"a\"})
",
    );
}

#[test]
fn retracting_a_fact_removes_its_consequences() {
    prints(
        "retract",
        &format!(
            "{GRAPH}(println (dl-retract! db '(edge 2 3)) (dl-retract! db '(edge 9 9)))
(println (dl-query db '(path 1 X)))"
        ),
        "true false\n({X 2})\n",
    );
}

/// A saturated blog changed as a host changes it, querying between changes: every
/// tier answers alike (the engine maintains its relations incrementally, through the
/// negation and the count; the SX library saturates again).
#[test]
fn writes_between_queries_reach_negations_and_counts_on_every_tier() {
    prints(
        "writes",
        "(for-each (fn (f) (dl-add-fact! db f))
  '((tagged 1 \"a\") (tagged 1 \"b\") (tagged 2 \"a\") (tagged 3 \"b\") (tagged 3 \"c\") (hidden 3)))
(dl-add-rule! db '(<- (tag T) (tagged _ T)))
(dl-add-rule! db '(<- (visible P) (tagged P _) (not (hidden P))))
(dl-add-rule! db '(<- (related P Q) (tagged P T) (tagged Q T) (!= P Q) (visible Q)))
(dl-add-rule! db '(<- (uses T N) (tag T) (count N P (and (tagged P T) (visible P)))))
(define (show) (println (dl-query db '(related P Q)) (dl-query db '(uses T N))))
(show)
(dl-retract! db '(hidden 3))
(show)
(dl-add-fact! db '(tagged 4 \"c\"))
(dl-retract! db '(tagged 1 \"a\"))
(show)
(dl-add-fact! db '(hidden 1))
(dl-retract! db '(tagged 3 \"c\"))
(dl-add-fact! db '(tagged 3 \"c\"))
(show)",
        "({P 1 Q 2} {P 2 Q 1} {P 3 Q 1}) ({T \"a\" N 2} {T \"b\" N 1} {T \"c\" N 0})
({P 1 Q 2} {P 1 Q 3} {P 2 Q 1} {P 3 Q 1}) ({T \"a\" N 2} {T \"b\" N 2} {T \"c\" N 1})
({P 1 Q 3} {P 3 Q 1} {P 3 Q 4} {P 4 Q 3}) ({T \"a\" N 1} {T \"b\" N 2} {T \"c\" N 2})
({P 1 Q 3} {P 3 Q 4} {P 4 Q 3}) ({T \"a\" N 1} {T \"b\" N 1} {T \"c\" N 2})
",
    );
}

#[test]
fn unsafe_rules_non_ground_facts_and_unstratifiable_programs_are_rejected() {
    prints(
        "unsafe",
        "(dl-add-rule! db '(<- (bad X Y) (n X)))",
        "error: unsafe rule: variable `Y`\n",
    );
    prints(
        "non-ground",
        "(dl-add-fact! db '(edge X 1))",
        "error: non-ground fact `(edge X 1)`\n",
    );
    prints(
        "unstratifiable",
        "(dl-add-fact! db '(n 1))
(dl-add-rule! db '(<- (p X) (n X) (not (q X))))
(dl-add-rule! db '(<- (q X) (p X)))",
        "error: unstratifiable program: cycle through negation p -> !q -> p\n",
    );
}

#[test]
fn the_tiering_policy_picks_the_implementation() {
    let body = "(println (dl-implementation (dl-program)) (jit-excluded? \"dl-program\"))
(jit-exclude! \"dl-*\")
(println (dl-implementation (dl-program)) (dl-implementation (dl-program :engine)) (jit-excluded? \"dl-program\"))
(jit-include! \"dl-*\")
(println (dl-implementation (dl-program)) (dl-implementation (dl-program :sx)))";
    let out = run(Tier::Engine, body);
    assert_eq!(
        out, ":engine false\n:sx :engine true\n:engine :sx\n",
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// Shapes the SX library compiles specially (row layouts of 1 to 5 columns, constants
// and expressions in heads, repeated variables, fused comparisons and membership
// checks, queries with constants, repeated variables and wildcards).

#[test]
fn compiled_plan_shapes_agree() {
    prints(
        "shapes",
        "(dl-add-fact! db '(e 1 2)) (dl-add-fact! db '(e 2 3)) (dl-add-fact! db '(e 3 3)) (dl-add-fact! db '(e 3 4))
(dl-add-fact! db '(w 1 2 3 4)) (dl-add-fact! db '(w 2 2 5 6)) (dl-add-fact! db '(w 3 1 3 3))
(dl-add-rule! db '(<- (loop X) (e X X)))
(dl-add-rule! db '(<- (tri X Y Z) (e X Y) (e Y Z)))
(dl-add-rule! db '(<- (back X Y) (e X Y) (e Y X)))
(dl-add-rule! db '(<- (out X Y) (e X Y) (not (e Y Y)) (!= X 9)))
(dl-add-rule! db '(<- (quad D C B A) (w A B C D) (e A B)))
(dl-add-rule! db '(<- (wide A B C D E) (w A B C D) (e A E) (< E 4)))
(dl-add-rule! db '(<- (k X 7 (* Y 10)) (e X Y) (> Y 2)))
(dl-add-rule! db '(<- (deg X N) (e X _) (count N Y (e X Y))))
(dl-add-rule! db '(<- (unit) (e 1 2)))
(dl-add-rule! db '(<- (succ X) (e X _) (not (e X (+ X 1)))))
(println (dl-query db '(loop X)) (dl-query db '(tri X Y Z)) (dl-query db '(back X Y)))
(println (dl-query db '(out X Y)) (dl-query db '(quad A B C D)) (dl-query db '(wide A B C D E)))
(println (dl-query db '(k X C Z)) (dl-query db '(deg X N)) (dl-query db '(unit)) (dl-query db '(succ X)))
(println (dl-query db '(tri X Y Y)) (dl-query db '(tri 2 _ Z)) (dl-query db '(w _ B B _)))",
        "({X 3}) ({X 1 Y 2 Z 3} {X 2 Y 3 Z 3} {X 2 Y 3 Z 4} {X 3 Y 3 Z 3} {X 3 Y 3 Z 4}) ({X 3 Y 3})
({X 1 Y 2} {X 3 Y 4}) ({A 4 B 3 C 2 D 1}) ({A 1 B 2 C 3 D 4 E 2} {A 2 B 2 C 5 D 6 E 3} {A 3 B 1 C 3 D 3 E 3})
({X 2 C 7 Z 30} {X 3 C 7 Z 30} {X 3 C 7 Z 40}) ({X 1 N 1} {X 2 N 1} {X 3 N 2}) ({}) ()
({X 2 Y 3} {X 3 Y 3}) ({Z 3} {Z 4}) ()
",
    );
}

/// An aggregate whose result variable is already bound, by an atom or by an `=` the
/// planner may take first, is compared with it (the engine used to overwrite it).
#[test]
fn an_aggregate_whose_result_is_bound_compares_on_every_tier() {
    prints(
        "bound aggregate",
        "(dl-add-fact! db '(e 1 2)) (dl-add-fact! db '(e 2 3)) (dl-add-fact! db '(e 3 3)) (dl-add-fact! db '(e 3 4))
(dl-add-fact! db '(want 1 5)) (dl-add-fact! db '(want 2 3)) (dl-add-fact! db '(want 3 7))
(dl-add-rule! db '(<- (two X) (e X _) (count N Y (e X Y)) (= N 1)))
(dl-add-rule! db '(<- (deg X N) (e X _) (count N Y (e X Y))))
(dl-add-rule! db '(<- (same X) (deg X N) (count N Y (e Y X))))
(dl-add-rule! db '(<- (hit X) (want X S) (sum S Y (e X Y))))
(dl-add-rule! db '(<- (low X) (e X _) (= M 3) (min M Y (e X Y))))
(println (dl-query db '(two X)) (dl-query db '(same X)))
(println (dl-query db '(hit X)) (dl-query db '(low X)))",
        "({X 1} {X 2}) ({X 2} {X 3})\n({X 2} {X 3}) ({X 2} {X 3})\n",
    );
}

/// Columns mixing numbers and text: a comparison with a number written before the atom
/// that brings text to its variable does not make the variable a number (the engine
/// used to reject the rule), and a query variable repeated across a text column and a
/// number column compares values (the engine used to answer nothing).
#[test]
fn mixed_columns_type_in_any_order_and_query_variables_compare_values() {
    prints(
        "mixed columns",
        "(dl-add-fact! db '(r \"t\" 2)) (dl-add-fact! db '(r 1 1)) (dl-add-fact! db '(r 5 7))
(dl-add-fact! db '(v 4 a)) (dl-add-fact! db '(v 5 2))
(dl-add-rule! db '(<- (p Y) (!= Z 2) (v Y Z)))
(dl-add-rule! db '(<- (q Y) (= Z 2) (v Y Z)))
(dl-add-rule! db '(<- (s Y) (v Y Z) (!= Z 2)))
(println (dl-query db '(r A A)) (dl-query db '(r A B)))
(println (dl-query db '(p A)) (dl-query db '(q A)) (dl-query db '(s A)))",
        "({A 1}) ({A 1 B 1} {A 5 B 7} {A \"t\" B 2})\n({A 4}) ({A 5}) ({A 4})\n",
    );
}

/// Many facts of one relation, with duplicates and retractions of old and recent ones
/// (the SX library keeps asserted facts in two sets, merged as they grow).
#[test]
fn many_facts_with_duplicates_and_retractions_agree() {
    prints(
        "many facts",
        "(define (add k) (when (< k 300) (dl-add-fact! db (list 'e k (mod (* k 7) 300))) (add (+ k 1))))
(add 0)
(println (dl-add-fact! db '(e 5 35)) (dl-add-fact! db '(e 5 36)) (dl-add-fact! db '(e 299 293)))
(println (dl-retract! db '(e 5 36)) (dl-retract! db '(e 5 36)) (dl-retract! db '(e 1 7)) (dl-retract! db '(e 299 293)))
(add 290)
(dl-add-rule! db '(<- (two X Z) (e X Y) (e Y Z)))
(println (len (dl-query db '(e X Y))) (len (dl-query db '(two X Z))) (dl-query db '(two 1 Z)) (dl-query db '(e 1 Y)))",
        "false true false\ntrue false true true\n299 298 () ()\n",
    );
}

/// What only the SX library takes (the engine rejects an expression in a query): an
/// expression in a negated atom or a query reads the variables the atom binds in
/// earlier columns; an aggregate's bound result is compared.
#[test]
fn sx_library_expressions_read_earlier_columns_and_bound_aggregates_compare() {
    let body = "(dl-add-fact! db '(e 1 2)) (dl-add-fact! db '(e 2 3)) (dl-add-fact! db '(e 3 3)) (dl-add-fact! db '(e 3 4))
(dl-add-fact! db '(s 1 2)) (dl-add-fact! db '(s 5 5)) (dl-add-fact! db '(n 1)) (dl-add-fact! db '(n 5))
(dl-add-rule! db '(<- (r X) (n X) (not (s X (+ X 1)))))
(dl-add-rule! db '(<- (q X) (n X) (not (s Y (+ Y 1)))))
(dl-add-rule! db '(<- (q2 X) (n X) (not (s Y (+ Y 0)))))
(dl-add-rule! db '(<- (two X) (e X _) (count N Y (e X Y)) (= N 1)))
(dl-add-rule! db '(<- (deg X N) (e X _) (count N Y (e X Y))))
(dl-add-rule! db '(<- (same X) (deg X N) (count N Y (e Y X))))
(println (dl-query db '(r X)) (dl-query db '(q X)) (dl-query db '(q2 X)))
(println (dl-query db '(s X (- X 0))) (dl-query db '(s (+ X 1) X)) (dl-query db '(e X (+ X 1))))
(println (dl-query db '(two X)) (dl-query db '(same X)))";
    let want = "({X 5}) () ()\n({X 5}) () ({X 1} {X 2} {X 3})\n({X 1} {X 2}) ({X 2} {X 3})\n";
    for tier in [Tier::SxCek, Tier::SxVm] {
        assert_eq!(run(tier, body), want, "{tier:?}");
    }
}
