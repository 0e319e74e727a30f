//! Tags, their names and implications.
//!
//! Every name (primary or alias, any language) is unique across the index by its folded
//! (lower-cased) form; the `folded` column is the primary key of `tag_names`, so the
//! database itself refuses a duplicate.

use super::WriteTx;
use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{Tag, TagId, TagName, fold, split_namespace};
use crate::{Error, Result};

/// The tag that has `name` (any of its names), case-insensitively.
pub fn by_name(c: &Connection, name: &str) -> Result<Option<TagId>> {
    Ok(c.prepare_cached("SELECT tag_id FROM tag_names WHERE folded = ?1")?
        .query_row([fold(name)], |r| r.get(0))
        .optional()?)
}

/// Creates a tag whose primary name is `name` (already normalised).
pub fn create(c: &WriteTx<'_>, name: &str, now: i64) -> Result<TagId> {
    if let Some(owner) = by_name(c, name)? {
        return Err(Error::NameTaken { name: name.to_string(), owner: primary_name(c, owner)? });
    }
    let uid = super::random_uid()?;
    // Ids are never reused (migration 0010): the operation log names tags by id.
    c.prepare_cached(
        "INSERT INTO tags (id, uid, created_at) VALUES (max(coalesce((SELECT max(id) FROM tags), 0), (SELECT high FROM row_ids WHERE tbl = 'tags')) + 1, ?1, ?2)",
    )?.execute(params![&uid[..], now])?;
    let id = TagId(c.last_insert_rowid());
    insert_name(c, id, name, None, true)?;
    Ok(id)
}

