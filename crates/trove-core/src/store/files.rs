//! File records: lookups by path (exact and by directory byte range), inserts, updates.

use super::WriteTx;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::Result;
use crate::model::{FileId, FileRecord, FileState, Hash, Observation, Stat, extension_of};
use crate::paths::{from_bytes, under_range};

pub(crate) const COLS: &str =
    "id, path, size, mtime_ns, device, inode, hash, state, added_at, verified_at, fingerprint";

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    let path: Vec<u8> = r.get(1)?;
    let hash: Vec<u8> = r.get(6)?;
    let mut h = [0u8; 32];
    if hash.len() == 32 {
        h.copy_from_slice(&hash);
    }
    Ok(FileRecord {
        id: r.get(0)?,
        path: from_bytes(&path),
        stat: Stat {
            size: r.get::<_, i64>(2)? as u64,
            mtime_ns: r.get(3)?,
            device: r.get::<_, i64>(4)? as u64,
            inode: r.get::<_, i64>(5)? as u64,
        },
        hash: Hash(h),
        state: FileState::from_code(r.get(7)?),
        added_at: r.get(8)?,
        verified_at: r.get(9)?,
        fingerprint: r.get(10)?,
    })
}

fn b(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// The record that lives at `path` now (present), if any.
pub fn live_by_path(c: &Connection, path: &Path) -> Result<Option<FileRecord>> {
    let sql = format!("SELECT {COLS} FROM files WHERE path = ?1 AND state <> 1");
    Ok(c.prepare_cached(&sql)?.query_row([b(path)], from_row).optional()?)
}

/// Missing records whose last known path is `path`.
pub fn missing_by_path(c: &Connection, path: &Path) -> Result<Vec<FileRecord>> {
    let sql = format!("SELECT {COLS} FROM files WHERE path = ?1 AND state = 1 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([b(path)], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many live records lie outside every directory in `dirs` (byte ranges, bound).
pub fn count_live_outside(c: &Connection, dirs: &[&Path]) -> Result<u64> {
    let mut sql = String::from("SELECT count(*) FROM files WHERE state <> 1");
    let mut bounds: Vec<Vec<u8>> = Vec::new();
    for d in dirs {
        let (lo, hi) = under_range(d);
        let n = bounds.len();
        sql.push_str(&format!(" AND NOT (path >= ?{} AND path < ?{}) AND path <> ?{}", n + 1, n + 2, n + 3));
        bounds.extend([lo, hi, b(d).to_vec()]);
    }
    let mut st = c.prepare(&sql)?;
    Ok(st.query_row(rusqlite::params_from_iter(bounds.iter()), |r| r.get::<_, i64>(0))? as u64)
}

/// Whether any record (present, missing or offline) lives under the directory `dir`.
pub fn any_under(c: &Connection, dir: &Path) -> Result<bool> {
    let (lo, hi) = under_range(dir);
    Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE path >= ?1 AND path < ?2)")?
        .query_row(params![lo, hi], |r| r.get(0))?)
}

/// Whether the record carries no tag and belongs to no pool (a record made by auto-include
/// that nobody touched yet).
pub fn is_bare(c: &Connection, id: FileId) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT NOT EXISTS (SELECT 1 FROM file_tags WHERE file_id = ?1)
            AND NOT EXISTS (SELECT 1 FROM pool_files WHERE file_id = ?1)",
    )?
    .query_row([id], |r| r.get(0))?)
}

/// Every record (present and missing) at `path` itself.
pub fn all_at(c: &Connection, path: &Path) -> Result<Vec<FileRecord>> {
    let mut v: Vec<FileRecord> = live_by_path(c, path)?.into_iter().collect();
    v.extend(missing_by_path(c, path)?);
    Ok(v)
}

/// Every record (present and missing) strictly under directory `dir`, by path.
pub fn under(c: &Connection, dir: &Path) -> Result<Vec<FileRecord>> {
    let (lo, hi) = under_range(dir);
    // Two range scans, one per partial index, so each can use its index.
    let sql = format!(
        "SELECT {COLS} FROM files WHERE path >= ?1 AND path < ?2 AND state <> 1
         UNION ALL
         SELECT {COLS} FROM files WHERE path >= ?1 AND path < ?2 AND state = 1
         ORDER BY path, id"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![lo, hi], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn by_id(c: &Connection, id: FileId) -> Result<Option<FileRecord>> {
    let sql = format!("SELECT {COLS} FROM files WHERE id = ?1");
    Ok(c.prepare_cached(&sql)?.query_row([id], from_row).optional()?)
}

/// Present records with this content hash.
pub fn by_hash(c: &Connection, hash: &Hash) -> Result<Vec<FileRecord>> {
    let sql = format!("SELECT {COLS} FROM files WHERE substr(hash, 1, 8) = ?1 AND hash = ?2 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![&hash.0[..8], &hash.0[..]], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Other present records of the same file (hard links: same device and inode), found
/// through the content hash, which links share.
pub fn hard_links(c: &Connection, r: &FileRecord) -> Result<Vec<FileRecord>> {
    Ok(by_hash(c, &r.hash)?
        .into_iter()
        .filter(|o| {
            o.id != r.id
                && o.state == FileState::Present
                && (o.stat.device, o.stat.inode) == (r.stat.device, r.stat.inode)
        })
        .collect())
}

/// Visits every record in path order, present and missing.
pub fn for_each(c: &Connection, mut f: impl FnMut(FileRecord) -> Result<()>) -> Result<()> {
    let sql = format!("SELECT {COLS} FROM files ORDER BY path, id");
    let mut st = c.prepare(&sql)?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        f(from_row(r)?)?;
    }
    Ok(())
}

pub fn insert(c: &WriteTx<'_>, path: &Path, o: &Observation, now: i64) -> Result<FileId> {
    // The id is the next one above every live id and every id ever removed (migration 0005):
    // an id never names a second file.
    c.prepare_cached(
        "INSERT INTO files (id, path, ext, size, mtime_ns, device, inode, hash, fingerprint, state, added_at,
                            verified_at, sha256)
         VALUES (max(coalesce((SELECT max(id) FROM files), 0), (SELECT high FROM file_ids WHERE id = 1)) + 1,
                 ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, ?10)",
    )?
    .execute(params![
        b(path),
        extension_of(path),
        o.stat.size as i64,
        o.stat.mtime_ns,
        o.stat.device as i64,
        o.stat.inode as i64,
        &o.hash.0[..],
        o.fingerprint,
        now,
        o.sha256.as_ref().map(|h| &h[..]),
    ])?;
    Ok(FileId(c.last_insert_rowid()))
}

/// Stores a new observation of the same file (it was edited, moved, or came back): tags
/// stay, and the record is present again. A SHA-256 the observation did not compute is kept
/// while the content (BLAKE3) is the same, and forgotten when it changed.
pub fn update_observation(c: &WriteTx<'_>, id: FileId, o: &Observation, now: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE files SET size = ?2, mtime_ns = ?3, device = ?4, inode = ?5,
                          sha256 = CASE WHEN hash = ?6 THEN coalesce(?9, sha256) ELSE ?9 END,
                          hash = ?6, fingerprint = ?7, state = 0, verified_at = ?8
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        o.stat.size as i64,
        o.stat.mtime_ns,
        o.stat.device as i64,
        o.stat.inode as i64,
        &o.hash.0[..],
        o.fingerprint,
        now,
        o.sha256.as_ref().map(|h| &h[..]),
    ])?;
    Ok(())
}

