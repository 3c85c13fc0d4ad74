//! Adds one edge at a time to a saturated transitive closure over a `.facts` graph and
//! prints the time and work of each incremental saturation against the full one.
//! Usage: `cargo run --release -p datalog --example incremental -- EDGE_FACTS`.

use datalog::{Database, Value};
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/bench/tc_b/facts/edge.facts".to_string());
    let text = std::fs::read_to_string(&path).expect("edge facts");
    let mut db = Database::new();
    db.add_rules(
        ".decl edge(x: number, y: number)\n.decl path(x: number, y: number)\npath(x, y) :- edge(x, y).\npath(x, z) :- path(x, y), edge(y, z).\n",
        "tc.dl",
    )
    .expect("program");
    let mut first = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut it = line
            .split('\t')
            .map(|x| x.trim().parse::<i64>().expect("number"));
        let (a, b) = (it.next().expect("col 0"), it.next().expect("col 1"));
        if first.len() < 12 {
            first.push(a);
        }
        db.add_fact("edge", &[Value::Number(a), Value::Number(b)])
            .expect("fact");
    }
    let t = Instant::now();
    let full = db.saturate().expect("saturate");
    println!(
        "full saturation: {:.3} s, path {} tuples, derived {}, probes {}",
        t.elapsed().as_secs_f64(),
        db.size("path").expect("size"),
        full.derived,
        full.probes
    );
    for (i, &target) in first.iter().enumerate() {
        let before = db.size("path").expect("size");
        db.add_fact(
            "edge",
            &[Value::Number(20_000 + i as i64), Value::Number(target)],
        )
        .expect("fact");
        let t = Instant::now();
        let w = db.saturate().expect("saturate");
        println!(
            "add edge {} -> {target}: {:.4} s, +{} tuples, derived {}, probes {}",
            20_000 + i,
            t.elapsed().as_secs_f64(),
            db.size("path").expect("size") - before,
            w.derived,
            w.probes
        );
    }
}
