//! The `relations` crate on a 100,000-node, 300,000-edge graph of three kinds: a
//! random tree of `parent` edges (node `i`'s parent drawn from `[i/2, i)`), 100,000
//! random `related` edges (symmetric) and 100,000 random `link` edges, with petgraph
//! as the peer: a `DiGraph` built once from the same edges (the build timed too), each
//! query computed on it from scratch.
//!
//! Groups: `write` (relate then unrelate one edge), `reachable`, `path` (depth 20 in
//! the tree), `components` (of `related`), `topo-order` (of `parent`). Load time, the
//! engine's heap and the process's peak memory are printed once at the start.
//!
//! Run: `cargo bench -p sx-benches --bench relations -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, Criterion};
use petgraph::graph::{DiGraph, NodeIndex, UnGraph};
use relations::{Graph, Kind};
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

/// The allocator the `sx` binary uses.
#[global_allocator]
static GLOBAL: sx::allocator::Allocator = sx::allocator::Allocator;

const N: usize = 100_000;
const EXTRA: usize = 100_000;

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

struct Workload {
    names: Vec<String>,
    parent: Vec<usize>,
    edges: Vec<(usize, usize, &'static str)>,
}

fn workload() -> Workload {
    let mut r = Lcg(42);
    let names: Vec<String> = (0..N).map(|i| format!("n{i}")).collect();
    let mut parent = vec![0; N];
    let mut edges = Vec::with_capacity(N - 1 + 2 * EXTRA);
    for (i, p) in parent.iter_mut().enumerate().skip(1) {
        let lo = i / 2;
        *p = lo + r.below((i - lo) as u64) as usize;
        edges.push((*p, i, "parent"));
    }
    for kind in ["related", "link"] {
        for _ in 0..EXTRA {
            let (a, b) = (r.below(N as u64) as usize, r.below(N as u64) as usize);
            edges.push((a, b, kind));
        }
    }
    Workload {
        names,
        parent,
        edges,
    }
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn depth(w: &Workload, mut i: usize) -> usize {
    let mut d = 0;
    while i != 0 {
        i = w.parent[i];
        d += 1;
    }
    d
}

fn petgraph_of(w: &Workload, kind: &str) -> DiGraph<(), ()> {
    let mut g = DiGraph::<(), ()>::with_capacity(N, w.edges.len());
    for _ in 0..N {
        g.add_node(());
    }
    for &(a, b, k) in &w.edges {
        if k == kind {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
    }
    g
}

/// Breadth-first shortest path on petgraph (the first found among the shortest).
fn bfs_path(g: &DiGraph<(), ()>, a: usize, b: usize) -> Option<Vec<usize>> {
    let mut prev = vec![usize::MAX; g.node_count()];
    let mut q = VecDeque::from([a]);
    prev[a] = a;
    while let Some(x) = q.pop_front() {
        if x == b {
            let mut p = vec![b];
            while *p.last()? != a {
                p.push(prev[*p.last()?]);
            }
            p.reverse();
            return Some(p);
        }
        for y in g.neighbors(NodeIndex::new(x)) {
            if prev[y.index()] == usize::MAX {
                prev[y.index()] = x;
                q.push_back(y.index());
            }
        }
    }
    None
}

fn bench(c: &mut Criterion) {
    let w = workload();
    let t = Instant::now();
    let mut g = Graph::new().unwrap();
    let added = g
        .relate_many(
            w.edges
                .iter()
                .map(|&(a, b, k)| (w.names[a].as_str(), w.names[b].as_str(), k)),
        )
        .unwrap();
    let load = t.elapsed();
    g.declare_symmetric("unused").unwrap();
    eprintln!(
        "relations: {added} edges loaded in {load:?}; reach pairs {}; engine heap {} MB; peak RSS {:?} MB",
        g.database().size("reach").unwrap(),
        g.database().heap_bytes() / 1_000_000,
        peak_rss_kb().map(|k| k / 1000)
    );
    let t = Instant::now();
    let pg_parent = petgraph_of(&w, "parent");
    let pg_link = petgraph_of(&w, "link");
    eprintln!("petgraph: two kinds built in {:?}", t.elapsed());

    // A node at depth >= 20 and its ancestor 20 levels up.
    let deep = (0..N).rev().find(|&i| depth(&w, i) >= 20).unwrap();
    let mut top = deep;
    for _ in 0..20 {
        top = w.parent[top];
    }
    let (deep_n, top_n) = (w.names[deep].as_str(), w.names[top].as_str());
    let p = Kind::Named("parent");
    assert_eq!(g.distance(top_n, deep_n, p), Some(20));

    let mut group = c.benchmark_group("write");
    group.bench_function("relations/parent-leaf relate+unrelate", |b| {
        b.iter(|| {
            g.relate(deep_n, "fresh-leaf", "parent").unwrap();
            g.unrelate(deep_n, "fresh-leaf", "parent").unwrap();
        })
    });
    let (la, lb) = (w.names[7].as_str(), w.names[99_991].as_str());
    group.bench_function("relations/link relate+unrelate", |b| {
        b.iter(|| {
            let added = g.relate(la, lb, "link").unwrap();
            if added {
                g.unrelate(la, lb, "link").unwrap();
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("reachable");
    group.bench_function("relations/parent", |b| {
        b.iter(|| black_box(g.reachable(top_n, deep_n, p)))
    });
    group.bench_function("relations/link", |b| {
        b.iter(|| black_box(g.reachable(la, lb, Kind::Named("link"))))
    });
    group.bench_function("relations/any", |b| {
        b.iter(|| black_box(g.reachable(deep_n, top_n, Kind::Any)))
    });
    group.bench_function("petgraph/parent has_path_connecting", |b| {
        b.iter(|| {
            black_box(petgraph::algo::has_path_connecting(
                &pg_parent,
                NodeIndex::new(top),
                NodeIndex::new(deep),
                None,
            ))
        })
    });
    group.bench_function("petgraph/link has_path_connecting", |b| {
        b.iter(|| {
            black_box(petgraph::algo::has_path_connecting(
                &pg_link,
                NodeIndex::new(7),
                NodeIndex::new(99_991),
                None,
            ))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("path");
    group.bench_function("relations/parent depth 20", |b| {
        b.iter(|| black_box(g.path(top_n, deep_n, p)))
    });
    group.bench_function("petgraph/parent depth 20 bfs", |b| {
        b.iter(|| black_box(bfs_path(&pg_parent, top, deep)))
    });
    group.finish();

    let mut group = c.benchmark_group("components");
    group.sample_size(10);
    group.bench_function("relations/related", |b| {
        b.iter(|| black_box(g.components(Kind::Named("related")).len()))
    });
    group.bench_function("petgraph/related connected_components (with build)", |b| {
        b.iter(|| {
            let mut u = UnGraph::<(), ()>::with_capacity(N, EXTRA);
            for _ in 0..N {
                u.add_node(());
            }
            for &(a, b, k) in &w.edges {
                if k == "related" {
                    u.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
                }
            }
            black_box(petgraph::algo::connected_components(&u))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("topo-order");
    group.sample_size(10);
    group.bench_function("relations/parent", |b| {
        b.iter(|| black_box(g.topo_order(p).unwrap().len()))
    });
    group.bench_function("petgraph/parent toposort", |b| {
        b.iter(|| black_box(petgraph::algo::toposort(&pg_parent, None).unwrap().len()))
    });
    group.finish();
    eprintln!(
        "peak RSS at the end {:?} MB",
        peak_rss_kb().map(|k| k / 1000)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
