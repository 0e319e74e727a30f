//! `trove view`: a plain folder of symlinks for a query (no driver needed), refreshed by diff.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use clap::Args;
use trove_core::ops::{self, views};
use trove_core::paths::from_bytes;

use crate::ctx::{CmdResult, CommandError, Ctx, print_bytes};

/// The marker that makes a folder trove's own: the query, the layout and every link made.
pub const MARKER: &str = ".trove-view";

/// Make (or refresh) a folder of symlinks to the files a query finds.
///
/// DIR is created when absent and marked as trove's with a `.trove-view` file. Running the
/// command again refreshes it by difference: links for files that no longer match are
/// removed, new ones are added, unchanged ones are left alone. trove only ever removes links
/// it made (listed in the marker); it refuses a non-empty folder it did not create. Two
/// files with the same name in one folder both appear as `name~<id>.ext`, as in `trove
/// mount`.
///
/// --layout nests the links in folders: `{tag:NS}` is the value of the file's NS: tags
/// (one folder per value), `{FIELD}` a metadata field (artist, album, camera, … see `trove
/// show`) or else the file's FIELD: tags; a file without one goes into `_unknown`. The last
/// part must be `{name}`.
///
/// Examples: trove view 'genre:techno -live' ~/Music/techno
///           trove view 'type:photo' ~/Pictures/by-camera --layout '{camera}/{name}'
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The query (quote it)
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: String,
    /// The folder to make or refresh
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Nested folders, e.g. '{artist}/{album}/{name}' or '{tag:year}/{name}'
    #[arg(long, value_name = "TEMPLATE", default_value = "{name}")]
    pub layout: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// One part of a layout segment.
enum Piece {
    Text(String),
    Tag(String),
    Field(String),
}

/// The layout's folder segments (without the final `{name}`).
fn parse_layout(t: &str) -> Result<Vec<Vec<Piece>>, CommandError> {
    let bad = |why: &str| CommandError::new(format!("--layout {t:?}: {why}"));
    let segs: Vec<&str> = t.split('/').collect();
    let Some((last, dirs)) = segs.split_last() else { return Err(bad("empty")) };
    if *last != "{name}" {
        return Err(bad("the last part must be {name}"));
    }
    let mut out = Vec::new();
    for seg in dirs {
        if seg.is_empty() {
            return Err(bad("an empty folder name"));
        }
        let mut pieces = Vec::new();
        let mut rest = *seg;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or_else(|| bad("a { without }"))? + open;
            let key = &rest[open + 1..close];
            match key.strip_prefix("tag:") {
                Some(ns) if !ns.is_empty() => pieces.push(Piece::Tag(ns.to_lowercase())),
                _ if key.is_empty() || key == "name" => return Err(bad("{name} only as the last part")),
                _ => pieces.push(Piece::Field(key.to_string())),
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        out.push(pieces);
    }
    Ok(out)
}

/// Every folder path (relative) a file goes into under the layout.
fn folders_of(
    index: &trove_core::Index,
    labeler: &mut ops::files::Labeler<'_>,
    r: &trove_core::FileRecord,
    layout: &[Vec<Piece>],
) -> trove_core::Result<Vec<Vec<u8>>> {
    if layout.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    let tags = labeler.of_file(r.id)?;
    let meta = ops::meta::get(index, r.id)?;
    let ns_values = |ns: &str| -> Vec<String> {
        let mut v: Vec<String> = tags
            .iter()
            .filter_map(|t| t.name.split_once(':').filter(|(n, v)| n.eq_ignore_ascii_case(ns) && !v.is_empty()))
            .map(|(_, v)| v.to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut paths: Vec<Vec<u8>> = vec![Vec::new()];
    for seg in layout {
        // Each piece gives one or more values; a segment is every combination.
        let mut names: Vec<String> = vec![String::new()];
        for p in seg {
            let values = match p {
                Piece::Text(t) => vec![t.clone()],
                Piece::Tag(ns) => ns_values(ns),
                Piece::Field(f) => match meta.as_ref().and_then(|m| m.meta.field(f)) {
                    Some(v) => vec![v.to_string()],
                    None => ns_values(f),
                },
            };
            let values = if values.is_empty() { vec!["_unknown".to_string()] } else { values };
            names = names.iter().flat_map(|n| values.iter().map(move |v| format!("{n}{v}"))).collect();
        }
        let mut next = Vec::new();
        for p in &paths {
            for n in &names {
                let mut q = p.clone();
                if !q.is_empty() {
                    q.push(b'/');
                }
                let n = if n.trim().is_empty() { "_unknown".to_string() } else { views::escape(n) };
                q.extend_from_slice(n.as_bytes());
                next.push(q);
            }
        }
        paths = next;
    }
    Ok(paths)
}

/// What the marker holds.
struct Marker {
    links: BTreeSet<Vec<u8>>,
}

fn read_marker(dir: &Path) -> Result<Option<Marker>, CommandError> {
    let p = dir.join(MARKER);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CommandError::new(format!("{}: {}", p.display(), crate::ctx::io_message(&e)))),
    };
    let bad = || CommandError::new(format!("{}: not a marker this trove understands; left alone", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad())?;
    if v.get("trove_view") != Some(&serde_json::json!(1)) {
        return Err(bad());
    }
    let mut links = BTreeSet::new();
    for l in v.get("links").and_then(|l| l.as_array()).ok_or_else(bad)? {
        links.insert(l.as_str().and_then(unhex).ok_or_else(bad)?);
    }
    Ok(Some(Marker { links }))
}

fn write_marker(dir: &Path, query: &str, layout: &str, links: &BTreeSet<Vec<u8>>) -> Result<(), CommandError> {
    let v = serde_json::json!({
        "trove_view": 1,
        "about": "made by `trove view`; running it again refreshes this folder, removing only the links listed here",
        "query": query,
        "layout": layout,
        "links": links.iter().map(|l| hex(l)).collect::<Vec<_>>(),
    });
    let tmp = dir.join(format!("{MARKER}.tmp"));
    let io = |e: std::io::Error| CommandError::new(format!("{}: {}", tmp.display(), crate::ctx::io_message(&e)));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&v).unwrap_or_default()).map_err(io)?;
    std::fs::rename(&tmp, dir.join(MARKER)).map_err(io)
}

