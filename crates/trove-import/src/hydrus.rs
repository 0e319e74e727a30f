//! Hydrus (its database folder, Hydrus closed): the current tags of a tag service ("my
//! tags" by default) by SHA-256, siblings as aliases, parents as implications, put on the
//! user's own files found under the given folders by size, then SHA-256.
//!
//! Hydrus keeps copies of files named by their SHA-256; trove keeps files in place. So an
//! import takes the tags Hydrus has for a content and puts them on the user's files with
//! that content: every regular file under `--under` whose size is the size of a tagged
//! Hydrus file is hashed (BLAKE3 and SHA-256 in one read, so trove does not read it again)
//! and matched. Hashes no file matched are reported.
//!
//! Reading: `client.db` with `client.master.db` and `client.mappings.db` attached, all
//! read-only and `immutable`. A `-wal` file next to them means Hydrus is running (or was
//! not closed cleanly): refused, because its latest writes are not in the database files.
//!
//! Reference: shared/research/import-and-szurubooru.md §1.4 (route B).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rusqlite::{Connection, OptionalExtension, params};
use trove_core::model::{FileState, Source, TagName, fold, now_unix};
use trove_core::ops::{Phase, Progress};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibRecord, LibTag, Library, Read, hex, invalid};

/// The service key of "my tags" (`CC.DEFAULT_LOCAL_TAG_SERVICE_KEY`).
pub const MY_TAGS: &[u8] = b"local tags";
/// The service key of "my files" (`CC.LOCAL_FILE_SERVICE_KEY`).
pub const MY_FILES: &[u8] = b"local files";
const FILES: [&str; 3] = ["client.db", "client.master.db", "client.mappings.db"];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Tag services by name; empty = "my tags".
    pub services: Vec<String>,
    /// Folders holding the user's copies of the files.
    pub under: Vec<PathBuf>,
}

fn has_table(c: &Connection, schema: &str, t: &str) -> Result<bool> {
    let q = format!("SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND name = ?1");
    Ok(c.query_row(&q, [t], |_| Ok(())).optional()?.is_some())
}

/// Opens the three databases of a closed Hydrus.
fn open(dir: &Path) -> Result<crate::Source> {
    for f in FILES {
        let p = dir.join(f);
        if !p.is_file() {
            return Err(invalid(
                &p,
                "missing: not a Hydrus database folder (it holds client.db, client.master.db and client.mappings.db)",
            ));
        }
        let wal = crate::sidecar(&p, "-wal");
        if wal.exists() {
            return Err(invalid(
                &wal,
                "Hydrus is running, or was not closed cleanly; close Hydrus (or start and close it once) and run this again",
            ));
        }
    }
    let src = crate::open_sqlite_ro(&dir.join("client.db"))?;
    for (f, name) in [("client.master.db", "master"), ("client.mappings.db", "mappings")] {
        let uri = format!("{}?immutable=1", crate::uri_of(&dir.join(f)));
        src.conn
            .execute("ATTACH DATABASE ?1 AS ?2", params![uri, name])
            .map_err(|e| invalid(&dir.join(f), format!("cannot be opened as SQLite ({e})")))?;
    }
    for (schema, t) in [("main", "services"), ("master", "hashes"), ("master", "tags"), ("master", "subtags")] {
        if !has_table(&src.conn, schema, t)? {
            return Err(invalid(dir, format!("not a Hydrus database folder (no {t} table)")));
        }
    }
    Ok(src)
}

struct Service {
    id: i64,
    name: String,
    source: Source,
}

