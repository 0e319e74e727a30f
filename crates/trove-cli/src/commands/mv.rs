//! `trove mv`: move or rename on disk and in the index in one step.

use std::path::PathBuf;

use clap::Args;
use trove_core::ops::mv::mv;

use crate::ctx::{CmdResult, CommandError, Ctx, note, report_failures};

/// Move or rename files and directories, keeping their tags.
///
/// Like mv: `trove mv SRC DST` renames, `trove mv SRC... DIR` moves into DIR. Across
/// filesystems the data is copied, verified by hash, and only then the source is deleted.
/// An existing destination file is replaced only with --force (its record becomes missing,
/// its tags kept).
#[derive(Debug, Args)]
pub struct MvArgs {
    /// Replace an existing destination file
    #[arg(short, long)]
    pub force: bool,
    /// Sources, then the destination
    #[arg(required = true, num_args = 2.., value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: MvArgs) -> CmdResult {
    let mut index = ctx.open_write()?;
    let (dst, srcs) = a.paths.split_last().expect("clap requires two paths");
    let r = mv(&mut index, &ctx.resolve_all(srcs), &ctx.resolve(dst), a.force).map_err(|e| match e {
        trove_core::Error::DestinationExists(p) => {
            CommandError::new(format!("{}: already exists (use --force to replace it)", ctx.show(&p)))
        }
        e => e.into(),
    })?;
    for t in &r.cleaned {
        note(format!("{}: removed a temporary copy left by a killed `trove mv`", ctx.show(t)));
    }
    let extra = format!(
        "{}{}",
        if r.copied > 0 { format!(", {} copied across filesystems", r.copied) } else { String::new() },
        if r.replaced > 0 { format!(", {} replaced record(s) now missing", r.replaced) } else { String::new() }
    );
    if let [(from, to)] = r.moved.as_slice() {
        if r.records == 0 {
            note(format!("moved {} to {} on disk only: it is not in the index{extra}", ctx.show(from), ctx.show(to)));
        } else {
            note(format!("moved {} to {} ({} record(s) updated{extra})", ctx.show(from), ctx.show(to), r.records));
        }
    } else if !r.moved.is_empty() {
        note(format!(
            "{} moved ({} record(s) updated{}{}{})",
            r.moved.len(),
            r.records,
            if r.copied > 0 { format!(", {} copied across filesystems", r.copied) } else { String::new() },
            if r.replaced > 0 { format!(", {} replaced record(s) now missing", r.replaced) } else { String::new() },
            if r.records == 0 { "; on disk only: none of them is in the index" } else { "" }
        ));
    }
    Ok(if report_failures(ctx, &r.failed) { 2 } else { 0 })
}
