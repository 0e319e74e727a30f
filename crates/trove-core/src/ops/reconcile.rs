//! `reconcile`: bring the index up to date with the disk after changes trove did not see.
//!
//! Policy (principle 3: ambiguous matches are reported, never guessed):
//! - A root whose directory is absent or sits on another device than when it was added is
//!   **unmounted**: its present files become *offline* and are not looked at. When it is
//!   back, they become present again and are verified like the rest.
//! - Every regular file under the scanned directories is `stat`ed once; nothing is read for a
//!   file whose size, mtime, device and inode match its record.
//! - Which file a record now is follows the identity rules of [`crate::ops::identity`]:
//!   its own path and inode first (hard links are separate records), then path continuity
//!   (a file at the record's path is the record, re-hashed, unless it is provably another
//!   record's file moved there), then the inode (only where inodes are stable, with size
//!   and fingerprint agreeing, never shared by two vanished records), then content among
//!   unclaimed files of the same size (fingerprint filters, BLAKE3 confirms). Exactly one
//!   candidate for exactly one record is certain; anything else is listed as ambiguous and
//!   the record becomes missing rather than guessed.
//! - A record with no candidate becomes *missing* (tags kept).
//!
//! Phases: **roots** ([`follow_roots`], [`mounts`]), **scan** ([`scan`] fills a [`Disk`],
//! the in-memory model of what is on disk: one stat per file; tests fill one by hand),
//! **locate** and **match** ([`locate`], [`match_content`]: pure decisions over the `Disk`
//! and the records, through the rules of [`crate::ops::disk`]; contents come from a
//! [`Reader`]), **apply** ([`apply`]: one transaction).

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::filter::{Filter, pseudo_fs};
use crate::hash::{fingerprint_file, hash_file};
use crate::model::{FileId, FileRecord, FileState, Observation, Stat, now_unix};
use crate::ops::Progress;
use crate::ops::disk::{
    ContentMatch, InodeMatch, OwnPath, StatMatch, another_records_file, at_own_path, by_content, by_inode, compare,
    inode_match_holds, overwritten, revives, unique, vanished_mid_walk, walk_error,
};
use crate::ops::identity::InodeTrust;
use crate::ops::roots::root_of;
use crate::ops::track::strays;
use crate::paths::from_bytes;
use crate::store::{files, roots};
use crate::{Error, Index, Result};

/// What [`reconcile`] looks at and whether it stores what it finds.
#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    /// Decide and report every action; store nothing.
    pub dry_run: bool,
    /// Directories to reconcile; empty means every root.
    pub scope: Vec<PathBuf>,
}

/// How a moved file was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The same device and inode, with size and fingerprint agreeing.
    Inode,
    /// The same content (fingerprint, then BLAKE3) in a file no record claims.
    Content,
}

/// One decision of a reconcile, in the order made; each is applied unless `dry_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The record's file is now at another path; the record follows it, tags kept.
    Moved {
        /// The record.
        id: FileId,
        /// Its path before.
        from: PathBuf,
        /// Where its file is now.
        to: PathBuf,
        /// How the file was recognised.
        how: MatchKind,
    },
    /// Re-hashed in place (edited, or replaced by an atomic save).
    Changed {
        /// The record.
        id: FileId,
        /// Its path, where the content changed.
        path: PathBuf,
    },
    /// The record's file is gone and nothing else is it: the record becomes missing, tags
    /// kept.
    Missing {
        /// The record.
        id: FileId,
        /// Its path, where nothing is now.
        path: PathBuf,
    },
    /// A missing record's file is back at its path with its content.
    Revived {
        /// The record.
        id: FileId,
        /// Its path, where the file is again.
        path: PathBuf,
    },
    /// The record's file is gone and more than one file could be it: nothing is guessed, the
    /// record becomes missing and the candidates are listed.
    Ambiguous {
        /// The record.
        id: FileId,
        /// Its path, where nothing is now.
        path: PathBuf,
        /// Every file that could be the record's.
        candidates: Vec<PathBuf>,
    },
    /// A new file under a root with auto-include on, indexed untagged.
    Added {
        /// The new file.
        path: PathBuf,
    },
    /// A root renamed on disk (recognised by its files under a sibling name): the root and
    /// every record under it followed.
    RootMoved {
        /// The root's path before.
        from: PathBuf,
        /// Its path now.
        to: PathBuf,
        /// Records that moved with it.
        files: u64,
    },
    /// A root whose directory is gone and could not be found under another name: its
    /// records are marked missing (tags kept) until it is back or moved with `roots mv`.
    RootGone {
        /// The root as recorded.
        root: PathBuf,
    },
    /// A root's filesystem is not mounted (or another one is mounted there): its present
    /// records become offline, untouched otherwise.
    Offline {
        /// The root.
        root: PathBuf,
        /// Records that became offline.
        files: u64,
    },
    /// An unmounted root is back: its offline records become present and are verified.
    Online {
        /// The root.
        root: PathBuf,
        /// Records that became present again.
        files: u64,
    },
}

/// What [`reconcile`] found and did.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    /// Every decision, in the order made.
    pub actions: Vec<Action>,
    /// Regular files seen on disk.
    pub scanned: u64,
    /// Records confirmed with a stat alone.
    pub unchanged: u64,
    /// Paths that could not be examined (unreadable directories, files that vanished
    /// mid-read), each with its reason; the rest was reconciled.
    pub failed: Vec<Error>,
}

/// Whether `root` is mounted as it was when added. A root directory that is gone while its
/// nearest existing ancestor sits on the root's own filesystem was moved or deleted, not
/// unmounted: its files are looked for like any others.
pub fn mounted(r: &roots::Root) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(&r.path) {
        Ok(m) => m.is_dir() && m.dev() == r.device,
        Err(_) => {
            r.path.ancestors().skip(1).find_map(|a| std::fs::metadata(a).ok()).is_some_and(|m| m.dev() == r.device)
        }
    }
}

/// [`mounted`], and also a filesystem plugged back under another device number (a replugged
/// drive, another loop device): the root directory then holds, at their paths, files of the
/// root's records with their size and mtime — a bare mount point does not. The second value
/// is the root's new device, to record, when it changed.
pub(crate) fn mount_state(c: &rusqlite::Connection, r: &roots::Root) -> Result<(bool, Option<u64>)> {
    use std::os::unix::fs::MetadataExt;
    if mounted(r) {
        return Ok((true, None));
    }
    let Ok(m) = std::fs::metadata(&r.path) else { return Ok((false, None)) };
    if !m.is_dir() {
        return Ok((false, None));
    }
    let same = files::under(c, &r.path)?.into_iter().filter(|f| f.state != FileState::Missing).take(5).any(|f| {
        std::fs::symlink_metadata(&f.path)
            .is_ok_and(|fm| fm.len() == f.stat.size && Stat::from_metadata(&fm).mtime_ns == f.stat.mtime_ns)
    });
    Ok(if same { (true, Some(m.dev())) } else { (false, None) })
}

