//! The API's behaviour on small, hand-made graphs.

use relations::{Degree, Graph, GraphError, Kind};

fn graph(edges: &[(&str, &str, &str)]) -> Graph {
    let mut g = Graph::new().unwrap();
    g.relate_many(edges.iter().copied()).unwrap();
    g
}

const P: Kind<'static> = Kind::Named("parent");

#[test]
fn children_parents_descendants_and_ancestors_are_sorted_by_bytes() {
    let g = graph(&[
        ("root", "b", "parent"),
        ("root", "B", "parent"),
        ("b", "x", "parent"),
        ("B", "x", "parent"),
    ]);
    assert_eq!(g.children("root", P), ["B", "b"]);
    assert_eq!(g.parents("x", P), ["B", "b"]);
    assert_eq!(g.descendants("root", P), ["B", "b", "x"]);
    assert_eq!(g.ancestors("x", P), ["B", "b", "root"]);
    assert_eq!(g.siblings("b", P), ["B"]);
    assert_eq!(g.roots(P), ["root"]);
    assert_eq!(g.leaves(P), ["x"]);
    assert!(g.children("nobody", P).is_empty());
    assert!(g.children("root", Kind::Named("other")).is_empty());
}

#[test]
fn a_node_reaches_itself_only_on_a_cycle() {
    let mut g = graph(&[("a", "b", "parent"), ("b", "c", "parent")]);
    assert!(g.reachable("a", "c", P));
    assert!(!g.reachable("a", "a", P));
    assert!(!g.on_cycle("a", P));
    assert!(g.is_acyclic(P));
    assert!(g.relate("c", "a", "parent").unwrap());
    assert!(g.reachable("a", "a", P));
    assert_eq!(g.descendants("a", P), ["a", "b", "c"]);
    assert_eq!(g.cycles(P), [vec!["a", "b", "c"]]);
    assert!(g.unrelate("b", "c", "parent").unwrap());
    assert!(!g.reachable("a", "a", P));
    assert!(g.reachable("c", "b", P));
    assert!(g.cycles(P).is_empty());
}

#[test]
fn an_edge_of_a_symmetric_kind_is_one_edge_holding_both_ways() {
    let mut g = Graph::new().unwrap();
    assert!(g.declare_symmetric("related").unwrap());
    assert!(!g.declare_symmetric("related").unwrap());
    let r = Kind::Named("related");
    assert!(g.relate("a", "b", "related").unwrap());
    assert!(!g.relate("b", "a", "related").unwrap());
    assert_eq!(g.children("b", r), ["a"]);
    assert!(g.reachable("a", "a", r), "a -> b -> a");
    assert_eq!(
        g.degree("a", r),
        Degree {
            incoming: 1,
            outgoing: 1
        }
    );
    assert!(g.roots(r).is_empty());
    assert_eq!(g.database().tuples("edge").unwrap().len(), 1);
    assert!(g.unrelate("b", "a", "related").unwrap());
    assert!(g.components(r).is_empty());
}

#[test]
fn declaring_a_kind_with_edges_symmetric_is_refused_and_changes_nothing() {
    let mut g = graph(&[("a", "b", "link")]);
    assert_eq!(
        g.declare_symmetric("link"),
        Err(GraphError::KindHasEdges("link".into()))
    );
    assert!(!g.is_symmetric("link"));
    assert!(!g.reachable("b", "a", Kind::Named("link")));
}

