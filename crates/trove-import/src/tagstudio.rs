//! TagStudio: the SQLite library `ROOT/.TagStudio/ts_library.sqlite` of every version
//! TagStudio has written (DB_VERSION 6 to 4xx) and the legacy JSON library
//! `ROOT/.TagStudio/ts_library.json` (TagStudio 9.4 and before).
//!
//! - Entries are files by path relative to the library root; `date_added` is kept.
//! - Tags keep their name, shorthand and aliases (as aliases). TagStudio allows two tags
//!   with one name and tells them apart by a "disambiguation" parent; trove names are
//!   unique, so such names become `Name (Parent)` (the parent's shorthand when it has
//!   one, as TagStudio displays them), reported.
//! - Parent tags become implications child ⇒ parent. Before DB_VERSION 100 the
//!   `tag_parents` columns meant the opposite (migration 100 swapped them); both read
//!   right.
//! - Fields (title, author, dates, …), colours, icons, categories and the hidden flag have
//!   no place in trove: counted in the report. Legacy collations become pools in page order.
//!
//! Reference: shared/research/import-and-szurubooru.md §1.3.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use trove_core::model::{Source, TagName, fold};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibPool, LibTag, Library, Read, invalid};

/// The folder TagStudio keeps its library in, under the root.
pub const FOLDER: &str = ".TagStudio";

/// The library root for a path the user gave: the root itself, its `.TagStudio` folder or
/// the library file inside it.
pub fn root_of(p: &Path) -> PathBuf {
    let mut p = p.to_path_buf();
    if p.is_file() {
        p.pop();
    }
    if p.file_name().is_some_and(|n| n == FOLDER) {
        p.pop();
    }
    p
}

/// One TagStudio tag before naming.
struct RawTag {
    id: i64,
    name: String,
    shorthand: Option<String>,
    aliases: Vec<String>,
    disambiguation: Option<i64>,
}

/// Reads the library whose root is `root` (see [`root_of`]).
pub fn read(root: &Path) -> Result<Read> {
    let root = root_of(root);
    let sql = root.join(FOLDER).join("ts_library.sqlite");
    let json = root.join(FOLDER).join("ts_library.json");
    if sql.is_file() {
        read_sqlite(&root, &sql)
    } else if json.is_file() {
        read_json(&root, &json)
    } else {
        Err(Error::Io {
            path: root.join(FOLDER),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no TagStudio library here (neither ts_library.sqlite nor ts_library.json)",
            ),
        })
    }
}

fn columns(c: &Connection, table: &str) -> Result<HashSet<String>> {
    let mut st = c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let v = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<HashSet<_>>>()?;
    Ok(v)
}

fn has_table(c: &Connection, t: &str) -> Result<bool> {
    Ok(c.query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", [t], |_| Ok(()))
        .optional()?
        .is_some())
}

fn as_int(v: rusqlite::types::ValueRef<'_>) -> Option<i64> {
    match v {
        rusqlite::types::ValueRef::Integer(n) => Some(n),
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().trim_matches('"').parse().ok(),
        _ => None,
    }
}

/// DB_VERSION: `versions.CURRENT` from 101 on, `preferences.DB_VERSION` before.
fn version(c: &Connection, path: &Path) -> Result<i64> {
    let v = if has_table(c, "versions")? {
        c.query_row("SELECT value FROM versions WHERE key = 'CURRENT'", [], |r| Ok(as_int(r.get_ref(0)?)))
            .optional()?
            .flatten()
    } else if has_table(c, "preferences")? {
        c.query_row("SELECT value FROM preferences WHERE key = 'DB_VERSION'", [], |r| Ok(as_int(r.get_ref(0)?)))
            .optional()?
            .flatten()
    } else {
        None
    };
    match v {
        Some(v @ 6..=99) | Some(v @ 100..=499) => Ok(v),
        Some(v) if v < 6 => Err(invalid(path, format!("TagStudio DB_VERSION {v}; trove reads 6 to 4xx"))),
        Some(v) => Err(invalid(
            path,
            format!("TagStudio DB_VERSION {v} is newer than trove knows (6 to 4xx); ask for an update of trove"),
        )),
        None => Err(invalid(path, "not a TagStudio library (no DB_VERSION in versions or preferences)")),
    }
}

