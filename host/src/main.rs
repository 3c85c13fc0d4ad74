//! The `sx` command: run SX programs, evaluate expressions, a REPL, Datalog, and
//! the blog server.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use lang::tiering::JitMode;
use lang::Interp;
use sx::{format_error, with_big_stack, Host, HostOptions};

/// The allocator: mimalloc ([`sx::allocator::Allocator`]). SX values are small
/// reference-counted blocks made and freed at a high rate, and whole lists of millions
/// of elements are built and dropped; glibc's malloc returned those pages to the
/// kernel and faulted them in again on every run.
#[global_allocator]
static GLOBAL: sx::allocator::Allocator = sx::allocator::Allocator;

mod datalog_cmd;
mod repl;

use datalog_cmd::os_message;

/// The demo run by `sx` with no arguments.
const DEMO: &str = include_str!("../../examples/demo.sx");

#[derive(Parser, Debug)]
#[command(
    name = "sx",
    version,
    about = "SX: a Datalog saturation engine and the small language that hosts it",
    long_about = "SX: a Datalog saturation engine and the small language that hosts it.\n\nWith no command, runs a short built-in demo. `sx FILE.sx [OPTIONS]` is short for `sx run FILE.sx [OPTIONS]`, and `-` as the file reads the program from standard input."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Which evaluator runs SX code.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Tier {
    /// The CEK interpreter (the reference).
    #[default]
    Cek,
    /// The bytecode VM.
    Vm,
}

