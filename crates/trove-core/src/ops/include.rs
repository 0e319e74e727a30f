//! `include`: walk paths, hash what is new or changed (in parallel), store records, apply tags.
//!
//! Policy: an unchanged file (same size, mtime, device and inode as its record) costs one
//! `stat`, never a read. Recursive walks never follow symlinks and never open special files;
//! they count what they skipped. One bad file is reported and the run goes on. Writes are
//! committed in batches, so a run killed halfway keeps every batch it finished and reports
//! nothing it did not store.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::filter::{Filter, pseudo_fs};
use crate::hash::{hash_file, hash_file_keeping, kind_of};
use crate::meta::{ExtractorRef, Meta};
use crate::model::{FileId, Observation, Source, Stat, normalize_tag_name, now_unix};
use crate::ops::Progress;
use crate::ops::disk::{compare, revives, walk_error};
use crate::store::{files, links, meta, tags};
use crate::{Error, Index, Result};

/// How many files one write transaction stores.
const BATCH: usize = 512;

/// What [`include`] does with the paths it is given.
#[derive(Debug, Clone)]
pub struct IncludeOptions {
    /// Walk directories given (without it a directory is an [`Error::IsDirectory`]).
    pub recursive: bool,
    /// Tag names to apply to every included file (created when new).
    pub tags: Vec<String>,
    /// Report what would happen; store nothing.
    pub dry_run: bool,
    /// The source recorded on the links `tags` makes.
    pub source: Source,
    /// Record directories included with `recursive` as roots (what `trove include -r` does).
    pub add_roots: bool,
    /// Reads metadata from each new or changed file while it is hashed (and from unchanged
    /// files that have none, or stale metadata). `None`: no metadata is read.
    pub extractor: Option<ExtractorRef>,
}