fn insert_name(c: &WriteTx<'_>, tag: TagId, name: &str, lang: Option<&str>, primary: bool) -> Result<()> {
    let folded = fold(name);
    let (ns, val, num) = split_namespace(&folded);
    c.prepare_cached(
        "INSERT INTO tag_names (name, folded, tag_id, lang, is_primary, ns, val, num)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![name, folded, tag, lang, primary, ns, val, num])?;
    Ok(())
}

pub fn primary_name(c: &Connection, tag: TagId) -> Result<String> {
    Ok(c.prepare_cached("SELECT name FROM tag_names WHERE tag_id = ?1 AND is_primary = 1")?
        .query_row([tag], |r| r.get(0))?)
}

pub fn names(c: &Connection, tag: TagId) -> Result<Vec<TagName>> {
    let mut st = c.prepare_cached(
        "SELECT name, lang, is_primary FROM tag_names WHERE tag_id = ?1 ORDER BY is_primary DESC, folded",
    )?;
    let v = st
        .query_map([tag], |r| Ok(TagName { name: r.get(0)?, lang: r.get(1)?, primary: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

pub fn get(c: &Connection, tag: TagId) -> Result<Tag> {
    let uid: Vec<u8> = c.prepare_cached("SELECT uid FROM tags WHERE id = ?1")?.query_row([tag], |r| r.get(0))?;
    let mut u = [0u8; 32];
    u.copy_from_slice(&uid[..32.min(uid.len())]);
    let all = names(c, tag)?;
    let name = all.iter().find(|n| n.primary).map(|n| n.name.clone()).unwrap_or_default();
    Ok(Tag { id: tag, uid: u, name, aliases: all.into_iter().filter(|n| !n.primary).collect() })
}

/// Adds an alias. Adding a name the tag already has updates its language.
pub fn add_alias(c: &WriteTx<'_>, tag: TagId, name: &str, lang: Option<&str>) -> Result<()> {
    match by_name(c, name)? {
        Some(owner) if owner == tag => {
            c.prepare_cached("UPDATE tag_names SET lang = ?2 WHERE folded = ?1")?.execute(params![fold(name), lang])?;
            Ok(())
        }
        Some(owner) => Err(Error::NameTaken { name: name.to_string(), owner: primary_name(c, owner)? }),
        None => insert_name(c, tag, name, lang, false),
    }
}

/// Makes `name` the primary name of `tag`; the old primary name is dropped. A name the tag
/// already has as an alias is promoted; a change of case alone is allowed.
pub fn rename(c: &WriteTx<'_>, tag: TagId, name: &str) -> Result<()> {
    match by_name(c, name)? {
        Some(owner) if owner != tag => {
            return Err(Error::NameTaken { name: name.to_string(), owner: primary_name(c, owner)? });
        }
        _ => {}
    }
    let folded = fold(name);
    c.prepare_cached("DELETE FROM tag_names WHERE tag_id = ?1 AND is_primary = 1 AND folded <> ?2")?
        .execute(params![tag, folded])?;
    c.prepare_cached("DELETE FROM tag_names WHERE folded = ?1")?.execute([&folded])?;
    insert_name(c, tag, name, None, true)
}

/// Removes one alias (never the primary name).
pub fn remove_alias(c: &WriteTx<'_>, tag: TagId, name: &str) -> Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM tag_names WHERE tag_id = ?1 AND folded = ?2 AND is_primary = 0")?
        .execute(params![tag, fold(name)])?;
    Ok(n > 0)
}

pub fn delete(c: &WriteTx<'_>, tag: TagId) -> Result<()> {
    c.prepare_cached("DELETE FROM tags WHERE id = ?1")?.execute([tag])?;
    Ok(())
}

/// Number of distinct files carrying `tag` directly.
pub fn file_count(c: &Connection, tag: TagId) -> Result<u64> {
    Ok(c.prepare_cached("SELECT count(DISTINCT file_id) FROM file_tags WHERE tag_id = ?1")?
        .query_row([tag], |r| r.get::<_, i64>(0))? as u64)
}

/// Which way [`closure`] follows implications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Toward {
    /// From a tag to every tag implying it (`cat` → `kitten`): the tags whose files a query
    /// for the tag finds.
    Implying,
    /// From a tag to every tag it implies (`kitten` → `cat`, `animal`).
    Implied,
}

/// The implication closure, the one place it is written: a `SELECT` of the tag ids `base`
/// (a `SELECT` of ids) selects plus, transitively, every tag related to them `toward` the
/// given side. A recursive CTE named `d`; embed it in parentheses (`IN (…)`). Queries
/// (`find`), tag counts and cycle checks all expand implications through it; only `ls`'s
/// [`Labeler`](super::links::Labeler) walks the same graph in memory, loaded once.
pub(crate) fn closure(base: &str, toward: Toward) -> String {
    let step = match toward {
        Toward::Implying => "UNION SELECT i.child FROM implications i JOIN d ON i.parent = d.id",
        Toward::Implied => "UNION SELECT i.parent FROM implications i JOIN d ON i.child = d.id",
    };
    format!("WITH RECURSIVE d(id) AS ({base} {step}) SELECT id FROM d")
}

/// Files carrying `tag` directly or through any tag that implies it, transitively.
pub fn file_count_with_implied(c: &Connection, tag: TagId) -> Result<u64> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT count(DISTINCT file_id) FROM file_tags WHERE tag_id IN ({})",
            closure("SELECT ?1", Toward::Implying)
        )
    });
    Ok(c.prepare_cached(&SQL)?.query_row([tag], |r| r.get::<_, i64>(0))? as u64)
}

/// Tags that `tag` implies, transitively (not including itself).
pub fn ancestors(c: &Connection, tags: &[TagId]) -> Result<BTreeSet<TagId>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| closure("SELECT parent FROM implications WHERE child = ?1", Toward::Implied));
    let mut st = c.prepare_cached(&SQL)?;
    let mut out = BTreeSet::new();
    for t in tags {
        for id in st.query_map([t], |r| r.get(0))? {
            out.insert(id?);
        }
    }
    Ok(out)
}

