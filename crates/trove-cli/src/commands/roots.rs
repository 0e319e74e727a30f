//! `trove roots`: the directories trove keeps current.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use trove_core::ops::reconcile::{add_root, remove_root};
use trove_core::store::roots;

use crate::ctx::{CmdResult, Ctx, note, warn};

/// Directories trove keeps current (`trove watch`, `trove reconcile`).
///
/// `trove include -r DIR` adds DIR. Removing a root forgets nothing: its files stay indexed,
/// they are just no longer tracked.
#[derive(Debug, Args)]
pub struct RootsArgs {
    #[command(subcommand)]
    pub command: RootsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RootsCommand {
    /// List roots and whether each is mounted
    List,
    /// Add directories as roots
    Add {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Stop tracking directories (their files stay indexed)
    Rm {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

pub fn run(ctx: &Ctx, a: RootsArgs) -> CmdResult {
    match a.command {
        RootsCommand::List => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            for r in roots::list(index.conn())? {
                let mounted = trove_core::ops::reconcile::mounted(&r);
                out.write_all(r.path.as_os_str().as_encoded_bytes())?;
                writeln!(out, "{}", if mounted { "" } else { "\t(not mounted: its files are offline)" })?;
            }
            Ok(0)
        }
        RootsCommand::Add { dirs } => {
            let mut index = ctx.open_write()?;
            for d in ctx.resolve_all(&dirs) {
                if !add_root(&mut index, &d)? {
                    note(format!("{}: already a root", ctx.show(&d)));
                }
            }
            Ok(0)
        }
        RootsCommand::Rm { dirs } => {
            let mut index = ctx.open_read()?;
            let mut code = 0;
            for d in ctx.resolve_all(&dirs) {
                if !remove_root(&mut index, &d)? {
                    warn(format!("{}: not a root", ctx.show(&d)));
                    code = 2;
                }
            }
            Ok(code)
        }
    }
}
