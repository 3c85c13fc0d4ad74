//! The `sx` command.
use clap::{Parser, Subcommand};

mod datalog_cmd;

#[derive(Parser, Debug)]
#[command(name = "sx", version, about = "SX: a Datalog saturation engine and the language that hosts it")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a Datalog program (Soufflé-compatible subset).
    Datalog(datalog_cmd::DatalogArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Datalog(args)) => datalog_cmd::run(&args),
        None => 0,
    };
    std::process::exit(code);
}
