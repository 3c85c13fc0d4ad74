//! The tiering layer end to end: policy modes, `jit-exclude!`, calls across tiers,
//! and the three fallback cases (compile error, recovered miscompile, genuine error),
//! with a write never executed twice.

use lang::tiering::JitMode;
use lang::{printer::repr, Interp, OutputBuffer, Tier, Value};
use sx::{format_error, with_big_stack, Host, HostOptions};

fn host(jit: JitMode, suspend_everywhere: bool, faults: &[&str]) -> (Host, OutputBuffer) {
    let out = OutputBuffer::default();
    let options = HostOptions {
        tier: Tier::Cek,
        jit: Some(jit),
        inject_faults: faults.iter().map(|s| s.to_string()).collect(),
        suspend_everywhere,
        ..HostOptions::default()
    };
    (
        Host::with_options(Interp::with_output(Box::new(out.clone())), options),
        out,
    )
}

fn stat(h: &mut Host, key: &str) -> i64 {
    let v = h
        .run_source(&format!("(get (jit-stats) :{key})"), "stats")
        .expect("jit-stats");
    match v {
        Value::Int(n) => n,
        other => panic!("{key}: {}", repr(&other)),
    }
}

const READ_THEN_MAP: &str = r#"
(perform {:op "kv-put" :key "n" :value 10})
(define (handler k)
  (let ((a (perform {:op "kv-get" :key k})))
    (map (fn (x) (* x a)) (list 1 2 3))))
"#;

