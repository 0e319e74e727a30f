//! awtfdb (`$HOME/awtf.db`, schema versions 8–11): tag cores become tags with the core's
//! hash as universal id, every name with its language, implications, explicit links with
//! their provenance, pools in order, files by path (re-hashed by trove: awtfdb hashes with
//! BLAKE3 in key-derivation mode, trove with plain BLAKE3).
//!
//! awtfdb copies implied tags into `tag_files` (source "tag parenting"); such a row is left
//! out while the child tag that justifies it is on the file (trove derives it at query
//! time) and kept as an explicit link when it is not (awtfdb never removes stale ones), so
//! queries answer the same. Reference: shared/research/awtfdb.md §1,
//! import-and-szurubooru.md §1.1.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use trove_core::model::{Source, TagName};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibPool, LibTag, Read, invalid};

/// awtfdb's BLAKE3 key-derivation context.
pub const CONTEXT: &str = "awtfdb Sun Mar 20 16:58:11 AM +00 2022 main hash key";

/// awtfdb's hash of some bytes (BLAKE3 derive-key mode with [`CONTEXT`]).
pub fn kdf(data: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(CONTEXT);
    h.update(data);
    *h.finalize().as_bytes()
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The millisecond timestamp in a ULID's first 10 characters.
pub fn ulid_ms(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() != 26 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[..10] {
        let d = CROCKFORD.iter().position(|&x| x == c.to_ascii_uppercase())?;
        v = (v << 5) | d as u64;
    }
    Some(v)
}

/// A ULID string: 48-bit milliseconds then 80 random bits, Crockford base32.
pub fn ulid(ms: u64, random: u128) -> String {
    let mut s = String::with_capacity(26);
    for i in (0..10).rev() {
        s.push(CROCKFORD[((ms >> (i * 5)) & 31) as usize] as char);
    }
    for i in (0..16).rev() {
        s.push(CROCKFORD[((random >> (i * 5)) & 31) as usize] as char);
    }
    s
}

fn secs(id: &str) -> Option<i64> {
    ulid_ms(id).map(|ms| (ms / 1000) as i64)
}

/// Opens the database read-only and checks its schema version.
fn open(path: &Path) -> Result<crate::Source> {
    let src = crate::open_sqlite_ro(path)?;
    let c = &src.conn;
    let has = |t: &str| -> Result<bool> {
        Ok(c.query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", [t], |_| Ok(()))
            .optional()?
            .is_some())
    };
    if !has("migration_logs")? || !has("tag_cores")? {
        return Err(invalid(path, "not an awtfdb database (no migration_logs or tag_cores table)"));
    }
    let version: Option<i64> = c.query_row("SELECT max(version) FROM migration_logs", [], |r| r.get(0))?;
    match version {
        Some(8..=11) => Ok(src),
        Some(v) if v < 8 => Err(invalid(
            path,
            format!(
                "awtfdb schema version {v} (integer ids); run `awtfdb-manage migrate` first (trove reads versions 8 to 11)"
            ),
        )),
        Some(v) => Err(invalid(path, format!("awtfdb schema version {v}; trove reads versions 8 to 11"))),
        None => Err(invalid(path, "an empty awtfdb database (no migration applied)")),
    }
}

fn text_bytes(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    let v = r.get_ref(i)?;
    match v {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => Ok(b.to_vec()),
        _ => Err(rusqlite::Error::InvalidColumnType(i, "local_path".into(), v.data_type())),
    }
}

/// Reads an awtfdb database into a library.
pub fn read(path: &Path) -> Result<Read> {
    let src = open(path)?;
    let c = &src.conn;
    let mut notes = Vec::new();
    let mut lib = crate::Library::default();

    // Tag cores, their universal ids (the core's hash) and names.
    let mut core_pos: HashMap<String, usize> = HashMap::new();
    {
        let mut st = c.prepare(
            "SELECT tc.core_hash, h.hash_data FROM tag_cores tc JOIN hashes h ON h.id = tc.core_hash ORDER BY tc.core_hash",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (id, hash) = row?;
            let uid = <[u8; 32]>::try_from(hash.as_slice()).ok();
            if uid.is_none() {
                notes.push(format!("tag core {id}: its hash is not 32 bytes; imported with a new universal id"));
            }
            core_pos.insert(id.clone(), lib.tags.len());
            lib.tags.push(LibTag { uid, names: Vec::new(), created_at: secs(&id) });
        }
        let mut st =
            c.prepare("SELECT tag_text, tag_language, core_hash FROM tag_names ORDER BY core_hash, tag_text")?;
        let rows =
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        for row in rows {
            let (text, lang, core) = row?;
            let Some(&i) = core_pos.get(&core) else {
                notes.push(format!("tag name {text:?}: its core {core} does not exist; left out"));
                continue;
            };
            let t = &mut lib.tags[i];
            // Every awtfdb tool writes "en" whatever the language; it means "not said".
            let lang = (lang != "en" && !lang.is_empty()).then_some(lang);
            t.names.push(TagName { name: text, lang, primary: false });
        }
        // The primary name: the first by text among those without a language (awtfdb's
        // "en"), else the first by text.
        for t in &mut lib.tags {
            t.names.sort_by(|a, b| (a.lang.is_some(), &a.name).cmp(&(b.lang.is_some(), &b.name)));
            if let Some(n) = t.names.first_mut() {
                n.primary = true;
            }
        }
        let multi = lib.tags.iter().filter(|t| t.names.len() > 1).count();
        if multi > 0 {
            notes.push(format!(
                "{multi} tag core(s) have several names; the first by text (awtfdb's default language first) is the primary name, the others are aliases"
            ));
        }
        let nameless = lib.tags.iter().filter(|t| t.names.is_empty()).count();
        if nameless > 0 {
            notes.push(format!("{nameless} tag core(s) have no name; left out with their links"));
        }
    }

    // Implications.
    {
        let mut st = c.prepare("SELECT child_tag, parent_tag FROM tag_implications ORDER BY rowid")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (ch, p) = row?;
            match (core_pos.get(&ch), core_pos.get(&p)) {
                (Some(&a), Some(&b)) => lib.implications.push((a, b)),
                _ => notes.push(format!("implication {ch} ⇒ {p}: a core does not exist; left out")),
            }
        }
    }

    // Files: content id → paths (sorted).
    let mut paths: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    {
        let mut st = c.prepare("SELECT file_hash, local_path FROM files ORDER BY local_path")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, text_bytes(r, 1)?)))?;
        for row in rows {
            let (h, p) = row?;
            paths.entry(h).or_default().push(p);
        }
    }
    let mut content_files: HashMap<String, Vec<usize>> = HashMap::new();
    for (h, ps) in &paths {
        for p in ps {
            let i = lib.files.len();
            content_files.entry(h.clone()).or_default().push(i);
            lib.files.push(LibFile {
                path: PathBuf::from(OsString::from_vec(p.clone())),
                record: None,
                added_at: secs(h),
                links: Vec::new(),
            });
        }
    }

    // Links, without the derived rows a child still justifies.
    {
        let mut sources: HashMap<(i64, i64), Source> = HashMap::new();
        let mut st = c.prepare("SELECT type, id, name FROM tag_sources")?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))? {
            let (t, id, name) = row?;
            let s = if t == 0 { Source::Import("awtfdb".into()) } else { Source::Import(format!("awtfdb:{name}")) };
            sources.insert((t, id), s);
        }
        let mut st = c.prepare(
            "SELECT tf.file_hash, tf.core_hash, coalesce(tf.tag_source_type, 0), coalesce(tf.tag_source_id, 0),
                    (coalesce(tf.tag_source_type, 0) = 0 AND coalesce(tf.tag_source_id, 0) = 1 AND EXISTS (
                        SELECT 1 FROM tag_implications ti JOIN tag_files tf2
                          ON tf2.file_hash = tf.file_hash AND tf2.core_hash = ti.child_tag
                        WHERE ti.rowid = tf.parent_source_id)) AS derived
             FROM tag_files tf",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        let (mut derived, mut stale, mut invisible, mut dangling) = (0u64, 0u64, 0u64, 0u64);
        let mut invisible_contents: std::collections::HashSet<String> = std::collections::HashSet::new();
        for row in rows {
            let (h, core, st_type, st_id, is_derived) = row?;
            if is_derived {
                derived += 1;
                continue;
            }
            if (st_type, st_id) == (0, 1) {
                stale += 1;
            }
            let Some(&tag) = core_pos.get(&core) else {
                dangling += 1;
                continue;
            };
            let Some(files) = content_files.get(&h) else {
                invisible += 1;
                invisible_contents.insert(h);
                continue;
            };
            let source = sources.get(&(st_type, st_id)).cloned().unwrap_or_else(|| Source::Import("awtfdb".into()));
            for &f in files {
                lib.files[f].links.push(LibLink { tag, source: source.clone(), added_at: None });
            }
        }
        if derived > 0 {
            notes.push(format!(
                "{derived} tag(s) awtfdb had copied from implications were not copied: trove derives them from the implications"
            ));
        }
        if stale > 0 {
            notes.push(format!(
                "{stale} tag(s) awtfdb had copied from an implication whose child tag is gone were kept as ordinary tags"
            ));
        }
        if invisible > 0 {
            notes.push(format!(
                "{invisible} tag link(s) on {} content(s) that have no path in awtfdb were left out",
                invisible_contents.len()
            ));
        }
        if dangling > 0 {
            notes.push(format!("{dangling} tag link(s) to tag cores that do not exist were left out"));
        }
    }

    // Pools, in entry order; a content with several paths enters by its first path.
    {
        let mut st = c.prepare("SELECT pool_hash, title FROM pools ORDER BY pool_hash")?;
        let pools: Vec<(String, String)> =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        let mut st =
            c.prepare_cached("SELECT file_hash FROM pool_entries WHERE pool_hash = ?1 ORDER BY entry_index")?;
        for (id, title) in pools {
            let mut members = Vec::new();
            for h in st.query_map(params![id], |r| r.get::<_, String>(0))? {
                let h = h?;
                match content_files.get(&h) {
                    Some(fs) => {
                        if fs.len() > 1 {
                            notes.push(format!(
                                "pool {title:?}: a content with {} paths entered by its first path",
                                fs.len()
                            ));
                        }
                        members.push(fs[0]);
                    }
                    None => notes.push(format!("pool {title:?}: an entry whose content has no path was left out")),
                }
            }
            lib.pools.push(LibPool { title, created_at: secs(&id), files: members });
        }
    }

    let has_config =
        c.query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'library_configuration'", [], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    if has_config
        && let Some(re) = c
            .query_row("SELECT value FROM library_configuration WHERE key = 'tag_name_regex'", [], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten()
    {
        notes.push(format!("awtfdb's tag name rule {re:?} is not carried over (trove has none)"));
    }
    Ok(Read { library: lib, notes })
}

