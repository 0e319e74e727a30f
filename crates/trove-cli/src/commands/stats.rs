//! `trove stats`: counts and sizes.

use std::io::Write;

use clap::Args;
use serde_json::json;

use crate::ctx::{CmdResult, Ctx};

/// Show counts: files, tags, links, implications, pools, index size.
#[derive(Debug, Args)]
pub struct StatsArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Ctx, a: StatsArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let s = index.stats()?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(
            out,
            "{}",
            json!({"index": ctx.index_path.to_string_lossy(), "schema_version": s.schema_version, "files": s.files,
                   "missing": s.missing, "untagged": s.untagged, "bytes": s.total_bytes, "tags": s.tags,
                   "names": s.names, "links": s.links, "implications": s.implications, "pools": s.pools,
                   "index_bytes": s.index_bytes})
        )?;
    } else {
        writeln!(out, "index:        {} (schema {})", ctx.index_path.display(), s.schema_version)?;
        writeln!(
            out,
            "files:        {} ({} missing, {} untagged, {} bytes)",
            s.files, s.missing, s.untagged, s.total_bytes
        )?;
        writeln!(out, "tags:         {} ({} names)", s.tags, s.names)?;
        writeln!(out, "links:        {}", s.links)?;
        writeln!(out, "implications: {}", s.implications)?;
        writeln!(out, "pools:        {}", s.pools)?;
        writeln!(out, "index size:   {} bytes", s.index_bytes)?;
    }
    Ok(0)
}
