//! Duplicates: records of live files (present or offline) that share a BLAKE3 hash.

use std::collections::HashSet;

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

/// Stores the perceptual hash (or why there is none) of the content `file` has now, and
/// keeps the near pairs ([`add_value`]) in step.
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
    let old: Option<i64> = c
        .prepare_cached(
            "SELECT p.phash FROM files f JOIN perceptual p ON p.content = f.hash AND p.frame = 0 WHERE f.id = ?1",
        )?
        .query_row([file], |r| r.get(0))
        .optional()?
        .flatten();
    c.prepare_cached(
        "INSERT OR REPLACE INTO perceptual (content, frame, phash, error, computed_at)
         SELECT hash, 0, ?2, ?3, ?4 FROM files WHERE id = ?1",
    )?
    .execute(params![file, p, e, now])?;
    if let Some(o) = old.filter(|o| Some(*o) != p) {
        drop_value_if_unused(c, o as u64)?;
    }
    if let Some(p) = p {
        c.near_value(p as u64);
    }
    Ok(())
}

/// Stores the keyframe hashes of a video (frames 1 and up of `perceptual`; an error as
/// frame 1 without a hash) for the content `file` has now, replacing any stored before.
/// Keyframes are not in the near pairs: [`video_pairs`] compares them when asked.
pub fn put_keyframes_of_file(
    c: &WriteTx<'_>,
    file: FileId,
    frames: &std::result::Result<Vec<(u32, u64)>, String>,
    now: i64,
) -> Result<()> {
    c.prepare_cached("DELETE FROM perceptual WHERE frame >= 1 AND content = (SELECT hash FROM files WHERE id = ?1)")?
        .execute([file])?;
    let mut ins = c.prepare_cached(
        "INSERT OR REPLACE INTO perceptual (content, frame, phash, error, computed_at)
         SELECT hash, ?2, ?3, ?4, ?5 FROM files WHERE id = ?1",
    )?;
    match frames {
        Ok(f) => {
            for (n, h) in f {
                ins.execute(params![file, n.max(&1), *h as i64, Option::<&str>::None, now])?;
            }
        }
        Err(e) => {
            ins.execute(params![file, 1, Option::<i64>::None, e, now])?;
        }
    }
    Ok(())
}

/// How many keyframes with a picture two videos must share to be compared at all.
pub const VIDEO_MIN_FRAMES: usize = 3;

/// The distance between two videos' keyframes: frame i is compared with frame i, and the
/// distance is the smallest number of bits within which a majority of the frames both
/// have agree (of 5 frames, the 3rd smallest of the 5 distances). Only frames with a
/// picture count: a flat frame (a black intro, a fade) hashes to (nearly) 0 in every video.
/// `None` when fewer than [`VIDEO_MIN_FRAMES`] such frame numbers are shared (ffmpeg could
/// not read the others): one or two frames do not make two videos alike.
pub fn video_distance(a: &[(u32, u64)], b: &[(u32, u64)]) -> Option<u32> {
    let pictured = |h: u64| (3..=61).contains(&h.count_ones());
    let mut d: Vec<u32> = a
        .iter()
        .filter(|(_, x)| pictured(*x))
        .filter_map(|(n, x)| {
            b.iter().find(|(m, y)| m == n && pictured(*y)).map(|(_, y)| crate::similar::distance(*x, *y))
        })
        .collect();
    if d.len() < VIDEO_MIN_FRAMES {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// The keyframes of every live video content that has any: (content, its live files,
/// frames), ordered by content.
pub type VideoFrames = Vec<(Hash, Vec<FileId>, Vec<(u32, u64)>)>;

/// Reads [`VideoFrames`].
pub fn video_frames(c: &Connection) -> Result<VideoFrames> {
    let mut frames: std::collections::BTreeMap<[u8; 32], Vec<(u32, u64)>> = std::collections::BTreeMap::new();
    let mut st =
        c.prepare_cached("SELECT content, frame, phash FROM perceptual WHERE frame >= 1 AND phash IS NOT NULL")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?)))?;
    for r in rows {
        let (h, n, p) = r?;
        if let Ok(h) = <[u8; 32]>::try_from(h.as_slice()) {
            frames.entry(h).or_default().push((n, p as u64));
        }
    }
    let mut files = c.prepare_cached(
        "SELECT id FROM files WHERE substr(hash, 1, 8) = substr(?1, 1, 8) AND hash = ?1 AND state <> 1 ORDER BY id",
    )?;
    let mut out = Vec::new();
    for (h, f) in frames {
        let ids: Vec<FileId> =
            files.query_map([h.as_slice()], |r| Ok(FileId(r.get(0)?)))?.collect::<rusqlite::Result<_>>()?;
        if !ids.is_empty() {
            out.push((Hash(h), ids, f));
        }
    }
    Ok(out)
}

