//! The dl-* library loads on first use, and a program's own definitions survive it.

use lang::{printer::repr, Interp, Outcome, OutputBuffer};

fn run(interp: &mut Interp, src: &str) -> String {
    match interp.run_source(src, "t") {
        Outcome::Done(v) => repr(&v),
        Outcome::Error(e) => format!("error: {}", e.message()),
        Outcome::Perform(..) => "perform".into(),
    }
}

fn interp() -> Interp {
    let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
    bridge::install(&mut i).expect("install");
    i
}

#[test]
fn the_library_works_through_its_stubs_on_first_use() {
    let mut i = interp();
    let q = "(define db (dl-program)) (dl-add-fact! db '(edge 1 2)) (dl-add-fact! db '(edge 2 3))
             (dl-add-rule! db '(<- (path X Y) (edge X Y))) (dl-add-rule! db '(<- (path X Z) (path X Y) (edge Y Z)))
             (dl-query db '(path 1 X))";
    assert_eq!(run(&mut i, q), "({X 2} {X 3})");
    // Loaded once: a second program gets the real functions at once.
    assert_eq!(run(&mut i, "(dl-implementation (dl-program :sx))"), ":sx");
}

#[test]
fn a_definition_made_before_the_first_use_is_kept() {
    let mut i = interp();
    assert_eq!(
        run(
            &mut i,
            "(define (dl-query db q) \"mine\") (dl-query (dl-program) 1)"
        ),
        "\"mine\""
    );
    assert_eq!(run(&mut i, "(dl-query 1 2)"), "\"mine\"");
}

#[test]
fn excluding_dl_star_still_selects_the_sx_implementation() {
    let mut i = interp();
    assert_eq!(
        run(
            &mut i,
            "(jit-exclude! \"dl-*\") (dl-implementation (dl-program))"
        ),
        ":sx"
    );
}

#[test]
fn dl_engine_p_answers_for_handles_programs_and_other_values() {
    let mut i = interp();
    let q =
        "(list (dl-engine? (dl-program)) (dl-engine? (dl-program :sx)) (dl-engine? {:dl-engine 1})
                   (dl-engine? {:other 1}) (dl-engine? nil) (dl-engine? '(1)))";
    assert_eq!(run(&mut i, q), "(true false true false false false)");
    assert_eq!(
        run(&mut i, "(dl-engine?)"),
        "error: dl-engine?: expected 1 arguments, got 0"
    );
}

#[test]
fn an_engine_primitive_given_anything_but_a_handle_names_what_it_got() {
    let mut i = interp();
    for (arg, shown) in [
        ("{:dl-engine 1}", "{:dl-engine 1}"),
        ("(dl-program :sx)", "{:dl-sx"),
        ("42", "42"),
    ] {
        let out = run(&mut i, &format!("(dl-engine-add-fact! {arg} '(e 1))"));
        assert!(
            out.starts_with(&format!(
                "error: dl-add-fact!: expected an engine program made by dl-program, got {shown}"
            )),
            "{arg}: {out}"
        );
    }
    // A handle still works after a rejected call.
    assert_eq!(
        run(
            &mut i,
            "(let ((db (dl-program))) (dl-engine-add-fact! db '(e 1)))"
        ),
        "true"
    );
}
