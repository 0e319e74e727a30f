//! The `trove` command: parse, run, map the outcome to an exit code.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod ctx;
mod output;

fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = cli::Cli::parse();
    ctx::exit_code(commands::run(args))
}
