//! `trove untag`: take tags off files.

use std::path::PathBuf;

use clap::Args;
use trove_core::Source;
use trove_core::ops::tagging::{untag_paths, untag_query};

use crate::ctx::{CmdResult, CommandError, Ctx, note, report_failures, warn};

/// Remove tags from files.
///
/// Removes the tag from every source (manual, rules, imports) unless --source names one.
/// Never touches the files on disk. A tag that is only implied (by another tag) cannot be
/// removed here: untag the tag that implies it.
#[derive(Debug, Args)]
pub struct UntagArgs {
    /// Tag to remove (repeatable)
    #[arg(short, long = "tag", value_name = "TAG", required = true)]
    pub tags: Vec<String>,
    /// Descend into directories
    #[arg(short, long)]
    pub recursive: bool,
    /// Only remove links from this source: manual, mount, rule:NAME, import:TOOL, api:CLIENT
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Untag every file this query matches instead of paths (the value may start with `-`)
    #[arg(short, long, value_name = "QUERY", conflicts_with = "paths", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// Files or directories (need not exist on disk any more)
    #[arg(value_name = "PATH", required_unless_present = "query")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: UntagArgs) -> CmdResult {
    let source: Option<Source> = match &a.source {
        Some(s) => Some(s.parse().map_err(|e: trove_core::Error| CommandError::new(e.to_string()))?),
        None => None,
    };
    let mut index = ctx.open_read()?;
    let r = match &a.query {
        Some(q) => untag_query(&mut index, q, &a.tags, source.as_ref())
            .map_err(|e| crate::commands::find::query_error(q, e))?,
        None => untag_paths(&mut index, &ctx.resolve_all(&a.paths), &a.tags, a.recursive, source.as_ref())?,
    };
    for w in &r.warnings {
        warn(w);
    }
    for p in &r.not_indexed {
        crate::ctx::error_line(format!("{}: not in the index", ctx.show(p)));
    }
    for t in &r.unknown_tags {
        warn(format!("{t}: no such tag"));
    }
    for (t, n) in &r.only_implied {
        warn(format!("{t}: only implied on {n} file(s); untag the tag that implies it"));
    }
    note(format!("{} tag link(s) removed from {} file(s)", r.links_removed, r.files));
    let failed = report_failures(ctx, &r.failed);
    Ok(if failed || !r.not_indexed.is_empty() { 2 } else { 0 })
}