pub use crate::ops::roots::{add_root, remove_root};

/// Drops scope entries that lie under another entry.
fn outermost(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    dirs.sort();
    dirs.dedup();
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if !out.iter().any(|o| d.starts_with(o)) {
            out.push(d);
        }
    }
    out
}

/// What a scan saw: every regular file under the scanned directories. The in-memory model
/// of the disk the decisions run over; tests build one by hand.
pub(crate) struct Disk {
    /// path bytes → stat
    pub(crate) files: HashMap<Vec<u8>, Stat>,
    /// (device, inode) → every path holding it: hard links have several.
    pub(crate) inodes: HashMap<(u64, u64), Vec<Vec<u8>>>,
    /// Which devices number inodes per mount.
    pub(crate) trust: InodeTrust,
}

impl Disk {
    pub(crate) fn new(trust: InodeTrust) -> Self {
        Disk { files: HashMap::new(), inodes: HashMap::new(), trust }
    }

    pub(crate) fn add(&mut self, p: Vec<u8>, st: Stat) {
        self.inodes.entry((st.device, st.inode)).or_default().push(p.clone());
        self.files.insert(p, st);
    }
}

/// Reads file contents for [`decide`]: the real disk, or an in-memory model in tests.
pub(crate) trait Reader: Sync {
    fn fingerprint(&self, path: &[u8]) -> Option<i64>;
    fn observe(&self, path: &[u8]) -> Result<Observation>;
}

struct RealDisk;

impl Reader for RealDisk {
    fn fingerprint(&self, path: &[u8]) -> Option<i64> {
        fingerprint_file(&from_bytes(path)).ok().map(|(_, fp)| fp)
    }
    fn observe(&self, path: &[u8]) -> Result<Observation> {
        hash_file(&from_bytes(path))
    }
}

/// Phase "scan": stats every regular file under `dirs` (each with the root its ignore rules
/// start from) into a [`Disk`].
/// Trove's own files and pseudo filesystems are left out; so are ignored directories, unless
/// records live under them (an ignore pattern added after a directory was indexed must not
/// make its files missing).
fn scan(
    dirs: &[(PathBuf, PathBuf)],
    filter: &mut Filter,
    conn: &rusqlite::Connection,
    report: &mut ReconcileReport,
) -> Disk {
    let mut disk = Disk::new(InodeTrust::from_mounts());
    for (d, top) in dirs {
        if !d.is_dir() {
            continue;
        }
        let walk = walkdir::WalkDir::new(d).follow_links(false).into_iter().filter_entry(|e| {
            let is_dir = e.file_type().is_dir();
            if e.depth() == 0 {
                return true;
            }
            if filter.skip_entry(top, e.path(), is_dir) {
                return is_dir && files::any_under(conn, e.path()).unwrap_or(true);
            }
            !(is_dir && pseudo_fs(e.path()).is_some())
        });
        for entry in walk {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    // A directory vanishing mid-walk is ordinary churn, not a failure.
                    if !vanished_mid_walk(&e) {
                        report.failed.push(walk_error(e, d));
                    }
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(m) = entry.metadata() else { continue };
            let st = Stat::from_metadata(&m);
            let p = entry.into_path().into_os_string().into_vec();
            disk.add(p, st);
        }
    }
    report.scanned = disk.files.len() as u64;
    disk
}

/// One record's plan with the observation it needs written (if any).
pub(crate) type Write = (FileId, Plan, Option<Observation>);

/// Files no record is (or becomes) after `writes`: new, indexed (untagged) when they sit
/// under a root with auto-include on and are not ignored. Candidates of an ambiguous match
/// are left alone with it. Hashed here, outside any transaction.
fn new_files(
    records: &[FileRecord],
    writes: &[Write],
    disk: &Disk,
    all_roots: &[roots::Root],
    index: &Index,
    progress: &dyn Progress,
    report: &mut ReconcileReport,
) -> Result<Vec<(PathBuf, Observation)>> {
    if !all_roots.iter().any(|r| r.auto_include) {
        return Ok(Vec::new());
    }
    let conn = index.conn();
    let mut filter = Filter::load(index)?;
    let plans: HashMap<FileId, &Plan> = writes.iter().map(|(id, p, _)| (*id, p)).collect();
    let mut taken: HashSet<&[u8]> = HashSet::new();
    for r in records {
        match plans.get(&r.id) {
            Some(Plan::Move { to, .. }) => {
                taken.insert(to);
            }
            Some(Plan::Missing) => {}
            Some(Plan::Rehash | Plan::Revive | Plan::Restat) => {
                taken.insert(r.path_bytes());
            }
            None if r.state != FileState::Missing => {
                taken.insert(r.path_bytes());
            }
            None => {}
        }
    }
    let ambiguous: HashSet<PathBuf> = report
        .actions
        .iter()
        .filter_map(|a| if let Action::Ambiguous { candidates, .. } = a { Some(candidates.clone()) } else { None })
        .flatten()
        .collect();
    let mut fresh: Vec<PathBuf> = disk
        .files
        .keys()
        .filter(|p| !taken.contains(p.as_slice()))
        .map(|p| from_bytes(p))
        .filter(|path| {
            !ambiguous.contains(path)
                && root_of(all_roots, path).is_some_and(|r| r.auto_include && !filter.skip(&r.path, path, false))
        })
        .collect();
    fresh.sort();
    progress.begin(super::Phase::HASHING_NEW, Some(fresh.len() as u64));
    let hashed: Vec<(PathBuf, Result<Observation>)> = fresh
        .into_par_iter()
        .map(|p| {
            progress.advance(1);
            let o = hash_file(&p);
            (p, o)
        })
        .collect();
    progress.finish();
    let mut added = Vec::new();
    for (p, o) in hashed {
        match o {
            Ok(o) => {
                // A record indexed outside every root whose file is gone, with this content,
                // moved in (see `track::adopt_or_insert`, which `apply` uses).
                report.actions.push(match unique(&strays(conn, all_roots, &o.hash)?) {
                    Some(one) => {
                        Action::Moved { id: one.id, from: one.path.clone(), to: p.clone(), how: MatchKind::Content }
                    }
                    None => Action::Added { path: p.clone() },
                });
                added.push((p, o));
            }
            // Gone again since the scan: nothing to add.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report.failed.push(e),
        }
    }
    Ok(added)
}

