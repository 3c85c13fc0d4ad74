//! Property: random stratified programs over random small fact sets derive exactly what
//! a naive reference evaluator (brute force over every variable assignment) derives,
//! both from scratch and when the facts arrive in two saturations, and after facts are
//! retracted (delete and rederive, or recomputation).

use datalog::PlanOptions;
use datalog::{Database, Retraction, Value};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Values stay in 0..=DOM (a count can reach DOM).
const DOM: i64 = 8;
const EDB: [&str; 2] = ["e0", "e1"];

/// Relations: 0, 1 are e0, e1; 2.. are d0, d1, ….
fn name(r: usize) -> String {
    if r < 2 {
        EDB[r].to_string()
    } else {
        format!("d{}", r - 2)
    }
}

#[derive(Clone, Debug)]
enum Template {
    /// d(x, y) :- a(x, y).
    Copy(usize),
    /// d(x, y) :- a(y, x).
    Flip(usize),
    /// d(x, z) :- a(x, y), b(y, z).
    Join(usize, usize),
    /// d(x, y) :- a(x, y), !n(x, y).
    Minus(usize, usize),
    /// d(x, y) :- a(x, y), x < y.
    Less(usize),
    /// d(x, y) :- a(x, z), y = z + 1, y < DOM.
    Succ(usize),
    /// d(x, c) :- a(x, _), c = count : { n(x, _) }.
    Count(usize, usize),
    /// d(x, s) :- a(x, _), s = sum y : { n(x, y) }, s < DOM.
    Sum(usize, usize),
    /// d(x, m) :- a(x, _), m = min y : { n(x, y) }.
    Min(usize, usize),
    /// d(x, y) :- a(x, p), b(y, p), x != y (siblings: a chain with distinct ends).
    Siblings(usize, usize),
    /// d(x, z) :- a(x, y), b(y, z), z != x.
    JoinApart(usize, usize),
    /// d(x, c) :- a(x, y), c = count : { n(x, p), m(p, y) }, c < DOM (an intersection).
    CountBoth(usize, usize, usize),
    /// d(x, y) :- a(x + 1, y), b(x, _): an expression argument whose variable a later
    /// atom binds.
    ExprArg(usize, usize),
    /// d(x, y) :- a(x, z), b(z + 1, y): an expression argument in a join (and, with
    /// b = d, in the recursive atom a delta version scans first).
    ExprJoin(usize, usize),
    /// d(x, y + 1) :- a(x, y), y + 1 < DOM: an expression in the head.
    ExprHead(usize),
    /// d(x, m) :- a(x, _), m = max m : { n(x, m) }: the result names the value.
    MaxSelf(usize, usize),
    /// d(x, y) :- a(x, y), z0(): gated by a nullary relation (z0() :- e0(v, v)).
    Gate(usize),
    /// d(x, y) :- a(x, y), !z0().
    NotGate(usize),
}

/// Rules for derived relation `i` (index 2 + i): positive reads of any relation up to
/// and including itself, negative/aggregate reads strictly below.
fn template(i: usize) -> impl Strategy<Value = Template> {
    let me = 2 + i;
    let pos = 0..=me;
    let low = 0..me;
    prop_oneof![
        pos.clone().prop_map(Template::Copy),
        pos.clone().prop_map(Template::Flip),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Template::Join(a, b)),
        (pos.clone(), low.clone()).prop_map(|(a, n)| Template::Minus(a, n)),
        pos.clone().prop_map(Template::Less),
        pos.clone().prop_map(Template::Succ),
        (pos.clone(), low.clone()).prop_map(|(a, n)| Template::Count(a, n)),
        (pos.clone(), low.clone()).prop_map(|(a, n)| Template::Sum(a, n)),
        (pos.clone(), low.clone()).prop_map(|(a, n)| Template::Min(a, n)),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Template::Siblings(a, b)),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Template::JoinApart(a, b)),
        (pos.clone(), low.clone(), low.clone()).prop_map(|(a, n, m)| Template::CountBoth(a, n, m)),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Template::ExprArg(a, b)),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Template::ExprJoin(a, b)),
        pos.clone().prop_map(Template::ExprHead),
        (pos.clone(), low).prop_map(|(a, n)| Template::MaxSelf(a, n)),
        pos.clone().prop_map(Template::Gate),
        pos.prop_map(Template::NotGate),
    ]
}

