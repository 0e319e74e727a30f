//! `trove log`: the operation log, newest first; `--prune` forgets old operations.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::ops::history::{self, LogFilter, Operation};

use crate::ctx::{CmdResult, CommandError, Ctx, note};

/// List the operations that changed the index, newest first.
///
/// Every change to tags, links, names, implications, pools and file records (and the
/// watcher's moves) is recorded as an operation in the same transaction as the change:
/// its number, time (UTC), who made it (`cli`, `watch`, `api:KEY`, …), what (the command
/// line) and counts of what changed. `trove undo N` reverts operation N; `trove find --at N`
/// queries the index as it was right after it; `trove history FILE` shows one file's story.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  trove log                     the last 20 operations
  trove log -n 100 --json       the last 100, one JSON object per line
  trove log -t cat              operations that touched the tag cat (links, names, implications)
  trove log photos/a.jpg        operations that touched this file (also under an old path)
  trove log --prune 90d         forget operations older than 90 days (also: 12h, 2w, 1y, 2024-01-01)")]
pub struct LogArgs {
    /// Show at most N operations
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub limit: u64,
    /// One JSON object per line: id, at, actor, summary, undoes, transactions, changes
    #[arg(long)]
    pub json: bool,
    /// Only operations that touched this tag
    #[arg(short, long = "tag", value_name = "TAG", conflicts_with = "path")]
    pub tag: Option<String>,
    /// Forget the operations older than this (a duration like 90d, 12h, 2w, or a date); the
    /// index itself is unchanged, but they can no longer be undone or looked at with --at
    #[arg(long, value_name = "OLDER_THAN", conflicts_with_all = ["tag", "path", "json"])]
    pub prune: Option<String>,
    /// Only operations that touched this file
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// `90d`, `12h`, … back from now, or a date (`2024-01-01`, `2024-01-01T12:00`, UTC).
pub fn parse_moment(s: &str, now: i64) -> Option<i64> {
    if let Some(t) = trove_core::query::parse_date(s) {
        return Some(t);
    }
    let unit = s.chars().last()?;
    let secs: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    let n: i64 = s[..s.len() - 1].parse().ok()?;
    Some(now - n.checked_mul(secs)?)
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(t: i64) -> String {
    trove_core::time::Utc::from_secs(t).to_plain()
}

pub fn op_json(o: &Operation) -> serde_json::Value {
    let c = &o.counts;
    json!({
        "id": o.id,
        "at": o.at,
        "actor": o.actor,
        "summary": o.summary,
        "undoes": o.undoes,
        "transactions": o.transactions,
        "changes": {
            "links_added": c.links_added, "links_removed": c.links_removed,
            "tags_added": c.tags_added, "tags_removed": c.tags_removed,
            "names_added": c.names_added, "names_removed": c.names_removed,
            "implications_added": c.implications_added, "implications_removed": c.implications_removed,
            "pools_added": c.pools_added, "pools_removed": c.pools_removed,
            "pool_entries_added": c.members_added, "pool_entries_removed": c.members_removed,
            "files_added": c.files_added, "files_removed": c.files_removed,
            "moves": c.moves,
        },
    })
}

pub fn run(ctx: &Ctx, a: LogArgs) -> CmdResult {
    if let Some(p) = &a.prune {
        let now = trove_core::model::now_unix();
        let before = parse_moment(p, now).ok_or_else(|| {
            CommandError::new(format!("{p:?}: not a duration or a date"))
                .with_hint("write it like 90d, 12h, 2w, 1y or 2024-01-01")
        })?;
        let mut index = ctx.open_write()?;
        let r = history::prune(&mut index, before)?;
        note(format!(
            "{} operation(s) forgotten ({} recorded change(s)), older than {}",
            r.ops,
            r.changes,
            utc(before)
        ));
        return Ok(0);
    }
    let index = ctx.open_read()?;
    let path = a.path.as_ref().map(|p| ctx.resolve(p));
    let filter = match (&path, &a.tag) {
        (Some(p), _) => LogFilter::File(p),
        (_, Some(t)) => LogFilter::Tag(t),
        _ => LogFilter::All,
    };
    let ops = history::log(&index, filter, a.limit)?;
    let mut out = std::io::stdout().lock();
    for o in &ops {
        if a.json {
            serde_json::to_writer(&mut out, &op_json(o)).map_err(std::io::Error::other)?;
            writeln!(out)?;
        } else {
            let undo = o.undoes.map(|u| format!(" (undoes {u})")).unwrap_or_default();
            let what = if o.summary.is_empty() { String::new() } else { format!(" {}", o.summary) };
            writeln!(out, "{:>6}  {}  {}{what}{undo}  [{}]", o.id, utc(o.at), o.actor, o.counts.describe())?;
        }
    }
    Ok(if ops.is_empty() { 1 } else { 0 })
}
