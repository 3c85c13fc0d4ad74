//! The `relations-*` primitives from SX: random sequences of writes, and after each
//! one every query, run as one SX program on the CEK, the VM, and the VM with every
//! `perform` suspended (each step stores to the host and reads back inside the
//! query callbacks), against the same writes and queries made on a Rust
//! [`relations::Graph`] (itself held to a first-principles oracle by the crate's own
//! property test). Bad input raises the same error on every tier and changes
//! nothing.

use lang::printer::repr;
use lang::value::Dict;
use lang::{Interp, OutputBuffer, Tier, Value};
use proptest::prelude::*;
use relations::{Graph, Kind};
use sx::{Host, HostOptions};

const NODES: &[&str] = &["a", "b", "b1", "c", "d"];
/// `p` directed, `s` symmetric; queries also ask `:any`.
const KINDS: &[&str] = &["p", "s"];
const QUERY_KINDS: &[&str] = &["p", "s", "any"];

const CONFIGS: [(Tier, bool); 3] = [(Tier::Cek, false), (Tier::Vm, false), (Tier::Vm, true)];

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
        1 => prop::collection::vec(edge(), 0..5).prop_map(Op::RelateMany),
    ]
}

fn run(tier: Tier, suspend_everywhere: bool, src: &str) -> Result<String, String> {
    let interp = Interp::with_output(Box::new(OutputBuffer::default()));
    let mut host = Host::with_options(
        interp,
        HostOptions {
            tier,
            suspend_everywhere,
            ..HostOptions::default()
        },
    );
    host.run_source(src, "relations.sx")
        .map(|v| repr(&v))
        .map_err(|e| e.message().to_string())
}

fn sx_write(op: &Op) -> String {
    let t = |(a, b, k): &(usize, usize, usize)| {
        format!("(\"{}\" \"{}\" :{})", NODES[*a], NODES[*b], KINDS[*k])
    };
    match op {
        Op::Relate(a, b, k) => format!(
            "(relations-relate! g \"{}\" \"{}\" :{})",
            NODES[*a], NODES[*b], KINDS[*k]
        ),
        Op::Unrelate(a, b, k) => format!(
            "(relations-unrelate! g \"{}\" \"{}\" :{})",
            NODES[*a], NODES[*b], KINDS[*k]
        ),
        Op::UnrelateNode(n) => format!("(relations-unrelate-node! g \"{}\")", NODES[*n]),
        Op::RelateMany(es) => format!(
            "(relations-relate-many! g '({}))",
            es.iter().map(t).collect::<Vec<_>>().join(" ")
        ),
    }
}

/// The queries after each step, as SX: whole-kind answers, per node, per pair.
const SX_QUERIES: &str = r#"
  (map (fn (k) (list (relations-roots g k) (relations-leaves g k) (relations-cycles g k)
                     (relations-components g k) (relations-acyclic? g k)
                     (guard (e (true (error-message e))) (relations-topo-order g k))))
       kinds)
  (map (fn (k) (map (fn (a)
                      (perform {:op "kv-get" :key "step"})
                      (list (relations-children g a k) (relations-parents g a k)
                            (relations-descendants g a k) (relations-ancestors g a k)
                            (relations-siblings g a k) (relations-cycle? g a k)
                            (relations-degree g a k)))
                    nodes))
       kinds)
  (map (fn (k) (map (fn (a) (map (fn (b)
                                   (list (relations-reachable? g a b k) (relations-path g a b k)
                                         (relations-distance g a b k) (relations-why g a b k)
                                         (relations-lca g a b k)))
                                 nodes))
                    nodes))
       kinds)"#;

