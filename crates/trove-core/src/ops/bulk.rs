//! The bulk path: load many files, tags, links and implications at once, without touching
//! the disk the files would live on (imports, the benchmark generator).
//!
//! Same rules as every other write: names are normalised and checked, implications are
//! refused when they would make a cycle, links record their source. Differences are only
//! in speed: a large page cache, prepared statements, and one transaction per `chunk`
//! files, so a huge load neither holds the write lock for minutes nor grows the WAL without
//! bound.

use std::path::Path;

use crate::meta::Meta;
use crate::model::{Observation, Source, TagId, now_unix};
use crate::ops::Progress;
use crate::store::{bulk, files, links, meta, tags};
use crate::{Index, Result};

/// One file to load: its path, what was (or would be) observed, and indexes into the tag
/// list given to [`BulkLoad::tags`].
pub struct BulkFile<'a> {
    /// The absolute path the record gets (bytes; nothing is read from it).
    pub path: &'a Path,
    /// Its stat, hash and fingerprint, as stored.
    pub observation: Observation,
    /// Positions in the tag list given to [`BulkLoad::tags`].
    pub tags: &'a [u32],
}

/// A file waiting for the next chunk: path bytes, observation, tag positions, metadata.
type Pending = (Vec<u8>, Observation, Vec<u32>, Option<Meta>);

/// A bulk load in progress. Its writes leave the posting lists to one rebuild in
/// [`BulkLoad::finish`]; queries meanwhile use plain SQL, and a load that stops early leaves
/// the rebuild to the next write.
pub struct BulkLoad<'i> {
    index: &'i mut Index,
    tag_ids: Vec<TagId>,
    source: i64,
    chunk: usize,
    pending: Vec<Pending>,
    /// File records written so far.
    pub files: u64,
    /// Tag links written so far.
    pub links: u64,
}

impl<'i> BulkLoad<'i> {
    /// Starts a load whose links come from `source`. `cache_mib` sizes SQLite's page cache
    /// for this connection while loading.
    pub fn new(index: &'i mut Index, source: &Source, cache_mib: i64) -> Result<Self> {
        bulk::set_cache_kib(index.conn(), cache_mib * 1024)?;
        index.defer_postings(true);
        let src = index.write(|tx| links::source_id(tx, source))?;
        Ok(BulkLoad { index, tag_ids: Vec::new(), source: src, chunk: 50_000, pending: Vec::new(), files: 0, links: 0 })
    }

    /// Creates (or finds) every tag, in order; files refer to them by position.
    pub fn tags(&mut self, names: &[String], progress: &dyn Progress) -> Result<()> {
        let names = crate::ops::include::check_tag_names(names)?;
        progress.begin(super::Phase::TAGS, Some(names.len() as u64));
        let now = now_unix();
        for chunk in names.chunks(20_000) {
            let ids = self.index.write(|tx| {
                let mut ids = Vec::with_capacity(chunk.len());
                for n in chunk {
                    ids.push(match tags::by_name(tx, n)? {
                        Some(id) => id,
                        None => tags::create(tx, n, now)?,
                    });
                }
                Ok(ids)
            })?;
            self.tag_ids.extend(ids);
            progress.advance(chunk.len() as u64);
        }
        progress.finish();
        Ok(())
    }

    /// Declares implications between tags (positions in the tag list); cycles are refused.
    pub fn implications(&mut self, pairs: &[(u32, u32)]) -> Result<()> {
        let ids = self.tag_ids.clone();
        self.index.write(|tx| {
            for (c, p) in pairs {
                tags::imply(tx, ids[*c as usize], ids[*p as usize])?;
            }
            Ok(())
        })
    }

    /// Queues a file; every `chunk` files are written in one transaction (the rest in
    /// [`BulkLoad::finish`]).
    pub fn add(&mut self, f: BulkFile<'_>) -> Result<()> {
        self.push(f, None)
    }

    /// Adds a file with its metadata, stored as if read from the file as observed (the
    /// benchmark's libraries carry made-up measurements and fields).
    pub fn add_with_meta(&mut self, f: BulkFile<'_>, m: Meta) -> Result<()> {
        self.push(f, Some(m))
    }

    fn push(&mut self, f: BulkFile<'_>, m: Option<Meta>) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        self.pending.push((f.path.as_os_str().as_bytes().to_vec(), f.observation, f.tags.to_vec(), m));
        if self.pending.len() >= self.chunk {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let now = now_unix();
        let (tag_ids, source) = (&self.tag_ids, self.source);
        let n = self.index.write(|tx| {
            let mut n = 0u64;
            for (path, o, tags, m) in &batch {
                let id = files::insert(tx, &crate::paths::from_bytes(path), o, now)?;
                if let Some(m) = m {
                    meta::put(tx, id, &o.stat, m, now)?;
                }
                for t in tags {
                    bulk::insert_link(tx, id, tag_ids[*t as usize].0, source, now)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        self.files += batch.len() as u64;
        self.links += n;
        Ok(())
    }

    /// Stores what is pending, refreshes planner statistics and checkpoints the WAL. With
    /// `compact`, rewrites the file in key order afterwards (a load inserts links in file
    /// order, which leaves the tag-ordered B-tree pages part empty).
    pub fn finish(mut self, compact: bool) -> Result<(u64, u64)> {
        self.flush()?;
        // One rebuild of the posting lists for the whole load.
        self.index.defer_postings(false);
        self.index.write(|_| Ok(()))?;
        bulk::analyze(self.index.conn())?;
        if compact {
            bulk::vacuum(self.index.conn())?;
        }
        bulk::checkpoint(self.index.conn())?;
        Ok((self.files, self.links))
    }
}

impl Drop for BulkLoad<'_> {
    fn drop(&mut self) {
        self.index.defer_postings(false);
    }
}
