//! `trove history FILE`: a file's tags and paths over time.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::ops::history;

use crate::commands::log::utc;
use crate::ctx::{CmdResult, Ctx};

/// Show a file's tag set and its paths over time, oldest first.
///
/// One line per operation that touched the file: its number, time (UTC), who, what,
/// the tags added (+) and removed (-), a move (old → new), and the file's tags after it.
/// A file no longer indexed is found by any path it had.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  trove history photos/cat.jpg
  trove history --json photos/cat.jpg | jq .tags")]
pub struct HistoryArgs {
    /// One JSON object per line: op, at, actor, summary, added, removed, record, moved, missing, tags
    #[arg(long)]
    pub json: bool,
    /// The file (its path now, or an old one)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(ctx: &Ctx, a: HistoryArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let h = history::history(&index, &ctx.resolve(&a.file))?;
    let mut out = std::io::stdout().lock();
    for e in &h.events {
        if a.json {
            let moved = e.moved.as_ref().map(|(a, b)| json!([a.to_string_lossy(), b.to_string_lossy()]));
            let v = json!({
                "op": e.op, "at": e.at, "actor": e.actor, "summary": e.summary,
                "added": e.added, "removed": e.removed, "record": e.record.map(|c| if c { "created" } else { "forgotten" }),
                "moved": moved, "missing": e.missing, "tags": e.tags,
            });
            serde_json::to_writer(&mut out, &v).map_err(std::io::Error::other)?;
            writeln!(out)?;
            continue;
        }
        let mut parts = Vec::new();
        match e.record {
            Some(true) => parts.push("indexed".to_string()),
            Some(false) => parts.push("forgotten".to_string()),
            None => {}
        }
        parts.extend(e.added.iter().map(|t| format!("+{t}")));
        parts.extend(e.removed.iter().map(|t| format!("-{t}")));
        if let Some((from, to)) = &e.moved {
            parts.push(format!("moved {} → {}", ctx.show(from), ctx.show(to)));
        }
        match e.missing {
            Some(true) => parts.push("missing".into()),
            Some(false) => parts.push("back".into()),
            None => {}
        }
        writeln!(
            out,
            "{:>6}  {}  {} {}  {}  ⇒ {{{}}}",
            e.op,
            utc(e.at),
            e.actor,
            e.summary,
            parts.join(" "),
            e.tags.join(", ")
        )?;
    }
    Ok(if h.events.is_empty() { 1 } else { 0 })
}
