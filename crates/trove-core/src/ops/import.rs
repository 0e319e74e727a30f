//! Moving a library in: a neutral description of a library ([`Library`]: tags with their
//! names and universal ids, implications, files with their links, pools) and the one
//! writer that merges it into an index ([`apply`]). Every importer (trove's own JSON,
//! awtfdb, TMSU, …) reads its source into a `Library`; this module decides what is new.
//!
//! Merging rules:
//! - a tag with a universal id the index knows is that tag; otherwise a tag one of whose
//!   names the index knows is that tag (reported when the import gave a universal id);
//!   otherwise it is created, with the given universal id when there is one. Names the
//!   index gives to another tag are not added, and reported.
//! - a file is the record living at its path (a missing one with the same content, for a
//!   missing record); otherwise a new record: as described when the description carries
//!   one (trove's own export), else observed on disk (hashed), else a *missing* record
//!   (size 0, hash all zero) so its tags survive and `trove find missing` lists it.
//! - links are added with their source; an existing identical link is left alone, so a
//!   second run of the same import adds nothing.
//! - implications that would close a cycle are refused and reported.
//! - pools are matched by title; members not yet in the pool are appended in order.
//!
//! Writes go in batches, each its own transaction: a killed import leaves whole batches,
//! and running it again finishes the job. A dry run does the same work in one
//! transaction that is rolled back, so its counts are exactly what a real run would do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rusqlite::Connection;

use crate::model::{
    FileId, FileState, Hash, Observation, PoolId, Source, Stat, TagId, TagName, normalize_name_lossy,
    normalize_tag_name, now_unix,
};
use crate::ops::Progress;
use crate::store::{WriteTx, files, links, pools, portable, tags};
use crate::{Error, Index, Result};

/// A library as an importer describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Library {
    /// Every tag the library has; links and implications refer to them by position.
    pub tags: Vec<LibTag>,
    /// (child, parent) positions in `tags`.
    pub implications: Vec<(usize, usize)>,
    /// Every file, tagged or not; pools refer to them by position.
    pub files: Vec<LibFile>,
    /// Ordered collections of files.
    pub pools: Vec<LibPool>,
}

/// A tag: its universal id when the source has one, and every name (one primary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibTag {
    /// The tag's universal id ([`crate::Tag::uid`]), matched before any name.
    pub uid: Option<[u8; 32]>,
    /// Every name, exactly one of them primary; normalised and checked on import.
    pub names: Vec<TagName>,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

/// A file by absolute path, with the record to store when the source has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibFile {
    /// Where the file is (or was), absolute; bytes.
    pub path: PathBuf,
    /// The record to store as is; `None` to hash the file on disk (or, when it is gone,
    /// store a missing record).
    pub record: Option<LibRecord>,
    /// When the file entered the source library, seconds since the epoch; `None` for now.
    pub added_at: Option<i64>,
    /// Its tags.
    pub links: Vec<LibLink>,
}

/// What trove knows about a file without looking at it (trove's own export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibRecord {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// BLAKE3 of the content.
    pub hash: Hash,
    /// The sampled fingerprint ([`crate::hash::fingerprint_of`]).
    pub fingerprint: i64,
    /// SHA-256 of the content, when known.
    pub sha256: Option<[u8; 32]>,
    /// Present, missing or offline, as exported.
    pub state: FileState,
    /// When the content was last confirmed, seconds since the epoch.
    pub verified_at: i64,
}

/// A tag on a file: position in `tags`, who put it there, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibLink {
    /// Position of the tag in [`Library::tags`].
    pub tag: usize,
    /// Who put the tag on the file in the source library.
    pub source: Source,
    /// When, seconds since the epoch; `None` for now.
    pub added_at: Option<i64>,
}

/// A pool: title and members (positions in `files`) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibPool {
    /// The pool's title; an existing pool with this title receives the members.
    pub title: String,
    /// When the pool was made, seconds since the epoch; `None` for now.
    pub created_at: Option<i64>,
    /// Positions in [`Library::files`], in pool order.
    pub files: Vec<usize>,
}

/// How [`apply`] runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Count everything, store nothing.
    pub dry_run: bool,
    /// Files per transaction.
    pub batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { dry_run: false, batch: 2000 }
    }
}

