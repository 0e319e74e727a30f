//! `check`: is the index sound, and does it still describe the disk?
//!
//! Reports: SQLite's `integrity_check`; with `full` or `repair`, posting lists that differ
//! from the links and stored near pairs of perceptual hashes that differ from the hashes
//! (`repair` rebuilds both); records whose file is gone (missing); files whose
//! size, mtime or inode changed (re-hashed); with `full`, files whose bytes changed behind
//! an unchanged size and mtime; missing records whose file is back. `repair` applies each
//! certain fix in its own small transaction and never removes a tag or a record: a gone file
//! becomes *missing* (still tagged, still findable with `missing`), a changed file gets its
//! new hash, a missing record whose path holds an unindexed file again is kept on that file
//! (re-hashed, tags kept: the path-continuity rule of [`crate::ops::identity`], for what a
//! watcher or reconcile left missing — an editor's save seen half, a delete-then-write
//! while nothing watched). What it cannot decide it lists and leaves alone.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::hash::{hash_file, kind_of};
use crate::model::{FileRecord, FileState, Hash, Stat, now_unix};
use crate::ops::Progress;
use crate::ops::disk::{compare, revives};
use crate::ops::mv::leftover_temps;
use crate::store::{files, postings, roots};
use crate::{Error, Index, Result, StoreError};

/// What [`check`] does beyond comparing records with the disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Re-hash every file, not only those whose size or mtime changed.
    pub full: bool,
    /// Apply the certain fixes.
    pub repair: bool,
}

/// What is wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file is gone from disk.
    Missing,
    /// Size, mtime or inode changed; `hash_changed` says whether the bytes did.
    Changed {
        /// What the record said.
        old: Stat,
        /// What is on disk now.
        new: Stat,
        /// Whether the content's hash differs too.
        hash_changed: bool,
    },
    /// Same size and mtime, different bytes (found by `full`).
    Corrupt {
        /// The hash of the bytes on disk now.
        new_hash: Hash,
    },
    /// A missing record's file is back with the same content.
    Reappeared,
    /// A missing record's path holds a file with other content that no record has (or only
    /// a bare auto-included one): by path continuity it is this record's file, changed
    /// (`repair` re-hashes it, tags kept, the bare record gone).
    Replaced,
    /// Something is at the path but it cannot be decided what to do.
    Undecided(String),
    /// The file could not be read.
    Unreadable(String),
}

/// A record that does not match the disk, and what was done about it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The record as it was before any repair.
    pub record: FileRecord,
    /// What differs.
    pub problem: Problem,
    /// Whether `repair` fixed it.
    pub repaired: bool,
}

/// The outcome of [`check`].
#[derive(Debug, Default)]
pub struct CheckReport {
    /// `None` when SQLite's integrity check passed.
    pub integrity: Option<Vec<String>>,
    /// How many records were compared with the disk.
    pub checked: u64,
    /// Every record that did not match, in path order.
    pub findings: Vec<Finding>,
    /// Temporary copies left by a killed `trove mv` under the roots, and whether `repair`
    /// removed them.
    pub leftovers: Vec<(PathBuf, bool)>,
    /// Present records outside every root: nothing keeps them current.
    pub untracked: u64,
    /// Records indexed before trove kept a SHA-256 that `full` gave one (the Hydrus API
    /// names files by it).
    pub sha256_filled: u64,
    /// Whether the posting lists were compared with the links (with `full` or `repair`).
    pub postings_checked: bool,
    /// How the posting lists differ from the links (empty when they agree).
    pub postings: Vec<String>,
    /// Whether `repair` rebuilt them from the links.
    pub postings_rebuilt: bool,
    /// How the stored near pairs of perceptual hashes (and their multi-index) differ from
    /// what the stored hashes say (checked with `full` or `repair`; empty when they agree).
    pub similar: Vec<String>,
    /// Whether `repair` rebuilt them.
    pub similar_rebuilt: bool,
}

