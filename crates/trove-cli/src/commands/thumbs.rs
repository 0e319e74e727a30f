//! `trove thumbs`: make thumbnails ahead of time for `trove serve`.

use clap::Args;
use trove_core::ops::find::Query;
use trove_web::{ThumbOutcome, Thumbnailer};

use crate::ctx::{CmdResult, Ctx, note, warn};

/// Make the thumbnails of the files a query matches (default: every file), so the web UI
/// shows them at once. Cached under $XDG_CACHE_HOME/trove/thumbs by content hash.
#[derive(Debug, Args)]
pub struct ThumbsArgs {
    /// The query (the find language); empty: every file
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
}

pub fn run(ctx: &Ctx, a: ThumbsArgs) -> CmdResult {
    let text = a.query.join(" ");
    let index = ctx.open_read()?;
    let q = Query::new(&index, &text).map_err(|e| crate::commands::find::query_error(&text, e))?;
    for w in q.warnings() {
        warn(w);
    }
    let files = q.collect(&index, None)?;
    let t = Thumbnailer::new(crate::commands::serve::thumbs_dir()?);
    let bar = crate::ctx::stderr_is_tty().then(|| indicatif::ProgressBar::new(files.len() as u64));
    let (mut made, mut cached, mut icons, mut failed) = (0u64, 0u64, 0u64, 0u64);
    for f in &files {
        match t.make(f) {
            ThumbOutcome::Made(_) => made += 1,
            ThumbOutcome::Cached(_) => cached += 1,
            ThumbOutcome::Icon { reason: None, .. } => icons += 1,
            ThumbOutcome::Icon { reason: Some(r), .. } => {
                failed += 1;
                let line = format!("{}: {r}", ctx.show(&f.path));
                match &bar {
                    Some(b) => b.suspend(|| warn(&line)),
                    None => warn(&line),
                }
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    note(format!(
        "{made} thumbnail(s) made, {cached} already cached, {icons} shown as type icons, {failed} failed (type icon instead)"
    ));
    Ok(if failed > 0 { 2 } else { 0 })
}