/// What reconcile decided for one record, before writing.
pub(crate) enum Plan {
    Move {
        to: Vec<u8>,
        how: MatchKind,
        rehash: bool,
    },
    Rehash,
    /// Same file, new stat only (inodes renumbered by a remount): nothing read.
    Restat,
    Missing,
    Revive,
}

/// Brings the index up to date with the disk under the roots (or `opts.scope`), in phases:
/// roots (renamed or gone roots followed, mount states), [`scan`] (one `stat` per file into
/// a [`Disk`]), [`locate`] and [`match_content`] (what each record now is, by the rules of
/// [`crate::ops::disk`]), new files, then one transaction to apply it all.
pub fn reconcile(index: &mut Index, opts: &ReconcileOptions, progress: &dyn Progress) -> Result<ReconcileReport> {
    let mut report = ReconcileReport::default();
    let (all_roots, scope) = follow_roots(index, opts, &mut report)?;
    let offline_roots = mounts(index, opts, &all_roots, &scope, &mut report)?;
    let is_offline = |p: &Path| offline_roots.iter().any(|r| p.starts_with(r));
    let scan_dirs: Vec<PathBuf> = scope.iter().filter(|s| !is_offline(s)).cloned().collect();

    let mut filter = Filter::load(index)?;
    let tops: Vec<(PathBuf, PathBuf)> = scan_dirs
        .iter()
        .map(|d| (d.clone(), root_of(&all_roots, d).map_or_else(|| d.clone(), |r| r.path.clone())))
        .collect();
    progress.begin(super::Phase::SCANNING, None);
    let disk = scan(&tops, &mut filter, index.conn(), &mut report);
    progress.finish();

    // Records in scope (offline ones excluded: they are not to be touched).
    let mut records: Vec<FileRecord> = Vec::new();
    for s in &scan_dirs {
        for mut r in files::under(index.conn(), s)? {
            if is_offline(&r.path) {
                continue;
            }
            if r.state == FileState::Offline {
                r.state = FileState::Present;
            }
            records.push(r);
        }
        records.extend(files::all_at(index.conn(), s)?);
    }

    let writes = decide(&records, &disk, &RealDisk, progress, &mut report);
    let added = new_files(&records, &writes, &disk, &all_roots, index, progress, &mut report)?;
    if !opts.dry_run && (!writes.is_empty() || !added.is_empty()) {
        apply(index, &writes, &added)?;
    }
    Ok(report)
}

/// Phase "roots", first half: a root gone from disk (not unmounted) was renamed under a
/// sibling name (followed: the root and its records move) or deleted (reported). Returns
/// the roots as they are now and the directories to reconcile.
fn follow_roots(
    index: &mut Index,
    opts: &ReconcileOptions,
    report: &mut ReconcileReport,
) -> Result<(Vec<roots::Root>, Vec<PathBuf>)> {
    let mut all_roots = roots::list(index.conn())?;
    // A scope given through a symlink means its target: records carry real paths.
    let mut scope_in: Vec<PathBuf> =
        opts.scope.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect();
    let mut moved_any = false;
    for r in all_roots.clone() {
        let in_scope = scope_in.is_empty() || scope_in.iter().any(|s| s.starts_with(&r.path) || r.path.starts_with(s));
        if !in_scope || r.path.exists() || !mounted(&r) {
            continue;
        }
        match crate::ops::roots::find_renamed(index, &r, &all_roots)? {
            Some(to) => {
                let files = if opts.dry_run {
                    files::under(index.conn(), &r.path)?.len()
                } else {
                    crate::ops::roots::move_root(index, &r.path, &to)?.records
                };
                for s in &mut scope_in {
                    if let Some(n) = crate::paths::rebase(s, &r.path, &to) {
                        *s = n;
                    }
                }
                report.actions.push(Action::RootMoved { from: r.path.clone(), to, files: files as u64 });
                moved_any = true;
            }
            None => report.actions.push(Action::RootGone { root: r.path.clone() }),
        }
    }
    if moved_any && !opts.dry_run {
        all_roots = roots::list(index.conn())?;
    }
    let scope =
        if scope_in.is_empty() { all_roots.iter().map(|r| r.path.clone()).collect::<Vec<_>>() } else { scope_in };
    Ok((all_roots, outermost(scope)))
}

