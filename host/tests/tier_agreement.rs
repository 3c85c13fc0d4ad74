//! Tier agreement: random SX programs must behave identically on the CEK, the CEK with
//! every `perform` suspended to the host loop, the VM, and the VM with suspension
//! everywhere — the same printed value or error message, the same stdout and the same
//! final KV contents.
//!
//! Programs are generated from a byte string (proptest shrinks it towards fewer and
//! smaller bytes; a zero byte always picks the simplest option), by a generator that
//! tracks the variables in scope and their rough kind, so most programs run to the
//! end but some raise. The whole proptest runner lives on one big-stack thread.
//!
//! A host takes milliseconds to set up in a debug build (it loads the dl-* library),
//! far longer than a generated program takes to run, so each property keeps one host
//! per configuration and runs program after program on it, emptying the store and
//! the output and refilling the fuel in between (a long-lived host is also how SX
//! is served). A disagreement is checked again on fresh hosts before it is reported.
//!
//! `SX_TIER_CASES=N` multiplies the number of generated programs (for bug hunts);
//! `SX_TIER_STRICT=1` turns off the filter for known, still open bugs ([`known_bug`]).

use lang::printer::repr;
use lang::{Interp, OutputBuffer, Tier};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::cell::{Cell, RefCell};
use sx::kv::KvStore;
use sx::{with_big_stack, Host, HostOptions};

/// The four configurations every program runs on; the first is the reference.
const CONFIGS: [(&str, Tier, bool); 4] = [
    ("cek", Tier::Cek, false),
    ("cek --suspend-everywhere", Tier::Cek, true),
    ("vm", Tier::Vm, false),
    ("vm --suspend-everywhere", Tier::Vm, true),
];

/// A safety net against runaway programs: the generator writes none on purpose, and
/// its programs make at most a few tens of thousands of calls, but running out is an
/// error that must agree too.
const FUEL: u64 = 100_000;

/// Everything observable about one run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observation {
    /// The printed value of the last form, or the error message and where it was
    /// raised.
    result: Result<String, String>,
    stdout: String,
    /// Final KV contents, values printed.
    kv: Vec<(String, String)>,
    /// Whether the fuel ran out (a guard may have caught the error).
    out_of_fuel: bool,
}

/// The options for one configuration; every other option keeps its default.
fn host_options(tier: Tier, suspend_everywhere: bool) -> HostOptions {
    HostOptions {
        tier,
        suspend_everywhere,
        ..HostOptions::default()
    }
}

/// A host for one configuration, and its output.
fn new_host(tier: Tier, suspend_everywhere: bool) -> (Host, OutputBuffer) {
    let out = OutputBuffer::default();
    let interp = Interp::with_output(Box::new(out.clone()));
    let host = Host::with_options(interp, host_options(tier, suspend_everywhere));
    (host, out)
}

/// Runs `src` on `host` with an empty store, empty output and full fuel.
fn observe_on(host: &mut Host, out: &OutputBuffer, src: &str) -> Observation {
    out.take();
    host.services.borrow_mut().kv = KvStore::default();
    host.interp.fuel = Some(FUEL);
    let result = host
        .run_source(src, "prop.sx")
        .map(|v| repr(&v))
        .map_err(|e| match &e.span {
            Some(span) => format!("{} @ {span}", e.message()),
            None => e.message(),
        });
    let kv = host
        .kv()
        .scan("")
        .into_iter()
        .map(|(k, v)| (k, repr(&v)))
        .collect();
    Observation {
        result,
        stdout: out.contents(),
        kv,
        out_of_fuel: host.interp.fuel == Some(0),
    }
}

/// Runs `src` on every configuration, on fresh hosts (on the current thread).
fn observe_all(src: &str) -> Vec<(&'static str, Observation)> {
    CONFIGS
        .iter()
        .map(|&(name, tier, suspend)| {
            let (mut host, out) = new_host(tier, suspend);
            (name, observe_on(&mut host, &out, src))
        })
        .collect()
}

