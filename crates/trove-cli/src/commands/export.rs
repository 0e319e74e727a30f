//! `trove export json [QUERY]`: the library (or what a query finds) in trove's documented
//! export format.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ctx::{CmdResult, CommandError, Ctx, io_message};

/// Write the library out in a documented format (docs/export-format.md)
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  trove export json > library.json          # everything: files, tags, names, implications, pools
  trove export json 'pool:\"Summer 2019\"' -o summer.json
  trove import json library.json             # into another index; merges by tag universal id")]
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
    }
}