/// Direct parents and children of a tag.
pub fn neighbours(c: &Connection, tag: TagId) -> Result<(Vec<TagId>, Vec<TagId>)> {
    let parents = c
        .prepare_cached("SELECT parent FROM implications WHERE child = ?1")?
        .query_map([tag], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let children = c
        .prepare_cached("SELECT child FROM implications WHERE parent = ?1")?
        .query_map([tag], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((parents, children))
}

/// Adds `child ⇒ parent`; refuses a cycle. Returns false if it already existed.
pub fn imply(c: &WriteTx<'_>, child: TagId, parent: TagId) -> Result<bool> {
    if child == parent || ancestors(c, &[parent])?.contains(&child) {
        return Err(Error::ImplicationCycle { child: primary_name(c, child)?, parent: primary_name(c, parent)? });
    }
    let n = c
        .prepare_cached("INSERT OR IGNORE INTO implications (child, parent) VALUES (?1, ?2)")?
        .execute(params![child, parent])?;
    Ok(n > 0)
}

pub fn unimply(c: &WriteTx<'_>, child: TagId, parent: TagId) -> Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM implications WHERE child = ?1 AND parent = ?2")?
        .execute(params![child, parent])?;
    Ok(n > 0)
}

/// Moves every link, name and implication of `from` onto `into`, then deletes `from`.
/// Links that would collide (same file and source) are kept once, with the earlier date.
pub fn merge(c: &WriteTx<'_>, from: TagId, into: TagId) -> Result<()> {
    c.execute(
        "INSERT INTO file_tags (tag_id, file_id, source_id, added_at)
         SELECT ?2, file_id, source_id, added_at FROM file_tags WHERE tag_id = ?1
         ON CONFLICT (tag_id, file_id, source_id) DO UPDATE SET added_at = min(added_at, excluded.added_at)",
        params![from, into],
    )?;
    c.execute("UPDATE tag_names SET tag_id = ?2, is_primary = 0 WHERE tag_id = ?1", params![from, into])?;
    c.execute(
        "INSERT OR IGNORE INTO implications (child, parent)
         SELECT ?2, parent FROM implications WHERE child = ?1 AND parent <> ?2",
        params![from, into],
    )?;
    c.execute(
        "INSERT OR IGNORE INTO implications (child, parent)
         SELECT child, ?2 FROM implications WHERE parent = ?1 AND child <> ?2",
        params![from, into],
    )?;
    delete(c, from)?;
    // `from ⇒ x ⇒ into` would now read `into ⇒ x ⇒ into`.
    if ancestors(c, &[into])?.contains(&into) {
        return Err(Error::MergeMakesCycle { tag: primary_name(c, into)? });
    }
    Ok(())
}

/// One row of `trove tags list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSummary {
    /// The tag.
    pub id: TagId,
    /// Its primary name.
    pub name: String,
    /// Files carrying it directly.
    pub files: u64,
    /// Files carrying it directly or through a tag that implies it (what `find TAG` sees,
    /// missing files included).
    pub with_implied: u64,
}

/// Tags whose primary name or any alias matches `glob` (`*` wildcard, case-insensitive).
pub fn list(c: &Connection, glob: Option<&str>, by_count: bool) -> Result<Vec<TagSummary>> {
    let order = if by_count { "files DESC, p.folded" } else { "p.folded" };
    let filter = if glob.is_some() {
        "AND EXISTS (SELECT 1 FROM tag_names m WHERE m.tag_id = p.tag_id AND m.folded GLOB ?1)"
    } else {
        "AND ?1 IS NULL"
    };
    let sql = format!(
        "SELECT p.tag_id, p.name, (SELECT count(DISTINCT file_id) FROM file_tags ft WHERE ft.tag_id = p.tag_id) AS files
         FROM tag_names p WHERE p.is_primary = 1 {filter} ORDER BY {order}"
    );
    let pat = glob.map(|g| super::find::glob_for_names(&fold(g)));
    let mut st = c.prepare(&sql)?;
    let mut v = st
        .query_map([pat], |r| {
            let files = r.get::<_, i64>(2)? as u64;
            Ok(TagSummary { id: r.get(0)?, name: r.get(1)?, files, with_implied: files })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Only tags that something implies can have more files than they carry directly.
    let parents: BTreeSet<TagId> = c
        .prepare("SELECT DISTINCT parent FROM implications")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for t in v.iter_mut().filter(|t| parents.contains(&t.id)) {
        t.with_implied = file_count_with_implied(c, t.id)?;
    }
    Ok(v)
}
