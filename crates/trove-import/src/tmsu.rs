//! TMSU (`.tmsu/db`, schema 0.7.0-1 of the Go releases and the Rust rewrite's
//! `schema_version` 2, which keeps the same tables): tags, `tag=value` as the trove tag
//! `tag:value`, files by path relative to the database's root, implications.
//!
//! - The root is the directory holding `.tmsu` when the database sits in a directory of
//!   that name, else `/` (TMSU's `determineRootPath`); a stored `directory` starting with
//!   `/` is absolute.
//! - TMSU's query `year` matches every file with any value of `year`; trove's `year` is a
//!   different tag from `year:2017`. So every value in use gets the implication
//!   `year:2017 ⇒ year` ([`Options::value_implies_tag`], on by default), which also makes
//!   TMSU's any-value implications (`year ⇒ dated`) hold for every value. With it off, an
//!   any-value implication is expanded to each value in use at import time.
//! - Tag names are case-sensitive and not unique in TMSU, case-insensitive in trove:
//!   case variants become one tag (reported).
//! - Directory rows (`is_dir`) are not files to trove: left out, their tags reported.
//! - Saved queries and settings have no place in trove: listed in the report.
//!
//! Reference: shared/research/import-and-szurubooru.md §1.2.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use trove_core::model::{Source, TagName, fold};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibTag, Library, Read, invalid};

/// How TMSU's values map.
#[derive(Debug, Clone)]
pub struct Options {
    /// Add `tag:value ⇒ tag` for every value in use, so `tag` finds every value as in TMSU.
    pub value_implies_tag: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { value_implies_tag: true }
    }
}

fn has_table(c: &Connection, t: &str) -> Result<bool> {
    Ok(c.query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", [t], |_| Ok(()))
        .optional()?
        .is_some())
}

fn bytes(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    let v = r.get_ref(i)?;
    match v {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => Ok(b.to_vec()),
        rusqlite::types::ValueRef::Integer(n) => Ok(n.to_string().into_bytes()),
        rusqlite::types::ValueRef::Real(f) => Ok(f.to_string().into_bytes()),
        rusqlite::types::ValueRef::Null => Err(rusqlite::Error::InvalidColumnType(i, "text".into(), v.data_type())),
    }
}

fn text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    bytes(r, i).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The directory TMSU resolves relative paths against (see the module docs).
pub fn root_of(db: &Path) -> PathBuf {
    match db.parent() {
        Some(d) if d.file_name().is_some_and(|n| n == ".tmsu") => {
            d.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
        }
        _ => PathBuf::from("/"),
    }
}

/// The tags being built: one per case-folded name.
struct Tags {
    lib_tags: Vec<LibTag>,
    by_fold: HashMap<String, usize>,
}

impl Tags {
    fn get(&mut self, name: &str) -> usize {
        let k = fold(name);
        if let Some(&i) = self.by_fold.get(&k) {
            return i;
        }
        let i = self.lib_tags.len();
        self.lib_tags.push(LibTag {
            uid: None,
            names: vec![TagName { name: name.to_string(), lang: None, primary: true }],
            created_at: None,
        });
        self.by_fold.insert(k, i);
        i
    }
}