/// One long-lived host per configuration.
struct Rig(Vec<(&'static str, Host, OutputBuffer)>);

impl Rig {
    fn new() -> Rig {
        Rig(CONFIGS
            .iter()
            .map(|&(name, tier, suspend)| {
                let (host, out) = new_host(tier, suspend);
                (name, host, out)
            })
            .collect())
    }

    fn observe_all(&mut self, src: &str) -> Vec<(&'static str, Observation)> {
        self.0
            .iter_mut()
            .map(|(name, host, out)| (*name, observe_on(host, out, src)))
            .collect()
    }
}

/// What the four runs of a program showed.
enum Verdict {
    Agree,
    /// They disagree the way a known, still open bug makes them (named).
    KnownBug(&'static str),
    /// A report of how they disagree.
    Disagree(String),
}

/// A known, still open bug that explains how `runs` disagree (none with
/// `SX_TIER_STRICT` set). Add an entry, with its ignored test, when the property finds
/// a bug that cannot be fixed at once; remove it when the test passes. None is open.
fn known_bug(_runs: &[(&str, Observation)]) -> Option<&'static str> {
    None
}

/// Runs `src` on every configuration of `rig` and compares; a disagreement is
/// checked again on fresh hosts.
fn verdict(rig: &mut Rig, src: &str) -> Verdict {
    let runs = rig.observe_all(src);
    if runs.iter().all(|(_, o)| *o == runs[0].1) {
        return Verdict::Agree;
    }
    if let Some(bug) = known_bug(&runs) {
        return Verdict::KnownBug(bug);
    }
    let fresh = observe_all(src);
    if fresh.iter().all(|(_, o)| *o == fresh[0].1) {
        return Verdict::Disagree(format!(
            "{}(on fresh hosts they agree: the disagreement depends on earlier programs)\n",
            report(src, &runs)
        ));
    }
    match known_bug(&fresh) {
        Some(bug) => Verdict::KnownBug(bug),
        None => Verdict::Disagree(report(src, &fresh)),
    }
}

/// How the configurations disagree on `src`.
fn report(src: &str, runs: &[(&str, Observation)]) -> String {
    let mut report = format!("the tiers disagree on this program:\n{src}\n");
    for (name, o) in runs {
        report.push_str(&format!(
            "--- {name}\n  result: {:?}\n  stdout: {:?}\n  kv:     {:?}\n  out of fuel: {}\n",
            o.result, o.stdout, o.kv, o.out_of_fuel
        ));
    }
    report
}

/// Runs `src` on every configuration on a big-stack thread, asserts that they agree,
/// and returns the reference observation.
fn agreed(src: &str) -> Observation {
    let src = src.to_string();
    with_big_stack(move || {
        let runs = observe_all(&src);
        if runs.iter().any(|(_, o)| *o != runs[0].1) {
            panic!("{}", report(&src, &runs));
        }
        runs[0].1.clone()
    })
}

// ---------------------------------------------------------------------------------
// The generator.

/// The rough kind of a variable or expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    List,
    Str,
    Dict,
    /// Anything (a guard's variable, a raw `kv-get` answer).
    Any,
    /// A function of one int returning an int.
    Fn1,
    /// A function of two ints returning an int.
    Fn2,
}

/// A global recursive function, called with a depth.
#[derive(Clone)]
struct Rec {
    name: String,
    /// Takes an accumulator after the depth.
    acc: bool,
    /// Returns a list (else an int).
    list: bool,
}

struct Gen<'a> {
    bytes: &'a [u8],
    pos: usize,
    scope: Vec<(String, Kind)>,
    recs: Vec<Rec>,
    fresh: u32,
    /// Nodes left to generate; leaves only once it runs out.
    budget: i32,
    /// Inside a callback, loop or recursive body: calls to recursive functions stay
    /// shallow, so that the cost of a program stays small.
    hot: bool,
    /// Favour deep recursion and performs.
    deep: bool,
}

const KEYS: [&str; 4] = ["a", "b", "c", "d"];
const PREFIXES: [&str; 4] = ["", "a", "b", "e"];
const STRINGS: [&str; 6] = ["", "x", "hello", "a b", "q\\\"t", "ü"];
const DICT_KEYS: [&str; 4] = [":a", ":b", ":c", "\"s\""];

