//! Duplicates: records of live files (present or offline) that share a BLAKE3 hash.

use rusqlite::{Connection, OptionalExtension, params};

use super::WriteTx;
use crate::Result;
use crate::model::{FileId, Hash};
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

/// Stores the perceptual hash (or why there is none) of the content `file` has now.
pub fn put_perceptual_of_file(
    c: &WriteTx<'_>,
    file: FileId,
    phash: &std::result::Result<u64, String>,
    now: i64,
) -> Result<()> {
    let (p, e) = match phash {
        Ok(p) => (Some(*p as i64), None),
        Err(e) => (None, Some(e.as_str())),
    };
    c.prepare_cached(
        "INSERT OR REPLACE INTO perceptual (content, frame, phash, error, computed_at)
         SELECT hash, 0, ?2, ?3, ?4 FROM files WHERE id = ?1",
    )?
    .execute(params![file, p, e, now])?;
    Ok(())
}

/// Forgets the perceptual hashes of contents no record has any more.
pub fn prune_perceptual(c: &WriteTx<'_>) -> Result<usize> {
    Ok(c.prepare_cached(
        "DELETE FROM perceptual WHERE NOT EXISTS
           (SELECT 1 FROM files f WHERE substr(f.hash, 1, 8) = substr(perceptual.content, 1, 8) AND f.hash = perceptual.content)",
    )?
    .execute([])?)
}

