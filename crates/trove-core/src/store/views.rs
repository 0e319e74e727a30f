//! Set-level reads for views of the index as folders (`trove mount`, `trove view`): the most
//! used tags, the tags that co-occur with a query's files, namespaces and their values, and
//! SQLite's `data_version` (has anyone else committed?). Each is one statement over whole
//! sets, never a query per file.

use rusqlite::Connection;

use super::find::Compiled;
use crate::Result;
use crate::model::TagId;

/// SQLite's `PRAGMA data_version`: changes whenever another connection commits to the file
/// (not for this connection's own commits).
pub fn data_version(c: &Connection) -> Result<i64> {
    Ok(c.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// The `limit` tags carrying the most files directly, with their primary names and counts,
/// most used first (ties by name).
pub fn top_tags(c: &Connection, limit: u64) -> Result<Vec<(TagId, String, u64)>> {
    let mut st = c.prepare_cached(
        "SELECT t.tag_id, p.name, t.n FROM
           (SELECT tag_id, count(DISTINCT file_id) AS n FROM file_tags GROUP BY tag_id) t
         JOIN tag_names p ON p.tag_id = t.tag_id AND p.is_primary = 1
         ORDER BY t.n DESC, p.folded LIMIT ?1",
    )?;
    let v = st
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// The tags carried (directly) by the files matching `q`, with how many of those files carry
/// each, most common first; at most `limit`, never one of `exclude`.
pub fn cooccurring(c: &Connection, q: &Compiled, exclude: &[TagId], limit: u64) -> Result<Vec<(TagId, String, u64)>> {
    let (ids_sql, params) = q.id_subquery();
    let not_in = if exclude.is_empty() {
        String::new()
    } else {
        format!(" AND ft.tag_id NOT IN ({})", exclude.iter().map(|t| t.0.to_string()).collect::<Vec<_>>().join(","))
    };
    let sql = format!(
        "SELECT t.tag_id, p.name, t.n FROM
           (SELECT ft.tag_id, count(DISTINCT ft.file_id) AS n FROM file_tags ft
            WHERE ft.file_id IN ({ids_sql}){not_in} GROUP BY ft.tag_id) t
         JOIN tag_names p ON p.tag_id = t.tag_id AND p.is_primary = 1
         ORDER BY t.n DESC, p.folded LIMIT {limit}"
    );
    let mut st = c.prepare(&sql)?;
    let v = st
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// Namespaces (the `ns` of primary `ns:value` names) with how many tags each has, the
/// largest first; at most `limit`. The names are folded (lower case).
pub fn namespaces(c: &Connection, limit: u64) -> Result<Vec<(String, u64)>> {
    let mut st = c.prepare_cached(
        "SELECT ns, count(*) AS n FROM tag_names WHERE ns IS NOT NULL AND is_primary = 1
         GROUP BY ns ORDER BY n DESC, ns LIMIT ?1",
    )?;
    let v = st
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// The tags of namespace `ns` (folded) as (tag, value as written in its primary name), the
/// most used first; at most `limit`.
pub fn ns_values(c: &Connection, ns: &str, limit: u64) -> Result<Vec<(TagId, String, u64)>> {
    let mut st = c.prepare_cached(
        "SELECT p.tag_id, p.name, (SELECT count(DISTINCT file_id) FROM file_tags ft WHERE ft.tag_id = p.tag_id) AS n
         FROM tag_names p WHERE p.ns = ?1 AND p.is_primary = 1 ORDER BY n DESC, p.folded LIMIT ?2",
    )?;
    let v = st
        .query_map(rusqlite::params![ns, limit as i64], |r| {
            let name: String = r.get(1)?;
            // The value keeps the primary name's case: everything after the first colon.
            let value = name.split_once(':').map_or(name.clone(), |(_, v)| v.to_string());
            Ok((r.get(0)?, value, r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}
