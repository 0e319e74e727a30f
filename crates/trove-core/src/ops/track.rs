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
//! - At the end of a batch the identity rules of [`crate::ops::identity`] settle what the
//!   events alone got wrong: a record that left a path (renamed away, deleted) whose path
//!   holds an unindexed regular file again goes back to it, re-hashed — vim's save, backups
//!   by rename, `git checkout`, `tar -x`, `rm f; write f`. Within one batch any rename
//!   counts; across batches (a [`Memory`] keeps a few seconds) only deletions and
//!   backup-like renames do. A file renamed into place from an unindexed temp name is a
//!   candidate for [`rematch`] (copy, then delete).
//! - Every moved record is checked against the disk afterwards (same inode at the new
//!   path?). Anything that does not add up — merged or reordered events, lost events — asks
//!   for a reconcile of the directories involved instead of guessing.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::filter::Filter;
use crate::hash::hash_file;
use crate::model::{FileId, FileState, Stat, now_unix};
use crate::ops::disk::{another_records_file, compare, overwritten, revives, unique};
use crate::ops::identity::BackupNames;
use crate::ops::roots::root_of;
use crate::paths::rebase;
use crate::store::{files, roots};
use crate::{Index, Result};

/// One filesystem change, as a watcher reports it (paths absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsEvent {
    /// A rename within one filesystem (both names known).
    Renamed {
        /// The old path.
        from: PathBuf,
        /// The new path.
        to: PathBuf,
        /// Whether a directory was renamed (every record under it follows).
        dir: bool,
    },
    /// A path was unlinked (or renamed to somewhere no watch sees).
    Removed {
        /// The path that is gone.
        path: PathBuf,
        /// Whether it was a directory.
        dir: bool,
    },
    /// A path appeared (created, or renamed in from somewhere no watch sees).
    Created {
        /// The new path.
        path: PathBuf,
        /// Whether it is a directory.
        dir: bool,
    },
    /// Closed after writing.
    Written {
        /// The file written.
        path: PathBuf,
    },
    /// Events were lost or could not be resolved: reconcile this directory (`None`: every
    /// root).
    Rescan {
        /// The directory to reconcile.
        scope: Option<PathBuf>,
    },
}

impl FsEvent {
    /// Whether the event names a path under one of `roots` (a whole-filesystem mark also
    /// reports what happens everywhere else; `trove status` should not show that).
    pub fn touches(&self, roots: &[PathBuf]) -> bool {
        let inside = |p: &std::path::Path| roots.iter().any(|r| p.starts_with(r));
        match self {
            FsEvent::Renamed { from, to, .. } => inside(from) || inside(to),
            FsEvent::Removed { path, .. } | FsEvent::Created { path, .. } | FsEvent::Written { path } => inside(path),
            FsEvent::Rescan { scope: Some(p) } => inside(p),
            FsEvent::Rescan { scope: None } => true,
        }
    }

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
    /// Records whose path changed with a rename.
    pub moved: usize,
    /// Records that became missing.
    pub missing: usize,
    /// Records whose file was written and re-hashed.
    pub rehashed: usize,
    /// Directories to reconcile because something did not add up.
    pub rescan: BTreeSet<PathBuf>,
    /// Reconcile every root.
    pub rescan_all: bool,
    /// Files written or moved in under a root that have no record: a file moved across
    /// filesystems arrives like this (copy, then delete), see [`rematch`].
    pub unindexed: Vec<PathBuf>,
    /// Roots renamed by this batch (old, new): followed, records and all.
    pub roots_moved: Vec<(PathBuf, PathBuf)>,
    /// What the batch decided for records it turned missing or put back on their path, for
    /// the watcher's log (one line each). A `Missing` entry may be settled later by
    /// [`rematch`]; the caller checks the record's state before logging it.
    pub decisions: Vec<Decision>,
}

/// Why a record left its path in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The file was deleted.
    Deleted,
    /// Deleted together with its directory.
    DirectoryDeleted,
    /// Renamed within the roots (only ever settled by path continuity).
    RenamedTo(PathBuf),
    /// Renamed to this path, outside every root (nothing keeps it current there).
    MovedOutOfRoots(PathBuf),
    /// Another file was renamed over it.
    ReplacedBy(PathBuf),
}

