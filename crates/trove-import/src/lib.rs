//! trove-import: readers that turn another tool's library into trove's neutral
//! [`Library`](trove_core::ops::import::Library), and trove's own JSON format both ways.
//!
//! Readers only read: SQLite sources are opened read-only (`mode=ro`), nothing next to the
//! source is written. What a reader cannot map goes into its notes, one line each; the
//! writing itself is trove-core's `ops::import::apply`.

#![forbid(unsafe_code)]

pub mod awtfdb;
pub mod filetags;
pub mod hydrus;
pub mod json;
pub mod tagstudio;
pub mod tmsu;

use std::path::Path;

pub use trove_core::ops::import::{LibFile, LibLink, LibPool, LibRecord, LibTag, Library};

/// A source read into a library, with what could not be mapped.
#[derive(Debug, Default)]
pub struct Read {
    pub library: Library,
    /// Everything left out or changed on the way, for the user.
    pub notes: Vec<String>,
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

pub(crate) fn invalid(path: &Path, what: impl std::fmt::Display) -> trove_core::Error {
    trove_core::Error::BadSourceFile { path: path.to_path_buf(), reason: what.to_string() }
}

/// A SQLite source opened read-only. When the source has a write-ahead log (its tool is
/// running, or was not closed cleanly), the database and its log are copied to a temporary
/// directory and the copy is read: even a read-only reader of a WAL database writes its
/// `-shm` file. Without a log, the file is opened `immutable`, which creates nothing.
pub struct Source {
    pub conn: rusqlite::Connection,
    _copy: Option<TempDir>,
}

/// A temporary directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uri_of(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(suffix);
    std::path::PathBuf::from(p)
}

/// Opens a SQLite source without writing anything next to it (see [`Source`]).
pub(crate) fn open_sqlite_ro(path: &Path) -> trove_core::Result<Source> {
    use rusqlite::OpenFlags;
    let io = |p: &Path, e: std::io::Error| trove_core::Error::Io { path: p.to_path_buf(), source: e };
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_file() {
        return Err(invalid(path, "not a regular file"));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let wal = sidecar(path, "-wal");
    let (uri, copy) = if wal.exists() {
        let dir =
            std::env::temp_dir().join(format!("trove-import-{}-{}", std::process::id(), trove_core::model::now_unix()));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let guard = TempDir(dir.clone());
        let db = dir.join("source.db");
        std::fs::copy(path, &db).map_err(|e| io(path, e))?;
        std::fs::copy(&wal, sidecar(&db, "-wal")).map_err(|e| io(&wal, e))?;
        (uri_of(&db), Some(guard))
    } else {
        (format!("{}?immutable=1", uri_of(path)), None)
    };
    let conn = rusqlite::Connection::open_with_flags(&uri, flags)
        .map_err(|e| invalid(path, format!("cannot be opened as SQLite ({e})")))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| invalid(path, format!("not a readable SQLite database ({e})")))?;
    Ok(Source { conn, _copy: copy })
}
