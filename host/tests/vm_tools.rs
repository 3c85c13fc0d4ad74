//! The VM's tools: `bytecode-inspect`, `vm-trace`, `prim-check`, `sx disasm`, and
//! the verifier's rejection of bad bytecode naming the function.

use std::process::Command;

use lang::printer::{display, repr};
use lang::{Interp, OutputBuffer, Tier, Value};
use sx::{Host, HostOptions};

/// Runs `src` on the VM (small programs: the test thread's stack is enough).
fn eval(src: &str) -> Value {
    let options = HostOptions {
        tier: Tier::Vm,
        ..HostOptions::default()
    };
    let mut h = Host::with_options(
        Interp::with_output(Box::new(OutputBuffer::default())),
        options,
    );
    h.run_source(src, "t")
        .unwrap_or_else(|e| panic!("{}", e.message()))
}

#[test]
fn bytecode_inspect_reports_arity_locals_constants_and_disassembly() {
    let v = eval(
        r#"(define (area w h) (let ((a (* w h))) (if (> a 10) (+ a 10000000000) a)))
           (bytecode-inspect "area")"#,
    );
    let Value::Dict(d) = &v else {
        panic!("{}", repr(&v))
    };
    let get = |k: &str| d.get(&Value::keyword(k)).cloned().unwrap_or(Value::Nil);
    assert_eq!(repr(&get("name")), "\"area\"");
    assert_eq!(repr(&get("arity")), "2");
    assert_eq!(
        repr(&get("locals")),
        "3",
        "two parameters and the let binding"
    );
    // An int too wide for an instruction is a constant; a small one is not.
    assert_eq!(repr(&get("constants")), "(10000000000)");
    let code = display(&get("code"));
    assert!(code.contains("== area == params 2"), "{code}");
    assert!(code.contains("PRIM_LL * 0 1"), "{code}");
    assert!(code.contains("PRIM_LI > 2 10"), "{code}");
    assert!(code.contains("PRIM_LC + 2 0 ; 10000000000"), "{code}");
    assert!(code.contains("RETURN"), "{code}");
}

#[test]
fn bytecode_inspect_of_a_primitive_or_unknown_name_is_a_clear_error() {
    let mut h = Host::new(Interp::with_output(Box::new(OutputBuffer::default())));
    let err = (
        h.run_source(r#"(bytecode-inspect "map")"#, "t")
            .unwrap_err()
            .message(),
        h.run_source(r#"(bytecode-inspect "nope")"#, "t")
            .unwrap_err()
            .message(),
    );
    assert!(
        err.0.contains("map is a fn, not a function defined in SX"),
        "{}",
        err.0
    );
    assert!(err.1.contains("undefined symbol: nope"), "{}", err.1);
}

#[test]
fn vm_trace_shows_each_instruction_with_the_top_of_the_stack_and_the_depth() {
    let v = eval(r#"(vm-trace "(define (sq x) (* x x)) (sq 7)")"#);
    let trace = display(&v);
    let lines: Vec<&str> = trace.lines().collect();
    let mul = lines
        .iter()
        .find(|l| l.starts_with("sq") && l.contains("PRIM_LL *"))
        .expect(&trace);
    assert!(mul.contains("top=7"), "{mul}");
    let ret = lines
        .iter()
        .find(|l| l.starts_with("sq") && l.contains("RETURN"))
        .expect(&trace);
    assert!(ret.contains("top=49") && ret.contains("depth="), "{ret}");
}

#[test]
fn prim_check_finds_a_call_with_the_wrong_argument_count() {
    // Three calls of primitives: `map` run as a loop, `first` in its body, and
    // `map` in the loop's fallback (the call as written).
    let clean = eval(r#"(define (f xs) (map (fn (x) (first x)) xs)) (prim-check "f")"#);
    assert_eq!(repr(&clean), "{:checked 3 :problems ()}");
    let broken =
        eval(r#"(define (g xs) (map (fn (x) x) xs)) (jit-inject-fault! "g") (prim-check "g")"#);
    assert!(
        repr(&broken).contains("map: expected 2 arguments, got 3"),
        "{}",
        repr(&broken)
    );
}

#[test]
fn sx_disasm_lists_every_form_and_function() {
    let dir = std::env::temp_dir().join(format!("sx-disasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.sx");
    std::fs::write(
        &file,
        "(define (twice f x) (f (f x)))\n(println (twice inc 1))\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sx"))
        .arg("disasm")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("== <top> =="), "{text}");
    assert!(text.contains("== twice == params 2"), "{text}");
    assert!(text.contains("TAIL_CALL 1"), "{text}");
    assert!(text.contains("LOAD_GLOBAL println"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_verifier_rejects_bad_bytecode_naming_the_function() {
    use lang::vm::{chunk::Instr, compile_lambda, verify::verify};
    let v = eval("(define (victim a) (+ a 1)) victim");
    let Value::Lambda(c) = v else { panic!() };
    let mut chunk = compile_lambda(&c.info).expect("compiles");
    assert!(verify(&chunk).is_ok());
    chunk.code.insert(0, Instr::Jump(999));
    chunk.lines.insert(0, 0);
    let err = verify(&chunk).unwrap_err();
    assert!(err.contains("jump to 999 is outside the code"), "{err}");
    chunk.code[0] = Instr::Pop;
    assert!(verify(&chunk).unwrap_err().contains("stack underflow"));
    chunk.code[0] = Instr::Const(42);
    assert!(verify(&chunk).unwrap_err().contains("unknown constant 42"));
    // Through the compiler the same failure carries the function's name.
    let e = lang::vm::CompileError {
        function: chunk.name.to_string(),
        message: err,
    };
    assert!(e.to_string().starts_with("victim: "), "{e}");
}
