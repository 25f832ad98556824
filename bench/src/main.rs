//! `whippet-bench` binary: parse the command line, run, and exit non-zero with the error on
//! stderr if anything failed.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = whippet_bench::cli::Cli::parse();
    match whippet_bench::run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("whippet-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