/// The default database: `$HOME/awtf.db`, as awtfdb's tools find it.
pub fn default_path(home: Option<&Path>) -> Result<PathBuf> {
    home.map(|h| h.join("awtf.db")).ok_or(Error::NoDefaultPath { what: "awtfdb database" })
}

/// Writes awtfdb databases the way awtfdb does (final schema after migrations 1–11, WAL,
/// ULID ids, key-derivation hashes), for tests and benchmarks. The schema is the one
/// shared/research/awtfdb.md §1.4 recorded by replaying awtfdb's migrations.
pub struct Builder {
    pub conn: Connection,
    ms: u64,
    rng: u64,
}

/// The tables a database has after awtfdb's migrations 1–11 (the live ones, and a few of
/// the read-only `_v1` leftovers every migrated database carries).
pub const SCHEMA: &str = "
CREATE TABLE migration_logs (version int primary key, applied_at int, description text);
CREATE TABLE hashes (id text primary key, hash_data blob constraint hashes_length check (length(hash_data) == 32)
    constraint hashes_unique unique) without rowid, strict;
CREATE TABLE files (file_hash text constraint files_v2_file_hash_fk references hashes (id) on delete restrict,
    local_path text not null constraint files_v2_local_path_uniq unique on conflict abort,
    constraint files_v2_pk primary key (file_hash, local_path)) without rowid, strict;