/// `2024-05-01 12:34:56[.ffffff]` (TagStudio's DATETIME) as seconds since the epoch, UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let time = time.split(['.', '+', 'Z']).next()?;
    let mut t = time.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next().flatten().unwrap_or(0), t.next().flatten().unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    let days = trove_core::time::days_from_civil(y, m, dd);
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn read_sqlite(root: &Path, path: &Path) -> Result<Read> {
    let src = crate::open_sqlite_ro(path)?;
    let c = &src.conn;
    for t in ["entries", "tags", "tag_parents", "tag_entries"] {
        if !has_table(c, t)? {
            return Err(invalid(path, format!("not a TagStudio library (no {t} table)")));
        }
    }
    let version = version(c, path)?;
    let mut notes = Vec::new();

    let tag_cols = columns(c, "tags")?;
    let pick = |col: &str| if tag_cols.contains(col) { col.to_string() } else { "NULL".to_string() };
    let mut raw: Vec<RawTag> = Vec::new();
    {
        let q = format!("SELECT id, name, {}, {} FROM tags ORDER BY id", pick("shorthand"), pick("disambiguation_id"));
        let mut st = c.prepare(&q)?;
        let rows = st.query_map([], |r| {
            Ok(RawTag {
                id: r.get(0)?,
                name: r.get(1)?,
                shorthand: r.get::<_, Option<String>>(2)?,
                aliases: Vec::new(),
                disambiguation: r.get::<_, Option<i64>>(3)?,
            })
        })?;
        for t in rows {
            raw.push(t?);
        }
    }
    if has_table(c, "tag_aliases")? {
        let pos: HashMap<i64, usize> = raw.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
        let mut st = c.prepare("SELECT tag_id, name FROM tag_aliases ORDER BY id")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (t, name) = row?;
            match pos.get(&t) {
                Some(&i) => raw[i].aliases.push(name),
                None => notes.push(format!("alias {name:?} of a tag that does not exist (id {t}); left out")),
            }
        }
    }
    let mut parents: Vec<(i64, i64)> = Vec::new();
    {
        let mut st = c.prepare("SELECT parent_id, child_id FROM tag_parents ORDER BY parent_id, child_id")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (p, ch) = row?;
            // Before DB_VERSION 100 the columns were the wrong way round (migration 100).
            parents.push(if version < 100 { (p, ch) } else { (ch, p) });
        }
    }
    let (mut lib, tag_pos) = build_tags(raw, &parents, &mut notes);

    let entry_cols = columns(c, "entries")?;
    let mut entry_pos: HashMap<i64, usize> = HashMap::new();
    {
        let added = if entry_cols.contains("date_added") { "date_added" } else { "NULL" };
        let mut st = c.prepare(&format!("SELECT id, CAST(path AS BLOB), {added} FROM entries ORDER BY path"))?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Option<String>>(2).unwrap_or(None)))
        })?;
        for row in rows {
            let (id, p, added) = row?;
            entry_pos.insert(id, lib.files.len());
            lib.files.push(LibFile {
                path: entry_path(root, &p),
                record: None,
                added_at: added.as_deref().and_then(parse_datetime),
                links: Vec::new(),
            });
        }
    }
    let source = Source::Import("tagstudio".into());
    let mut dangling = 0u64;
    {
        let mut st = c.prepare("SELECT entry_id, tag_id FROM tag_entries ORDER BY entry_id, tag_id")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (e, t) = row?;
            match (entry_pos.get(&e), tag_pos.get(&t)) {
                (Some(&f), Some(&tag)) => {
                    lib.files[f].links.push(LibLink { tag, source: source.clone(), added_at: None });
                }
                _ => dangling += 1,
            }
        }
    }
    if dangling > 0 {
        notes.push(format!("{dangling} tagging(s) name an entry or tag that does not exist; left out"));
    }
    let mut fields = 0i64;
    for t in ["text_fields", "datetime_fields", "boolean_fields"] {
        if has_table(c, t)? {
            fields += c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0))?;
        }
    }
    if fields > 0 {
        notes.push(format!(
            "{fields} field value(s) (title, author, URL, notes, dates, …) not imported: trove has no fields"
        ));
    }
    let styled = {
        let conds: Vec<String> = ["color_slug IS NOT NULL", "icon IS NOT NULL", "is_category", "is_hidden"]
            .iter()
            .filter(|c| tag_cols.contains(c.split(' ').next().unwrap_or("")))
            .map(|c| (*c).to_string())
            .collect();
        if conds.is_empty() {
            0
        } else {
            c.query_row(&format!("SELECT count(*) FROM tags WHERE {}", conds.join(" OR ")), [], |r| r.get::<_, i64>(0))?
        }
    };
    if styled > 0 {
        notes.push(format!(
            "{styled} tag(s) have a colour, icon, category or hidden flag: these are display settings trove does not keep"
        ));
    }
    Ok(Read { library: lib, notes })
}