impl CheckReport {
    /// Problems that remain after this run (all of them without `repair`).
    pub fn outstanding(&self) -> usize {
        self.findings.iter().filter(|f| !f.repaired).count()
            + usize::from(self.integrity.is_some())
            + self.leftovers.iter().filter(|l| !l.1).count()
            + if self.postings_rebuilt { 0 } else { self.postings.len() }
            + if self.similar_rebuilt { 0 } else { self.similar.len() }
    }
}

/// Compares the posting lists with the links in one read transaction (one snapshot, so a
/// writer committing meanwhile cannot make them look different).
pub fn verify_postings(index: &Index) -> Result<Vec<String>> {
    let tx = index.conn().unchecked_transaction()?;
    let problems = postings::verify(&tx)?;
    tx.finish()?;
    Ok(problems)
}

/// Examines one record; with `full`, an unchanged file's SHA-256 goes to `sha_out` (given
/// for records that have none yet).
fn examine(rec: &FileRecord, full: bool, sha_out: Option<&mut Option<[u8; 32]>>) -> Option<Problem> {
    let meta = match std::fs::symlink_metadata(&rec.path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
            return (rec.state == FileState::Present).then_some(Problem::Missing);
        }
        Err(e) => return Some(Problem::Unreadable(e.to_string())),
    };
    if !meta.file_type().is_file() {
        let kind = kind_of(&meta.file_type());
        return Some(Problem::Undecided(format!("the path now holds a {kind}")));
    }
    let now = Stat::from_metadata(&meta);
    if rec.state == FileState::Missing {
        return Some(match hash_file(&rec.path) {
            Ok(o) if revives(rec, &o) => Problem::Reappeared,
            Ok(_) => Problem::Replaced,
            Err(e) => Problem::Unreadable(e.to_string()),
        });
    }
    if compare(&rec.stat, &now).needs_hash() {
        return Some(match hash_file(&rec.path) {
            Ok(o) => Problem::Changed { old: rec.stat, new: o.stat, hash_changed: o.hash != rec.hash },
            Err(e) => Problem::Unreadable(e.to_string()),
        });
    }
    if full {
        return match hash_file(&rec.path) {
            Ok(o) if o.hash != rec.hash => Some(Problem::Corrupt { new_hash: o.hash }),
            Ok(o) => {
                if let (Some(sha), Some(out)) = (o.sha256, sha_out) {
                    *out = Some(sha);
                }
                None
            }
            Err(e) => Some(Problem::Unreadable(e.to_string())),
        };
    }
    None
}

/// A record's id, the BLAKE3 hash it was read with and the SHA-256 read with it.
type ShaFill = (crate::model::FileId, Hash, [u8; 32]);

fn repair_one(index: &mut Index, f: &Finding) -> Result<bool> {
    let id = f.record.id;
    let path: PathBuf = f.record.path.clone();
    let now = now_unix();
    match &f.problem {
        Problem::Missing => index.write(|tx| {
            files::set_state(tx, id, FileState::Missing)?;
            Ok(true)
        }),
        Problem::Changed { .. } | Problem::Corrupt { .. } => {
            // Re-read now: the file may have changed again since it was examined.
            let o = hash_file(&path)?;
            index.write(|tx| {
                files::update_observation(tx, id, &o, now)?;
                Ok(true)
            })
        }
        Problem::Reappeared | Problem::Replaced => {
            let o = hash_file(&path)?;
            index.write(|tx| {
                if let Some(live) = files::live_by_path(tx, &path)? {
                    // Only a bare record (auto-included, untagged, in no pool) gives way.
                    if live.id == id || !files::is_bare(tx, live.id)? {
                        return Ok(false);
                    }
                    files::delete(tx, live.id)?;
                }
                files::update_observation(tx, id, &o, now)?;
                Ok(true)
            })
        }
        Problem::Undecided(_) | Problem::Unreadable(_) => Ok(false),
    }
}