#[test]
fn a_miscompiled_function_that_only_read_is_recovered_on_the_cek_and_demoted() {
    with_big_stack(|| {
        for suspend in [false, true] {
            let (mut h, _) = host(JitMode::Eager, suspend, &["handler"]);
            h.run_source(READ_THEN_MAP, "t").expect("setup");
            let first = h
                .run_source(r#"(handler "n")"#, "t")
                .expect("first call is recovered");
            assert_eq!(repr(&first), "(10 20 30)");
            assert_eq!(stat(&mut h, "recovered"), 1);
            let detail = h
                .run_source(r#"(get (get (jit-stats true) :functions) "handler")"#, "t")
                .unwrap();
            assert!(
                repr(&detail).contains("recovered on the CEK"),
                "{}",
                repr(&detail)
            );
            // Demoted for good: later calls run on the CEK, and are not recovered again.
            let second = h.run_source(r#"(handler "n")"#, "t").expect("second call");
            assert_eq!(repr(&second), "(10 20 30)");
            assert_eq!(stat(&mut h, "recovered"), 1);
            assert!(stat(&mut h, "fallbacks") >= 2);
        }
    });
}

#[test]
fn a_miscompile_after_a_write_is_not_rerun_and_the_write_happened_once() {
    with_big_stack(|| {
        for suspend in [false, true] {
            let (mut h, _) = host(JitMode::Eager, suspend, &["writer"]);
            let src = r#"
(define (writer k)
  (perform {:op "kv-put" :key k :value (+ 1 (or (perform {:op "kv-get" :key "count"}) 0))})
  (perform {:op "kv-put" :key "count" :value (+ 1 (or (perform {:op "kv-get" :key "count"}) 0))})
  (map (fn (x) x) (list 1 2 3)))
(writer "w")"#;
            let err = h
                .run_source(src, "t")
                .expect_err("the miscompile must surface");
            assert!(
                err.message().contains("map: expected 2 arguments, got 3"),
                "{}",
                err.message()
            );
            let note = err
                .note
                .clone()
                .expect("a note says why it was not retried");
            assert!(
                note.contains("writer") && note.contains("not re-run"),
                "{note}"
            );
            assert!(format_error(&err).contains("note: writer"));
            assert_eq!(h.kv().writes, 2, "each put ran exactly once");
            assert_eq!(repr(h.kv().get("count").unwrap()), "1");
            assert_eq!(stat(&mut h, "recovered"), 0);
        }
    });
}

#[test]
fn a_compile_failure_runs_the_call_on_the_cek_and_is_never_retried() {
    with_big_stack(|| {
        let (mut h, _) = host(JitMode::Eager, false, &["handler:compile"]);
        h.run_source(READ_THEN_MAP, "t").expect("setup");
        for _ in 0..3 {
            let v = h
                .run_source(r#"(handler "n")"#, "t")
                .expect("runs on the CEK");
            assert_eq!(repr(&v), "(10 20 30)");
        }
        assert_eq!(stat(&mut h, "failed"), 1, "one compile failure, no storm");
        assert_eq!(stat(&mut h, "fallbacks"), 3);
    });
}

#[test]
fn a_genuine_error_propagates_unchanged_on_every_mode() {
    with_big_stack(|| {
        let src = r#"(define (f x) (+ x (perform {:op "kv-get" :key "missing"}))) (f 1)"#;
        let mut messages = Vec::new();
        for mode in [JitMode::Off, JitMode::Hot(0), JitMode::Eager] {
            let (mut h, _) = host(mode, false, &[]);
            let err = h.run_source(src, "t").expect_err("nil + 1 is an error");
            assert!(err.note.is_none());
            messages.push(err.message());
            assert_eq!(stat(&mut h, "recovered"), 0);
        }
        assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
        assert!(messages[0].starts_with("+: expected"), "{}", messages[0]);
    });
}

#[test]
fn excluded_namespaces_run_on_the_cek_and_calls_cross_tiers_both_ways_with_performs() {
    with_big_stack(|| {
        let src = r#"
(jit-exclude! "host/*")
(define (leaf x) (+ x (perform {:op "kv-get" :key "k"})))
(define (host/middle xs) (map (fn (x) (leaf x)) xs))
(define (top n) (reduce + 0 (host/middle (range n))))
(perform {:op "kv-put" :key "k" :value 100})
(top 50)"#;
        let expected = (0..50).map(|x| x + 100).sum::<i64>();
        for suspend in [false, true] {
            let (mut h, _) = host(JitMode::Eager, suspend, &[]);
            let v = h.run_source(src, "t").expect("mixed-tier program");
            assert_eq!(repr(&v), expected.to_string());
            let detail = repr(
                &h.run_source("(get (jit-stats true) :functions)", "t")
                    .unwrap(),
            );
            assert!(
                detail.contains(r#""host/middle" {:compiled false :excluded true"#),
                "{detail}"
            );
            assert!(detail.contains(r#""leaf" {:compiled true"#), "{detail}");
            assert!(detail.contains(r#""top" {:compiled true"#), "{detail}");
            assert!(stat(&mut h, "excluded") >= 1);
        }
    });
}

#[test]
fn hot_mode_compiles_a_function_only_after_its_threshold() {
    with_big_stack(|| {
        let (mut h, _) = host(JitMode::Hot(3), false, &[]);
        h.run_source("(define (sq x) (* x x))", "t").unwrap();
        for _ in 0..3 {
            h.run_source("(sq 4)", "t").unwrap();
        }
        assert_eq!(stat(&mut h, "compiled"), 0);
        assert_eq!(repr(&h.run_source("(sq 5)", "t").unwrap()), "25");
        assert_eq!(stat(&mut h, "compiled"), 1);
    });
}

#[test]
fn jit_include_overrides_an_earlier_exclude() {
    with_big_stack(|| {
        let (mut h, _) = host(JitMode::Eager, false, &[]);
        let src = r#"(jit-exclude! "dream-*") (jit-include! "dream-keep")
(define (dream-a) 1) (define (dream-keep) 2) (+ (dream-a) (dream-keep))"#;
        assert_eq!(repr(&h.run_source(src, "t").unwrap()), "3");
        let detail = repr(
            &h.run_source("(get (jit-stats true) :functions)", "t")
                .unwrap(),
        );
        assert!(
            detail.contains(r#""dream-a" {:compiled false :excluded true"#),
            "{detail}"
        );
        assert!(
            detail.contains(r#""dream-keep" {:compiled true"#),
            "{detail}"
        );
    });
}

#[test]
fn a_miscompiled_callback_of_a_higher_order_loop_is_recovered_and_the_loop_goes_on() {
    // The callback is entered by `map`, not by VM code: its fault is still re-run on
    // the CEK (for that element), the loop continues, and nothing fails. Before the
    // callee was kept below the callback's slots, this error reached the caller.
    with_big_stack(|| {
        for suspend in [false, true] {
            let (mut h, _) = host(JitMode::Eager, suspend, &["pair"]);
            let src = r#"
(define (pair x) (list (first (list x x)) (perform {:op "kv-get" :key "k"})))
(map pair (list 1 2 3))"#;
            let v = h
                .run_source(src, "t")
                .expect("the callback's fault is recovered");
            assert_eq!(repr(&v), "((1 nil) (2 nil) (3 nil))");
            assert_eq!(stat(&mut h, "recovered"), 1);
            // Demoted after the first element: the others ran on the CEK.
            assert!(stat(&mut h, "fallbacks") >= 2);
        }
    });
}
