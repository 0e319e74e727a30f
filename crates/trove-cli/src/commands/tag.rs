//! `trove tag`: put tags on files.

use std::path::PathBuf;

use clap::Args;
use trove_core::Source;
use trove_core::ops::tagging::{tag_paths, tag_query};

use crate::ctx::{CmdResult, CommandError, Ctx, note, report_failures, warn};
use crate::output::Bar;

/// Tag files by path, or every file a query matches.
///
/// A path that is not indexed yet is included first (and the output says so). Tags that
/// do not exist are created.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Tag to add (repeatable)
    #[arg(short, long = "tag", value_name = "TAG", required = true)]
    pub tags: Vec<String>,
    /// Descend into directories
    #[arg(short, long)]
    pub recursive: bool,
    /// Tag every file this query matches instead of paths (the value may start with `-`)
    #[arg(short, long, value_name = "QUERY", conflicts_with = "paths", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// Record the links as coming from this source: manual, mount, rule:NAME, import:TOOL, api:CLIENT
    #[arg(long, default_value = "manual", value_name = "SOURCE")]
    pub source: String,
    /// Files or directories
    #[arg(value_name = "PATH", required_unless_present = "query")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: TagArgs) -> CmdResult {
    let source: Source = a.source.parse().map_err(|e: trove_core::Error| CommandError::new(e.to_string()))?;
    let mut index = ctx.open_write()?;
    if let Some(q) = &a.query {
        let (n, added, created, warnings) =
            tag_query(&mut index, q, &a.tags, &source).map_err(|e| crate::commands::find::query_error(q, e))?;
        for w in warnings {
            warn(w);
        }
        note(format!("{n} file(s) matched, {added} tag link(s) added"));
        if !created.is_empty() {
            note(format!("new tag(s): {}", created.join(", ")));
        }
        return Ok(0);
    }
    let paths = ctx.resolve_all(&a.paths);
    let r = tag_paths(&mut index, &paths, &a.tags, a.recursive, &source, &Bar::new())?;
    for p in &r.included {
        note(format!("included {}", ctx.show(p)));
    }
    note(format!("{} file(s) tagged, {} tag link(s) added", r.files, r.links_added));
    if !r.tags_created.is_empty() {
        note(format!("new tag(s): {}", r.tags_created.join(", ")));
    }
    Ok(if report_failures(ctx, &r.failed) { 2 } else { 0 })
}
