//! SX code on each evaluator tier (CEK, VM): fib(25), a 100,000-element
//! map/filter/reduce pipeline, and string building.
//!
//! Run: `cargo bench -p sx-benches --bench sx_tiers`

use criterion::{criterion_group, criterion_main, Criterion};
use lang::{Interp, Outcome, Tier, Value};

/// The allocator the `sx` binary uses, so these figures are the binary's.
#[global_allocator]
static GLOBAL: sx::allocator::Allocator = sx::allocator::Allocator;

const FIB: &str = "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))";
const PIPELINE: &str = "(define xs (range 100000))
(define (run) (reduce + 0 (filter (fn (x) (= 0 (mod x 3))) (map (fn (x) (* x x)) xs))))";
const STRINGS: &str = "(define (build n) (let loop ((i 0) (acc \"\")) (if (= i n) (len acc) (loop (+ i 1) (str acc i \",\")))))
(define (run) (build 2000))";

/// Loads `defs` into a fresh interpreter and returns it with `entry` to call.
fn setup(defs: &str, entry: &str, tier: Tier) -> (Interp, Value) {
    let mut i = Interp::with_output(Box::new(std::io::sink()));
    i.set_tier(tier);
    match i.run_source(defs, "bench") {
        Outcome::Done(_) => {}
        _ => panic!("bench definitions failed"),
    }
    let f = i.global(entry).expect("entry defined");
    (i, f)
}

fn call(i: &mut Interp, f: &Value, args: Vec<Value>) -> Value {
    match i.call(f, args) {
        Outcome::Done(v) => v,
        _ => panic!("bench call failed"),
    }
}

fn tiers(c: &mut Criterion) {
    for (name, tier) in [("cek", Tier::Cek), ("vm", Tier::Vm)] {
        let mut g = c.benchmark_group(name);
        let (mut i, fib) = setup(FIB, "fib", tier);
        g.bench_function("fib25", |b| {
            b.iter(|| call(&mut i, &fib, vec![Value::Int(25)]))
        });
        let (mut i, run) = setup(PIPELINE, "run", tier);
        g.bench_function("pipeline100k", |b| b.iter(|| call(&mut i, &run, vec![])));
        let (mut i, run) = setup(STRINGS, "run", tier);
        g.bench_function("strings2000", |b| b.iter(|| call(&mut i, &run, vec![])));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = tiers
}
criterion_main!(benches);
