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
}

pub fn insert(c: &WriteTx<'_>, name: &str, hash: &[u8; 32], scope: &str, now: i64) -> Result<()> {
    c.prepare_cached("INSERT INTO api_keys (name, hash, scope, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![name, &hash[..], scope, now])?;
    Ok(())
}

pub fn exists(c: &Connection, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM api_keys WHERE name = ?1")?.query_row([name], |_| Ok(())).optional()?.is_some())
}

pub fn delete(c: &WriteTx<'_>, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM api_keys WHERE name = ?1")?.execute([name])? > 0)
}

pub fn list(c: &Connection) -> Result<Vec<KeyRow>> {
    let mut st = c.prepare_cached("SELECT name, scope, created_at FROM api_keys ORDER BY name")?;
    let v = st
        .query_map([], |r| Ok(KeyRow { name: r.get(0)?, scope: r.get(1)?, created_at: r.get(2)? }))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// Every (name, scope, hash), for a constant-time comparison in the caller.
pub fn all_hashes(c: &Connection) -> Result<Vec<(String, String, Vec<u8>)>> {
    let mut st = c.prepare_cached("SELECT name, scope, hash FROM api_keys")?;
    let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(v)
}
