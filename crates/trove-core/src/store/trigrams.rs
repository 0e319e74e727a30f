//! Path trigrams: for each 3-byte sequence, the files whose path contains it, as Roaring
//! bitmaps of file ids in the `trigrams` table, chunked like the posting lists (migration
//! 0015). A `path:` glob's literal runs of 3 bytes or more give an intersection of these
//! sets: the candidates, whose real paths the byte glob then checks (so results stay
//! byte-exact). Paths are bytes: a trigram may hold half a UTF-8 character, or `\xff`.
//!
//! Kept like the posting lists: triggers note each file whose path changed, with the path
//! the sets still hold, in `trigrams_dirty`; [`flush`] settles them at the end of every
//! [`crate::Index::write`], inside its transaction; [`rebuild`] builds them from the paths
//! (after the migration, at the end of a bulk load, `trove check --repair`) and [`verify`]
//! compares them with the paths (`trove check --full`).

use std::collections::{BTreeMap, HashMap};

use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// A chunk holds the ids sharing `id >> CHUNK_BITS` (as in `postings`).
const CHUNK_BITS: u32 = 16;

/// The distinct trigrams of `bytes`, sorted, each as `b0 << 16 | b1 << 8 | b2`.
pub(crate) fn of(bytes: &[u8]) -> Vec<u32> {
    let mut v: Vec<u32> =
        bytes.windows(3).map(|w| (u32::from(w[0]) << 16) | (u32::from(w[1]) << 8) | u32::from(w[2])).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether path changes wait to be settled (inside a write, before its end).
pub fn pending(c: &Connection) -> Result<bool> {
    Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM trigrams_dirty)")?.query_row([], |r| r.get(0))?)
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

/// The files whose path contains the trigram `tri`.
fn load(c: &Connection, tri: u32) -> Result<RoaringBitmap> {
    let mut st = c.prepare_cached("SELECT bits FROM trigrams WHERE tri = ?1")?;
    let parts = st.query_map([tri], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = RoaringBitmap::new();
    for p in parts {
        out |= decode(&p?)?;
    }
    Ok(out)
}

/// The files whose path contains every trigram of `tris` (which must not be empty).
pub(crate) fn candidates(c: &Connection, tris: &[u32]) -> Result<RoaringBitmap> {
    let mut acc: Option<RoaringBitmap> = None;
    for t in tris {
        let s = load(c, *t)?;
        let a = match acc {
            None => s,
            Some(mut a) => {
                a &= s;
                a
            }
        };
        if a.is_empty() {
            return Ok(a);
        }
        acc = Some(a);
    }
    Ok(acc.unwrap_or_default())
}

/// Settles every noted file: its id leaves the sets of its old path's trigrams and joins
/// those of its current path's, inside the caller's transaction.
pub(crate) fn flush(c: &Connection) -> Result<()> {
    let noted: Vec<(i64, Option<Vec<u8>>)> = c
        .prepare_cached("SELECT file_id, path FROM trigrams_dirty")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if noted.is_empty() {
        return Ok(());
    }
    // (trigram, chunk) → (file, whether it joins).
    let mut changes: BTreeMap<(u32, i64), Vec<(u32, bool)>> = BTreeMap::new();
    let mut now = c.prepare_cached("SELECT path FROM files WHERE id = ?1")?;
    for (id, old) in noted {
        let Ok(id32) = u32::try_from(id) else { continue };
        let new: Option<Vec<u8>> = now.query_row([id], |r| r.get(0)).optional()?;
        let (old, new) = (old.map_or_else(Vec::new, |p| of(&p)), new.map_or_else(Vec::new, |p| of(&p)));
        let chunk = id >> CHUNK_BITS;
        let (mut i, mut j) = (0, 0);
        // Both sorted: walk them together, noting what leaves and what joins.
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), b) if b.is_none_or(|b| a < b) => {
                    changes.entry((*a, chunk)).or_default().push((id32, false));
                    i += 1;
                }
                (_, Some(b)) => {
                    changes.entry((*b, chunk)).or_default().push((id32, true));
                    j += 1;
                }
                (_, None) => unreachable!("the loop runs while one side has more"),
            }
        }
    }
    let mut get = c.prepare_cached("SELECT bits FROM trigrams WHERE tri = ?1 AND chunk = ?2")?;
    let mut put = c.prepare_cached("INSERT OR REPLACE INTO trigrams (tri, chunk, bits) VALUES (?1, ?2, ?3)")?;
    let mut del = c.prepare_cached("DELETE FROM trigrams WHERE tri = ?1 AND chunk = ?2")?;
    for ((tri, chunk), files) in changes {
        let stored: Option<Vec<u8>> = get.query_row(params![tri, chunk], |r| r.get(0)).optional()?;
        let mut b = stored.map_or_else(|| Ok(RoaringBitmap::new()), |b| decode(&b))?;
        for (id, joins) in files {
            if joins {
                b.insert(id);
            } else {
                b.remove(id);
            }
        }
        if b.is_empty() {
            del.execute(params![tri, chunk])?;
        } else {
            put.execute(params![tri, chunk, encode(&b)])?;
        }
    }
    c.prepare_cached("DELETE FROM trigrams_dirty")?.execute([])?;
    Ok(())
}

