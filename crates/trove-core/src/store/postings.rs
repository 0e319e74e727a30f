//! Posting lists: each tag's files, each namespace's files (linked to any tag with a name in
//! it), the live files and the tagged files as Roaring bitmaps of file ids, kept in the
//! `postings` table in chunks of 2^16 ids (see migrations 0008 and 0012).
//!
//! They mirror `file_tags` and `files.state` exactly and never lag: triggers note each
//! (set, file) pair a statement touches in `postings_dirty`, and [`flush`] settles those pairs
//! against the links at the end of every [`crate::Index::write`], inside its transaction. So
//! a commit carries its bitmaps with it, and a kill -9 at any moment leaves both or neither.
//! A reader that sees `postings_dirty` not empty evaluates with plain SQL ([`usable`]).

use std::collections::{BTreeMap, BTreeSet};

use roaring::{MultiOps, RoaringBitmap};
use rusqlite::{Connection, OptionalExtension, params};

use super::WriteTx;
use crate::Result;

/// The set of live files (state present or offline).
pub const LIVE: i64 = 0;
/// The set of files with at least one link.
pub const TAGGED: i64 = -1;
/// In `postings_dirty`: a bulk load is under way; its end rebuilds every set.
const BULK: i64 = -9;
/// A namespace's set (files linked to a tag with a name in it) is stored under
/// `NS_BASE - id`, `id` its number in `postings_ns` (migration 0012).
const NS_BASE: i64 = -1000;

/// Whether `key` names a namespace's set.
fn is_ns(key: i64) -> bool {
    key < NS_BASE
}

/// The key of the namespace `ns` (folded), if it has one.
pub fn ns_key(c: &Connection, ns: &str) -> Result<Option<i64>> {
    let id: Option<i64> =
        c.prepare_cached("SELECT id FROM postings_ns WHERE ns = ?1")?.query_row([ns], |r| r.get(0)).optional()?;
    Ok(id.map(|id| NS_BASE - id))
}
/// A chunk holds the ids sharing `id >> CHUNK_BITS`.
const CHUNK_BITS: u32 = 16;
/// Above this many touched files in one chunk, the chunk is recomputed from a range scan of
/// the links instead of one lookup per file.
const RECOMPUTE: usize = 256;

/// Whether queries may use the bitmaps now: nothing waits to be settled, and every file id
/// fits in 32 bits (ids are dense, so only a hand-edited index gets near it).
pub fn usable(c: &Connection) -> Result<bool> {
    let dirty: bool = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM postings_dirty)")?.query_row([], |r| r.get(0))?;
    if dirty || super::trigrams::pending(c)? {
        return Ok(false);
    }
    let max: Option<i64> = c.prepare_cached("SELECT max(id) FROM files")?.query_row([], |r| r.get(0))?;
    Ok(max.is_none_or(|m| m <= i64::from(u32::MAX)))
}

