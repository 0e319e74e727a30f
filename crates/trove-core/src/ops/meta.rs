//! Metadata: read what was extracted, list extraction failures, re-extract (`meta refresh`).
//!
//! Extraction runs outside any transaction, in parallel (rayon), in chunks; each chunk's
//! results are stored in one short write, so a killed refresh keeps the chunks it finished.

use std::path::Path;

use rayon::prelude::*;

use crate::meta::{Extractor, Meta, StoredMeta};
use crate::model::{FileId, FileRecord, FileState, Stat, now_unix};
use crate::ops::Progress;
use crate::store::meta;
use crate::{Index, Result};

/// Files extracted per write transaction.
const BATCH: usize = 256;
/// How many files are handed to the extractor at once.
const GROUP: usize = 32;

/// The metadata stored for a file, if any was extracted.
pub fn get(index: &Index, id: FileId) -> Result<Option<StoredMeta>> {
    meta::get(index.conn(), id)
}

/// A live file whose last metadata extraction failed, as [`failures`] gives it.
#[derive(Debug, Clone)]
pub struct MetaFailure {
    /// The file.
    pub file: FileRecord,
    /// What the extractor said.
    pub error: String,
}

/// How much of the library has metadata, as [`coverage`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Live files with stored metadata.
    pub with: u64,
    /// Live files without any.
    pub without: u64,
}

/// Live files whose last extraction failed, with the error.
pub fn failures(index: &Index) -> Result<Vec<MetaFailure>> {
    Ok(meta::failures(index.conn())?.into_iter().map(|(file, error)| MetaFailure { file, error }).collect())
}

/// How many live files have metadata and how many have none.
pub fn coverage(index: &Index) -> Result<Coverage> {
    let (with, without) = meta::coverage(index.conn())?;
    Ok(Coverage { with, without })
}

/// Whether the stored metadata was read from the file as it is now (same size and mtime).
pub fn is_current(stored: &StoredMeta, stat: &Stat) -> bool {
    stored.size == stat.size && stored.mtime_ns == stat.mtime_ns
}

/// What [`refresh`] did.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Files extracted and stored.
    pub refreshed: u64,
    /// Of those, how many recorded an error.
    pub failed: u64,
    /// Records skipped because they are missing or offline, or their file could not be
    /// `stat`ed.
    pub skipped: u64,
}

/// Re-extracts metadata for `records` (present ones; others are skipped) and stores it.
pub fn refresh(
    index: &mut Index,
    records: &[FileRecord],
    extractor: &dyn Extractor,
    progress: &dyn Progress,
) -> Result<RefreshReport> {
    let mut report = RefreshReport::default();
    progress.begin(super::Phase::EXTRACTING, Some(records.len() as u64));
    for chunk in records.chunks(BATCH) {
        // In groups, each handed to the extractor at once (one thread hand-off a group).
        let done: Vec<(FileId, Option<(Stat, Meta)>)> = chunk
            .par_chunks(GROUP)
            .flat_map_iter(|g| {
                let stats: Vec<Option<Stat>> = g
                    .iter()
                    .map(|r| {
                        (r.state == FileState::Present)
                            .then(|| std::fs::symlink_metadata(&r.path).ok().filter(std::fs::Metadata::is_file))
                            .flatten()
                            .map(|m| Stat::from_metadata(&m))
                    })
                    .collect();
                let paths: Vec<&Path> =
                    g.iter().zip(&stats).filter(|(_, s)| s.is_some()).map(|(r, _)| r.path.as_path()).collect();
                let mut metas = extractor.extract_all(&paths).into_iter();
                progress.advance(g.len() as u64);
                g.iter().zip(stats).map(|(r, s)| (r.id, s.and_then(|s| Some((s, metas.next()?))))).collect::<Vec<_>>()
            })
            .collect();
        let now = now_unix();
        let (n, failed) = index.write(|tx| {
            let (mut n, mut failed) = (0, 0);
            for (id, out) in &done {
                if let Some((stat, m)) = out {
                    meta::put(tx, *id, stat, m, now)?;
                    n += 1;
                    failed += u64::from(!m.errors.is_empty());
                }
            }
            Ok((n, failed))
        })?;
        report.refreshed += n;
        report.failed += failed;
        report.skipped += done.len() as u64 - n;
    }
    progress.finish();
    Ok(report)
}
