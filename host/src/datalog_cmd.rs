//! `sx datalog`: runs a Soufflé-subset program, with Soufflé's flags. The logic lives in
//! the `datalog` crate; this is argument handling and exit codes.

use datalog::error::{DatalogError, FactsError};
use datalog::io::run::{run_file, OutputDest, RunOptions};
use std::io::Write;
use std::path::Path;

/// Arguments of `sx datalog`.
#[derive(clap::Args, Debug)]
pub struct DatalogArgs {
    /// The program (.dl).
    pub program: std::path::PathBuf,
    /// Directory of input `.facts` files (tab-separated).
    #[arg(short = 'F', long = "fact-dir", default_value = ".")]
    pub fact_dir: std::path::PathBuf,
    /// Directory for output `.csv` files; `-` prints them to standard output.
    #[arg(short = 'D', long = "output-dir", default_value = ".")]
    pub output_dir: String,
    /// Print the plan (relation representations, strata, loop nests) before running.
    #[arg(long)]
    pub explain: bool,
    /// Print per-rule statistics and relation sizes after running.
    #[arg(long)]
    pub stats: bool,
}

/// Runs `sx datalog`; returns the process exit code.
pub fn run(args: &DatalogArgs) -> i32 {
    let opts = RunOptions {
        facts_dir: args.fact_dir.clone(),
        output: if args.output_dir == "-" {
            OutputDest::Stdout
        } else {
            OutputDest::Dir(args.output_dir.clone().into())
        },
        explain: args.explain,
        stats: args.stats,
        plan: Default::default(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = run_file(&args.program, &opts, &mut out);
    let _ = out.flush();
    match result {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("error: {}", describe(&e, args));
            1
        }
    }
}

/// The error as a user should read it: one that came from the OS says what SX was
/// doing (reading the program or a facts file, creating the output directory,
/// writing an output file), the engine's own errors are shown as they are.
fn describe(e: &DatalogError, args: &DatalogArgs) -> String {
    match e {
        DatalogError::Facts(FactsError::Io { file, source }) if file == &args.program => {
            format!("cannot read {}: {}", file.display(), os_message(source))
        }
        DatalogError::Facts(FactsError::Io { file, source }) => format!(
            "cannot read facts file {}: {}",
            file.display(),
            os_message(source)
        ),
        DatalogError::Io { path, source } if path == Path::new("<stdout>") => {
            format!("cannot write to standard output: {}", os_message(source))
        }
        DatalogError::Io { path, source } if path == Path::new(&args.output_dir) => format!(
            "cannot create output directory {}: {}",
            path.display(),
            os_message(source)
        ),
        DatalogError::Io { path, source } => format!(
            "cannot write output file {}: {}",
            output_file(path).display(),
            os_message(source)
        ),
        other => other.to_string(),
    }
}

/// The output file a temporary one (`.R.csv.tmp-PID`, renamed when all are written)
/// stands for; any other path as it is.
fn output_file(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match (name.strip_prefix('.'), name.find(".csv.tmp-")) {
        (Some(_), Some(at)) => path.with_file_name(&name[1..at + 4]),
        _ => path.to_path_buf(),
    }
}

/// The OS's description of `e`, without Rust's ` (os error N)` suffix.
pub fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}