impl<'a> Gen<'a> {
    fn new(bytes: &'a [u8], deep: bool) -> Gen<'a> {
        Gen {
            bytes,
            pos: 0,
            scope: Vec::new(),
            recs: Vec::new(),
            fresh: 0,
            budget: if deep { 70 } else { 110 },
            hot: false,
            deep,
        }
    }

    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number below `n` (0 for a zero byte).
    fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0 && n <= 256);
        self.byte() as usize % n
    }

    /// True with roughly `pct` percent probability (false for a zero byte).
    fn chance(&mut self, pct: u32) -> bool {
        (self.byte() as u32) * 100 >= (100 - pct) * 256
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    /// A variable of `kind` in scope, innermost first.
    fn var(&mut self, kind: Kind) -> Option<String> {
        let found: Vec<String> = self
            .scope
            .iter()
            .rev()
            .filter(|(_, k)| *k == kind)
            .map(|(n, _)| n.clone())
            .collect();
        if found.is_empty() {
            None
        } else {
            let i = self.below(found.len().min(256));
            Some(found[i].clone())
        }
    }

    /// A name for a new binding: usually fresh, sometimes shadowing one of the same
    /// kind.
    fn binder(&mut self, kind: Kind) -> String {
        if self.chance(8) {
            if let Some(v) = self.var(kind) {
                return v;
            }
        }
        self.name("v")
    }

    fn scoped<T>(&mut self, vars: &[(String, Kind)], f: impl FnOnce(&mut Self) -> T) -> T {
        let n = self.scope.len();
        self.scope.extend(vars.iter().cloned());
        let r = f(self);
        self.scope.truncate(n);
        r
    }

    fn hot<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.hot;
        self.hot = true;
        let r = f(self);
        self.hot = saved;
        r
    }

    /// Spends one node of the budget; false when the expression must be a leaf.
    fn spend(&mut self, d: u32) -> bool {
        if d == 0 || self.budget <= 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn key(&mut self) -> String {
        format!("\"{}\"", self.pick(&KEYS))
    }

    fn fn_kw(&mut self) -> &'static str {
        if self.chance(20) {
            "lambda"
        } else {
            "fn"
        }
    }

    fn gen(&mut self, kind: Kind, d: u32) -> String {
        match kind {
            Kind::Int => self.int(d),
            Kind::List => self.list(d),
            Kind::Str => self.string(d),
            Kind::Dict => self.dict(d),
            Kind::Any => self.any(d),
            Kind::Fn1 => self.fn1(d),
            Kind::Fn2 => self.fn2(d),
        }
    }

    fn data_kind(&mut self) -> Kind {
        self.pick(&[
            Kind::Int,
            Kind::Int,
            Kind::List,
            Kind::Str,
            Kind::Dict,
            Kind::Fn1,
            Kind::Any,
        ])
    }

    // -- forms that work for every kind ----------------------------------------------

    fn common(&mut self, kind: Kind, d: u32) -> String {
        match self.below(12) {
            0 | 1 => {
                // let with sequential bindings
                let n = 1 + self.below(3);
                let mut binds = String::new();
                let outer = self.scope.len();
                for _ in 0..n {
                    let k = self.data_kind();
                    let init = self.gen(k, d);
                    let name = self.binder(k);
                    binds.push_str(&format!("({name} {init})"));
                    self.scope.push((name, k));
                }
                let body = self.body(kind, d);
                self.scope.truncate(outer);
                format!("(let ({binds}) {body})")
            }
            2 => format!(
                "(if {} {} {})",
                self.boolean(d),
                self.gen(kind, d),
                self.gen(kind, d)
            ),
            3 => self.guard(kind, d),
            4 => {
                let n = 1 + self.below(3);
                let mut s = String::from("(cond");
                for _ in 0..n {
                    s.push_str(&format!(" ({} {})", self.boolean(d), self.gen(kind, d)));
                }
                let els = if self.chance(50) { ":else" } else { "else" };
                s.push_str(&format!(" ({els} {}))", self.gen(kind, d)));
                s
            }
            5 => {
                let mut s = format!("(case {}", self.int(d));
                for _ in 0..1 + self.below(3) {
                    let datum = if self.chance(50) {
                        format!("({} {})", self.below(4), self.below(6))
                    } else {
                        format!("{}", self.below(5))
                    };
                    s.push_str(&format!(" ({datum} {})", self.gen(kind, d)));
                }
                s.push_str(&format!(" (else {}))", self.gen(kind, d)));
                s
            }
            6 => format!("(do {} {})", self.stmt(d), self.gen(kind, d)),
            7 => format!(
                "(or (when {} {}) {})",
                self.boolean(d),
                self.gen(kind, d),
                self.gen(kind, d)
            ),
            8 => format!(
                "(or (and {} {}) {})",
                self.boolean(d),
                self.gen(kind, d),
                self.gen(kind, d)
            ),
            9 => {
                // an immediately applied lambda
                let x = self.name("p");
                let kw = self.fn_kw();
                let body = self.scoped(&[(x.clone(), Kind::Int)], |g| g.body(kind, d));
                format!("(({kw} ({x}) {body}) {})", self.int(d))
            }
            10 => self.raise(d),
            _ => {
                // named let loop
                let lp = self.name("loop");
                let i = self.name("i");
                let acc = self.name("acc");
                let bound = self.below(6);
                let init = self.gen(kind, d);
                let step = self.scoped(&[(i.clone(), Kind::Int), (acc.clone(), kind)], |g| {
                    g.hot(|g| g.gen(kind, d))
                });
                format!("(let {lp} (({i} 0) ({acc} {init})) (if (< {i} {bound}) ({lp} (+ {i} 1) {step}) {acc}))")
            }
        }
    }

    /// A body: sometimes with an internal define or a statement first.
    fn body(&mut self, kind: Kind, d: u32) -> String {
        match self.below(6) {
            4 => {
                let k = self.data_kind();
                let init = self.gen(k, d);
                let name = self.name("v");
                let rest = self.scoped(&[(name.clone(), k)], |g| g.gen(kind, d));
                format!("(define {name} {init}) {rest}")
            }
            5 => format!("{} {}", self.stmt(d), self.gen(kind, d)),
            _ => self.gen(kind, d),
        }
    }

    fn raise(&mut self, d: u32) -> String {
        match self.below(5) {
            0 => format!("(error \"boom\" {})", self.int(d)),
            1 => format!("(raise {})", self.int(d)),
            2 => format!("(raise {})", self.string(d)),
            3 => "(error \"bad thing\")".into(),
            _ => format!("(raise (list {}))", self.int(d)),
        }
    }

    fn guard(&mut self, kind: Kind, d: u32) -> String {
        let e = self.name("e");
        let body = if self.chance(45) {
            format!(
                "(if {} {} {})",
                self.boolean(d),
                self.raise(d),
                self.gen(kind, d)
            )
        } else {
            self.body(kind, d)
        };
        let clauses = self.scoped(&[(e.clone(), Kind::Any)], |g| {
            let mut s = String::new();
            for _ in 0..g.below(4) {
                let clause = match g.below(8) {
                    0 => format!("((error? {e}) {})", g.gen(kind, d)),
                    1 => format!("((int? {e}) {})", g.gen(kind, d)),
                    2 => format!("((string? {e}) {})", g.gen(kind, d)),
                    3 => format!("((error? {e}) (raise {e}))"),
                    4 => format!("((= {e} {}) {})", g.below(4), g.gen(kind, d)),
                    5 => format!("((> (len (str {e})) {}) {})", g.below(12), g.gen(kind, d)),
                    6 => format!("(true {})", g.gen(kind, d)),
                    _ => format!(
                        "((list? {e}) (do (perform {{:op \"kv-put\" :key {} :value {e}}}) {}))",
                        g.key(),
                        g.gen(kind, d)
                    ),
                };
                s.push(' ');
                s.push_str(&clause);
            }
            s
        });
        format!("(guard ({e}{clauses}) {body})")
    }

    // -- statements (run for effect) ----------------------------------------------------

    fn stmt(&mut self, d: u32) -> String {
        if !self.spend(d) {
            return format!("(println {})", self.int(0));
        }
        let d = d - 1;
        match self.below(9) {
            0 => format!("(println {})", self.any(d)),
            1 | 2 => {
                let k = self.key();
                let v = if self.chance(70) {
                    self.int(d)
                } else {
                    self.any(d)
                };
                format!("(perform {{:op \"kv-put\" :key {k} :value {v}}})")
            }
            3 => format!("(perform {{:op \"kv-delete\" :key {}}})", self.key()),
            4 => match self.var(Kind::Int) {
                Some(v) => format!("(set! {v} {})", self.int(d)),
                None => format!("(print {} \"|\")", self.string(d)),
            },
            5 => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let body = self.scoped(&[(x.clone(), Kind::Int)], |g| g.hot(|g| g.stmt(d)));
                format!("(for-each ({kw} ({x}) {body}) {})", self.list(d))
            }
            6 => match self.var(Kind::List) {
                Some(v) => format!("(set! {v} {})", self.list(d)),
                None => format!("(println {})", self.list(d)),
            },
            7 => self.int(d),
            _ => format!("(print {} \" \")", self.any(d)),
        }
    }

    // -- ints ---------------------------------------------------------------------------

    fn int_literal(&mut self) -> String {
        if self.chance(6) {
            self.pick(&[
                "9223372036854775807",
                "4611686018427387904",
                "-4611686018427387904",
                "3037000500",
                "-9223372036854775807",
            ])
            .to_string()
        } else {
            format!("{}", self.below(13) as i64 - 3)
        }
    }

    fn int_leaf(&mut self) -> String {
        if self.chance(60) {
            if let Some(v) = self.var(Kind::Int) {
                return v;
            }
        }
        if self.chance(1) {
            return "undefined-thing".into();
        }
        self.int_literal()
    }

    fn int(&mut self, d: u32) -> String {
        if !self.spend(d) {
            return self.int_leaf();
        }
        let d = d - 1;
        match self.below(44) {
            0..=4 => self.int_leaf(),
            5 => format!("(+ {} {})", self.int(d), self.int(d)),
            6 => format!("(- {} {})", self.int(d), self.int(d)),
            7 => format!("(* {} {})", self.int(d), self.int(d)),
            8 => format!("(/ {} {})", self.int(d), self.int(d)),
            9 => format!("(mod {} {})", self.int(d), self.int(d)),
            10 => format!("(len {})", self.list(d)),
            11 => format!("(len {})", self.string(d)),
            12 => {
                let f = self.fn1(d);
                format!("({f} {})", self.int(d))
            }
            13 => {
                let f = self.fn2(d);
                format!("({f} {} {})", self.int(d), self.int(d))
            }
            14 => format!("(reduce {} {} {})", self.fn2(d), self.int(d), self.list(d)),
            15 => match self.below(4) {
                0 => format!("(apply + {})", self.list(d)),
                1 => format!("(apply max 0 {})", self.list(d)),
                2 => format!("(apply {} (list {}))", self.fn1(d), self.int(d)),
                _ => format!(
                    "(apply {} {} (list {}))",
                    self.fn2(d),
                    self.int(d),
                    self.int(d)
                ),
            },
            16 => {
                let k = self.pick(&DICT_KEYS);
                format!("(get {} {k} {})", self.dict(d), self.int(d))
            }
            17 | 18 => {
                let v = self.name("r");
                let k = self.key();
                format!(
                    "(let (({v} (perform {{:op \"kv-get\" :key {k}}}))) (if (int? {v}) {v} {}))",
                    self.int(d)
                )
            }
            19 => match self.var(Kind::Int) {
                Some(v) => format!("(do (set! {v} {}) {v})", self.int(d)),
                None => self.int_leaf(),
            },
            20 => self.call_rec(false, d),
            21 => format!("(or (first {}) {})", self.list(d), self.int(d)),
            22 => {
                let l = self.list(d);
                if self.chance(30) {
                    format!("(nth {l} {})", self.int(d))
                } else {
                    format!("(nth {l} (mod {} (max 1 (len {l}))))", self.int(d))
                }
            }
            23 => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let (b, r) = self.scoped(&[(x.clone(), Kind::Int)], |g| {
                    g.hot(|g| (g.boolean(d), g.int(d)))
                });
                format!(
                    "(or (some ({kw} ({x}) (and {b} {r})) {}) {})",
                    self.list(d),
                    self.int(d)
                )
            }
            24 => format!("(or (first (sort-by {} {})) -1)", self.fn1(d), self.list(d)),
            25 => match self.below(4) {
                0 => format!("(abs {})", self.int(d)),
                1 => format!("(min {} {})", self.int(d), self.int(d)),
                2 => format!("(max {} {})", self.int(d), self.int(d)),
                _ => format!("(inc {})", self.int(d)),
            },
            26 => {
                let p = self.pick(&PREFIXES);
                format!("(len (perform {{:op \"kv-scan\" :prefix \"{p}\"}}))")
            }
            27 => match self.var(Kind::Any) {
                Some(v) => format!("(if (int? {v}) {v} (len (str {v})))"),
                None => self.int_leaf(),
            },
            28 => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let body = self.scoped(&[(x.clone(), Kind::Int)], |g| g.hot(|g| g.stmt(d)));
                let acc = self.var(Kind::Int).unwrap_or_else(|| "0".into());
                format!("(do (for-each ({kw} ({x}) {body}) {}) {acc})", self.list(d))
            }
            29 => {
                // a rest-parameter lambda
                let a = self.name("a");
                let more = self.name("more");
                let body = self
                    .scoped(&[(a.clone(), Kind::Int), (more.clone(), Kind::List)], |g| {
                        g.int(d)
                    });
                let n = self.below(3);
                let args: Vec<String> = (0..=n).map(|_| self.int(d)).collect();
                format!("((fn ({a} &rest {more}) {body}) {})", args.join(" "))
            }
            30 => format!("(floor (sqrt {}))", self.int(d)),
            31 => {
                // a wrong number of arguments, now and then
                let f = self.fn1(d);
                if self.chance(15) {
                    format!("({f} {} {})", self.int(d), self.int(d))
                } else {
                    format!("({f} {})", self.int(d))
                }
            }
            _ => self.common(Kind::Int, d),
        }
    }

    fn boolean(&mut self, d: u32) -> String {
        if !self.spend(d) {
            return match self.below(4) {
                0 => "true".into(),
                1 => "false".into(),
                _ => format!("(< {} {})", self.int_leaf(), self.int_leaf()),
            };
        }
        let d = d - 1;
        match self.below(12) {
            0 => format!("(< {} {})", self.int(d), self.int(d)),
            1 => format!("(= {} {})", self.any(d), self.any(d)),
            2 => format!("(>= {} {})", self.int(d), self.int(d)),
            3 => format!("(and {} {})", self.boolean(d), self.boolean(d)),
            4 => format!("(or {} {})", self.boolean(d), self.boolean(d)),
            5 => format!("(not {})", self.boolean(d)),
            6 => format!("(empty? {})", self.list(d)),
            7 => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let b = self.scoped(&[(x.clone(), Kind::Int)], |g| g.hot(|g| g.boolean(d)));
                format!("(every? ({kw} ({x}) {b}) {})", self.list(d))
            }
            8 => format!("(contains? {} {})", self.list(d), self.int(d)),
            9 => format!("(even? {})", self.int(d)),
            10 => format!("(int? {})", self.any(d)),
            _ => format!("(has-key? {} {})", self.dict(d), self.pick(&DICT_KEYS)),
        }
    }

    // -- lists --------------------------------------------------------------------------

    fn list_leaf(&mut self) -> String {
        if self.chance(60) {
            if let Some(v) = self.var(Kind::List) {
                return v;
            }
        }
        match self.below(4) {
            0 => "(list)".into(),
            1 => "'(1 2 3)".into(),
            2 => format!("(range {})", self.below(6)),
            _ => format!("(list {} {})", self.int_leaf(), self.int_leaf()),
        }
    }

    fn quasi(&mut self, d: u32) -> String {
        let n = self.below(5);
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(match self.below(6) {
                0 => format!("{}", self.below(9)),
                1 | 2 => format!(",{}", self.int(d)),
                3 | 4 => format!(",@{}", self.list(d)),
                _ => format!(
                    ",(let ((q (perform {{:op \"kv-get\" :key {}}}))) (if (int? q) q 0))",
                    self.key()
                ),
            });
        }
        format!("`({})", items.join(" "))
    }

    fn list(&mut self, d: u32) -> String {
        if !self.spend(d) {
            return self.list_leaf();
        }
        let d = d - 1;
        match self.below(30) {
            0..=2 => self.list_leaf(),
            3 => {
                let n = self.below(4);
                let items: Vec<String> = (0..n).map(|_| self.int(d)).collect();
                format!("(list {})", items.join(" "))
            }
            4 | 5 => self.quasi(d),
            6 | 7 => format!("(map {} {})", self.fn1(d), self.list(d)),
            8 => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let b = self.scoped(&[(x.clone(), Kind::Int)], |g| g.hot(|g| g.boolean(d)));
                format!("(filter ({kw} ({x}) {b}) {})", self.list(d))
            }
            9 => format!("(rest {})", self.list(d)),
            10 => format!("(cons {} {})", self.int(d), self.list(d)),
            11 => {
                let n = if self.chance(25) {
                    self.int(d)
                } else {
                    format!("{}", self.below(4))
                };
                format!("(drop {} {n})", self.list(d))
            }
            12 => {
                let n = if self.chance(25) {
                    self.int(d)
                } else {
                    format!("{}", self.below(4))
                };
                format!("(take {} {n})", self.list(d))
            }
            13 => format!("(append {} {})", self.list(d), self.list(d)),
            14 => format!("(reverse {})", self.list(d)),
            15 => format!("(sort-by {} {})", self.fn1(d), self.list(d)),
            16 => {
                let p = self.pick(&PREFIXES);
                let pr = self.name("kv");
                format!("(map (fn ({pr}) (let ((w (nth {pr} 1))) (if (int? w) w (len (first {pr}))))) (perform {{:op \"kv-scan\" :prefix \"{p}\"}}))")
            }
            17 => {
                let v = self.name("r");
                let k = self.key();
                format!(
                    "(let (({v} (perform {{:op \"kv-get\" :key {k}}}))) (if (list? {v}) {v} {}))",
                    self.list(d)
                )
            }
            18 => format!("(apply append (list {} {}))", self.list(d), self.list(d)),
            19 => self.call_rec(true, d),
            20 => {
                // map with a callback that performs
                let x = self.name("x");
                let k = self.key();
                let body = self.scoped(&[(x.clone(), Kind::Int)], |g| g.hot(|g| g.int(d)));
                format!(
                    "(map (fn ({x}) (let ((got (perform {{:op \"kv-get\" :key {k}}}))) (if (int? got) (+ got {body}) {x}))) {})",
                    self.list(d)
                )
            }
            21 => format!("(rest (map {} {}))", self.fn1(d), self.list(d)),
            _ => self.common(Kind::List, d),
        }
    }

    // -- strings, dicts, anything -------------------------------------------------------

    fn string(&mut self, d: u32) -> String {
        if !self.spend(d) || self.chance(30) {
            if self.chance(50) {
                if let Some(v) = self.var(Kind::Str) {
                    return v;
                }
            }
            return format!("\"{}\"", self.pick(&STRINGS));
        }
        let d = d - 1;
        match self.below(6) {
            0 => format!("(str {} {})", self.any(d), self.any(d)),
            1 => format!("(str \"k\" {})", self.int(d)),
            2 => format!("(str {})", self.list(d)),
            3 => {
                let v = self.name("r");
                format!(
                    "(let (({v} (perform {{:op \"kv-get\" :key {}}}))) (str {v}))",
                    self.key()
                )
            }
            _ => self.common(Kind::Str, d),
        }
    }

    fn dict(&mut self, d: u32) -> String {
        if !self.spend(d) || self.chance(30) {
            if self.chance(50) {
                if let Some(v) = self.var(Kind::Dict) {
                    return v;
                }
            }
            return format!("{{:a {} :b 2}}", self.int_leaf());
        }
        let d = d - 1;
        match self.below(6) {
            0 => format!(
                "{{{} {} {} {}}}",
                self.pick(&DICT_KEYS),
                self.int(d),
                self.pick(&DICT_KEYS),
                self.any(d)
            ),
            1 => format!(
                "(assoc {} {} {})",
                self.dict(d),
                self.pick(&DICT_KEYS),
                self.int(d)
            ),
            2 => format!("`{{:a ,{} :l ,{}}}", self.int(d), self.list(d)),
            3 => format!("(dict \"s\" {})", self.any(d)),
            _ => self.common(Kind::Dict, d),
        }
    }

    fn any(&mut self, d: u32) -> String {
        if self.chance(15) {
            if let Some(v) = self.var(Kind::Any) {
                return v;
            }
        }
        match self.below(8) {
            0 | 1 => self.int(d),
            2 | 3 => self.list(d),
            4 => self.string(d),
            5 => self.dict(d),
            6 => format!("(perform {{:op \"kv-get\" :key {}}})", self.key()),
            _ => {
                let p = self.pick(&PREFIXES);
                if self.chance(5) {
                    "(perform {:op \"no-such-op\"})".into()
                } else {
                    format!("(perform {{:op \"kv-scan\" :prefix \"{p}\"}})")
                }
            }
        }
    }

    // -- functions ----------------------------------------------------------------------

    fn fn1(&mut self, d: u32) -> String {
        if !self.spend(d) {
            if let Some(v) = self.var(Kind::Fn1) {
                return v;
            }
            return self.pick(&["inc", "dec", "abs"]).into();
        }
        let d = d - 1;
        match self.below(8) {
            0 => {
                if let Some(v) = self.var(Kind::Fn1) {
                    return v;
                }
                self.pick(&["inc", "dec", "abs"]).into()
            }
            1 => {
                // a closure over a fresh local
                let k = self.name("k");
                let init = self.int(d);
                let f = self.scoped(&[(k.clone(), Kind::Int)], |g| g.fn1(d));
                format!("(let (({k} {init})) {f})")
            }
            2 => format!("(if {} {} {})", self.boolean(d), self.fn1(d), self.fn1(d)),
            3 => {
                // a closure that counts its calls in a captured variable
                match self.var(Kind::Int) {
                    Some(c) => {
                        let x = self.name("x");
                        format!("(fn ({x}) (set! {c} (+ {c} 1)) (+ {x} {c}))")
                    }
                    None => "inc".into(),
                }
            }
            _ => {
                let x = self.name("x");
                let kw = self.fn_kw();
                let body = self.scoped(&[(x.clone(), Kind::Int)], |g| {
                    g.hot(|g| g.body(Kind::Int, d))
                });
                format!("({kw} ({x}) {body})")
            }
        }
    }

    fn fn2(&mut self, d: u32) -> String {
        if !self.spend(d) || self.chance(20) {
            if let Some(v) = self.var(Kind::Fn2) {
                return v;
            }
            return self.pick(&["+", "-", "max", "*"]).into();
        }
        let d = d - 1;
        let a = self.name("a");
        let b = self.name("b");
        let kw = self.fn_kw();
        let body = self.scoped(&[(a.clone(), Kind::Int), (b.clone(), Kind::Int)], |g| {
            g.hot(|g| g.body(Kind::Int, d))
        });
        format!("({kw} ({a} {b}) {body})")
    }

    // -- recursion ----------------------------------------------------------------------

    fn depth(&mut self) -> u32 {
        if self.hot {
            return self.below(4) as u32;
        }
        let deep = if self.deep { 40 } else { 12 };
        if self.chance(deep) {
            self.pick(&[100, 500, 1000, 2000, 3000])
        } else {
            self.below(12) as u32
        }
    }

    fn call_rec(&mut self, list: bool, d: u32) -> String {
        let candidates: Vec<Rec> = self
            .recs
            .iter()
            .filter(|r| r.list == list)
            .cloned()
            .collect();
        if candidates.is_empty() {
            return if list {
                self.list_leaf()
            } else {
                self.int_leaf()
            };
        }
        let r = candidates[self.below(candidates.len())].clone();
        let depth = self.depth();
        if r.acc {
            format!("({} {depth} {})", r.name, self.int(d))
        } else {
            format!("({} {depth})", r.name)
        }
    }

    /// A global recursive function of the depth `n`.
    fn define_rec(&mut self) -> String {
        let name = self.name("rec");
        let n = self.name("n");
        let d = 3;
        let ns = [(n.clone(), Kind::Int)];
        let (text, acc, list) = self.scoped(&ns, |g| {
            g.hot(|g| match g.below(6) {
                0 => {
                    let base = g.int(d);
                    let step = g.int(d);
                    (format!("(define ({name} {n}) (if (<= {n} 0) {base} (+ ({name} (- {n} 1)) {step})))"), false, false)
                }
                1 => {
                    // through a map callback, with a guard and a perform inside
                    let base = g.int(d);
                    let x = g.name("x");
                    let inner = g.scoped(&[(x.clone(), Kind::Int)], |g| g.guard(Kind::Int, d));
                    (format!("(define ({name} {n}) (if (<= {n} 0) {base} (first (map (fn ({x}) {inner}) (list ({name} (- {n} 1)))))))"), false, false)
                }
                2 => {
                    // a guard around every level
                    let base = if g.chance(50) { g.raise(d) } else { g.int(d) };
                    let step = g.int(d);
                    let e = g.name("e");
                    let handler = g.scoped(&[(e.clone(), Kind::Any)], |g| g.int(d));
                    let test = g.pick(&["int?", "string?", "error?", "list?"]);
                    (format!("(define ({name} {n}) (if (<= {n} 0) {base} (guard ({e} (({test} {e}) {handler})) (+ {step} ({name} (- {n} 1))))))"), false, false)
                }
                3 => {
                    // builds a list with quasiquote
                    let step = g.int(d);
                    (format!("(define ({name} {n}) (if (<= {n} 0) (list) `(,{step} ,@({name} (- {n} 1)))))"), false, true)
                }
                4 => {
                    // tail recursion with an accumulator
                    let acc = g.name("acc");
                    let step = g.scoped(&[(acc.clone(), Kind::Int)], |g| g.int(d));
                    (format!("(define ({name} {n} {acc}) (if (<= {n} 0) {acc} ({name} (- {n} 1) {step})))"), true, false)
                }
                _ => {
                    // a perform at every level, then list operations on the result
                    let k = g.key();
                    let step = g.int(d);
                    (format!("(define ({name} {n}) (if (<= {n} 0) (list {step}) (let ((got (perform {{:op \"kv-get\" :key {k}}})) (below ({name} (- {n} 1)))) (cons (if (int? got) (+ got {n}) {n}) (take below 3)))))"), false, true)
                }
            })
        });
        self.recs.push(Rec { name, acc, list });
        text
    }

    /// A whole program: some top-level definitions and statements, then an
    /// expression whose value is the result.
    fn program(&mut self) -> String {
        let mut forms = Vec::new();
        let n = if self.deep {
            1 + self.below(4)
        } else {
            self.below(6)
        };
        let d = 4;
        if self.deep {
            forms.push(self.define_rec());
        }
        for _ in 0..n {
            match self.below(8) {
                0 | 1 => {
                    let k = self.data_kind();
                    let init = self.gen(k, d);
                    let name = self.name("g");
                    forms.push(format!("(define {name} {init})"));
                    self.scope.push((name, k));
                }
                2 => {
                    let name = self.name("f");
                    let x = self.name("x");
                    let body = self.scoped(&[(x.clone(), Kind::Int)], |g| {
                        g.hot(|g| g.body(Kind::Int, d))
                    });
                    forms.push(format!("(define ({name} {x}) {body})"));
                    self.scope.push((name, Kind::Fn1));
                }
                3 => {
                    let name = self.name("f");
                    let a = self.name("a");
                    let b = self.name("b");
                    let body = self
                        .scoped(&[(a.clone(), Kind::Int), (b.clone(), Kind::Int)], |g| {
                            g.hot(|g| g.body(Kind::Int, d))
                        });
                    forms.push(format!("(define ({name} {a} {b}) {body})"));
                    self.scope.push((name, Kind::Fn2));
                }
                4 => forms.push(self.define_rec()),
                5 => {
                    // a global counter and a function that bumps it
                    let c = self.name("count");
                    let f = self.name("bump");
                    let x = self.name("x");
                    forms.push(format!("(define {c} 0)"));
                    forms.push(format!("(define ({f} {x}) (set! {c} (+ {c} {x})) {c})"));
                    self.scope.push((c, Kind::Int));
                    self.scope.push((f, Kind::Fn1));
                }
                _ => forms.push(self.stmt(d)),
            }
        }
        let k = self.data_kind();
        let last = if self.deep && self.chance(70) {
            let list = self.chance(30);
            self.call_rec(list, d)
        } else {
            self.gen(k, 5)
        };
        forms.push(last);
        forms.join("\n")
    }
}

