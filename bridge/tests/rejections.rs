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