/// Live, present records whose content has no perceptual row yet, one per content (the
/// first by path), ordered by path.
pub fn without_perceptual(c: &Connection) -> Result<Vec<crate::model::FileRecord>> {
    let cols = COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols} FROM files f
         WHERE f.state = 0 AND f.size > 0
           AND NOT EXISTS (SELECT 1 FROM perceptual p WHERE p.content = f.hash)
         ORDER BY f.path"
    );
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map([], from_row)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in rows {
        let r = r?;
        if seen.insert(r.hash) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Every live record with a perceptual hash of its content: (file id, content, phash).
pub fn hashed(c: &Connection) -> Result<Vec<(FileId, Hash, u64)>> {
    let mut st = c.prepare_cached(
        "SELECT f.id, f.hash, p.phash FROM files f JOIN perceptual p ON p.content = f.hash AND p.frame = 0
         WHERE f.state <> 1 AND p.phash IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| {
        let h: Vec<u8> = r.get(1)?;
        let mut hash = [0u8; 32];
        if h.len() == 32 {
            hash.copy_from_slice(&h);
        }
        Ok((FileId(r.get(0)?), Hash(hash), r.get::<_, i64>(2)? as u64))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The perceptual hash stored for a content, if any.
pub fn perceptual_of(c: &Connection, content: &Hash) -> Result<Option<std::result::Result<u64, String>>> {
    Ok(c.prepare_cached("SELECT phash, error FROM perceptual WHERE content = ?1 AND frame = 0")?
        .query_row([&content.0[..]], |r| {
            Ok(match r.get::<_, Option<i64>>(0)? {
                Some(p) => Ok(p as u64),
                None => Err(r.get::<_, Option<String>>(1)?.unwrap_or_default()),
            })
        })
        .optional()?)
}

/// Live records sharing their (non-empty) content with another live record: (file id,
/// content), by content.
pub fn exact_pairs_input(c: &Connection) -> Result<Vec<(FileId, Hash)>> {
    let mut st = c.prepare_cached(
        "SELECT f.id, f.hash FROM files f
         WHERE f.state <> 1 AND f.size > 0
           AND f.hash IN (SELECT hash FROM files WHERE state <> 1 AND size > 0 GROUP BY hash HAVING count(*) > 1)
         ORDER BY f.hash, f.id",
    )?;
    let rows = st.query_map([], |r| {
        let h: Vec<u8> = r.get(1)?;
        let mut hash = [0u8; 32];
        if h.len() == 32 {
            hash.copy_from_slice(&h);
        }
        Ok((FileId(r.get(0)?), Hash(hash)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records a decision for the pair (`a`, `b`), replacing an earlier one; `None` forgets it.
pub fn decide(c: &WriteTx<'_>, a: FileId, b: FileId, decision: Option<i64>, now: i64) -> Result<bool> {
    let (a, b) = if a.0 < b.0 { (a, b) } else { (b, a) };
    Ok(match decision {
        Some(d) => c
            .prepare_cached(
                "INSERT INTO dupe_decisions (a, b, decision, decided_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (a, b) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at
                 WHERE decision <> excluded.decision",
            )?
            .execute(params![a, b, d, now])?,
        None => c.prepare_cached("DELETE FROM dupe_decisions WHERE a = ?1 AND b = ?2")?.execute(params![a, b])?,
    } > 0)
}

/// Every decision: (a, b, decision) with a < b.
pub fn decisions(c: &Connection) -> Result<Vec<(FileId, FileId, i64)>> {
    let mut st = c.prepare_cached("SELECT a, b, decision FROM dupe_decisions")?;
    let rows = st.query_map([], |r| Ok((FileId(r.get(0)?), FileId(r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The decisions involving `file`: (other file, decision).
pub fn decisions_of(c: &Connection, file: FileId) -> Result<Vec<(FileId, i64)>> {
    let mut st = c.prepare_cached(
        "SELECT b, decision FROM dupe_decisions WHERE a = ?1 UNION ALL SELECT a, decision FROM dupe_decisions WHERE b = ?1",
    )?;
    let rows = st.query_map([file], |r| Ok((FileId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Candidate pairs of files (by id, `a < b`): live copies of the same non-empty content,
/// and live files of different content whose perceptual hashes differ in at most
/// `distance` bits. Sorted, without repeats.
pub fn candidate_pairs(c: &Connection, distance: u32) -> Result<Vec<(FileId, FileId)>> {
    let mut out = Vec::new();
    let exact = exact_pairs_input(c)?;
    for g in exact.chunk_by(|x, y| x.1 == y.1) {
        for i in 0..g.len() {
            for j in i + 1..g.len() {
                out.push(ordered(g[i].0, g[j].0));
            }
        }
    }
    out.extend(similar_pairs(c, distance)?.into_iter().map(|(a, b, _)| ordered(a, b)));
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn ordered(a: FileId, b: FileId) -> (FileId, FileId) {
    if a.0 < b.0 { (a, b) } else { (b, a) }
}

/// Pairs of live files of different content whose perceptual hashes differ in at most
/// `distance` bits, with the distance.
pub fn similar_pairs(c: &Connection, distance: u32) -> Result<Vec<(FileId, FileId, u32)>> {
    let rows = hashed(c)?;
    // One entry per distinct perceptual hash; the files of each.
    let mut by_value: std::collections::BTreeMap<u64, Vec<(FileId, Hash)>> = std::collections::BTreeMap::new();
    for (id, h, p) in rows {
        by_value.entry(p).or_default().push((id, h));
    }
    let values: Vec<u64> = by_value.keys().copied().collect();
    let members: Vec<&Vec<(FileId, Hash)>> = by_value.values().collect();
    let mut out = Vec::new();
    let mut join = |x: &[(FileId, Hash)], y: &[(FileId, Hash)], d: u32, same: bool| {
        for (i, a) in x.iter().enumerate() {
            let from = if same { i + 1 } else { 0 };
            for b in &y[from..] {
                if a.1 != b.1 {
                    let (p, q) = ordered(a.0, b.0);
                    out.push((p, q, d));
                }
            }
        }
    };
    for m in &members {
        join(m, m, 0, true);
    }
    for (i, j, d) in crate::similar::pairs(&values, distance) {
        join(members[i as usize], members[j as usize], d, false);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Live files with a perceptual hash within `distance` bits of another live file of
/// different content (`dupe:similar`), without listing pairs.
pub fn similar_ids(c: &Connection, distance: u32) -> Result<Vec<FileId>> {
    let rows = hashed(c)?;
    let mut by_value: std::collections::BTreeMap<u64, Vec<(FileId, Hash)>> = std::collections::BTreeMap::new();
    for (id, h, p) in rows {
        by_value.entry(p).or_default().push((id, h));
    }
    let values: Vec<u64> = by_value.keys().copied().collect();
    let members: Vec<&Vec<(FileId, Hash)>> = by_value.values().collect();
    let mut hit = vec![false; values.len()];
    for (i, m) in members.iter().enumerate() {
        if m.iter().any(|x| x.1 != m[0].1) {
            hit[i] = true;
        }
    }
    for (i, j, _) in crate::similar::pairs(&values, distance) {
        hit[i as usize] = true;
        hit[j as usize] = true;
    }
    let mut out: Vec<FileId> =
        members.iter().zip(hit).filter(|(_, h)| *h).flat_map(|(m, _)| m.iter().map(|x| x.0)).collect();
    out.sort_unstable();
    Ok(out)
}

/// Live files with a candidate partner ([`candidate_pairs`] at `distance`) about which no
/// decision is stored (`dupe:undecided`).
pub fn undecided_ids(c: &Connection, distance: u32) -> Result<Vec<FileId>> {
    let decided: std::collections::HashSet<(FileId, FileId)> =
        decisions(c)?.into_iter().map(|(a, b, _)| (a, b)).collect();
    let mut out: Vec<FileId> =
        candidate_pairs(c, distance)?.into_iter().filter(|p| !decided.contains(p)).flat_map(|(a, b)| [a, b]).collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Links every tag any of `ids` carries, from the same source, onto each of them; the
/// number of links added.
pub fn union_links(c: &WriteTx<'_>, ids: &[FileId], now: i64) -> Result<u64> {
    let json = format!("[{}]", ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(","));
    let mut st = c.prepare_cached(
        "INSERT OR IGNORE INTO file_tags (tag_id, file_id, source_id, added_at)
         SELECT DISTINCT tag_id, ?1, source_id, ?3 FROM file_tags WHERE file_id IN (SELECT value FROM json_each(?2))",
    )?;
    let mut n = 0u64;
    for id in ids {
        n += st.execute(params![id, json, now])? as u64;
    }
    Ok(n)
}

/// Width and height, each when known.
pub type Dims = (Option<u32>, Option<u32>);

/// The current pixel size of every live file whose metadata is fresh (read from the file
/// as it is now).
pub fn dimensions(c: &Connection) -> Result<std::collections::HashMap<FileId, Dims>> {
    let mut st = c.prepare_cached(
        "SELECT f.id, m.width, m.height FROM files f JOIN file_meta m ON m.file_id = f.id
         WHERE f.state <> 1 AND m.size = f.size AND m.mtime_ns = f.mtime_ns",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            FileId(r.get(0)?),
            (
                r.get::<_, Option<i64>>(1)?.and_then(|v| u32::try_from(v).ok()),
                r.get::<_, Option<i64>>(2)?.and_then(|v| u32::try_from(v).ok()),
            ),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