/// The set stored under `key` (a tag id, [`LIVE`] or [`TAGGED`]).
pub fn load(c: &Connection, key: i64) -> Result<RoaringBitmap> {
    let mut st = c.prepare_cached("SELECT bits FROM postings WHERE tag_id = ?1")?;
    let parts = st.query_map([key], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = RoaringBitmap::new();
    for p in parts {
        out |= decode(&p?)?;
    }
    Ok(out)
}

/// The union of the sets of every tag id the query `tags_sql` returns (with `params`).
pub fn load_union(c: &Connection, tags_sql: &str, params: &[rusqlite::types::Value]) -> Result<RoaringBitmap> {
    let sql = format!("SELECT p.bits FROM postings p WHERE p.tag_id IN ({tags_sql}) AND p.tag_id > 0");
    let mut st = c.prepare_cached(&sql)?;
    let blobs = st
        .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let sets = blobs.iter().map(|b| decode(b)).collect::<Result<Vec<_>>>()?;
    Ok(sets.union())
}

/// How many ids a stored set holds, read from the serialized header (each container's key
/// and cardinality) without decoding the containers, when the blob's length is exactly what
/// that header describes; any other blob (run containers, an unknown or damaged header, a
/// blob cut short or padded) is decoded, so damage is an error, never a wrong count.
pub fn cardinality(b: &[u8]) -> Result<u64> {
    // The portable format without run containers (what trove writes): cookie, container
    // count, (key, cardinality - 1) per container, an offset per container, then each
    // container: an array of 2-byte values up to 4096 of them, else an 8 KiB bitmap.
    const NO_RUNS: u32 = 12346;
    let u16_at = |i: usize| b.get(i..i + 2).map(|x| u64::from(u16::from_le_bytes([x[0], x[1]])));
    let header = || -> Option<u64> {
        if u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) != NO_RUNS {
            return None;
        }
        let size = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize;
        let (mut n, mut len) = (0, 8 + 8 * size as u64);
        for k in 0..size {
            let card = u16_at(8 + 4 * k + 2)? + 1;
            n += card;
            len += if card > 4096 { 8192 } else { 2 * card };
        }
        (len == b.len() as u64).then_some(n)
    };
    match header() {
        Some(n) => Ok(n),
        None => Ok(decode(b)?.len()),
    }
}

fn decode(b: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(b)
        .map_err(|e| crate::Error::from(crate::StoreError::DamagedPostings { reason: e.to_string() }))
}

fn encode(b: &RoaringBitmap) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.serialized_size());
    b.serialize_into(&mut v).expect("writing to a Vec cannot fail");
    v
}

fn chunk_range(chunk: i64) -> (i64, i64) {
    (chunk << CHUNK_BITS, ((chunk + 1) << CHUNK_BITS) - 1)
}

fn store_chunk(c: &Connection, key: i64, chunk: i64, b: &RoaringBitmap) -> Result<()> {
    if b.is_empty() {
        c.prepare_cached("DELETE FROM postings WHERE tag_id = ?1 AND chunk = ?2")?.execute(params![key, chunk])?;
    } else {
        c.prepare_cached("INSERT OR REPLACE INTO postings (tag_id, chunk, bits) VALUES (?1, ?2, ?3)")?
            .execute(params![key, chunk, encode(b)])?;
    }
    Ok(())
}

fn load_chunk(c: &Connection, key: i64, chunk: i64) -> Result<RoaringBitmap> {
    let b: Option<Vec<u8>> = c
        .prepare_cached("SELECT bits FROM postings WHERE tag_id = ?1 AND chunk = ?2")?
        .query_row(params![key, chunk], |r| r.get(0))
        .optional()?;
    b.map_or_else(|| Ok(RoaringBitmap::new()), |b| decode(&b))
}

/// Whether `file` belongs to the set `key` according to the links and file states.
fn member(c: &Connection, key: i64, file: i64) -> Result<bool> {
    let sql = match key {
        LIVE => "SELECT EXISTS (SELECT 1 FROM files WHERE id = ?2 AND state <> 1 AND ?1 = ?1)",
        TAGGED => "SELECT EXISTS (SELECT 1 FROM file_tags WHERE file_id = ?2 AND ?1 = ?1)",
        k if is_ns(k) => {
            "SELECT EXISTS (SELECT 1 FROM file_tags ft JOIN tag_names n ON n.tag_id = ft.tag_id \
             JOIN postings_ns p ON p.ns = n.ns WHERE ft.file_id = ?2 AND p.id = -1000 - ?1)"
        }
        _ => "SELECT EXISTS (SELECT 1 FROM file_tags WHERE tag_id = ?1 AND file_id = ?2)",
    };
    Ok(c.prepare_cached(sql)?.query_row(params![key, file], |r| r.get(0))?)
}

