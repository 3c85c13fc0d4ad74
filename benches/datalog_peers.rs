//! SX's Datalog engine against peers on the reference workloads in `shared/bench`
//! (`tc_a`, `sg`, `pta`; `tc_b` with few samples), on the same in-memory tuples, plus the
//! incremental case: one edge added to a saturated 10,000-node transitive closure.
//! Peers here: datafrog. Run: `cargo bench -p sx-benches --bench datalog_peers`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use datafrog::{Iteration, Relation};
use datalog::{Database, Value};
use std::path::Path;

fn pairs(workload: &str, rel: &str) -> Vec<(u32, u32)> {
    let path = sx_benches::shared_bench_dir()
        .join(workload)
        .join("facts")
        .join(format!("{rel}.facts"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l
                .split('\t')
                .map(|x| x.trim().parse::<u32>().expect("number"));
            (it.next().expect("col 0"), it.next().expect("col 1"))
        })
        .collect()
}

fn program(workload: &str) -> String {
    std::fs::read_to_string(
        sx_benches::shared_bench_dir()
            .join(workload)
            .join("prog.dl"),
    )
    .expect("prog.dl")
}

/// Builds, loads and saturates; returns the size of `out`.
fn sx_run(workload: &str, facts: &[(&str, Vec<(u32, u32)>)], out: &str) -> usize {
    let mut db = Database::new();
    db.add_rules(
        &program(workload),
        Path::new(workload).join("prog.dl").to_str().unwrap(),
    )
    .expect("program");
    for (rel, ts) in facts {
        db.add_facts(
            rel,
            ts.iter()
                .map(|&(a, b)| [Value::Number(a as i64), Value::Number(b as i64)]),
        )
        .expect("facts");
    }
    db.saturate().expect("saturate");
    db.size(out).expect("size")
}

fn frog_tc(edges: &[(u32, u32)]) -> usize {
    let mut it = Iteration::new();
    let by_src: Relation<(u32, u32)> = edges.iter().copied().collect();
    // path(x, y) stored as (y, x) to join on y.
    let path = it.variable::<(u32, u32)>("path");
    path.extend(edges.iter().map(|&(x, y)| (y, x)));
    while it.changed() {
        path.from_join(&path, &by_src, |_y, &x, &z| (z, x));
    }
    path.complete().len()
}

fn frog_sg(parent: &[(u32, u32)]) -> usize {
    let mut it = Iteration::new();
    let by_parent: Relation<(u32, u32)> = parent.iter().map(|&(c, p)| (p, c)).collect();
    let sg = it.variable::<(u32, u32)>("sg");
    let tmp = it.variable::<(u32, u32)>("tmp");
    let base: Relation<(u32, u32)> =
        Relation::from_join(&by_parent, &by_parent, |_p, &x, &y| (x, y));
    sg.extend(base.iter().filter(|(x, y)| x != y).copied());
    while it.changed() {
        // sg(x, y) :- parent(x, a), sg(a, b), parent(y, b).
        tmp.from_join(&sg, &by_parent, |_a, &b, &x| (b, x));
        sg.from_join(&tmp, &by_parent, |_b, &x, &y| (x, y));
    }
    sg.complete().len()
}

fn frog_pta(
    addr: &[(u32, u32)],
    assign: &[(u32, u32)],
    load: &[(u32, u32)],
    store: &[(u32, u32)],
) -> usize {
    let mut it = Iteration::new();
    let assign_by_w: Relation<(u32, u32)> = assign.iter().map(|&(v, w)| (w, v)).collect();
    let load_by_w: Relation<(u32, u32)> = load.iter().map(|&(v, w)| (w, v)).collect();
    let store_by_v: Relation<(u32, u32)> = store.iter().copied().collect();
    let pt = it.variable::<(u32, u32)>("pt");
    let t_load = it.variable::<(u32, u32)>("t_load");
    let t_store = it.variable::<(u32, u32)>("t_store");
    pt.extend(addr.iter().copied());
    while it.changed() {
        pt.from_join(&pt, &assign_by_w, |_w, &o, &v| (v, o));
        t_load.from_join(&pt, &load_by_w, |_w, &q, &v| (q, v));
        pt.from_join(&t_load, &pt, |_q, &v, &o| (v, o));
        t_store.from_join(&pt, &store_by_v, |_v, &q, &w| (w, q));
        pt.from_join(&t_store, &pt, |_w, &q, &o| (q, o));
    }
    pt.complete().len()
}

fn peers(c: &mut Criterion) {
    let tc_a = pairs("tc_a", "edge");
    let sg = pairs("sg", "parent");
    let (addr, assign, load, store) = (
        pairs("pta", "addressOf"),
        pairs("pta", "assign"),
        pairs("pta", "load"),
        pairs("pta", "store"),
    );
    let mut g = c.benchmark_group("datalog");
    g.sample_size(10);
    g.bench_function("tc_a/sx", |b| {
        b.iter(|| sx_run("tc_a", &[("edge", tc_a.clone())], "path"))
    });
    g.bench_function("tc_a/datafrog", |b| b.iter(|| frog_tc(&tc_a)));
    g.bench_function("sg/sx", |b| {
        b.iter(|| sx_run("sg", &[("parent", sg.clone())], "sg"))
    });
    g.bench_function("sg/datafrog", |b| b.iter(|| frog_sg(&sg)));
    let pta_facts = [
        ("addressOf", addr.clone()),
        ("assign", assign.clone()),
        ("load", load.clone()),
        ("store", store.clone()),
    ];
    g.bench_function("pta/sx", |b| b.iter(|| sx_run("pta", &pta_facts, "pt")));
    g.bench_function("pta/datafrog", |b| {
        b.iter(|| frog_pta(&addr, &assign, &load, &store))
    });
    if std::env::var_os("SX_BENCH_TC_B").is_some() {
        let tc_b = pairs("tc_b", "edge");
        g.bench_function("tc_b/sx", |b| {
            b.iter(|| sx_run("tc_b", &[("edge", tc_b.clone())], "path"))
        });
        g.bench_function("tc_b/datafrog", |b| b.iter(|| frog_tc(&tc_b)));
    }
    g.finish();
}

/// One edge added to a saturated closure over tc_b's 10,000-node graph: each iteration
/// adds an edge from a fresh node into the graph and saturates incrementally (about
/// 31M tuples saturated; the new edge adds one row of reachable nodes).
fn incremental(c: &mut Criterion) {
    let edges = pairs("tc_b", "edge");
    let mut g = c.benchmark_group("datalog_incremental");
    g.sample_size(10);
    g.bench_function("tc_b/add_one_edge", |b| {
        b.iter_batched_ref(
            || {
                let mut db = Database::new();
                db.add_rules(&program("tc_b"), "tc_b/prog.dl")
                    .expect("program");
                db.add_facts(
                    "edge",
                    edges
                        .iter()
                        .map(|&(a, b)| [Value::Number(a as i64), Value::Number(b as i64)]),
                )
                .expect("facts");
                db.saturate().expect("saturate");
                // The first update builds the reverse rows of `path` once; measure the
                // steady state after it.
                db.add_fact(
                    "edge",
                    &[Value::Number(20_001), Value::Number(edges[1].0 as i64)],
                )
                .expect("fact");
                db.saturate().expect("saturate");
                db
            },
            |db| {
                db.add_fact(
                    "edge",
                    &[Value::Number(20_000), Value::Number(edges[0].0 as i64)],
                )
                .expect("fact");
                db.saturate().expect("saturate")
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, peers, incremental);
criterion_main!(benches);
