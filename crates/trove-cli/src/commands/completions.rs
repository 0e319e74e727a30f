//! `trove completions`: shell completion scripts.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::ctx::CmdResult;

/// Print a shell completion script (bash, zsh, fish, elvish, powershell).
///
/// Example: `trove completions bash > ~/.local/share/bash-completion/completions/trove`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: Shell,
}

pub fn run(a: &CompletionsArgs) -> CmdResult {
    let mut cmd = crate::cli::Cli::command();
    // Generated into memory first: clap_complete's own writes panic on EPIPE or ENOSPC.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "trove", &mut script);
    crate::ctx::print_bytes(&script)?;
    Ok(0)
}
