//! `rm`: forget files. The disk is never touched; the records, their links and pool
//! entries go. Planned first (`plan`) so the caller can show what would be lost and ask
//! before anything is written.

use std::path::PathBuf;

use crate::model::FileId;
use crate::ops::tagging::records_for;
use crate::store::{files, links};
use crate::{Error, Index, Result};

/// What a removal would forget.
#[derive(Debug, Default)]
pub struct RemovePlan {
    /// The records to forget.
    pub ids: Vec<FileId>,
    /// Tag links those records carry (all sources): these are lost with them.
    pub links: u64,
    /// Paths given that name no record.
    pub not_indexed: Vec<PathBuf>,
    /// Paths that could not be resolved (e.g. a directory without `recursive`).
    pub failed: Vec<Error>,
}

/// What [`apply`] (or [`remove`]) forgot. Files on disk are never touched.
#[derive(Debug, Default)]
pub struct RemoveReport {
    /// Records forgotten.
    pub removed: usize,
    /// Tag links lost with them.
    pub links: u64,
    /// Paths given that name no record.
    pub not_indexed: Vec<PathBuf>,
    /// Paths that could not be resolved (e.g. a directory without `recursive`).
    pub failed: Vec<Error>,
}

/// The records `remove` would forget, without writing anything.
pub fn plan(index: &Index, paths: &[PathBuf], recursive: bool) -> Result<RemovePlan> {
    let (ids, not_indexed, failed) = records_for(index, paths, recursive)?;
    let links = links::count_for_files(index.conn(), &ids)?;
    Ok(RemovePlan { ids, links, not_indexed, failed })
}

/// Forgets the planned records, in one transaction.
pub fn apply(index: &mut Index, plan: RemovePlan) -> Result<RemoveReport> {
    let n = index.write(|tx| {
        for id in &plan.ids {
            files::delete(tx, *id)?;
        }
        Ok(plan.ids.len())
    })?;
    Ok(RemoveReport { removed: n, links: plan.links, not_indexed: plan.not_indexed, failed: plan.failed })
}

/// Forgets the records of `paths` (a directory's records with `recursive`) and their tag
/// links, in one transaction: [`plan`] then [`apply`].
pub fn remove(index: &mut Index, paths: &[PathBuf], recursive: bool) -> Result<RemoveReport> {
    let p = plan(index, paths, recursive)?;
    apply(index, p)
}
