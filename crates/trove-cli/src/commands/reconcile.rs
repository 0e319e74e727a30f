//! `trove reconcile`: catch up with changes made while nothing was watching.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::ops::reconcile::{Action, MatchKind, ReconcileOptions, reconcile};

use crate::ctx::{CmdResult, Ctx, note, report_failures};
use crate::output::{Bar, path_json};

/// Bring the index up to date with the disk under the roots (or the given directories).
///
/// Moved and renamed files are found again: by device and inode (certain), else by size and
/// content (a sampled fingerprint, confirmed by the full hash). Several equal candidates are
/// listed as ambiguous and left alone. Files with no candidate become missing (tags kept).
/// Changed files are re-hashed (tags kept). A root whose filesystem is not mounted makes its
/// files offline: still searchable, not touched. A run with no changes costs one stat per
/// file and reads nothing.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Show what would change without writing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// One JSON object per action
    #[arg(long)]
    pub json: bool,
    /// Directories to reconcile (default: every root)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: ReconcileArgs) -> CmdResult {
    let mut index = ctx.open_read()?;
    let opts = ReconcileOptions { dry_run: a.dry_run, scope: ctx.resolve_all(&a.paths) };
    if opts.scope.is_empty() && trove_core::ops::roots::list(&index)?.is_empty() {
        note("no roots: `trove include -r DIR` or `trove roots add DIR` adds one");
        return Ok(0);
    }
    let r = reconcile(&mut index, &opts, &Bar::new())?;
    let mut out = std::io::stdout().lock();
    let mut ambiguous = 0;
    for act in &r.actions {
        if a.json {
            let mut m = serde_json::Map::new();
            match act {
                Action::Moved { id, from, to, how } => {
                    m.insert("action".into(), json!("moved"));
                    m.insert("id".into(), json!(id.0));
                    path_json(&mut m, to);
                    m.insert("from".into(), json!(from.to_string_lossy()));
                    m.insert("by".into(), json!(if *how == MatchKind::Inode { "inode" } else { "content" }));
                }
                Action::Added { path } => {
                    m.insert("action".into(), json!("added"));
                    path_json(&mut m, path);
                }
                Action::RootMoved { from, to, files } => {
                    m.insert("action".into(), json!("root-moved"));
                    path_json(&mut m, to);
                    m.insert("from".into(), json!(from.to_string_lossy()));
                    m.insert("files".into(), json!(files));
                }
                Action::RootGone { root } => {
                    m.insert("action".into(), json!("root-gone"));
                    path_json(&mut m, root);
                }
                Action::Changed { id, path } | Action::Missing { id, path } | Action::Revived { id, path } => {
                    let kind = match act {
                        Action::Changed { .. } => "changed",
                        Action::Missing { .. } => "missing",
                        _ => "revived",
                    };
                    m.insert("action".into(), json!(kind));
                    m.insert("id".into(), json!(id.0));
                    path_json(&mut m, path);
                }
                Action::Ambiguous { id, path, candidates } => {
                    ambiguous += 1;
                    m.insert("action".into(), json!("ambiguous"));
                    m.insert("id".into(), json!(id.0));
                    path_json(&mut m, path);
                    m.insert(
                        "candidates".into(),
                        json!(candidates.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>()),
                    );
                }
                Action::Offline { root, files } | Action::Online { root, files } => {
                    m.insert(
                        "action".into(),
                        json!(if matches!(act, Action::Offline { .. }) { "offline" } else { "online" }),
                    );
                    path_json(&mut m, root);
                    m.insert("files".into(), json!(files));
                }
            }
            writeln!(out, "{}", serde_json::Value::Object(m))?;
        } else {
            match act {
                Action::Moved { from, to, how, .. } => writeln!(
                    out,
                    "moved     {} -> {} (by {})",
                    ctx.show(from),
                    ctx.show(to),
                    if *how == MatchKind::Inode { "inode" } else { "content" }
                )?,
                Action::Changed { path, .. } => writeln!(out, "changed   {}", ctx.show(path))?,
                Action::Added { path } => writeln!(out, "added     {}", ctx.show(path))?,
                Action::RootMoved { from, to, files } => writeln!(
                    out,
                    "root      {} -> {} (renamed on disk; the root and its {files} record(s) followed)",
                    ctx.show(from),
                    ctx.show(to)
                )?,
                Action::RootGone { root } => writeln!(
                    out,
                    "gone      {} (the root is gone; `trove roots mv {} NEW` if it moved, `trove roots rm` if it is no more)",
                    ctx.show(root),
                    ctx.show(root)
                )?,
                Action::Missing { path, .. } => writeln!(out, "missing   {}", ctx.show(path))?,
                Action::Revived { path, .. } => writeln!(out, "back      {}", ctx.show(path))?,
                Action::Ambiguous { path, candidates, .. } => {
                    ambiguous += 1;
                    writeln!(out, "ambiguous {} could be any of:", ctx.show(path))?;
                    for c in candidates {
                        writeln!(out, "            {}", ctx.show(c))?;
                    }
                }
                Action::Offline { root, files } => {
                    writeln!(out, "offline   {} (not mounted; {files} file(s) kept as they were)", ctx.show(root))?;
                }
                Action::Online { root, files } => writeln!(out, "online    {} ({files} file(s) back)", ctx.show(root))?,
            }
        }
    }
    if !a.json {
        note(format!(
            "{} file(s) scanned, {} unchanged, {} change(s){}{}",
            r.scanned,
            r.unchanged,
            r.actions.len() - ambiguous,
            if a.dry_run { " (dry run: nothing written)" } else { "" },
            if ambiguous > 0 {
                format!(", {ambiguous} ambiguous, not guessed (missing, tags kept)")
            } else {
                String::new()
            }
        ));
    }
    let failed = report_failures(ctx, &r.failed);
    Ok(if failed {
        2
    } else if ambiguous > 0 {
        1
    } else {
        0
    })
}
