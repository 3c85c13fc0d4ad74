//! The library API: SX forms, queries, errors, statistics and incremental saturation.

use datalog::front::sexpr::{read_all, Datum};
use datalog::{Database, Retraction, Value};

fn d(src: &str) -> Datum {
    read_all(src).expect("reads").remove(0)
}

fn tc_db() -> Database {
    let mut db = Database::new();
    db.add_sx_rule(&d("(<- (path X Y) (edge X Y))")).unwrap();
    db.add_sx_rule(&d("(<- (path X Z) (path X Y) (edge Y Z))"))
        .unwrap();
    db
}

#[test]
fn sx_rules_over_symbols_answer_sorted_bindings() {
    let mut db = Database::new();
    for f in ["(edge a b)", "(edge b c)", "(edge c d)"] {
        db.add_sx_fact(&d(f)).unwrap();
    }
    db.add_sx_rule(&d("(<- (path X Y) (edge X Y))")).unwrap();
    db.add_sx_rule(&d("(<- (path X Z) (path X Y) (edge Y Z))"))
        .unwrap();
    let answers = db.query_sx(&d("(path b X)")).unwrap();
    let xs: Vec<String> = answers
        .iter()
        .map(|b| format!("{}={}", b[0].0, b[0].1))
        .collect();
    assert_eq!(xs, ["X=c", "X=d"]);
    assert_eq!(db.query_sx(&d("(path a d)")).unwrap(), vec![vec![]]);
    assert!(db.query_sx(&d("(path d a)")).unwrap().is_empty());
}

#[test]
fn sx_strings_and_symbols_are_distinct_values() {
    let mut db = Database::new();
    db.add_sx_fact(&d("(name 1 \"bob\")")).unwrap();
    db.add_sx_fact(&d("(name 2 bob)")).unwrap();
    let sym = db.query_sx(&d("(name X bob)")).unwrap();
    assert_eq!(sym, vec![vec![("X".to_string(), Datum::Int(2))]]);
    let s = db.query_sx(&d("(name X \"bob\")")).unwrap();
    assert_eq!(s, vec![vec![("X".to_string(), Datum::Int(1))]]);
}

#[test]
fn sx_negation_comparison_arithmetic_and_aggregates() {
    let mut db = Database::new();
    for f in [
        "(node 1)",
        "(node 2)",
        "(node 3)",
        "(edge 1 2)",
        "(edge 1 3)",
        "(banned 3 x)",
    ] {
        db.add_sx_fact(&d(f)).unwrap();
    }
    db.add_sx_rule(&d("(<- (ok X) (node X) (not (banned X _)))"))
        .unwrap();
    db.add_sx_rule(&d("(<- (next X Y) (node X) (= Y (+ X 1)) (< Y 4))"))
        .unwrap();
    db.add_sx_rule(&d("(<- (deg X N) (node X) (count N Y (edge X Y)))"))
        .unwrap();
    let ok: Vec<Datum> = db
        .query_sx(&d("(ok X)"))
        .unwrap()
        .into_iter()
        .map(|b| b[0].1.clone())
        .collect();
    assert_eq!(ok, [Datum::Int(1), Datum::Int(2)]);
    assert_eq!(
        db.query_sx(&d("(next 2 Y)")).unwrap(),
        vec![vec![("Y".into(), Datum::Int(3))]]
    );
    let deg = db.query_sx(&d("(deg X N)")).unwrap();
    let flat: Vec<(Datum, Datum)> = deg
        .into_iter()
        .map(|b| (b[0].1.clone(), b[1].1.clone()))
        .collect();
    assert_eq!(
        flat,
        [
            (Datum::Int(1), Datum::Int(2)),
            (Datum::Int(2), Datum::Int(0)),
            (Datum::Int(3), Datum::Int(0))
        ]
    );
}