/// Pairs of live video contents (indexes into `v`) whose keyframes are within `distance`
/// ([`video_distance`]), with the distance. Every pair of contents is compared: videos are
/// few next to images (10 000 videos are 50 million comparisons of 5 hashes, well under a
/// second).
pub fn video_content_pairs(v: &VideoFrames, distance: u32) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            if let Some(d) = video_distance(&v[i].2, &v[j].2).filter(|d| *d <= distance) {
                out.push((i, j, d));
            }
        }
    }
    out
}

/// Pairs of live files of different video content whose keyframes are within `distance`,
/// with the distance.
pub fn video_pairs(c: &Connection, distance: u32) -> Result<Vec<(FileId, FileId, u32)>> {
    let v = video_frames(c)?;
    let mut out = Vec::new();
    for (i, j, d) in video_content_pairs(&v, distance) {
        for a in &v[i].1 {
            for b in &v[j].1 {
                let (p, q) = ordered(*a, *b);
                out.push((p, q, d));
            }
        }
    }
    Ok(out)
}

/// Forgets the perceptual hashes of contents no record has any more (and their values'
/// near pairs when no content is left with them).
pub fn prune_perceptual(c: &WriteTx<'_>) -> Result<usize> {
    const GONE: &str = "NOT EXISTS (SELECT 1 FROM files f WHERE substr(f.hash, 1, 8) = substr(perceptual.content, 1, 8) AND f.hash = perceptual.content)";
    let values: Vec<i64> = c
        .prepare(&format!("SELECT DISTINCT phash FROM perceptual WHERE frame = 0 AND phash IS NOT NULL AND {GONE}"))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let n = c.prepare_cached(&format!("DELETE FROM perceptual WHERE {GONE}"))?.execute([])?;
    for v in values {
        drop_value_if_unused(c, v as u64)?;
    }
    Ok(n)
}

fn contents_with_value(c: &Connection, v: u64) -> Result<i64> {
    Ok(c.prepare_cached("SELECT count(*) FROM perceptual WHERE phash = ?1 AND phash IS NOT NULL AND frame = 0")?
        .query_row([v as i64], |r| r.get(0))?)
}

fn ordered_values(a: u64, b: u64) -> (i64, i64) {
    let (a, b) = (a as i64, b as i64);
    (a.min(b), a.max(b))
}

/// From how many new values on [`settle_near`] searches in memory (one read of every
/// stored value) instead of looking up each new value's buckets in the index.
const IN_MEMORY_FROM: usize = 2_000;