/// Checks the index's integrity (with `full` or `repair`, its posting lists too) and
/// compares every record with the disk, applying the certain fixes when `opts.repair` is
/// set (see the module docs).
pub fn check(index: &mut Index, opts: CheckOptions, progress: &dyn Progress) -> Result<CheckReport> {
    let mut report = CheckReport { integrity: index.integrity_problems()?, ..CheckReport::default() };
    if opts.full || opts.repair {
        report.postings = verify_postings(index)?;
        report.postings_checked = true;
        if opts.repair && !report.postings.is_empty() {
            index.write(postings::rebuild)?;
            report.postings_rebuilt = true;
        }
        report.similar = crate::store::dupes::verify_near(index.conn())?;
        if opts.repair && !report.similar.is_empty() {
            index.write(crate::store::dupes::rebuild_near)?;
            report.similar_rebuilt = true;
        }
    }
    let mut records = Vec::new();
    files::for_each(index.conn(), |r| {
        records.push(r);
        Ok(())
    })?;
    report.checked = records.len() as u64;
    progress.begin(super::Phase::CHECKING, Some(records.len() as u64));
    let without_sha: std::collections::HashSet<crate::model::FileId> = if opts.full && !index.is_read_only() {
        files::ids_without_sha256(index.conn())?.into_iter().collect()
    } else {
        Default::default()
    };
    let examined: Vec<(Option<Finding>, Option<ShaFill>)> = records
        .par_iter()
        .map(|r| {
            let mut sha = None;
            let want = without_sha.contains(&r.id).then_some(&mut sha);
            let p = examine(r, opts.full, want);
            progress.advance(1);
            (p.map(|problem| Finding { record: r.clone(), problem, repaired: false }), sha.map(|s| (r.id, r.hash, s)))
        })
        .collect();
    progress.finish();
    let mut findings = Vec::new();
    let mut shas = Vec::new();
    for (f, s) in examined {
        findings.extend(f);
        shas.extend(s);
    }
    // The SHA-256 of records indexed before trove kept one: a derived value, stored in
    // batches (only while the content is still the one that was read).
    for batch in shas.chunks(1000) {
        report.sha256_filled += index.write(|tx| {
            let mut n = 0;
            for (id, hash, sha) in batch {
                n += u64::from(files::set_sha256(tx, *id, hash, sha)?);
            }
            Ok(n)
        })?;
    }
    // A path another record lives on is not this record's to take back — unless that record
    // is bare (auto-included, untagged, in no pool): the file is this record's, by path
    // continuity, and the bare record gives way.
    for f in &mut findings {
        if f.problem == Problem::Replaced
            && let Some(live) = files::live_by_path(index.conn(), &f.record.path)?
            && !files::is_bare(index.conn(), live.id)?
        {
            f.problem = Problem::Undecided("another indexed file now sits at this missing file's path".into());
        }
    }
    findings.sort_by(|a, b| a.record.path.cmp(&b.record.path));
    if opts.repair {
        for f in &mut findings {
            match repair_one(index, f) {
                Ok(done) => f.repaired = done,
                Err(e @ Error::Store(StoreError::DiskFull { .. })) => return Err(e),
                Err(e) => f.problem = Problem::Unreadable(e.to_string()),
            }
        }
    }
    report.findings = findings;
    let list = roots::list(index.conn())?;
    report.untracked = records
        .iter()
        .filter(|r| r.state != FileState::Missing && !list.iter().any(|root| r.path.starts_with(&root.path)))
        .count() as u64;
    for root in &list {
        for dir in walkdir::WalkDir::new(&root.path).follow_links(false).into_iter().flatten() {
            if !dir.file_type().is_dir() {
                continue;
            }
            for t in leftover_temps(dir.path()) {
                let removed = opts.repair
                    && if t.is_dir() { std::fs::remove_dir_all(&t) } else { std::fs::remove_file(&t) }.is_ok();
                report.leftovers.push((t, removed));
            }
        }
    }
    Ok(report)
}
