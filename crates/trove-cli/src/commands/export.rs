//! `trove export json [QUERY]`: the library (or what a query finds) in trove's documented
//! export format; `trove export xattr|sidecar [QUERY]`: tags next to the files for other tools.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ctx::{CmdResult, CommandError, Ctx, io_message};

/// Write the library out in a documented format (docs/export-format.md)
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  trove export json > library.json          # everything: files, tags, names, implications, pools
  trove export json 'pool:\"Summer 2019\"' -o summer.json
  trove import json library.json             # into another index; merges by tag universal id
  trove export xattr 'type:image'            # add the tags to each file's user.xdg.tags
  trove export sidecar -n                    # which .xmp sidecars would be written")]
pub struct ExportArgs {
    #[command(subcommand)]
    pub format: ExportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// Files, hashes, tags with universal ids, every name and language, implications, pools,
    /// link sources and dates, as JSON in a canonical order (an export of an import of an
    /// export is byte-identical)
    Json {
        /// Only the files this query finds (and the tags, implications and pool entries
        /// that concern them); default: everything, missing files included
        #[arg(value_name = "QUERY", allow_hyphen_values = true)]
        query: Vec<String>,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Add each file's tags to its user.xdg.tags extended attribute (KDE Dolphin and other
    /// freedesktop tools read it); tags already there stay. Content is never touched
    Xattr {
        /// Only the files this query finds; default: every present file
        #[arg(value_name = "QUERY", allow_hyphen_values = true)]
        query: Vec<String>,
        /// Count what would be written; write nothing
        #[arg(short = 'n', long)]
        dry_run: bool,
    },
    /// Write FILE.EXT.xmp next to each tagged file with its tags as XMP keywords (digiKam,
    /// darktable, Lightroom read them); a sidecar another tool wrote is left alone
    Sidecar {
        /// Only the files this query finds; default: every present file
        #[arg(value_name = "QUERY", allow_hyphen_values = true)]
        query: Vec<String>,
        /// Count what would be written; write nothing
        #[arg(short = 'n', long)]
        dry_run: bool,
    },
}

pub fn run(ctx: &Ctx, a: ExportArgs) -> CmdResult {
    match a.format {
        ExportFormat::Json { query, output } => {
            let index = ctx.open_read()?;
            let q = query.join(" ");
            let lib = trove_core::ops::export::library(&index, (!query.is_empty()).then_some(q.as_str()))?;
            match output {
                Some(p) => {
                    let p = ctx.resolve(&p);
                    let err = |e: std::io::Error| CommandError::new(format!("{}: {}", ctx.show(&p), io_message(&e)));
                    let f = std::fs::File::create(&p).map_err(err)?;
                    let mut w = std::io::BufWriter::new(f);
                    trove_import::json::write(&lib, &mut w).map_err(err)?;
                    w.flush().map_err(err)?;
                    w.into_inner().map_err(|e| err(e.into_error()))?.sync_all().map_err(err)?;
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    trove_import::json::write(&lib, &mut w)?;
                    w.flush()?;
                }
            }
            Ok(0)
        }
        ExportFormat::Xattr { query, dry_run } => {
            next_to_files(ctx, &query, dry_run, "user.xdg.tags", trove_import::filetags::write_xattrs)
        }
        ExportFormat::Sidecar { query, dry_run } => {
            next_to_files(ctx, &query, dry_run, ".xmp sidecars", trove_import::filetags::write_sidecars)
        }
    }
}

/// Writes tags next to the files a query finds and prints what it did.
fn next_to_files(
    ctx: &Ctx,
    query: &[String],
    dry_run: bool,
    what: &str,
    write: impl Fn(&trove_core::ops::import::Library, bool) -> trove_import::filetags::Written,
) -> CmdResult {
    let index = ctx.open_read()?;
    let q = query.join(" ");
    let lib = trove_core::ops::export::library(&index, (!query.is_empty()).then_some(q.as_str()))?;
    drop(index);
    let w = write(&lib, dry_run);
    let mut out = std::io::stdout().lock();
    let verb = if dry_run { "would write" } else { "wrote" };
    writeln!(out, "{what}: {verb} {} file(s), {} already up to date", w.written, w.unchanged)?;
    if !w.problems.is_empty() {
        writeln!(out, "not written ({}):", w.problems.len())?;
        for p in &w.problems {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(if w.problems.is_empty() { 0 } else { 1 })
}
