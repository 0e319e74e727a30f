//! API keys: name, scope and the BLAKE3 hash of the key (never the key).

use super::WriteTx;
use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// One stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub name: String,
    pub scope: String,
    pub created_at: i64,
    /// Requested by a client and not approved yet.
    pub pending: bool,
}

pub fn insert(c: &WriteTx<'_>, name: &str, hash: &[u8; 32], scope: &str, now: i64, pending: bool) -> Result<()> {
    c.prepare_cached("INSERT INTO api_keys (name, hash, scope, created_at, pending) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![name, &hash[..], scope, now, pending])?;
    Ok(())
}

/// Approves a requested key; false when there is no waiting key by that name.
pub fn approve(c: &WriteTx<'_>, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("UPDATE api_keys SET pending = 0 WHERE name = ?1 AND pending = 1")?.execute([name])? > 0)
}

/// How many requested keys wait for approval.
pub fn count_pending(c: &Connection) -> Result<u64> {
    Ok(c.prepare_cached("SELECT count(*) FROM api_keys WHERE pending = 1")?.query_row([], |r| r.get::<_, i64>(0))?
        as u64)
}

pub fn exists(c: &Connection, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM api_keys WHERE name = ?1")?.query_row([name], |_| Ok(())).optional()?.is_some())
}

pub fn delete(c: &WriteTx<'_>, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM api_keys WHERE name = ?1")?.execute([name])? > 0)
}

pub fn list(c: &Connection) -> Result<Vec<KeyRow>> {
    let mut st = c.prepare_cached("SELECT name, scope, created_at, pending FROM api_keys ORDER BY name")?;
    let v = st
        .query_map([], |r| Ok(KeyRow { name: r.get(0)?, scope: r.get(1)?, created_at: r.get(2)?, pending: r.get(3)? }))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// A stored key's name, scope, hash and whether it waits for approval.
pub type StoredKey = (String, String, Vec<u8>, bool);

/// Every stored key, for a constant-time comparison in the caller.
pub fn all_hashes(c: &Connection) -> Result<Vec<StoredKey>> {
    let mut st = c.prepare_cached("SELECT name, scope, hash, pending FROM api_keys")?;
    let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(v)
}
