//! Set-level reads for views of the index as folders (`trove mount`, `trove view`): the most
//! used tags, the tags that co-occur with a query's files, namespaces and their values, and
//! SQLite's `data_version` (has anyone else committed?). Each is one statement over whole
//! sets, never a query per file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

use roaring::RoaringBitmap;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::find::Compiled;
use super::postings;
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

/// Every tag's number of files (carrying it directly), read from the posting lists: the
/// count in each stored chunk's header, never a row of `file_tags`. Most used first, ties by
/// id; `None` when the posting lists cannot answer now (see [`postings::usable`]).
pub fn tag_sizes(c: &Connection) -> Result<Option<Vec<(TagId, u64)>>> {
    if !postings::usable(c)? {
        return Ok(None);
    }
    let mut st = c.prepare_cached("SELECT tag_id, bits FROM postings WHERE tag_id > 0 ORDER BY tag_id")?;
    let mut rows = st.query([])?;
    let mut out: Vec<(TagId, u64)> = Vec::new();
    while let Some(r) = rows.next()? {
        let t: i64 = r.get(0)?;
        let n = match r.get_ref(1)? {
            rusqlite::types::ValueRef::Blob(b) => postings::cardinality(b)?,
            _ => 0,
        };
        match out.last_mut() {
            Some((last, m)) if last.0 == t => *m += n,
            _ => out.push((TagId(t), n)),
        }
    }
    out.retain(|(_, n)| *n > 0);
    out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Some(out))
}