fn text(head: usize, t: &Template) -> String {
    let h = name(head);
    match t {
        Template::Copy(a) => format!("{h}(x, y) :- {}(x, y).", name(*a)),
        Template::Flip(a) => format!("{h}(x, y) :- {}(y, x).", name(*a)),
        Template::Join(a, b) => format!("{h}(x, z) :- {}(x, y), {}(y, z).", name(*a), name(*b)),
        Template::Minus(a, n) => format!("{h}(x, y) :- {}(x, y), !{}(x, y).", name(*a), name(*n)),
        Template::Less(a) => format!("{h}(x, y) :- {}(x, y), x < y.", name(*a)),
        Template::Succ(a) => format!("{h}(x, y) :- {}(x, z), y = z + 1, y < {DOM}.", name(*a)),
        Template::Count(a, n) => {
            format!(
                "{h}(x, c) :- {}(x, _), c = count : {{ {}(x, _) }}.",
                name(*a),
                name(*n)
            )
        }
        Template::Sum(a, n) => format!(
            "{h}(x, s) :- {}(x, _), s = sum y : {{ {}(x, y) }}, s < {DOM}.",
            name(*a),
            name(*n)
        ),
        Template::Min(a, n) => {
            format!(
                "{h}(x, m) :- {}(x, _), m = min y : {{ {}(x, y) }}.",
                name(*a),
                name(*n)
            )
        }
        Template::Siblings(a, b) => format!(
            "{h}(x, y) :- {}(x, p), {}(y, p), x != y.",
            name(*a),
            name(*b)
        ),
        Template::JoinApart(a, b) => format!(
            "{h}(x, z) :- {}(x, y), {}(y, z), z != x.",
            name(*a),
            name(*b)
        ),
        Template::CountBoth(a, n, m) => format!(
            "{h}(x, c) :- {}(x, y), c = count : {{ {}(x, p), {}(p, y) }}, c < {DOM}.",
            name(*a),
            name(*n),
            name(*m)
        ),
        Template::ExprArg(a, b) => {
            format!("{h}(x, y) :- {}(x + 1, y), {}(x, _).", name(*a), name(*b))
        }
        Template::ExprJoin(a, b) => {
            format!("{h}(x, y) :- {}(x, z), {}(z + 1, y).", name(*a), name(*b))
        }
        Template::ExprHead(a) => format!("{h}(x, y + 1) :- {}(x, y), y + 1 < {DOM}.", name(*a)),
        Template::MaxSelf(a, n) => format!(
            "{h}(x, m) :- {}(x, _), m = max m : {{ {}(x, m) }}.",
            name(*a),
            name(*n)
        ),
        Template::Gate(a) => format!("{h}(x, y) :- {}(x, y), z0().", name(*a)),
        Template::NotGate(a) => format!("{h}(x, y) :- {}(x, y), !z0().", name(*a)),
    }
}

type Rel = BTreeSet<(i64, i64)>;

/// Naive evaluation: stratum by stratum (relation by relation), apply every rule to
/// every assignment until nothing changes.
fn reference(rules: &[Vec<Template>], facts: &[Rel; 2]) -> Vec<Rel> {
    let mut rels: Vec<Rel> = vec![facts[0].clone(), facts[1].clone()];
    rels.extend(rules.iter().map(|_| Rel::new()));
    let z0 = facts[0].iter().any(|(a, b)| a == b);
    for (i, rs) in rules.iter().enumerate() {
        let me = 2 + i;
        loop {
            let mut add = Vec::new();
            for t in rs {
                for x in 0..=DOM {
                    for y in 0..=DOM {
                        let has = |r: usize, a: i64, b: i64| rels[r].contains(&(a, b));
                        let any = |r: usize, a: i64| (0..=DOM).any(|v| rels[r].contains(&(a, v)));
                        let ok = match t {
                            Template::Copy(a) => has(*a, x, y),
                            Template::Flip(a) => has(*a, y, x),
                            Template::Join(a, b) => {
                                (0..=DOM).any(|z| has(*a, x, z) && has(*b, z, y))
                            }
                            Template::Minus(a, n) => has(*a, x, y) && !has(*n, x, y),
                            Template::Less(a) => has(*a, x, y) && x < y,
                            Template::Succ(a) => (1..DOM).contains(&y) && has(*a, x, y - 1),
                            Template::Count(a, n) => {
                                any(*a, x)
                                    && (0..=DOM).filter(|&v| has(*n, x, v)).count() as i64 == y
                            }
                            Template::Sum(a, n) => {
                                y < DOM
                                    && any(*a, x)
                                    && (0..=DOM).filter(|&v| has(*n, x, v)).sum::<i64>() == y
                            }
                            Template::Min(a, n) => {
                                any(*a, x) && (0..=DOM).find(|&v| has(*n, x, v)) == Some(y)
                            }
                            Template::Siblings(a, b) => {
                                x != y && (0..=DOM).any(|p| has(*a, x, p) && has(*b, y, p))
                            }
                            Template::JoinApart(a, b) => {
                                x != y && (0..=DOM).any(|z| has(*a, x, z) && has(*b, z, y))
                            }
                            Template::CountBoth(a, n, m) => {
                                y < DOM
                                    && (0..=DOM).any(|z| {
                                        has(*a, x, z)
                                            && (0..=DOM)
                                                .filter(|&p| has(*n, x, p) && has(*m, p, z))
                                                .count()
                                                as i64
                                                == y
                                    })
                            }
                            Template::ExprArg(a, b) => any(*b, x) && has(*a, x + 1, y),
                            Template::ExprJoin(a, b) => {
                                (0..=DOM).any(|z| has(*a, x, z) && has(*b, z + 1, y))
                            }
                            Template::ExprHead(a) => (1..DOM).contains(&y) && has(*a, x, y - 1),
                            Template::MaxSelf(a, n) => {
                                any(*a, x) && (0..=DOM).rev().find(|&v| has(*n, x, v)) == Some(y)
                            }
                            Template::Gate(a) => z0 && has(*a, x, y),
                            Template::NotGate(a) => !z0 && has(*a, x, y),
                        };
                        if ok && !rels[me].contains(&(x, y)) {
                            add.push((x, y));
                        }
                    }
                }
            }
            if add.is_empty() {
                break;
            }
            rels[me].extend(add);
        }
    }
    rels
}

