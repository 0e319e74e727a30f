//! Reads and writes for moving a library in and out (`trove export`, `trove import`):
//! whole-table reads in a stable order, and inserts that keep the dates they are given.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::WriteTx;
use crate::Result;
use crate::model::{FileId, FileRecord, FileState, Observation, PoolId, Source, TagId, TagName, extension_of};

/// The tag with this universal id.
pub fn tag_by_uid(c: &Connection, uid: &[u8; 32]) -> Result<Option<TagId>> {
    Ok(c.prepare_cached("SELECT id FROM tags WHERE uid = ?1")?.query_row([&uid[..]], |r| r.get(0)).optional()?)
}

/// Creates a tag with a given universal id, creation date and primary name (normalised,
/// not taken: the caller checked).
pub fn create_tag(c: &WriteTx<'_>, uid: &[u8; 32], name: &str, lang: Option<&str>, created_at: i64) -> Result<TagId> {
    // Ids are never reused (migration 0010): the operation log names tags by id.
    c.prepare_cached(
        "INSERT INTO tags (id, uid, created_at) VALUES (max(coalesce((SELECT max(id) FROM tags), 0), (SELECT high FROM row_ids WHERE tbl = 'tags')) + 1, ?1, ?2)",
    )?.execute(params![&uid[..], created_at])?;
    let id = TagId(c.last_insert_rowid());
    let folded = crate::model::fold(name);
    let (ns, val, num) = crate::model::split_namespace(&folded);
    c.prepare_cached(
        "INSERT INTO tag_names (name, folded, tag_id, lang, is_primary, ns, val, num)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
    )?
    .execute(params![name, folded, id, lang, ns, val, num])?;
    Ok(id)
}

/// One tag as exported: id, universal id, creation date, names (primary first, then by
/// folded name).
pub struct TagRow {
    pub id: TagId,
    pub uid: [u8; 32],
    pub created_at: i64,
    pub names: Vec<TagName>,
}

/// Every tag with its names.
pub fn all_tags(c: &Connection) -> Result<Vec<TagRow>> {
    let mut st = c.prepare("SELECT id, uid, created_at FROM tags ORDER BY id")?;
    let mut tags: Vec<TagRow> = st
        .query_map([], |r| {
            let v: Vec<u8> = r.get(1)?;
            let mut uid = [0u8; 32];
            uid.copy_from_slice(&v[..32.min(v.len())]);
            Ok(TagRow { id: r.get(0)?, uid, created_at: r.get(2)?, names: Vec::new() })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let pos: std::collections::HashMap<TagId, usize> = tags.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut st =
        c.prepare("SELECT tag_id, name, lang, is_primary FROM tag_names ORDER BY tag_id, is_primary DESC, folded")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, TagId>(0)?, TagName { name: r.get(1)?, lang: r.get(2)?, primary: r.get(3)? }))
    })?;
    for row in rows {
        let (t, n) = row?;
        if let Some(&i) = pos.get(&t) {
            tags[i].names.push(n);
        }
    }
    Ok(tags)
}

/// Every implication, child ⇒ parent.
pub fn all_implications(c: &Connection) -> Result<Vec<(TagId, TagId)>> {
    let mut st = c.prepare("SELECT child, parent FROM implications")?;
    let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// Every link: file, tag, source, date.
pub fn all_links(c: &Connection, mut f: impl FnMut(FileId, TagId, Source, i64)) -> Result<()> {
    let mut st = c.prepare(
        "SELECT ft.file_id, ft.tag_id, s.kind, s.name, ft.added_at FROM file_tags ft JOIN sources s ON s.id = ft.source_id",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let kind: String = r.get(2)?;
        let name: String = r.get(3)?;
        f(r.get(0)?, r.get(1)?, Source::from_parts(&kind, &name), r.get(4)?);
    }
    Ok(())
}

/// A pool as exported: id, title, creation date, members in order.
pub type PoolRow = (PoolId, String, i64, Vec<FileId>);

/// Every pool, by folded title.
pub fn all_pools(c: &Connection) -> Result<Vec<PoolRow>> {
    let mut st = c.prepare("SELECT id, title, created_at FROM pools ORDER BY folded")?;
    let mut pools: Vec<(PoolId, String, i64, Vec<FileId>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, Vec::new())))?.collect::<rusqlite::Result<_>>()?;
    let mut st = c.prepare_cached("SELECT file_id FROM pool_files WHERE pool_id = ?1 ORDER BY position")?;
    for p in &mut pools {
        p.3 = st.query_map([p.0], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    }
    Ok(pools)
}

/// A pool's creation with a given date.
pub fn create_pool(c: &WriteTx<'_>, title: &str, created_at: i64) -> Result<PoolId> {
    // Ids are never reused (migration 0010): the operation log names pools by id.
    c.prepare_cached(
        "INSERT INTO pools (id, title, folded, created_at) VALUES (max(coalesce((SELECT max(id) FROM pools), 0), (SELECT high FROM row_ids WHERE tbl = 'pools')) + 1, ?1, ?2, ?3)",
    )?.execute(params![
        title,
        crate::model::fold(title),
        created_at
    ])?;
    Ok(PoolId(c.last_insert_rowid()))
}

/// Inserts a record exactly as described: observation, state and dates.
pub fn insert_record(
    c: &WriteTx<'_>,
    path: &Path,
    o: &Observation,
    state: FileState,
    added_at: i64,
    verified_at: i64,
) -> Result<FileId> {
    use std::os::unix::ffi::OsStrExt;
    c.prepare_cached(
        // Ids are never reused (migration 0005), as in `files::insert`.
        "INSERT INTO files (id, path, ext, size, mtime_ns, device, inode, hash, fingerprint, state, added_at,
                            verified_at, sha256)
         VALUES (max(coalesce((SELECT max(id) FROM files), 0), (SELECT high FROM file_ids WHERE id = 1)) + 1,
                 ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        path.as_os_str().as_bytes(),
        extension_of(path),
        o.stat.size as i64,
        o.stat.mtime_ns,
        o.stat.device as i64,
        o.stat.inode as i64,
        &o.hash.0[..],
        o.fingerprint,
        state.code(),
        added_at,
        verified_at,
        o.sha256.as_ref().map(|h| &h[..]),
    ])?;
    Ok(FileId(c.last_insert_rowid()))
}

/// Every record, in id order.
pub fn all_files(c: &Connection, f: impl FnMut(FileRecord) -> Result<()>) -> Result<()> {
    super::files::for_each(c, f)
}
