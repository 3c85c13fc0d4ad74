//! `sx datalog`: runs a Soufflé-subset program, with Soufflé's flags. The logic lives in
//! the `datalog` crate; this is argument handling and exit codes.

use datalog::run::{run_file, OutputDest, RunOptions};
use std::io::Write;

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
            eprintln!("error: {e}");
            1
        }
    }
}
