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
    clap_complete::generate(a.shell, &mut cmd, "trove", &mut std::io::stdout());
    Ok(0)
}