#[test]
fn topo_order_breaks_ties_by_bytes_and_names_a_cycle_from_its_smallest_node() {
    let mut g = graph(&[("c", "d", "p"), ("a", "d", "p"), ("b", "c", "p")]);
    assert_eq!(
        g.topo_order(Kind::Named("p")).unwrap(),
        ["a", "b", "c", "d"]
    );
    g.relate("d", "b", "p").unwrap();
    let err = g.topo_order(Kind::Named("p")).unwrap_err();
    assert_eq!(err.to_string(), r#"cycle through "b" -> "c" -> "d" -> "b""#);
    g.relate("z", "z", "p").unwrap();
    assert!(g.on_cycle("z", Kind::Named("p")));
}

#[test]
fn path_is_the_shortest_then_smallest_and_why_names_each_edges_kind() {
    let mut g = graph(&[
        ("a", "c", "x"),
        ("a", "b", "y"),
        ("b", "d", "x"),
        ("c", "d", "x"),
        ("c", "d", "w"),
        ("d", "e", "x"),
    ]);
    assert_eq!(g.path("a", "d", Kind::Any).unwrap(), ["a", "b", "d"]);
    assert_eq!(g.distance("a", "e", Kind::Any), Some(3));
    assert_eq!(g.path("a", "a", Kind::Any).unwrap(), ["a"]);
    assert_eq!(g.path("e", "a", Kind::Any), None);
    assert_eq!(g.path("a", "d", Kind::Named("x")).unwrap(), ["a", "c", "d"]);
    g.unrelate("a", "b", "y").unwrap();
    let why = g.why("a", "d", Kind::Any).unwrap();
    let want = [("a", "c", "x"), ("c", "d", "w")];
    assert_eq!(why.len(), 2);
    for (got, want) in why.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), want);
    }
}

#[test]
fn degree_counts_every_kind_for_any_and_a_self_loop_both_ways() {
    let mut g = graph(&[("a", "b", "x"), ("a", "b", "y"), ("a", "a", "x")]);
    g.declare_symmetric("s").unwrap();
    g.relate("c", "a", "s").unwrap();
    assert_eq!(
        g.degree("a", Kind::Named("x")),
        Degree {
            incoming: 1,
            outgoing: 2
        }
    );
    assert_eq!(
        g.degree("a", Kind::Any),
        Degree {
            incoming: 2,
            outgoing: 4
        }
    );
    assert_eq!(
        g.degree("b", Kind::Any),
        Degree {
            incoming: 2,
            outgoing: 0
        }
    );
    assert_eq!(g.children("a", Kind::Any), ["a", "b", "c"]);
}

#[test]
fn lowest_common_ancestors_keep_only_the_lowest() {
    let g = graph(&[
        ("r", "a", "p"),
        ("r", "b", "p"),
        ("a", "x", "p"),
        ("b", "x", "p"),
        ("a", "y", "p"),
        ("b", "y", "p"),
    ]);
    assert_eq!(
        g.lowest_common_ancestors("x", "y", Kind::Named("p")),
        ["a", "b"]
    );
    assert_eq!(g.lowest_common_ancestors("x", "a", Kind::Named("p")), ["a"]);
    assert_eq!(g.lowest_common_ancestors("x", "x", Kind::Named("p")), ["x"]);
}

#[test]
fn unrelate_node_removes_every_edge_of_every_kind_touching_it() {
    let mut g = graph(&[
        ("a", "b", "x"),
        ("b", "c", "y"),
        ("c", "b", "x"),
        ("b", "b", "z"),
    ]);
    assert_eq!(g.unrelate_node("b").unwrap(), 4);
    assert!(g.database().tuples("edge").unwrap().is_empty());
    assert!(g.components(Kind::Any).is_empty());
    assert_eq!(g.unrelate_node("b").unwrap(), 0);
}

#[test]
fn a_long_cycle_loaded_in_bulk_and_broken_splits_into_single_nodes() {
    let n = 2_000;
    let names: Vec<String> = (0..n).map(|i| format!("n{i:05}")).collect();
    let mut g = Graph::new().unwrap();
    g.relate_many((0..n).map(|i| (names[i].as_str(), names[(i + 1) % n].as_str(), "next")))
        .unwrap();
    let k = Kind::Named("next");
    assert_eq!(g.cycles(k).len(), 1);
    assert!(g.reachable(&names[5], &names[4], k));
    g.unrelate(&names[n - 1], &names[0], "next").unwrap();
    assert!(g.is_acyclic(k));
    assert!(!g.reachable(&names[5], &names[4], k));
    assert!(g.reachable(&names[4], &names[n - 1], k));
    assert_eq!(g.topo_order(k).unwrap().len(), n);
    assert_eq!(g.distance(&names[0], &names[n - 1], k), Some(n - 1));
}