fn services(c: &Connection, dir: &Path, wanted: &[String]) -> Result<Vec<Service>> {
    let mut st = c.prepare(
        "SELECT service_id, service_key, name FROM services WHERE service_type IN (0, 5) ORDER BY service_id",
    )?;
    let all: Vec<(i64, Vec<u8>, String)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    let source = |key: &[u8], name: &str| {
        if key == MY_TAGS { Source::Import("hydrus".into()) } else { Source::Import(format!("hydrus:{name}")) }
    };
    if wanted.is_empty() {
        return match all.iter().find(|(_, k, _)| k == MY_TAGS) {
            Some((id, k, n)) => Ok(vec![Service { id: *id, name: n.clone(), source: source(k, n) }]),
            None => Err(invalid(&dir.join("client.db"), "has no \"my tags\" service; name one with --service")),
        };
    }
    let mut out = Vec::new();
    for w in wanted {
        match all.iter().find(|(_, _, n)| fold(n) == fold(w)) {
            Some((id, k, n)) => out.push(Service { id: *id, name: n.clone(), source: source(k, n) }),
            None => {
                let names: Vec<&str> = all.iter().map(|(_, _, n)| n.as_str()).collect();
                return Err(invalid(
                    &dir.join("client.db"),
                    format!("no tag service named {w:?} (its tag services: {})", names.join(", ")),
                ));
            }
        }
    }
    Ok(out)
}

/// Tag texts by tag id (`namespace:subtag`, or the subtag alone for the empty namespace).
fn tag_texts(c: &Connection, ids: &HashSet<i64>) -> Result<HashMap<i64, String>> {
    let mut st = c.prepare_cached(
        "SELECT ns.namespace, st.subtag FROM master.tags t
         JOIN master.namespaces ns ON ns.namespace_id = t.namespace_id
         JOIN master.subtags st ON st.subtag_id = t.subtag_id WHERE t.tag_id = ?1",
    )?;
    let mut out = HashMap::new();
    for &id in ids {
        if let Some((ns, sub)) =
            st.query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).optional()?
        {
            out.insert(id, if ns.is_empty() { sub } else { format!("{ns}:{sub}") });
        }
    }
    Ok(out)
}

/// The SHA-256 trove already knows for a file, when its record is current (same size and
/// modification time as `meta`): such a file is not read again.
pub type Known<'k> = &'k dyn Fn(&Path, &std::fs::Metadata) -> Option<[u8; 32]>;

