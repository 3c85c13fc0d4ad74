//! Saturation tier against tier: the same `dl-*` program run by the pure-SX library on
//! the CEK (`jit off`, `dl-*` excluded), by the pure-SX library on the VM (`jit eager`,
//! `(dl-program :sx)`) and by the Rust engine (`(dl-program)`).
//!
//! Workloads (fixed seeds): transitive closure on random graphs of 300 and 1,000 nodes
//! with 2 out-edges per node, same generation on a binary tree of 127 nodes, and a blog
//! (200 posts with 3 of 25 tags each; related posts by shared tag; tag co-occurrence
//! counts). Each iteration builds a fresh program, adds the facts and rules one call at
//! a time, saturates and runs one query.
//!
//! A second group, `engine-stages`, splits the engine's time on the same workloads; a
//! third, `blog200-write` (and `blog2000-write`, engine only), times a write and a read
//! on the saturated blog.
//!
//! Run: `cargo bench -p sx-benches --bench datalog_tiers` (the 1,000-node closure takes
//! tens of seconds per run on the SX tiers; filter it out with `-- 'tc300|sg|blog'`).

use criterion::{criterion_group, criterion_main, Criterion};
use lang::tiering::JitMode;
use lang::{Interp, Outcome, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// The allocator the `sx` binary uses, so these figures are the binary's.
#[global_allocator]
static GLOBAL: sx::allocator::Allocator = sx::allocator::Allocator;

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `(define (run mk) …)`: makes a program with `mk`, loads `facts` and `rules`,
/// saturates and answers how many tuples `query` matches.
fn workload(facts: &[String], rules: &[&str], query: &str) -> String {
    let mut s = String::from("(define facts '(");
    for f in facts {
        s.push_str(f);
        s.push(' ');
    }
    s.push_str("))\n(define (run mk)\n  (let ((db (mk)))\n    (for-each (fn (f) (dl-add-fact! db f)) facts)\n");
    for r in rules {
        let _ = writeln!(s, "    (dl-add-rule! db '{r})");
    }
    let _ = writeln!(
        s,
        "    (dl-saturate! db)\n    (len (dl-query db '{query}))))"
    );
    s
}

fn transitive_closure(nodes: u64) -> String {
    let mut g = Lcg(42);
    let mut edges = std::collections::BTreeSet::new();
    for i in 0..nodes {
        for _ in 0..2 {
            edges.insert((i, g.below(nodes)));
        }
    }
    let facts: Vec<String> = edges
        .iter()
        .map(|(a, b)| format!("(edge {a} {b})"))
        .collect();
    workload(
        &facts,
        &[
            "(<- (path X Y) (edge X Y))",
            "(<- (path X Z) (path X Y) (edge Y Z))",
        ],
        "(path 0 X)",
    )
}

/// Same generation on a complete binary tree of `depth` levels: `(par child parent)`.
fn same_generation(depth: u32) -> String {
    let n = (1u64 << depth) - 1;
    let facts: Vec<String> = (1..n)
        .map(|c| format!("(par {c} {})", (c - 1) / 2))
        .collect();
    workload(
        &facts,
        &[
            "(<- (sg X Y) (par X P) (par Y P) (!= X Y))",
            "(<- (sg X Y) (par X A) (sg A B) (par Y B))",
        ],
        "(sg X Y)",
    )
}

fn blog(posts: u64, tags: u64) -> String {
    blog_rules(posts, tags, 4)
}

/// The blog workload with only its first `nrules` rules.
fn blog_rules(posts: u64, tags: u64, nrules: usize) -> String {
    let mut g = Lcg(7);
    let mut facts = std::collections::BTreeSet::new();
    for p in 0..posts {
        for _ in 0..3 {
            facts.insert(format!("(tagged {p} \"tag{}\")", g.below(tags)));
        }
    }
    let facts: Vec<String> = facts.into_iter().collect();
    workload(
        &facts,
        &[
            "(<- (tag T) (tagged _ T))",
            "(<- (related P Q) (tagged P T) (tagged Q T) (!= P Q))",
            "(<- (cooc T U N) (tag T) (tag U) (!= T U) (count N P (and (tagged P T) (tagged P U))))",
            "(<- (popular T) (cooc T _ N) (> N 5))",
        ][..nrules],
        "(cooc T U N)",
    )
}

/// The three ways of running the library.
const TIERS: [(&str, JitMode, &str); 3] = [
    (
        "sx-cek",
        JitMode::Off,
        "(jit-exclude! \"dl-*\") (define (mk) (dl-program))",
    ),
    ("sx-vm", JitMode::Eager, "(define (mk) (dl-program :sx))"),
    ("engine", JitMode::Eager, "(define (mk) (dl-program))"),
];

/// An interpreter with the library, `program` and the tier's `mk`; returns it with
/// `run` and `mk`.
fn setup(program: &str, mode: JitMode, prelude: &str) -> (Interp, Value, Value) {
    let mut i = Interp::with_output(Box::new(std::io::sink()));
    i.policy.set_mode(mode);
    // As the `sx` binary does: garbage programs are collected by heap growth.
    i.cycles.set_heap_probe(sx::allocator::heap_bytes);
    bridge::install(&mut i).expect("the dl-* library loads");
    match i.run_source(&format!("{prelude}\n{program}"), "bench") {
        Outcome::Done(_) => {}
        _ => panic!("bench definitions failed"),
    }
    let run = i.global("run").expect("run defined");
    let mk = i.global("mk").expect("mk defined");
    (i, run, mk)
}

fn call(i: &mut Interp, f: &Value, args: Vec<Value>) -> Value {
    match i.call(f, args) {
        Outcome::Done(v) => v,
        Outcome::Error(e) => panic!("bench call failed: {}", e.message()),
        Outcome::Perform(..) => panic!("bench call performed"),
    }
}

fn tiers(c: &mut Criterion) {
    let workloads = [
        ("tc300", transitive_closure(300)),
        ("tc1000", transitive_closure(1000)),
        ("sg127", same_generation(7)),
        ("blog200", blog(200, 25)),
    ];
    for (name, program) in &workloads {
        let mut g = c.benchmark_group(*name);
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(100));
        g.measurement_time(Duration::from_secs(2));
        let mut answers = Vec::new();
        for (tier, mode, prelude) in TIERS {
            let (mut i, run, mk) = setup(program, mode, prelude);
            g.bench_function(tier, |b| {
                b.iter(|| answers.push(call(&mut i, &run, vec![mk.clone()])))
            });
        }
        let mut distinct: Vec<String> = answers.iter().map(lang::printer::repr).collect();
        distinct.dedup();
        assert!(distinct.len() <= 1, "{name}: tiers disagree: {distinct:?}");
        g.finish();
    }
}

