//! `trove show FILE`: everything the index knows about one file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::ops::{files, meta};

use crate::ctx::{CmdResult, CommandError, Ctx};
use crate::output::{meta_json, meta_lines, record_json, tags_json};

/// Show one file: its record, tags (with sources) and metadata read from its content.
///
/// Example: `trove show song.flac` prints the path, size, hash, state, the tags with who
/// set them (manual, rule:NAME, …) and the metadata (type, size, duration, artist, …).
/// Metadata marked stale was read before the file last changed (`trove meta refresh`).
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// One JSON object per file
    #[arg(long)]
    pub json: bool,
    /// Indexed files
    #[arg(required = true, value_name = "FILE")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: ShowArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let mut out = std::io::stdout().lock();
    let mut unknown = 0;
    for p in ctx.resolve_all(&a.paths) {
        let recs = files::at_path(&index, &p)?;
        if recs.is_empty() {
            crate::ctx::error_line(format!("{}: not in the index (hint: `trove include {0}`)", ctx.show(&p)));
            unknown += 1;
            continue;
        }
        for r in recs {
            let tags = files::tags_of(&index, r.id)?;
            let stored = meta::get(&index, r.id)?;
            let current = std::fs::symlink_metadata(&r.path).ok().map(|m| trove_core::Stat::from_metadata(&m));
            if a.json {
                let mut m = record_json(&r);
                m.insert("added_at".into(), json!(r.added_at));
                m.insert("verified_at".into(), json!(r.verified_at));
                tags_json(&mut m, &tags);
                m.insert("meta".into(), stored.as_ref().map_or(json!(null), |s| meta_json(s, current.as_ref())));
                serde_json::to_writer(&mut out, &m).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
                continue;
            }
            writeln!(out, "{}", ctx.show(&r.path))?;
            writeln!(out, "  state: {}", r.state.as_str())?;
            writeln!(out, "  size: {} bytes", r.stat.size)?;
            writeln!(out, "  hash: {}", r.hash.to_hex())?;
            for t in &tags {
                if t.implied {
                    writeln!(out, "  tag: {} (implied)", t.name)?;
                } else {
                    let s: Vec<String> = t.sources.iter().map(ToString::to_string).collect();
                    writeln!(out, "  tag: {} ({})", t.name, s.join(", "))?;
                }
            }
            match &stored {
                None => writeln!(out, "  metadata: not read yet (`trove meta refresh` reads it)")?,
                Some(s) => {
                    for (k, v) in meta_lines(s) {
                        writeln!(out, "  {k}: {v}")?;
                    }
                    if current.as_ref().is_some_and(|c| !meta::is_current(s, c)) {
                        writeln!(
                            out,
                            "  metadata is stale: the file changed since it was read (`trove meta refresh`)"
                        )?;
                    }
                }
            }
        }
    }
    out.flush()?;
    if unknown > 0 { Err(CommandError::silent(2)) } else { Ok(0) }
}