/// `root/path` for a stored entry path (POSIX, relative; `\` in legacy libraries).
fn entry_path(root: &Path, stored: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let rel = PathBuf::from(std::ffi::OsString::from_vec(stored.to_vec()));
    trove_core::paths::resolve(root, &rel)
}

/// Names the tags (disambiguating duplicates), adds aliases and implications.
fn build_tags(raw: Vec<RawTag>, parents: &[(i64, i64)], notes: &mut Vec<String>) -> (Library, HashMap<i64, usize>) {
    let by_id: HashMap<i64, usize> = raw.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, t) in raw.iter().enumerate() {
        groups.entry(fold(t.name.trim())).or_default().push(i);
    }
    let mut names: Vec<String> = raw.iter().map(|t| t.name.clone()).collect();
    let mut taken: HashSet<String> = groups.iter().filter(|(_, v)| v.len() == 1).map(|(k, _)| k.clone()).collect();
    let mut dup_groups: Vec<&Vec<usize>> = groups.values().filter(|v| v.len() > 1).collect();
    dup_groups.sort();
    for g in dup_groups {
        for &i in g {
            let t = &raw[i];
            let by = t.disambiguation.and_then(|d| by_id.get(&d)).map(|&d| {
                let p = &raw[d];
                p.shorthand.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| p.name.clone())
            });
            let mut n = match &by {
                Some(b) => format!("{} ({b})", t.name),
                None => t.name.clone(),
            };
            if taken.contains(&fold(&n)) {
                n = format!("{} (TagStudio tag {})", t.name, t.id);
            }
            taken.insert(fold(&n));
            notes.push(format!("TagStudio has several tags named {:?}: tag {} is named {n:?}", t.name, t.id));
            names[i] = n;
        }
    }
    let mut lib = Library::default();
    let mut pos = HashMap::new();
    for (t, name) in raw.iter().zip(names) {
        let mut tn = vec![TagName { name, lang: None, primary: true }];
        for a in t.shorthand.iter().chain(&t.aliases) {
            if !a.trim().is_empty() && !tn.iter().any(|x| fold(x.name.trim()) == fold(a.trim())) {
                tn.push(TagName { name: a.clone(), lang: None, primary: false });
            }
        }
        pos.insert(t.id, lib.tags.len());
        lib.tags.push(LibTag { uid: None, names: tn, created_at: None });
    }
    for &(ch, p) in parents {
        match (pos.get(&ch), pos.get(&p)) {
            (Some(&a), Some(&b)) if a != b => lib.implications.push((a, b)),
            (Some(_), Some(_)) => {}
            _ => notes.push(format!("parent link {ch} ⇒ {p} names a tag that does not exist; left out")),
        }
    }
    (lib, pos)
}

/// Field ids of the legacy tag boxes ("Tags", "Content Tags", "Meta Tags").
const LEGACY_TAG_FIELDS: [&str; 3] = ["6", "7", "8"];

