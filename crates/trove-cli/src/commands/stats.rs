//! `trove stats`: counts and sizes.

use std::io::Write;

use clap::Args;
use serde_json::json;

use crate::ctx::{CmdResult, Ctx};

/// Show counts: files, tags, links, implications, pools, index size.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One JSON object with every count
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
            "files:        {} ({} missing, {} untagged; {} on disk)",
            s.files,
            s.missing,
            s.untagged,
            human_size(s.total_bytes)
        )?;
        writeln!(out, "tags:         {} ({} names)", s.tags, s.names)?;
        writeln!(out, "links:        {}", s.links)?;
        writeln!(out, "implications: {}", s.implications)?;
        writeln!(out, "pools:        {}", s.pools)?;
        writeln!(out, "index size:   {}", human_size(s.index_bytes))?;
    }
    Ok(0)
}

/// Bytes with a binary unit, as the query language's `size>10M` counts them (1k = 1024).
pub fn human_size(b: u64) -> String {
    const UNITS: [&str; 5] = ["k", "M", "G", "T", "P"];
    if b < 1024 {
        return format!("{b} bytes");
    }
    let mut v = b as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1}{} ({b} bytes)", UNITS[u])
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes_use_the_query_units() {
        assert_eq!(super::human_size(0), "0 bytes");
        assert_eq!(super::human_size(1023), "1023 bytes");
        assert_eq!(super::human_size(1536), "1.5k (1536 bytes)");
        assert_eq!(super::human_size(10 * 1024 * 1024), "10.0M (10485760 bytes)");
    }
}