/// The set `key` restricted to ids `lo..=hi`, computed from the links and file states.
fn compute_range(c: &Connection, key: i64, lo: i64, hi: i64) -> Result<RoaringBitmap> {
    let sql = match key {
        LIVE => "SELECT id FROM files WHERE id BETWEEN ?2 AND ?3 AND state <> 1 AND ?1 = ?1",
        TAGGED => "SELECT DISTINCT file_id FROM file_tags WHERE file_id BETWEEN ?2 AND ?3 AND ?1 = ?1",
        k if is_ns(k) => {
            "SELECT ft.file_id FROM postings_ns p JOIN tag_names n ON n.ns = p.ns \
             JOIN file_tags ft ON ft.tag_id = n.tag_id WHERE p.id = -1000 - ?1 AND ft.file_id BETWEEN ?2 AND ?3"
        }
        _ => "SELECT DISTINCT file_id FROM file_tags WHERE tag_id = ?1 AND file_id BETWEEN ?2 AND ?3",
    };
    let mut st = c.prepare_cached(sql)?;
    let ids = st.query_map(params![key, lo, hi], |r| r.get::<_, i64>(0))?;
    let mut b = RoaringBitmap::new();
    for id in ids {
        if let Ok(id) = u32::try_from(id?) {
            b.insert(id);
        }
    }
    Ok(b)
}

/// Settles every noted (set, file) pair against the links, inside the caller's transaction.
/// With `defer` (a bulk load running), marks the sets for a rebuild at the load's end instead.
pub(crate) fn flush(c: &WriteTx<'_>, defer: bool) -> Result<()> {
    let bulk: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = ?1 AND file_id = 0)")?
        .query_row([BULK], |r| r.get(0))?;
    if defer {
        if !bulk {
            c.prepare_cached("INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (?1, 0)")?
                .execute([BULK])?;
        }
        return Ok(());
    }
    if bulk {
        return rebuild(c);
    }
    let mut groups: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    // Namespaces whose whole set is rebuilt (a name left or joined one: file_id -1).
    let mut whole: BTreeSet<i64> = BTreeSet::new();
    {
        let mut st = c.prepare_cached("SELECT tag_id, file_id FROM postings_dirty")?;
        let mut spaces =
            c.prepare_cached("SELECT -1000 - p.id FROM tag_names n JOIN postings_ns p USING (ns) WHERE n.tag_id = ?1")?;
        // A tag's namespaces (a link noted under its tag changes them too).
        let mut of_tag: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (key, file) = row?;
            if is_ns(key) && file < 0 {
                whole.insert(key);
                continue;
            }
            groups.entry((key, file >> CHUNK_BITS)).or_default().push(file);
            if key > 0 {
                if let std::collections::btree_map::Entry::Vacant(v) = of_tag.entry(key) {
                    v.insert(spaces.query_map([key], |r| r.get(0))?.collect::<rusqlite::Result<Vec<i64>>>()?);
                }
                for ns in &of_tag[&key] {
                    groups.entry((*ns, file >> CHUNK_BITS)).or_default().push(file);
                }
            }
        }
    }
    for key in &whole {
        c.prepare_cached("DELETE FROM postings WHERE tag_id = ?1")?.execute([key])?;
        let ns: Option<String> = c
            .prepare_cached("SELECT ns FROM postings_ns WHERE id = ?1")?
            .query_row([NS_BASE - key], |r| r.get(0))
            .optional()?;
        if let Some(ns) = ns {
            for (chunk, b) in by_chunk(&ns_set(c, &ns)?) {
                store_chunk(c, *key, chunk, &b)?;
            }
        }
    }
    groups.retain(|(key, _), _| !whole.contains(key));
    for ((key, chunk), mut files) in groups {
        files.sort_unstable();
        files.dedup();
        let b = if files.len() > RECOMPUTE {
            let (lo, hi) = chunk_range(chunk);
            compute_range(c, key, lo, hi)?
        } else {
            let mut b = load_chunk(c, key, chunk)?;
            for f in files {
                let Ok(id) = u32::try_from(f) else { continue };
                if member(c, key, f)? {
                    b.insert(id);
                } else {
                    b.remove(id);
                }
            }
            b
        };
        store_chunk(c, key, chunk, &b)?;
    }
    c.prepare_cached("DELETE FROM postings_dirty")?.execute([])?;
    // The paths' trigrams, settled the same way.
    super::trigrams::flush(c)
}

