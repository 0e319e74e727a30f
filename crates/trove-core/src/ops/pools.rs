//! Pools: titled, ordered collections of files.

use std::path::PathBuf;

use crate::model::{FileRecord, PoolId, normalize_name_lossy, now_unix};
use crate::ops::tagging::records_for;
use crate::store::pools as sp;
use crate::{Error, Index, Result};

fn title(t: &str) -> Result<String> {
    let n = normalize_name_lossy(t);
    if n.is_empty() || n.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("{t:?}: not a usable pool title")));
    }
    Ok(n)
}

fn resolve(c: &rusqlite::Connection, t: &str) -> Result<PoolId> {
    sp::by_title(c, t)?.map(|p| p.0).ok_or_else(|| Error::UnknownPool(t.to_string()))
}

pub fn create(index: &mut Index, t: &str) -> Result<PoolId> {
    let t = title(t)?;
    index.write(|tx| sp::create(tx, &t, now_unix()))
}

pub fn delete(index: &mut Index, t: &str) -> Result<()> {
    index.write(|tx| {
        let p = resolve(tx, t)?;
        sp::delete(tx, p)
    })
}

/// Appends files (by path, in the order given) to a pool; returns (added, already there,
/// paths not indexed).
pub fn add(index: &mut Index, t: &str, paths: &[PathBuf]) -> Result<(usize, usize, Vec<PathBuf>)> {
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for p in paths {
        let (found, missing, _) = records_for(index, std::slice::from_ref(p), true)?;
        ids.extend(found);
        unknown.extend(missing);
    }
    let (added, dup) = index.write(|tx| {
        let pool = resolve(tx, t)?;
        let (mut added, mut dup) = (0, 0);
        for id in &ids {
            if sp::append(tx, pool, *id)? { added += 1 } else { dup += 1 }
        }
        Ok((added, dup))
    })?;
    Ok((added, dup, unknown))
}

/// Removes files from a pool; returns how many were in it.
pub fn remove(index: &mut Index, t: &str, paths: &[PathBuf]) -> Result<(usize, Vec<PathBuf>)> {
    let (ids, unknown, _) = records_for(index, paths, true)?;
    let n = index.write(|tx| {
        let pool = resolve(tx, t)?;
        let mut n = 0;
        for id in &ids {
            n += usize::from(sp::remove(tx, pool, *id)?);
        }
        Ok(n)
    })?;
    Ok((n, unknown))
}

pub fn show(index: &Index, t: &str) -> Result<(String, Vec<FileRecord>)> {
    let (id, title) = sp::by_title(index.conn(), t)?.ok_or_else(|| Error::UnknownPool(t.to_string()))?;
    Ok((title, sp::files(index.conn(), id)?))
}

pub fn list(index: &Index) -> Result<Vec<(PoolId, String, u64)>> {
    sp::list(index.conn())
}