CREATE TABLE tag_cores (core_hash text primary key constraint tag_cores_v2_hash_fk references hashes (id) on delete restrict,
    core_data blob not null) without rowid, strict;
CREATE TABLE tag_names (tag_text text not null, tag_language text not null,
    core_hash text constraint tag_names_v2_core_fk references tag_cores (core_hash) on delete restrict,
    constraint tag_names_v2_pk primary key (tag_text, tag_language)) without rowid, strict;
CREATE TABLE tag_implications (rowid integer primary key,
    child_tag text not null references tag_cores (core_hash) on delete cascade,
    parent_tag text not null references tag_cores (core_hash) on delete cascade,
    constraint tag_implications_v2_uniq unique (child_tag, parent_tag)) strict;
CREATE TABLE tag_sources (type int not null, id int not null, name text not null, primary key (type, id)) strict;
INSERT INTO tag_sources VALUES (0, 0, 'manual insertion'), (0, 1, 'tag parenting');
CREATE TABLE tag_files (file_hash text not null references hashes (id) on delete cascade,
    core_hash text not null references tag_cores (core_hash) on delete cascade,
    tag_source_type int default 0, tag_source_id int default 0, parent_source_id int default null,
    constraint tag_files_tag_source_fk foreign key (tag_source_type, tag_source_id) references tag_sources (type, id) on delete restrict,
    constraint tag_files_parent_source_id_fk foreign key (parent_source_id) references tag_implications (rowid) on delete restrict,
    constraint tag_files_pk primary key (file_hash, core_hash)) without rowid, strict;