/// The files linked to any tag with a name in the namespace `ns`, from the links.
fn ns_set(c: &Connection, ns: &str) -> Result<RoaringBitmap> {
    let mut st = c.prepare_cached(
        "SELECT ft.file_id FROM tag_names n JOIN file_tags ft ON ft.tag_id = n.tag_id WHERE n.ns = ?1",
    )?;
    let mut all = RoaringBitmap::new();
    for fid in st.query_map([ns], |r| r.get::<_, i64>(0))? {
        if let Ok(fid) = u32::try_from(fid?) {
            all.insert(fid);
        }
    }
    Ok(all)
}

/// A set cut into its chunks, in order.
fn by_chunk(all: &RoaringBitmap) -> BTreeMap<i64, RoaringBitmap> {
    let mut chunks: BTreeMap<i64, RoaringBitmap> = BTreeMap::new();
    for fid in all {
        chunks.entry(i64::from(fid) >> CHUNK_BITS).or_default().insert(fid);
    }
    chunks
}

/// Every set as the links and file states say it should be, chunk by chunk, in key order.
fn expected(c: &Connection, mut f: impl FnMut(i64, i64, RoaringBitmap) -> Result<()>) -> Result<()> {
    let sources = [
        (LIVE, "SELECT id FROM files WHERE state <> 1 ORDER BY id"),
        (TAGGED, "SELECT DISTINCT file_id FROM file_tags ORDER BY file_id"),
    ];
    for (key, sql) in sources {
        let mut st = c.prepare(sql)?;
        let mut rows = st.query([])?;
        let mut cur: Option<(i64, RoaringBitmap)> = None;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let Ok(id32) = u32::try_from(id) else { continue };
            let chunk = id >> CHUNK_BITS;
            match &mut cur {
                Some((ch, b)) if *ch == chunk => {
                    b.insert(id32);
                }
                _ => {
                    if let Some((ch, b)) = cur.take() {
                        f(key, ch, b)?;
                    }
                    let mut b = RoaringBitmap::new();
                    b.insert(id32);
                    cur = Some((chunk, b));
                }
            }
        }
        if let Some((ch, b)) = cur.take() {
            f(key, ch, b)?;
        }
    }
    let mut st = c.prepare("SELECT DISTINCT tag_id, file_id FROM file_tags ORDER BY tag_id, file_id")?;
    let mut rows = st.query([])?;
    let mut cur: Option<(i64, i64, RoaringBitmap)> = None;
    while let Some(r) = rows.next()? {
        let (tag, id): (i64, i64) = (r.get(0)?, r.get(1)?);
        let Ok(id32) = u32::try_from(id) else { continue };
        let chunk = id >> CHUNK_BITS;
        match &mut cur {
            Some((t, ch, b)) if *t == tag && *ch == chunk => {
                b.insert(id32);
            }
            _ => {
                if let Some((t, ch, b)) = cur.take() {
                    f(t, ch, b)?;
                }
                let mut b = RoaringBitmap::new();
                b.insert(id32);
                cur = Some((tag, chunk, b));
            }
        }
    }
    if let Some((t, ch, b)) = cur.take() {
        f(t, ch, b)?;
    }
    // Each namespace's set: the files of every tag with a name in it (a tag's links come in
    // file order, tag after tag; the bitmap sorts them out).
    let namespaces: Vec<(i64, String)> = c
        .prepare("SELECT id, ns FROM postings_ns ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, ns) in namespaces {
        for (chunk, b) in by_chunk(&ns_set(c, &ns)?) {
            f(NS_BASE - id, chunk, b)?;
        }
    }
    Ok(())
}