impl From<Tier> for lang::Tier {
    fn from(t: Tier) -> lang::Tier {
        match t {
            Tier::Cek => lang::Tier::Cek,
            Tier::Vm => lang::Tier::Vm,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
struct EvalOpts {
    /// The evaluator tier.
    #[arg(long, value_enum, default_value_t = Tier::Cek)]
    tier: Tier,
    /// Files run first, in order, with the same IO handling as the program.
    #[arg(long = "boot", value_name = "FILE")]
    boot: Vec<PathBuf>,
    /// Every `perform` returns to the host loop and resumes from a fresh call stack.
    #[arg(long)]
    suspend_everywhere: bool,
    /// When functions move to the VM: off, hot, hot:N (after N calls) or eager.
    /// Overrides --tier; defaults to the SX_JIT environment variable.
    #[arg(long, value_name = "MODE", env = "SX_JIT", value_parser = JitMode::parse)]
    jit: Option<JitMode>,
    /// Corrupt this function's bytecode when it is compiled (to test recovery).
    #[arg(long = "inject-fault", value_name = "FUNCTION")]
    inject_fault: Vec<String>,
    /// Most continuation frames (pending calls, roughly) before `recursion depth
    /// exceeded`; each costs about 250 bytes.
    #[arg(long, value_name = "N", default_value_t = lang::DEFAULT_MAX_DEPTH)]
    max_depth: usize,
    /// Most memory the process may use, in MB (its resident set, checked every 10 ms;
    /// 0: no limit).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MAX_MEMORY_MB)]
    max_memory: u64,
    /// Longest each evaluation may run, in seconds (fractions allowed; 0: no limit).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Option<std::time::Duration>,
    /// Most function calls each evaluation may make (no limit by default).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
}

/// The default of `--max-memory`, in MB.
const DEFAULT_MAX_MEMORY_MB: u64 = 2048;

/// `--timeout`'s value: seconds, possibly fractional; 0 is no limit.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("expected a number of seconds, got `{s}`"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("expected a non-negative number of seconds, got `{s}`"))
}

impl EvalOpts {
    /// The limits these options set, with hints that name the flags.
    fn limits(&self) -> sx::Limits {
        sx::Limits {
            max_depth: Some(self.max_depth),
            max_memory: (self.max_memory > 0).then_some(self.max_memory.saturating_mul(1 << 20)),
            timeout: self.timeout.filter(|t| !t.is_zero()),
            fuel: self.fuel,
            hints: sx::LimitHints {
                max_depth: Some("raise it with --max-depth N".into()),
                max_memory: Some("raise it with --max-memory MB".into()),
                timeout: Some("raise it with --timeout SECONDS".into()),
                fuel: Some("raise it with --fuel N".into()),
            },
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an SX program; prints only what it prints.
    Run {
        /// The program (`-`: read it from standard input).
        file: PathBuf,
        #[command(flatten)]
        opts: EvalOpts,
    },
    /// Evaluate SX source and print the value of its last form.
    Eval {
        /// The source text.
        expr: String,
        #[command(flatten)]
        opts: EvalOpts,
    },
    /// An interactive session with line editing, history and multi-line input.
    Repl {
        #[command(flatten)]
        opts: EvalOpts,
    },
    /// Print the bytecode of every top-level form and function in a file.
    Disasm {
        /// The program.
        file: PathBuf,
    },
    /// Run a Datalog program (Soufflé-compatible subset).
    Datalog(datalog_cmd::DatalogArgs),
    /// Serve the blog (or another SX app) over HTTP from a durable SQLite store.
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// The SQLite file, created with its schema on first start (`:memory:`: a
    /// private in-memory store, for tests).
    #[arg(long, value_name = "PATH", default_value = "sx-blog.sqlite3")]
    db: String,
    /// Where to listen (port 0: any free port; the address is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Write N deterministic demo posts (with tags and edges) into an empty store.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The app's directory of `.sx` files (default: the blog built into sx).
    #[arg(long, value_name = "DIR")]
    app: Option<PathBuf>,
    /// When functions move to the VM: off, hot, hot:N or eager.
    #[arg(long, value_name = "MODE", default_value = "eager", value_parser = JitMode::parse)]
    jit: JitMode,
    /// Every `perform` suspends, even those the host answers in place (now, host-stats).
    #[arg(long)]
    suspend_everywhere: bool,
    /// Corrupt this function's bytecode when it is compiled (to test recovery).
    #[arg(long = "inject-fault", value_name = "FUNCTION")]
    inject_fault: Vec<String>,
    /// Store reader threads.
    #[arg(long, value_name = "N", default_value_t = 2)]
    readers: usize,
    /// The longest a request may run between two of its performs, in ms (a longer
    /// run is stopped with a 500 so the others go on); 0: no limit.
    #[arg(long = "handler-timeout", value_name = "MS", default_value_t = 10_000)]
    handler_timeout: u64,
}

fn serve(args: ServeArgs) -> i32 {
    let options = sx::serve::ServeOptions {
        db: args.db,
        addr: args.addr,
        seed: args.seed,
        app: args.app,
        jit: args.jit,
        suspend_everywhere: args.suspend_everywhere,
        inject_faults: args.inject_fault,
        readers: args.readers,
        handler_timeout: (args.handler_timeout > 0)
            .then(|| std::time::Duration::from_millis(args.handler_timeout)),
    };
    match sx::serve::run(options) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("error: {msg}");
            1
        }
    }
}

fn main() -> ExitCode {
    die_quietly_on_closed_stdout();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("SX_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(file_shorthand(std::env::args_os().collect()));
    let code = match cli.command {
        None => run_source(
            DEMO.to_string(),
            "<demo>".into(),
            EvalOpts {
                tier: Tier::Cek,
                boot: vec![],
                suspend_everywhere: false,
                jit: None,
                inject_fault: vec![],
                max_depth: lang::DEFAULT_MAX_DEPTH,
                max_memory: DEFAULT_MAX_MEMORY_MB,
                timeout: None,
                fuel: None,
            },
            false,
        ),
        Some(Command::Run { file, opts }) => match read_program(&file) {
            Ok((src, name)) => run_source(src, name, opts, false),
            Err(msg) => {
                eprintln!("{msg}");
                1
            }
        },
        Some(Command::Eval { expr, opts }) => run_source(expr, "<eval>".into(), opts, true),
        Some(Command::Repl { opts }) => with_big_stack(move || repl::run(new_host(&opts))),
        Some(Command::Disasm { file }) => disasm(&file),
        Some(Command::Datalog(args)) => datalog_cmd::run(&args),
        Some(Command::Serve(args)) => serve(args),
    };
    ExitCode::from(code as u8)
}

/// Restores the default action of `SIGPIPE` (the Rust runtime ignores it), so that
/// writing to a closed pipe (`sx eval … | head -1`) ends the process quietly, as it
/// does `cat` or `grep`, instead of failing the write and reporting a broken pipe.
fn die_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; setting
    // a signal's disposition to its default has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `sx FILE.sx [OPTIONS]` (or `sx - …`) as `sx run FILE.sx [OPTIONS]`: the first
/// argument, when it is neither an option nor a command, names a program to run.
fn file_shorthand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let is_command = first == "help"
            || Cli::command()
                .get_subcommands()
                .any(|c| c.get_name() == first || c.get_all_aliases().any(|a| a == first));
        if first == "-" || (!first.starts_with('-') && !is_command) {
            args.insert(1, "run".into());
        }
    }
    args
}

/// The source of the program `file` and the name its errors show; `-` is standard
/// input (`<stdin>`).
fn read_program(file: &std::path::Path) -> Result<(String, String), String> {
    if file.as_os_str() == "-" {
        let mut src = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut src).map_err(|e| {
            format!(
                "error: cannot read the program from standard input: {}",
                os_message(&e)
            )
        })?;
        return Ok((src, "<stdin>".into()));
    }
    std::fs::read_to_string(file)
        .map(|src| (src, file.display().to_string()))
        .map_err(|e| format!("error: cannot read {}: {}", file.display(), os_message(&e)))
}