/// One decision of the identity rules, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The record became missing.
    Missing {
        /// The record.
        id: FileId,
        /// The path it left.
        path: PathBuf,
        /// Why it left.
        why: Why,
    },
    /// Put back on its path: a new file took the place of the one it left.
    Kept {
        /// The record.
        id: FileId,
        /// The path it stays on.
        path: PathBuf,
        /// Why its file had left it.
        why: Why,
    },
    /// A missing record found again by content elsewhere under the roots.
    MovedByContent {
        /// The record.
        id: FileId,
        /// The path it had.
        from: PathBuf,
        /// Where its content was found.
        to: PathBuf,
    },
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Missing { path, why, .. } => {
                write!(f, "{}: missing, ", path.display())?;
                match why {
                    Why::Deleted => f.write_str("deleted"),
                    Why::DirectoryDeleted => f.write_str("deleted with its directory"),
                    Why::RenamedTo(to) => write!(f, "renamed to {}", to.display()),
                    Why::MovedOutOfRoots(to) => write!(f, "moved out of the roots to {}", to.display()),
                    Why::ReplacedBy(by) => write!(f, "replaced by {} renamed over it", by.display()),
                }
            }
            Decision::Kept { path, why, .. } => {
                write!(
                    f,
                    "{}: kept on its path (changed), a new file was written there after it was ",
                    path.display()
                )?;
                match why {
                    Why::RenamedTo(to) | Why::MovedOutOfRoots(to) => write!(f, "renamed to {}", to.display()),
                    _ => f.write_str("deleted"),
                }
            }
            Decision::MovedByContent { from, to, .. } => {
                write!(f, "{}: moved to {} by content (copied, then deleted)", from.display(), to.display())
            }
        }
    }
}

/// A record that a batch took off `from`.
#[derive(Debug, Clone)]
struct Left {
    id: FileId,
    from: PathBuf,
    why: Why,
    at: Instant,
}

/// What a watcher keeps between batches for the identity rules that span them: records
/// recently deleted or renamed to a backup name, whose path may be written again by the
/// next batch (an editor's save split over two reads of the event queue).
#[derive(Debug)]
pub struct Memory {
    /// The patterns that recognise editors' backup names (`a.txt~`, `.a.txt.swp`, …).
    pub backups: BackupNames,
    /// How long a deletion or a backup rename waits for a new file at the old path.
    pub window: Duration,
    left: Vec<Left>,
}

impl Default for Memory {
    fn default() -> Self {
        Memory::new(BackupNames::default())
    }
}

impl Memory {
    /// An empty memory with the given backup patterns and a 5-second window.
    pub fn new(backups: BackupNames) -> Self {
        Memory { backups, window: Duration::from_secs(5), left: Vec::new() }
    }

    /// Whether a record that left in an earlier batch may still come back to its path.
    fn keeps(&self, l: &Left) -> bool {
        match &l.why {
            Why::Deleted | Why::DirectoryDeleted => true,
            Why::RenamedTo(to) => self.backups.is_backup_of(&l.from, to),
            Why::MovedOutOfRoots(_) | Why::ReplacedBy(_) => false,
        }
    }
}

/// The most records a memory holds (a `rm -rf` of a huge tree only needs the newest).
const MEMORY_CAP: usize = 50_000;

fn under_any(p: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| p.starts_with(r))
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Applies `events` in order. `roots` limits what is looked at: events outside every root
/// cost a prefix comparison and nothing else.
pub fn apply(index: &mut Index, events: &[FsEvent], roots: &[PathBuf]) -> Result<Applied> {
    apply_with(index, events, roots, &mut Memory::default())
}

