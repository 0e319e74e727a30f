//! `trove backup`: a complete copy of the index in one file.

use std::path::PathBuf;

use clap::Args;

use crate::ctx::{CmdResult, CommandError, Ctx};

/// Write a complete copy of the index to a new file.
///
/// The copy is consistent as of one moment, even while the watcher or the server write,
/// and compacted. Use it instead of copying the index file: trove keeps the latest commits
/// in `INDEX-wal` between commands (SQLite's write-ahead log), so the index file alone can
/// lack them. Open the copy with `trove --index COPY ...`.
///
/// Example: `trove backup ~/backups/trove-$(date +%F).db`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file (must not exist yet)
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
}

pub fn run(ctx: &Ctx, a: BackupArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let dest = ctx.resolve(&a.dest);
    index.backup(&dest).map_err(|e| match e {
        trove_core::Error::DestinationExists(p) => {
            CommandError::new(format!("{}: already exists; a backup goes to a new file", ctx.show(&p)))
        }
        e => e.into(),
    })?;
    crate::ctx::note(format!("{}: written", ctx.show(&dest)));
    Ok(0)
}