#[test]
fn unsafe_rule_non_ground_fact_and_unstratifiable_are_named() {
    let mut db = Database::new();
    db.add_sx_fact(&d("(node 1)")).unwrap();
    let e = db
        .add_sx_rule(&d("(<- (p X Y) (node X))"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unsafe rule") && e.contains("`Y`") && e.contains("p(X, Y)"),
        "{e}"
    );
    let e = db.add_sx_fact(&d("(edge X 1)")).unwrap_err().to_string();
    assert!(
        e.contains("non-ground fact") && e.contains("(edge X 1)"),
        "{e}"
    );
    let e = db
        .add_sx_rule(&d("(<- (q X) (node X) (not (q X)))"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unstratifiable") && e.contains("q -> !q"), "{e}");
    // A rejected rule leaves the database usable.
    db.add_sx_rule(&d("(<- (q X) (node X))")).unwrap();
    assert_eq!(db.query_sx(&d("(q X)")).unwrap().len(), 1);
}

#[test]
fn query_with_bound_and_free_positions() {
    let mut db = Database::new();
    db.add_rules(
        ".decl e(x: number, y: number)\n.decl p(x: number, y: number)\ne(1,2). e(2,3). e(3,4).\np(x,y) :- e(x,y).\np(x,z) :- p(x,y), e(y,z).\n",
        "t.dl",
    )
    .unwrap();
    db.saturate().unwrap();
    let mut to4: Vec<Vec<Value>> = db
        .query("p", &[None, Some(Value::Number(4))])
        .unwrap()
        .collect();
    to4.sort();
    assert_eq!(
        to4,
        vec![
            vec![Value::Number(1), Value::Number(4)],
            vec![Value::Number(2), Value::Number(4)],
            vec![Value::Number(3), Value::Number(4)]
        ]
    );
    assert_eq!(db.size("p").unwrap(), 6);
    assert_eq!(
        db.relation_sizes(),
        vec![("e".to_string(), 3), ("p".to_string(), 6)]
    );
    let stats = db.rule_stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats.iter().map(|s| s.work.derived).sum::<u64>(), 6);
}

fn chain(db: &mut Database, n: i64) {
    for i in 0..n {
        db.add_sx_fact(&Datum::List(vec![
            Datum::sym("edge"),
            Datum::Int(i),
            Datum::Int(i + 1),
        ]))
        .unwrap();
    }
}

#[test]
fn adding_one_edge_costs_in_proportion_to_the_change() {
    let n = 300;
    let mut db = tc_db();
    chain(&mut db, n);
    let first = db.saturate().unwrap();
    let before = db.size("path").unwrap();
    assert_eq!(before as i64, n * (n + 1) / 2);
    // One more edge at the end of the chain: n + 1 new paths end at the new node.
    db.add_sx_fact(&d(&format!("(edge {n} {})", n + 1)))
        .unwrap();
    let work = db.saturate().unwrap();
    let after = db.size("path").unwrap();
    assert_eq!(after - before, n as usize + 1);
    assert_eq!(work.derived, n as u64 + 1, "derived exactly the new tuples");
    assert!(
        work.probes <= 3 * (n as u64 + 1),
        "probes {} should follow the change, not the {} of the first run",
        work.probes,
        first.probes
    );
    assert!(first.derived > 100 * work.derived);
}

#[test]
fn incremental_result_equals_recomputation_across_negation_and_aggregates() {
    let prog = ".decl e(x: number, y: number)\n.decl n(x: number)\n.decl p(x: number, y: number)\n.decl un(x: number)\n.decl c(x: number, k: number)\np(x,y) :- e(x,y).\np(x,z) :- p(x,y), e(y,z).\nun(x) :- n(x), !p(1, x).\nc(x, k) :- n(x), k = count : { p(x, _) }.\n";
    let facts1 = [(1, 2), (2, 3), (5, 6)];
    let facts2 = [(3, 5), (6, 1)];
    let mut inc = Database::new();
    inc.add_rules(prog, "p.dl").unwrap();
    for i in 1..=6 {
        inc.add_fact("n", &[Value::Number(i)]).unwrap();
    }
    for (a, b) in facts1 {
        inc.add_fact("e", &[Value::Number(a), Value::Number(b)])
            .unwrap();
    }
    inc.saturate().unwrap();
    for (a, b) in facts2 {
        inc.add_fact("e", &[Value::Number(a), Value::Number(b)])
            .unwrap();
    }
    inc.saturate().unwrap();
    let mut full = Database::new();
    full.add_rules(prog, "p.dl").unwrap();
    for i in 1..=6 {
        full.add_fact("n", &[Value::Number(i)]).unwrap();
    }
    for (a, b) in facts1.iter().chain(&facts2) {
        full.add_fact("e", &[Value::Number(*a), Value::Number(*b)])
            .unwrap();
    }
    full.saturate().unwrap();
    for r in ["p", "un", "c"] {
        assert_eq!(
            inc.tuples(r).unwrap(),
            full.tuples(r).unwrap(),
            "relation {r}"
        );
    }
    // Once 6 -> 1 closes the cycle, everything but the isolated 4 is reachable from 1.
    assert_eq!(inc.tuples("un").unwrap(), vec![vec![Value::Number(4)]]);
}

#[test]
fn retracting_a_fact_removes_its_consequences_in_every_mode() {
    for mode in [
        Retraction::Adaptive,
        Retraction::Rederive,
        Retraction::Recompute,
    ] {
        let mut db = tc_db();
        db.set_retraction(mode);
        chain(&mut db, 3);
        db.saturate().unwrap();
        assert_eq!(db.size("path").unwrap(), 6);
        assert!(db.retract_sx_fact(&d("(edge 1 2)")).unwrap());
        assert!(!db.retract_sx_fact(&d("(edge 1 2)")).unwrap(), "{mode:?}");
        db.saturate().unwrap();
        assert_eq!(db.size("path").unwrap(), 2, "{mode:?}");
    }
}

/// Every path of `db`, as (from, to).
fn paths(db: &mut Database) -> Vec<Vec<(String, Datum)>> {
    db.query_sx(&d("(path X Y)")).unwrap()
}

/// `chains` disjoint chains of `len` edges, numbered so that chain c holds
/// c*1000 .. c*1000+len; plus, in each, a shortcut from its start to its node 2.
fn chains(db: &mut Database, chains: i64, len: i64) {
    for c in 0..chains {
        let base = c * 1000;
        for i in 0..len {
            db.add_sx_fact(&d(&format!("(edge {} {})", base + i, base + i + 1)))
                .unwrap();
        }
        db.add_sx_fact(&d(&format!("(edge {base} {})", base + 2)))
            .unwrap();
    }
}

#[test]
fn retracting_one_edge_deletes_and_rederives_in_proportion_to_the_change() {
    let (n, len) = (60, 20);
    let mut db = tc_db();
    chains(&mut db, n, len);
    let first = db.saturate().unwrap();
    // The closure was computed by SCC condensation; an added edge reads it by its
    // reverse rows, which are then kept (deleting through an edge reads them too).
    assert!(db.add_sx_fact(&d("(edge 99000 99001)")).unwrap());
    db.saturate().unwrap();
    let before = db.size("path").unwrap();
    // Cutting chain 7 between nodes 10 and 11 loses the 11 * 10 paths that crossed it.
    assert!(db.retract_sx_fact(&d("(edge 7010 7011)")).unwrap());
    let work = db.saturate().unwrap();
    assert_eq!(before - db.size("path").unwrap(), 11 * 10);
    // Overdeleted: exactly the 110 lost paths; nothing to rederive.
    assert_eq!(work.derived, 110, "{work:?}");
    assert!(
        work.probes <= 5 * 110 && first.derived > 100 * work.derived,
        "work {work:?} should follow the change, not the {first:?} of the first run"
    );
    // The edge 0 -> 1 of a chain with a shortcut 0 -> 2: every path from 0 beyond 1
    // survives (rederived through the shortcut), the path 0 -> 1 does not.
    assert!(db.retract_sx_fact(&d("(edge 3000 3001)")).unwrap());
    db.saturate().unwrap();
    assert!(db.query_sx(&d("(path 3000 3001)")).unwrap().is_empty());
    assert_eq!(
        db.query_sx(&d("(path 3000 Y)")).unwrap().len(),
        len as usize - 1
    );
    // The same facts from scratch derive the same paths.
    let mut fresh = tc_db();
    chains(&mut fresh, n, len);
    assert!(fresh.add_sx_fact(&d("(edge 99000 99001)")).unwrap());
    for f in ["(edge 7010 7011)", "(edge 3000 3001)"] {
        assert!(fresh.retract_sx_fact(&d(f)).unwrap());
    }
    assert_eq!(paths(&mut db), paths(&mut fresh));
}

#[test]
fn a_closure_without_its_reverse_rows_finds_the_lost_paths_by_a_pass_over_its_rows() {
    let mut db = tc_db();
    chains(&mut db, 60, 20);
    let first = db.saturate().unwrap();
    assert!(db.retract_sx_fact(&d("(edge 7010 7011)")).unwrap());
    let work = db.saturate().unwrap();
    // The paths through 7010 -> 7011: from 7000 .. 7010 to 7011 .. 7020, found without
    // recomputing (nor building the reverse rows): one pass over the closure's keys.
    assert_eq!(work.derived, 110, "{work:?} after {first:?}");
    assert!(work.probes < first.derived / 5, "{work:?} after {first:?}");
    assert_eq!(
        db.query_sx(&d("(path 7000 Y)")).unwrap().len(),
        10,
        "7000 reaches 7001 .. 7010"
    );
    let mut fresh = tc_db();
    chains(&mut fresh, 60, 20);
    assert!(fresh.retract_sx_fact(&d("(edge 7010 7011)")).unwrap());
    assert_eq!(paths(&mut db), paths(&mut fresh));
}

#[test]
fn a_fact_retracted_and_asserted_again_before_saturating_costs_nothing() {
    let mut db = tc_db();
    chains(&mut db, 10, 10);
    db.saturate().unwrap();
    let before = paths(&mut db);
    assert!(db.retract_sx_fact(&d("(edge 2004 2005)")).unwrap());
    assert!(db.add_sx_fact(&d("(edge 2004 2005)")).unwrap());
    let work = db.saturate().unwrap();
    assert_eq!((work.derived, work.probes), (0, 0));
    assert_eq!(paths(&mut db), before);
}

#[test]
fn a_retraction_inside_a_cycle_recomputes_the_closure_when_deletion_would_cost_more() {
    // One cycle through 200 nodes: every node reaches every other. Cutting one edge
    // makes it a chain; delete and rederive would overdelete everything first.
    let n = 200;
    let build = |mode: Retraction| {
        let mut db = tc_db();
        db.set_retraction(mode);
        for i in 0..n {
            db.add_sx_fact(&d(&format!("(edge {i} {})", (i + 1) % n)))
                .unwrap();
        }
        db.saturate().unwrap();
        assert_eq!(db.size("path").unwrap(), (n * n) as usize);
        assert!(db.retract_sx_fact(&d("(edge 99 100)")).unwrap());
        let work = db.saturate().unwrap();
        (paths(&mut db), work)
    };
    let (adaptive, recomputed) = build(Retraction::Adaptive);
    let (rederived, overdeleted) = build(Retraction::Rederive);
    assert_eq!(adaptive, rederived);
    // A chain of 200 nodes: 200 * 199 / 2 paths.
    assert_eq!(adaptive.len(), (n * (n - 1) / 2) as usize);
    assert!(
        recomputed.probes < overdeleted.probes,
        "recomputation {recomputed:?} against delete and rederive {overdeleted:?}"
    );
}

#[test]
fn explain_shows_representation_and_versions() {
    let mut db = Database::new();
    db.add_rules(
        ".decl e(x: number, y: number)\n.decl p(x: number, y: number)\ne(1,2).\np(x,y) :- e(x,y).\np(x,z) :- p(x,y), e(y,z).\n",
        "t.dl",
    )
    .unwrap();
    let text = db.explain();
    assert!(text.contains("dense bitset rows"), "{text}");
    assert!(text.contains("VERSION Δp"), "{text}");
    assert!(text.contains("SET-AT-A-TIME"), "{text}");
    // What incremental maintenance runs: each rule led by its overdeleted head tuples.
    assert!(
        text.contains("REDERIVE (on retraction) from overdeleted Δp"),
        "{text}"
    );
}

/// Reachability by brute force (depth-first from every node).
fn closure_by_search(edges: &[(i64, i64)]) -> std::collections::BTreeSet<(i64, i64)> {
    let mut out = std::collections::BTreeSet::new();
    let nodes: std::collections::BTreeSet<i64> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
    for &s in &nodes {
        let mut stack = vec![s];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(v) = stack.pop() {
            for &(a, b) in edges {
                if a == v && seen.insert(b) {
                    stack.push(b);
                }
            }
        }
        out.extend(seen.into_iter().map(|t| (s, t)));
    }
    out
}

fn closure_db(prog: &str, edges: &[(i64, i64)], plan: datalog::PlanOptions) -> Database {
    let mut db = Database::new();
    db.set_plan_options(plan);
    db.add_rules(prog, "tc.dl").unwrap();
    for &(a, b) in edges {
        db.add_fact("e", &[Value::Number(a), Value::Number(b)])
            .unwrap();
    }
    db
}

fn pairs_of(db: &Database) -> std::collections::BTreeSet<(i64, i64)> {
    let mut out = std::collections::BTreeSet::new();
    db.for_each_encoded("p", |t| {
        out.insert((t[0], t[1]));
    })
    .unwrap();
    out
}

#[test]
fn transitive_closure_by_scc_condensation_matches_search_and_stays_incremental() {
    use datalog::PlanOptions;
    let decl = ".decl e(x: number, y: number)\n.decl p(x: number, y: number)\n";
    let right = format!("{decl}p(x, y) :- e(x, y).\np(x, z) :- p(x, y), e(y, z).\n");
    let left = format!("{decl}p(x, y) :- e(x, y).\np(x, z) :- e(x, y), p(y, z).\n");
    let mut seed = 99u64;
    let mut rand = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % m) as i64
    };
    for round in 0..40 {
        let n = 2 + rand(60) as u64;
        let m = rand(3 * n) as usize;
        // Cycles, self loops, a wide id now and then (sparse rows, roaring).
        let mut edges: Vec<(i64, i64)> = (0..m).map(|_| (rand(n), rand(n))).collect();
        if round % 5 == 0 {
            edges.push((rand(n), 70_000 + rand(9)));
            edges.push((70_000 + rand(9), rand(n)));
        }
        let more: Vec<(i64, i64)> = (0..3).map(|_| (rand(n + 2), rand(n + 2))).collect();
        for prog in [&right, &left] {
            for plan in [PlanOptions::default(), PlanOptions::sparse_rows()] {
                let mut db = closure_db(prog, &edges, plan);
                if round == 0 {
                    assert!(
                        db.explain().contains("TRANSITIVE CLOSURE p = e"),
                        "{}",
                        db.explain()
                    );
                }
                db.saturate().unwrap();
                assert_eq!(
                    pairs_of(&db),
                    closure_by_search(&edges),
                    "{prog}\n{edges:?}"
                );
                for &(a, b) in &more {
                    db.add_fact("e", &[Value::Number(a), Value::Number(b)])
                        .unwrap();
                }
                db.saturate().unwrap();
                let all: Vec<(i64, i64)> = edges.iter().chain(&more).copied().collect();
                assert_eq!(
                    pairs_of(&db),
                    closure_by_search(&all),
                    "incremental\n{prog}"
                );
                // Then edges taken away, one saturation each: the paths through them
                // are found by the closure's rows (delete and rederive), or the
                // closure is recomputed when they are many.
                let mut left_over = all.clone();
                for k in 0..3 {
                    if left_over.is_empty() {
                        break;
                    }
                    let gone = left_over.remove(rand(left_over.len() as u64) as usize);
                    left_over.retain(|&e| e != gone);
                    db.retract_fact("e", &[Value::Number(gone.0), Value::Number(gone.1)])
                        .unwrap();
                    db.saturate().unwrap();
                    assert_eq!(
                        pairs_of(&db),
                        closure_by_search(&left_over),
                        "retraction {k} of {gone:?}\n{prog}\n{all:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn ground_arithmetic_in_an_sx_fact_is_computed_never_dropped() {
    let mut db = Database::new();
    db.add_sx_fact(&d("(edge (+ 1 1) (* 3 4))")).unwrap();
    assert_eq!(db.query_sx(&d("(edge 2 12)")).unwrap(), vec![vec![]]);
    assert_eq!(db.size("edge").unwrap(), 1);
    let err = db
        .add_sx_fact(&d("(edge (/ 1 0) 1)"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("division by zero"), "{err}");
    assert_eq!(db.size("edge").unwrap(), 1, "nothing half-added");
}

#[test]
fn errors_of_programs_built_through_the_api_carry_no_fake_position() {
    let mut db = Database::new();
    db.add_sx_fact(&d("(node 1)")).unwrap();
    let errors = [
        db.add_sx_rule(&d("(<- (p X Y) (node X))")).unwrap_err(),
        db.add_sx_fact(&d("(edge X 1)")).unwrap_err(),
        db.add_sx_rule(&d("(<- (q X) (node X) (not (q X)))"))
            .unwrap_err(),
        db.add_sx_rule(&d("(<- (r X) (node X) (node X Y))"))
            .unwrap_err(),
        db.add_sx_rule(&d("(<- (r X) (node X) (< X (+ X)))"))
            .unwrap_err(),
        db.add_sx_rule(&d("(<-)")).unwrap_err(),
        db.add_sx_fact(&d("(node 1 2)")).unwrap_err(),
    ];
    let starts = [
        "unsafe rule",
        "non-ground fact",
        "unstratifiable program",
        "`node` has arity 1",
        "expected a value or (op A B)",
        "a rule needs a head",
        "`node` has arity 1",
    ];
    for (e, start) in errors.iter().zip(starts) {
        let e = e.to_string();
        assert!(e.starts_with(start), "{e}");
    }
    // A program read from a text keeps its positions.
    let e = db
        .add_rules(".decl a(x: number)\nb(1).\n", "prog.dl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("prog.dl:2:1: "), "{e}");
}

#[test]
fn sx_ordering_compares_strings_by_bytes_in_every_plan_mode() {
    use datalog::PlanOptions;
    for opts in [
        PlanOptions::default(),
        PlanOptions::hash_tuples(),
        PlanOptions::sparse_rows(),
    ] {
        let mut db = Database::new();
        db.set_plan_options(opts);
        for f in ["(w \"pear\")", "(w \"apple\")", "(w \"B\")", "(w b)"] {
            db.add_sx_fact(&d(f)).unwrap();
        }
        db.add_sx_rule(&d("(<- (lt X Y) (w X) (w Y) (< X Y))"))
            .unwrap();
        db.add_sx_rule(&d("(<- (sym X) (w X) (>= X a))")).unwrap();
        let lt: Vec<String> = db
            .query_sx(&d("(lt X Y)"))
            .unwrap()
            .iter()
            .map(|b| format!("{}<{}", b[0].1, b[1].1))
            .collect();
        assert_eq!(
            lt,
            ["\"B\"<\"apple\"", "\"B\"<\"pear\"", "\"apple\"<\"pear\""]
        );
        // An SX symbol is never ordered, as `<` on symbols raises in SX.
        assert!(db.query_sx(&d("(sym X)")).unwrap().is_empty());
    }
}

#[test]
fn sx_answers_are_sorted_and_distinct_for_every_width() {
    let mut db = Database::new();
    let vals = [5i64, -3, i64::MIN, i64::MAX, 0, -1, 7];
    for (i, a) in vals.iter().enumerate() {
        for b in &vals[i..] {
            db.add_sx_fact(&Datum::List(vec![
                Datum::sym("t"),
                Datum::Int(*b),
                Datum::Int(*a),
                Datum::Int(a.wrapping_mul(2)),
            ]))
            .unwrap();
        }
    }
    let ints = |q: &str, db: &mut Database| -> Vec<Vec<i64>> {
        db.query_sx(&d(q))
            .unwrap()
            .into_iter()
            .map(|b| {
                b.into_iter()
                    .map(|(_, v)| match v {
                        Datum::Int(n) => n,
                        other => panic!("{other}"),
                    })
                    .collect()
            })
            .collect()
    };
    for q in [
        "(t X _ _)",
        "(t X Y _)",
        "(t _ Y X)",
        "(t X Y Z)",
        "(t Z X Y)",
    ] {
        let got = ints(q, &mut db);
        let mut want = got.clone();
        want.sort();
        want.dedup();
        assert_eq!(got, want, "{q}");
        assert!(!got.is_empty(), "{q}");
    }
    assert_eq!(ints("(t X _ _)", &mut db).len(), vals.len());
    // A binary relation (row storage: runs per key, keys in insertion order).
    let mut want = Vec::new();
    for k in [9i64, 3, 7, 0, 5] {
        for v in [4i64, 1, 8] {
            db.add_sx_fact(&d(&format!("(p {k} {})", v * k % 11)))
                .unwrap();
            want.push(vec![k, v * k % 11]);
        }
    }
    db.add_sx_rule(&d("(<- (q X Y) (p X Y))")).unwrap();
    want.sort();
    want.dedup();
    assert_eq!(ints("(p X Y)", &mut db), want);
    assert_eq!(ints("(q X Y)", &mut db), want);
    // Variables name columns in order of appearance, whatever their names.
    assert_eq!(ints("(q Y X)", &mut db), want);
}

#[test]
fn an_sx_relation_mixes_numbers_and_text_in_every_plan_mode() {
    use datalog::PlanOptions;
    for opts in [
        PlanOptions::default(),
        PlanOptions::hash_tuples(),
        PlanOptions::sparse_rows(),
    ] {
        let mut db = Database::new();
        db.set_plan_options(opts);
        for f in ["(e 1 2)", "(e 2 3)", "(n 3)"] {
            db.add_sx_fact(&d(f)).unwrap();
        }
        db.add_sx_rule(&d("(<- (p X Y) (e X Y))")).unwrap();
        db.add_sx_rule(&d("(<- (p X Z) (p X Y) (e Y Z))")).unwrap();
        db.add_sx_rule(&d("(<- (end X) (p 1 X) (n X))")).unwrap();
        assert_eq!(db.query_sx(&d("(end X)")).unwrap().len(), 1);
        // Text in a number argument widens it and everything a rule connects to it.
        db.add_sx_fact(&d("(e 3 \"top\")")).unwrap();
        db.add_sx_fact(&d("(e \"top\" 1)")).unwrap();
        db.add_sx_fact(&d("(n \"top\")")).unwrap();
        let path: Vec<String> = db
            .query_sx(&d("(p 1 X)"))
            .unwrap()
            .iter()
            .map(|b| b[0].1.to_string())
            .collect();
        assert_eq!(path, ["1", "2", "3", "\"top\""]);
        let ends: Vec<String> = db
            .query_sx(&d("(end X)"))
            .unwrap()
            .iter()
            .map(|b| b[0].1.to_string())
            .collect();
        assert_eq!(ends, ["3", "\"top\""]);
        assert_eq!(db.query_sx(&d("(p \"top\" 2)")).unwrap().len(), 1);
        assert!(db.retract_sx_fact(&d("(e \"top\" 1)")).unwrap());
        assert_eq!(db.query_sx(&d("(p \"top\" X)")).unwrap().len(), 0);
    }
}

#[test]
fn rules_checked_before_a_column_widened_compare_as_the_wider_type() {
    let mut db = Database::new();
    for f in ["(e 5)", "(e 3)"] {
        db.add_sx_fact(&d(f)).unwrap();
    }
    db.add_sx_rule(&d("(<- (lt X Y) (e X) (e Y) (< X Y))"))
        .unwrap();
    let pairs = |db: &mut Database| -> Vec<String> {
        db.query_sx(&d("(lt X Y)"))
            .unwrap()
            .iter()
            .map(|b| format!("{}<{}", b[0].1, b[1].1))
            .collect()
    };
    assert_eq!(pairs(&mut db), ["3<5"]);
    // Text widens `e`'s column: its numbers are interned (5 before 3), and the rule,
    // checked when the column held numbers, must now compare values, not ids.
    db.add_sx_fact(&d("(e \"x\")")).unwrap();
    db.add_sx_rule(&d("(<- (other X) (e X))")).unwrap();
    assert_eq!(pairs(&mut db), ["3<5"]);
}

/// A blog: posts tagged with tags, related posts, tag co-occurrence counts, popular
/// tags (an aggregate stratum, and a stratum after it).
fn blog(posts: i64) -> Database {
    let mut db = Database::new();
    let mut x = 7u64;
    for p in 0..posts {
        for _ in 0..3 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let t = (x >> 33) % 40;
            db.add_sx_fact(&d(&format!("(tagged {p} \"tag{t}\")")))
                .unwrap();
        }
    }
    for r in [
        "(<- (tag T) (tagged _ T))",
        "(<- (related P Q) (tagged P T) (tagged Q T) (!= P Q))",
        "(<- (cooc T U N) (tag T) (tag U) (!= T U) (count N P (and (tagged P T) (tagged P U))))",
        "(<- (popular T) (cooc T _ N) (> N 5))",
    ] {
        db.add_sx_rule(&d(r)).unwrap();
    }
    db
}

#[test]
fn a_change_under_an_aggregate_recounts_only_the_groups_it_touches() {
    let mut db = blog(400);
    let first = db.saturate().unwrap();
    let all = |db: &mut Database| {
        ["(related P Q)", "(cooc T U N)", "(popular T)"].map(|q| db.query_sx(&d(q)).unwrap())
    };
    // A new post with two tags, then one of them taken off again.
    let changes: [(&str, bool); 3] = [
        ("(tagged 5000 \"tag3\")", true),
        ("(tagged 5000 \"tag7\")", true),
        ("(tagged 5000 \"tag3\")", false),
    ];
    for (i, &(fact, add)) in changes.iter().enumerate() {
        if add {
            assert!(db.add_sx_fact(&d(fact)).unwrap());
        } else {
            assert!(db.retract_sx_fact(&d(fact)).unwrap());
        }
        let work = db.saturate().unwrap();
        assert!(
            (work.derived + work.probes) * 20 < first.derived + first.probes,
            "change {i}: {work:?} against the first saturation's {first:?}"
        );
        // The same facts from scratch.
        let mut fresh = blog(400);
        for &(f, a) in &changes[..=i] {
            if a {
                fresh.add_sx_fact(&d(f)).unwrap();
            } else {
                fresh.retract_sx_fact(&d(f)).unwrap();
            }
        }
        assert_eq!(all(&mut db), all(&mut fresh), "change {i}");
    }
}

#[test]
fn a_rule_with_an_expression_in_its_head_is_maintained_by_insertion_and_recomputed_on_deletion() {
    let mut db = Database::new();
    db.add_rules(
        ".decl e(x: number, y: number)\n.decl d(x: number, y: number)\nd(x, y + 1) :- e(x, y).\n",
        "h.dl",
    )
    .unwrap();
    for i in 0..500 {
        db.add_fact("e", &[Value::Number(i), Value::Number(i)])
            .unwrap();
    }
    let first = db.saturate().unwrap();
    assert!(db
        .add_fact("e", &[Value::Number(900), Value::Number(7)])
        .unwrap());
    let added = db.saturate().unwrap();
    assert_eq!(added.derived, 1, "{added:?}");
    assert!(
        db.query("d", &[Some(Value::Number(900)), Some(Value::Number(8))])
            .unwrap()
            .count()
            == 1
    );
    // No rederivation version (the head's y + 1 cannot be read back): recomputed.
    assert!(db
        .retract_fact("e", &[Value::Number(3), Value::Number(3)])
        .unwrap());
    let retracted = db.saturate().unwrap();
    assert_eq!(
        retracted.derived, first.derived,
        "{retracted:?} after {first:?}"
    );
    assert_eq!(db.size("d").unwrap(), 500);
    assert!(
        db.query("d", &[Some(Value::Number(3)), None])
            .unwrap()
            .count()
            == 0
    );
}

#[test]
fn a_query_by_key_indexes_its_relation_and_stays_right_under_changes() {
    // A ternary relation (tuple storage) and a derived one, queried by one and by
    // two bound columns: the first query builds the index, and every later change
    // (additions and retractions, base and derived) must show in its answers.
    let mut db = Database::new();
    db.add_sx_rule(&d("(<- (both T U S) (tagged S T) (tagged S U) (!= T U))"))
        .unwrap();
    let tags = ["a", "b", "c", "d"];
    let mut facts = std::collections::BTreeSet::new();
    let answers = |db: &mut Database, q: &str| -> Vec<String> {
        db.query_sx(&d(q))
            .unwrap()
            .into_iter()
            .map(|b| {
                b.iter()
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    for step in 0..60u32 {
        let post = format!("p{}", step % 9);
        let tag = tags[(step as usize * 7) % tags.len()];
        let fact = format!("(tagged \"{post}\" \"{tag}\")");
        if step % 3 == 2 && facts.contains(&(post.clone(), tag)) {
            db.retract_sx_fact(&d(&fact)).unwrap();
            facts.remove(&(post.clone(), tag));
        } else {
            db.add_sx_fact(&d(&fact)).unwrap();
            facts.insert((post.clone(), tag));
        }
        let got = answers(&mut db, "(both \"a\" \"b\" S)");
        let want: Vec<String> = (0..9)
            .map(|p| format!("p{p}"))
            .filter(|p| facts.contains(&(p.clone(), "a")) && facts.contains(&(p.clone(), "b")))
            .map(|p| format!("\"{p}\""))
            .collect();
        assert_eq!(got, want, "step {step}");
        let got = answers(&mut db, "(tagged S \"c\")");
        let want: Vec<String> = facts
            .iter()
            .filter(|f| f.1 == "c")
            .map(|f| format!("\"{}\"", f.0))
            .collect();
        assert_eq!(got, want, "step {step}");
    }
}