/// Enters the hash values stored in a transaction into the multi-index and the near pairs.
/// A value already entered only gains its (v, v, 0) row when a second content shares it.
/// A new value looks up its buckets within the stored radius (a few hundred index reads),
/// not every stored value; many new values at once (a bulk load, a migration) are searched
/// in memory against every stored value instead.
pub fn settle_near(c: &WriteTx<'_>, mut values: Vec<u64>) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    values.sort_unstable();
    values.dedup();
    let mut known = c.prepare_cached("SELECT 1 FROM phash_bands WHERE key = ?1 AND phash = ?2")?;
    let mut fresh = Vec::new();
    for &v in &values {
        if known.query_row(params![crate::similar::band_keys(v)[0], v as i64], |_| Ok(())).optional()?.is_none() {
            fresh.push(v);
        }
    }
    let mut pair = c.prepare_cached("INSERT OR IGNORE INTO phash_pairs (a, b, distance) VALUES (?1, ?2, ?3)")?;
    let max = crate::similar::STORED_DISTANCE;
    if fresh.len() >= IN_MEMORY_FROM {
        let all: Vec<u64> = c
            .prepare_cached("SELECT DISTINCT phash FROM perceptual WHERE phash IS NOT NULL AND frame = 0")?
            .query_map([], |r| Ok(r.get::<_, i64>(0)? as u64))?
            .collect::<rusqlite::Result<_>>()?;
        let fresh_set: HashSet<u64> = fresh.iter().copied().collect();
        let new: Vec<u32> = (0..all.len() as u32).filter(|&i| fresh_set.contains(&all[i as usize])).collect();
        for (i, j, d) in crate::similar::pairs_of(&all, &new, max) {
            let (x, y) = ordered_values(all[i as usize], all[j as usize]);
            pair.execute(params![x, y, d])?;
        }
    } else {
        let mut look = c.prepare_cached("SELECT phash FROM phash_bands WHERE key = ?1")?;
        let mut ins = c.prepare_cached("INSERT OR IGNORE INTO phash_bands (key, phash) VALUES (?1, ?2)")?;
        for &v in &fresh {
            for (b, key) in crate::similar::probe_keys(v, max) {
                let found: Vec<i64> = look.query_map([key], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                for g in found {
                    let g = g as u64;
                    let d = crate::similar::distance(v, g);
                    if d <= max && crate::similar::first_band(v, g, max) == Some(b) {
                        let (x, y) = ordered_values(v, g);
                        pair.execute(params![x, y, d])?;
                    }
                }
            }
            // Entered after its search, so the next new value finds it.
            for k in crate::similar::band_keys(v) {
                ins.execute(params![k, v as i64])?;
            }
        }
    }
    if fresh.len() >= IN_MEMORY_FROM {
        let mut ins = c.prepare_cached("INSERT OR IGNORE INTO phash_bands (key, phash) VALUES (?1, ?2)")?;
        for &v in &fresh {
            for k in crate::similar::band_keys(v) {
                ins.execute(params![k, v as i64])?;
            }
        }
    }
    for &v in &values {
        if contents_with_value(c, v)? > 1 {
            pair.execute(params![v as i64, v as i64, 0])?;
        }
    }
    Ok(())
}

/// Takes a value out of the multi-index and its pairs when no content has it any more
/// (and its (v, v, 0) row when fewer than two do).
fn drop_value_if_unused(c: &WriteTx<'_>, v: u64) -> Result<()> {
    match contents_with_value(c, v)? {
        0 => {
            let mut del = c.prepare_cached("DELETE FROM phash_bands WHERE key = ?1 AND phash = ?2")?;
            for k in crate::similar::band_keys(v) {
                del.execute(params![k, v as i64])?;
            }
            c.prepare_cached("DELETE FROM phash_pairs WHERE a = ?1 OR b = ?1")?.execute([v as i64])?;
        }
        1 => {
            c.prepare_cached("DELETE FROM phash_pairs WHERE a = ?1 AND b = ?1")?.execute([v as i64])?;
        }
        _ => {}
    }
    Ok(())
}

/// A row of `phash_pairs`: (a, b, distance).
type StoredPair = (i64, i64, i64);

/// What the multi-index and the near pairs should hold, computed from `perceptual`: the
/// distinct values, and the pairs (with the (v, v, 0) rows).
fn expected_near(c: &Connection) -> Result<(Vec<u64>, Vec<StoredPair>)> {
    let mut st =
        c.prepare("SELECT phash, count(*) FROM perceptual WHERE phash IS NOT NULL AND frame = 0 GROUP BY phash")?;
    let mut values = Vec::new();
    let mut pairs = Vec::new();
    for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (v, n) = r?;
        values.push(v as u64);
        if n > 1 {
            pairs.push((v, v, 0));
        }
    }
    for (i, j, d) in crate::similar::pairs(&values, crate::similar::STORED_DISTANCE) {
        let (x, y) = ordered_values(values[i as usize], values[j as usize]);
        pairs.push((x, y, i64::from(d)));
    }
    pairs.sort_unstable();
    Ok((values, pairs))
}

