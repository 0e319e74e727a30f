//! `trove rm`: forget files (the disk is never touched).

use std::path::PathBuf;

use clap::Args;
use trove_core::ops::remove::remove;

use crate::ctx::{CmdResult, Ctx, note, report_failures, warn};

/// Forget files: remove their records and tags from the index.
///
/// Never touches the disk. Directories need -r. Paths need not exist any more.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Forget everything under directories
    #[arg(short, long)]
    pub recursive: bool,
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: RmArgs) -> CmdResult {
    let mut index = ctx.open_read()?;
    let r = remove(&mut index, &ctx.resolve_all(&a.paths), a.recursive)?;
    for p in &r.not_indexed {
        warn(format!("{}: not in the index", ctx.show(p)));
    }
    note(format!("{} file(s) forgotten; nothing on disk was touched", r.removed));
    let failed = report_failures(ctx, &r.failed);
    Ok(if failed || !r.not_indexed.is_empty() { 2 } else { 0 })
}