/// `counted` (tag, files) with their primary names, most files first, ties by folded name;
/// at most `limit`. Only the first `limit` of `counted` (sorted by count, most first) and
/// those tied with the last of them can be in it, so only their names are read.
fn named_top(c: &Connection, counted: &[(TagId, u64)], limit: u64) -> Result<Vec<(TagId, String, u64)>> {
    let k = (limit as usize).min(counted.len());
    if k == 0 {
        return Ok(Vec::new());
    }
    let cut = counted[k - 1].1;
    let mut st = c.prepare_cached("SELECT name, folded FROM tag_names WHERE tag_id = ?1 AND is_primary = 1")?;
    let mut named = Vec::new();
    for (t, n) in counted.iter().take_while(|(_, n)| *n >= cut) {
        let row: Option<(String, String)> = st.query_row([t.0], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        if let Some((name, folded)) = row {
            named.push((folded, *t, name, *n));
        }
    }
    named.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    named.truncate(limit as usize);
    Ok(named.into_iter().map(|(_, t, name, n)| (t, name, n)).collect())
}

/// [`top_tags`] from the tag sizes of [`tag_sizes`]: the same rows, no `GROUP BY` over the
/// links.
pub fn top_tags_of(c: &Connection, sizes: &[(TagId, u64)], limit: u64) -> Result<Vec<(TagId, String, u64)>> {
    named_top(c, sizes, limit)
}

/// Above this many matching files, [`cooccurring_in`] counts by intersecting posting lists
/// instead of grouping the matches' links (about 10 links a file at L: a group over a few
/// hundred thousand rows costs more than walking the biggest tags' bitmaps).
const GROUP_MAX: u64 = 20_000;

/// [`cooccurring`] for the files `set` (a query's matches from the posting lists), with the
/// tag sizes of [`tag_sizes`] (most used first): the same rows. A small set (up to
/// `group_max`, [`GROUP_MAX`] when `None`) groups its files' links; a big one intersects each tag's posting list with it, biggest tag first,
/// and stops at the first tag carrying fewer files than the `limit`-th count found (no tag
/// after it can have more in common with the set).
pub fn cooccurring_in(
    c: &Connection,
    set: &RoaringBitmap,
    sizes: &[(TagId, u64)],
    exclude: &[TagId],
    limit: u64,
    group_max: Option<u64>,
) -> Result<Vec<(TagId, String, u64)>> {
    if limit == 0 || set.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(TagId, u64)> = Vec::new();
    if set.len() <= group_max.unwrap_or(GROUP_MAX) {
        let ids: Rc<Vec<Value>> = Rc::new(set.iter().map(|i| Value::Integer(i64::from(i))).collect());
        let mut st = c.prepare_cached(
            "SELECT ft.tag_id, count(DISTINCT ft.file_id) FROM file_tags ft
             WHERE ft.file_id IN rarray(?1) GROUP BY ft.tag_id",
        )?;
        let rows = st.query_map([&ids], |r| Ok((TagId(r.get(0)?), r.get::<_, i64>(1)? as u64)))?;
        for row in rows {
            let (t, n) = row?;
            if !exclude.contains(&t) {
                found.push((t, n));
            }
        }
    } else {
        // The `limit` biggest counts so far; the smallest of them is the bar.
        let mut best: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
        for &(t, size) in sizes {
            if best.len() as u64 == limit && best.peek().is_some_and(|Reverse(bar)| size < *bar) {
                break;
            }
            if exclude.contains(&t) {
                continue;
            }
            let n = postings::load(c, t.0)?.intersection_len(set);
            if n == 0 {
                continue;
            }
            found.push((t, n));
            best.push(Reverse(n));
            if best.len() as u64 > limit {
                best.pop();
            }
        }
    }
    found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    named_top(c, &found, limit)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::{Hash, Observation, Source, Stat};
    use crate::ops::NoProgress;
    use crate::ops::bulk::{BulkFile, BulkLoad};
    use crate::ops::find::Query;
    use crate::{Index, OpenMode};

    /// 600 files, each with 0–6 of 40 tags drawn unevenly (tag k about 1/(k+1) as often as
    /// tag 0), so many counts tie; no file on disk is needed.
    fn index(dir: &std::path::Path) -> Index {
        let mut index = Index::open(&dir.join("i.db"), OpenMode::Create).unwrap();
        let names: Vec<String> = (0..40).map(|k| format!("t{k:02}")).collect();
        let mut load = BulkLoad::new(&mut index, &Source::Manual, 16).unwrap();
        load.tags(&names, &NoProgress).unwrap();
        let mut x: u64 = 7;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..600u64 {
            let mut tags: Vec<u32> = Vec::new();
            for _ in 0..next() % 7 {
                let t = (40.0 / (1.0 + (next() % 1000) as f64 / 25.0)) as u32 % 40;
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            let h = *blake3::hash(&i.to_le_bytes()).as_bytes();
            let o = Observation {
                stat: Stat { size: 1, mtime_ns: 0, device: 1, inode: i + 1 },
                hash: Hash(h),
                fingerprint: i as i64,
                sha256: None,
            };
            let path = PathBuf::from(format!("/nowhere/d{}/f{i}.txt", i % 9));
            load.add(BulkFile { path: &path, observation: o, tags: &tags }).unwrap();
        }
        load.finish(false).unwrap();
        index
    }

    #[test]
    fn tag_counts_from_the_posting_lists_equal_the_group_by_over_the_links() {
        let tmp = tempfile::tempdir().unwrap();
        let index = index(tmp.path());
        let c = index.conn();
        let sizes = tag_sizes(c).unwrap().expect("posting lists usable");
        assert!(sizes.len() > 20, "{sizes:?}");
        for limit in [0, 1, 2, 5, 17, 39, 40, 1000] {
            assert_eq!(top_tags_of(c, &sizes, limit).unwrap(), top_tags(c, limit).unwrap(), "limit {limit}");
        }
        // Co-occurring tags, by grouping the links and by intersecting bitmaps, equal the
        // SQL reference for sets of every size, with the path's own tags left out.
        let ids = |q: &str| -> Vec<TagId> {
            q.split(' ').map(|n| crate::ops::views::tag(&index, n).unwrap().unwrap().0).collect()
        };
        for q in ["t00", "t01", "t00 t01", "t05", "t03 t00", "t39"] {
            let query = Query::new(&index, q).unwrap();
            let set = query.compiled.matching_set(c).unwrap().unwrap();
            let exclude = ids(q);
            for limit in [1, 3, 10, 200] {
                let want = cooccurring(c, &query.compiled, &exclude, limit).unwrap();
                for group_max in [0, u64::MAX] {
                    let got = cooccurring_in(c, &set, &sizes, &exclude, limit, Some(group_max)).unwrap();
                    assert_eq!(got, want, "{q} limit {limit} group_max {group_max}");
                }
            }
        }
    }
}
