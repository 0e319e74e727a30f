//! Live tracking: apply filesystem events (from a watcher, or a fake source in tests) to
//! the index through the same store functions every other operation uses.
//!
//! Policy:
//! - A batch of events is applied in order in **one** transaction; hashing happens after
//!   the commit, outside the write lock, and its results go in a second short transaction.
//! - Renames move records by exact path, directories by exact byte prefix. A live record
//!   sitting on a rename's target is the overwritten file: it becomes missing, tags kept.
//! - A file renamed over an indexed path with no record of its own (an editor's atomic
//!   save) keeps the indexed record: it is re-hashed, its tags stay.
//! - Deletions mark records missing; nothing is ever forgotten here.
//! - Every moved record is checked against the disk afterwards (same inode at the new
//!   path?). Anything that does not add up — merged or reordered events, lost events — asks
//!   for a reconcile of the directories involved instead of guessing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::hash::hash_file;
use crate::model::{FileId, FileState, Stat, now_unix};
use crate::paths::rebase;
use crate::store::files;
use crate::{Index, Result};

/// One filesystem change, as a watcher reports it (paths absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsEvent {
    Renamed {
        from: PathBuf,
        to: PathBuf,
        dir: bool,
    },
    Removed {
        path: PathBuf,
        dir: bool,
    },
    Created {
        path: PathBuf,
        dir: bool,
    },
    /// Closed after writing.
    Written {
        path: PathBuf,
    },
    /// Events were lost or could not be resolved: reconcile this directory (`None`: every
    /// root).
    Rescan {
        scope: Option<PathBuf>,
    },
}

impl FsEvent {
    /// A short description for `trove watch --status`.
    pub fn describe(&self) -> String {
        match self {
            FsEvent::Renamed { from, to, .. } => format!("rename {} -> {}", from.display(), to.display()),
            FsEvent::Removed { path, .. } => format!("delete {}", path.display()),
            FsEvent::Created { path, .. } => format!("create {}", path.display()),
            FsEvent::Written { path } => format!("write {}", path.display()),
            FsEvent::Rescan { scope: Some(p) } => format!("rescan {}", p.display()),
            FsEvent::Rescan { scope: None } => "rescan all roots".to_string(),
        }
    }
}

/// What a batch did, and what is left for a reconcile.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub moved: usize,
    pub missing: usize,
    pub rehashed: usize,
    /// Directories to reconcile because something did not add up.
    pub rescan: BTreeSet<PathBuf>,
    /// Reconcile every root.
    pub rescan_all: bool,
    /// Files written or moved in under a root that have no record: a file moved across
    /// filesystems arrives like this (copy, then delete), see [`rematch`].
    pub unindexed: Vec<PathBuf>,
}