fn program(rules: &[Vec<Template>]) -> String {
    let mut s = String::new();
    for r in 0..2 + rules.len() {
        s.push_str(&format!(".decl {}(a: number, b: number)\n", name(r)));
    }
    s.push_str(".decl z0()\nz0() :- e0(v, v).\n");
    for (i, rs) in rules.iter().enumerate() {
        for t in rs {
            s.push_str(&text(2 + i, t));
            s.push('\n');
        }
    }
    s
}

fn engine(rules: &[Vec<Template>], batches: &[[Rel; 2]], plan: PlanOptions) -> Vec<Rel> {
    let steps: Vec<Step> = batches.iter().map(|b| Step::Add(b.clone())).collect();
    engine_steps(rules, &steps, plan, Retraction::Adaptive)
}

/// One step of a run: facts added, retracted, or both (retracted first), then a
/// saturation.
#[derive(Clone, Debug)]
enum Step {
    Add([Rel; 2]),
    Retract([Rel; 2]),
    Both { retract: [Rel; 2], add: [Rel; 2] },
}

fn engine_steps(
    rules: &[Vec<Template>],
    steps: &[Step],
    plan: PlanOptions,
    retraction: Retraction,
) -> Vec<Rel> {
    engine_each_step(rules, steps, plan, retraction)
        .pop()
        .expect("at least one step")
}

/// The engine's relations after each step of `steps`, on one database.
fn engine_each_step(
    rules: &[Vec<Template>],
    steps: &[Step],
    plan: PlanOptions,
    retraction: Retraction,
) -> Vec<Vec<Rel>> {
    let mut db = Database::new();
    db.set_plan_options(plan);
    db.set_retraction(retraction);
    db.add_rules(&program(rules), "random.dl")
        .expect("generated program is valid");
    let change = |db: &mut Database, batch: &[Rel; 2], add: bool| {
        for (r, facts) in batch.iter().enumerate() {
            for &(a, b) in facts {
                let t = [Value::Number(a), Value::Number(b)];
                if add {
                    db.add_fact(EDB[r], &t).unwrap();
                } else {
                    db.retract_fact(EDB[r], &t).unwrap();
                }
            }
        }
    };
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Add(b) => change(&mut db, b, true),
            Step::Retract(b) => change(&mut db, b, false),
            Step::Both { retract, add } => {
                change(&mut db, retract, false);
                change(&mut db, add, true);
            }
        }
        db.saturate().unwrap();
        out.push(
            (0..2 + rules.len())
                .map(|r| {
                    db.tuples(&name(r))
                        .unwrap()
                        .into_iter()
                        .map(|t| match (&t[0], &t[1]) {
                            (Value::Number(a), Value::Number(b)) => (*a, *b),
                            _ => unreachable!("numbers only"),
                        })
                        .collect()
                })
                .collect(),
        );
    }
    out
}

fn rel() -> impl Strategy<Value = Rel> {
    proptest::collection::btree_set((0..DOM - 2, 0..DOM - 2), 0..10)
}

/// `cases` cases, unless `PROPTEST_CASES` says how many.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(cases),
        ..ProptestConfig::default()
    }
}

