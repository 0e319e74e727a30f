//! Pools: titled, ordered collections of files.

use std::path::PathBuf;

use crate::model::{FileId, FileRecord, PoolId, normalize_name_lossy, now_unix};
use crate::ops::tagging::records_for;
use crate::store::pools as sp;
use crate::{Error, Index, Result};

fn title(t: &str) -> Result<String> {
    let n = normalize_name_lossy(t);
    if n.is_empty() || n.chars().any(char::is_control) {
        return Err(Error::BadPoolTitle(t.to_string()));
    }
    Ok(n)
}

fn resolve(c: &rusqlite::Connection, t: &str) -> Result<PoolId> {
    sp::by_title(c, t)?.map(|p| p.0).ok_or_else(|| Error::UnknownPool(t.to_string()))
}

/// Creates an empty pool titled `t` (normalised; titles are unique, compared folded).
pub fn create(index: &mut Index, t: &str) -> Result<PoolId> {
    let t = title(t)?;
    index.write(|tx| sp::create(tx, &t, now_unix()))
}

/// Deletes a pool; returns how many files it held (they stay indexed).
pub fn delete(index: &mut Index, t: &str) -> Result<usize> {
    index.write(|tx| {
        let p = resolve(tx, t)?;
        let n = sp::files(tx, p)?.len();
        sp::delete(tx, p)?;
        Ok(n)
    })
}

/// What `add` and `remove` did: files changed, files that were already (or not) there,
/// paths with no record, and directories given without `recursive`.
#[derive(Debug, Default)]
pub struct PoolEdit {
    /// Files added to (or removed from) the pool.
    pub changed: usize,
    /// Files already in the pool (for `add`) or not in it (for `remove`).
    pub unchanged: usize,
    /// Paths that name no record.
    pub not_indexed: Vec<PathBuf>,
    /// Paths that could not be resolved, e.g. a directory without `recursive`.
    pub failed: Vec<Error>,
}

/// Appends files (by path, in the order given; a directory's files with `recursive`) to
/// a pool. `unchanged` counts files already in it.
pub fn add(index: &mut Index, t: &str, paths: &[PathBuf], recursive: bool) -> Result<PoolEdit> {
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    let mut failed = Vec::new();
    for p in paths {
        let (found, missing, errors) = records_for(index, std::slice::from_ref(p), recursive)?;
        ids.extend(found);
        unknown.extend(missing);
        failed.extend(errors);
    }
    let (added, dup) = index.write(|tx| {
        let pool = resolve(tx, t)?;
        let (mut added, mut dup) = (0, 0);
        for id in &ids {
            if sp::append(tx, pool, *id)? { added += 1 } else { dup += 1 }
        }
        Ok((added, dup))
    })?;
    Ok(PoolEdit { changed: added, unchanged: dup, not_indexed: unknown, failed })
}

/// What [`edit_ids`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdEdit {
    /// Files appended to the pool (those already in it are not counted).
    pub appended: usize,
    /// Files removed from it (those not in it are not counted).
    pub removed: usize,
}

/// A pool with its size, as [`list`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSummary {
    /// The pool's id.
    pub id: PoolId,
    /// Its title as stored.
    pub title: String,
    /// How many files it holds.
    pub files: u64,
}

/// A pool one file is in, as [`of_file`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The pool's id.
    pub pool: PoolId,
    /// Its title as stored.
    pub title: String,
    /// The file's 1-based place in the pool's order.
    pub place: u64,
}

/// A pool's title as stored and its files in pool order, as [`show`] gives it.
#[derive(Debug, Clone)]
pub struct PoolContents {
    /// The title as stored (the one asked for may differ in case).
    pub title: String,
    /// The files, in pool order.
    pub files: Vec<FileRecord>,
}

/// Appends files by record id (in the order given) and removes others, in one
/// transaction. Ids with no record are an error naming them.
pub fn edit_ids(index: &mut Index, t: &str, add: &[FileId], remove: &[FileId]) -> Result<IdEdit> {
    index.write(|tx| {
        let pool = resolve(tx, t)?;
        for id in add.iter().chain(remove) {
            if crate::store::files::by_id(tx, *id)?.is_none() {
                return Err(Error::NoSuchId(*id));
            }
        }
        let (mut added, mut removed) = (0, 0);
        for id in add {
            added += usize::from(sp::append(tx, pool, *id)?);
        }
        for id in remove {
            removed += usize::from(sp::remove(tx, pool, *id)?);
        }
        Ok(IdEdit { appended: added, removed })
    })
}

/// Removes files from a pool. `unchanged` counts files that were not in it.
pub fn remove(index: &mut Index, t: &str, paths: &[PathBuf], recursive: bool) -> Result<PoolEdit> {
    let (ids, unknown, failed) = records_for(index, paths, recursive)?;
    let n = index.write(|tx| {
        let pool = resolve(tx, t)?;
        let mut n = 0;
        for id in &ids {
            n += usize::from(sp::remove(tx, pool, *id)?);
        }
        Ok(n)
    })?;
    Ok(PoolEdit { changed: n, unchanged: ids.len() - n, not_indexed: unknown, failed })
}

/// The pool titled `t`: its title as stored and its files in pool order.
pub fn show(index: &Index, t: &str) -> Result<PoolContents> {
    let (id, title) = sp::by_title(index.conn(), t)?.ok_or_else(|| Error::UnknownPool(t.to_string()))?;
    Ok(PoolContents { title, files: sp::files(index.conn(), id)? })
}

/// Every pool with its number of files, by folded title.
pub fn list(index: &Index) -> Result<Vec<PoolSummary>> {
    Ok(sp::list(index.conn())?.into_iter().map(|(id, title, files)| PoolSummary { id, title, files }).collect())
}

/// The pools `file` is in, with its place in each, by title.
pub fn of_file(index: &Index, file: FileId) -> Result<Vec<Membership>> {
    Ok(sp::of_file(index.conn(), file)?
        .into_iter()
        .map(|(pool, title, place)| Membership { pool, title, place })
        .collect())
}