pub fn run(ctx: &Ctx, a: ViewArgs) -> CmdResult {
    let layout = parse_layout(&a.layout)?;
    let dir = trove_core::paths::resolve(&ctx.cwd, &a.dir);
    let index = ctx.open_read()?;
    let q = ops::find::Query::new(&index, &a.query)?;
    for w in q.warnings() {
        crate::ctx::note(format!("warning: {w}"));
    }

    // The folder: created, or ours (marker), or empty; anything else is refused.
    let io =
        |p: &Path, e: std::io::Error| CommandError::new(format!("{}: {}", p.display(), crate::ctx::io_message(&e)));
    let old: BTreeSet<Vec<u8>> = match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            BTreeSet::new()
        }
        Err(e) => return Err(io(&dir, e)),
        Ok(m) if !m.is_dir() => return Err(CommandError::new(format!("{}: not a directory", dir.display()))),
        Ok(_) => match read_marker(&dir)? {
            Some(m) => m.links,
            None if std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?.next().is_none() => BTreeSet::new(),
            None => {
                return Err(CommandError::new(format!(
                    "{}: not empty and not a trove view (no {MARKER} in it); trove only writes into folders it made",
                    dir.display()
                ))
                .with_hint("give a new or empty directory"));
            }
        },
    };

    // What should be there: relative link path → target, names by the mount's rule.
    let files = q.collect(&index, None)?;
    let mut labeler = ops::files::Labeler::new(&index)?;
    let mut by_folder: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
    for (i, r) in files.iter().enumerate() {
        for f in folders_of(&index, &mut labeler, r, &layout)? {
            by_folder.entry(f).or_default().push(i);
        }
    }
    let mut want: HashMap<Vec<u8>, &Path> = HashMap::new();
    for (folder, members) in &by_folder {
        let keys: Vec<_> = members.iter().map(|&i| (files[i].id, views::basename(&files[i]))).collect();
        for (&i, name) in members.iter().zip(views::entry_names(&keys)) {
            let mut rel = folder.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            want.insert(rel, files[i].path.as_path());
        }
    }

    // Apply the difference.
    let (mut added, mut removed, mut kept, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    let mut links: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut emptied: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in &old {
        let p = dir.join(from_bytes(rel));
        let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        let current = std::fs::read_link(&p).ok();
        match want.get(rel) {
            Some(t) if current.as_deref() == Some(*t) => {}
            // Only a link trove made is removed; anything else put there is left as it is.
            _ if is_link => {
                std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
                removed += 1;
                if let Some(parent) = p.parent() {
                    emptied.insert(parent.to_path_buf());
                }
            }
            _ => {}
        }
    }
    let mut wanted: Vec<(&Vec<u8>, &&Path)> = want.iter().collect();
    wanted.sort();
    for (rel, target) in wanted {
        let p = dir.join(from_bytes(rel));
        match std::fs::read_link(&p) {
            Ok(t) if t.as_path() == *target && old.contains(rel) => {
                kept += 1;
                links.insert(rel.clone());
                continue;
            }
            _ => {}
        }
        if std::fs::symlink_metadata(&p).is_ok() {
            // Something that is not ours sits there: never replaced.
            crate::ctx::note(format!("{}: exists and is not a link trove made; left alone", p.display()));
            skipped += 1;
            continue;
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::os::unix::fs::symlink(target, &p).map_err(|e| io(&p, e))?;
        links.insert(rel.clone());
        added += 1;
    }
    // Folders left empty by removed links go too (never the view's own folder).
    for d in emptied.iter().rev() {
        let mut d = d.clone();
        while d.starts_with(&dir) && d != dir && std::fs::remove_dir(&d).is_ok() {
            if !d.pop() {
                break;
            }
        }
    }
    write_marker(&dir, &a.query, &a.layout, &links)?;
    let msg = format!(
        "{}: {} link(s): {added} added, {removed} removed, {kept} unchanged{}\n",
        dir.display(),
        links.len(),
        if skipped > 0 { format!(", {skipped} left alone") } else { String::new() }
    );
    print_bytes(msg.as_bytes())?;
    Ok(0)
}
