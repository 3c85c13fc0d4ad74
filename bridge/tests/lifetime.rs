//! An engine program's database lives as long as SX code can reach its handle.

use lang::{Interp, Outcome, OutputBuffer, Value};
use std::rc::Rc;

fn run(i: &mut Interp, src: &str) -> Value {
    match i.run_source(src, "t") {
        Outcome::Done(v) => v,
        Outcome::Error(e) => panic!("{}", e.message()),
        Outcome::Perform(..) => panic!("unexpected perform"),
    }
}

/// A weak reference to the native value inside the handle held by global `name`.
fn database_of(i: &Interp, name: &str) -> std::rc::Weak<lang::value::Native> {
    let Some(Value::Dict(d)) = i.global(name) else {
        panic!("{name} is not a handle")
    };
    match d.get_index(0) {
        Some((_, Value::Native(n))) => Rc::downgrade(n),
        other => panic!("not an engine handle: {other:?}"),
    }
}

#[test]
fn a_database_is_freed_with_the_last_reference_to_its_handle() {
    let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
    bridge::install(&mut i).expect("install");
    run(
        &mut i,
        "(define db (dl-program :engine))
         (dl-add-fact! db '(edge 1 2))
         (dl-add-rule! db '(<- (path X Y) (edge X Y)))
         (define copy db)",
    );
    let weak = database_of(&i, "db");
    assert_eq!(
        lang::printer::repr(&run(&mut i, "(dl-query copy '(path 1 X))")),
        "({X 2})"
    );
    run(&mut i, "(set! db nil)");
    assert!(weak.upgrade().is_some(), "still reachable through `copy`");
    run(&mut i, "(set! copy nil)");
    assert!(weak.upgrade().is_none(), "freed once nothing refers to it");
}

#[test]
fn programs_made_in_a_loop_do_not_accumulate() {
    let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
    bridge::install(&mut i).expect("install");
    run(
        &mut i,
        "(define last nil)
         (define (once k)
           (let ((db (dl-program :engine)))
             (dl-add-fact! db (list 'n k))
             (set! last db)
             (len (dl-query db '(n X)))))
         (define (go n acc) (if (= n 0) acc (go (- n 1) (+ acc (once n)))))",
    );
    run(&mut i, "(go 1 0)");
    let first = database_of(&i, "last");
    assert_eq!(lang::printer::repr(&run(&mut i, "(go 100 0)")), "100");
    assert!(first.upgrade().is_none(), "an earlier program was freed");
    assert!(database_of(&i, "last").upgrade().is_some());
    assert_eq!(
        lang::printer::repr(&run(&mut i, "(dl-program)")),
        "{:dl-engine #<native dl-engine>}"
    );
}
