//! The engine and the SX library reject bad rules and facts with the same message.

use lang::{Interp, Outcome, OutputBuffer};

fn error_of(implementation: &str, body: &str) -> String {
    let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
    bridge::install(&mut i).expect("install");
    let src = format!("(define db (dl-program {implementation})) {body}");
    match i.run_source(&src, "t") {
        Outcome::Error(e) => e.message(),
        Outcome::Done(v) => panic!("{implementation} {body}: expected an error, got {v:?}"),
        Outcome::Perform(..) => panic!("unexpected perform"),
    }
}

#[test]
fn rejections_name_the_rule_fact_or_cycle_identically_on_both_implementations() {
    let cases = [
        "(dl-add-rule! db '(<- (p X Y) (q X)))",
        "(dl-add-rule! db '(<- (p X) (q X) (< Y 3)))",
        "(dl-add-rule! db '(<- (p X) (not (q X))))",
        "(dl-add-fact! db '(p X))",
        "(dl-add-rule! db '(<- (p X) (q X) (not (p X)))) (dl-saturate! db)",
    ];
    for body in cases {
        let engine = error_of(":engine", body);
        let sx = error_of(":sx", body);
        assert_eq!(engine, sx, "{body}");
        assert!(
            ["unsafe rule", "non-ground fact", "unstratifiable"]
                .iter()
                .any(|w| engine.contains(w)),
            "{engine}"
        );
    }
}

/// Not yet agreement: the SX library keeps any mix of values in a relation's argument,
/// while an engine relation keeps the kind (number, or string/symbol) each argument
/// first had and rejects a fact of the other kind with a message naming it. Pinned here
/// so a change on either side is noticed.
#[test]
fn the_engine_rejects_mixing_numbers_and_text_in_one_argument_and_says_so() {
    let cases = [
        (
            "(dl-add-fact! db '(v 1)) (dl-add-fact! db '(v \"x\"))",
            "type mismatch in `(v \"x\")`: argument 1 of `v` holds numbers, not the string \"x\"",
        ),
        (
            "(dl-add-fact! db '(v a 1)) (dl-add-fact! db '(v 2 b))",
            "type mismatch in `(v 2 b)`: argument 1 of `v` holds strings and symbols, not the number 2",
        ),
        (
            "(dl-add-fact! db '(v 1)) (dl-add-fact! db '(v y))",
            "type mismatch in `(v y)`: argument 1 of `v` holds numbers, not the symbol y",
        ),
    ];
    for (body, want) in cases {
        let engine = error_of(":engine", body);
        assert!(engine.starts_with(want), "{body}: {engine}");
        let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
        bridge::install(&mut i).expect("install");
        let query = if body.contains("(v a 1)") {
            "(v X Y)"
        } else {
            "(v X)"
        };
        let src = format!("(define db (dl-program :sx)) {body} (len (dl-query db '{query}))");
        match i.run_source(&src, "t") {
            Outcome::Done(v) => assert_eq!(lang::printer::repr(&v), "2", "{body}"),
            _ => panic!("{body}: the SX library rejected a mix of values"),
        }
    }
}