CREATE TABLE pools (pool_hash text primary key references hashes (id) on delete restrict,
    pool_core_data blob not null constraint pool_core_data check (length(pool_core_data) >= 64),
    title text not null) without rowid, strict;
CREATE TABLE pool_entries (file_hash text not null references hashes (id) on delete cascade,
    pool_hash text not null references pools (pool_hash) on delete cascade, entry_index int not null,
    constraint pool_entries_pk primary key (file_hash, pool_hash),
    constraint pool_unique_index unique (pool_hash, entry_index)) without rowid, strict;
CREATE TABLE library_configuration (key text unique, value text) strict;
CREATE TABLE metrics_count_files (timestamp integer primary key, value integer, check(value >= 0)) strict;
CREATE TABLE metrics_tag_usage_values (timestamp integer,
    core_hash text not null references tag_cores (core_hash) on delete cascade,
    relationship_count int not null check (relationship_count >= 0),
    constraint metrics_tag_usage_values_pk primary key (timestamp, core_hash)) without rowid, strict;
CREATE INDEX tag_files_file_hash_idx on tag_files (file_hash);
CREATE INDEX tag_files_core_hash_idx on tag_files (core_hash);
CREATE INDEX tag_names_core_hash_idx on tag_names (core_hash);
CREATE TABLE hashes_v1 (id integer primary key, hash_data blob);
CREATE TABLE tag_names_v1 (tag_text text, tag_language text, core_hash int);
CREATE TABLE tag_files_v1 (file_hash int, core_hash int);
CREATE TABLE _old_tag_files_without_sources (file_hash int, core_hash int);
";

