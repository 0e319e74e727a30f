//! `trove import json|awtfdb|tmsu|tagstudio|hydrus|xattr|xmp|tagspaces …`: bring a library in from trove's own export or another
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
  trove import tmsu ~/photos/.tmsu/db         # year=2017 becomes year:2017
  trove import tagstudio ~/art                # the folder holding .TagStudio
  trove import hydrus ~/hydrus/db --under ~/pictures   # Hydrus closed; match by content
  trove import xattr ~/docs                   # KDE/freedesktop user.xdg.tags
  trove import xmp ~/photos                   # XMP keywords, embedded and .xmp sidecars
  trove import tagspaces ~/notes              # name[tag1 tag2].ext and .ts/*.json

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
    /// TagStudio (SQLite libraries DB_VERSION 6–4xx and the legacy JSON one): tags with
    /// aliases and parents, entries by path under the library root
    Tagstudio {
        /// The library root: the folder holding .TagStudio
        root: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Hydrus (closed): the current tags of "my tags" (or --service) by content, siblings as
    /// aliases, parents as implications, put on your own files under --under that have the
    /// same content (size, then SHA-256)
    Hydrus {
        /// Hydrus's database folder (holding client.db, client.master.db, client.mappings.db)
        dir: PathBuf,
        /// Folders holding your copies of the files Hydrus tagged
        #[arg(long, required = true, num_args = 1.., value_name = "DIR")]
        under: Vec<PathBuf>,
        /// A tag service by name instead of "my tags" (repeatable)
        #[arg(long, value_name = "NAME")]
        service: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// The user.xdg.tags extended attribute (KDE Dolphin, freedesktop) of files
    Xattr {
        /// Files, and folders (read recursively)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// XMP keywords (dc:subject; lr:hierarchicalSubject and digiKam:TagsList as a tag that
    /// implies its parents) embedded in files and in .xmp sidecars
    Xmp {
        /// Files, and folders (read recursively)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// TagSpaces: tags in file names (`photo[cat cute].jpg`) and in .ts/<name>.json sidecars
    Tagspaces {
        /// Files, and folders (read recursively)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// What separates the tags between [ and ] (TagSpaces' default: a space)
        #[arg(long, default_value = " ")]
        delimiter: String,
        #[command(flatten)]
        common: Common,
    },
    /// TMSU (0.7 and the Rust rewrite): tags, tag=value as tag:value, implications, files
    /// by path relative to the database's root
    Tmsu {
        /// The database (default: .tmsu/db here or in a directory above, else $TMSU_DB, else
        /// ~/.tmsu/default.db, as TMSU finds it)
        db: Option<PathBuf>,
        /// Do not add `tag:value ⇒ tag` (by default `year` finds every `year:…` as in TMSU)
        #[arg(long)]
        no_value_implies_tag: bool,
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(ctx: &Ctx, a: ImportArgs) -> CmdResult {
    let (tool, read, common) = match a.source {
        ImportSource::Json { file, common } => {
            // Streamed: each batch of files is written as it is read.
            let file = ctx.resolve(&file);
            let mut index = ctx.open_write()?;
            let opts = Options { dry_run: common.dry_run, ..Options::default() };
            let report = import::apply_stream(&mut index, &opts, &Bar::new(), None, &mut |s| {
                trove_import::json::import(&file, s)
            })?;
            print_report("json", &common, &[], &report)?;
            return Ok(0);
        }
        ImportSource::Awtfdb { db, common } => {
            let db = match db {
                Some(p) => ctx.resolve(&p),
                None => trove_import::awtfdb::default_path(std::env::var_os("HOME").map(PathBuf::from).as_deref())?,
            };
            ("awtfdb", trove_import::awtfdb::read(&db)?, common)
        }
        ImportSource::Tagstudio { root, common } => {
            ("tagstudio", trove_import::tagstudio::read(&ctx.resolve(&root))?, common)
        }
        ImportSource::Hydrus { dir, under, service, common } => {
            let opts = trove_import::hydrus::Options { services: service, under: ctx.resolve_all(&under) };
            // The SHA-256 trove keeps for files it indexed saves reading them again. This read
            // handle is closed before the write one opens (one handle at a time per process).
            let known_index = if ctx.index_path.exists() { ctx.open_read().ok() } else { None };
            let known = |p: &std::path::Path, m: &std::fs::Metadata| -> Option<[u8; 32]> {
                let idx = known_index.as_ref()?;
                let r = trove_core::ops::files::live_at(idx, p).ok()??;
                let s = trove_core::model::Stat::from_metadata(m);
                if (r.stat.size, r.stat.mtime_ns) != (s.size, s.mtime_ns) {
                    return None;
                }
                trove_core::ops::files::sha256_of(idx, r.id).ok()?
            };
            let read = trove_import::hydrus::read(&ctx.resolve(&dir), &opts, &known, &Bar::new());
            drop(known_index);
            ("hydrus", read?, common)
        }
        ImportSource::Xattr { paths, common } => {
            ("xattr", trove_import::filetags::read_xattrs(&ctx.resolve_all(&paths))?, common)
        }
        ImportSource::Xmp { paths, common } => {
            ("xmp", trove_import::filetags::read_xmp(&ctx.resolve_all(&paths))?, common)
        }
        ImportSource::Tagspaces { paths, delimiter, common } => {
            ("tagspaces", trove_import::filetags::read_tagspaces(&ctx.resolve_all(&paths), &delimiter)?, common)
        }
        ImportSource::Tmsu { db, no_value_implies_tag, common } => {
            let db = match db {
                Some(p) => ctx.resolve(&p),
                None => tmsu_default(ctx)?,
            };
            let opts = trove_import::tmsu::Options { value_implies_tag: !no_value_implies_tag };
            ("tmsu", trove_import::tmsu::read(&db, &opts)?, common)
        }
    };
    let mut index = ctx.open_write()?;
    let opts = Options { dry_run: common.dry_run, ..Options::default() };
    let report = import::apply(&mut index, &read.library, &opts, &Bar::new())?;
    print_report(tool, &common, &read.notes, &report)?;
    Ok(0)
}

/// Where TMSU looks: `.tmsu/db` upwards from here, `$TMSU_DB`, `~/.tmsu/default.db`.
fn tmsu_default(ctx: &Ctx) -> trove_core::Result<PathBuf> {
    if let Ok(p) = trove_import::tmsu::find_db(&ctx.cwd) {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("TMSU_DB") {
        return Ok(ctx.resolve(&PathBuf::from(p)));
    }
    match std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".tmsu/default.db")) {
        Some(p) if p.is_file() => Ok(p),
        _ => trove_import::tmsu::find_db(&ctx.cwd),
    }
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
