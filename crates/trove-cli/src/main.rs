//! The `trove` command: parse, run, map the outcome to an exit code.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod ctx;
mod output;

fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = match cli::Cli::try_parse_from(cli::hoist_flags(std::env::args_os().collect())) {
        Ok(a) => a,
        Err(e) => return ctx::exit_code(ctx::clap_error(e)),
    };
    ctx::exit_code(commands::run(args))
}
