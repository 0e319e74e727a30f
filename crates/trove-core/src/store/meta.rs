//! Extracted metadata: one `file_meta` row per file (typed columns), `meta_fields` rows for
//! text fields. A write replaces both for the file.

use rusqlite::{Connection, OptionalExtension, params};
use unicode_normalization::UnicodeNormalization;

use super::WriteTx;
use crate::Result;
use crate::meta::{Meta, StoredMeta};
use crate::model::{FileId, FileRecord, Stat, fold};

/// Stores `meta` for `id`, read from a file with `stat`, replacing what was there.
pub fn put(c: &WriteTx<'_>, id: FileId, stat: &Stat, meta: &Meta, now: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO file_meta (file_id, size, mtime_ns, extracted_at, mime, kind, width, height,
             duration_ms, fps, has_audio, taken, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        id,
        stat.size as i64,
        stat.mtime_ns,
        now,
        meta.mime,
        meta.kind,
        meta.width,
        meta.height,
        meta.duration_ms.map(|d| d as i64),
        meta.fps,
        meta.has_audio,
        meta.taken,
        meta.error_text(),
    ])?;
    c.prepare_cached("DELETE FROM meta_fields WHERE file_id = ?1")?.execute([id])?;
    let mut ins = c.prepare_cached("INSERT INTO meta_fields (file_id, key, value, folded) VALUES (?1, ?2, ?3, ?4)")?;
    for (k, v) in &meta.fields {
        ins.execute(params![id, k, v, fold(&v.nfc().collect::<String>())])?;
    }
    if let Some(p) = &meta.perceptual {
        super::dupes::put_perceptual_of_file(c, id, p, now)?;
    }
    if let Some(k) = &meta.keyframes {
        super::dupes::put_keyframes_of_file(c, id, k, now)?;
    }
    Ok(())
}

/// The metadata stored for `id`, if it was ever extracted.
pub fn get(c: &Connection, id: FileId) -> Result<Option<StoredMeta>> {
    let row = c
        .prepare_cached(
            "SELECT size, mtime_ns, extracted_at, mime, kind, width, height, duration_ms, fps, has_audio, taken, error
             FROM file_meta WHERE file_id = ?1",
        )?
        .query_row([id], |r| {
            let error: Option<String> = r.get(11)?;
            Ok(StoredMeta {
                size: r.get::<_, i64>(0)? as u64,
                mtime_ns: r.get(1)?,
                extracted_at: r.get(2)?,
                meta: Meta {
                    mime: r.get(3)?,
                    kind: r.get(4)?,
                    width: r.get(5)?,
                    height: r.get(6)?,
                    duration_ms: r.get::<_, Option<i64>>(7)?.map(|d| d as u64),
                    fps: r.get(8)?,
                    has_audio: r.get(9)?,
                    taken: r.get(10)?,
                    fields: Vec::new(),
                    errors: error.into_iter().collect(),
                    // Stored per content (`perceptual`), read through `ops::dupes`.
                    perceptual: None,
                    keyframes: None,
                },
            })
        })
        .optional()?;
    let Some(mut s) = row else { return Ok(None) };
    let mut st = c.prepare_cached("SELECT key, value FROM meta_fields WHERE file_id = ?1 ORDER BY rowid")?;
    s.meta.fields = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(Some(s))
}

/// Files whose last extraction recorded an error, with the error, in path order.
pub fn failures(c: &Connection) -> Result<Vec<(FileRecord, String)>> {
    let sql = format!(
        "SELECT {}, m.error FROM files f JOIN file_meta m ON m.file_id = f.id
         WHERE m.error IS NOT NULL AND f.state <> 1 ORDER BY f.path",
        crate::store::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
    );
    let mut st = c.prepare(&sql)?;
    let rows = st
        .query_map([], |r| Ok((crate::store::files::from_row(r)?, r.get::<_, String>(11)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many live files have metadata, and how many have none yet.
pub fn coverage(c: &Connection) -> Result<(u64, u64)> {
    let (with, without): (i64, i64) = c.query_row(
        "SELECT count(m.file_id), count(*) - count(m.file_id) FROM files f LEFT JOIN file_meta m ON m.file_id = f.id
         WHERE f.state <> 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((with as u64, without as u64))
}

/// The size and mtime the stored metadata of `id` was read from, if any.
pub fn read_from(c: &Connection, id: FileId) -> Result<Option<(u64, i64)>> {
    Ok(c.prepare_cached("SELECT size, mtime_ns FROM file_meta WHERE file_id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}