/// What an import did (or, in a dry run, would do). `problems` lists everything that could
/// not be mapped, one line each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Tags that did not exist and were created.
    pub tags_created: u64,
    /// Tags matched to an existing tag by uid or name.
    pub tags_existing: u64,
    /// Names and aliases added to tags.
    pub names_added: u64,
    /// Implications declared.
    pub implications_added: u64,
    /// Implications the index already had.
    pub implications_existing: u64,
    /// New file records.
    pub files_added: u64,
    /// Files matched to a record already in the index.
    pub files_existing: u64,
    /// New records for files not on disk (kept as missing, with their tags).
    pub files_missing: u64,
    /// Tag links added.
    pub links_added: u64,
    /// Links the index already had (same tag, file and source).
    pub links_existing: u64,
    /// Pools created.
    pub pools_created: u64,
    /// Files appended to pools.
    pub pool_entries_added: u64,
    /// Everything that could not be mapped (a name taken by another tag, a refused cycle, an
    /// unreadable file), one line each.
    pub problems: Vec<String>,
}

impl Report {
    /// Whether the import changed (or would change) nothing.
    pub fn is_noop(&self) -> bool {
        self.tags_created == 0
            && self.names_added == 0
            && self.implications_added == 0
            && self.files_added == 0
            && self.files_missing == 0
            && self.links_added == 0
            && self.pools_created == 0
            && self.pool_entries_added == 0
    }
}

/// Runs each batch of writes: its own transaction, or one transaction rolled back at the end.
trait Batches {
    fn conn(&self) -> &Connection;
    fn batch<T>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T>) -> Result<T>;
    fn dry(&self) -> bool;
}

struct Real<'i>(&'i mut Index);

impl Batches for Real<'_> {
    fn conn(&self) -> &Connection {
        self.0.conn()
    }
    fn batch<T>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T>) -> Result<T> {
        self.0.write(f)
    }
    fn dry(&self) -> bool {
        false
    }
}

struct Dry<'t, 'c>(&'t WriteTx<'c>);

impl Batches for Dry<'_, '_> {
    fn conn(&self) -> &Connection {
        self.0
    }
    fn batch<T>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T>) -> Result<T> {
        f(self.0)
    }
    fn dry(&self) -> bool {
        true
    }
}

/// Receives a library in parts, in this order: tags, then implications (positions in the
/// tags), files in batches (their links name tag positions), pools (positions among all
/// the files received). Lets an importer stream a large source instead of holding it.
pub trait Sink {
    /// Receives tags; may be called more than once, positions continue across calls.
    fn tags(&mut self, tags: &[LibTag]) -> Result<()>;
    /// Receives (child, parent) implications between tag positions; cycles are reported,
    /// not stored.
    fn implications(&mut self, implications: &[(usize, usize)]) -> Result<()>;
    /// Receives a batch of files; each batch of [`Options::batch`] files is written in its own
    /// transaction before this returns.
    fn files(&mut self, files: &[LibFile]) -> Result<()>;
    /// Receives pools, whose members are positions among all the files received so far.
    fn pools(&mut self, pools: &[LibPool]) -> Result<()>;
}

/// Merges `lib` into the index.
pub fn apply(index: &mut Index, lib: &Library, opts: &Options, progress: &dyn Progress) -> Result<Report> {
    apply_stream(index, opts, progress, Some(lib.files.len() as u64), &mut |s| {
        s.tags(&lib.tags)?;
        s.implications(&lib.implications)?;
        s.files(&lib.files)?;
        s.pools(&lib.pools)
    })
}

/// Merges a library that `feed` hands over in parts (see [`Sink`]): each batch of files is
/// written (its own transaction) as it comes, so memory stays bounded by the batch.
/// `files_total` is for the progress bar.
pub fn apply_stream(
    index: &mut Index,
    opts: &Options,
    progress: &dyn Progress,
    files_total: Option<u64>,
    feed: &mut dyn FnMut(&mut dyn Sink) -> Result<()>,
) -> Result<Report> {
    if opts.dry_run {
        index.dry_run(|tx| {
            let mut d = Dry(tx);
            let mut s = Stream::new(&mut d, opts, progress, files_total);
            feed(&mut s)?;
            Ok(s.finish())
        })
    } else {
        let mut real = Real(index);
        let mut s = Stream::new(&mut real, opts, progress, files_total);
        feed(&mut s)?;
        Ok(s.finish())
    }
}

/// The state of an import between the parts it receives.
struct Stream<'b, 'p, B: Batches> {
    b: &'b mut B,
    opts: Options,
    progress: &'p dyn Progress,
    files_total: Option<u64>,
    r: Report,
    tags: Vec<LibTag>,
    tag_ids: Vec<Option<TagId>>,
    file_ids: Vec<Option<FileId>>,
    source_ids: HashMap<Source, i64>,
    files_begun: bool,
}