/// Reads a TMSU database (the file `.tmsu/db`) into a library.
pub fn read(path: &Path, opts: &Options) -> Result<Read> {
    let src = crate::open_sqlite_ro(path)?;
    let c = &src.conn;
    for t in ["tag", "file", "file_tag", "value", "implication"] {
        if !has_table(c, t)? {
            return Err(invalid(path, format!("not a TMSU database (no {t} table)")));
        }
    }
    if has_table(c, "version")? {
        let v: Option<(i64, i64)> =
            c.query_row("SELECT major, minor FROM version", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        if let Some((maj, min)) = v
            && (maj, min) < (0, 5)
        {
            return Err(invalid(
                path,
                format!("TMSU schema {maj}.{min}; open it once with TMSU 0.7 (`tmsu info`) to upgrade it"),
            ));
        }
    } else if !has_table(c, "schema_version")? {
        return Err(invalid(path, "not a TMSU database (no version or schema_version table)"));
    }
    let root = root_of(path);
    let mut notes = Vec::new();

    // Tags by id, case variants on one trove tag.
    let mut tags = Tags { lib_tags: Vec::new(), by_fold: HashMap::new() };
    let mut tag_pos: HashMap<i64, usize> = HashMap::new();
    let mut tag_name: HashMap<i64, String> = HashMap::new();
    let mut with_colon = 0u64;
    {
        let mut st = c.prepare("SELECT id, name FROM tag ORDER BY id")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, text(r, 1)?)))? {
            let (id, name) = row?;
            if let Some(&i) = tags.by_fold.get(&fold(&name)) {
                let kept = &tags.lib_tags[i].names[0].name;
                notes.push(if *kept == name {
                    format!("TMSU has two tags named {name:?}: merged into one")
                } else {
                    format!("TMSU tags {kept:?} and {name:?} differ only in case: merged into {kept:?}")
                });
            }
            if name.contains(':') {
                with_colon += 1;
            }
            tag_pos.insert(id, tags.get(&name));
            tag_name.insert(id, name);
        }
    }
    if with_colon > 0 {
        notes.push(format!("{with_colon} TMSU tag name(s) hold a `:`; in trove the part before it is a namespace"));
    }
    let mut values: HashMap<i64, String> = HashMap::new();
    {
        let mut st = c.prepare("SELECT id, name FROM value")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, text(r, 1)?)))? {
            let (id, name) = row?;
            values.insert(id, name);
        }
    }
    // (tag, value) → trove tag; value 0 is the bare tag.
    let mut values_in_use: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut resolve = |tags: &mut Tags, tag: i64, value: i64| -> Option<usize> {
        let base = *tag_pos.get(&tag)?;
        if value == 0 {
            return Some(base);
        }
        let v = values.get(&value)?;
        let name = format!("{}:{v}", tag_name[&tag]);
        let uses = values_in_use.entry(tag).or_default();
        if !uses.contains(&value) {
            uses.push(value);
        }
        Some(tags.get(&name))
    };

    // Files.
    let mut lib = Library::default();
    let mut file_pos: HashMap<i64, usize> = HashMap::new();
    let mut dirs: HashMap<i64, PathBuf> = HashMap::new();
    let mut changed = 0u64;
    {
        let mut st = c.prepare("SELECT id, directory, name, is_dir, size FROM file ORDER BY directory, name")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, bytes(r, 1)?, bytes(r, 2)?, r.get::<_, bool>(3)?, r.get::<_, i64>(4)?))
        })?;
        for row in rows {
            let (id, dir, name, is_dir, size) = row?;
            let dir = PathBuf::from(OsString::from_vec(dir));
            let rel = dir.join(OsString::from_vec(name));
            let abs = trove_core::paths::resolve(&root, &rel);
            if is_dir {
                dirs.insert(id, abs);
                continue;
            }
            if let Ok(m) = std::fs::metadata(&abs)
                && m.is_file()
                && i64::try_from(m.len()).ok() != Some(size)
            {
                changed += 1;
            }
            file_pos.insert(id, lib.files.len());
            lib.files.push(LibFile { path: abs, record: None, added_at: None, links: Vec::new() });
        }
    }
    if changed > 0 {
        notes.push(format!(
            "{changed} file(s) changed size since TMSU last saw them; their tags went on the current content"
        ));
    }

    // Links.
    let source = Source::Import("tmsu".into());
    let mut dir_links: BTreeMap<PathBuf, u64> = BTreeMap::new();
    let mut dangling = 0u64;
    {
        let mut st = c.prepare("SELECT file_id, tag_id, value_id FROM file_tag ORDER BY file_id, tag_id, value_id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        for row in rows {
            let (f, t, v) = row?;
            let Some(tag) = resolve(&mut tags, t, v) else {
                dangling += 1;
                continue;
            };
            match file_pos.get(&f) {
                Some(&i) => {
                    let links = &mut lib.files[i].links;
                    if !links.iter().any(|l| l.tag == tag) {
                        links.push(LibLink { tag, source: source.clone(), added_at: None });
                    }
                }
                None => match dirs.get(&f) {
                    Some(d) => *dir_links.entry(d.clone()).or_default() += 1,
                    None => dangling += 1,
                },
            }
        }
    }
    for (d, n) in &dir_links {
        notes.push(format!(
            "{}: a directory with {n} tag(s) in TMSU; trove tags files, so they were left out",
            d.display()
        ));
    }
    if dangling > 0 {
        notes.push(format!("{dangling} tagging(s) name a tag, value or file TMSU does not have; left out"));
    }

    // Implications.
    let mut any_value = Vec::new();
    {
        let mut st = c.prepare(
            "SELECT tag_id, value_id, implied_tag_id, implied_value_id FROM implication
             ORDER BY tag_id, value_id, implied_tag_id, implied_value_id",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for row in rows {
            let (t, v, it, iv): (i64, i64, i64, i64) = row?;
            match (resolve(&mut tags, t, v), resolve(&mut tags, it, iv)) {
                (Some(a), Some(b)) => {
                    lib.implications.push((a, b));
                    if v == 0 {
                        any_value.push((t, b));
                    }
                }
                _ => notes
                    .push(format!("an implication names a tag or value TMSU does not have (tag {t} ⇒ {it}); left out")),
            }
        }
    }
    if opts.value_implies_tag {
        for (&t, vs) in &values_in_use {
            let base = tag_pos[&t];
            for &v in vs {
                let name = format!("{}:{}", tag_name[&t], values[&v]);
                let vt = tags.get(&name);
                if vt != base && !lib.implications.contains(&(vt, base)) {
                    lib.implications.push((vt, base));
                }
            }
        }
    } else if !any_value.is_empty() {
        for &(t, implied) in &any_value {
            for &v in values_in_use.get(&t).into_iter().flatten() {
                let name = format!("{}:{}", tag_name[&t], values[&v]);
                let vt = tags.get(&name);
                if vt != implied && !lib.implications.contains(&(vt, implied)) {
                    lib.implications.push((vt, implied));
                }
            }
        }
        notes.push(format!(
            "{} TMSU implication(s) hold for any value of their tag; trove applied them to each value in use now, not to values added later",
            any_value.len()
        ));
    }

    // What trove has no place for.
    if has_table(c, "query")? {
        let mut st = c.prepare("SELECT text FROM query ORDER BY text")?;
        for q in st.query_map([], |r| text(r, 0))? {
            notes.push(format!("saved query not imported (save it with `trove find` as you need): {}", q?));
        }
    }
    if has_table(c, "setting")? {
        let mut st = c.prepare("SELECT name, value FROM setting ORDER BY name")?;
        for s in st.query_map([], |r| Ok((text(r, 0)?, text(r, 1)?)))? {
            let (n, v) = s?;
            notes.push(format!("TMSU setting {n}={v} has no trove equivalent; not imported"));
        }
    }
    lib.tags = tags.lib_tags;
    Ok(Read { library: lib, notes })
}

