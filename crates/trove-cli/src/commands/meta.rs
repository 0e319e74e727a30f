//! `trove meta refresh`: read metadata again from file contents.

use clap::{Args, Subcommand};
use trove_core::ops::find::Query;
use trove_core::ops::meta;

use crate::ctx::{CmdResult, Ctx, note};
use crate::output::Bar;

/// Metadata read from file contents (type, size, duration, audio tags, EXIF, PDF info).
#[derive(Debug, Args)]
pub struct MetaArgs {
    #[command(subcommand)]
    pub command: MetaCommand,
}

#[derive(Debug, Subcommand)]
pub enum MetaCommand {
    /// Read metadata again for the files a query selects (default: every file).
    ///
    /// Include reads metadata of new and changed files on its own; refresh is for after
    /// installing ffprobe (`trove meta refresh type:video`), or after a trove upgrade
    /// that reads more fields. `--missing` reads only files that have none yet.
    Refresh(RefreshArgs),
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Only files without metadata, or whose metadata is older than their content
    #[arg(long)]
    pub missing: bool,
    /// A query (same language as `trove find`); default: every file
    #[arg(value_name = "QUERY", allow_hyphen_values = true, trailing_var_arg = true)]
    pub query: Vec<String>,
}

pub fn run(ctx: &Ctx, a: MetaArgs) -> CmdResult {
    match a.command {
        MetaCommand::Refresh(r) => refresh(ctx, r),
    }
}

fn refresh(ctx: &Ctx, a: RefreshArgs) -> CmdResult {
    let mut index = ctx.open_write()?;
    let text = a.query.join(" ");
    let q = Query::new(&index, &text)?;
    for w in q.warnings() {
        crate::ctx::warn(w);
    }
    let mut records = q.collect(&index, None)?;
    if a.missing {
        let mut keep = Vec::with_capacity(records.len());
        for r in records {
            let stale = match meta::get(&index, r.id)? {
                None => true,
                Some(s) => !meta::is_current(&s, &r.stat),
            };
            if stale {
                keep.push(r);
            }
        }
        records = keep;
    }
    let x = ctx.extractor();
    let rep = meta::refresh(&mut index, &records, &*x.0, &Bar::new())?;
    for n in x.0.notes() {
        note(n);
    }
    let mut line = format!("metadata read for {} file(s)", rep.refreshed);
    if rep.failed > 0 {
        line.push_str(&format!("; {} with errors (`trove check` lists them)", rep.failed));
    }
    if rep.skipped > 0 {
        line.push_str(&format!("; {} skipped (missing, offline or not a regular file)", rep.skipped));
    }
    note(line);
    Ok(0)
}