/// [`apply`] with the memory a watcher keeps between batches.
pub fn apply_with(index: &mut Index, events: &[FsEvent], roots: &[PathBuf], memory: &mut Memory) -> Result<Applied> {
    let mut out = Applied::default();
    let mut left: Vec<Left> = Vec::new();
    let now_i = Instant::now();
    let mut leave =
        |id: FileId, from: &Path, why: Why| left.push(Left { id, from: from.to_path_buf(), why, at: now_i });
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
    // Roots renamed in this batch are followed by the events after it.
    let mut roots = roots.to_vec();
    index.write(|tx| {
        for e in events {
            match e {
                FsEvent::Rescan { scope: Some(p) } => {
                    out.rescan.insert(p.clone());
                }
                FsEvent::Rescan { scope: None } => out.rescan_all = true,
                FsEvent::Renamed { from, to, dir } => {
                    if *dir && roots.iter().any(|r| r.starts_with(from)) {
                        // A root (or a directory holding one) was renamed: the root follows,
                        // and every record under the old name with it.
                        crate::store::roots::rebase(tx, from, to)?;
                        for r in &mut roots {
                            if let Some(n) = rebase(r, from, to) {
                                *r = n;
                            }
                        }
                        out.roots_moved.push((from.clone(), to.clone()));
                        out.moved += move_dir(tx, from, to, &mut out.missing)?;
                        continue;
                    }
                    let (fin, tin) = (under_any(from, &roots), under_any(to, &roots));
                    if !fin && !tin {
                        continue;
                    }
                    if !tin {
                        for (id, p) in gone(tx, from, *dir)? {
                            out.missing += 1;
                            leave(id, &p, Why::MovedOutOfRoots(to.clone()));
                        }
                        continue;
                    }
                    if !fin {
                        // Moved in from outside the roots. Records at the old path (indexed
                        // outside every root) move with it: the event says exactly where.
                        // Anything else is new, and its files are candidates for `rematch`
                        // (a move out of the roots and back under a new name) and for
                        // auto-include, in this batch.
                        if *dir {
                            let n = move_dir(tx, from, to, &mut out.missing)?;
                            out.moved += n;
                            if n == 0 {
                                arrivals(to, &mut out);
                            }
                        } else if let Some(r) = files::live_by_path(tx, from)? {
                            if let Some(x) = overwritten(files::live_by_path(tx, to)?.as_ref(), |id| id == r.id) {
                                files::set_state(tx, x, FileState::Missing)?;
                                out.missing += 1;
                                leave(x, to, Why::ReplacedBy(from.clone()));
                            }
                            files::set_path(tx, r.id, to)?;
                            out.moved += 1;
                            verify.push((r.id, to.clone()));
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
                            if let Some(x) = overwritten(target.as_ref(), |id| id == r.id) {
                                files::set_state(tx, x, FileState::Missing)?;
                                out.missing += 1;
                                leave(x, to, Why::ReplacedBy(from.clone()));
                            }
                            files::set_path(tx, r.id, to)?;
                            leave(r.id, from, Why::RenamedTo(to.clone()));
                            out.moved += 1;
                            verify.push((r.id, to.clone()));
                        }
                        // Atomic save: a temp file renamed over an indexed path.
                        (None, Some(x)) => rehash.push((x.id, to.clone())),
                        (None, None) => {
                            // Unknown source: maybe a directory whose events we never saw.
                            if !files::under(tx, from)?.is_empty() {
                                out.moved += move_dir(tx, from, to, &mut out.missing)?;
                            } else {
                                // A file renamed into place from an unindexed temp name: a
                                // copy finishing (copy, then delete), or a save whose old
                                // version was renamed to a backup.
                                out.unindexed.push(to.clone());
                            }
                        }
                    }
                }
                FsEvent::Removed { path, dir } => {
                    if under_any(path, &roots) {
                        for (id, p) in gone(tx, path, *dir)? {
                            out.missing += 1;
                            leave(id, &p, if p == *path { Why::Deleted } else { Why::DirectoryDeleted });
                        }
                    }
                }
                FsEvent::Written { path } => {
                    if under_any(path, &roots) {
                        match files::live_by_path(tx, path)? {
                            Some(r) => rehash.push((r.id, path.clone())),
                            None => out.unindexed.push(path.clone()),
                        }
                    }
                }
                FsEvent::Created { path, dir } => {
                    if !under_any(path, &roots) {
                        continue;
                    }
                    if *dir {
                        // Records under a new directory mean we missed a move into it.
                        if !files::under(tx, path)?.is_empty() {
                            out.rescan.insert(path.clone());
                        } else {
                            // A directory that arrives with files (moved in from outside
                            // the roots, where no watch saw it): they are new here.
                            arrivals(path, &mut out);
                        }
                    } else if let Some(r) = files::live_by_path(tx, path)? {
                        verify.push((r.id, path.clone()));
                    } else if let Some(m) = files::missing_by_path(tx, path)?.first() {
                        // A missing file may be back: compare content after the commit.
                        rehash.push((m.id, path.clone()));
                    } else {
                        out.unindexed.push(path.clone());
                    }
                }
            }
        }
        Ok(())
    })?;

    // Paths a file appeared at in this batch: only those can bring back a record that left
    // in an earlier one (so a large deletion remembered for a few seconds costs nothing).
    let appeared: HashSet<&Path> = events
        .iter()
        .filter_map(|e| match e {
            FsEvent::Created { path, dir: false } | FsEvent::Written { path } => Some(path.as_path()),
            FsEvent::Renamed { to, dir: false, .. } => Some(to.as_path()),
            _ => None,
        })
        .collect();
    let settled = continuity(index, memory, left, &appeared, &mut out)?;
    // Those were hashed at the end of the batch already: no second read.
    rehash.retain(|(id, _)| !settled.contains(id));

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
            (Some(r), Some(st)) if r.path == path && !compare(&r.stat, &st).needs_hash() => {}
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
                if !revives(&r, o) || files::live_by_path(tx, p)?.is_some() {
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
/// Returns one [`Decision::MovedByContent`] per record found.
///
/// A candidate already indexed by auto-include (untagged, in no pool: see [`auto_include`])
/// is merged the same way: the missing record takes its path and the bare record goes, so the
/// tags follow the file whichever of the copy and the delete was seen first.
pub fn rematch(index: &mut Index, candidates: &[PathBuf]) -> Result<Vec<Decision>> {
    if files::count_missing(index.conn())? == 0 {
        return Ok(Vec::new());
    }
    let mut work: Vec<(PathBuf, Vec<FileId>)> = Vec::new();
    for p in candidates {
        let Ok(m) = std::fs::symlink_metadata(p) else { continue };
        if !m.is_file() {
            continue;
        }
        if let Some(r) = files::live_by_path(index.conn(), p)?
            && !files::is_bare(index.conn(), r.id)?
        {
            continue;
        }
        let waiting = files::missing_by_size(index.conn(), m.len())?;
        if !waiting.is_empty() {
            work.push((p.clone(), waiting.iter().map(|r| r.id).collect()));
        }
    }
    if work.is_empty() {
        return Ok(Vec::new());
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
        let mut moved = Vec::new();
        for (p, ids, o) in &hashed {
            let Ok(o) = o else { continue };
            let mut same = Vec::new();
            for id in ids {
                if let Some(r) = files::by_id(tx, *id)?
                    && r.state == FileState::Missing
                    && revives(&r, o)
                {
                    same.push(r);
                }
            }
            let occupant = files::live_by_path(tx, p)?;
            if let Some(one) = unique(&same)
                && occupant.as_ref().is_none_or(|r| r.hash == o.hash && files::is_bare(tx, r.id).unwrap_or(false))
            {
                if let Some(r) = occupant {
                    files::delete(tx, r.id)?;
                }
                files::set_path(tx, one.id, p)?;
                files::update_observation(tx, one.id, o, now)?;
                moved.push(Decision::MovedByContent { id: one.id, from: one.path.clone(), to: p.clone() });
            }
        }
        Ok(moved)
    })
}

/// Indexes, untagged, the files among `paths` that have no record, sit under a root with
/// auto-include on and are not ignored (nor trove's own files). Returns the paths indexed.
/// A file whose record was indexed outside every root and is gone from there moved in: that
/// record takes the new path (see [`adopt_or_insert`]). A file that turns out to be a
/// missing record's (a move across filesystems whose delete comes later) is merged into
/// that record by [`rematch`].
pub fn auto_include(index: &mut Index, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let list = roots::list(index.conn())?;
    if !list.iter().any(|r| r.auto_include) {
        return Ok(Vec::new());
    }
    let mut filter = Filter::load(index)?;
    let mut keep: Vec<PathBuf> = Vec::new();
    for p in paths {
        let Some(root) = root_of(&list, p) else { continue };
        if !root.auto_include
            || filter.skip(&root.path, p, false)
            || !std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
            || files::live_by_path(index.conn(), p)?.is_some()
        {
            continue;
        }
        keep.push(p.clone());
    }
    keep.sort();
    keep.dedup();
    let hashed: Vec<(PathBuf, Result<crate::model::Observation>)> = keep
        .into_par_iter()
        .map(|p| {
            let o = hash_file(&p);
            (p, o)
        })
        .collect();
    if hashed.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_unix();
    index.write(|tx| {
        let mut added = Vec::new();
        for (p, o) in &hashed {
            let Ok(o) = o else { continue };
            if files::live_by_path(tx, p)?.is_some() {
                continue;
            }
            if let Some(m) = files::missing_by_path(tx, p)?.into_iter().find(|m| revives(m, o)) {
                files::update_observation(tx, m.id, o, now)?;
                continue;
            }
            if adopt_or_insert(tx, &list, p, o, now)? {
                added.push(p.clone());
            }
        }
        Ok(added)
    })
}

/// Stores a new file under a root: a present record indexed outside every root whose file
/// is gone from its path and whose content this is (exactly one) moved here and takes the
/// path, tags kept; otherwise a new record. True when a new record was made.
pub(crate) fn adopt_or_insert(
    tx: &crate::store::WriteTx<'_>,
    roots: &[crate::store::roots::Root],
    path: &Path,
    o: &crate::model::Observation,
    now: i64,
) -> Result<bool> {
    if let Some(one) = unique(&strays(tx, roots, &o.hash)?) {
        files::set_path(tx, one.id, path)?;
        files::update_observation(tx, one.id, o, now)?;
        return Ok(false);
    }
    files::insert(tx, path, o, now)?;
    Ok(true)
}

/// Records a new file under a root may have moved from: present records with its content,
/// indexed outside every root, whose file is gone from their path. Only a single one is
/// certain ([`unique`]).
pub(crate) fn strays(
    c: &rusqlite::Connection,
    roots: &[crate::store::roots::Root],
    hash: &crate::Hash,
) -> Result<Vec<crate::FileRecord>> {
    Ok(files::by_hash(c, hash)?
        .into_iter()
        .filter(|r| {
            r.state == FileState::Present
                && root_of(roots, &r.path).is_none()
                && std::fs::symlink_metadata(&r.path).is_err()
        })
        .collect())
}

/// Files in a directory that arrived under a root, as candidates for `rematch` and
/// auto-include; a directory too big to list in a batch is reconciled instead.
fn arrivals(dir: &Path, out: &mut Applied) {
    const MAX: usize = 10_000;
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().flatten() {
        if e.file_type().is_file() {
            if found.len() == MAX {
                out.rescan.insert(dir.to_path_buf());
                return;
            }
            found.push(e.into_path());
        }
    }
    out.unindexed.extend(found);
}

/// Marks the record at `path` (or every live record under it) missing; returns them.
fn gone(tx: &crate::store::WriteTx<'_>, path: &Path, dir: bool) -> Result<Vec<(FileId, PathBuf)>> {
    let mut out = Vec::new();
    if let Some(r) = files::live_by_path(tx, path)? {
        files::set_state(tx, r.id, FileState::Missing)?;
        out.push((r.id, r.path));
    }
    if dir {
        for r in files::under(tx, path)? {
            if r.state == FileState::Present {
                files::set_state(tx, r.id, FileState::Missing)?;
                out.push((r.id, r.path));
            }
        }
    }
    Ok(out)
}

/// Path continuity at the end of a batch: a record that left a path — in this batch by any
/// rename or deletion, in a recent one by a deletion or a backup-like rename — goes back to
/// it, re-hashed, when the path holds an unindexed regular file again. Not when that file is
/// provably another record's (same content and inode): the disk is ahead of the events (a
/// swap whose next rename is in a later batch), and those events will settle it.
/// What this batch turned missing and did not put back is reported in `out.decisions`.
/// Returns the records put back (already re-hashed).
fn continuity(
    index: &mut Index,
    memory: &mut Memory,
    left: Vec<Left>,
    appeared: &HashSet<&Path>,
    out: &mut Applied,
) -> Result<HashSet<FileId>> {
    let now = Instant::now();
    let window = memory.window;
    memory.left.retain(|l| now.duration_since(l.at) < window);
    let older = std::mem::take(&mut memory.left);
    let fresh = left.len();
    // Newest first: a record renamed twice comes back to the path it left last.
    let mut all: Vec<(Left, bool)> = left.into_iter().rev().map(|l| (l, true)).collect();
    all.extend(older.into_iter().map(|l| (l, false)));

    // Candidates: a regular file at the old path (a stat each), no live record there, the
    // record still where it was left.
    let mut cands: Vec<(usize, FileId, PathBuf)> = Vec::new();
    let mut seen_ids: HashSet<FileId> = HashSet::new();
    let mut seen_paths: HashSet<&Path> = HashSet::new();
    for (i, (l, this_batch)) in all.iter().enumerate() {
        if !(*this_batch || (memory.keeps(l) && appeared.contains(l.from.as_path())))
            || matches!(l.why, Why::ReplacedBy(_))
        {
            continue;
        }
        if seen_ids.contains(&l.id) || seen_paths.contains(l.from.as_path()) {
            continue;
        }
        if !std::fs::symlink_metadata(&l.from).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let c = index.conn();
        if files::live_by_path(c, &l.from)?.is_some() {
            continue;
        }
        let Some(r) = files::by_id(c, l.id)? else { continue };
        let in_place = match &l.why {
            Why::RenamedTo(to) | Why::MovedOutOfRoots(to) => r.path == *to,
            _ => r.path == l.from && r.state == FileState::Missing,
        };
        if in_place {
            seen_ids.insert(l.id);
            seen_paths.insert(l.from.as_path());
            cands.push((i, l.id, l.from.clone()));
        }
    }
    let hashed: Vec<(usize, FileId, PathBuf, Result<crate::model::Observation>)> =
        cands.into_par_iter().map(|(i, id, p)| (i, id, p.clone(), hash_file(&p))).collect();
    let mut settled: HashSet<FileId> = HashSet::new();
    if !hashed.is_empty() {
        let t = now_unix();
        index.write(|tx| {
            for (i, id, from, o) in &hashed {
                let Ok(o) = o else { continue };
                if files::live_by_path(tx, from)?.is_some() {
                    continue;
                }
                // Same content as `q` (found by its hash), so the content agrees.
                let someone_elses = files::by_hash(tx, &o.hash)?
                    .iter()
                    .any(|q| q.path != *from && another_records_file(*id, q, &o.stat, true));
                let Some(r) = files::by_id(tx, *id)? else { continue };
                if someone_elses {
                    continue;
                }
                if r.path != *from {
                    files::set_path(tx, r.id, from)?;
                    if std::fs::symlink_metadata(&r.path).is_ok_and(|m| m.is_file()) {
                        // The backup stays: an unindexed file like any other new one.
                        out.unindexed.push(r.path.clone());
                    }
                }
                files::update_observation(tx, r.id, o, t)?;
                out.rehashed += 1;
                out.missing = out.missing.saturating_sub(usize::from(r.state == FileState::Missing));
                out.decisions.push(Decision::Kept { id: r.id, path: from.clone(), why: all[*i].0.why.clone() });
                settled.insert(r.id);
            }
            Ok(())
        })?;
        // The paths settled here are indexed now.
        out.unindexed.retain(|p| !hashed.iter().any(|(_, id, from, _)| settled.contains(id) && from == p));
    }
    // Records this batch turned missing and did not put back: one decision each.
    let mut reported: HashSet<FileId> = HashSet::new();
    for (l, _) in &all[..fresh] {
        if !matches!(l.why, Why::RenamedTo(_)) && !settled.contains(&l.id) && reported.insert(l.id) {
            out.decisions.push(Decision::Missing { id: l.id, path: l.from.clone(), why: l.why.clone() });
        }
    }
    // Remember what a later batch may still settle.
    memory.left =
        all.into_iter().filter(|(l, _)| !settled.contains(&l.id) && memory.keeps(l)).map(|(l, _)| l).collect();
    memory.left.sort_by_key(|l| std::cmp::Reverse(l.at));
    memory.left.truncate(MEMORY_CAP);
    Ok(settled)
}

/// Re-roots every record under `from` at `to`. Live records already under `to` that are
/// not moving are stale (their files were replaced): they become missing.
pub(crate) fn move_dir(tx: &crate::store::WriteTx<'_>, from: &Path, to: &Path, missing: &mut usize) -> Result<usize> {
    let moving = files::under(tx, from)?;
    if moving.is_empty() {
        return Ok(0);
    }
    let ids: HashSet<FileId> = moving.iter().map(|r| r.id).collect();
    // Files under the target directory were overwritten by the move.
    for r in files::under(tx, to)? {
        if let Some(x) = overwritten(Some(&r), |id| ids.contains(&id)) {
            files::set_state(tx, x, FileState::Missing)?;
            *missing += 1;
        }
    }
    files::park(tx, moving.iter().map(|r| r.id))?;
    for r in &moving {
        if let Some(new) = rebase(&r.path, from, to) {
            if r.state != FileState::Missing
                && let Some(x) = overwritten(files::live_by_path(tx, &new)?.as_ref(), |id| ids.contains(&id))
            {
                files::set_state(tx, x, FileState::Missing)?;
            }
            files::set_path(tx, r.id, &new)?;
        }
    }
    Ok(moving.len())
}
