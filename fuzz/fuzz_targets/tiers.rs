//! Differential: arbitrary source gives the same answer on the CEK and on the VM
//! (value or error message, output, whether the fuel ran out), and neither panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lang::{Interp, Outcome, OutputBuffer, Tier, Value};

fn run(src: &str, tier: Tier) -> (String, String, bool) {
    let out = OutputBuffer::default();
    let mut interp = Interp::with_output(Box::new(out.clone()));
    interp.set_tier(tier);
    interp.fuel = Some(3_000);
    interp.max_depth = 5_000;
    let mut outcome = interp.run_source(src, "fuzz");
    // Answer every perform with nil, a bounded number of times.
    for _ in 0..50 {
        match outcome {
            Outcome::Perform(_, mut k) => outcome = k.resume(&mut interp, Value::Nil),
            _ => break,
        }
    }
    let result = match &outcome {
        Outcome::Done(v) => format!("value {}", lang::printer::repr(v)),
        Outcome::Error(e) => format!("error {}", e.message()),
        Outcome::Perform(..) => "still performing".to_string(),
    };
    (result, out.contents(), interp.fuel == Some(0))
}

/// Runs `f` on a thread with a big stack, as every host does (`sx::with_big_stack`):
/// the analyser's recursion is bounded (nesting, macro expansion depth) but deep.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data).into_owned();
    on_big_stack(move || compare(&src));
});

fn compare(src: &str) {
    // Identity-dependent printing (closures, gensyms) is left out of the comparison.
    if src.contains("gensym") || src.contains("jit-") || src.contains("vm-trace") {
        return;
    }
    let cek = run(src, Tier::Cek);
    let vm = run(src, Tier::Vm);
    // Where the fuel ran out the tiers may have got further or less far in
    // uncounted work. The depth limit counts continuation frames, and the tiers
    // use different numbers of frames per call (a CEK call awaiting its argument
    // keeps a frame per pending construct, a VM activation one for all), so a
    // runaway recursion is stopped at a different depth, after printing more or
    // less (docs/sx.md). Everything else must agree.
    let depth = |r: &(String, String, bool)| {
        r.0.contains("recursion depth exceeded") || r.1.contains("recursion depth exceeded")
    };
    if !(cek.2 || vm.2 || depth(&cek) || depth(&vm)) {
        assert_eq!(cek, vm, "tiers disagree on {src:?}");
    }
}
