//! Pools: titled, ordered lists of files. A file appears at most once per pool.

use super::WriteTx;
use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{FileId, FileRecord, PoolId, fold};
use crate::{Error, Result};

pub fn by_title(c: &Connection, title: &str) -> Result<Option<(PoolId, String)>> {
    Ok(c.prepare_cached("SELECT id, title FROM pools WHERE folded = ?1")?
        .query_row([fold(title)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn create(c: &WriteTx<'_>, title: &str, now: i64) -> Result<PoolId> {
    if by_title(c, title)?.is_some() {
        return Err(Error::PoolExists(title.to_string()));
    }
    // Ids are never reused (migration 0010): the operation log names pools by id.
    c.prepare_cached(
        "INSERT INTO pools (id, title, folded, created_at) VALUES (max(coalesce((SELECT max(id) FROM pools), 0), (SELECT high FROM row_ids WHERE tbl = 'pools')) + 1, ?1, ?2, ?3)",
    )?.execute(params![
        title,
        fold(title),
        now
    ])?;
    Ok(PoolId(c.last_insert_rowid()))
}

pub fn delete(c: &WriteTx<'_>, pool: PoolId) -> Result<()> {
    c.prepare_cached("DELETE FROM pools WHERE id = ?1")?.execute([pool])?;
    Ok(())
}

/// Appends `file` at the end; false if it is already in the pool.
pub fn append(c: &WriteTx<'_>, pool: PoolId, file: FileId) -> Result<bool> {
    let exists = c
        .prepare_cached("SELECT 1 FROM pool_files WHERE pool_id = ?1 AND file_id = ?2")?
        .query_row(params![pool, file], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT INTO pool_files (pool_id, position, file_id)
         VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM pool_files WHERE pool_id = ?1), ?2)",
    )?
    .execute(params![pool, file])?;
    Ok(true)
}

/// Removes `file` from the pool and closes the gap; false if it was not there.
pub fn remove(c: &WriteTx<'_>, pool: PoolId, file: FileId) -> Result<bool> {
    let pos: Option<i64> = c
        .prepare_cached("SELECT position FROM pool_files WHERE pool_id = ?1 AND file_id = ?2")?
        .query_row(params![pool, file], |r| r.get(0))
        .optional()?;
    let Some(pos) = pos else { return Ok(false) };
    c.prepare_cached("DELETE FROM pool_files WHERE pool_id = ?1 AND position = ?2")?.execute(params![pool, pos])?;
    // Shift down one row at a time, lowest first, so (pool, position) never collides.
    let mut st =
        c.prepare_cached("SELECT position FROM pool_files WHERE pool_id = ?1 AND position > ?2 ORDER BY position")?;
    let later: Vec<i64> = st.query_map(params![pool, pos], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut up = c.prepare_cached("UPDATE pool_files SET position = ?3 WHERE pool_id = ?1 AND position = ?2")?;
    for p in later {
        up.execute(params![pool, p, p - 1])?;
    }
    Ok(true)
}

/// The files of a pool in order.
pub fn files(c: &Connection, pool: PoolId) -> Result<Vec<FileRecord>> {
    let cols = super::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols} FROM pool_files p JOIN files f ON f.id = p.file_id WHERE p.pool_id = ?1 ORDER BY p.position"
    );
    let mut st = c.prepare(&sql)?;
    let v = st.query_map([pool], super::files::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// Every pool with its size, by title.
pub fn list(c: &Connection) -> Result<Vec<(PoolId, String, u64)>> {
    let mut st = c.prepare(
        "SELECT id, title, (SELECT count(*) FROM pool_files pf WHERE pf.pool_id = p.id) FROM pools p ORDER BY folded",
    )?;
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// The pools a file is in, with its 1-based place in each, by title.
pub fn of_file(c: &Connection, file: FileId) -> Result<Vec<(PoolId, String, u64)>> {
    let mut st = c.prepare_cached(
        "SELECT p.id, p.title,
                (SELECT count(*) FROM pool_files q WHERE q.pool_id = pf.pool_id AND q.position <= pf.position)
         FROM pool_files pf JOIN pools p ON p.id = pf.pool_id
         WHERE pf.file_id = ?1 ORDER BY p.folded",
    )?;
    let v = st
        .query_map([file.0], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}
