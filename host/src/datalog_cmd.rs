//! `sx datalog`: placeholder until the engine lands.

/// Arguments of `sx datalog`.
#[derive(clap::Args, Debug)]
pub struct DatalogArgs {
    /// The program (.dl).
    pub program: std::path::PathBuf,
}

/// Runs `sx datalog`; returns the process exit code.
pub fn run(_args: &DatalogArgs) -> i32 {
    eprintln!("error: sx datalog is not built yet");
    2
}
