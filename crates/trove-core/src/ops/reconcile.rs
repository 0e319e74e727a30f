//! `reconcile`: bring the index up to date with the disk after changes trove did not see.
//!
//! Policy (principle 3: ambiguous matches are reported, never guessed):
//! - A root whose directory is absent or sits on another device than when it was added is
//!   **unmounted**: its present files become *offline* and are not looked at. When it is
//!   back, they become present again and are verified like the rest.
//! - Every regular file under the scanned directories is `stat`ed once; nothing is read for a
//!   file whose size, mtime, device and inode match its record.
//! - A record is located by its (device, inode) first: the same inode and size elsewhere is
//!   a certain move (this is what makes swaps and renames-over-indexed-paths come out right).
//! - A record whose path holds a file with another inode, not claimed by any other record,
//!   is the same record after an atomic save: re-hashed, tags kept.
//! - Remaining records are matched by content among unclaimed files of the same size: the
//!   sampled fingerprint filters, full BLAKE3 confirms. Exactly one candidate for exactly one
//!   record is certain; anything else is listed as ambiguous and left alone.
//! - A record with no candidate becomes *missing* (tags kept).

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::hash::{fingerprint_file, hash_file};
use crate::model::{FileId, FileRecord, FileState, Observation, Stat, now_unix};
use crate::ops::Progress;
use crate::paths::from_bytes;
use crate::store::{files, roots};
use crate::{Error, Index, Result};

#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    pub dry_run: bool,
    /// Directories to reconcile; empty means every root.
    pub scope: Vec<PathBuf>,
}

/// How a moved file was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Inode,
    Content,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Moved {
        id: FileId,
        from: PathBuf,
        to: PathBuf,
        how: MatchKind,
    },
    /// Re-hashed in place (edited, or replaced by an atomic save).
    Changed {
        id: FileId,
        path: PathBuf,
    },
    Missing {
        id: FileId,
        path: PathBuf,
    },
    /// A missing record's file is back at its path with its content.
    Revived {
        id: FileId,
        path: PathBuf,
    },
    Ambiguous {
        id: FileId,
        path: PathBuf,
        candidates: Vec<PathBuf>,
    },
    Offline {
        root: PathBuf,
        files: u64,
    },
    Online {
        root: PathBuf,
        files: u64,
    },
}

#[derive(Debug, Default)]
pub struct ReconcileReport {
    pub actions: Vec<Action>,
    /// Regular files seen on disk.
    pub scanned: u64,
    /// Records confirmed with a stat alone.
    pub unchanged: u64,
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

/// Adds `dir` as a root (recording its device).
pub fn add_root(index: &mut Index, dir: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !m.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    index.write(|tx| roots::add(tx, dir, m.dev(), now_unix()))
}

pub fn remove_root(index: &mut Index, dir: &Path) -> Result<bool> {
    index.write(|tx| roots::remove(tx, dir))
}

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

struct Disk {
    /// path bytes → stat
    files: HashMap<Vec<u8>, Stat>,
    /// (device, inode) → path bytes
    inodes: HashMap<(u64, u64), Vec<u8>>,
}

fn scan(dirs: &[PathBuf], report: &mut ReconcileReport) -> Disk {
    let mut disk = Disk { files: HashMap::new(), inodes: HashMap::new() };
    for d in dirs {
        if !d.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(d).follow_links(false) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().map_or_else(|| d.clone(), Path::to_path_buf);
                    // A directory vanishing mid-walk is ordinary churn, not a failure.
                    if e.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) {
                        continue;
                    }
                    let io = e.into_io_error().unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                    report.failed.push(Error::io(path, io));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(m) = entry.metadata() else { continue };
            let st = Stat::from_metadata(&m);
            let p = entry.into_path().into_os_string().into_vec();
            disk.inodes.insert((st.device, st.inode), p.clone());
            disk.files.insert(p, st);
        }
    }
    report.scanned = disk.files.len() as u64;
    disk
}

/// What reconcile decided for one record, before writing.
enum Plan {
    Move { to: Vec<u8>, how: MatchKind, rehash: bool },
    Rehash,
    Missing,
    Revive,
}