/// Rebuilds the multi-index and the near pairs from `perceptual` (after the migration that
/// adds them, and by `trove check --repair`): one full search, not all pairs.
pub fn rebuild_near(c: &WriteTx<'_>) -> Result<()> {
    let (values, pairs) = expected_near(c)?;
    c.execute_batch("DELETE FROM phash_bands; DELETE FROM phash_pairs;")?;
    let mut keys: Vec<(i64, i64)> =
        values.iter().flat_map(|&v| crate::similar::band_keys(v).map(|k| (k, v as i64))).collect();
    keys.sort_unstable();
    let mut ins = c.prepare_cached("INSERT INTO phash_bands (key, phash) VALUES (?1, ?2)")?;
    for (k, v) in keys {
        ins.execute(params![k, v])?;
    }
    let mut ins = c.prepare_cached("INSERT INTO phash_pairs (a, b, distance) VALUES (?1, ?2, ?3)")?;
    for (a, b, d) in pairs {
        ins.execute(params![a, b, d])?;
    }
    Ok(())
}

/// How the stored multi-index and near pairs differ from what `perceptual` says (empty when
/// they agree), for `trove check --full`.
pub fn verify_near(c: &Connection) -> Result<Vec<String>> {
    let (values, want) = expected_near(c)?;
    let have: Vec<(i64, i64, i64)> = c
        .prepare("SELECT a, b, distance FROM phash_pairs ORDER BY a, b")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    let want_set: std::collections::HashSet<_> = want.iter().copied().collect();
    let have_set: std::collections::HashSet<_> = have.iter().copied().collect();
    let missing = want_set.difference(&have_set).count();
    let extra = have_set.difference(&want_set).count();
    if missing > 0 {
        out.push(format!("similar-image pairs: {missing} of {} missing", want.len()));
    }
    if extra > 0 {
        out.push(format!("similar-image pairs: {extra} stored that are not near pairs of stored hashes"));
    }
    let mut want_keys: Vec<(i64, i64)> =
        values.iter().flat_map(|&v| crate::similar::band_keys(v).map(|k| (k, v as i64))).collect();
    want_keys.sort_unstable();
    let have_keys: Vec<(i64, i64)> = c
        .prepare("SELECT key, phash FROM phash_bands ORDER BY key, phash")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if want_keys != have_keys {
        out.push(format!(
            "similar-image index: {} band entries stored, {} expected from the perceptual hashes",
            have_keys.len(),
            want_keys.len()
        ));
    }
    Ok(out)
}

/// Live files with perceptual hashes, and the pairs of distinct hash values at most some
/// distance apart, for the questions about similar images.
pub struct Near {
    /// (file, content, hash value) of live files: every one with a hash when searched, those
    /// whose value is in some pair (or shared by two contents) when read from the pairs.
    pub rows: Vec<(FileId, Hash, u64)>,
    /// Pairs of distinct values within the distance, with the distance.
    pub pairs: Vec<(u64, u64, u32)>,
}