/// Phase "roots", second half: the mount state of every root that overlaps the scope. The
/// present files of an unmounted root become offline (not looked at); an offline root's
/// files that are back become present (and are verified like the rest). Returns the roots
/// that are offline.
fn mounts(
    index: &mut Index,
    opts: &ReconcileOptions,
    all_roots: &[roots::Root],
    scope: &[PathBuf],
    report: &mut ReconcileReport,
) -> Result<Vec<PathBuf>> {
    let mut offline_roots: Vec<PathBuf> = Vec::new();
    let mut online_changes: Vec<(PathBuf, Vec<FileId>, FileState)> = Vec::new();
    for r in all_roots {
        if !scope.iter().any(|s| s.starts_with(&r.path) || r.path.starts_with(s)) {
            continue;
        }
        let recs = files::under(index.conn(), &r.path)?;
        let (up, new_device) = mount_state(index.conn(), r)?;
        if let Some(dev) = new_device
            && !opts.dry_run
        {
            index.write(|tx| roots::add(tx, &r.path, dev, now_unix()))?;
        }
        if up {
            let back: Vec<FileId> = recs.iter().filter(|f| f.state == FileState::Offline).map(|f| f.id).collect();
            if !back.is_empty() {
                report.actions.push(Action::Online { root: r.path.clone(), files: back.len() as u64 });
                online_changes.push((r.path.clone(), back, FileState::Present));
            }
        } else {
            let gone: Vec<FileId> = recs.iter().filter(|f| f.state == FileState::Present).map(|f| f.id).collect();
            report.actions.push(Action::Offline { root: r.path.clone(), files: gone.len() as u64 });
            if !gone.is_empty() {
                online_changes.push((r.path.clone(), gone, FileState::Offline));
            }
            offline_roots.push(r.path.clone());
        }
    }
    if !opts.dry_run && !online_changes.is_empty() {
        index.write(|tx| {
            for (_, ids, state) in &online_changes {
                for id in ids {
                    files::set_state(tx, *id, *state)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(offline_roots)
}

/// Decides what every record in scope becomes, by the rules of [`crate::ops::disk`], reading
/// only what it must: a stat-identical record costs nothing, an inode match costs a
/// fingerprint, a content match costs a fingerprint per same-sized candidate and one full
/// hash per fingerprint hit. Three phases: [`locate`] (own path, path continuity, inode),
/// [`match_content`], [`observe`]. Returns the writes in path order and adds their actions
/// to `report`.
pub(crate) fn decide(
    records: &[FileRecord],
    disk: &Disk,
    reader: &dyn Reader,
    progress: &dyn Progress,
    report: &mut ReconcileReport,
) -> Vec<Write> {
    let mut located = locate(records, disk, reader, report);
    match_content(&mut located, disk, reader, progress, report);
    observe(records, located, reader, progress, report)
}

/// What [`locate`] settled, and what it left for [`match_content`].
pub(crate) struct Located<'a> {
    /// Paths on disk some record is (or becomes).
    claimed: HashSet<&'a [u8]>,
    plans: HashMap<FileId, Plan>,
    /// Records found ambiguous: made missing (their path is not on disk), listed with the
    /// candidates, never guessed.
    ambiguous: HashMap<FileId, Vec<PathBuf>>,
    /// Observations known without reading (revived on equal content, renumbered inodes).
    known: HashMap<FileId, Observation>,
    /// Records neither at their path nor found by inode: looked for by content.
    vanished: Vec<&'a FileRecord>,
}

/// Phase "locate": each record at its own path and inode ([`compare`]), then path
/// continuity ([`at_own_path`], [`revives`]), then by inode ([`by_inode`]).
pub(crate) fn locate<'a>(
    records: &'a [FileRecord],
    disk: &'a Disk,
    reader: &dyn Reader,
    report: &mut ReconcileReport,
) -> Located<'a> {
    let mut claimed: HashSet<&[u8]> = HashSet::new();
    let mut plans: HashMap<FileId, Plan> = HashMap::new();
    let mut ambiguous: HashMap<FileId, Vec<PathBuf>> = HashMap::new();

    // 1. Its own path, its own inode: the common case, decided by a stat. Hard links are
    //    separate records, so each one is settled here by its own path.
    let mut rest: Vec<&FileRecord> = Vec::new();
    for r in records {
        match disk.files.get_key_value(r.path_bytes()) {
            Some((p, st)) if r.state == FileState::Present => match compare(&r.stat, st) {
                StatMatch::Same => {
                    claimed.insert(p);
                    report.unchanged += 1;
                }
                StatMatch::Changed => {
                    claimed.insert(p);
                    plans.insert(r.id, Plan::Rehash);
                }
                StatMatch::OtherInode => rest.push(r),
            },
            _ => rest.push(r),
        }
    }

    // Records not at their own inode, by the inode they had (only where inodes mean
    // something), and the fingerprints of every unclaimed path holding one of those inodes.
    let mut owners: HashMap<(u64, u64), Vec<&FileRecord>> = HashMap::new();
    for r in &rest {
        if r.state == FileState::Present && disk.trust.stable(r.stat.device) {
            owners.entry((r.stat.device, r.stat.inode)).or_default().push(r);
        }
    }
    let fp_paths: Vec<&[u8]> = owners
        .keys()
        .filter_map(|k| disk.inodes.get(k))
        .flatten()
        .map(Vec::as_slice)
        .filter(|p| !claimed.contains(p))
        .collect();
    let inode_fps: HashMap<&[u8], i64> =
        fp_paths.par_iter().filter_map(|p| reader.fingerprint(p).map(|fp| (*p, fp))).collect();
    let holds = |r: &FileRecord, p: &[u8]| inode_match_holds(r, &disk.files[p], inode_fps.get(p).copied());

    // 2. Path continuity: a record whose path holds another file stays there (re-hashed),
    //    unless that file is provably another record's, moved onto the path (a swap or a
    //    rename over an indexed file): then this record is looked for elsewhere.
    let mut unplaced: Vec<&FileRecord> = Vec::new();
    let mut to_revive: Vec<(FileId, &[u8])> = Vec::new();
    let mut known: HashMap<FileId, Observation> = HashMap::new();
    for r in rest {
        let own = r.path_bytes();
        let Some((p, st)) = disk.files.get_key_value(own) else {
            unplaced.push(r);
            continue;
        };
        let moved_here = owners
            .get(&(st.device, st.inode))
            .is_some_and(|qs| matches!(qs.as_slice(), [q] if another_records_file(r.id, q, st, holds(q, p))));
        if moved_here || claimed.contains(own) {
            unplaced.push(r);
            continue;
        }
        claimed.insert(p);
        match at_own_path(r, st, disk.trust.stable(st.device)) {
            OwnPath::Restat => {
                report.unchanged += 1;
                plans.insert(r.id, Plan::Restat);
                known.insert(r.id, Observation { stat: *st, hash: r.hash, fingerprint: r.fingerprint, sha256: None });
            }
            OwnPath::Rehash => {
                plans.insert(r.id, Plan::Rehash);
            }
            // Anything else is reported by `check`, and fixed by `check --repair`.
            OwnPath::ReviveIfEqual => to_revive.push((r.id, p)),
        }
    }
    let revive_hashes: HashMap<FileId, Result<Observation>> =
        to_revive.par_iter().map(|(id, p)| (*id, reader.observe(p))).collect();
    let mut vanished: Vec<&FileRecord> = Vec::new();
    for (id, p) in &to_revive {
        let r = records.iter().find(|r| r.id == *id).expect("a record in scope");
        match &revive_hashes[id] {
            Ok(o) if revives(r, o) => {
                plans.insert(r.id, Plan::Revive);
                known.insert(r.id, *o);
            }
            _ => {
                // Different content: that file is someone else's; keep looking for ours.
                claimed.remove(p);
                vanished.push(r);
            }
        }
    }

    // 3. By inode, where the old path is gone or holds another record's file.
    for r in unplaced {
        let key = (r.stat.device, r.stat.inode);
        if let Some(sharing) = owners.get(&key).filter(|_| r.state == FileState::Present) {
            let cands: Vec<&[u8]> = disk
                .inodes
                .get(&key)
                .into_iter()
                .flatten()
                .map(Vec::as_slice)
                .filter(|p| !claimed.contains(p))
                .collect();
            match by_inode(sharing.len(), &cands, |p| holds(r, p)) {
                InodeMatch::Moved(p) => {
                    claimed.insert(p);
                    let rehash = disk.files[p].mtime_ns != r.stat.mtime_ns;
                    plans.insert(r.id, Plan::Move { to: p.to_vec(), how: MatchKind::Inode, rehash });
                    continue;
                }
                InodeMatch::Ambiguous(cands) => {
                    ambiguous.insert(r.id, cands.iter().map(|p| from_bytes(p)).collect());
                    plans.insert(r.id, Plan::Missing);
                    continue;
                }
                InodeMatch::Unsettled => {}
            }
        }
        vanished.push(r);
    }
    Located { claimed, plans, ambiguous, known, vanished }
}

/// Phase "match": the records [`locate`] left are looked for among unclaimed files of the
/// same size (fingerprint filters, BLAKE3 confirms) and settled by [`by_content`].
pub(crate) fn match_content(
    located: &mut Located<'_>,
    disk: &Disk,
    reader: &dyn Reader,
    progress: &dyn Progress,
    report: &mut ReconcileReport,
) {
    let Located { claimed, plans, ambiguous, vanished, .. } = located;
    let mut by_size: HashMap<u64, Vec<&[u8]>> = HashMap::new();
    for (p, st) in &disk.files {
        if !claimed.contains(p.as_slice()) {
            by_size.entry(st.size).or_default().push(p);
        }
    }
    let wanted_sizes: HashSet<u64> = vanished.iter().map(|r| r.stat.size).collect();
    let candidates: Vec<&[u8]> =
        by_size.iter().filter(|(s, _)| wanted_sizes.contains(s)).flat_map(|(_, v)| v.iter().copied()).collect();
    progress.begin(super::Phase::MATCHING, Some(candidates.len() as u64));
    let fps: HashMap<&[u8], i64> = candidates
        .par_iter()
        .filter_map(|p| {
            progress.advance(1);
            reader.fingerprint(p).map(|fp| (*p, fp))
        })
        .collect();
    // Which candidates need a full hash: those whose fingerprint equals some vanished record's.
    let wanted_fp: HashSet<(u64, i64)> = vanished.iter().map(|r| (r.stat.size, r.fingerprint)).collect();
    let need_hash: Vec<&[u8]> = candidates
        .iter()
        .copied()
        .filter(|p| fps.get(p).is_some_and(|fp| wanted_fp.contains(&(disk.files[*p].size, *fp))))
        .collect();
    let hashes: HashMap<&[u8], crate::Hash> =
        need_hash.par_iter().filter_map(|p| reader.observe(p).ok().map(|o| (*p, o.hash))).collect();
    progress.finish();
    let mut vanished_per_hash: HashMap<crate::Hash, usize> = HashMap::new();
    for r in vanished.iter() {
        *vanished_per_hash.entry(r.hash).or_default() += 1;
    }
    for r in vanished.iter() {
        let mut found: Vec<&[u8]> = by_size
            .get(&r.stat.size)
            .map(|v| v.iter().copied().filter(|p| hashes.get(p) == Some(&r.hash)).collect())
            .unwrap_or_default();
        found.sort();
        match by_content(found, vanished_per_hash[&r.hash]) {
            ContentMatch::Moved(one) => {
                plans.insert(r.id, Plan::Move { to: one.to_vec(), how: MatchKind::Content, rehash: true });
            }
            ContentMatch::Gone => {
                if r.state == FileState::Present {
                    plans.insert(r.id, Plan::Missing);
                }
            }
            ContentMatch::Ambiguous(many) => {
                let candidates: Vec<PathBuf> = many.iter().map(|p| from_bytes(p)).collect();
                if r.state == FileState::Present {
                    ambiguous.insert(r.id, candidates);
                    plans.insert(r.id, Plan::Missing);
                } else {
                    report.actions.push(Action::Ambiguous { id: r.id, path: r.path.clone(), candidates });
                }
            }
        }
    }
}

/// Last phase of [`decide`]: the observations every plan needs, read outside any
/// transaction, and one action per plan.
fn observe(
    records: &[FileRecord],
    located: Located<'_>,
    reader: &dyn Reader,
    progress: &dyn Progress,
    report: &mut ReconcileReport,
) -> Vec<Write> {
    let Located { plans, mut ambiguous, known, .. } = located;
    let by_id: HashMap<FileId, &FileRecord> = records.iter().map(|r| (r.id, r)).collect();
    let needs_obs: Vec<(FileId, &[u8])> = plans
        .iter()
        .filter_map(|(id, p)| match p {
            Plan::Rehash => Some((*id, by_id[id].path_bytes())),
            Plan::Move { to, rehash: true, .. } => Some((*id, to.as_slice())),
            _ => None,
        })
        .collect();
    progress.begin(super::Phase::HASHING_FILES, Some(needs_obs.len() as u64));
    let mut obs: HashMap<FileId, Result<Observation>> = needs_obs
        .par_iter()
        .map(|(id, p)| {
            progress.advance(1);
            (*id, reader.observe(p))
        })
        .collect();
    progress.finish();
    obs.extend(known.into_iter().map(|(id, o)| (id, Ok(o))));

    let mut ordered: Vec<(FileId, Plan)> = plans.into_iter().collect();
    ordered.sort_by(|a, b| by_id[&a.0].path.cmp(&by_id[&b.0].path).then(a.0.cmp(&b.0)));
    let mut writes: Vec<Write> = Vec::new();
    for (id, plan) in ordered {
        let o = match obs.remove(&id) {
            Some(Ok(o)) => Some(o),
            Some(Err(e)) => {
                report.failed.push(e);
                continue;
            }
            None => None,
        };
        let r = by_id[&id];
        let action = match (&plan, ambiguous.remove(&id)) {
            (Plan::Missing, Some(candidates)) => Some(Action::Ambiguous { id, path: r.path.clone(), candidates }),
            (Plan::Move { to, how, .. }, _) => {
                Some(Action::Moved { id, from: r.path.clone(), to: from_bytes(to), how: *how })
            }
            (Plan::Rehash, _) => Some(Action::Changed { id, path: r.path.clone() }),
            (Plan::Missing, None) => Some(Action::Missing { id, path: r.path.clone() }),
            (Plan::Revive, _) => Some(Action::Revived { id, path: r.path.clone() }),
            // Counted as unchanged: the file is the same, only its inode number is new.
            (Plan::Restat, _) => None,
        };
        report.actions.extend(action);
        writes.push((id, plan, o));
    }
    writes
}

/// Phase "apply": writes the plans in one transaction: missing marks first (freeing live paths), then
/// every move parked on a unique placeholder, then moved to its final path — so swaps and
/// chains of renames never trip the one-live-record-per-path index.
fn apply(index: &mut Index, writes: &[Write], added: &[(PathBuf, Observation)]) -> Result<()> {
    let now = now_unix();
    index.write(|tx| {
        for (id, plan, _) in writes {
            if matches!(plan, Plan::Missing) {
                files::set_state(tx, *id, FileState::Missing)?;
            }
        }
        files::park(tx, writes.iter().filter(|w| matches!(w.1, Plan::Move { .. })).map(|w| w.0))?;
        for (id, plan, o) in writes {
            match plan {
                Plan::Move { to, .. } => {
                    let to = from_bytes(to);
                    // A live record still sitting on the target (not part of this plan) was
                    // overwritten: it becomes missing, tags kept.
                    if let Some(other) = overwritten(files::live_by_path(tx, &to)?.as_ref(), |o| o == *id) {
                        files::set_state(tx, other, FileState::Missing)?;
                    }
                    files::set_path(tx, *id, &to)?;
                    if let Some(o) = o {
                        files::update_observation(tx, *id, o, now)?;
                    }
                }
                Plan::Rehash | Plan::Revive | Plan::Restat => {
                    if let Some(o) = o {
                        files::update_observation(tx, *id, o, now)?;
                    }
                }
                Plan::Missing => {}
            }
        }
        // New files last: every path the moves freed is free by now.
        let list = roots::list(tx)?;
        for (p, o) in added {
            if files::live_by_path(tx, p)?.is_none() {
                crate::ops::track::adopt_or_insert(tx, &list, p, o, now)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests_support {
    //! The identity rules against an in-memory disk model: inode numbers are whatever the
    //! test says, so a remount that renumbers them, or a freed inode handed to a new file,
    //! can be staged exactly.

    use super::*;
    use crate::hash::{fingerprint_bytes, hash_bytes};
    use crate::ops::NoProgress;

    /// An in-memory disk: path → (stat, content).
    #[derive(Default)]
    pub(super) struct Model {
        pub(super) files: HashMap<Vec<u8>, (Stat, Vec<u8>)>,
        /// Full reads (hashes) asked for.
        pub(super) reads: std::sync::atomic::AtomicUsize,
    }

    impl Model {
        pub(super) fn put(&mut self, path: &str, device: u64, inode: u64, content: &[u8]) {
            self.put_mtime(path, device, inode, 1000 + inode as i64, content);
        }
        pub(super) fn put_mtime(&mut self, path: &str, device: u64, inode: u64, mtime_ns: i64, content: &[u8]) {
            let st = Stat { size: content.len() as u64, mtime_ns, device, inode };
            self.files.insert(path.as_bytes().to_vec(), (st, content.to_vec()));
        }
        pub(super) fn content(&self, path: &str) -> Vec<u8> {
            self.files[path.as_bytes()].1.clone()
        }
        pub(super) fn disk(&self, trust: InodeTrust) -> Disk {
            let mut d = Disk::new(trust);
            for (p, (st, _)) in &self.files {
                d.add(p.clone(), *st);
            }
            d
        }
        /// A record as `include` would have stored it for the file at `path` now.
        pub(super) fn record(&self, id: i64, path: &str) -> FileRecord {
            let (st, c) = &self.files[path.as_bytes()];
            FileRecord {
                id: FileId(id),
                path: path.into(),
                stat: *st,
                hash: hash_bytes(c),
                fingerprint: fingerprint_bytes(c),
                state: FileState::Present,
                added_at: 0,
                verified_at: 0,
            }
        }
    }

    impl Reader for Model {
        fn fingerprint(&self, path: &[u8]) -> Option<i64> {
            self.files.get(path).map(|(_, c)| fingerprint_bytes(c))
        }
        fn observe(&self, path: &[u8]) -> Result<Observation> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (st, c) = self.files.get(path).ok_or_else(|| Error::NoSuchFile(crate::paths::from_bytes(path)))?;
            Ok(Observation {
                stat: *st,
                hash: hash_bytes(c),
                fingerprint: fingerprint_bytes(c),
                sha256: Some(crate::hash::sha256_bytes(c)),
            })
        }
    }

    pub(super) fn run(m: &Model, trust: InodeTrust, records: &[FileRecord]) -> Vec<Action> {
        run_writes(m, trust, records).0
    }

    pub(super) fn run_writes(m: &Model, trust: InodeTrust, records: &[FileRecord]) -> (Vec<Action>, Vec<Write>) {
        let mut report = ReconcileReport::default();
        let writes = decide(records, &m.disk(trust), m, &NoProgress, &mut report);
        report.actions.sort_by_key(|a| format!("{a:?}"));
        (report.actions, writes)
    }

    pub(super) fn moves(actions: &[Action]) -> Vec<(i64, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Moved { id, to, .. } => Some((id.0, to.display().to_string())),
                _ => None,
            })
            .collect()
    }

    pub(super) fn missing(actions: &[Action]) -> Vec<i64> {
        let mut v: Vec<i64> =
            actions.iter().filter_map(|a| if let Action::Missing { id, .. } = a { Some(id.0) } else { None }).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use crate::hash::fingerprint_bytes;
    use crate::ops::NoProgress;

    #[test]
    fn fingerprint_of_bytes_equals_fingerprint_of_the_file() {
        let d = tempfile::tempdir().unwrap();
        for len in [0usize, 5, 4096, 4097, 20_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let p = d.path().join(format!("f{len}"));
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(fingerprint_file(&p).unwrap().1, fingerprint_bytes(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn remount_of_a_per_mount_inode_filesystem_moves_no_tag() {
        // A FAT stick: a.jpg (inode 1) and b.jpg (inode 2), same size.
        let mut m = Model::default();
        m.put("/usb/a.jpg", 7, 1, b"photo A...");
        m.put("/usb/b.jpg", 7, 2, b"photo B...");
        let recs = [m.record(1, "/usb/a.jpg"), m.record(2, "/usb/b.jpg")];
        // Elsewhere a.jpg was deleted and c.jpg (same size, other bytes) written; on the next
        // mount the driver numbers b.jpg 1 and c.jpg 2.
        let mut after = Model::default();
        after.put("/usb/b.jpg", 7, 1, b"photo B...");
        after.put("/usb/c.jpg", 7, 2, b"photo C...");
        let mut fat = InodeTrust::default();
        fat.set_unstable(7, "vfat");
        let actions = run(&after, fat, &recs);
        assert_eq!(moves(&actions), [], "{actions:?}");
        assert_eq!(missing(&actions), [1], "{actions:?}");
        assert!(actions.contains(&Action::Changed { id: FileId(2), path: "/usb/b.jpg".into() }), "{actions:?}");
        // Even where inodes are trusted, the fingerprint keeps both tags in place.
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(moves(&actions), [], "{actions:?}");
        assert_eq!(missing(&actions), [1], "{actions:?}");
    }

    #[test]
    fn a_remount_that_renumbers_unchanged_files_reads_nothing_and_stores_the_new_numbers() {
        let mut m = Model::default();
        m.put_mtime("/usb/a.jpg", 7, 1, 5_000, b"photo A...");
        m.put_mtime("/usb/b.jpg", 7, 2, 6_000, b"photo B...");
        let recs = [m.record(1, "/usb/a.jpg"), m.record(2, "/usb/b.jpg")];
        // The same files, numbered the other way round by the next mount.
        let mut after = Model::default();
        after.put_mtime("/usb/a.jpg", 7, 2, 5_000, b"photo A...");
        after.put_mtime("/usb/b.jpg", 7, 1, 6_000, b"photo B...");
        let mut fat = InodeTrust::default();
        fat.set_unstable(7, "vfat");
        let (actions, writes) = run_writes(&after, fat, &recs);
        assert_eq!(actions, [], "no move, no change reported");
        assert_eq!(after.reads.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing read");
        let inodes: Vec<(i64, u64)> = writes
            .iter()
            .map(|(id, p, o)| {
                assert!(matches!(p, Plan::Restat));
                (id.0, o.unwrap().stat.inode)
            })
            .collect();
        assert_eq!(inodes, [(1, 2), (2, 1)]);
        // Where inodes are trusted, the fingerprints still say each path holds its own
        // content: no move, both re-read.
        let (actions, _) = run_writes(&after, InodeTrust::default(), &recs);
        assert_eq!(moves(&actions), []);
        assert_eq!(actions.iter().filter(|a| matches!(a, Action::Changed { .. })).count(), 2, "{actions:?}");
    }

    #[test]
    fn per_mount_inodes_still_follow_a_rename_by_content() {
        let mut m = Model::default();
        m.put("/usb/a.jpg", 7, 1, b"photo A...");
        let recs = [m.record(1, "/usb/a.jpg")];
        let mut after = Model::default();
        after.put("/usb/renamed.jpg", 7, 9, b"photo A...");
        let mut fat = InodeTrust::default();
        fat.set_unstable(7, "exfat");
        let actions = run(&after, fat, &recs);
        assert_eq!(moves(&actions), [(1, "/usb/renamed.jpg".to_string())]);
    }

    #[test]
    fn inode_reuse_by_a_same_size_file_moves_no_tag() {
        let mut m = Model::default();
        m.put("/r/gone.txt", 1, 50, b"old-content");
        let recs = [m.record(1, "/r/gone.txt")];
        let mut after = Model::default();
        after.put("/r/new.txt", 1, 50, b"new-content");
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(moves(&actions), []);
        assert_eq!(missing(&actions), [1]);
    }

    #[test]
    fn hard_links_are_separate_records_and_one_rename_moves_only_its_own() {
        // Three links of one file, two of another; one link of each renamed.
        let mut m = Model::default();
        for p in ["/l/a", "/l/b", "/l/c"] {
            m.put(p, 1, 10, b"first");
        }
        for p in ["/l/x", "/l/y"] {
            m.put(p, 1, 20, b"second");
        }
        let recs: Vec<FileRecord> = ["/l/a", "/l/b", "/l/c", "/l/x", "/l/y"]
            .iter()
            .enumerate()
            .map(|(i, p)| m.record(i as i64 + 1, p))
            .collect();
        let mut after = Model::default();
        for p in ["/l/a2", "/l/b", "/l/c"] {
            after.put(p, 1, 10, b"first");
        }
        for p in ["/l/x", "/l/y2"] {
            after.put(p, 1, 20, b"second");
        }
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(moves(&actions), [(1, "/l/a2".to_string()), (5, "/l/y2".to_string())], "{actions:?}");
        assert_eq!(missing(&actions), [], "{actions:?}");
        assert_eq!(actions.len(), 2, "nothing else touched: {actions:?}");
    }

    #[test]
    fn two_gone_hard_links_of_one_inode_are_ambiguous_never_guessed() {
        let mut m = Model::default();
        m.put("/l/a", 1, 10, b"linked");
        m.put("/l/b", 1, 10, b"linked");
        let recs = [m.record(1, "/l/a"), m.record(2, "/l/b")];
        let mut after = Model::default();
        after.put("/l/a2", 1, 10, b"linked");
        after.put("/l/b2", 1, 10, b"linked");
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(moves(&actions), []);
        assert_eq!(actions.iter().filter(|a| matches!(a, Action::Ambiguous { .. })).count(), 2, "{actions:?}");
    }

    #[test]
    fn backup_by_rename_keeps_the_record_at_the_old_path() {
        // perl -pi.bak, exiftool, Emacs, vim with backupcopy=no: the old inode goes to the
        // backup name, a new file takes the old name.
        for backup in ["/r/f.txt.bak", "/r/f.txt_original", "/r/f.txt~"] {
            let mut m = Model::default();
            m.put("/r/f.txt", 1, 10, b"version 1");
            let recs = [m.record(1, "/r/f.txt")];
            let mut after = Model::default();
            after.put(backup, 1, 10, b"version 1");
            after.put("/r/f.txt", 1, 11, b"version 2!");
            let actions = run(&after, InodeTrust::default(), &recs);
            assert_eq!(actions, [Action::Changed { id: FileId(1), path: "/r/f.txt".into() }], "{backup}");
        }
    }

    #[test]
    fn swap_and_rename_over_an_indexed_path_still_follow_the_inodes() {
        let mut m = Model::default();
        m.put("/s/a", 1, 1, b"aaaa");
        m.put("/s/b", 1, 2, b"bbbb");
        m.put("/s/x", 1, 3, b"xxxx");
        m.put("/s/y", 1, 4, b"yyyy");
        let recs = [m.record(1, "/s/a"), m.record(2, "/s/b"), m.record(3, "/s/x"), m.record(4, "/s/y")];
        let mut after = Model::default();
        after.put("/s/a", 1, 2, b"bbbb");
        after.put("/s/b", 1, 1, b"aaaa");
        after.put("/s/y", 1, 3, b"xxxx");
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(
            moves(&actions),
            [(1, "/s/b".to_string()), (2, "/s/a".to_string()), (3, "/s/y".to_string())],
            "{actions:?}"
        );
        assert_eq!(missing(&actions), [4]);
    }
    #[test]
    fn a_missing_record_is_revived_by_reconcile_only_with_equal_content() {
        let mut m = Model::default();
        m.put("/r/same.jpg", 1, 10, b"photo one");
        m.put("/r/other.jpg", 1, 11, b"photo two");
        let mut recs = [m.record(1, "/r/same.jpg"), m.record(2, "/r/other.jpg")];
        for r in &mut recs {
            r.state = FileState::Missing;
        }
        let mut after = Model::default();
        after.put("/r/same.jpg", 1, 20, b"photo one");
        after.put("/r/other.jpg", 1, 21, b"new bytes");
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(actions, [Action::Revived { id: FileId(1), path: "/r/same.jpg".into() }]);
    }

    #[test]
    fn a_file_changed_in_place_is_rehashed_and_an_unchanged_one_is_not_read() {
        let mut m = Model::default();
        m.put_mtime("/r/edit.txt", 1, 10, 5_000, b"draft");
        m.put_mtime("/r/keep.txt", 1, 11, 5_000, b"final");
        let recs = [m.record(1, "/r/edit.txt"), m.record(2, "/r/keep.txt")];
        let mut after = Model::default();
        after.put_mtime("/r/edit.txt", 1, 10, 6_000, b"draft 2");
        after.put_mtime("/r/keep.txt", 1, 11, 5_000, b"final");
        let actions = run(&after, InodeTrust::default(), &recs);
        assert_eq!(actions, [Action::Changed { id: FileId(1), path: "/r/edit.txt".into() }]);
        assert_eq!(after.reads.load(std::sync::atomic::Ordering::Relaxed), 1, "only the edited file read");
    }

    #[test]
    fn locate_leaves_a_renamed_file_on_another_filesystem_to_match() {
        // A record whose inode is gone (copied elsewhere, then deleted): the locate phase
        // settles nothing and hands it on; the match phase finds it by content.
        let mut m = Model::default();
        m.put("/r/a.txt", 1, 10, b"content a");
        let recs = [m.record(1, "/r/a.txt")];
        let mut after = Model::default();
        after.put("/r/sub/a.txt", 1, 99, b"content a");
        let disk = after.disk(InodeTrust::default());
        let mut report = ReconcileReport::default();
        let mut located = locate(&recs, &disk, &after, &mut report);
        assert!(located.plans.is_empty());
        assert_eq!(located.vanished.iter().map(|r| r.id).collect::<Vec<_>>(), [FileId(1)]);
        match_content(&mut located, &disk, &after, &NoProgress, &mut report);
        assert!(matches!(
            located.plans.get(&FileId(1)),
            Some(Plan::Move { to, how: MatchKind::Content, rehash: true }) if to == b"/r/sub/a.txt"
        ));
    }
}

#[cfg(test)]
mod random_tests {
    //! Random libraries and random tool-like changes against the in-memory disk model, each
    //! file touched at most once so the right answer is known: after `decide`, every record
    //! is exactly where a user expects it, and a freed inode handed to a new file of the
    //! same size never carries a tag along.

    use super::tests_support::*;
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        Keep,
        Rename,
        Delete,
        /// Delete, then write other content at the same path (a new inode).
        Rewrite,
        /// Rename to `name~`, then a new file at the name (exiftool, Emacs, perl -i.bak).
        Backup,
        /// Edit in place (same inode).
        Edit,
        /// Swap with the next file (through a temp name).
        Swap,
    }

    #[test]
    fn random_changes_put_every_record_where_a_user_expects_it() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for round in 0..300 {
            let files = 2 + next(10) as usize;
            let mut before = Model::default();
            // Distinct bytes (so distinct fingerprints) of a size shared by half the files.
            let content = |tag: &str, i: usize, size: usize| -> Vec<u8> {
                let mut c = crate::hash::hash_bytes(format!("{tag}{i}-{round}").as_bytes()).to_hex().into_bytes();
                c.truncate(size);
                c
            };
            let size = |i: usize| 24 + (i % 2);
            for i in 0..files {
                before.put(&format!("/l/f{i}"), 1, 100 + i as u64, &content("o", i, size(i)));
            }
            let recs: Vec<FileRecord> = (0..files).map(|i| before.record(i as i64, &format!("/l/f{i}"))).collect();
            let mut ops: Vec<Op> = Vec::new();
            while ops.len() < files {
                let op =
                    [Op::Keep, Op::Rename, Op::Delete, Op::Rewrite, Op::Backup, Op::Edit, Op::Swap][next(7) as usize];
                if op == Op::Swap && ops.len() + 2 <= files {
                    ops.extend([Op::Swap, Op::Swap]);
                } else if op != Op::Swap {
                    ops.push(op);
                }
            }
            // Apply: freed inodes go to a pool that new files draw from first (ext4's habit).
            let mut after = Model::default();
            let mut freed: Vec<u64> = Vec::new();
            let mut fresh_ino = 1000u64;
            let mut expect: Vec<Option<String>> = Vec::new();
            let mut news: Vec<(String, usize)> = Vec::new();
            let mut i = 0;
            while i < files {
                let (p, ino, old) = (format!("/l/f{i}"), 100 + i as u64, before.content(&format!("/l/f{i}")));
                match ops[i] {
                    Op::Keep => {
                        after.put(&p, 1, ino, &old);
                        expect.push(Some(p));
                    }
                    Op::Rename => {
                        after.put(&format!("/l/renamed{i}"), 1, ino, &old);
                        expect.push(Some(format!("/l/renamed{i}")));
                    }
                    Op::Delete => {
                        freed.push(ino);
                        expect.push(None);
                    }
                    Op::Rewrite | Op::Backup | Op::Edit => {
                        if ops[i] == Op::Backup {
                            after.put(&format!("{p}~"), 1, ino, &old);
                        } else if ops[i] == Op::Rewrite {
                            freed.push(ino);
                        }
                        news.push((p.clone(), i));
                        expect.push(Some(p));
                    }
                    Op::Swap => {
                        let q = format!("/l/f{}", i + 1);
                        after.put(&q, 1, ino, &old);
                        after.put(&p, 1, 100 + i as u64 + 1, &before.content(&q));
                        expect.push(Some(q));
                        expect.push(Some(p));
                        i += 1;
                    }
                }
                i += 1;
            }
            // New content at rewritten, backed-up and edited paths, and a few unrelated new
            // files of the same sizes: all on recycled inodes when there are any.
            for (p, i) in &news {
                let ino = if ops[*i] == Op::Edit {
                    100 + *i as u64
                } else {
                    freed.pop().unwrap_or_else(|| {
                        fresh_ino += 1;
                        fresh_ino
                    })
                };
                after.put(p, 1, ino, &content("n", *i, size(*i)));
            }
            for k in 0..next(3) as usize {
                let ino = freed.pop().unwrap_or_else(|| {
                    fresh_ino += 1;
                    fresh_ino
                });
                after.put(&format!("/l/unrelated{k}"), 1, ino, &content("u", k, size(k)));
            }
            let (actions, writes) = run_writes(&after, InodeTrust::default(), &recs);
            for (id, want) in expect.iter().enumerate() {
                let plan = writes.iter().find(|w| w.0 == FileId(id as i64)).map(|w| &w.1);
                let got = match plan {
                    None | Some(Plan::Rehash | Plan::Restat | Plan::Revive) => Some(format!("/l/f{id}")),
                    Some(Plan::Move { to, .. }) => Some(String::from_utf8(to.clone()).unwrap()),
                    Some(Plan::Missing) => None,
                };
                assert_eq!(&got, want, "round {round}, file {id} ({:?}); ops {ops:?}; actions {actions:?}", ops[id]);
            }
        }
    }
}