fn under_any(p: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| p.starts_with(r))
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Applies `events` in order. `roots` limits what is looked at: events outside every root
/// cost a prefix comparison and nothing else.
pub fn apply(index: &mut Index, events: &[FsEvent], roots: &[PathBuf]) -> Result<Applied> {
    let mut out = Applied::default();
    // (record, path to check it at)
    let mut verify: Vec<(FileId, PathBuf)> = Vec::new();
    let mut rehash: Vec<(FileId, PathBuf)> = Vec::new();
    let interesting = events.iter().any(|e| match e {
        FsEvent::Renamed { from, to, .. } => under_any(from, roots) || under_any(to, roots),
        FsEvent::Removed { path, .. } | FsEvent::Created { path, .. } | FsEvent::Written { path } => {
            under_any(path, roots)
        }
        FsEvent::Rescan { .. } => true,
    });
    if !interesting {
        return Ok(out);
    }
    index.write(|tx| {
        for e in events {
            match e {
                FsEvent::Rescan { scope: Some(p) } => {
                    out.rescan.insert(p.clone());
                }
                FsEvent::Rescan { scope: None } => out.rescan_all = true,
                FsEvent::Renamed { from, to, dir } => {
                    let (fin, tin) = (under_any(from, roots), under_any(to, roots));
                    if !fin && !tin {
                        continue;
                    }
                    if !tin {
                        out.missing += gone(tx, from, *dir)?;
                        continue;
                    }
                    if !fin {
                        // Moved in from outside the roots: nothing of ours, unless it is a
                        // missing file coming back.
                        if *dir {
                            out.rescan.insert(to.clone());
                        } else {
                            out.unindexed.push(to.clone());
                        }
                        continue;
                    }
                    if *dir {
                        out.moved += move_dir(tx, from, to, &mut out.missing)?;
                        continue;
                    }
                    let moving = files::live_by_path(tx, from)?;
                    let target = files::live_by_path(tx, to)?;
                    match (moving, target) {
                        (Some(r), target) => {
                            if let Some(x) = target.filter(|x| x.id != r.id) {
                                files::set_state(tx, x.id, FileState::Missing)?;
                                out.missing += 1;
                            }
                            files::set_path(tx, r.id, to)?;
                            out.moved += 1;
                            verify.push((r.id, to.clone()));
                        }
                        // Atomic save: a temp file renamed over an indexed path.
                        (None, Some(x)) => rehash.push((x.id, to.clone())),
                        (None, None) => {
                            // Unknown source: maybe a directory whose events we never saw.
                            if !files::under(tx, from)?.is_empty() {
                                out.moved += move_dir(tx, from, to, &mut out.missing)?;
                            }
                        }
                    }
                }
                FsEvent::Removed { path, dir } => {
                    if under_any(path, roots) {
                        out.missing += gone(tx, path, *dir)?;
                    }
                }
                FsEvent::Written { path } => {
                    if under_any(path, roots) {
                        match files::live_by_path(tx, path)? {
                            Some(r) => rehash.push((r.id, path.clone())),
                            None => out.unindexed.push(path.clone()),
                        }
                    }
                }
                FsEvent::Created { path, dir } => {
                    if !under_any(path, roots) {
                        continue;
                    }
                    if *dir {
                        // Records under a new directory mean we missed a move into it.
                        if !files::under(tx, path)?.is_empty() {
                            out.rescan.insert(path.clone());
                        }
                    } else if let Some(r) = files::live_by_path(tx, path)? {
                        verify.push((r.id, path.clone()));
                    } else if let Some(m) = files::missing_by_path(tx, path)?.first() {
                        // A missing file may be back: compare content after the commit.
                        rehash.push((m.id, path.clone()));
                    }
                }
            }
        }
        Ok(())
    })?;

    // A write reported before the rename that brought a record to its path (events from
    // different batches, or reordered): the record is there now, so check it.
    let mut still_unindexed = Vec::new();
    for p in std::mem::take(&mut out.unindexed) {
        match files::live_by_path(index.conn(), &p)? {
            Some(r) => verify.push((r.id, p)),
            None => still_unindexed.push(p),
        }
    }
    out.unindexed = still_unindexed;
    // Check moved records against the disk: the inode at the new path must be theirs.
    for (id, path) in verify {
        let rec = files::by_id(index.conn(), id)?;
        let disk = std::fs::symlink_metadata(&path).ok().filter(|m| m.is_file()).map(|m| Stat::from_metadata(&m));
        match (rec, disk) {
            // Same inode: re-hash only if it changed meanwhile.
            (Some(r), Some(st))
                if r.path == path && (st.device, st.inode) == (r.stat.device, r.stat.inode) && st == r.stat => {}
            // Changed, or another inode (an event we missed replaced it): the disk decides.
            (Some(r), Some(_)) if r.path == path => rehash.push((id, path)),
            (Some(_), None) => {
                out.rescan.insert(parent(&path));
            }
            _ => {}
        }
    }
    rehash.sort();
    rehash.dedup();
    let hashed: Vec<(FileId, PathBuf, Result<crate::model::Observation>)> = rehash
        .into_par_iter()
        .map(|(id, p)| {
            let o = hash_file(&p);
            (id, p, o)
        })
        .collect();
    if hashed.is_empty() {
        return Ok(out);
    }
    let now = now_unix();
    let mut rescan = Vec::new();
    let n = index.write(|tx| {
        let mut n = 0;
        for (id, p, o) in &hashed {
            let Ok(o) = o else {
                rescan.push(parent(p));
                continue;
            };
            let Some(r) = files::by_id(tx, *id)? else { continue };
            if r.path != *p {
                continue;
            }
            if r.state == FileState::Missing {
                // Revive only the same content, and only if nothing else lives there now.
                if o.hash != r.hash || files::live_by_path(tx, p)?.is_some() {
                    continue;
                }
            }
            files::update_observation(tx, *id, o, now)?;
            n += 1;
        }
        Ok(n)
    })?;
    out.rehashed += n;
    out.rescan.extend(rescan);
    Ok(out)
}