fn generate(bytes: &[u8], deep: bool) -> String {
    Gen::new(bytes, deep).program()
}

/// Runs `cases` random programs (times `SX_TIER_CASES`) on one big-stack thread.
fn property(cases: u32, deep: bool) {
    let scale: u32 = std::env::var("SX_TIER_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let result = with_big_stack(move || {
        let config = Config {
            cases: cases * scale,
            failure_persistence: None,
            // A failing case runs four times per shrinking step; keep it bounded.
            max_shrink_iters: 2_000,
            max_shrink_time: 120_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let known = Cell::new(0u32);
        let rig = RefCell::new(Rig::new());
        let outcome = runner.run(&vec(any::<u8>(), 0..600), |bytes| {
            let src = generate(&bytes, deep);
            match verdict(&mut rig.borrow_mut(), &src) {
                Verdict::Agree => Ok(()),
                Verdict::KnownBug(bug) => {
                    known.set(known.get() + 1);
                    if known.get() == 1 {
                        eprintln!("known tier bug ({bug}) on:\n{src}");
                    }
                    Ok(())
                }
                Verdict::Disagree(report) => Err(TestCaseError::fail(report)),
            }
        });
        if known.get() > 0 {
            eprintln!(
                "{} of {} programs showed only known tier bugs",
                known.get(),
                cases * scale
            );
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(TestError::Fail(reason, bytes)) => Err(format!(
                "{reason}\n(minimal input bytes: {bytes:?}, deep: {deep})"
            )),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(report) = result {
        panic!("{report}");
    }
}

#[test]
fn random_programs_agree_on_every_tier() {
    property(6_000, false);
}

#[test]
fn random_deep_recursive_programs_with_performs_agree_on_every_tier() {
    property(4_000, true);
}

// ---------------------------------------------------------------------------------
// Deterministic regressions.

/// The bug this project learned from: after a `perform` resumed, the first list
/// primitive (`map`, `rest`, `drop`) got misaligned arguments because the
/// suspension had unwound a native `map` loop. A handler performs one to three
/// `kv-get`s (the ones before the last inside a `map` callback, the last inside
/// quasiquote), then calls `map`, `rest` and `drop` on the results.
#[test]
fn reads_in_map_callbacks_and_quasiquote_then_list_primitives() {
    let src = r#"
(perform {:op "kv-put" :key "a" :value 1})
(perform {:op "kv-put" :key "b" :value 2})
(perform {:op "kv-put" :key "c" :value 3})
(define (handler n)
  (let ((keys (take (list "a" "b" "c") (- n 1)))
        (last-key (nth (list "a" "b" "c") (- n 1)))
        (reads (map (fn (k) (perform {:op "kv-get" :key k})) keys))
        (q `(,@reads ,(perform {:op "kv-get" :key last-key}))))
    (list (map (fn (x) (* x 10)) q) (rest q) (drop q 1))))
(define (inline n)
  (map inc (rest `(0 ,@(map (fn (k) (perform {:op "kv-get" :key k}))
                            (take (list "a" "b") (- n 1)))
                     ,(perform {:op "kv-get" :key "c"})))))
(println (handler 1))
(println (handler 2))
(println (handler 3))
(println (inline 1) (inline 2) (inline 3))
(drop (rest (map (fn (k) (perform {:op "kv-get" :key k})) (list "a" "b" "c"))) 1)
"#;
    let o = agreed(src);
    assert_eq!(
        o.stdout,
        "((10) () ())\n((10 20) (2) (2))\n((10 20 30) (2 3) (2 3))\n(4) (2 4) (2 3 4)\n"
    );
    assert_eq!(o.result, Ok("(3)".to_string()));
    assert_eq!(
        o.kv,
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("c".to_string(), "3".to_string()),
        ]
    );
}

/// A `perform` inside a `guard` inside a `map` callback inside a recursive function,
/// 1,000 deep; every hundredth level raises a string that the guard catches, and
/// every write runs exactly once.
#[test]
fn perform_in_guard_in_map_callback_in_deep_recursion() {
    let src = r#"
(perform {:op "kv-put" :key "a" :value 1})
(define calls 0)
(define (walk n)
  (if (= n 0)
      0
      (+ (first (map (fn (x)
                       (guard (e ((string? e) 100))
                         (set! calls (+ calls 1))
                         (perform {:op "kv-put" :key "b" :value n})
                         (let ((v (perform {:op "kv-get" :key "a"})))
                           (if (= (mod n 100) 0) (raise "hundred") (+ v x)))))
                     (list 1)))
         (walk (- n 1)))))
(list (walk 1000) calls)
"#;
    let o = agreed(src);
    assert_eq!(o.result, Ok("(2980 1000)".to_string()));
    assert_eq!(
        o.kv,
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "1".to_string()),
        ]
    );
}

/// Errors agree too: overflow, division by zero and a re-raising guard.
#[test]
fn errors_agree_on_every_tier() {
    for (src, message) in [
        ("(* 4611686018427387904 2)", "overflow"),
        ("(map (fn (x) (/ 10 x)) (list 1 0))", "division by zero"),
        (
            "(guard (e ((string? e) 0)) (perform {:op \"kv-get\" :key \"a\"}) (error \"boom\" 1))",
            "boom 1",
        ),
    ] {
        let o = agreed(src);
        match &o.result {
            Err(m) => assert!(m.contains(message), "{src}: {m:?} lacks {message:?}"),
            Ok(v) => panic!("{src}: expected an error, got {v}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Disagreements found by the property, minimised; ignored until fixed in `lang/`.

/// Found by the property: since the tiering layer an error escaping a VM frame is
/// re-run on the CEK, and a guard that did not match re-raised at every level of a
/// recursion, each level re-running everything below it (exponential time on the VM,
/// which ran out of fuel where the CEK made 41 calls). Re-raises, and anything raised
/// after the activation's own guard caught, are now propagation, never re-run.
#[test]
fn reraising_guards_in_recursion_agree_on_every_tier() {
    let o = agreed(
        "(define (r n) (if (<= n 0) (raise 0) (guard (e ((string? e) 1)) (+ 1 (r (- n 1))))))\n(r 40)",
    );
    assert_eq!(o.result, Err("0 @ prop.sx:1:28".to_string()));
    let deep = agreed(
        "(define (r n) (if (<= n 0) (error \"x\") (guard (e ((string? e) 1) (true (raise e))) (+ 1 (r (- n 1))))))\n(r 1000)",
    );
    assert_eq!(deep.result, Err("x @ prop.sx:1:28".to_string()));
    // Found by the property next: a handler raising a *new* error at every level. A
    // re-run on the CEK now runs all its callees on the CEK too, and an activation
    // whose guard has caught is not re-run, so this stays linear on the VM.
    let translated = agreed(
        "(define (r n) (if (<= n 0) (error \"boom\") (guard (e ((error? e) (error \"bad thing\"))) (+ 1 (r (- n 1))))))\n(r 500)",
    );
    assert_eq!(
        translated.result,
        Err("bad thing @ prop.sx:1:65".to_string())
    );
}

/// A guard that re-raises a value that is not an error value: before 1640ff0 the
/// CEK reported it with no location and the VM at the enclosing top-level form.
/// Both now report the `raise`.
#[test]
fn reraised_non_error_values_are_located_alike_on_every_tier() {
    let o = agreed("(define (f) (guard (e ((string? e) 1)) (raise 5)))\n(f)");
    assert_eq!(o.result, Err("5 @ prop.sx:1:40".to_string()));
}

/// Found by the random programs (60,000 cases): an error raised by the first
/// callback of a higher-order call, inside a guard of a VM function, was taken for a
/// fault of that function although the function was already saved below the loop;
/// the re-run cut its stack slots and the guard's handler then indexed past the
/// stack (a panic). Such a raise is ordinary unwinding: the guard sees it.
#[test]
fn a_raise_from_a_loops_first_callback_unwinds_to_the_callers_guard() {
    for (src, expected) in [
        (
            "(define (f x) (guard (e ((= e 0) 1)) (reduce * -9223372036854775807 (list 2 -3)))) (f 1)",
            Err("*: integer overflow"),
        ),
        (
            "(define (f x) (guard (e (true (list :caught x))) (reduce * -9223372036854775807 (list 2 -3)))) (f 1)",
            Ok("(:caught 1)"),
        ),
        (
            "(for-each (fn (x1) (print (guard (e2 ((= e2 0) (guard (e3) -3))) (reduce * -9223372036854775807 (list 2 -3))) \" \")) (cons -3 (list)))",
            Err("*: integer overflow"),
        ),
        (
            "(define (g x) (guard (e (true :caught)) (map (fn (y) (/ 1 y)) (list 0 1)))) (g 1)",
            Ok(":caught"),
        ),
    ] {
        let o = agreed(src);
        match (&o.result, expected) {
            (Err(m), Err(want)) => assert!(m.contains(want), "{src}: {m:?} lacks {want:?}"),
            (Ok(v), Ok(want)) => assert_eq!(v, want, "{src}"),
            (got, want) => panic!("{src}: got {got:?}, expected {want:?}"),
        }
    }
}