pub fn reconcile(index: &mut Index, opts: &ReconcileOptions, progress: &dyn Progress) -> Result<ReconcileReport> {
    let mut report = ReconcileReport::default();
    let all_roots = roots::list(index.conn())?;
    let scope = if opts.scope.is_empty() {
        all_roots.iter().map(|r| r.path.clone()).collect::<Vec<_>>()
    } else {
        opts.scope.clone()
    };
    let scope = outermost(scope);

    // Mount state of every root that overlaps the scope.
    let mut offline_roots: Vec<PathBuf> = Vec::new();
    let mut online_changes: Vec<(PathBuf, Vec<FileId>, FileState)> = Vec::new();
    for r in &all_roots {
        if !scope.iter().any(|s| s.starts_with(&r.path) || r.path.starts_with(s)) {
            continue;
        }
        let recs = files::under(index.conn(), &r.path)?;
        if mounted(r) {
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
    let is_offline = |p: &Path| offline_roots.iter().any(|r| p.starts_with(r));
    let scan_dirs: Vec<PathBuf> = scope.iter().filter(|s| !is_offline(s)).cloned().collect();

    progress.begin("scanning", None);
    let disk = scan(&scan_dirs, &mut report);
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

    // 1. Locate every record by inode; claim the files found that way.
    let mut claimed: HashSet<Vec<u8>> = HashSet::new();
    let mut plans: HashMap<FileId, Plan> = HashMap::new();
    let mut unlocated: Vec<&FileRecord> = Vec::new();
    for r in &records {
        let own = r.path_bytes().to_vec();
        let by_inode = disk.inodes.get(&(r.stat.device, r.stat.inode));
        match by_inode {
            Some(p) if *p == own && r.state == FileState::Present => {
                claimed.insert(p.clone());
                if disk.files[p] == r.stat {
                    report.unchanged += 1;
                } else {
                    plans.insert(r.id, Plan::Rehash);
                }
            }
            Some(p) if disk.files[p].size == r.stat.size && r.state == FileState::Present => {
                claimed.insert(p.clone());
                let rehash = disk.files[p].mtime_ns != r.stat.mtime_ns;
                plans.insert(r.id, Plan::Move { to: p.clone(), how: MatchKind::Inode, rehash });
            }
            _ => unlocated.push(r),
        }
    }
    // 2. Atomic saves: the record's path holds an unclaimed file with another inode.
    let mut vanished: Vec<&FileRecord> = Vec::new();
    let mut to_hash: Vec<(FileId, Vec<u8>)> = Vec::new();
    for r in unlocated {
        let own = r.path_bytes().to_vec();
        if disk.files.contains_key(&own) && !claimed.contains(&own) {
            claimed.insert(own.clone());
            if r.state == FileState::Present {
                plans.insert(r.id, Plan::Rehash);
            } else {
                // A missing record whose path is occupied again: revive only on equal content.
                to_hash.push((r.id, own));
            }
        } else {
            vanished.push(r);
        }
    }
    let revive_hashes: HashMap<FileId, Result<Observation>> =
        to_hash.par_iter().map(|(id, p)| (*id, hash_file(&from_bytes(p)))).collect();
    for r in &records {
        if let Some(h) = revive_hashes.get(&r.id) {
            match h {
                Ok(o) if o.hash == r.hash => {
                    plans.insert(r.id, Plan::Revive);
                }
                _ => {
                    // Different content: that file is someone else's; keep looking for ours.
                    claimed.remove(r.path_bytes());
                    vanished.push(r);
                }
            }
        }
    }

    // 3. Content matching among unclaimed files of the same size.
    let mut by_size: HashMap<u64, Vec<&Vec<u8>>> = HashMap::new();
    for (p, st) in &disk.files {
        if !claimed.contains(p) {
            by_size.entry(st.size).or_default().push(p);
        }
    }
    let wanted_sizes: HashSet<u64> = vanished.iter().map(|r| r.stat.size).collect();
    let candidates: Vec<&Vec<u8>> =
        by_size.iter().filter(|(s, _)| wanted_sizes.contains(s)).flat_map(|(_, v)| v.iter().copied()).collect();
    progress.begin("matching", Some(candidates.len() as u64));
    let fps: HashMap<&Vec<u8>, i64> = candidates
        .par_iter()
        .filter_map(|p| {
            progress.advance(1);
            fingerprint_file(&from_bytes(p)).ok().map(|(_, fp)| (*p, fp))
        })
        .collect();
    // Which candidates need a full hash: those whose fingerprint equals some vanished record's.
    let wanted_fp: HashSet<(u64, i64)> = vanished.iter().map(|r| (r.stat.size, r.fingerprint)).collect();
    let need_hash: Vec<&Vec<u8>> = candidates
        .iter()
        .copied()
        .filter(|p| fps.get(p).is_some_and(|fp| wanted_fp.contains(&(disk.files[*p].size, *fp))))
        .collect();
    let hashes: HashMap<&Vec<u8>, crate::Hash> =
        need_hash.par_iter().filter_map(|p| hash_file(&from_bytes(p)).ok().map(|o| (*p, o.hash))).collect();
    progress.finish();
    let mut vanished_per_hash: HashMap<crate::Hash, usize> = HashMap::new();
    for r in &vanished {
        *vanished_per_hash.entry(r.hash).or_default() += 1;
    }
    for r in &vanished {
        let mut found: Vec<&Vec<u8>> = by_size
            .get(&r.stat.size)
            .map(|v| v.iter().copied().filter(|p| hashes.get(p) == Some(&r.hash)).collect())
            .unwrap_or_default();
        found.sort();
        match found.as_slice() {
            [one] if vanished_per_hash[&r.hash] == 1 => {
                plans.insert(r.id, Plan::Move { to: (*one).clone(), how: MatchKind::Content, rehash: true });
            }
            [] => {
                if r.state == FileState::Present {
                    plans.insert(r.id, Plan::Missing);
                }
            }
            many => report.actions.push(Action::Ambiguous {
                id: r.id,
                path: r.path.clone(),
                candidates: many.iter().map(|p| from_bytes(p)).collect(),
            }),
        }
    }

    // 4. Observations for everything that needs one, read outside any transaction.
    let needs_obs: Vec<(FileId, Vec<u8>)> = plans
        .iter()
        .filter_map(|(id, p)| match p {
            Plan::Rehash | Plan::Revive => records.iter().find(|r| r.id == *id).map(|r| (*id, r.path_bytes().to_vec())),
            Plan::Move { to, rehash: true, .. } => Some((*id, to.clone())),
            _ => None,
        })
        .collect();
    progress.begin("hashing", Some(needs_obs.len() as u64));
    let obs: HashMap<FileId, Result<Observation>> = needs_obs
        .par_iter()
        .map(|(id, p)| {
            progress.advance(1);
            (*id, hash_file(&from_bytes(p)))
        })
        .collect();
    progress.finish();

    let by_id: HashMap<FileId, &FileRecord> = records.iter().map(|r| (r.id, r)).collect();
    let mut ordered: Vec<(FileId, Plan)> = plans.into_iter().collect();
    ordered.sort_by_key(|(id, _)| by_id[id].path.clone());
    let mut writes: Vec<(FileId, Plan, Option<Observation>)> = Vec::new();
    for (id, plan) in ordered {
        let o = match obs.get(&id) {
            Some(Ok(o)) => Some(*o),
            Some(Err(e)) => {
                report.failed.push(Error::Invalid(e.to_string()));
                continue;
            }
            None => None,
        };
        let r = by_id[&id];
        report.actions.push(match &plan {
            Plan::Move { to, how, .. } => Action::Moved { id, from: r.path.clone(), to: from_bytes(to), how: *how },
            Plan::Rehash => Action::Changed { id, path: r.path.clone() },
            Plan::Missing => Action::Missing { id, path: r.path.clone() },
            Plan::Revive => Action::Revived { id, path: r.path.clone() },
        });
        writes.push((id, plan, o));
    }
    if !opts.dry_run && !writes.is_empty() {
        apply(index, &writes)?;
    }
    Ok(report)
}

/// Writes the plans in one transaction: missing marks first (freeing live paths), then
/// every move parked on a unique placeholder, then moved to its final path — so swaps and
/// chains of renames never trip the one-live-record-per-path index.
fn apply(index: &mut Index, writes: &[(FileId, Plan, Option<Observation>)]) -> Result<()> {
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
                    if let Some(other) = files::live_by_path(tx, &to)?
                        && other.id != *id
                    {
                        files::set_state(tx, other.id, FileState::Missing)?;
                    }
                    files::set_path(tx, *id, &to)?;
                    if let Some(o) = o {
                        files::update_observation(tx, *id, o, now)?;
                    }
                }
                Plan::Rehash | Plan::Revive => {
                    if let Some(o) = o {
                        files::update_observation(tx, *id, o, now)?;
                    }
                }
                Plan::Missing => {}
            }
        }
        Ok(())
    })
}