fn rules() -> impl Strategy<Value = Vec<Vec<Template>>> {
    (1usize..=4).prop_flat_map(|n| {
        (0..n)
            .map(|i| proptest::collection::vec(template(i), 1..=3))
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn engine_matches_naive_reference(
        rules in rules(),
        f0 in rel(), f1 in rel(), g0 in rel(), g1 in rel(),
    ) {
        let all = [
            f0.union(&g0).copied().collect::<Rel>(),
            f1.union(&g1).copied().collect::<Rel>(),
        ];
        let want = reference(&rules, &all);
        let one = std::slice::from_ref(&all);
        let two = [[f0, f1], [g0, g1]];
        for (plan, mode) in [
            (PlanOptions::default(), "rows"),
            (PlanOptions::sparse_rows(), "sparse rows"),
            (PlanOptions::hash_tuples(), "tuples"),
        ] {
            prop_assert_eq!(&engine(&rules, one, plan), &want, "{}, one batch\n{}", mode, program(&rules));
            prop_assert_eq!(&engine(&rules, &two, plan), &want, "{}, incremental\n{}", mode, program(&rules));
        }
    }
}

fn minus(a: &Rel, b: &Rel) -> Rel {
    a.difference(b).copied().collect()
}

proptest! {
    #![proptest_config(config(256))]

    /// Retracting facts from a saturated database, and retracting some and adding
    /// others (some of them retracted just before) between saturations, leaves what
    /// the reference derives from the facts that remain: delete and rederive wherever
    /// the plan allows, adaptive (recomputing strata that overdelete much), and
    /// recomputation.
    #[test]
    fn retraction_matches_naive_reference(
        rules in rules(),
        f0 in rel(), f1 in rel(), g0 in rel(), g1 in rel(), x0 in rel(), x1 in rel(),
    ) {
        let all = [
            f0.union(&g0).copied().collect::<Rel>(),
            f1.union(&g1).copied().collect::<Rel>(),
        ];
        let x = [x0, x1];
        let after = [minus(&all[0], &x[0]), minus(&all[1], &x[1])];
        let want_after = reference(&rules, &after);
        let retract_all = [Step::Add(all.clone()), Step::Retract(x.clone())];
        // Retract from f, then add g: g may assert again what was just retracted.
        let kept = [
            minus(&f0, &x[0]).union(&g0).copied().collect::<Rel>(),
            minus(&f1, &x[1]).union(&g1).copied().collect::<Rel>(),
        ];
        let want_kept = reference(&rules, &kept);
        let mixed = [
            Step::Add([f0.clone(), f1.clone()]),
            Step::Retract(x.clone()),
            Step::Add([g0.clone(), g1.clone()]),
        ];
        // The same change in one saturation.
        let together = [
            Step::Add([f0.clone(), f1.clone()]),
            Step::Both { retract: x.clone(), add: [g0.clone(), g1.clone()] },
        ];
        for (plan, mode) in [
            (PlanOptions::default(), "rows"),
            (PlanOptions::sparse_rows(), "sparse rows"),
            (PlanOptions::hash_tuples(), "tuples"),
        ] {
            for retraction in [Retraction::Rederive, Retraction::Adaptive, Retraction::Recompute] {
                prop_assert_eq!(
                    &engine_steps(&rules, &retract_all, plan, retraction), &want_after,
                    "{}, {:?}, retract after saturating\n{}", mode, retraction, program(&rules)
                );
                prop_assert_eq!(
                    &engine_steps(&rules, &mixed, plan, retraction), &want_kept,
                    "{}, {:?}, retract then add\n{}", mode, retraction, program(&rules)
                );
                prop_assert_eq!(
                    &engine_steps(&rules, &together, plan, retraction), &want_kept,
                    "{}, {:?}, retract and add together\n{}", mode, retraction, program(&rules)
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A long run of changes on one database (each step retracts some facts and adds
    /// others, then saturates) agrees with the reference after every step.
    #[test]
    fn long_runs_of_changes_match_the_reference_at_every_step(
        rules in rules(),
        steps in proptest::collection::vec(((rel(), rel()), (rel(), rel())), 2..10),
    ) {
        let steps: Vec<Step> = steps
            .into_iter()
            .map(|((x0, x1), (a0, a1))| Step::Both { retract: [x0, x1], add: [a0, a1] })
            .collect();
        let mut facts: [Rel; 2] = [Rel::new(), Rel::new()];
        let mut want = Vec::new();
        for step in &steps {
            let Step::Both { retract, add } = step else { unreachable!("made above") };
            for r in 0..2 {
                facts[r] = minus(&facts[r], &retract[r]).union(&add[r]).copied().collect();
            }
            want.push(reference(&rules, &facts));
        }
        for (plan, mode) in [
            (PlanOptions::default(), "rows"),
            (PlanOptions::hash_tuples(), "tuples"),
        ] {
            for retraction in [Retraction::Rederive, Retraction::Adaptive] {
                let got = engine_each_step(&rules, &steps, plan, retraction);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    prop_assert_eq!(g, w, "{}, {:?}, step {}\n{}", mode, retraction, i, program(&rules));
                }
            }
        }
    }
}
