//! Frames kept alive only by their own closures (named `let`, internal `define`,
//! `letrec`) are reclaimed, on every tier, and a frame still in use is not.

use lang::{printer::repr, Interp, Outcome, OutputBuffer, Tier, Value};

fn run(i: &mut Interp, src: &str) -> Value {
    match i.run_source(src, "t") {
        Outcome::Done(v) => v,
        Outcome::Error(e) => panic!("{}", e.message()),
        Outcome::Perform(..) => panic!("unexpected perform"),
    }
}

const CALLS: i64 = 3000;

const PROGRAM: &str = r#"
(define (count-to n)
  (let loop ((i 0) (acc (list)))
    (if (= i n) (len acc) (loop (+ i 1) (cons i acc)))))
(define (evens xs)
  (define (keep ys) (if (empty? ys) () (if (= 0 (mod (first ys) 2)) (cons (first ys) (keep (rest ys))) (keep (rest ys)))))
  (keep xs))
(define (make-countdown)
  (letrec ((step (fn (n) (if (= n 0) "done" (step (- n 1))))))
    step))
(define kept (make-countdown))
(define (go k total)
  (if (= k 0)
      total
      (go (- k 1) (+ total (count-to 5) (len (evens (list 1 2 3 4)))))))
"#;

#[test]
fn frames_held_only_by_their_own_closures_are_freed_on_every_tier() {
    for tier in [Tier::Cek, Tier::Vm] {
        let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
        i.set_tier(tier);
        run(&mut i, PROGRAM);
        let v = run(&mut i, &format!("(go {CALLS} 0)"));
        assert_eq!(repr(&v), (CALLS * 7).to_string(), "{tier:?}");
        i.cycles.collect();
        // Two self-referencing frames per iteration (the named let's and the
        // internal define's), all garbage once `go` returned.
        assert!(
            i.cycles.freed >= 2 * CALLS as u64,
            "{tier:?}: freed {}",
            i.cycles.freed
        );
        // The frame of `kept` is still reachable through the global and survives.
        assert_eq!(repr(&run(&mut i, "(kept 10)")), "\"done\"", "{tier:?}");
        assert_eq!(repr(&run(&mut i, "(go 10 0)")), "70", "{tier:?}");
    }
}

#[test]
fn a_frame_in_use_by_a_running_call_is_not_freed() {
    for tier in [Tier::Cek, Tier::Vm] {
        let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
        i.set_tier(tier);
        // Collections run while the outer named let is still looping: its frame
        // registers again on every round and must survive each collection.
        let v = run(
            &mut i,
            r#"
(define (inner n) (let loop ((k n)) (if (= k 0) 0 (loop (- k 1)))))
(define (outer rounds)
  (let loop ((r 0) (sum 0))
    (if (= r rounds) sum (loop (+ r 1) (+ sum 1 (inner 3))))))
(outer 5000)"#,
        );
        assert_eq!(repr(&v), "5000", "{tier:?}");
        assert!(i.cycles.freed > 0, "{tier:?}: collections ran");
    }
}

/// The heap size the probe below reports (this test's own, set by hand).
static HEAP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn heap_probe() -> usize {
    HEAP.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn a_grown_heap_starts_a_collection_long_before_the_frame_count_would() {
    use std::sync::atomic::Ordering::Relaxed;
    for tier in [Tier::Cek, Tier::Vm] {
        let mut i = Interp::with_output(Box::new(OutputBuffer::default()));
        i.set_tier(tier);
        // Each call of `holder` leaves one garbage frame (its internal define).
        run(
            &mut i,
            "(define (holder n) (define (get) n) (get))
             (define (go k) (if (= k 0) 0 (do (holder k) (go (- k 1)))))",
        );
        HEAP.store(100 << 20, Relaxed);
        i.cycles.set_heap_probe(heap_probe);
        // 200 registrations, far fewer than the frame count's threshold, with the
        // heap the same: no collection.
        run(&mut i, "(go 200)");
        assert_eq!(i.cycles.collections, 0, "{tier:?}");
        // The heap has tripled: the next look at it collects.
        HEAP.store(300 << 20, Relaxed);
        run(&mut i, "(go 200)");
        assert_eq!(i.cycles.collections, 1, "{tier:?}");
        assert!(i.cycles.freed >= 200, "{tier:?}: freed {}", i.cycles.freed);
        // Paced from the heap after that collection: no more while it holds.
        run(&mut i, "(go 200)");
        assert_eq!(i.cycles.collections, 1, "{tier:?}");
    }
}
