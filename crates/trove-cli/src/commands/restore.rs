//! `trove restore`: put a backup back, safely, even while trove processes run.

use std::path::PathBuf;

use clap::Args;

use crate::ctx::{CmdResult, CommandError, Ctx};

/// Replace the index's content with a backup made by `trove backup`.
///
/// The backup is checked first (a trove index, not newer than this trove, not damaged);
/// then the index as it is now is kept in a new file beside it, and the backup's content is
/// written into the index under SQLite's locks, in one step. The watcher, the server and
/// mounts keep running and see the restored index. Copying or renaming a file over the index
/// while any of them has it open is not safe (SQLite's `INDEX-wal` beside it belongs to the
/// old file); this is the safe way.
///
/// Files moved since the backup was made are found again by `trove reconcile`.
///
/// Example: `trove restore ~/backups/trove-2026-11-01.db`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore (a file written by `trove backup`, or any trove index)
    #[arg(value_name = "BACKUP")]
    pub backup: PathBuf,
    /// Where to keep the index as it is now (default: INDEX.before-restore-UNIXTIME)
    #[arg(long, value_name = "PATH")]
    pub keep: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: RestoreArgs) -> CmdResult {
    let src = ctx.resolve(&a.backup);
    let mut index = ctx.open_write()?;
    let keep = match &a.keep {
        Some(k) => ctx.resolve(k),
        None => {
            let secs =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let mut name = index.path().as_os_str().to_os_string();
            name.push(format!(".before-restore-{secs}"));
            PathBuf::from(name)
        }
    };
    index.restore(&src, &keep).map_err(|e| match e {
        trove_core::Error::DestinationExists(p) => {
            CommandError::new(format!("{}: already exists; the index as it is now goes to a new file", ctx.show(&p)))
                .with_hint("name another with --keep PATH")
        }
        e => e.into(),
    })?;
    crate::ctx::note(format!("{}: restored from {}", ctx.show(index.path()), ctx.show(&src)));
    crate::ctx::note(format!("the index as it was is kept in {} (`trove restore` it to undo this)", ctx.show(&keep)));
    crate::ctx::note("files moved or changed since the backup was made: run `trove reconcile`");
    Ok(0)
}
