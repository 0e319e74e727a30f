//! `trove dupes`: groups of identical content and of similar images across indexed paths,
//! decisions about them, merged tags; never deletes.

use std::ffi::OsString;
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use trove_core::FileId;
use trove_core::ops::dupes::{self, Decision, Group, SimilarGroup};
use trove_core::ops::find::Query;

use crate::commands::find::query_error;
use crate::commands::stats::human_size;
use crate::ctx::{CmdResult, CommandError, Ctx, note, warn};
use crate::output::{Bar, record_json, write_path};

/// Find duplicate files: identical content (same BLAKE3 hash) or similar images, where they lie.
///
/// Each group shows how many copies there are, the size of one and the space the extra
/// copies waste (hard links of one file count as one copy), biggest waste first; the copy
/// the keep rule would keep is marked. trove never deletes: `--print-redundant` prints the
/// paths you may delete, one per line, keeping per group a present file before an offline
/// one, then the largest resolution (when metadata has width and height), then the largest
/// size, then the oldest modification time, then the first path.
///
/// `--similar` groups images that look alike (perceptual hashes within `--distance` bits;
/// computed at include, or for an existing library by `--scan`). `trove dupes mark` stores
/// a decision about a group or some files, `trove dupes merge-tags` gives every file the
/// tags of all; the query terms `dupe:exact`, `dupe:similar` and `dupe:undecided` find them.
///
/// Examples: `trove dupes`, `trove dupes --min-size 1M path:*/photos/*`,
/// `trove dupes --print-redundant -0 ext:jpg | xargs -0 ls -l`,
/// `trove dupes --scan --similar type:image`, `trove dupes mark hash:1a2b3c4d same`,
/// `trove dupes mark a.jpg b.jpg alternate`, `trove find dupe:undecided`.
/// With a query, only the files it selects are grouped.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = crate::commands::find::QUERY_HELP)]
pub struct DupesArgs {
    #[command(subcommand)]
    pub command: Option<DupesCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum DupesCommand {
    /// Store a decision about a group or files: same, alternate, not-duplicate (or undecided
    /// to forget it). GROUP is `hash:HEX` (8+ hex digits of a content hash, as the group
    /// header shows): every live copy of that content. Example: `trove dupes mark a.jpg
    /// b.jpg not-duplicate`
    Mark {
        /// GROUP (`hash:HEX`) or FILES, then the decision
        #[arg(value_name = "GROUP|FILES DECISION", required = true, num_args = 2.., allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Give every file the tags of all of them (each from the source it came from); tags
    /// are only added. Takes FILES or a GROUP (`hash:HEX`). Example: `trove dupes
    /// merge-tags a.jpg copy/a.jpg`
    MergeTags {
        #[arg(value_name = "GROUP|FILES", required = true, allow_hyphen_values = true)]
        files: Vec<OsString>,
    },
}

/// What `trove dupes` (listing) takes.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per group per line: hash, size, copies, wasted, decision (when every
    /// pair has the same one), undecided (pairs without a decision), files
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
    /// Groups of similar images (perceptual hashes) instead of identical content
    #[arg(long)]
    pub similar: bool,
    /// With --similar: the most bits (of 64) two images' hashes may differ in (default 10)
    #[arg(long, value_name = "N", requires = "similar", value_parser = clap::value_parser!(u32).range(0..=24))]
    pub distance: Option<u32>,
    /// First compute the perceptual hashes images do not have yet (files indexed before
    /// they were computed at include); alone, only that
    #[arg(long)]
    pub scan: bool,
    /// A query (same language as `trove find`); default: every file
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Vec<String>,
}

fn parse_min_size(s: &str) -> Result<u64, String> {
    trove_core::query::parse_size(s).ok_or_else(|| format!("{s:?} is not a size (examples: 4096, 10k, 1.5M, 2G)"))
}

pub fn run(ctx: &Ctx, a: DupesArgs) -> CmdResult {
    match a.command {
        Some(DupesCommand::Mark { mut args }) => {
            let word = args.pop().expect("clap requires two arguments");
            let word = word.to_string_lossy();
            let decision = match word.as_ref() {
                "undecided" => None,
                w => Some(w.parse::<Decision>().map_err(|_| {
                    CommandError::new(format!(
                        "{w}: not a decision (same, alternate, not-duplicate, or undecided to forget one)"
                    ))
                })?),
            };
            let mut index = ctx.open_write()?;
            let ids = targets(ctx, &index, &args)?;
            let n = dupes::mark(&mut index, &ids, decision)?;
            note(format!(
                "{} file(s): {} pair(s) {}",
                ids.len(),
                n,
                decision.map_or("forgotten".to_string(), |d| format!("marked {}", d.as_str()))
            ));
            Ok(0)
        }
        Some(DupesCommand::MergeTags { files }) => {
            let mut index = ctx.open_write()?;
            let ids = targets(ctx, &index, &files)?;
            let n = dupes::merge_tags(&mut index, &ids)?;
            note(format!("{} file(s): {n} link(s) added", ids.len()));
            Ok(0)
        }
        None => list(ctx, a.list),
    }
}

/// The records a GROUP (`hash:HEX`) or FILES name; a path with no record is an error.
fn targets(ctx: &Ctx, index: &trove_core::Index, args: &[OsString]) -> Result<Vec<FileId>, CommandError> {
    let mut ids = Vec::new();
    let mut paths = Vec::new();
    for a in args {
        let b = a.as_bytes();
        if b.starts_with(b"hash:") {
            let text = a.to_string_lossy();
            let q = Query::new(index, &text).map_err(|e| query_error(&text, e))?;
            let before = ids.len();
            q.for_each(index, None, |r| {
                ids.push(r.id);
                Ok(true)
            })?;
            if ids.len() == before {
                return Err(CommandError::new(format!("{text}: no live file has this content"))
                    .with_hint("`trove dupes` shows each group's hash"));
            }
        } else {
            paths.push(ctx.resolve(&PathBuf::from(a)));
        }
    }
    let (found, unknown, errors) = trove_core::ops::tagging::records_for(index, &paths, false)?;
    if let Some(p) = unknown.first() {
        return Err(CommandError::new(format!("{}: not in the index", ctx.show(p))));
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    ids.extend(found);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn list(ctx: &Ctx, a: ListArgs) -> CmdResult {
    let mut index = ctx.open_read()?;
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
    if a.scan {
        drop(index);
        let mut w = ctx.open_write()?;
        let x = ctx.extractor();
        let rep = dupes::scan(&mut w, q.as_ref(), &*x.0, &Bar::new())?;
        let mut line = format!("perceptual hashes computed for {} content(s)", rep.hashed);
        if rep.videos > 0 {
            line.push_str(&format!(", keyframe hashes for {} video(s)", rep.videos));
        }
        if rep.failed > 0 {
            line.push_str(&format!(", {} not decodable", rep.failed));
        }
        if rep.skipped > 0 {
            line.push_str(&format!("; {} file(s) are not images or videos", rep.skipped));
        }
        note(line);
        for n in x.0.notes() {
            note(n);
        }
        if !a.similar {
            return Ok(0);
        }
        index = ctx.open_read()?;
    }
    let decided: Decided = dupes::decisions(&index)?.into_iter().map(|(a, b, d)| ((a, b), d)).collect();
    if a.similar {
        let d = a.distance.unwrap_or(trove_core::similar::DEFAULT_DISTANCE);
        let groups = dupes::similar(&index, d, q.as_ref())?;
        return similar_out(ctx, &a, &groups, &decided);
    }
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
            serde_json::to_writer(&mut out, &group_json(g, &decided)).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{} copies of {}, {} wasted  hash:{}",
                g.copies,
                human_size(g.size),
                human_size(g.wasted),
                &g.hash.to_hex()[..12]
            )?;
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

type Decided = std::collections::HashMap<(FileId, FileId), Decision>;

/// What was decided about a group: the decision when every pair has the same one (else
/// null), and how many pairs have none.
fn decision_json(ids: impl Iterator<Item = FileId>, decided: &Decided) -> (serde_json::Value, u64) {
    let mut ids: Vec<FileId> = ids.collect();
    ids.sort_unstable();
    let (mut undecided, mut seen) = (0u64, Vec::new());
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            match decided.get(&(ids[i], ids[j])) {
                Some(d) => seen.push(*d),
                None => undecided += 1,
            }
        }
    }
    let one = seen.first().filter(|d| undecided == 0 && seen.iter().all(|x| x == *d));
    (json!(one.map(|d| d.as_str())), undecided)
}

fn group_json(g: &Group, decided: &Decided) -> serde_json::Value {
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
    let (decision, undecided) = decision_json(g.members.iter().map(|m| m.record.id), decided);
    json!({
        "hash": g.hash.to_hex(),
        "size": g.size,
        "copies": g.copies,
        "wasted": g.wasted,
        "decision": decision,
        "undecided": undecided,
        "files": files,
    })
}

fn similar_out(ctx: &Ctx, a: &ListArgs, groups: &[SimilarGroup], decided: &Decided) -> CmdResult {
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let shown = |p: &'_ std::path::Path| -> std::path::PathBuf {
        if a.absolute { p.to_path_buf() } else { trove_core::paths::display_relative(p, &ctx.cwd).to_path_buf() }
    };
    for g in groups {
        if a.print_redundant {
            for (i, m) in g.members.iter().enumerate() {
                if i != g.keep {
                    write_path(&mut out, &shown(&m.member.record.path), if a.null { 0 } else { b'\n' })?;
                }
            }
        } else if a.json {
            let files: Vec<_> = g
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let mut o = record_json(&m.member.record);
                    o.insert("keep".into(), json!(i == g.keep));
                    o.insert("width".into(), json!(m.member.width));
                    o.insert("height".into(), json!(m.member.height));
                    o.insert("phash".into(), json!(format!("{:016x}", m.phash)));
                    o.insert("distance".into(), json!(m.distance));
                    o
                })
                .collect();
            let (decision, undecided) = decision_json(g.members.iter().map(|m| m.member.record.id), decided);
            let v = json!({ "similar": files.len(), "decision": decision, "undecided": undecided, "files": files });
            serde_json::to_writer(&mut out, &v).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{} similar files", g.members.len())?;
            for (i, m) in g.members.iter().enumerate() {
                let mark = if i == g.keep { "keep" } else { "" };
                write!(out, "  {mark:4} {:>2}  ", m.distance)?;
                write_path(&mut out, &shown(&m.member.record.path), b'\n')?;
            }
        }
    }
    out.flush()?;
    drop(out);
    if !a.json {
        let files: usize = groups.iter().map(|g| g.members.len()).sum();
        note(format!("{} group(s) of similar images, {files} file(s)", groups.len()));
    }
    Ok(if groups.is_empty() { 1 } else { 0 })
}