impl Default for IncludeOptions {
    fn default() -> Self {
        IncludeOptions {
            recursive: false,
            tags: Vec::new(),
            dry_run: false,
            source: Source::Manual,
            add_roots: true,
            extractor: None,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New record.
    Added,
    /// Known record whose content or place on disk changed: re-hashed, tags kept.
    Updated,
    /// Known and unchanged: only `stat`ed.
    Unchanged,
}

/// What [`include`] did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct IncludeReport {
    /// Every file handled, with its record id (`None` in a dry run for new files).
    pub files: Vec<(PathBuf, Option<FileId>, Outcome)>,
    /// Symlinks met in a walk, not followed (only symlinks named as arguments are).
    pub skipped_symlinks: u64,
    /// FIFOs, sockets and devices met in a walk.
    pub skipped_special: u64,
    /// New links made (a tag the file already had from this source is not counted).
    pub links_added: u64,
    /// Tags that did not exist and were created.
    pub tags_created: Vec<String>,
    /// Directories that became roots with this run (`-r`), by their real path.
    pub roots_added: Vec<PathBuf>,
    /// Symlinks named on the command line and the real paths they lead to.
    pub followed: Vec<(PathBuf, PathBuf)>,
    /// Files and directories left out by ignore patterns (and trove's own files met in a walk).
    pub skipped_ignored: u64,
    /// Directories on pseudo filesystems the walk did not enter, with the filesystem's kind.
    pub skipped_pseudo: Vec<(PathBuf, &'static str)>,
    /// Files of this run that lie outside every root: nothing keeps them current.
    pub untracked: Vec<PathBuf>,
    /// Paths that could not be included, each with its reason; the others were.
    pub failed: Vec<Error>,
    /// Files whose metadata was read and stored.
    pub meta_extracted: u64,
    /// Files whose metadata extraction recorded an error, with it (the file is included).
    pub meta_failed: Vec<(PathBuf, String)>,
}

impl IncludeReport {
    /// How many files had the outcome `o`.
    pub fn count(&self, o: Outcome) -> usize {
        self.files.iter().filter(|f| f.2 == o).count()
    }
}

/// A file found by the walk, with the metadata the walk saw.
struct Candidate {
    path: PathBuf,
    stat: Stat,
}

/// What the walk found besides files.
#[derive(Default)]
struct Walked {
    files: Vec<Candidate>,
    /// Directories walked with `recursive`, by their real path (roots to add).
    tops: Vec<PathBuf>,
}

/// Expands `paths` (absolute) into regular files.
fn collect(paths: &[PathBuf], recursive: bool, filter: &mut Filter, report: &mut IncludeReport) -> Walked {
    let mut out = Walked::default();
    for p in paths {
        collect_one(p, recursive, filter, report, &mut out);
    }
    out
}

fn collect_one(p: &Path, recursive: bool, filter: &mut Filter, report: &mut IncludeReport, out: &mut Walked) {
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) => {
            report.failed.push(Error::io(p, e));
            return;
        }
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        // Named explicitly: follow it to its target, which is what gets indexed (and what
        // becomes a root); the walk then stays on the target's tree.
        match std::fs::canonicalize(p) {
            Ok(target) => {
                report.followed.push((p.to_path_buf(), target.clone()));
                collect_one(&target, recursive, filter, report, out);
            }
            Err(e) => report.failed.push(Error::io(p, e)),
        }
        return;
    }
    if let Some(fs) = pseudo_fs(p) {
        report.failed.push(Error::PseudoFs { path: p.to_path_buf(), fs });
        return;
    }
    if ft.is_file() {
        if filter.is_own(p) {
            report.failed.push(Error::OwnFile(p.to_path_buf()));
        } else {
            out.files.push(Candidate { path: p.to_path_buf(), stat: Stat::from_metadata(&meta) });
        }
        return;
    }
    if !ft.is_dir() {
        report.failed.push(Error::NotRegular { path: p.to_path_buf(), kind: kind_of(&ft) });
        return;
    }
    if !recursive {
        report.failed.push(Error::IsDirectory(p.to_path_buf()));
        return;
    }
    out.tops.push(p.to_path_buf());
    let top = p.to_path_buf();
    let mut skipped_ignored = 0;
    let mut pseudo = Vec::new();
    let walk = walkdir::WalkDir::new(p).follow_links(false).sort_by_file_name().into_iter().filter_entry(|e| {
        let is_dir = e.file_type().is_dir();
        if filter.skip_entry(&top, e.path(), is_dir) {
            skipped_ignored += 1;
            return false;
        }
        if is_dir
            && e.depth() > 0
            && let Some(fs) = pseudo_fs(e.path())
        {
            pseudo.push((e.path().to_path_buf(), fs));
            return false;
        }
        true
    });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                report.failed.push(walk_error(e, p));
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        if ft.is_symlink() {
            report.skipped_symlinks += 1;
            continue;
        }
        if !ft.is_file() {
            report.skipped_special += 1;
            continue;
        }
        match entry.metadata() {
            Ok(m) => out.files.push(Candidate { path: entry.into_path(), stat: Stat::from_metadata(&m) }),
            Err(e) => {
                let path = entry.path().to_path_buf();
                let io = e.into_io_error().unwrap_or_else(|| std::io::Error::other("metadata"));
                report.failed.push(Error::io(path, io));
            }
        }
    }
    report.skipped_ignored += skipped_ignored;
    report.skipped_pseudo.extend(pseudo);
}

/// Normalises tag names up front, so a bad name fails before anything is touched.
pub(crate) fn check_tag_names(names: &[String]) -> Result<Vec<String>> {
    names.iter().map(|n| normalize_tag_name(n)).collect()
}

/// Finds or creates each tag; returns ids and the names that were created.
pub(crate) fn ensure_tags(
    c: &crate::store::WriteTx<'_>,
    names: &[String],
    now: i64,
) -> Result<(Vec<crate::TagId>, Vec<String>)> {
    let mut ids = Vec::new();
    let mut created = Vec::new();
    for n in names {
        match tags::by_name(c, n)? {
            Some(id) => ids.push(id),
            None => {
                ids.push(tags::create(c, n, now)?);
                created.push(n.clone());
            }
        }
    }
    Ok((ids, created))
}

enum Plan {
    /// Known and unchanged; `true` when its metadata is absent or stale (to be extracted).
    Unchanged(FileId, bool),
    /// Needs hashing; `Some(id)` when a record exists.
    Hash(Option<FileId>),
}

