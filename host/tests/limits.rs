//! The interrupt flag and the limits, on every tier: a flag set from another thread
//! stops each kind of loop (tail calls, deep recursion, higher-order loops with a
//! callback, the VM's inlined loops) with `interrupted`, which no guard catches, and
//! the host goes on with its definitions intact.

use std::sync::atomic::Ordering;
use std::time::Duration;

use lang::tiering::JitMode;
use lang::{Interp, OutputBuffer};
use sx::{with_big_stack, Host, HostOptions, Limits};

/// Every JIT mode: all on the CEK, all on the VM, and moving to the VM on the
/// second call.
const MODES: &[JitMode] = &[JitMode::Off, JitMode::Eager, JitMode::Hot(1)];

/// Loops that never end on their own, each of a different shape.
const LOOPS: &[&str] = &[
    "(let loop ((i 0)) (loop (+ i 1)))",
    "(define (spin n) (if (< n 0) 0 (spin (+ n 1)))) (spin 0)",
    "(define (forever) (+ 1 (forever))) (forever)",
    "(let loop () (map (fn (x) (* x x)) (range 1000)) (loop))",
    "(let loop () (for-each (fn (x) x) (range 1000)) (loop))",
    "(define (sq x) (* x x)) (let loop () (reduce (fn (a x) (+ a (sq x))) 0 (range 1000)) (loop))",
    "(guard (e (true :caught)) (let loop ((i 0)) (loop (+ i 1))))",
    "(let loop () (guard (e (true (loop))) (loop)))",
];

fn host(mode: JitMode, limits: Limits) -> Host {
    let options = HostOptions {
        jit: Some(mode),
        limits,
        ..HostOptions::default()
    };
    Host::with_options(
        Interp::with_output(Box::new(OutputBuffer::default())),
        options,
    )
}

#[test]
fn the_interrupt_flag_stops_every_kind_of_loop_on_every_tier() {
    with_big_stack(|| {
        for &mode in MODES {
            let mut h = host(mode, Limits::default());
            h.run_source("(define kept 41)", "setup").expect("define");
            for src in LOOPS {
                let flag = h.interp.interrupt.clone();
                let setter = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    flag.store(true, Ordering::Relaxed);
                });
                let result = h.run_source(src, "loop");
                setter.join().expect("the setter thread");
                match result {
                    Err(e) => assert_eq!(e.message(), "interrupted", "{mode:?}: {src}"),
                    Ok(v) => panic!("{mode:?}: {src} ended with {v:?}"),
                }
                // The next evaluation runs, and sees the definitions made before.
                let v = h
                    .run_source("(+ kept 1)", "after")
                    .expect("after the interrupt");
                assert_eq!(lang::printer::repr(&v), "42", "{mode:?}: {src}");
            }
        }
    });
}

#[test]
fn a_timeout_stops_an_evaluation_and_the_next_one_runs() {
    with_big_stack(|| {
        for &mode in MODES {
            let limits = Limits {
                timeout: Some(Duration::from_millis(100)),
                ..Limits::default()
            };
            let mut h = host(mode, limits);
            let err = h
                .run_source("(let loop ((i 0)) (loop (+ i 1)))", "loop")
                .expect_err("a timeout");
            assert_eq!(
                err.message(),
                "time limit exceeded (limit 0.1 s)",
                "{mode:?}"
            );
            let v = h.run_source("(+ 1 2)", "after").expect("after the timeout");
            assert_eq!(lang::printer::repr(&v), "3", "{mode:?}");
        }
    });
}