fn read_json(root: &Path, path: &Path) -> Result<Read> {
    let f = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let doc: Value = serde_json::from_reader(std::io::BufReader::new(f))
        .map_err(|e| invalid(path, format!("not valid JSON ({e})")))?;
    let Some(top) = doc.as_object().filter(|o| o.contains_key("ts-version")) else {
        return Err(invalid(path, "not a TagStudio library (no \"ts-version\")"));
    };
    let mut notes = Vec::new();
    let bad = |at: String, what: &str| invalid(path, format!("{at}: {what}"));
    let list = |k: &str| top.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let mut raw = Vec::new();
    let mut parents = Vec::new();
    for (i, t) in list("tags").iter().enumerate() {
        let id =
            t.get("id").and_then(Value::as_i64).ok_or_else(|| bad(format!("tags[{i}]"), "\"id\" must be a number"))?;
        let name = t.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let strings = |k: &str| -> Vec<String> {
            t.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        };
        let ids: Vec<i64> =
            t.get("subtag_ids").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_i64).collect();
        // `subtag_ids` are the tag's parents; the first one tells same-named tags apart.
        parents.extend(ids.iter().map(|&p| (id, p)));
        raw.push(RawTag {
            id,
            name,
            shorthand: t.get("shorthand").and_then(Value::as_str).map(String::from),
            aliases: strings("aliases"),
            disambiguation: ids.first().copied(),
        });
    }
    let (mut lib, tag_pos) = build_tags(raw, &parents, &mut notes);
    let source = Source::Import("tagstudio".into());
    let mut entry_pos = HashMap::new();
    let (mut fields, mut dangling) = (0u64, 0u64);
    for (i, e) in list("entries").iter().enumerate() {
        let at = format!("entries[{i}]");
        let id = e.get("id").and_then(Value::as_i64).ok_or_else(|| bad(at.clone(), "\"id\" must be a number"))?;
        let name = e
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(at.clone(), "\"filename\" must be a string"))?;
        let dir = e.get("path").and_then(Value::as_str).unwrap_or("").replace('\\', "/");
        let rel = Path::new(&dir).join(name.replace('\\', "/"));
        let mut file = LibFile {
            path: entry_path(root, rel.as_os_str().as_encoded_bytes()),
            record: None,
            added_at: None,
            links: Vec::new(),
        };
        for fld in e.get("fields").and_then(Value::as_array).into_iter().flatten() {
            for (k, v) in fld.as_object().into_iter().flatten() {
                if !LEGACY_TAG_FIELDS.contains(&k.as_str()) {
                    fields += 1;
                    continue;
                }
                for t in v.as_array().into_iter().flatten().filter_map(Value::as_i64) {
                    match tag_pos.get(&t) {
                        Some(&tag) if !file.links.iter().any(|l| l.tag == tag) => {
                            file.links.push(LibLink { tag, source: source.clone(), added_at: None });
                        }
                        Some(_) => {}
                        None => dangling += 1,
                    }
                }
            }
        }
        entry_pos.insert(id, lib.files.len());
        lib.files.push(file);
    }
    for (i, col) in list("collations").iter().enumerate() {
        let title = col.get("title").and_then(Value::as_str).unwrap_or("").to_string();
        let mut members: Vec<(i64, usize)> = Vec::new();
        for pair in col.get("e_ids_and_pages").and_then(Value::as_array).into_iter().flatten() {
            let (Some(e), Some(page)) = (pair.get(0).and_then(Value::as_i64), pair.get(1).and_then(Value::as_i64))
            else {
                return Err(bad(format!("collations[{i}]"), "\"e_ids_and_pages\" must hold [entry id, page] pairs"));
            };
            match entry_pos.get(&e) {
                Some(&f) => members.push((page, f)),
                None => dangling += 1,
            }
        }
        members.sort();
        lib.pools.push(LibPool { title, created_at: None, files: members.into_iter().map(|(_, f)| f).collect() });
    }
    if fields > 0 {
        notes.push(format!(
            "{fields} field value(s) (title, author, URL, notes, dates, …) not imported: trove has no fields"
        ));
    }
    if dangling > 0 {
        notes.push(format!(
            "{dangling} tagging(s) or collation page(s) name a tag or entry that does not exist; left out"
        ));
    }
    Ok(Read { library: lib, notes })
}

/// Layouts [`Builder`] can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// DB_VERSION 8 (TagStudio 9.5.0–9.5.1): `preferences`, `folders`, no
    /// `entries.filename`, no `tags.is_hidden`, `tag_parents` the wrong way round.
    V8,
    /// DB_VERSION 400 (TagStudio 9.6).
    V400,
}

const V400: &str = "
CREATE TABLE entries (id INTEGER NOT NULL PRIMARY KEY, path VARCHAR NOT NULL UNIQUE, filename VARCHAR NOT NULL,
    suffix VARCHAR NOT NULL, date_created DATETIME, date_modified DATETIME, date_added DATETIME);
CREATE TABLE tags (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name VARCHAR NOT NULL, shorthand VARCHAR,
    color_namespace VARCHAR, color_slug VARCHAR, is_category BOOLEAN NOT NULL, is_hidden BOOLEAN NOT NULL,
    icon VARCHAR, disambiguation_id INTEGER);