/// The near pairs at `distance`: read from `phash_pairs` when `distance` is at most
/// [`crate::similar::STORED_DISTANCE`], searched over every stored hash beyond it.
pub fn near(c: &Connection, distance: u32) -> Result<Near> {
    if distance > crate::similar::STORED_DISTANCE {
        let rows = hashed(c)?;
        let mut values: Vec<u64> = rows.iter().map(|r| r.2).collect();
        values.sort_unstable();
        values.dedup();
        let pairs = crate::similar::pairs(&values, distance)
            .into_iter()
            .map(|(i, j, d)| (values[i as usize], values[j as usize], d))
            .collect();
        return Ok(Near { rows, pairs });
    }
    let stored: Vec<(i64, i64, i64)> = c
        .prepare_cached("SELECT a, b, distance FROM phash_pairs WHERE distance <= ?1")?
        .query_map([distance], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = c.prepare_cached(
        "WITH v(x) AS (SELECT a FROM phash_pairs WHERE distance <= ?1 UNION SELECT b FROM phash_pairs WHERE distance <= ?1)
         SELECT f.id, f.hash, p.phash FROM v
           JOIN perceptual p ON p.phash = v.x AND p.phash IS NOT NULL AND p.frame = 0
           JOIN files f ON substr(f.hash, 1, 8) = substr(p.content, 1, 8) AND f.hash = p.content
         WHERE f.state <> 1",
    )?;
    let rows = st
        .query_map([distance], |r| {
            let h: Vec<u8> = r.get(1)?;
            let mut hash = [0u8; 32];
            if h.len() == 32 {
                hash.copy_from_slice(&h);
            }
            Ok((FileId(r.get(0)?), Hash(hash), r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let pairs = stored.into_iter().filter(|p| p.0 != p.1).map(|(a, b, d)| (a as u64, b as u64, d as u32)).collect();
    Ok(Near { rows, pairs })
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

/// Stores that `a` and `b` are potential duplicates (a client said so); whether it was new.
pub fn add_potential(c: &WriteTx<'_>, a: FileId, b: FileId, now: i64) -> Result<bool> {
    let (a, b) = ordered(a, b);
    if a == b {
        return Ok(false);
    }
    Ok(c.prepare_cached("INSERT OR IGNORE INTO dupe_potentials (a, b, added_at) VALUES (?1, ?2, ?3)")?
        .execute(params![a, b, now])?
        > 0)
}

/// Forgets the stated potential pairs involving any of `ids`; how many.
pub fn remove_potentials_of(c: &WriteTx<'_>, ids: &[FileId]) -> Result<u64> {
    let mut st = c.prepare_cached("DELETE FROM dupe_potentials WHERE a = ?1 OR b = ?1")?;
    let mut n = 0u64;
    for id in ids {
        n += st.execute([id])? as u64;
    }
    Ok(n)
}

/// The stated potential pairs between live files (a < b).
pub fn stated_potentials(c: &Connection) -> Result<Vec<(FileId, FileId)>> {
    let mut st = c.prepare_cached(
        "SELECT p.a, p.b FROM dupe_potentials p JOIN files x ON x.id = p.a JOIN files y ON y.id = p.b
         WHERE x.state <> 1 AND y.state <> 1",
    )?;
    let rows = st.query_map([], |r| Ok((FileId(r.get(0)?), FileId(r.get(1)?))))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Candidate pairs of files (by id, `a < b`): live copies of the same non-empty content,
/// live files of different content whose perceptual hashes (or videos whose keyframes)
/// are within `distance` bits, and the pairs a client stated ([`stated_potentials`]).
/// Sorted, without repeats.
pub fn candidate_pairs(c: &Connection, distance: u32) -> Result<Vec<(FileId, FileId)>> {
    let mut out = stated_potentials(c)?;
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
/// `distance` bits, or videos whose keyframes are within it ([`video_pairs`]), with the
/// distance.
pub fn similar_pairs(c: &Connection, distance: u32) -> Result<Vec<(FileId, FileId, u32)>> {
    let near = near(c, distance)?;
    // The files of each value.
    let mut by_value: std::collections::HashMap<u64, Vec<(FileId, Hash)>> = std::collections::HashMap::new();
    for (id, h, p) in near.rows {
        by_value.entry(p).or_default().push((id, h));
    }
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
    for m in by_value.values() {
        join(m, m, 0, true);
    }
    for (a, b, d) in near.pairs {
        if let (Some(x), Some(y)) = (by_value.get(&a), by_value.get(&b)) {
            join(x, y, d, false);
        }
    }
    out.extend(video_pairs(c, distance)?);
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Live files with a perceptual hash within `distance` bits of another live file of
/// different content, or a video whose keyframes are ([`video_pairs`]) (`dupe:similar`),
/// without listing pairs.
pub fn similar_ids(c: &Connection, distance: u32) -> Result<Vec<FileId>> {
    let near = near(c, distance)?;
    let mut by_value: std::collections::HashMap<u64, Vec<(FileId, Hash)>> = std::collections::HashMap::new();
    for (id, h, p) in near.rows {
        by_value.entry(p).or_default().push((id, h));
    }
    let mut hit: HashSet<u64> =
        by_value.iter().filter(|(_, m)| m.iter().any(|x| x.1 != m[0].1)).map(|(v, _)| *v).collect();
    for (a, b, _) in near.pairs {
        if by_value.contains_key(&a) && by_value.contains_key(&b) {
            hit.insert(a);
            hit.insert(b);
        }
    }
    let mut out: Vec<FileId> = hit.iter().flat_map(|v| by_value[v].iter().map(|x| x.0)).collect();
    out.extend(video_pairs(c, distance)?.into_iter().flat_map(|(a, b, _)| [a, b]));
    out.sort_unstable();
    out.dedup();
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

/// The current pixel size of a file when its metadata is fresh (read from the file as it
/// is now).
pub fn dimensions_of(c: &Connection, id: FileId) -> Result<Dims> {
    Ok(c.prepare_cached(
        "SELECT m.width, m.height FROM files f JOIN file_meta m ON m.file_id = f.id
         WHERE f.id = ?1 AND m.size = f.size AND m.mtime_ns = f.mtime_ns",
    )?
    .query_row([id], |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?.and_then(|v| u32::try_from(v).ok()),
            r.get::<_, Option<i64>>(1)?.and_then(|v| u32::try_from(v).ok()),
        ))
    })
    .optional()?
    .unwrap_or((None, None)))
}

#[cfg(test)]
mod tests {
    use super::video_distance;

    #[test]
    fn video_distance_is_where_a_majority_of_the_same_numbered_frames_agree() {
        // A frame with a picture (half its bits set), and its opposite (64 bits away).
        const P: u64 = 0x5555_5555_5555_5555;
        let a = [(1, P), (2, P), (3, P), (4, P), (5, P)];
        // Two frames far off (another intro, a cut), three within 2 bits: distance 2.
        let b = [(1, !P), (2, P ^ 0b1), (3, P ^ 0b11), (4, P), (5, !P)];
        assert_eq!(video_distance(&a, &b), Some(2));
        // Three frames far off: the majority disagrees.
        let c = [(1, !P), (2, !P), (3, !P), (4, P), (5, P)];
        assert_eq!(video_distance(&a, &c), Some(64));
        // Frames are compared by number, not position in the list.
        let d = [(5, P), (4, P), (3, P)];
        assert_eq!(video_distance(&a, &d), Some(0));
        // Four shared frames: a majority is three.
        let e = [(1, P), (2, P ^ 0b1), (3, P ^ 0b111), (4, !P)];
        assert_eq!(video_distance(&a, &e), Some(3));
        assert_eq!(video_distance(&a, &[(9, P)]), None);
    }

    #[test]
    fn flat_frames_and_too_few_shared_frames_make_no_video_alike() {
        const P: u64 = 0x5555_5555_5555_5555;
        const Q: u64 = 0x0f0f_0f0f_0f0f_0f0f;
        // Two different videos with the same black intro and fade-out (hash 0, or a bit or
        // two from it), their pictures 32 bits apart: not alike.
        let a = [(1, 0), (2, P), (3, P), (4, 0b1), (5, 0)];
        let b = [(1, 0), (2, Q), (3, Q), (4, 0), (5, 0b10)];
        assert_eq!(video_distance(&a, &b), None, "only two frames with a picture are shared");
        let a = [(1, P), (2, P), (3, P), (4, 0), (5, 0)];
        let b = [(1, P ^ 1), (2, Q), (3, Q), (4, 0), (5, 0)];
        assert_eq!(video_distance(&a, &b), Some(32), "three pictured frames: the majority is far");
        // ffmpeg read only two frames of one video: too few to compare.
        assert_eq!(video_distance(&[(1, P), (2, P)], &[(1, P), (2, P), (3, P)]), None);
    }
}