fn program(ops: &[Op]) -> String {
    let mut src = String::from("(define g (relations-graph))\n(relations-symmetric! g :s)\n");
    src += &format!(
        "(define nodes '({}))\n(define kinds '({}))\n",
        NODES
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" "),
        QUERY_KINDS
            .iter()
            .map(|k| format!(":{k}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (i, op) in ops.iter().enumerate() {
        src += &format!(
            "(define r{i} (list {}\n  (perform {{:op \"kv-put\" :key \"step\" :value {i}}})\n{SX_QUERIES}))\n",
            sx_write(op)
        );
    }
    src += &format!(
        "(list {})\n",
        (0..ops.len())
            .map(|i| format!("r{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    src
}

fn strs(v: Vec<String>) -> Value {
    Value::list(v.iter().map(|s| Value::str(s)).collect())
}

fn opt(v: Option<Value>) -> Value {
    v.unwrap_or(Value::Nil)
}

fn kind(k: &str) -> Kind<'_> {
    if k == "any" {
        Kind::Any
    } else {
        Kind::Named(k)
    }
}

/// The same steps on a Rust graph, as the SX value the program answers.
fn expected(ops: &[Op]) -> Value {
    let mut g = Graph::new().unwrap();
    g.declare_symmetric("s").unwrap();
    let mut steps = Vec::new();
    for op in ops {
        let w = match op {
            Op::Relate(a, b, k) => Value::Bool(g.relate(NODES[*a], NODES[*b], KINDS[*k]).unwrap()),
            Op::Unrelate(a, b, k) => {
                Value::Bool(g.unrelate(NODES[*a], NODES[*b], KINDS[*k]).unwrap())
            }
            Op::UnrelateNode(n) => Value::Int(g.unrelate_node(NODES[*n]).unwrap() as i64),
            Op::RelateMany(es) => Value::Int(
                g.relate_many(es.iter().map(|(a, b, k)| (NODES[*a], NODES[*b], KINDS[*k])))
                    .unwrap() as i64,
            ),
        };
        let whole = QUERY_KINDS.iter().map(|k| {
            let k = kind(k);
            let groups = |v: Vec<Vec<String>>| Value::list(v.into_iter().map(strs).collect());
            Value::list(vec![
                strs(g.roots(k)),
                strs(g.leaves(k)),
                groups(g.cycles(k)),
                groups(g.components(k)),
                Value::Bool(g.is_acyclic(k)),
                match g.topo_order(k) {
                    Ok(v) => strs(v),
                    Err(e) => Value::str(&format!("relations-topo-order: {e}")),
                },
            ])
        });
        let per_node = QUERY_KINDS.iter().map(|k| {
            let k = kind(k);
            Value::list(
                NODES
                    .iter()
                    .map(|a| {
                        let d = g.degree(a, k);
                        let mut dict = Dict::default();
                        dict.insert(Value::keyword("in"), Value::Int(d.incoming as i64));
                        dict.insert(Value::keyword("out"), Value::Int(d.outgoing as i64));
                        Value::list(vec![
                            strs(g.children(a, k)),
                            strs(g.parents(a, k)),
                            strs(g.descendants(a, k)),
                            strs(g.ancestors(a, k)),
                            strs(g.siblings(a, k)),
                            Value::Bool(g.on_cycle(a, k)),
                            Value::dict(dict),
                        ])
                    })
                    .collect(),
            )
        });
        let per_pair = QUERY_KINDS.iter().map(|k| {
            let k = kind(k);
            Value::list(
                NODES
                    .iter()
                    .map(|a| {
                        Value::list(
                            NODES
                                .iter()
                                .map(|b| {
                                    let why = g.why(a, b, k).map(|steps| {
                                        Value::list(
                                            steps
                                                .iter()
                                                .map(|(s, d, k)| {
                                                    Value::list(vec![
                                                        Value::str(s),
                                                        Value::str(d),
                                                        Value::keyword(k),
                                                    ])
                                                })
                                                .collect(),
                                        )
                                    });
                                    Value::list(vec![
                                        Value::Bool(g.reachable(a, b, k)),
                                        opt(g.path(a, b, k).map(strs)),
                                        opt(g.distance(a, b, k).map(|d| Value::Int(d as i64))),
                                        opt(why),
                                        strs(g.lowest_common_ancestors(a, b, k)),
                                    ])
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            )
        });
        steps.push(Value::list(vec![
            w,
            // What the kv-put of the step answers.
            Value::Bool(true),
            Value::list(whole.collect()),
            Value::list(per_node.collect()),
            Value::list(per_pair.collect()),
        ]));
    }
    Value::list(steps)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_tier_answers_as_the_rust_graph_after_every_write(ops in prop::collection::vec(op(), 1..10)) {
        let src = program(&ops);
        let want = repr(&expected(&ops));
        for (tier, suspend) in CONFIGS {
            let got = run(tier, suspend, &src);
            prop_assert_eq!(got.as_deref(), Ok(want.as_str()), "{:?} suspend={}\n{}", tier, suspend, src);
        }
    }
}

/// Runs `src` on every configuration; they must agree; returns the answer.
fn agree(src: &str) -> Result<String, String> {
    let outs: Vec<_> = CONFIGS.iter().map(|&(t, s)| run(t, s, src)).collect();
    for o in &outs[1..] {
        assert_eq!(o, &outs[0], "{src}");
    }
    outs.into_iter().next().unwrap()
}

#[test]
fn bad_input_names_the_primitive_and_changes_nothing() {
    let setup = "(define g (relations-graph)) (relations-relate! g \"a\" \"b\" :p)\n";
    let cases = [
        ("(relations-relate! g 1 \"b\" :p)", "relations-relate!: expected a string node, got int 1"),
        ("(relations-relate! g \"a\" \"b\" \"p\")", "relations-relate!: expected a kind keyword, got string \"p\""),
        ("(relations-relate! g \"a\" \"b\" :any)", "relations-relate!: expected a kind keyword other than :any, got keyword :any"),
        ("(relations-children 42 \"a\" :p)", "relations-children: expected a graph made by relations-graph, got int 42"),
        ("(relations-children g 'a :p)", "relations-children: expected a string node, got symbol a"),
        ("(relations-path g \"a\" \"b\" 'p)", "relations-path: expected a kind keyword, got symbol p"),
        ("(relations-relate-many! g '((\"x\" \"y\" :p) (\"y\" 3 :p)))", "relations-relate-many!: expected a string node, got int 3"),
        ("(relations-relate-many! g '((\"x\" \"y\" :p) (\"y\")))", "relations-relate-many!: expected a (src dst kind) triple, got list (\"y\")"),
        ("(relations-relate-many! g 7)", "relations-relate-many!: expected a list of (src dst kind) triples, got int 7"),
        ("(relations-symmetric! g :p)", "relations-symmetric!: kind \"p\" already has directed edges; declare it symmetric before relating"),
        ("(relations-degree (dl-program) \"a\" :p)", "relations-degree: expected a graph made by relations-graph, got dict"),
    ];
    for (call, msg) in cases {
        let src = format!(
            "{setup}(define r (guard (e (true (error-message e))) {call}))\n\
             (list r (relations-components g :any) (relations-symmetric! g :q))"
        );
        let got = agree(&src).unwrap();
        assert!(
            got.starts_with(&format!("({:?} ((\"a\" \"b\")) true)", msg))
                || (msg.ends_with("got dict") && got.contains(msg)),
            "{call}: {got}"
        );
    }
}

#[test]
fn topo_order_of_a_cycle_raises_with_the_cycle_from_its_smallest_node() {
    let src = "(define g (relations-graph))
               (relations-relate-many! g '((\"c\" \"a\" :p) (\"a\" \"b\" :p) (\"b\" \"c\" :p)))
               (relations-topo-order g :p)";
    assert_eq!(
        agree(src),
        Err(r#"relations-topo-order: cycle through "a" -> "b" -> "c" -> "a""#.to_string())
    );
}
