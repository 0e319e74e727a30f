//! `trove undo`: revert an operation as a new operation.

use clap::Args;
use trove_core::ops::history;

use crate::ctx::{CmdResult, CommandError, Ctx, note, warn};

/// Revert an operation (the latest by default) as a new operation.
///
/// Every row the operation changed — links with their sources, tag names and aliases,
/// tags, implications, pools and their entries, file records and their paths — goes back
/// to what it was before. The undo is itself an operation, so `trove undo` right after an
/// undo redoes. When a later operation changed one of the same rows, nothing is done and
/// the rows and the operations are named; --force puts back what still can be and lists
/// the rest. `trove log` shows the numbers.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  trove undo                    revert the latest operation
  trove undo 42                 revert operation 42 (from `trove log`)
  trove undo 42 --force         revert what operation 42 did that nothing changed since")]
pub struct UndoArgs {
    /// Put back the rows no later operation changed, and list the others
    #[arg(long)]
    pub force: bool,
    /// The operation to revert (default: the latest)
    #[arg(value_name = "OP")]
    pub op: Option<i64>,
}

pub fn run(ctx: &Ctx, a: UndoArgs) -> CmdResult {
    let mut index = ctx.open_write()?;
    let r = match history::undo(&mut index, a.op, a.force) {
        Err(trove_core::Error::UndoConflict { op, conflicts }) => {
            let mut msg = format!("op {op}: cannot be undone, {} row(s) were changed again later:", conflicts.len());
            for c in conflicts.iter().take(20) {
                msg.push_str(&format!("\n  {c}"));
            }
            if conflicts.len() > 20 {
                msg.push_str(&format!("\n  … and {} more", conflicts.len() - 20));
            }
            return Err(CommandError::new(msg)
                .with_hint(format!("undo those operations first, or `trove undo {op} --force` to put back the rest")));
        }
        other => other?,
    };
    for c in &r.skipped {
        warn(format!("left as it is: {c}"));
    }
    match r.op {
        Some(op) => note(format!("op {} undone as op {op}: {} row(s) put back", r.undone, r.restored)),
        None => note(format!("op {}: nothing left to put back", r.undone)),
    }
    Ok(if r.skipped.is_empty() { 0 } else { 2 })
}