impl<'b, 'p, B: Batches> Stream<'b, 'p, B> {
    fn new(b: &'b mut B, opts: &Options, progress: &'p dyn Progress, files_total: Option<u64>) -> Self {
        Stream {
            b,
            opts: opts.clone(),
            progress,
            files_total,
            r: Report::default(),
            tags: Vec::new(),
            tag_ids: Vec::new(),
            file_ids: Vec::new(),
            source_ids: HashMap::new(),
            files_begun: false,
        }
    }

    fn finish(mut self) -> Report {
        if self.files_begun {
            self.progress.finish();
        }
        if self.r.files_missing > 0 {
            self.r.problems.push(format!(
                "{} file(s) are not on disk: kept as missing records with their tags (`trove find missing` lists them)",
                self.r.files_missing
            ));
        }
        self.r
    }
}

impl<B: Batches> Sink for Stream<'_, '_, B> {
    fn tags(&mut self, tags: &[LibTag]) -> Result<()> {
        let ids = import_tags(self.b, tags, &mut self.r, self.progress)?;
        self.tags.extend_from_slice(tags);
        self.tag_ids.extend(ids);
        Ok(())
    }

    fn implications(&mut self, implications: &[(usize, usize)]) -> Result<()> {
        import_implications(self.b, &self.tags, implications, &self.tag_ids, &mut self.r)
    }

    fn files(&mut self, files: &[LibFile]) -> Result<()> {
        if !self.files_begun {
            self.files_begun = true;
            self.progress.begin(super::Phase::FILES, self.files_total);
        }
        for chunk in files.chunks(self.opts.batch.max(1)) {
            let ids = import_file_batch(self.b, chunk, &self.tag_ids, &mut self.source_ids, &mut self.r)?;
            self.file_ids.extend(ids);
            self.progress.advance(chunk.len() as u64);
        }
        Ok(())
    }