/// Finds `.tmsu/db` walking up from `dir`, as TMSU does.
pub fn find_db(dir: &Path) -> Result<PathBuf> {
    for d in dir.ancestors() {
        let p = d.join(".tmsu").join("db");
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::NoDefaultPath { what: "TMSU database (.tmsu/db in this directory or above)" })
}

/// TMSU's schema 0.7.0-1, statement for statement as `tmsu init` creates it
/// (`storage/database/schema.go`).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tag (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tag_name ON tag(name);
CREATE TABLE IF NOT EXISTS file (
    id INTEGER PRIMARY KEY,
    directory TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    mod_time DATETIME NOT NULL,
    size INTEGER NOT NULL,
    is_dir BOOLEAN NOT NULL,
    CONSTRAINT con_file_path UNIQUE (directory, name)
);
CREATE INDEX IF NOT EXISTS idx_file_fingerprint ON file(fingerprint);
CREATE TABLE IF NOT EXISTS value (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    CONSTRAINT con_value_name UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS file_tag (
    file_id INTEGER NOT NULL,
    tag_id INTEGER NOT NULL,
    value_id INTEGER NOT NULL,
    PRIMARY KEY (file_id, tag_id, value_id),
    FOREIGN KEY (file_id) REFERENCES file(id),
    FOREIGN KEY (tag_id) REFERENCES tag(id)
    FOREIGN KEY (value_id) REFERENCES value(id)
);
CREATE INDEX IF NOT EXISTS idx_file_tag_file_id ON file_tag(file_id);
CREATE INDEX IF NOT EXISTS idx_file_tag_tag_id ON file_tag(tag_id);
CREATE INDEX IF NOT EXISTS idx_file_tag_value_id ON file_tag(value_id);
CREATE TABLE IF NOT EXISTS implication (
    tag_id INTEGER NOT NULL,
    value_id INTEGER NOT NULL,
    implied_tag_id INTEGER NOT NULL,
    implied_value_id INTEGER NOT NULL,
    PRIMARY KEY (tag_id, value_id, implied_tag_id, implied_value_id)
);
CREATE TABLE IF NOT EXISTS query (
    text TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS setting (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS version (
    major NUMBER NOT NULL,
    minor NUMBER NOT NULL,
    patch NUMBER NOT NULL,
    revision NUMBER NOT NULL,
    PRIMARY KEY (major, minor, patch, revision)
);
INSERT INTO version (major, minor, patch, revision) VALUES (0, 7, 0, 1);
";

/// Writes a TMSU database the way `tmsu` 0.7.5 does (for tests): paths stored relative to
/// the root, cleaned; values in their own table; value id 0 for none.
pub struct Builder {
    pub conn: Connection,
    root: PathBuf,
}

impl Builder {
    /// Creates `ROOT/.tmsu/db` (`tmsu init` in ROOT).
    pub fn init(root: &Path) -> Result<Builder> {
        let dir = root.join(".tmsu");
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io { path: dir.clone(), source: e })?;
        let conn = Connection::open(dir.join("db"))?;
        // TMSU's driver leaves foreign keys off: value id 0 (none) has no row.
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Builder { conn, root: root.to_path_buf() })
    }

    /// A tag row (TMSU allows two with the same name; this does not check).
    pub fn tag(&self, name: &str) -> Result<i64> {
        if let Some(id) = self.conn.query_row("SELECT id FROM tag WHERE name = ?1", [name], |r| r.get(0)).optional()? {
            return Ok(id);
        }
        self.conn.execute("INSERT INTO tag (name) VALUES (?1)", [name])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A value row; "" is value id 0 (none).
    pub fn value(&self, name: &str) -> Result<i64> {
        if name.is_empty() {
            return Ok(0);
        }
        if let Some(id) =
            self.conn.query_row("SELECT id FROM value WHERE name = ?1", [name], |r| r.get(0)).optional()?
        {
            return Ok(id);
        }
        self.conn.execute("INSERT INTO value (name) VALUES (?1)", [name])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A file row for `path` (absolute), stored as TMSU stores it.
    pub fn file(&self, path: &Path, is_dir: bool) -> Result<i64> {
        use std::os::unix::ffi::OsStrExt;
        let rel = relative_to(path, &self.root);
        let (dir, name) = match (rel.parent(), rel.file_name()) {
            (Some(d), Some(n)) if !d.as_os_str().is_empty() => (d.to_path_buf(), n.to_os_string()),
            (_, Some(n)) => (PathBuf::from("."), n.to_os_string()),
            _ => return Err(invalid(path, "no file name")),
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let st = "INSERT INTO file (directory, name, fingerprint, mod_time, size, is_dir)
                  VALUES (CAST(?1 AS TEXT), CAST(?2 AS TEXT), '', '2026-11-22 04:54:25.118269871+00:00', ?3, ?4)";
        self.conn.execute(st, params![dir.as_os_str().as_bytes(), name.as_bytes(), size as i64, is_dir])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// `tmsu tag FILE tag[=value]`.
    pub fn tag_file(&self, file: i64, tag: &str, value: &str) -> Result<()> {
        let (t, v) = (self.tag(tag)?, self.value(value)?);
        self.conn.execute("INSERT OR IGNORE INTO file_tag VALUES (?1, ?2, ?3)", params![file, t, v])?;
        Ok(())
    }

    /// `tmsu imply tag[=value] implied[=value]`.
    pub fn imply(&self, tag: (&str, &str), implied: (&str, &str)) -> Result<()> {
        let row = params![self.tag(tag.0)?, self.value(tag.1)?, self.tag(implied.0)?, self.value(implied.1)?];
        self.conn.execute("INSERT OR IGNORE INTO implication VALUES (?1, ?2, ?3, ?4)", row)?;
        Ok(())
    }
}

/// `path` relative to `root` the way Go's `filepath.Rel` then `Clean` give it: `a/b`,
/// `../x/y`; absolute when `root` is `/` or nothing is shared.
fn relative_to(path: &Path, root: &Path) -> PathBuf {
    if root == Path::new("/") {
        return path.to_path_buf();
    }
    let p: Vec<_> = path.components().collect();
    let r: Vec<_> = root.components().collect();
    let common = p.iter().zip(&r).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..r.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}