/// Includes `paths` (absolute; see [`crate::paths::resolve`]).
pub fn include(
    index: &mut Index,
    paths: &[PathBuf],
    opts: &IncludeOptions,
    progress: &dyn Progress,
) -> Result<IncludeReport> {
    let tag_names = check_tag_names(&opts.tags)?;
    let mut report = IncludeReport::default();
    progress.begin(super::Phase::SCANNING, None);
    let mut filter = Filter::load(index)?;
    let walked = collect(paths, opts.recursive, &mut filter, &mut report);
    let candidates = walked.files;
    progress.finish();

    // Classify against the index: a read, no lock held.
    let mut plans = Vec::with_capacity(candidates.len());
    {
        let c = index.conn();
        for cand in &candidates {
            let plan = match files::live_by_path(c, &cand.path)? {
                Some(rec) if !compare(&rec.stat, &cand.stat).needs_hash() => {
                    let stale = opts.extractor.is_some()
                        && meta::read_from(c, rec.id)? != Some((rec.stat.size, rec.stat.mtime_ns));
                    Plan::Unchanged(rec.id, stale)
                }
                Some(rec) => Plan::Hash(Some(rec.id)),
                None => Plan::Hash(None),
            };
            plans.push(plan);
        }
    }
    let to_hash: Vec<usize> =
        plans.iter().enumerate().filter(|(_, p)| matches!(p, Plan::Hash(_))).map(|(i, _)| i).collect();
    let total_bytes: u64 = to_hash.iter().map(|&i| candidates[i].stat.size).sum();
    progress.begin(super::Phase::HASHING, Some(total_bytes));

    let now = now_unix();
    let mut pending: Vec<Hashed> = Vec::new();
    let mut tag_ids: Option<Vec<crate::TagId>> = None;
    // Hash in chunks so results reach the index while hashing goes on, and a kill loses at
    // most the two chunks in flight. The next chunk is hashed (on the pool) while the current one
    // is written, so the writer's single thread and the hashers overlap.
    let extractor = opts.extractor.as_ref().filter(|_| !opts.dry_run);
    let hash_chunk = |chunk: &[usize]| -> Vec<Hashed> {
        groups(chunk, &candidates)
            .into_par_iter()
            .flat_map_iter(|group| {
                // Small files are read once when extracting: the extractor parses the bytes
                // that were hashed.
                let keep = extractor.map_or(0, |x| x.0.bytes_wanted_up_to());
                let mut hashed: Vec<(usize, Result<Observation>, Option<Vec<u8>>)> = group
                    .iter()
                    .map(|&i| {
                        let path = &candidates[i].path;
                        let (r, bytes) = if keep > 0 {
                            match hash_file_keeping(path, keep) {
                                Ok((o, b)) => (Ok(o), b),
                                Err(e) => (Err(e), None),
                            }
                        } else {
                            (hash_file(path), None)
                        };
                        progress.advance(candidates[i].stat.size);
                        (i, r, bytes)
                    })
                    .collect();
                // Metadata is read right after the group is hashed, by one call for the group
                // (the extractor hands it to one of its threads at once); an extractor bounds
                // its own time per file.
                let mut metas = match extractor {
                    Some(x) => {
                        let files = hashed
                            .iter_mut()
                            .filter(|h| h.1.is_ok())
                            .map(|h| (candidates[h.0].path.clone(), h.2.take()))
                            .collect();
                        x.0.extract_read(files).into_iter()
                    }
                    None => Vec::new().into_iter(),
                };
                hashed
                    .into_iter()
                    .map(|(i, r, _)| {
                        let m = if r.is_ok() { metas.next() } else { None };
                        (i, r, m)
                    })
                    .collect::<Vec<Hashed>>()
            })
            .collect()
    };
    let chunks: Vec<&[usize]> = to_hash.chunks(BATCH).collect();
    let mut hashed = chunks.first().map(|c| hash_chunk(c));
    for k in 0..chunks.len() {
        pending.extend(hashed.take().unwrap_or_default());
        let (next, stored) = rayon::join(
            || chunks.get(k + 1).map(|c| hash_chunk(c)),
            || -> Result<()> {
                if !opts.dry_run {
                    let before = report.files.len();
                    store_batch(
                        index,
                        &candidates,
                        &plans,
                        &mut pending,
                        &tag_names,
                        &mut tag_ids,
                        opts,
                        now,
                        &mut report,
                    )?;
                    let done: Vec<(PathBuf, Outcome)> =
                        report.files[before..].iter().map(|f| (f.0.clone(), f.2)).collect();
                    progress.stored(&done);
                }
                Ok(())
            },
        );
        stored?;
        hashed = next;
    }
    progress.finish();
    if opts.dry_run {
        for (i, r, _) in pending.drain(..) {
            match r {
                Ok(_) => {
                    let (id, outcome) = match plans[i] {
                        Plan::Hash(Some(id)) => (Some(id), Outcome::Updated),
                        _ => (None, Outcome::Added),
                    };
                    report.files.push((candidates[i].path.clone(), id, outcome));
                }
                Err(e) => report.failed.push(e),
            }
        }
        for (i, p) in plans.iter().enumerate() {
            if let Plan::Unchanged(id, _) = p {
                report.files.push((candidates[i].path.clone(), Some(*id), Outcome::Unchanged));
            }
        }
        let mut known = Vec::new();
        for n in &tag_names {
            match tags::by_name(index.conn(), n)? {
                Some(t) => known.push(t),
                None => report.tags_created.push(n.clone()),
            }
        }
        // The links the run would add: every tag on a new file; on a known file, each tag
        // it does not carry from this source yet.
        for (_, id, _) in &report.files {
            report.links_added += match id {
                None => tag_names.len() as u64,
                Some(id) => {
                    let mut n = report.tags_created.len() as u64;
                    for t in &known {
                        n += u64::from(!links::exists(index.conn(), *id, *t, &opts.source)?);
                    }
                    n
                }
            };
        }
        return Ok(report);
    }
    // Unchanged files still get the tags (and a fresh `verified_at`).
    let unchanged: Vec<(usize, FileId, bool)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| if let Plan::Unchanged(id, stale) = p { Some((i, *id, *stale)) } else { None })
        .collect();
    for chunk in unchanged.chunks(BATCH * 8) {
        let metas: Vec<(usize, FileId, Meta)> = match &opts.extractor {
            Some(x) => {
                let stale: Vec<(usize, FileId)> = chunk.iter().filter(|c| c.2).map(|&(i, id, _)| (i, id)).collect();
                stale
                    .par_chunks(GROUP)
                    .flat_map_iter(|g| {
                        let paths: Vec<&Path> = g.iter().map(|(i, _)| candidates[*i].path.as_path()).collect();
                        g.iter().zip(x.0.extract_all(&paths)).map(|(&(i, id), m)| (i, id, m)).collect::<Vec<_>>()
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        let known = tag_ids.clone();
        let (ids, created, added) = index.write(|tx| {
            let (ids, created) = match known {
                Some(ids) => (ids, Vec::new()),
                None => ensure_tags(tx, &tag_names, now)?,
            };
            let src = links::source_id(tx, &opts.source)?;
            let mut added = 0;
            for (_, id, _) in chunk {
                files::touch_verified(tx, *id, now)?;
                for t in &ids {
                    added += u64::from(links::link(tx, *id, *t, src, now)?);
                }
            }
            for (i, id, m) in &metas {
                meta::put(tx, *id, &candidates[*i].stat, m, now)?;
            }
            Ok((ids, created, added))
        })?;
        tag_ids = Some(ids);
        report.tags_created.extend(created);
        report.links_added += added;
        for (i, id, _) in chunk {
            report.files.push((candidates[*i].path.clone(), Some(*id), Outcome::Unchanged));
        }
        note_meta(&mut report, metas.iter().map(|(i, _, m)| (&candidates[*i].path, m)));
        let done: Vec<(PathBuf, Outcome)> =
            chunk.iter().map(|(i, _, _)| (candidates[*i].path.clone(), Outcome::Unchanged)).collect();
        progress.stored(&done);
    }
    report.files.sort_by(|a, b| a.0.cmp(&b.0));
    // `include -r DIR` makes DIR a root: a directory trove keeps current.
    if opts.recursive && opts.add_roots {
        for p in &walked.tops {
            let added = crate::ops::roots::add_root(index, p)?;
            if added.new {
                report.roots_added.push(added.path);
            }
        }
    }
    let list = crate::store::roots::list(index.conn())?;
    report.untracked =
        report.files.iter().map(|f| f.0.clone()).filter(|p| !list.iter().any(|r| p.starts_with(&r.path))).collect();
    Ok(report)
}

#[allow(clippy::too_many_arguments, reason = "one internal call site; a struct would only rename the list")]
fn store_batch(
    index: &mut Index,
    candidates: &[Candidate],
    plans: &[Plan],
    pending: &mut Vec<Hashed>,
    tag_names: &[String],
    tag_ids: &mut Option<Vec<crate::TagId>>,
    opts: &IncludeOptions,
    now: i64,
    report: &mut IncludeReport,
) -> Result<()> {
    let batch: Vec<Hashed> = std::mem::take(pending);
    let mut ok = Vec::new();
    for (i, r, m) in batch {
        match r {
            Ok(v) => ok.push((i, v, m)),
            Err(e) => report.failed.push(e),
        }
    }
    if ok.is_empty() {
        return Ok(());
    }
    let known = tag_ids.clone();
    let (done, created, added, ids) = index.write(|tx| {
        let (ids, created) = match known {
            Some(ids) => (ids, Vec::new()),
            None => ensure_tags(tx, tag_names, now)?,
        };
        let src = links::source_id(tx, &opts.source)?;
        let mut done = Vec::new();
        let mut added = 0;
        for (i, o, m) in &ok {
            let path = &candidates[*i].path;
            // Re-check under the write lock: another writer may have added it meanwhile.
            let existing = match plans[*i] {
                Plan::Hash(Some(id)) => Some(id),
                _ => match files::live_by_path(tx, path)? {
                    Some(r) => Some(r.id),
                    // A missing record whose file is back with the same content: revive it
                    // (tags and all) instead of starting a second record.
                    None => files::missing_by_path(tx, path)?.into_iter().find(|m| revives(m, o)).map(|m| m.id),
                },
            };
            let (id, outcome) = match existing {
                Some(id) => {
                    files::update_observation(tx, id, o, now)?;
                    (id, Outcome::Updated)
                }
                None => (files::insert(tx, path, o, now)?, Outcome::Added),
            };
            for t in &ids {
                added += u64::from(links::link(tx, id, *t, src, now)?);
            }
            if let Some(m) = m {
                meta::put(tx, id, &o.stat, m, now)?;
            }
            done.push((path.clone(), Some(id), outcome));
        }
        Ok((done, created, added, ids))
    })?;
    *tag_ids = Some(ids);
    note_meta(report, ok.iter().filter_map(|(i, _, m)| Some((&candidates[*i].path, m.as_ref()?))));
    report.files.extend(done);
    report.tags_created.extend(created);
    report.links_added += added;
    Ok(())
}

/// How many files one hashing task takes at most (and hands to the extractor at once).
const GROUP: usize = 32;
/// How many bytes one hashing task takes at most (a large file is a group of its own, so
/// large files are still hashed side by side).
const GROUP_BYTES: u64 = 1 << 20;

/// `chunk` cut into runs of consecutive files of at most [`GROUP`] files and [`GROUP_BYTES`]
/// bytes (a file larger than that alone).
fn groups<'a>(chunk: &'a [usize], candidates: &[Candidate]) -> Vec<&'a [usize]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (k, &i) in chunk.iter().enumerate() {
        let size = candidates[i].stat.size;
        if k > start && (k - start == GROUP || bytes + size > GROUP_BYTES) {
            out.push(&chunk[start..k]);
            (start, bytes) = (k, 0);
        }
        bytes += size;
    }
    if start < chunk.len() {
        out.push(&chunk[start..]);
    }
    out
}

/// A hashed candidate: its index, the hash result, the metadata read (when extracting).
type Hashed = (usize, Result<Observation>, Option<Meta>);

fn note_meta<'a>(report: &mut IncludeReport, stored: impl Iterator<Item = (&'a PathBuf, &'a Meta)>) {
    for (p, m) in stored {
        report.meta_extracted += 1;
        if let Some(e) = m.error_text() {
            report.meta_failed.push((p.clone(), e));
        }
    }
}
