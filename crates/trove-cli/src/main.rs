//! The `trove` command: parse, run, map the outcome to an exit code.

#![forbid(unsafe_code)]

mod aliases;
mod cli;
mod commands;
mod ctx;
mod output;

fn main() -> std::process::ExitCode {
    use clap::Parser;
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Called by one of awtfdb's names (a symlink from `trove install-aliases`)?
    if let Some(name) = argv.first().and_then(|a0| aliases::called_as(a0)) {
        match aliases::translate(name, argv.split_off(1)) {
            Ok((args, notes)) => {
                for n in notes {
                    ctx::note(n);
                }
                argv = std::iter::once("trove".into()).chain(args).collect();
            }
            Err(msg) => return ctx::exit_code(Err(ctx::CommandError::new(msg))),
        }
    }
    let args = match cli::Cli::try_parse_from(cli::hoist_flags(argv)) {
        Ok(a) => a,
        Err(e) => return ctx::exit_code(ctx::clap_error(e)),
    };
    ctx::exit_code(commands::run(args))
}
