//! `trove install-aliases DIR`: symlinks named after awtfdb's commands (`ainclude`, `afind`,
//! `als`, `atags`, `arm`, `amv`) pointing at this binary, which answers to those names.

use std::path::PathBuf;

use clap::Args;

use crate::aliases::NAMES;
use crate::ctx::{CmdResult, CommandError, Ctx, io_message, note, warn};

/// Make awtfdb's command names (ainclude, afind, als, atags, arm, amv) run trove
#[derive(Debug, Args)]
#[command(after_help = "Example:
  trove install-aliases ~/.local/bin     # then: ainclude -t cat x.jpg; afind cat; als x.jpg

Each name translates its common flags to the trove command (ainclude → include -r,
afind → find, als → ls, atags → tags/pool, arm → rm/untag, amv → mv) and refuses, naming
it, a flag trove cannot honour.")]
pub struct InstallAliasesArgs {
    /// Directory for the symlinks (usually one on PATH)
    pub dir: PathBuf,
    /// Replace files that already have those names
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, a: InstallAliasesArgs) -> CmdResult {
    let dir = ctx.resolve(&a.dir);
    if !dir.is_dir() {
        return Err(CommandError::new(format!("{}: not a directory", ctx.show(&dir))));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CommandError::new(format!("cannot find this program: {}", io_message(&e))))?;
    let mut failed = false;
    for n in NAMES {
        let link = dir.join(n);
        if let Ok(m) = std::fs::symlink_metadata(&link) {
            if std::fs::read_link(&link).is_ok_and(|t| t == exe) {
                continue;
            }
            if !a.force {
                warn(format!("{}: exists; left alone (--force replaces it)", ctx.show(&link)));
                failed = true;
                continue;
            }
            if m.is_dir() {
                warn(format!("{}: is a directory; left alone", ctx.show(&link)));
                failed = true;
                continue;
            }
            std::fs::remove_file(&link)
                .map_err(|e| CommandError::new(format!("{}: {}", ctx.show(&link), io_message(&e))))?;
        }
        std::os::unix::fs::symlink(&exe, &link)
            .map_err(|e| CommandError::new(format!("{}: {}", ctx.show(&link), io_message(&e))))?;
    }
    note(format!("{} → {}", NAMES.join(", "), exe.display()));
    Ok(if failed { 2 } else { 0 })
}
