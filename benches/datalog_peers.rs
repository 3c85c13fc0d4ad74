//! SX's Datalog engine against peers on the reference workloads in `shared/bench`
//! (`tc_a`, `sg`, `pta`; `tc_b` on request), on the same in-memory tuples, plus the
//! incremental case: one edge added to a saturated 10,000-node transitive closure.
//! Peers: datafrog 2 (hand-joined), ascent 0.8 (serial) and crepe 0.2 (with foldhash,
//! hashbrown's default hasher), each given the same `(u32, u32)` tuples.
//! Run: `cargo bench -p sx-benches --bench datalog_peers`; `SX_BENCH_TC_B=1` adds tc_b
//! for SX and datafrog, `SX_BENCH_TC_B=all` also for ascent and crepe (about 20 s per
//! iteration each).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use datafrog::{Iteration, Relation};
use datalog::{Database, Retraction, Value};
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

ascent::ascent! {
    struct AscentTc;
    relation edge(u32, u32);
    relation path(u32, u32);
    path(x, y) <-- edge(x, y);
    path(x, z) <-- path(x, y), edge(y, z);
}

ascent::ascent! {
    struct AscentSg;
    relation parent(u32, u32);
    relation sg(u32, u32);
    sg(x, y) <-- parent(x, p), parent(y, p), if x != y;
    sg(x, y) <-- parent(x, a), sg(a, b), parent(y, b);
}

ascent::ascent! {
    struct AscentPta;
    relation address_of(u32, u32);
    relation assign(u32, u32);
    relation load(u32, u32);
    relation store(u32, u32);
    relation pt(u32, u32);
    pt(v, o) <-- address_of(v, o);
    pt(v, o) <-- assign(v, w), pt(w, o);
    pt(v, o) <-- load(v, w), pt(w, q), pt(q, o);
    pt(q, o) <-- store(v, w), pt(v, q), pt(w, o);
}

fn ascent_tc(edges: &[(u32, u32)]) -> usize {
    let mut p = AscentTc {
        edge: edges.to_vec(),
        ..Default::default()
    };
    p.run();
    p.path.len()
}

fn ascent_sg(parent: &[(u32, u32)]) -> usize {
    let mut p = AscentSg {
        parent: parent.to_vec(),
        ..Default::default()
    };
    p.run();
    p.sg.len()
}

fn ascent_pta(
    addr: &[(u32, u32)],
    assign: &[(u32, u32)],
    load: &[(u32, u32)],
    store: &[(u32, u32)],
) -> usize {
    let mut p = AscentPta {
        address_of: addr.to_vec(),
        assign: assign.to_vec(),
        load: load.to_vec(),
        store: store.to_vec(),
        ..Default::default()
    };
    p.run();
    p.pt.len()
}

mod crepe_tc {
    crepe::crepe! {
        @input
        pub struct Edge(pub u32, pub u32);
        @output
        pub struct Path(pub u32, pub u32);
        Path(x, y) <- Edge(x, y);
        Path(x, z) <- Path(x, y), Edge(y, z);
    }
}

mod crepe_sg {
    crepe::crepe! {
        @input
        pub struct Parent(pub u32, pub u32);
        @output
        pub struct Sg(pub u32, pub u32);
        Sg(x, y) <- Parent(x, p), Parent(y, p), (x != y);
        Sg(x, y) <- Parent(x, a), Sg(a, b), Parent(y, b);
    }
}

mod crepe_pta {
    crepe::crepe! {
        @input
        pub struct AddressOf(pub u32, pub u32);
        @input
        pub struct Assign(pub u32, pub u32);
        @input
        pub struct Load(pub u32, pub u32);
        @input
        pub struct Store(pub u32, pub u32);
        @output
        pub struct Pt(pub u32, pub u32);
        Pt(v, o) <- AddressOf(v, o);
        Pt(v, o) <- Assign(v, w), Pt(w, o);
        Pt(v, o) <- Load(v, w), Pt(w, q), Pt(q, o);
        Pt(q, o) <- Store(v, w), Pt(v, q), Pt(w, o);
    }
}

type Foldhash = hashbrown::DefaultHashBuilder;

fn crepe_tc(edges: &[(u32, u32)]) -> usize {
    let mut rt = crepe_tc::Crepe::new();
    rt.extend(edges.iter().map(|&(a, b)| crepe_tc::Edge(a, b)));
    let (path,) = rt.run_with_hasher::<Foldhash>();
    path.len()
}

fn crepe_sg(parent: &[(u32, u32)]) -> usize {
    let mut rt = crepe_sg::Crepe::new();
    rt.extend(parent.iter().map(|&(a, b)| crepe_sg::Parent(a, b)));
    let (sg,) = rt.run_with_hasher::<Foldhash>();
    sg.len()
}

fn crepe_pta(
    addr: &[(u32, u32)],
    assign: &[(u32, u32)],
    load: &[(u32, u32)],
    store: &[(u32, u32)],
) -> usize {
    use crepe_pta::*;
    let mut rt = Crepe::new();
    rt.extend(addr.iter().map(|&(a, b)| AddressOf(a, b)));
    rt.extend(assign.iter().map(|&(a, b)| Assign(a, b)));
    rt.extend(load.iter().map(|&(a, b)| Load(a, b)));
    rt.extend(store.iter().map(|&(a, b)| Store(a, b)));
    let (pt,) = rt.run_with_hasher::<Foldhash>();
    pt.len()
}

