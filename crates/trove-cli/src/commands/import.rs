//! `trove import json|awtfdb …`: bring a library in from trove's own export or another
//! tool. Every importer shares the same options and report.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use trove_core::ops::import::{self, Options, Report};

use crate::ctx::{CmdResult, Ctx};
use crate::output::Bar;

/// Bring tags in from trove's export or from another tool (the source is only read)
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  trove import json library.json --dry-run   # what would change, nothing stored
  trove import json library.json
  trove import awtfdb                         # $HOME/awtf.db

A second run of the same import adds nothing. A killed import keeps the batches it
finished; running it again completes it. Links get the source import:<tool>.")]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Count what would change; store nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// trove's own export (docs/export-format.md); tags merge by universal id
    Json {
        /// The file `trove export json` wrote
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// awtfdb (schema 8–11): tag cores keep their hash as universal id, every name,
    /// implications, pools in order; files are re-hashed where they are on disk
    Awtfdb {
        /// The database (default: $HOME/awtf.db, where awtfdb keeps it)
        db: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(ctx: &Ctx, a: ImportArgs) -> CmdResult {
    let (tool, read, common) = match a.source {
        ImportSource::Json { file, common } => ("json", trove_import::json::read(&ctx.resolve(&file))?, common),
        ImportSource::Awtfdb { db, common } => {
            let db = match db {
                Some(p) => ctx.resolve(&p),
                None => trove_import::awtfdb::default_path(std::env::var_os("HOME").map(PathBuf::from).as_deref())?,
            };
            ("awtfdb", trove_import::awtfdb::read(&db)?, common)
        }
    };
    let mut index = ctx.open_write()?;
    let opts = Options { dry_run: common.dry_run, ..Options::default() };
    let report = import::apply(&mut index, &read.library, &opts, &Bar::new())?;
    print_report(tool, &common, &read.notes, &report)?;
    Ok(0)
}

fn print_report(tool: &str, c: &Common, notes: &[String], r: &Report) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let problems: Vec<&String> = notes.iter().chain(&r.problems).collect();
    if c.json {
        let v = json!({
            "tool": tool, "dry_run": c.dry_run,
            "tags_created": r.tags_created, "tags_existing": r.tags_existing, "names_added": r.names_added,
            "implications_added": r.implications_added, "implications_existing": r.implications_existing,
            "files_added": r.files_added, "files_existing": r.files_existing, "files_missing": r.files_missing,
            "links_added": r.links_added, "links_existing": r.links_existing,
            "pools_created": r.pools_created, "pool_entries_added": r.pool_entries_added,
            "not_mapped": problems,
        });
        return writeln!(out, "{v}");
    }
    let verb = if c.dry_run { "would add" } else { "added" };
    writeln!(out, "import {tool}{}:", if c.dry_run { " (dry run: nothing stored)" } else { "" })?;
    writeln!(
        out,
        "  tags:         {verb} {}, {} already there, {} new names",
        r.tags_created, r.tags_existing, r.names_added
    )?;
    writeln!(out, "  implications: {verb} {}, {} already there", r.implications_added, r.implications_existing)?;
    writeln!(
        out,
        "  files:        {verb} {} ({} of them missing on disk), {} already indexed",
        r.files_added + r.files_missing,
        r.files_missing,
        r.files_existing
    )?;
    writeln!(out, "  links:        {verb} {}, {} already there", r.links_added, r.links_existing)?;
    writeln!(out, "  pools:        {verb} {} pools, {} entries", r.pools_created, r.pool_entries_added)?;
    if !problems.is_empty() {
        writeln!(out, "not mapped ({}):", problems.len())?;
        for p in problems {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(())
}
