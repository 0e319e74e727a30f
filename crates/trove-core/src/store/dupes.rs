//! Duplicates: records of live files (present or offline) that share a BLAKE3 hash.

use rusqlite::Connection;

use crate::Result;
use crate::store::files::{COLS, from_row};

/// One live record in a group of equal content, with its pixel size when the metadata
/// read from the file is current (same size and mtime as the record).
pub struct Row {
    pub record: crate::model::FileRecord,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Every live record whose content (hash) at least one other live record shares, among
/// files of at least `min_size` bytes, ordered by hash and then path bytes.
pub fn exact(c: &Connection, min_size: u64) -> Result<Vec<Row>> {
    let cols = COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols},
                CASE WHEN m.size = f.size AND m.mtime_ns = f.mtime_ns THEN m.width END,
                CASE WHEN m.size = f.size AND m.mtime_ns = f.mtime_ns THEN m.height END
         FROM files f LEFT JOIN file_meta m ON m.file_id = f.id
         WHERE f.state <> 1 AND f.size >= ?1
           AND f.hash IN (SELECT hash FROM files WHERE state <> 1 AND size >= ?1
                          GROUP BY hash HAVING count(*) > 1)
         ORDER BY f.hash, f.path"
    );
    let min = i64::try_from(min_size).unwrap_or(i64::MAX);
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map([min], |r| {
        Ok(Row {
            record: from_row(r)?,
            width: r.get::<_, Option<i64>>(11)?.and_then(|v| u32::try_from(v).ok()),
            height: r.get::<_, Option<i64>>(12)?.and_then(|v| u32::try_from(v).ok()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