/// Each trigram's chunks: (chunk, serialized bitmap), in chunk order.
type Sets = HashMap<u32, Vec<(i64, Vec<u8>)>>;

/// Every set as the paths say it should be: (trigram, chunk) → serialized bitmap. Built a
/// chunk of files at a time, so memory holds one chunk's bitmaps plus the finished blobs.
fn expected(c: &Connection) -> Result<Sets> {
    let mut out: Sets = HashMap::new();
    let mut cur: HashMap<u32, RoaringBitmap> = HashMap::new();
    let mut cur_chunk = -1i64;
    let mut finish = |chunk: i64, cur: &mut HashMap<u32, RoaringBitmap>| {
        for (tri, mut b) in cur.drain() {
            b.optimize();
            out.entry(tri).or_default().push((chunk, encode(&b)));
        }
    };
    let mut st = c.prepare("SELECT id, path FROM files ORDER BY id")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let Ok(id32) = u32::try_from(id) else { continue };
        let chunk = id >> CHUNK_BITS;
        if chunk != cur_chunk {
            finish(cur_chunk, &mut cur);
            cur_chunk = chunk;
        }
        let (rusqlite::types::ValueRef::Blob(bytes) | rusqlite::types::ValueRef::Text(bytes)) = r.get_ref(1)? else {
            continue;
        };
        for tri in of(bytes) {
            cur.entry(tri).or_default().insert(id32);
        }
    }
    finish(cur_chunk, &mut cur);
    Ok(out)
}

/// Throws the sets away and builds them again from the paths.
pub(crate) fn rebuild(c: &Connection) -> Result<()> {
    c.execute_batch("DELETE FROM trigrams; DELETE FROM trigrams_dirty;")?;
    let sets = expected(c)?;
    let mut keys: Vec<u32> = sets.keys().copied().collect();
    keys.sort_unstable();
    let mut sets = sets;
    // In key order, so the table's B-tree is written front to back.
    let mut ins = c.prepare("INSERT INTO trigrams (tri, chunk, bits) VALUES (?1, ?2, ?3)")?;
    for k in keys {
        for (chunk, bits) in sets.remove(&k).unwrap_or_default() {
            ins.execute(params![k, chunk, bits])?;
        }
    }
    Ok(())
}

/// Compares the stored sets with the paths: one line per set that differs.
pub(crate) fn verify(c: &Connection) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let noted: i64 = c.query_row("SELECT count(*) FROM trigrams_dirty", [], |r| r.get(0))?;
    if noted > 0 {
        problems.push(format!("{noted} path change(s) not settled into the trigram index"));
    }
    let mut want: BTreeMap<(u32, i64), Vec<u8>> = BTreeMap::new();
    for (tri, chunks) in expected(c)? {
        for (chunk, bits) in chunks {
            want.insert((tri, chunk), bits);
        }
    }
    let show = |tri: u32| {
        let b = [(tri >> 16) as u8, (tri >> 8) as u8, tri as u8];
        b.escape_ascii().to_string()
    };
    let mut st = c.prepare("SELECT tri, chunk, bits FROM trigrams ORDER BY tri, chunk")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let (tri, chunk, bits): (i64, i64, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let Ok(tri) = u32::try_from(tri) else {
            problems.push(format!("trigram index: a key out of range ({tri})"));
            continue;
        };
        let Ok(have) = decode(&bits) else {
            problems.push(format!("trigram index of \"{}\": damaged chunk {chunk}", show(tri)));
            want.remove(&(tri, chunk));
            continue;
        };
        match want.remove(&(tri, chunk)) {
            Some(w) => {
                let w = decode(&w)?;
                if w != have {
                    problems.push(format!(
                        "trigram index of \"{}\" (chunk {chunk}): {} files stored, {} paths have it",
                        show(tri),
                        have.len(),
                        w.len()
                    ));
                }
            }
            None => problems.push(format!(
                "trigram index of \"{}\": chunk {chunk} stored ({} files) but no path has it",
                show(tri),
                have.len()
            )),
        }
    }
    for (tri, chunk) in want.keys() {
        problems.push(format!("trigram index of \"{}\": chunk {chunk} absent", show(*tri)));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigrams_are_bytes_sorted_and_distinct() {
        assert_eq!(of(b"ab"), Vec::<u32>::new());
        assert_eq!(of(b"aaaa"), vec![0x61_61_61]);
        assert_eq!(of(b"a\xffb"), vec![0x61_ff_62]);
        assert_eq!(of(b"abcab"), vec![0x61_62_63, 0x62_63_61, 0x63_61_62]);
    }
}
