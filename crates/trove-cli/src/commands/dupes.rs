//! `trove dupes`: groups of identical content across indexed paths; never deletes.

use std::io::{BufWriter, Write};

use clap::Args;
use serde_json::json;
use trove_core::ops::dupes::{self, Group};
use trove_core::ops::find::Query;

use crate::commands::find::query_error;
use crate::commands::stats::human_size;
use crate::ctx::{CmdResult, Ctx, note, warn};
use crate::output::{record_json, write_path};

/// Find duplicate files: groups of identical content (same BLAKE3 hash) where they lie.
///
/// Each group shows how many copies there are, the size of one and the space the extra
/// copies waste (hard links of one file count as one copy), biggest waste first; the copy
/// the keep rule would keep is marked. trove never deletes: `--print-redundant` prints the
/// paths you may delete, one per line, keeping per group a present file before an offline
/// one, then the largest resolution (when metadata has width and height), then the largest
/// size, then the oldest modification time, then the first path.
///
/// Examples: `trove dupes`, `trove dupes --min-size 1M path:*/photos/*`,
/// `trove dupes --print-redundant -0 ext:jpg | xargs -0 ls -l`.
/// With a query, only the files it selects are grouped.
#[derive(Debug, Args)]
#[command(after_help = crate::commands::find::QUERY_HELP)]
pub struct DupesArgs {
    /// One JSON object per group per line: hash, size, copies, wasted, files
    #[arg(long, conflicts_with = "print_redundant")]
    pub json: bool,
    /// Only files of at least this size (`10M`, `1k`, bytes without a unit; default 1:
    /// empty files are left out)
    #[arg(long, value_name = "SIZE", default_value = "1", value_parser = parse_min_size)]
    pub min_size: u64,
    /// Print only the paths you may delete (every copy but the one the keep rule keeps)
    #[arg(long)]
    pub print_redundant: bool,
    /// With --print-redundant: end each path with a NUL byte (for xargs -0)
    #[arg(short = '0', long = "null", requires = "print_redundant")]
    pub null: bool,
    /// Print absolute paths
    #[arg(short, long)]
    pub absolute: bool,
    /// A query (same language as `trove find`); default: every file
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Vec<String>,
}

fn parse_min_size(s: &str) -> Result<u64, String> {
    trove_core::query::parse_size(s).ok_or_else(|| format!("{s:?} is not a size (examples: 4096, 10k, 1.5M, 2G)"))
}

pub fn run(ctx: &Ctx, a: DupesArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let text = a.query.join(" ");
    let q = if text.trim().is_empty() {
        None
    } else {
        let q = Query::new(&index, &text).map_err(|e| query_error(&text, e))?;
        for w in q.warnings() {
            warn(w);
        }
        Some(q)
    };
    let groups = dupes::exact(&index, a.min_size, q.as_ref())?;
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let shown = |p: &'_ std::path::Path| -> std::path::PathBuf {
        if a.absolute { p.to_path_buf() } else { trove_core::paths::display_relative(p, &ctx.cwd).to_path_buf() }
    };
    for g in &groups {
        if a.print_redundant {
            for m in g.redundant() {
                write_path(&mut out, &shown(&m.record.path), if a.null { 0 } else { b'\n' })?;
            }
        } else if a.json {
            serde_json::to_writer(&mut out, &group_json(g)).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{} copies of {}, {} wasted", g.copies, human_size(g.size), human_size(g.wasted))?;
            for (i, m) in g.members.iter().enumerate() {
                out.write_all(if i == g.keep { b"  keep  " } else { b"        " })?;
                write_path(&mut out, &shown(&m.record.path), b'\n')?;
            }
        }
    }
    out.flush()?;
    drop(out);
    let s = dupes::summary(&groups);
    if !a.json {
        note(format!("{} group(s), {} file(s), {} wasted", s.groups, s.files, human_size(s.wasted)));
    }
    Ok(if groups.is_empty() { 1 } else { 0 })
}

fn group_json(g: &Group) -> serde_json::Value {
    let files: Vec<_> = g
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut o = record_json(&m.record);
            o.insert("keep".into(), json!(i == g.keep));
            o.insert("width".into(), json!(m.width));
            o.insert("height".into(), json!(m.height));
            o
        })
        .collect();
    json!({
        "hash": g.hash.to_hex(),
        "size": g.size,
        "copies": g.copies,
        "wasted": g.wasted,
        "files": files,
    })
}