/// Throws every set away and builds them again from the links and file states (after the
/// migration that adds them, at the end of a bulk load, and for `trove check --repair`).
pub(crate) fn rebuild(c: &WriteTx<'_>) -> Result<()> {
    c.execute_batch("DELETE FROM postings; DELETE FROM postings_dirty;")?;
    let mut ins = c.prepare("INSERT INTO postings (tag_id, chunk, bits) VALUES (?1, ?2, ?3)")?;
    expected(c, |key, chunk, mut b| {
        b.optimize();
        ins.execute(params![key, chunk, encode(&b)])?;
        Ok(())
    })?;
    // The paths' trigrams too (a bulk load noted none of its paths).
    super::trigrams::rebuild(c)
}

/// Compares every stored set with the links and file states: one line per set that differs
/// (empty when they all agree).
pub fn verify(c: &Connection) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let dirty: i64 = c.query_row("SELECT count(*) FROM postings_dirty", [], |r| r.get(0))?;
    if dirty > 0 {
        problems.push(format!("{dirty} posting list change(s) not settled (an interrupted bulk load)"));
    }
    let mut stored: BTreeMap<(i64, i64), Vec<u8>> = BTreeMap::new();
    {
        let mut st = c.prepare("SELECT tag_id, chunk, bits FROM postings")?;
        let rows = st.query_map([], |r| Ok(((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?), r.get::<_, Vec<u8>>(2)?)))?;
        for row in rows {
            let (k, v) = row?;
            stored.insert(k, v);
        }
    }
    let name = |key: i64| match key {
        LIVE => "the live files".to_string(),
        TAGGED => "the tagged files".to_string(),
        k if is_ns(k) => format!("namespace #{}", NS_BASE - k),
        t => format!("tag #{t}"),
    };
    expected(c, |key, chunk, want| {
        match stored.remove(&(key, chunk)).map(|b| decode(&b)) {
            Some(Ok(have)) if have == want => {}
            Some(Ok(have)) => problems.push(format!(
                "posting list of {} (ids {}..={}): {} stored, {} in the links",
                name(key),
                chunk_range(chunk).0,
                chunk_range(chunk).1,
                have.len(),
                want.len()
            )),
            Some(Err(_)) => problems.push(format!("posting list of {}: damaged chunk {chunk}", name(key))),
            None => {
                problems.push(format!("posting list of {}: chunk {chunk} absent ({} files)", name(key), want.len()));
            }
        }
        Ok(())
    })?;
    for (key, chunk) in stored.keys() {
        problems.push(format!("posting list of {}: chunk {chunk} stored but the links have none", name(*key)));
    }
    problems.extend(super::trigrams::verify(c)?);
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header count agrees with decoding, for array, bitmap and run containers, one
    /// chunk (as stored) or several, and an empty set.
    #[test]
    fn cardinality_from_the_header_agrees_with_decoding() {
        let mut sets: Vec<RoaringBitmap> = vec![RoaringBitmap::new()];
        sets.push([7u32, 9, 65_535].into_iter().collect());
        sets.push((0..30_000u32).map(|i| i * 2).collect());
        let mut runs: RoaringBitmap = (100_000..160_000u32).collect();
        runs.optimize();
        sets.push(runs.clone());
        runs.insert(5);
        runs.insert(3_000_000);
        runs.optimize();
        sets.push(runs);
        sets.push((0..5u32).map(|i| i << 16).collect());
        for b in &sets {
            let bytes = encode(b);
            assert_eq!(cardinality(&bytes).unwrap(), b.len(), "{b:?}");
        }
        // A header it does not know is decoded: a damaged one is an error, never a count.
        assert!(cardinality(b"\x01\x02\x03\x04junk").is_err());
        // A blob cut short, or whose header claims more than it holds, is an error too.
        let bytes = encode(&[7u32, 9, 65_535].into_iter().collect());
        for cut in [12, bytes.len() - 1] {
            assert!(cardinality(&bytes[..cut]).is_err(), "cut to {cut} bytes");
        }
        let mut claims = bytes.clone();
        claims[10..12].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(cardinality(&claims).map_or(true, |n| n == 3), "a header claiming 65536 ids");
    }
}