/// Reads the chosen services and matches their files under `opts.under`.
pub fn read(dir: &Path, opts: &Options, known: Known<'_>, progress: &dyn Progress) -> Result<Read> {
    let src = open(dir)?;
    let c = &src.conn;
    let services = services(c, dir, &opts.services)?;
    let mut notes = Vec::new();

    // hash id → (tag id, service) pairs; sibling and parent pairs per service.
    let mut mappings: BTreeMap<i64, Vec<(i64, usize)>> = BTreeMap::new();
    let mut siblings: HashMap<i64, i64> = HashMap::new();
    let mut parents: Vec<(i64, i64)> = Vec::new();
    let mut used: HashSet<i64> = HashSet::new();
    for (si, s) in services.iter().enumerate() {
        let table = format!("current_mappings_{}", s.id);
        if !has_table(c, "mappings", &table)? {
            notes.push(format!("tag service {:?} has no mappings table; nothing from it", s.name));
            continue;
        }
        let mut st = c.prepare(&format!("SELECT hash_id, tag_id FROM mappings.{table}"))?;
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (h, t) = row?;
            mappings.entry(h).or_default().push((t, si));
            used.insert(t);
        }
        let sib = format!("current_tag_siblings_{}", s.id);
        if has_table(c, "main", &sib)? {
            let mut st = c.prepare(&format!("SELECT bad_tag_id, good_tag_id FROM {sib}"))?;
            for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
                let (bad, good) = row?;
                siblings.insert(bad, good);
                used.extend([bad, good]);
            }
        } else {
            notes.push(format!(
                "tag service {:?}: no sibling table (Hydrus before version 586?); siblings not imported",
                s.name
            ));
        }
        let par = format!("current_tag_parents_{}", s.id);
        if has_table(c, "main", &par)? {
            let mut st = c.prepare(&format!("SELECT child_tag_id, parent_tag_id FROM {par}"))?;
            for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
                let (ch, p) = row?;
                parents.push((ch, p));
                used.extend([ch, p]);
            }
        }
    }
    let texts = tag_texts(c, &used)?;

    // Siblings: every tag goes to its ideal (the end of its chain); the others are aliases.
    let ideal = |t: i64| -> i64 {
        let mut cur = t;
        for _ in 0..64 {
            match siblings.get(&cur) {
                Some(&g) if g != t => cur = g,
                _ => break,
            }
        }
        cur
    };
    let mut lib = Library::default();
    let mut by_fold: HashMap<String, usize> = HashMap::new();
    let mut pos_of: HashMap<i64, usize> = HashMap::new();
    let mut ids: Vec<i64> = used.iter().copied().collect();
    ids.sort_unstable();
    // Ideals first, so each tag's primary name is its ideal.
    ids.sort_by_key(|&t| ideal(t) != t);
    let mut missing_text = 0u64;
    for t in ids {
        let i = ideal(t);
        let (Some(name), Some(ideal_name)) = (texts.get(&t), texts.get(&i)) else {
            missing_text += 1;
            continue;
        };
        let p = match by_fold.get(&fold(ideal_name)) {
            Some(&p) => p,
            None => {
                let p = lib.tags.len();
                lib.tags.push(LibTag {
                    uid: None,
                    names: vec![TagName { name: ideal_name.clone(), lang: None, primary: true }],
                    created_at: None,
                });
                by_fold.insert(fold(ideal_name), p);
                p
            }
        };
        if !lib.tags[p].names.iter().any(|n| fold(&n.name) == fold(name)) {
            lib.tags[p].names.push(TagName { name: name.clone(), lang: None, primary: false });
        }
        pos_of.insert(t, p);
    }
    if missing_text > 0 {
        notes.push(format!("{missing_text} tag id(s) have no text in client.master.db; left out with their links"));
    }
    let mut seen = HashSet::new();
    for (ch, p) in parents {
        if let (Some(&a), Some(&b)) = (pos_of.get(&ch), pos_of.get(&p))
            && a != b
            && seen.insert((a, b))
        {
            lib.implications.push((a, b));
        }
    }
    let aliases: usize = lib.tags.iter().map(|t| t.names.len() - 1).sum();
    if aliases > 0 {
        notes.push(format!("{aliases} sibling tag(s) became aliases of their ideal tag"));
    }

    // The tagged contents: SHA-256, size, import time.
    let mut sha_of: HashMap<[u8; 32], i64> = HashMap::new();
    let mut size_of: HashMap<i64, u64> = HashMap::new();
    {
        let mut st = c.prepare_cached("SELECT hash FROM master.hashes WHERE hash_id = ?1")?;
        for &h in mappings.keys() {
            if let Some(b) = st.query_row([h], |r| r.get::<_, Vec<u8>>(0)).optional()?
                && let Ok(a) = <[u8; 32]>::try_from(b.as_slice())
            {
                sha_of.insert(a, h);
            }
        }
        if has_table(c, "main", "files_info")? {
            let mut st = c.prepare_cached("SELECT size FROM files_info WHERE hash_id = ?1")?;
            for &h in mappings.keys() {
                if let Some(Some(s)) = st.query_row([h], |r| r.get::<_, Option<i64>>(0)).optional()? {
                    size_of.insert(h, s.max(0) as u64);
                }
            }
        }
    }
    let mut added: HashMap<i64, i64> = HashMap::new();
    if let Some(m) = c
        .query_row("SELECT service_id FROM services WHERE service_key = ?1", [MY_FILES], |r| r.get::<_, i64>(0))
        .optional()?
    {
        let t = format!("current_files_{m}");
        if has_table(c, "main", &t)? {
            let cols: HashSet<String> = c
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let expr = if cols.contains("timestamp_ms") { "timestamp_ms / 1000" } else { "timestamp" };
            let mut st = c.prepare(&format!("SELECT hash_id, {expr} FROM {t}"))?;
            for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)))? {
                if let (h, Some(ts)) = row? {
                    added.insert(h, ts);
                }
            }
        }
    }
    let sizes: HashSet<u64> = size_of.values().copied().collect();
    let unknown_size = mappings.keys().any(|h| !size_of.contains_key(h));
    if unknown_size {
        notes.push("some tagged files have no size in client.db; every file under the folders was hashed".into());
    }

    // The user's files: size first, then SHA-256.
    progress.begin(Phase::SCANNING, None);
    let mut candidates: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    for root in &opts.under {
        if !root.is_dir() {
            return Err(Error::Io {
                path: root.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory (--under)"),
            });
        }
        for e in walkdir::WalkDir::new(root).follow_links(false) {
            let Ok(e) = e else { continue };
            progress.advance(1);
            if !e.file_type().is_file() {
                continue;
            }
            match e.metadata() {
                Ok(m) if unknown_size || sizes.contains(&m.len()) => candidates.push((e.into_path(), m)),
                _ => {}
            }
        }
    }
    progress.finish();
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    candidates.dedup_by(|a, b| a.0 == b.0);
    // Files trove has a current SHA-256 for are matched without reading them.
    let mut by_index: Vec<(PathBuf, i64)> = Vec::new();
    let mut to_hash: Vec<PathBuf> = Vec::new();
    for (p, m) in candidates {
        match known(&p, &m) {
            Some(sha) => {
                if let Some(&h) = sha_of.get(&sha) {
                    by_index.push((p, h));
                }
            }
            None => to_hash.push(p),
        }
    }
    let candidates = to_hash;
    progress.begin(Phase::HASHING_FILES, Some(candidates.len() as u64));
    let now = now_unix();
    let hashed: Vec<Option<(PathBuf, LibRecord)>> = candidates
        .into_par_iter()
        .map(|p| {
            let r = trove_core::hash::hash_file(&p).ok().map(|o| {
                let rec = LibRecord {
                    size: o.stat.size,
                    mtime_ns: o.stat.mtime_ns,
                    hash: o.hash,
                    fingerprint: o.fingerprint,
                    sha256: o.sha256,
                    state: FileState::Present,
                    verified_at: now,
                };
                (p, rec)
            });
            progress.advance(1);
            r
        })
        .collect();
    progress.finish();
    let mut matched: HashSet<i64> = HashSet::new();
    if !by_index.is_empty() {
        notes.push(format!(
            "{} file(s) matched by the SHA-256 trove already had for them (not read again)",
            by_index.len()
        ));
    }
    let known_matches = by_index.into_iter().map(|(p, h)| (p, None, h));
    let hashed_matches = hashed.into_iter().flatten().filter_map(|(p, rec)| {
        let h = *rec.sha256.as_ref().and_then(|s| sha_of.get(s))?;
        Some((p, Some(rec), h))
    });
    let mut all: Vec<(PathBuf, Option<LibRecord>, i64)> = known_matches.chain(hashed_matches).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, rec, h) in all {
        matched.insert(h);
        let mut links = Vec::new();
        for &(t, si) in &mappings[&h] {
            if let Some(&tag) = pos_of.get(&t)
                && !links.iter().any(|l: &LibLink| l.tag == tag && l.source == services[si].source)
            {
                links.push(LibLink { tag, source: services[si].source.clone(), added_at: None });
            }
        }
        lib.files.push(LibFile { path, record: rec, added_at: added.get(&h).copied(), links });
    }
    let unmatched: Vec<i64> = mappings.keys().filter(|h| !matched.contains(h)).copied().collect();
    if !unmatched.is_empty() {
        notes.push(format!(
            "{} tagged Hydrus file(s) matched no file under {}; their SHA-256 follow",
            unmatched.len(),
            opts.under.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
        let by_id: HashMap<i64, [u8; 32]> = sha_of.iter().map(|(s, h)| (*h, *s)).collect();
        const SHOWN: usize = 200;
        for h in unmatched.iter().take(SHOWN) {
            match by_id.get(h) {
                Some(s) => notes.push(format!("  unmatched {} ({} tag(s))", hex(s), mappings[h].len())),
                None => notes.push(format!("  unmatched hash id {h} (no SHA-256 in client.master.db)")),
            }
        }
        if unmatched.len() > SHOWN {
            notes.push(format!("  … and {} more", unmatched.len() - SHOWN));
        }
    }
    Ok(Read { library: lib, notes })
}

/// The tables of a Hydrus client (version 586 and later) that [`read`] uses, as Hydrus
/// creates them, for tests.
pub const CLIENT_SCHEMA: &str = "
CREATE TABLE version (version INTEGER);
INSERT INTO version VALUES (682);
CREATE TABLE services (service_id INTEGER PRIMARY KEY AUTOINCREMENT, service_key BLOB_BYTES UNIQUE,
    service_type INTEGER, name TEXT, dictionary_string TEXT);
CREATE TABLE files_info (hash_id INTEGER PRIMARY KEY, size INTEGER, mime INTEGER, width INTEGER, height INTEGER,
    duration INTEGER, num_frames INTEGER, has_audio INTEGER_BOOLEAN, num_words INTEGER);
";
pub const MASTER_SCHEMA: &str = "
CREATE TABLE hashes (hash_id INTEGER PRIMARY KEY, hash BLOB_BYTES UNIQUE);
CREATE TABLE namespaces (namespace_id INTEGER PRIMARY KEY, namespace TEXT UNIQUE);
CREATE TABLE subtags (subtag_id INTEGER PRIMARY KEY, subtag TEXT UNIQUE);
CREATE TABLE tags (tag_id INTEGER PRIMARY KEY, namespace_id INTEGER, subtag_id INTEGER);
CREATE UNIQUE INDEX tags_subtag_id_namespace_id_index ON tags (subtag_id, namespace_id);
INSERT INTO namespaces VALUES (1, '');
";

/// Writes a Hydrus database folder (client.db, client.master.db, client.mappings.db) with
/// the services a new client has, for tests.
pub struct Builder {
    pub client: Connection,
    pub master: Connection,
    pub mappings: Connection,
    pub my_tags: i64,
    pub my_files: i64,
}

impl Builder {
    pub fn create(dir: &Path) -> Result<Builder> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
        let client = Connection::open(dir.join("client.db"))?;
        client.execute_batch(CLIENT_SCHEMA)?;
        let master = Connection::open(dir.join("client.master.db"))?;
        master.execute_batch(MASTER_SCHEMA)?;
        let mappings = Connection::open(dir.join("client.mappings.db"))?;
        let mut b = Builder { client, master, mappings, my_tags: 0, my_files: 0 };
        b.my_files = b.service(MY_FILES, 2, "my files")?;
        b.service(b"trash", 14, "trash")?;
        b.my_tags = b.service(MY_TAGS, 5, "my tags")?;
        b.service(b"downloader tags", 5, "downloader tags")?;
        Ok(b)
    }

    /// A service with its per-service tables (file domain: `current_files_N`; tag service:
    /// mappings, siblings, parents).
    pub fn service(&self, key: &[u8], kind: i64, name: &str) -> Result<i64> {
        self.client.execute(
            "INSERT INTO services (service_key, service_type, name, dictionary_string) VALUES (?1, ?2, ?3, '{}')",
            params![key, kind, name],
        )?;
        let id = self.client.last_insert_rowid();
        if kind == 5 || kind == 0 {
            self.mappings.execute_batch(&format!(
                "CREATE TABLE current_mappings_{id} (tag_id INTEGER, hash_id INTEGER, PRIMARY KEY (tag_id, hash_id)) WITHOUT ROWID;
                 CREATE TABLE deleted_mappings_{id} (tag_id INTEGER, hash_id INTEGER, PRIMARY KEY (tag_id, hash_id)) WITHOUT ROWID;
                 CREATE TABLE pending_mappings_{id} (tag_id INTEGER, hash_id INTEGER, PRIMARY KEY (tag_id, hash_id)) WITHOUT ROWID;"
            ))?;
            self.client.execute_batch(&format!(
                "CREATE TABLE current_tag_siblings_{id} (bad_tag_id INTEGER, good_tag_id INTEGER, PRIMARY KEY (bad_tag_id, good_tag_id));
                 CREATE TABLE current_tag_parents_{id} (child_tag_id INTEGER, parent_tag_id INTEGER, PRIMARY KEY (child_tag_id, parent_tag_id));"
            ))?;
        } else {
            self.client.execute_batch(&format!(
                "CREATE TABLE current_files_{id} (hash_id INTEGER PRIMARY KEY, timestamp_ms INTEGER);"
            ))?;
        }
        Ok(id)
    }

    /// A file Hydrus imported: its SHA-256, size and import time (ms) in "my files".
    pub fn file(&self, content: &[u8], imported_ms: i64) -> Result<i64> {
        let sha = trove_core::hash::sha256_bytes(content);
        self.master.execute("INSERT OR IGNORE INTO hashes (hash) VALUES (?1)", [&sha[..]])?;
        let id: i64 = self.master.query_row("SELECT hash_id FROM hashes WHERE hash = ?1", [&sha[..]], |r| r.get(0))?;
        self.client.execute(
            "INSERT OR REPLACE INTO files_info (hash_id, size, mime) VALUES (?1, ?2, 1)",
            params![id, content.len() as i64],
        )?;
        self.client.execute(
            &format!("INSERT OR REPLACE INTO current_files_{} VALUES (?1, ?2)", self.my_files),
            params![id, imported_ms],
        )?;
        Ok(id)
    }

    /// The tag id of `namespace:subtag` (or a bare subtag).
    pub fn tag(&self, text: &str) -> Result<i64> {
        let (ns, sub) = text.split_once(':').unwrap_or(("", text));
        self.master.execute("INSERT OR IGNORE INTO namespaces (namespace) VALUES (?1)", [ns])?;
        self.master.execute("INSERT OR IGNORE INTO subtags (subtag) VALUES (?1)", [sub])?;
        self.master.execute(
            "INSERT OR IGNORE INTO tags (namespace_id, subtag_id) SELECT n.namespace_id, s.subtag_id
             FROM namespaces n, subtags s WHERE n.namespace = ?1 AND s.subtag = ?2",
            params![ns, sub],
        )?;
        Ok(self.master.query_row(
            "SELECT t.tag_id FROM tags t JOIN namespaces n USING (namespace_id) JOIN subtags s USING (subtag_id)
             WHERE n.namespace = ?1 AND s.subtag = ?2",
            params![ns, sub],
            |r| r.get(0),
        )?)
    }

    pub fn map(&self, service: i64, file: i64, tag: &str) -> Result<()> {
        let t = self.tag(tag)?;
        self.mappings
            .execute(&format!("INSERT OR IGNORE INTO current_mappings_{service} VALUES (?1, ?2)"), params![t, file])?;
        Ok(())
    }

    pub fn sibling(&self, service: i64, bad: &str, good: &str) -> Result<()> {
        let (b, g) = (self.tag(bad)?, self.tag(good)?);
        self.client.execute(&format!("INSERT INTO current_tag_siblings_{service} VALUES (?1, ?2)"), params![b, g])?;
        Ok(())
    }

    pub fn parent(&self, service: i64, child: &str, parent: &str) -> Result<()> {
        let (c, p) = (self.tag(child)?, self.tag(parent)?);
        self.client.execute(&format!("INSERT INTO current_tag_parents_{service} VALUES (?1, ?2)"), params![c, p])?;
        Ok(())
    }
}
