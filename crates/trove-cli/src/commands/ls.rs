//! `trove ls`: indexed files under paths, with their tags.

use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::store::{files, links};
use trove_core::{FileRecord, FileState};

use crate::ctx::{CmdResult, Ctx, warn};
use crate::output::record_json;

/// List indexed files with their tags.
///
/// Without -r a directory shows the indexed files directly in it. Implied tags are marked
/// `(implied)`; missing files are marked `[missing]`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Include files in subdirectories
    #[arg(short, long)]
    pub recursive: bool,
    /// One JSON object per line, with the tags, their sources and implied tags
    #[arg(long)]
    pub json: bool,
    /// Files or directories (default: the working directory)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: LsArgs) -> CmdResult {
    let index = ctx.open_read()?;
    let c = index.conn();
    let paths = if a.paths.is_empty() { vec![ctx.cwd.clone()] } else { ctx.resolve_all(&a.paths) };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut missing_args = 0;
    let mut labeler = links::Labeler::new(c)?;
    for p in &paths {
        let mut recs: Vec<FileRecord> = files::all_at(c, p)?;
        if recs.is_empty() {
            let prefix_len = p.as_os_str().as_bytes().len() + 1;
            recs = files::under(c, p)?
                .into_iter()
                .filter(|r| a.recursive || !r.path_bytes()[prefix_len.min(r.path_bytes().len())..].contains(&b'/'))
                .collect();
            if recs.is_empty() && files::under(c, p)?.is_empty() {
                warn(format!("{}: nothing indexed here", ctx.show(p)));
                missing_args += 1;
                continue;
            }
        }
        for r in &recs {
            let tags = labeler.of_file(r.id)?;
            if a.json {
                let mut m = record_json(r);
                m.insert(
                    "tags".into(),
                    json!(
                        tags.iter()
                            .filter(|t| !t.implied)
                            .map(|t| json!({
                                "name": t.name,
                                "sources": t.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            }))
                            .collect::<Vec<_>>()
                    ),
                );
                m.insert(
                    "implied".into(),
                    json!(tags.iter().filter(|t| t.implied).map(|t| &t.name).collect::<Vec<_>>()),
                );
                serde_json::to_writer(&mut out, &m).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
            } else {
                let shown = trove_core::paths::display_relative(&r.path, &ctx.cwd);
                out.write_all(shown.as_os_str().as_bytes())?;
                if r.state == FileState::Missing {
                    out.write_all(b" [missing]")?;
                }
                let names: Vec<String> = tags
                    .iter()
                    .map(|t| if t.implied { format!("{} (implied)", t.name) } else { t.name.clone() })
                    .collect();
                if !names.is_empty() {
                    write!(out, "\t{}", names.join(", "))?;
                }
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(if missing_args > 0 { 1 } else { 0 })
}