impl Builder {
    /// Creates the database at `path` with awtfdb's final schema and migration log 1–11.
    pub fn create(path: &Path, seed: u64) -> Result<Builder> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        for v in 1..=11 {
            conn.execute(
                "INSERT INTO migration_logs VALUES (?1, 1700000000, ?2)",
                params![v, format!("migration {v}")],
            )?;
        }
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
        Ok(Builder { conn, ms: 1_700_000_000_000, rng: seed | 1 })
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn id(&mut self) -> String {
        self.ms += 1;
        let r = (u128::from(self.next()) << 16) ^ u128::from(self.next());
        ulid(self.ms, r & ((1u128 << 80) - 1))
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }

    fn hash_row(&mut self, hash: &[u8; 32]) -> Result<String> {
        if let Some(id) = self
            .conn
            .prepare_cached("SELECT id FROM hashes WHERE hash_data = ?1")?
            .query_row([&hash[..]], |r| r.get(0))
            .optional()?
        {
            return Ok(id);
        }
        let id = self.id();
        self.conn.prepare_cached("INSERT INTO hashes VALUES (?1, ?2)")?.execute(params![id, &hash[..]])?;
        Ok(id)
    }

    /// Indexes a file path with content `content` (as `ainclude` does); returns the
    /// content's id.
    pub fn file(&mut self, path: &[u8], content: &[u8]) -> Result<String> {
        let id = self.hash_row(&kdf(content))?;
        self.conn.prepare_cached("INSERT INTO files VALUES (?1, CAST(?2 AS TEXT))")?.execute(params![id, path])?;
        Ok(id)
    }

    /// A tag core with these (text, language) names (as `atags create` and `--core` do);
    /// returns the core's id.
    pub fn tag(&mut self, names: &[(&str, &str)]) -> Result<String> {
        let data = self.random_bytes(128);
        let id = self.hash_row(&kdf(&data))?;
        self.conn.prepare_cached("INSERT INTO tag_cores VALUES (?1, ?2)")?.execute(params![id, data])?;
        for (text, lang) in names {
            self.conn.prepare_cached("INSERT INTO tag_names VALUES (?1, ?2, ?3)")?.execute(params![text, lang, id])?;
        }
        Ok(id)
    }

    /// The 32-byte hash (universal id) of a core.
    pub fn core_hash(&self, core: &str) -> Result<[u8; 32]> {
        let v: Vec<u8> = self.conn.query_row("SELECT hash_data FROM hashes WHERE id = ?1", [core], |r| r.get(0))?;
        Ok(<[u8; 32]>::try_from(v.as_slice()).unwrap_or([0; 32]))
    }

    /// `child ⇒ parent`; returns the implication's rowid.
    pub fn imply(&mut self, child: &str, parent: &str) -> Result<i64> {
        self.conn
            .execute("INSERT INTO tag_implications (child_tag, parent_tag) VALUES (?1, ?2)", params![child, parent])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// An external tag source (type 1); returns its id.
    pub fn source(&mut self, name: &str) -> Result<i64> {
        let id: i64 =
            self.conn
                .query_row("SELECT coalesce(max(id), -1) + 1 FROM tag_sources WHERE type = 1", [], |r| r.get(0))?;
        self.conn.execute("INSERT INTO tag_sources VALUES (1, ?1, ?2)", params![id, name])?;
        Ok(id)
    }

    /// Tags a content: `source` is (type, id); `parent` the implication rowid for a row
    /// copied by awtfdb's tag-tree processing (source (0, 1)).
    pub fn link(&mut self, content: &str, core: &str, source: (i64, i64), parent: Option<i64>) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO tag_files VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![content, core, source.0, source.1, parent])?;
        Ok(())
    }

    /// A pool with these contents, in order (indexes with a gap, as after a removal).
    pub fn pool(&mut self, title: &str, contents: &[&str]) -> Result<String> {
        let data = self.random_bytes(64);
        let id = self.hash_row(&kdf(&data))?;
        self.conn.execute("INSERT INTO pools VALUES (?1, ?2, ?3)", params![id, data, title])?;
        for (i, c) in contents.iter().enumerate() {
            self.conn.execute("INSERT INTO pool_entries VALUES (?1, ?2, ?3)", params![c, id, (i as i64) * 2])?;
        }
        Ok(id)
    }
}