/// Every engine must derive the same number of tuples before it is timed.
fn check_agreement(workload: &str, counts: &[(&str, usize)]) {
    let (first, n) = counts[0];
    for &(engine, m) in &counts[1..] {
        assert_eq!(m, n, "{workload}: {engine} derives {m} tuples, {first} {n}");
    }
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
    let pta_facts = [
        ("addressOf", addr.clone()),
        ("assign", assign.clone()),
        ("load", load.clone()),
        ("store", store.clone()),
    ];
    check_agreement(
        "tc_a",
        &[
            ("sx", sx_run("tc_a", &[("edge", tc_a.clone())], "path")),
            ("datafrog", frog_tc(&tc_a)),
            ("ascent", ascent_tc(&tc_a)),
            ("crepe", crepe_tc(&tc_a)),
        ],
    );
    check_agreement(
        "sg",
        &[
            ("sx", sx_run("sg", &[("parent", sg.clone())], "sg")),
            ("datafrog", frog_sg(&sg)),
            ("ascent", ascent_sg(&sg)),
            ("crepe", crepe_sg(&sg)),
        ],
    );
    check_agreement(
        "pta",
        &[
            ("sx", sx_run("pta", &pta_facts, "pt")),
            ("datafrog", frog_pta(&addr, &assign, &load, &store)),
            ("ascent", ascent_pta(&addr, &assign, &load, &store)),
            ("crepe", crepe_pta(&addr, &assign, &load, &store)),
        ],
    );
    let mut g = c.benchmark_group("datalog");
    g.sample_size(10);
    g.bench_function("tc_a/sx", |b| {
        b.iter(|| sx_run("tc_a", &[("edge", tc_a.clone())], "path"))
    });
    g.bench_function("tc_a/datafrog", |b| b.iter(|| frog_tc(&tc_a)));
    g.bench_function("tc_a/ascent", |b| b.iter(|| ascent_tc(&tc_a)));
    g.bench_function("tc_a/crepe", |b| b.iter(|| crepe_tc(&tc_a)));
    g.bench_function("sg/sx", |b| {
        b.iter(|| sx_run("sg", &[("parent", sg.clone())], "sg"))
    });
    g.bench_function("sg/datafrog", |b| b.iter(|| frog_sg(&sg)));
    g.bench_function("sg/ascent", |b| b.iter(|| ascent_sg(&sg)));
    g.bench_function("sg/crepe", |b| b.iter(|| crepe_sg(&sg)));
    g.bench_function("pta/sx", |b| b.iter(|| sx_run("pta", &pta_facts, "pt")));
    g.bench_function("pta/datafrog", |b| {
        b.iter(|| frog_pta(&addr, &assign, &load, &store))
    });
    g.bench_function("pta/ascent", |b| {
        b.iter(|| ascent_pta(&addr, &assign, &load, &store))
    });
    g.bench_function("pta/crepe", |b| {
        b.iter(|| crepe_pta(&addr, &assign, &load, &store))
    });
    if let Ok(which) = std::env::var("SX_BENCH_TC_B") {
        let tc_b = pairs("tc_b", "edge");
        g.bench_function("tc_b/sx", |b| {
            b.iter(|| sx_run("tc_b", &[("edge", tc_b.clone())], "path"))
        });
        g.bench_function("tc_b/datafrog", |b| b.iter(|| frog_tc(&tc_b)));
        if which == "all" {
            g.bench_function("tc_b/ascent", |b| b.iter(|| ascent_tc(&tc_b)));
            g.bench_function("tc_b/crepe", |b| b.iter(|| crepe_tc(&tc_b)));
        }
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
    // Retraction: one input fact retracted from a saturated workload, then saturated
    // again by delete and rederive (against recomputing everything).
    for (workload, rel, nth) in [("sg", "parent", 5000), ("pta", "addressOf", 5000)] {
        let prog = program(workload);
        let inputs: Vec<(String, Vec<(u32, u32)>)> =
            ["parent", "addressOf", "assign", "load", "store"]
                .iter()
                .filter(|r| prog.contains(&format!(".input {r}")))
                .map(|r| (r.to_string(), pairs(workload, r)))
                .collect();
        let facts = &inputs.iter().find(|(r, _)| r == rel).expect("input").1;
        let (victim, first) = (facts[nth], facts[nth + 1]);
        let fact = |p: (u32, u32)| [Value::Number(p.0 as i64), Value::Number(p.1 as i64)];
        for retraction in [Retraction::Adaptive, Retraction::Recompute] {
            let name = format!(
                "{workload}/retract_one_{rel}/{}",
                if retraction == Retraction::Adaptive {
                    "rederive"
                } else {
                    "recompute"
                }
            );
            g.bench_function(name, |b| {
                b.iter_batched_ref(
                    || {
                        let mut db = Database::new();
                        db.set_retraction(retraction);
                        db.add_rules(&prog, "prog.dl").expect("program");
                        for (r, ps) in &inputs {
                            db.add_facts(
                                r,
                                ps.iter().map(|&(a, b)| {
                                    [Value::Number(a as i64), Value::Number(b as i64)]
                                }),
                            )
                            .expect("facts");
                        }
                        db.saturate().expect("saturate");
                        // The first retraction builds reverse rows the later ones reuse;
                        // measure the steady state after it.
                        assert!(db.retract_fact(rel, &fact(first)).expect("retract"));
                        db.saturate().expect("saturate");
                        db
                    },
                    |db| {
                        assert!(db.retract_fact(rel, &fact(victim)).expect("retract"));
                        db.saturate().expect("saturate")
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, peers, incremental);
criterion_main!(benches);
