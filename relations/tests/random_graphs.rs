//! Random graphs and random sequences of writes over several kinds (symmetric and
//! not, with self-loops and cycles): after every step, every query agrees with the
//! oracle in `oracle/`.

mod oracle;

use oracle::{Model, K};
use proptest::prelude::*;
use relations::{Degree, Graph, GraphError, Kind};

const NODES: &[&str] = &["a", "b", "b1", "c", "d", "e", "f"];
/// `p`, `q` directed; `s`, `t` symmetric.
const KINDS: &[&str] = &["p", "q", "s", "t"];

#[derive(Clone, Debug)]
enum Op {
    Relate(usize, usize, usize),
    Unrelate(usize, usize, usize),
    UnrelateNode(usize),
    RelateMany(Vec<(usize, usize, usize)>),
}

fn edge() -> impl Strategy<Value = (usize, usize, usize)> {
    (0..NODES.len(), 0..NODES.len(), 0..KINDS.len())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => edge().prop_map(|(a, b, k)| Op::Relate(a, b, k)),
        3 => edge().prop_map(|(a, b, k)| Op::Unrelate(a, b, k)),
        1 => (0..NODES.len()).prop_map(Op::UnrelateNode),
        1 => prop::collection::vec(edge(), 0..8).prop_map(Op::RelateMany),
    ]
}

fn kind(k: K<'_>) -> Kind<'_> {
    k.map_or(Kind::Any, Kind::Named)
}

/// Every query of the graph against the model, for every kind, every kind at once
/// and a kind never used.
pub fn check(g: &Graph, m: &Model) {
    for k in [Some("p"), Some("q"), Some("s"), Some("t"), Some("zz"), None] {
        let kd = kind(k);
        assert_eq!(g.roots(kd), m.roots(k), "roots {k:?}");
        assert_eq!(g.leaves(kd), m.leaves(k), "leaves {k:?}");
        assert_eq!(g.cycles(kd), m.cycles(k), "cycles {k:?}");
        assert_eq!(g.is_acyclic(kd), m.cycles(k).is_empty(), "acyclic {k:?}");
        assert_eq!(g.components(kd), m.components(k), "components {k:?}");
        let topo = g.topo_order(kd).map_err(|e| match e {
            GraphError::Cycle { cycle } => cycle,
            other => panic!("{other}"),
        });
        assert_eq!(topo, m.topo_order(k), "topo {k:?}");
        for a in NODES {
            assert_eq!(g.children(a, kd), m.children(a, k), "children {a} {k:?}");
            assert_eq!(g.parents(a, kd), m.parents(a, k), "parents {a} {k:?}");
            assert_eq!(g.descendants(a, kd), m.descendants(a, k), "desc {a} {k:?}");
            assert_eq!(g.ancestors(a, kd), m.ancestors(a, k), "anc {a} {k:?}");
            assert_eq!(g.siblings(a, kd), m.siblings(a, k), "siblings {a} {k:?}");
            assert_eq!(g.on_cycle(a, kd), m.on_cycle(a, k), "on_cycle {a} {k:?}");
            let (i, o) = m.degree(a, k);
            assert_eq!(
                g.degree(a, kd),
                Degree {
                    incoming: i,
                    outgoing: o
                },
                "degree {a} {k:?}"
            );
            for b in NODES {
                assert_eq!(
                    g.reachable(a, b, kd),
                    m.reachable(a, b, k),
                    "reach {a} {b} {k:?}"
                );
                assert_eq!(g.path(a, b, kd), m.path(a, b, k), "path {a} {b} {k:?}");
                assert_eq!(
                    g.distance(a, b, kd),
                    m.path(a, b, k).map(|p| p.len() - 1),
                    "distance {a} {b} {k:?}"
                );
                assert_eq!(g.why(a, b, kd), m.why(a, b, k), "why {a} {b} {k:?}");
                assert_eq!(
                    g.lowest_common_ancestors(a, b, kd),
                    m.lca(a, b, k),
                    "lca {a} {b} {k:?}"
                );
            }
        }
    }
    let mut facts: Vec<(String, String, String)> = g
        .database()
        .tuples("edge")
        .unwrap()
        .into_iter()
        .map(|t| (t[0].to_string(), t[1].to_string(), t[2].to_string()))
        .collect();
    facts.sort();
    assert_eq!(
        facts,
        m.edges.iter().cloned().collect::<Vec<_>>(),
        "edge facts"
    );
}

fn apply(g: &mut Graph, m: &mut Model, op: &Op) {
    match op {
        Op::Relate(a, b, k) => {
            let (a, b, k) = (NODES[*a], NODES[*b], KINDS[*k]);
            assert_eq!(
                g.relate(a, b, k).unwrap(),
                m.relate(a, b, k),
                "relate {a} {b} {k}"
            );
        }
        Op::Unrelate(a, b, k) => {
            let (a, b, k) = (NODES[*a], NODES[*b], KINDS[*k]);
            assert_eq!(
                g.unrelate(a, b, k).unwrap(),
                m.unrelate(a, b, k),
                "unrelate {a} {b} {k}"
            );
        }
        Op::UnrelateNode(n) => {
            assert_eq!(
                g.unrelate_node(NODES[*n]).unwrap(),
                m.unrelate_node(NODES[*n])
            );
        }
        Op::RelateMany(es) => {
            let want = es
                .iter()
                .filter(|(a, b, k)| m.relate(NODES[*a], NODES[*b], KINDS[*k]))
                .count();
            let got = g
                .relate_many(es.iter().map(|(a, b, k)| (NODES[*a], NODES[*b], KINDS[*k])))
                .unwrap();
            assert_eq!(got, want, "relate_many {es:?}");
        }
    }
}

fn fresh(bulk: bool) -> (Graph, Model) {
    let mut g = Graph::new().unwrap();
    if bulk {
        g.set_bulk_threshold(0);
    }
    let mut m = Model::default();
    for k in ["s", "t"] {
        assert!(g.declare_symmetric(k).unwrap());
        m.symmetric.insert(k.to_string());
    }
    (g, m)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_query_agrees_with_the_oracle_after_every_write(
        ops in prop::collection::vec(op(), 1..40),
        bulk in any::<bool>(),
    ) {
        let (mut g, mut m) = fresh(bulk);
        for op in &ops {
            apply(&mut g, &mut m, op);
            check(&g, &m);
        }
    }
}
