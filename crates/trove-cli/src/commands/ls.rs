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
/// Without -r a directory shows the indexed files directly in it, then its subdirectories
/// that hold indexed files, with their counts. Implied tags are marked `(implied)`;
/// missing files are marked `[missing]`.
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
        // Subdirectories holding indexed files, with their counts, as `ls` shows them.
        let mut subdirs: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        if recs.is_empty() {
            let under = files::under(c, p)?;
            if under.is_empty() {
                warn(format!("{}: nothing indexed here", ctx.show(p)));
                missing_args += 1;
                continue;
            }
            let prefix_len = p.as_os_str().as_bytes().len() + 1;
            for r in under {
                let rest = &r.path_bytes()[prefix_len.min(r.path_bytes().len())..];
                match rest.iter().position(|&b| b == b'/') {
                    Some(i) if !a.recursive => *subdirs.entry(rest[..i].to_vec()).or_default() += 1,
                    _ => recs.push(r),
                }
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
        for (name, n) in &subdirs {
            let dir = p.join(std::ffi::OsStr::from_bytes(name));
            if a.json {
                let mut m = serde_json::Map::new();
                crate::output::path_json(&mut m, &dir);
                m.insert("directory".into(), json!(true));
                m.insert("files".into(), json!(n));
                serde_json::to_writer(&mut out, &m).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
            } else {
                out.write_all(trove_core::paths::display_relative(&dir, &ctx.cwd).as_os_str().as_bytes())?;
                writeln!(out, "/\t{n} file(s) inside (ls -r lists them)")?;
            }
        }
    }
    out.flush()?;
    Ok(if missing_args > 0 { 1 } else { 0 })
}
