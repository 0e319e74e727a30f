//! File–tag links with their sources.

use super::WriteTx;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::model::{FileId, Source, TagId};

/// The row id of a source, created on first use.
pub fn source_id(c: &WriteTx<'_>, s: &Source) -> Result<i64> {
    if let Some(id) = c
        .prepare_cached("SELECT id FROM sources WHERE kind = ?1 AND name = ?2")?
        .query_row(params![s.kind(), s.name()], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    c.prepare_cached("INSERT INTO sources (kind, name) VALUES (?1, ?2)")?.execute(params![s.kind(), s.name()])?;
    Ok(c.last_insert_rowid())
}

/// Whether `file` carries `tag` from `source` (a source never used carries nothing).
pub fn exists(c: &Connection, file: FileId, tag: TagId, source: &Source) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM file_tags ft JOIN sources s ON s.id = ft.source_id
         WHERE ft.file_id = ?1 AND ft.tag_id = ?2 AND s.kind = ?3 AND s.name = ?4",
    )?
    .query_row(params![file, tag, source.kind(), source.name()], |_| Ok(()))
    .optional()?
    .is_some())
}

/// Links `tag` to `file` from `source`; false when that exact link existed.
pub fn link(c: &WriteTx<'_>, file: FileId, tag: TagId, source: i64, now: i64) -> Result<bool> {
    let n = c
        .prepare_cached(
            "INSERT OR IGNORE INTO file_tags (tag_id, file_id, source_id, added_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tag, file, source, now])?;
    Ok(n > 0)
}

/// Every (file, tag) linked from `source` (a source never used links nothing).
pub fn by_source(c: &Connection, source: &Source) -> Result<Vec<(FileId, TagId)>> {
    let mut st = c.prepare_cached(
        "SELECT ft.file_id, ft.tag_id FROM file_tags ft JOIN sources s ON s.id = ft.source_id
         WHERE s.kind = ?1 AND s.name = ?2 ORDER BY ft.file_id, ft.tag_id",
    )?;
    let rows = st
        .query_map(params![source.kind(), source.name()], |r| Ok((r.get::<_, FileId>(0)?, r.get::<_, TagId>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Removes every link from `source`; how many there were.
pub fn unlink_source(c: &WriteTx<'_>, source: &Source) -> Result<usize> {
    Ok(c.prepare_cached(
        "DELETE FROM file_tags WHERE source_id IN (SELECT id FROM sources WHERE kind = ?1 AND name = ?2)",
    )?
    .execute(params![source.kind(), source.name()])?)
}

/// Removes `tag` from `file`: from every source, or from one.
/// How many tag links (from every source) the given files carry.
pub fn count_for_files(c: &Connection, files: &[FileId]) -> Result<u64> {
    let mut st = c.prepare_cached("SELECT count(*) FROM file_tags WHERE file_id = ?1")?;
    let mut n = 0u64;
    for f in files {
        n += st.query_row([f.0], |r| r.get::<_, i64>(0))? as u64;
    }
    Ok(n)
}

pub fn unlink(c: &WriteTx<'_>, file: FileId, tag: TagId, source: Option<i64>) -> Result<usize> {
    Ok(match source {
        None => {
            c.prepare_cached("DELETE FROM file_tags WHERE tag_id = ?1 AND file_id = ?2")?.execute(params![tag, file])?
        }
        Some(s) => c
            .prepare_cached("DELETE FROM file_tags WHERE tag_id = ?1 AND file_id = ?2 AND source_id = ?3")?
            .execute(params![tag, file, s])?,
    })
}

/// A tag on a file as shown by `ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTag {
    /// The tag.
    pub tag: TagId,
    /// Its primary name.
    pub name: String,
    /// Empty when the tag is only implied.
    pub sources: Vec<Source>,
    /// Whether it is only implied (by a tag the file carries), not linked directly.
    pub implied: bool,
}

/// Labels files with their tags, direct and implied. Loads the implication graph once, so
/// listing thousands of files costs one query per file and no recursive query at all.
pub struct Labeler<'c> {
    c: &'c Connection,
    parents: HashMap<TagId, Vec<TagId>>,
    names: HashMap<TagId, String>,
}

impl<'c> Labeler<'c> {
    pub fn new(c: &'c Connection) -> Result<Self> {
        let mut parents: HashMap<TagId, Vec<TagId>> = HashMap::new();
        let mut st = c.prepare_cached("SELECT child, parent FROM implications")?;
        for row in st.query_map([], |r| Ok((r.get::<_, TagId>(0)?, r.get::<_, TagId>(1)?)))? {
            let (ch, p) = row?;
            parents.entry(ch).or_default().push(p);
        }
        Ok(Labeler { c, parents, names: HashMap::new() })
    }

    /// Every tag `tags` imply, transitively, not including themselves.
    pub fn ancestors(&self, tags: &[TagId]) -> BTreeSet<TagId> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<TagId> = tags.to_vec();
        while let Some(t) = stack.pop() {
            for p in self.parents.get(&t).into_iter().flatten() {
                if out.insert(*p) {
                    stack.push(*p);
                }
            }
        }
        out
    }

    fn name(&mut self, t: TagId) -> Result<String> {
        if let Some(n) = self.names.get(&t) {
            return Ok(n.clone());
        }
        let n = super::tags::primary_name(self.c, t)?;
        self.names.insert(t, n.clone());
        Ok(n)
    }

    /// The tags linked to `file`, then those implied by them, each once, by name.
    pub fn of_file(&mut self, file: FileId) -> Result<Vec<FileTag>> {
        let mut st = self.c.prepare_cached(
            "SELECT ft.tag_id, n.name, s.kind, s.name FROM file_tags ft
             JOIN tag_names n ON n.tag_id = ft.tag_id AND n.is_primary = 1
             JOIN sources s ON s.id = ft.source_id
             WHERE ft.file_id = ?1",
        )?;
        let mut direct: BTreeMap<TagId, FileTag> = BTreeMap::new();
        let rows = st.query_map([file], |r| {
            Ok((r.get::<_, TagId>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?;
        for row in rows {
            let (tag, name, kind, sname) = row?;
            direct
                .entry(tag)
                .or_insert_with(|| FileTag { tag, name, sources: Vec::new(), implied: false })
                .sources
                .push(Source::from_parts(&kind, &sname));
        }
        let ids: Vec<TagId> = direct.keys().copied().collect();
        let mut out: Vec<FileTag> = direct.into_values().collect();
        for t in self.ancestors(&ids) {
            if !ids.contains(&t) {
                out.push(FileTag { tag: t, name: self.name(t)?, sources: Vec::new(), implied: true });
            }
        }
        out.sort_by(|a, b| a.implied.cmp(&b.implied).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
        Ok(out)
    }
}

/// The tags linked to `file`, then those implied by them, each once, by name.
pub fn of_file(c: &Connection, file: FileId) -> Result<Vec<FileTag>> {
    Labeler::new(c)?.of_file(file)
}
