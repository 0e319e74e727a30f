//! Statements for loading many records at once (imports, the benchmark generator).

use super::WriteTx;
use rusqlite::{Connection, params};

use crate::Result;
use crate::model::FileId;

/// Sets the page cache for this connection, in KiB.
pub fn set_cache_kib(c: &Connection, kib: i64) -> Result<()> {
    c.execute_batch(&format!("PRAGMA cache_size = -{kib}"))?;
    Ok(())
}

pub fn insert_link(c: &WriteTx<'_>, file: FileId, tag: i64, source: i64, now: i64) -> Result<()> {
    c.prepare_cached("INSERT OR IGNORE INTO file_tags (tag_id, file_id, source_id, added_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![tag, file, source, now])?;
    Ok(())
}

/// Refreshes the planner's statistics.
pub fn analyze(c: &Connection) -> Result<()> {
    c.execute_batch("ANALYZE")?;
    Ok(())
}

/// Rewrites the file in key order: full pages, no free space (after a bulk load).
pub fn vacuum(c: &Connection) -> Result<()> {
    c.execute_batch("VACUUM")?;
    Ok(())
}

/// Moves the WAL's content into the main file and truncates the WAL.
pub fn checkpoint(c: &Connection) -> Result<()> {
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}