CREATE TABLE tag_aliases (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, tag_id INTEGER NOT NULL REFERENCES tags (id));
CREATE TABLE tag_parents (parent_id INTEGER NOT NULL REFERENCES tags (id), child_id INTEGER NOT NULL REFERENCES tags (id),
    PRIMARY KEY (parent_id, child_id));
CREATE TABLE tag_entries (tag_id INTEGER NOT NULL REFERENCES tags (id), entry_id INTEGER NOT NULL REFERENCES entries (id),
    PRIMARY KEY (tag_id, entry_id));
CREATE TABLE text_fields (is_multiline BOOLEAN NOT NULL, id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries (id), value VARCHAR);
CREATE TABLE datetime_fields (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries (id), value VARCHAR);
CREATE TABLE namespaces (namespace VARCHAR NOT NULL PRIMARY KEY, name VARCHAR NOT NULL);
CREATE TABLE tag_colors (slug VARCHAR NOT NULL, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL, \"primary\" VARCHAR NOT NULL,
    secondary VARCHAR, color_border BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (slug, namespace));
CREATE TABLE category_exclusions (tag_id INTEGER NOT NULL, category_id INTEGER NOT NULL, PRIMARY KEY (tag_id, category_id));
CREATE TABLE versions (key VARCHAR NOT NULL PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO versions VALUES ('INITIAL', 400), ('CURRENT', 400);
";

const V8: &str = "
CREATE TABLE preferences (key VARCHAR NOT NULL PRIMARY KEY, value JSON NOT NULL);
INSERT INTO preferences VALUES ('DB_VERSION', 8), ('EXTENSION_LIST', '[\".json\", \".xmp\", \".aae\"]'), ('IS_EXCLUDE_LIST', 1);
CREATE TABLE folders (id INTEGER NOT NULL PRIMARY KEY, path VARCHAR NOT NULL UNIQUE, uuid VARCHAR NOT NULL UNIQUE);
CREATE TABLE entries (id INTEGER NOT NULL PRIMARY KEY, folder_id INTEGER NOT NULL REFERENCES folders (id),
    path VARCHAR NOT NULL UNIQUE, suffix VARCHAR NOT NULL, date_created DATETIME, date_modified DATETIME, date_added DATETIME);
CREATE TABLE tags (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name VARCHAR NOT NULL, shorthand VARCHAR,
    color_namespace VARCHAR, color_slug VARCHAR, is_category BOOLEAN NOT NULL, icon VARCHAR, disambiguation_id INTEGER);
CREATE TABLE tag_aliases (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, tag_id INTEGER NOT NULL REFERENCES tags (id));
CREATE TABLE tag_parents (parent_id INTEGER NOT NULL REFERENCES tags (id), child_id INTEGER NOT NULL REFERENCES tags (id),
    PRIMARY KEY (parent_id, child_id));
CREATE TABLE tag_entries (tag_id INTEGER NOT NULL REFERENCES tags (id), entry_id INTEGER NOT NULL REFERENCES entries (id),
    PRIMARY KEY (tag_id, entry_id));
CREATE TABLE value_type (key VARCHAR NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
    is_default BOOLEAN NOT NULL, position INTEGER NOT NULL);
CREATE TABLE text_fields (value VARCHAR, id INTEGER NOT NULL PRIMARY KEY, type_key VARCHAR NOT NULL REFERENCES value_type (key),
    entry_id INTEGER NOT NULL REFERENCES entries (id), position INTEGER NOT NULL);
CREATE TABLE datetime_fields (value VARCHAR, id INTEGER NOT NULL PRIMARY KEY, type_key VARCHAR NOT NULL REFERENCES value_type (key),
    entry_id INTEGER NOT NULL REFERENCES entries (id), position INTEGER NOT NULL);
CREATE TABLE boolean_fields (value BOOLEAN NOT NULL, id INTEGER NOT NULL PRIMARY KEY, type_key VARCHAR NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries (id), position INTEGER NOT NULL);
CREATE TABLE namespaces (namespace VARCHAR NOT NULL PRIMARY KEY, name VARCHAR NOT NULL);
CREATE TABLE tag_colors (slug VARCHAR NOT NULL, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL, \"primary\" VARCHAR NOT NULL,
    secondary VARCHAR, color_border BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (slug, namespace));
";

/// Writes a TagStudio library the way TagStudio's `Library` does (for tests): the schema
/// of the layout, the reserved tags 0 Archived, 1 Favorite, 2 Meta Tags (parent of both),
/// entries by path relative to the root.
pub struct Builder {
    pub conn: Connection,
    pub layout: Layout,
    next_tag: i64,
}

impl Builder {
    pub fn create(root: &Path, layout: Layout) -> Result<Builder> {
        let dir = root.join(FOLDER);
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io { path: dir.clone(), source: e })?;
        let conn = Connection::open(dir.join("ts_library.sqlite"))?;
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        conn.execute_batch(if layout == Layout::V8 { V8 } else { V400 })?;
        if layout == Layout::V8 {
            conn.execute("INSERT INTO folders VALUES (1, ?1, 'f0e1d2c3')", [root.to_string_lossy()])?;
        }
        let mut b = Builder { conn, layout, next_tag: 0 };
        let archived = b.tag("Archived", None, None)?;
        b.alias(archived, "Archive")?;
        let fav = b.tag("Favorite", None, None)?;
        b.alias(fav, "Favorited")?;
        b.alias(fav, "Favorites")?;
        let meta = b.tag("Meta Tags", None, None)?;
        b.parent(archived, meta)?;
        b.parent(fav, meta)?;
        b.next_tag = 1000;
        Ok(b)
    }

    /// A tag; user tags get ids from 1000 on, as in TagStudio.
    pub fn tag(&mut self, name: &str, shorthand: Option<&str>, disambiguation: Option<i64>) -> Result<i64> {
        let id = self.next_tag;
        self.next_tag += 1;
        let hidden = self.layout == Layout::V400;
        let sql = if hidden {
            "INSERT INTO tags (id, name, shorthand, is_category, disambiguation_id, is_hidden) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        } else {
            "INSERT INTO tags (id, name, shorthand, is_category, disambiguation_id) VALUES (?1, ?2, ?3, ?4, ?5)"
        };
        let mut st = self.conn.prepare(sql)?;
        let cat = id == 2;
        if hidden {
            st.execute(params![id, name, shorthand, cat, disambiguation, id == 0])?;
        } else {
            st.execute(params![id, name, shorthand, cat, disambiguation])?;
        }
        Ok(id)
    }

    pub fn alias(&self, tag: i64, name: &str) -> Result<()> {
        self.conn.execute("INSERT INTO tag_aliases (name, tag_id) VALUES (?1, ?2)", params![name, tag])?;
        Ok(())
    }

    /// Makes `parent` a parent of `child`, stored as the layout's TagStudio stores it.
    pub fn parent(&self, child: i64, parent: i64) -> Result<()> {
        let (p, c) = if self.layout == Layout::V8 { (child, parent) } else { (parent, child) };
        self.conn.execute("INSERT INTO tag_parents (parent_id, child_id) VALUES (?1, ?2)", params![p, c])?;
        Ok(())
    }

    /// An entry for `rel` (POSIX, relative to the root), added at `added` (DATETIME text).
    pub fn entry(&self, rel: &str, added: &str) -> Result<i64> {
        let suffix = rel.rsplit_once('.').map_or("", |(_, s)| s);
        if self.layout == Layout::V8 {
            self.conn.execute(
                "INSERT INTO entries (folder_id, path, suffix, date_added) VALUES (1, ?1, ?2, ?3)",
                params![rel, suffix, added],
            )?;
        } else {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            self.conn.execute(
                "INSERT INTO entries (path, filename, suffix, date_added) VALUES (?1, ?2, ?3, ?4)",
                params![rel, name, suffix, added],
            )?;
        }
        Ok(self.conn.last_insert_rowid())
    }

    pub fn tag_entry(&self, entry: i64, tag: i64) -> Result<()> {
        self.conn.execute("INSERT INTO tag_entries (tag_id, entry_id) VALUES (?1, ?2)", params![tag, entry])?;
        Ok(())
    }

    /// A text field (Title, Author, …) on an entry.
    pub fn text_field(&self, entry: i64, name: &str, value: &str) -> Result<()> {
        if self.layout == Layout::V8 {
            self.conn.execute(
                "INSERT INTO text_fields (value, type_key, entry_id, position) VALUES (?1, ?2, ?3, 0)",
                params![value, name.to_uppercase(), entry],
            )?;
        } else {
            self.conn.execute(
                "INSERT INTO text_fields (is_multiline, name, entry_id, value) VALUES (0, ?1, ?2, ?3)",
                params![name, entry, value],
            )?;
        }
        Ok(())
    }
}
