//! Retracts input facts one at a time from a saturated workload and prints the time
//! and work of each saturation after it, under each [`Retraction`] mode, checking that
//! every mode ends with the same relation sizes.
//!
//! Usage: `cargo run --release -p datalog --example retract -- WORKLOAD_DIR [N]`, where
//! WORKLOAD_DIR holds `prog.dl` and `facts/` (as `../shared/bench/*` do); N facts are
//! retracted (default 5), spread evenly over the first input relation's file.

use datalog::ast::IoKind;
use datalog::io::facts::load_facts_file;
use datalog::{Database, Retraction, Value};
use std::path::Path;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| "../shared/bench/sg".to_string());
    let n: usize = args.next().map_or(5, |s| s.parse().expect("N is a number"));
    let dir = Path::new(&dir);
    let prog = std::fs::read_to_string(dir.join("prog.dl")).expect("prog.dl");
    let mut sizes = Vec::new();
    for mode in [Retraction::Adaptive, Retraction::Recompute] {
        let mut db = Database::new();
        db.set_retraction(mode);
        db.add_rules(&prog, "prog.dl").expect("program");
        let inputs: Vec<String> = db
            .program()
            .io_of(IoKind::Input)
            .map(|i| i.relation.clone())
            .collect();
        for rel in &inputs {
            let path = dir.join("facts").join(format!("{rel}.facts"));
            load_facts_file(&mut db, rel, &path).expect("facts");
        }
        let t = Instant::now();
        let full = db.saturate().expect("saturate");
        let outputs: Vec<String> = db
            .program()
            .io_of(IoKind::PrintSize)
            .map(|i| i.relation.clone())
            .collect();
        let size = |db: &Database| -> Vec<usize> {
            outputs.iter().map(|r| db.size(r).expect("size")).collect()
        };
        println!(
            "{mode:?}: full saturation {:.4} s, sizes {:?}, derived {}, probes {}",
            t.elapsed().as_secs_f64(),
            size(&db),
            full.derived,
            full.probes
        );
        let victim = &inputs[0];
        let facts = db.tuples(victim).expect("tuples");
        let step = (facts.len() / n.max(1)).max(1);
        for fact in facts.iter().step_by(step).take(n) {
            let before = size(&db);
            assert!(db.retract_fact(victim, fact).expect("retract"));
            let t = Instant::now();
            let w = db.saturate().expect("saturate");
            let after = size(&db);
            let lost: Vec<i64> = before
                .iter()
                .zip(&after)
                .map(|(b, a)| *b as i64 - *a as i64)
                .collect();
            println!(
                "  retract {victim}{}: {:.4} s, lost {lost:?}, derived {}, probes {}",
                show(fact),
                t.elapsed().as_secs_f64(),
                w.derived,
                w.probes
            );
        }
        sizes.push(size(&db));
    }
    assert!(
        sizes.windows(2).all(|w| w[0] == w[1]),
        "modes disagree: {sizes:?}"
    );
}

fn show(fact: &[Value]) -> String {
    let vals: Vec<String> = fact.iter().map(|v| v.to_string()).collect();
    format!("({})", vals.join(", "))
}
