//! `trove backup`: a complete copy of the index in one file.

use std::path::PathBuf;

use clap::Args;

use crate::ctx::{CmdResult, CommandError, Ctx};

/// Write a complete copy of the index to a new file.
///
/// The copy is consistent as of one moment, even while the watcher or the server write,
/// and compacted. Copying the index file is a backup only while no trove process is writing
/// it: the latest commits can be in `INDEX-wal` beside it (SQLite's write-ahead log) until
/// they are checkpointed. Open the copy with `trove --index COPY ...`; put it back with
/// `trove restore COPY`.
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
