//! Writes cost in proportion to their change, counted by the engine's work counters
//! (tuples derived, probes), not timed.

use relations::{Graph, Kind};

/// A 100,000-node binary tree of `parent` edges: node `i`'s parent is `(i - 1) / 2`.
fn tree(n: usize) -> (Graph, Vec<String>) {
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let mut g = Graph::new().unwrap();
    let added = g
        .relate_many((1..n).map(|i| (names[(i - 1) / 2].as_str(), names[i].as_str(), "parent")))
        .unwrap();
    assert_eq!(added, n - 1);
    (g, names)
}

fn depth(mut i: usize) -> usize {
    let mut d = 0;
    while i > 0 {
        i = (i - 1) / 2;
        d += 1;
    }
    d
}

#[test]
fn relating_one_edge_into_a_100000_node_tree_derives_only_the_new_closure_pairs() {
    let n = 100_000;
    let (mut g, names) = tree(n);
    let before = g.database().size("reach").unwrap();
    // Every node's ancestors, in the kind's layer and in the layer of every kind.
    let pairs: usize = (0..n).map(depth).sum();
    assert_eq!(before, 2 * pairs);

    let p = n - 1;
    let new_pairs = depth(p) + 1; // `p` and its ancestors reach the new leaf
    assert!(g.relate(&names[p], "leaf", "parent").unwrap());
    let work = g.last_work();
    assert_eq!(g.database().size("reach").unwrap(), before + 2 * new_pairs);
    assert_eq!(
        work.derived,
        2 * new_pairs as u64,
        "derived exactly the new pairs"
    );
    assert!(
        work.probes <= 8 * new_pairs as u64,
        "probes {}",
        work.probes
    );
    assert!(g.reachable(&names[0], "leaf", Kind::Named("parent")));

    assert!(g.unrelate(&names[p], "leaf", "parent").unwrap());
    let work = g.last_work();
    assert_eq!(g.database().size("reach").unwrap(), before);
    assert!(
        work.derived <= 2 * new_pairs as u64,
        "derived {}",
        work.derived
    );
    assert!(
        work.probes <= 16 * new_pairs as u64,
        "probes {}",
        work.probes
    );
}

#[test]
fn a_second_parent_for_a_subtree_derives_its_new_ancestors_times_its_nodes() {
    let n = 100_000;
    let (mut g, names) = tree(n);
    let before = g.database().size("reach").unwrap();
    // n4's subtree (n4, n9, n10, …) also under the leaf n99999, which n4 does not reach.
    let sub = g.descendants(&names[4], Kind::Named("parent")).len() + 1;
    // n99999 and its ancestors, less n4's own (n1, n0), which reach it already.
    let mut ancestors = 0;
    let mut i = n - 1;
    loop {
        ancestors += usize::from(i != 1 && i != 0);
        if i == 0 {
            break;
        }
        i = (i - 1) / 2;
    }
    assert!(g.relate(&names[n - 1], &names[4], "parent").unwrap());
    let work = g.last_work();
    let new_pairs = ancestors * sub;
    assert_eq!(g.database().size("reach").unwrap(), before + 2 * new_pairs);
    assert_eq!(work.derived, 2 * new_pairs as u64);
}

#[test]
fn a_symmetric_kind_with_a_giant_component_stores_no_closure_pairs() {
    let n = 10_000u64;
    let mut g = Graph::new().unwrap();
    g.declare_symmetric("related").unwrap();
    // A ring plus pseudo-random chords, one edge at a time: one component.
    let mut x = 12345u64;
    let mut names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    names.sort();
    for i in 0..n {
        g.relate(
            &names[i as usize],
            &names[((i + 1) % n) as usize],
            "related",
        )
        .unwrap();
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        g.relate(
            &names[i as usize],
            &names[((x >> 33) % n) as usize],
            "related",
        )
        .unwrap();
    }
    let r = Kind::Named("related");
    assert_eq!(g.components(r).len(), 1);
    assert_eq!(g.database().size("reach").unwrap(), 0);
    assert!(g.reachable(&names[0], &names[n as usize / 2], r));
    assert!(g.reachable(&names[0], &names[n as usize / 2], Kind::Any));
}
