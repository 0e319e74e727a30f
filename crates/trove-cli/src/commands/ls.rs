//! `trove ls`: indexed files under paths, with their tags.

use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trove_core::FileState;
use trove_core::ops::files::{self, Labeler};

use crate::ctx::{CmdResult, Ctx, warn};
use crate::output::{record_json, tags_json};

/// List indexed files with their tags.
///
/// Without -r a directory shows the indexed files directly in it, then its subdirectories
/// that hold indexed files, with their counts. Implied tags are marked `(implied)`;
/// missing files are marked `[missing]`. A file with other indexed hard links (separate
/// records, each with its own tags) lists them after its tags as `links: PATH, ...`.
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
    let paths = if a.paths.is_empty() { vec![ctx.cwd.clone()] } else { ctx.resolve_all(&a.paths) };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut missing_args = 0;
    let mut labeler = Labeler::new(&index)?;
    // Files outside every root are not kept current: say so on their lines.
    let roots = trove_core::ops::roots::list(&index)?;
    let mut outside = 0u64;
    for p in &paths {
        let listing = files::list(&index, p, a.recursive)?;
        if listing.is_empty() {
            warn(format!("{}: nothing indexed here", ctx.show(p)));
            missing_args += 1;
            continue;
        }
        let recs = listing.files;
        for r in &recs {
            let tags = labeler.of_file(r.id)?;
            let links = files::other_links(&index, r)?;
            if a.json {
                let mut m = record_json(r);
                tags_json(&mut m, &tags);
                let links: Vec<serde_json::Value> = links
                    .iter()
                    .map(|l| {
                        let mut lm = serde_json::Map::new();
                        lm.insert("id".into(), json!(l.id.0));
                        crate::output::path_json(&mut lm, &l.path);
                        serde_json::Value::Object(lm)
                    })
                    .collect();
                m.insert("links".into(), json!(links));
                let current = (r.state == FileState::Present).then_some(&r.stat);
                m.insert(
                    "meta".into(),
                    trove_core::ops::meta::get(&index, r.id)?
                        .map_or(json!(null), |s| crate::output::meta_json(&s, current)),
                );
                m.insert("tracked".into(), json!(trove_core::ops::roots::root_of(&roots, &r.path).is_some()));
                serde_json::to_writer(&mut out, &m).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
            } else {
                let shown = trove_core::paths::display_relative(&r.path, &ctx.cwd);
                out.write_all(shown.as_os_str().as_bytes())?;
                if r.state == FileState::Missing {
                    out.write_all(b" [missing]")?;
                } else if trove_core::ops::roots::root_of(&roots, &r.path).is_none() {
                    out.write_all(b" [outside every root]")?;
                    outside += 1;
                }
                let names: Vec<String> = tags
                    .iter()
                    .map(|t| if t.implied { format!("{} (implied)", t.name) } else { t.name.clone() })
                    .collect();
                if !names.is_empty() || !links.is_empty() {
                    write!(out, "\t{}", names.join(", "))?;
                }
                if !links.is_empty() {
                    out.write_all(b"\tlinks: ")?;
                    for (i, l) in links.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b", ")?;
                        }
                        out.write_all(trove_core::paths::display_relative(&l.path, &ctx.cwd).as_os_str().as_bytes())?;
                    }
                }
                out.write_all(b"\n")?;
            }
        }
        for files::SubDir { name, files: n } in &listing.subdirs {
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
    if outside > 0 {
        crate::ctx::note(format!(
            "{outside} file(s) above are outside every root: their renames and moves are not followed \
             (`trove roots add DIR` makes a directory a root)"
        ));
    }
    Ok(if missing_args > 0 { 1 } else { 0 })
}