/// Where the engine's time goes: each workload again with less of it, on the engine
/// only. A ground query (one answer) leaves out building the answers; the blog with
/// its first one, two or three rules splits adding the facts (from SX, one call
/// each) and each rule's saturation.
fn engine_stages(c: &mut Criterion) {
    let ground = |program: String, query: &str, ground: &str| {
        assert!(program.contains(query));
        program.replace(query, ground)
    };
    let stages = [
        (
            "sg127-one-answer",
            ground(same_generation(7), "'(sg X Y)", "'(sg 1 2)"),
        ),
        (
            "blog200-facts",
            ground(blog_rules(200, 25, 1), "'(cooc T U N)", "'(tag \"tag1\")"),
        ),
        (
            "blog200-related",
            ground(blog_rules(200, 25, 2), "'(cooc T U N)", "'(tag \"tag1\")"),
        ),
        (
            "blog200-cooc",
            ground(blog_rules(200, 25, 3), "'(cooc T U N)", "'(tag \"tag1\")"),
        ),
        (
            "blog200-one-answer",
            ground(
                blog(200, 25),
                "'(cooc T U N)",
                "'(cooc \"tag1\" \"tag2\" 3)",
            ),
        ),
    ];
    let mut g = c.benchmark_group("engine-stages");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(2));
    let (mode, prelude) = (TIERS[2].1, TIERS[2].2);
    for (name, program) in &stages {
        let (mut i, run, mk) = setup(program, mode, prelude);
        g.bench_function(*name, |b| b.iter(|| call(&mut i, &run, vec![mk.clone()])));
    }
    g.finish();
}

/// Writes to a saturated blog, as a blog host makes them: a new post gains a tag and its
/// related posts are read, then it loses the tag and the tag's co-occurrence
/// counts are read. The engine maintains its relations incrementally; the SX library
/// saturates again after each change.
fn writes(c: &mut Criterion) {
    let write = |posts: u64, tags: u64| {
        format!(
            "{}\n(define db (mk))\n(run (fn () db))\n(define (write)\n  (dl-add-fact! db '(tagged 5000 \"tag3\"))\n  (len (dl-query db '(related 5000 X)))\n  (dl-retract! db '(tagged 5000 \"tag3\"))\n  (len (dl-query db '(cooc \"tag3\" U N))))",
            blog(posts, tags)
        )
    };
    // The 200-post blog on every tier; ten times the posts and four times the tags on
    // the engine alone (the SX library saturates again after each write: seconds).
    for (name, program, tiers) in [
        ("blog200-write", write(200, 25), &TIERS[..]),
        ("blog2000-write", write(2000, 100), &TIERS[2..]),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(100));
        g.measurement_time(Duration::from_secs(2));
        let mut answers = Vec::new();
        for &(tier, mode, prelude) in tiers {
            let (mut i, _, _) = setup(&program, mode, prelude);
            let write = i.global("write").expect("write defined");
            g.bench_function(tier, |b| {
                b.iter(|| answers.push(call(&mut i, &write, Vec::new())))
            });
        }
        let mut distinct: Vec<String> = answers.iter().map(lang::printer::repr).collect();
        distinct.dedup();
        assert!(distinct.len() <= 1, "{name}: tiers disagree: {distinct:?}");
        g.finish();
    }
}

criterion_group!(benches, tiers, engine_stages, writes);
criterion_main!(benches);