/// A host with the boot files loaded (through the same driver as everything else).
fn new_host(opts: &EvalOpts) -> Result<Host, String> {
    let options = HostOptions {
        tier: opts.tier.into(),
        jit: opts.jit,
        inject_faults: opts.inject_fault.clone(),
        suspend_everywhere: opts.suspend_everywhere,
        limits: opts.limits(),
    };
    let mut interp = Interp::new();
    interp.cycles.set_heap_probe(sx::allocator::heap_bytes);
    let mut host = Host::with_options(interp, options);
    for file in &opts.boot {
        let src = std::fs::read_to_string(file)
            .map_err(|e| format!("error: cannot read {}: {}", file.display(), os_message(&e)))?;
        host.run_source(&src, &file.display().to_string())
            .map_err(|e| format_error(&e))?;
    }
    Ok(host)
}

fn run_source(src: String, file: String, opts: EvalOpts, print_value: bool) -> i32 {
    with_big_stack(move || {
        let mut host = match new_host(&opts) {
            Ok(h) => h,
            Err(msg) => {
                eprintln!("{msg}");
                return 1;
            }
        };
        let result = host.run_source(&src, &file);
        host.interp.flush();
        match result {
            Ok(v) => {
                if print_value {
                    println!("{}", lang::printer::repr(&v));
                }
                0
            }
            Err(e) => {
                eprintln!("{}", format_error(&e));
                1
            }
        }
    })
}

/// `sx disasm FILE`: runs the file's top-level forms (so macros and globals are in
/// place) and prints the bytecode of each form and of every function it makes.
fn disasm(file: &std::path::Path) -> i32 {
    let src = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {}", file.display(), os_message(&e));
            return 1;
        }
    };
    let name = file.display().to_string();
    with_big_stack(
        move || match lang::vm::disasm::disassemble_source(&src, &name) {
            Ok(listing) => {
                print!("{listing}");
                0
            }
            Err(e) => {
                eprintln!("{}", format_error(&e));
                1
            }
        },
    )
}