/// Matches unindexed files that appeared under the roots against missing records of the
/// same size and content: a file moved across filesystems is copied and then deleted, so it
/// shows up as a new file while its record goes missing. Exactly one missing record with
/// equal content is certain and takes the new path (tags kept); several are left alone.
/// Costs an indexed lookup per file, and a hash only when a missing record has its size.
pub fn rematch(index: &mut Index, candidates: &[PathBuf]) -> Result<usize> {
    if files::count_missing(index.conn())? == 0 {
        return Ok(0);
    }
    let mut work: Vec<(PathBuf, Vec<FileId>)> = Vec::new();
    for p in candidates {
        let Ok(m) = std::fs::symlink_metadata(p) else { continue };
        if !m.is_file() || files::live_by_path(index.conn(), p)?.is_some() {
            continue;
        }
        let waiting = files::missing_by_size(index.conn(), m.len())?;
        if !waiting.is_empty() {
            work.push((p.clone(), waiting.iter().map(|r| r.id).collect()));
        }
    }
    if work.is_empty() {
        return Ok(0);
    }
    let hashed: Vec<(PathBuf, Vec<FileId>, Result<crate::model::Observation>)> = work
        .into_par_iter()
        .map(|(p, ids)| {
            let o = hash_file(&p);
            (p, ids, o)
        })
        .collect();
    let now = now_unix();
    index.write(|tx| {
        let mut n = 0;
        for (p, ids, o) in &hashed {
            let Ok(o) = o else { continue };
            let mut same = Vec::new();
            for id in ids {
                if let Some(r) = files::by_id(tx, *id)?
                    && r.state == FileState::Missing
                    && r.hash == o.hash
                {
                    same.push(r.id);
                }
            }
            if let [one] = same.as_slice()
                && files::live_by_path(tx, p)?.is_none()
            {
                files::set_path(tx, *one, p)?;
                files::update_observation(tx, *one, o, now)?;
                n += 1;
            }
        }
        Ok(n)
    })
}

/// Marks the record at `path` (or every live record under it) missing.
fn gone(tx: &rusqlite::Connection, path: &Path, dir: bool) -> Result<usize> {
    let mut n = 0;
    if let Some(r) = files::live_by_path(tx, path)? {
        files::set_state(tx, r.id, FileState::Missing)?;
        n += 1;
    }
    if dir {
        for r in files::under(tx, path)? {
            if r.state == FileState::Present {
                files::set_state(tx, r.id, FileState::Missing)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Re-roots every record under `from` at `to`. Live records already under `to` that are
/// not moving are stale (their files were replaced): they become missing.
fn move_dir(tx: &rusqlite::Connection, from: &Path, to: &Path, missing: &mut usize) -> Result<usize> {
    let moving = files::under(tx, from)?;
    if moving.is_empty() {
        return Ok(0);
    }
    for r in files::under(tx, to)? {
        if r.state != FileState::Missing {
            files::set_state(tx, r.id, FileState::Missing)?;
            *missing += 1;
        }
    }
    files::park(tx, moving.iter().map(|r| r.id))?;
    for r in &moving {
        if let Some(new) = rebase(&r.path, from, to) {
            if r.state != FileState::Missing
                && let Some(x) = files::live_by_path(tx, &new)?
            {
                files::set_state(tx, x.id, FileState::Missing)?;
            }
            files::set_path(tx, r.id, &new)?;
        }
    }
    Ok(moving.len())
}