    fn pools(&mut self, pools: &[LibPool]) -> Result<()> {
        import_pools(self.b, pools, &self.file_ids, &mut self.r)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn tag_label(t: &LibTag) -> String {
    let name = t.names.iter().find(|n| n.primary).or(t.names.first()).map_or("(no name)", |n| n.name.as_str());
    match t.uid {
        Some(u) => format!("{name} ({})", &hex(&u)[..16]),
        None => name.to_string(),
    }
}

fn import_tags(
    b: &mut impl Batches,
    tags: &[LibTag],
    r: &mut Report,
    progress: &dyn Progress,
) -> Result<Vec<Option<TagId>>> {
    progress.begin(super::Phase::TAGS, Some(tags.len() as u64));
    let now = now_unix();
    let mut ids = Vec::with_capacity(tags.len());
    for chunk in tags.chunks(5000) {
        let (got, rep) = b.batch(|c| {
            let mut rep = Report::default();
            let mut got = Vec::with_capacity(chunk.len());
            for t in chunk {
                got.push(import_tag(c, t, now, &mut rep)?);
            }
            Ok((got, rep))
        })?;
        ids.extend(got);
        r.tags_created += rep.tags_created;
        r.tags_existing += rep.tags_existing;
        r.names_added += rep.names_added;
        r.problems.extend(rep.problems);
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    Ok(ids)
}

fn import_tag(c: &WriteTx<'_>, t: &LibTag, now: i64, r: &mut Report) -> Result<Option<TagId>> {
    // Valid names, primary first.
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    let mut ordered: Vec<&TagName> = t.names.iter().filter(|n| n.primary).collect();
    ordered.extend(t.names.iter().filter(|n| !n.primary));
    for n in ordered {
        match normalize_tag_name(&n.name) {
            Ok(v) if !names.iter().any(|(x, _)| crate::model::fold(x) == crate::model::fold(&v)) => {
                names.push((v, n.lang.clone()));
            }
            Ok(_) => {}
            Err(e) => r.problems.push(format!("tag {}: {e}; name left out", tag_label(t))),
        }
    }
    if names.is_empty() {
        r.problems.push(format!("tag {}: no usable name; left out with its links", tag_label(t)));
        return Ok(None);
    }
    let by_uid = match &t.uid {
        Some(u) => portable::tag_by_uid(c, u)?,
        None => None,
    };
    let id = match by_uid {
        Some(id) => {
            r.tags_existing += 1;
            id
        }
        None => {
            let mut owner = None;
            for (n, _) in &names {
                if let Some(o) = tags::by_name(c, n)? {
                    owner = Some(o);
                    break;
                }
            }
            match owner {
                Some(o) => {
                    r.tags_existing += 1;
                    if t.uid.is_some() {
                        r.problems.push(format!(
                            "tag {}: merged into the tag {} that already has this name",
                            tag_label(t),
                            tags::primary_name(c, o)?
                        ));
                    }
                    o
                }
                None => {
                    let uid = match t.uid {
                        Some(u) => u,
                        None => crate::store::random_uid()?,
                    };
                    r.tags_created += 1;
                    let (n, lang) = &names[0];
                    portable::create_tag(c, &uid, n, lang.as_deref(), t.created_at.unwrap_or(now))?
                }
            }
        }
    };
    for (n, lang) in &names {
        match tags::by_name(c, n)? {
            None => {
                tags::add_alias(c, id, n, lang.as_deref())?;
                r.names_added += 1;
            }
            Some(o) if o == id => {}
            Some(o) => r.problems.push(format!(
                "tag {}: the name {n} belongs to the tag {}; not added",
                tag_label(t),
                tags::primary_name(c, o)?
            )),
        }
    }
    Ok(Some(id))
}

fn import_implications(
    b: &mut impl Batches,
    tags: &[LibTag],
    implications: &[(usize, usize)],
    ids: &[Option<TagId>],
    r: &mut Report,
) -> Result<()> {
    let label = |i: usize| tags.get(i).map_or_else(|| format!("#{i}"), tag_label);
    let rep = b.batch(|c| {
        let mut rep = Report::default();
        for &(ch, p) in implications {
            let (Some(Some(a)), Some(Some(bb))) = (ids.get(ch), ids.get(p)) else {
                rep.problems.push(format!("implication {} ⇒ {}: a tag was left out; skipped", label(ch), label(p)));
                continue;
            };
            if a == bb {
                rep.problems.push(format!("implication {} ⇒ {}: both name one tag here; skipped", label(ch), label(p)));
                continue;
            }
            match tags::imply(c, *a, *bb) {
                Ok(true) => rep.implications_added += 1,
                Ok(false) => rep.implications_existing += 1,
                Err(e @ Error::ImplicationCycle { .. }) => rep.problems.push(format!("implication refused: {e}")),
                Err(e) => return Err(e),
            }
        }
        Ok(rep)
    })?;
    r.implications_added += rep.implications_added;
    r.implications_existing += rep.implications_existing;
    r.problems.extend(rep.problems);
    Ok(())
}

/// What to do with one file of a batch, decided before the transaction.
enum Plan {
    /// Use this existing record.
    Existing(FileId),
    /// Insert this record.
    New(Observation, FileState, i64),
    /// Not on disk: a missing record.
    Missing,
    /// Left out (reported).
    Skip,
}

/// The stat of a file on disk when it still matches the described size and mtime.
fn matching_stat(path: &Path, rec: &LibRecord) -> Stat {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {
            let s = Stat::from_metadata(&m);
            if s.size == rec.size && s.mtime_ns == rec.mtime_ns {
                return s;
            }
            Stat { size: rec.size, mtime_ns: rec.mtime_ns, device: 0, inode: 0 }
        }
        _ => Stat { size: rec.size, mtime_ns: rec.mtime_ns, device: 0, inode: 0 },
    }
}

fn existing_record(c: &Connection, f: &LibFile) -> Result<Option<FileId>> {
    match &f.record {
        Some(rec) if rec.state == FileState::Missing => {
            Ok(files::missing_by_path(c, &f.path)?.into_iter().find(|m| m.hash == rec.hash).map(|m| m.id))
        }
        Some(_) => Ok(files::live_by_path(c, &f.path)?.map(|m| m.id)),
        None => match files::live_by_path(c, &f.path)? {
            Some(m) => Ok(Some(m.id)),
            None => Ok(files::missing_by_path(c, &f.path)?.first().map(|m| m.id)),
        },
    }
}

/// One batch of files with their links, in one transaction.
fn import_file_batch(
    b: &mut impl Batches,
    chunk: &[LibFile],
    tag_ids: &[Option<TagId>],
    source_ids: &mut HashMap<Source, i64>,
    r: &mut Report,
) -> Result<Vec<Option<FileId>>> {
    let now = now_unix();
    {
        // Decide outside the transaction; hashing happens here, in parallel.
        let mut plans: Vec<Option<Plan>> = Vec::with_capacity(chunk.len());
        for f in chunk {
            if !f.path.is_absolute() {
                r.problems.push(format!("{}: not an absolute path; left out with its tags", f.path.display()));
                plans.push(Some(Plan::Skip));
                continue;
            }
            plans.push(existing_record(b.conn(), f)?.map(Plan::Existing));
        }
        let dry = b.dry();
        let observed: Vec<Option<Plan>> = chunk
            .par_iter()
            .zip(plans.par_iter())
            .map(|(f, p)| {
                if p.is_some() {
                    return None;
                }
                Some(match &f.record {
                    Some(rec) => {
                        let o = Observation {
                            stat: matching_stat(&f.path, rec),
                            hash: rec.hash,
                            fingerprint: rec.fingerprint,
                            sha256: rec.sha256,
                        };
                        Plan::New(o, rec.state, rec.verified_at)
                    }
                    None if dry => match std::fs::metadata(&f.path) {
                        Ok(m) if m.is_file() => {
                            let o = Observation {
                                stat: Stat::from_metadata(&m),
                                hash: Hash([0; 32]),
                                fingerprint: 0,
                                sha256: None,
                            };
                            Plan::New(o, FileState::Present, now)
                        }
                        Ok(_) => Plan::Skip,
                        Err(_) => Plan::Missing,
                    },
                    None => match crate::hash::hash_file(&f.path) {
                        Ok(o) => Plan::New(o, FileState::Present, now),
                        Err(Error::NoSuchFile(_)) => Plan::Missing,
                        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Plan::Missing,
                        Err(_) => Plan::Skip,
                    },
                })
            })
            .collect();
        for (i, o) in observed.into_iter().enumerate() {
            if let Some(p) = o {
                if matches!(p, Plan::Skip) && plans[i].is_none() {
                    r.problems.push(format!(
                        "{}: not a readable regular file; left out with its tags",
                        chunk[i].path.display()
                    ));
                }
                plans[i] = Some(p);
            }
        }
        let (ids, rep) = b.batch(|c| {
            let mut rep = Report::default();
            let mut ids: Vec<Option<FileId>> = Vec::with_capacity(chunk.len());
            for (f, p) in chunk.iter().zip(&plans) {
                let added = f.added_at.unwrap_or(now);
                let id = match p {
                    Some(Plan::Existing(id)) => {
                        rep.files_existing += 1;
                        *id
                    }
                    Some(Plan::New(o, state, verified)) => {
                        rep.files_added += 1;
                        portable::insert_record(c, &f.path, o, *state, added, *verified)?
                    }
                    Some(Plan::Missing) => {
                        rep.files_missing += 1;
                        let o = Observation {
                            stat: Stat { size: 0, mtime_ns: 0, device: 0, inode: 0 },
                            hash: Hash([0; 32]),
                            fingerprint: 0,
                            sha256: None,
                        };
                        portable::insert_record(c, &f.path, &o, FileState::Missing, added, added)?
                    }
                    Some(Plan::Skip) | None => {
                        ids.push(None);
                        continue;
                    }
                };
                for l in &f.links {
                    let Some(Some(t)) = tag_ids.get(l.tag) else { continue };
                    let s = match source_ids.get(&l.source) {
                        Some(s) => *s,
                        None => {
                            let s = links::source_id(c, &l.source)?;
                            source_ids.insert(l.source.clone(), s);
                            s
                        }
                    };
                    if links::link(c, id, *t, s, l.added_at.unwrap_or(now))? {
                        rep.links_added += 1;
                    } else {
                        rep.links_existing += 1;
                    }
                }
                ids.push(Some(id));
            }
            Ok((ids, rep))
        })?;
        r.files_added += rep.files_added;
        r.files_existing += rep.files_existing;
        r.files_missing += rep.files_missing;
        r.links_added += rep.links_added;
        r.links_existing += rep.links_existing;
        Ok(ids)
    }
}

fn import_pools(b: &mut impl Batches, pools: &[LibPool], file_ids: &[Option<FileId>], r: &mut Report) -> Result<()> {
    let now = now_unix();
    let rep = b.batch(|c| {
        let mut rep = Report::default();
        for p in pools {
            let title = normalize_name_lossy(&p.title);
            if title.is_empty() || title.chars().any(char::is_control) {
                rep.problems.push(format!("pool {:?}: not a usable title; left out", p.title));
                continue;
            }
            let id: PoolId = match pools::by_title(c, &title)? {
                Some((id, _)) => id,
                None => {
                    rep.pools_created += 1;
                    portable::create_pool(c, &title, p.created_at.unwrap_or(now))?
                }
            };
            for &m in &p.files {
                match file_ids.get(m) {
                    Some(Some(f)) => {
                        if pools::append(c, id, *f)? {
                            rep.pool_entries_added += 1;
                        }
                    }
                    _ => rep.problems.push(format!("pool {title}: a member was left out (see above)")),
                }
            }
        }
        Ok(rep)
    })?;
    r.pools_created += rep.pools_created;
    r.pool_entries_added += rep.pool_entries_added;
    r.problems.extend(rep.problems);
    Ok(())
}