/// Sets a record's SHA-256 (the backfill in `check --full`, for records indexed before
/// SHA-256 was kept), only while its BLAKE3 hash is still `hash`.
pub fn set_sha256(c: &WriteTx<'_>, id: FileId, hash: &Hash, sha256: &[u8; 32]) -> Result<bool> {
    Ok(c.prepare_cached("UPDATE files SET sha256 = ?3 WHERE id = ?1 AND hash = ?2")?.execute(params![
        id,
        &hash.0[..],
        &sha256[..]
    ])? > 0)
}

/// A record's SHA-256 (None: unknown record, or not computed yet).
pub fn sha256_of(c: &Connection, id: FileId) -> Result<Option<[u8; 32]>> {
    let v: Option<Option<Vec<u8>>> =
        c.prepare_cached("SELECT sha256 FROM files WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    Ok(v.flatten().and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()))
}

/// Records whose content has this SHA-256, present ones first, then by id.
pub fn by_sha256(c: &Connection, sha256: &[u8; 32]) -> Result<Vec<FileRecord>> {
    let sql = format!(
        "SELECT {COLS} FROM files WHERE substr(sha256, 1, 8) = substr(?1, 1, 8) AND sha256 = ?1
         ORDER BY state <> 0, id"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([&sha256[..]], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The records that have no SHA-256 yet.
pub fn ids_without_sha256(c: &Connection) -> Result<Vec<FileId>> {
    let mut st = c.prepare_cached("SELECT id FROM files WHERE sha256 IS NULL")?;
    let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many records have no SHA-256 yet.
pub fn count_without_sha256(c: &Connection) -> Result<u64> {
    Ok(c.prepare_cached("SELECT count(*) FROM files WHERE sha256 IS NULL")?.query_row([], |r| r.get::<_, i64>(0))?
        as u64)
}

/// Records that the file still matches its observation.
pub fn touch_verified(c: &WriteTx<'_>, id: FileId, now: i64) -> Result<()> {
    c.prepare_cached("UPDATE files SET verified_at = ?2 WHERE id = ?1")?.execute(params![id, now])?;
    Ok(())
}

pub fn set_path(c: &WriteTx<'_>, id: FileId, path: &Path) -> Result<()> {
    c.prepare_cached("UPDATE files SET path = ?2, ext = ?3 WHERE id = ?1")?.execute(params![
        id,
        b(path),
        extension_of(path)
    ])?;
    Ok(())
}

/// Moves records onto unique placeholder paths (inside one transaction, before their final
/// paths are set), so records trading places — a swap, a chain of renames, a directory moved
/// onto another record's old path — never trip the one-live-record-per-path index.
pub fn park(c: &WriteTx<'_>, ids: impl IntoIterator<Item = FileId>) -> Result<()> {
    for id in ids {
        let mut tmp = b"\0trove-parked\0".to_vec();
        tmp.extend_from_slice(id.0.to_string().as_bytes());
        set_path(c, id, &crate::paths::from_bytes(&tmp))?;
    }
    Ok(())
}

pub fn set_state(c: &WriteTx<'_>, id: FileId, state: FileState) -> Result<()> {
    c.prepare_cached("UPDATE files SET state = ?2 WHERE id = ?1")?.execute(params![id, state.code()])?;
    Ok(())
}

/// Forgets a record; its links and pool entries go with it (foreign-key cascade).
pub fn delete(c: &WriteTx<'_>, id: FileId) -> Result<()> {
    c.prepare_cached("DELETE FROM files WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// Missing records of exactly this size.
pub fn missing_by_size(c: &Connection, size: u64) -> Result<Vec<FileRecord>> {
    let sql = format!("SELECT {COLS} FROM files WHERE size = ?1 AND state = 1 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([size as i64], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many records are missing (uses the partial index on missing paths).
pub fn count_missing(c: &Connection) -> Result<u64> {
    Ok(c.prepare_cached("SELECT count(*) FROM files WHERE state = 1")?.query_row([], |r| r.get::<_, i64>(0))? as u64)
}
