//! The store: every line of SQL in trove lives under this module.
//!
//! Policy: WAL journal, foreign keys on, `synchronous = FULL` (a commit that returned is on
//! disk), a long busy timeout so concurrent writers queue instead of failing, and every
//! write in a `BEGIN IMMEDIATE` transaction taken through [`Index::write`]. Migrations are
//! numbered `.sql` files embedded in the binary; `PRAGMA user_version` holds the schema
//! version and `PRAGMA application_id` marks the file as ours. A file from a newer trove is
//! inspected read-only and refused, byte for byte untouched.

pub mod bulk;
pub mod dupes;
pub mod files;
pub mod find;
pub mod history;
pub mod keys;
pub mod links;
pub mod meta;
pub mod pools;
pub mod portable;
pub mod postings;
pub mod roots;
pub mod tags;
pub(crate) mod trigrams;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::{Error, Result, StoreError};

/// An open write transaction (`BEGIN IMMEDIATE`) on the index.
///
/// Every store function that changes the index takes one, and only [`Index::write`] can
/// make one, so a write can only happen inside a transaction that commits or rolls back as
/// a whole. It reads like a connection (it derefs to one), so a store read function can be
/// called inside the same transaction.
pub(crate) struct WriteTx<'c> {
    tx: Transaction<'c>,
    /// Perceptual hash values stored in this transaction, entered into the near pairs
    /// together before it commits ([`dupes::settle_near`]).
    near: std::cell::RefCell<Vec<u64>>,
}

impl<'c> WriteTx<'c> {
    fn new(tx: Transaction<'c>) -> WriteTx<'c> {
        WriteTx { tx, near: Default::default() }
    }

    /// Notes a perceptual hash value stored in this transaction.
    pub(crate) fn near_value(&self, v: u64) {
        self.near.borrow_mut().push(v);
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

/// "trov" in ASCII, stored in the SQLite header.
pub const APPLICATION_ID: i64 = 0x7472_6f76;

/// Migrations in order; entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_decimal_values.sql"),
    include_str!("migrations/0003_roots_auto_include.sql"),
    include_str!("migrations/0004_api_keys.sql"),
    include_str!("migrations/0005_sha256_file_ids.sql"),
    include_str!("migrations/0006_key_requests.sql"),
    include_str!("migrations/0007_file_meta.sql"),
    include_str!("migrations/0008_postings.sql"),
    include_str!("migrations/0009_dupes.sql"),
    include_str!("migrations/0010_history.sql"),
    include_str!("migrations/0011_similar_pairs.sql"),
    include_str!("migrations/0012_namespace_postings.sql"),
    include_str!("migrations/0013_meta_order_indexes.sql"),
    include_str!("migrations/0014_history_decisions.sql"),
    include_str!("migrations/0015_path_trigrams.sql"),
    include_str!("migrations/0016_dupe_potentials.sql"),
];

/// The version whose migration adds the last kind of posting list (8 the tags', 12 the
/// namespaces'); upgrading past it builds them all from the links ([`postings::rebuild`]).
const POSTINGS_VERSION: i64 = 12;

/// The version whose migration adds the trigram index on paths; upgrading past it builds
/// it from the paths ([`trigrams::rebuild`]).
const TRIGRAMS_VERSION: i64 = 15;

/// The version whose migration adds the operation log; writes are recorded from then on.
const HISTORY_VERSION: i64 = 10;

/// The version whose migration adds the stored near pairs of perceptual hashes; upgrading
/// past it builds them ([`dupes::rebuild_near`]).
const NEAR_VERSION: i64 = 11;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a writer waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether opening may create the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The index must exist (read commands): a missing file is [`StoreError::NoIndex`].
    Existing,
    /// Create the file and its directory when absent (write commands).
    Create,
}

/// An open index: one SQLite connection and the path it came from.
pub struct Index {
    conn: Connection,
    path: PathBuf,
    /// Opened without write permission: reads work, [`Index::write`] refuses.
    read_only: bool,
    /// A bulk load is running: posting lists are rebuilt once at its end, not per write.
    defer_postings: bool,
    /// Writes are recorded in the operation log (off while migrating, or when turned off
    /// for a throwaway index).
    history: bool,
    /// Who the next writes are and what they are for.
    label: history::Label,
    /// (device, inode) of the file opened: when the path names another file (a copy
    /// renamed over it, a restore by `cp` to a new inode), this connection must neither write
    /// nor checkpoint, because the `-wal` and `-shm` beside the path now serve that file.
    file_id: Option<(u64, u64)>,
    /// Checkpoint (and truncate the WAL) after each write: for long-lived processes.
    checkpoint_after_write: bool,
    /// The busy timeout set on the connection (restored after a checkpoint that must not wait).
    busy_timeout: std::cell::Cell<Duration>,
    /// A checkpoint is owed: this handle's writes may still be only in the log (a
    /// checkpoint after a write could not finish because a reader was using the log, or
    /// none was tried: a command checkpoints once, when it closes).
    wal_pending: bool,
}

/// (device, inode) of the file a path names, following symlinks as SQLite does.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Drop for Index {
    fn drop(&mut self) {
        hold(&self.path, -1);
        // Closing the last connection checkpoints into the file this connection has open
        // and deletes `-wal` and `-shm` by name. When the path now names another file, those
        // belong to it (and to the processes that have it open): leave them alone.
        if self.is_replaced() {
            let _ = self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        } else if self.wal_pending {
            // The last connection to close checkpoints anyway; when another process (a
            // watcher, the server) keeps the index open, this one's frames would otherwise
            // stay in the log until that process writes. Emptied now, the index file alone is
            // complete after every command, and a `-shm` left describing it tells its size
            // truly (see `shm_is_stale`).
            self.checkpoint();
        }
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("path", &self.path).finish()
    }
}

fn map_open_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store(match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnlyIndex { path: path.to_path_buf() },
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotAnIndex { path: path.to_path_buf() },
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull { path: path.to_path_buf() },
        _ => StoreError::Sqlite(e),
    })
}

/// Refuses a file that is not a trove index, or one from a newer trove, by reading its
/// header through the connection that will serve the command. Nothing has been written to
/// the file yet: the switch to WAL and the migrations come after this check. A hot rollback
/// journal (a crash while a new index was switched to WAL) is replayed by this first read
/// when the user may write the file, restoring the last committed state as any SQLite would.
fn check_header(path: &Path, c: &Connection) -> Result<()> {
    let app: i64 = c.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(|e| map_open_err(path, e))?;
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| map_open_err(path, e))?;
    let tables: i64 =
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).map_err(|e| map_open_err(path, e))?;
    if app != APPLICATION_ID && (app != 0 || tables > 0) {
        return Err(StoreError::NotAnIndex { path: path.to_path_buf() }.into());
    }
    if version > SCHEMA_VERSION {
        return Err(
            StoreError::NewerSchema { path: path.to_path_buf(), found: version, supported: SCHEMA_VERSION }.into()
        );
    }
    Ok(())
}

/// A read-only connection that can actually read. A WAL index needs its `-shm` file even
/// for reading; when this user can neither find nor create it (a directory they may not
/// write), the file is opened `immutable`: SQLite then reads the main file as it is, which
/// is safe for a short read-only command that shows what was last checkpointed.
fn readable(path: &Path, conn: Connection) -> Result<Connection> {
    // Without `-wal` and `-shm` the main file holds everything committed. Opening it
    // `immutable` then reads it exactly and creates no `-wal`/`-shm` owned by this user,
    // which would leave the index's owner unable to write it.
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        std::path::PathBuf::from(p).exists()
    };
    if !side("-wal") && !side("-shm") {
        drop(conn);
        return open_immutable(path);
    }
    let probe = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0));
    match probe {
        Ok(_) => return Ok(conn),
        Err(e)
            if !matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
            ) =>
        {
            return Err(map_open_err(path, e));
        }
        Err(_) => {}
    }
    drop(conn);
    open_immutable(path)
}

fn open_immutable(path: &Path) -> Result<Connection> {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    let c = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map_open_err(path, e))?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

/// How many `Index` handles this process has open, by index path: `shm_is_stale` must not
/// open the `-shm` while this process has a connection using it (closing that descriptor
/// would drop SQLite's POSIX locks on it, which belong to the process, not the descriptor).
static HELD: std::sync::Mutex<Vec<(PathBuf, usize)>> = std::sync::Mutex::new(Vec::new());

fn hold(path: &Path, delta: isize) {
    let mut held = HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match held.iter().position(|(p, _)| p == path) {
        Some(i) => {
            let n = held[i].1.saturating_add_signed(delta);
            if n == 0 {
                held.swap_remove(i);
            } else {
                held[i].1 = n;
            }
        }
        None if delta > 0 => held.push((path.to_path_buf(), delta.unsigned_abs())),
        None => {}
    }
}

/// Whether this process has a handle open on the index at `path`.
fn held_here(path: &Path) -> bool {
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|(p, n)| p == path && *n > 0)
}

/// How long `Index::open` waits for a process holding a replaced index to let go of it.
const REPLACED_WAIT: Duration = Duration::from_secs(10);

/// Whether the shared-memory file beside the index (`INDEX-shm`, SQLite's WAL index) still
/// describes another file: a copy was renamed over the index while a process (watcher,
/// server, mount) kept the old file open, and that process has not reopened yet. SQLite
/// trusts the page count in that header whenever the log is empty, so a connection opened now
/// would read the copy through the old file's size ("database disk image is malformed", or a
/// copy cut short) and a write could damage it.
///
/// The header layout is SQLite's documented WAL-index format (native byte order): two equal
/// 48-byte copies of the header, then `nBackfill`. When every frame of the log is in the
/// database (`mxFrame == nBackfill`, which is how trove's long-lived processes leave it after
/// each write), a checkpoint has cut the file to exactly `nPage` pages, so another size means
/// another file. Only a `-shm` some process is attached to counts (SQLite's "DMS" lock on
/// byte 128): an orphaned one is reset by the next connection. Anything unreadable or
/// unexpected answers "not stale", which is what SQLite would assume.
fn shm_is_stale(path: &Path) -> bool {
    use std::os::unix::fs::{FileExt, MetadataExt};
    // SQLite resolves symlinks and keeps `-shm` beside the real file.
    let path = &std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let Ok(f) = std::fs::File::open(&shm) else { return false };
    let mut h = [0u8; 104];
    if f.read_exact_at(&mut h, 0).is_err() || h[..48] != h[48..96] {
        return false;
    }
    let word = |at: usize| u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let (version, initialised) = (word(0), h[12]);
    let page_size = match u16::from_ne_bytes([h[14], h[15]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let (frames, pages, backfilled) = (word(16), word(20), word(96));
    if version != 3_007_000 || initialised == 0 || page_size == 0 || pages == 0 || frames != backfilled {
        return false;
    }
    let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else { return false };
    u64::from(pages) * page_size != len && f.metadata().is_ok_and(|m| shm_attached(m.dev(), m.ino()))
}

/// Whether some process holds a POSIX lock on byte 128 of this file (device, inode) —
/// SQLite's "DMS" lock, held shared by every connection attached to a `-shm` — from
/// `/proc/locks`: `ID: POSIX ADVISORY READ PID MAJ:MIN:INODE START END` (major and minor in
/// hex).
fn shm_attached(dev: u64, inode: u64) -> bool {
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else { return false };
    let this = format!("{:02x}:{:02x}:{inode}", rustix::fs::major(dev), rustix::fs::minor(dev));
    locks.lines().filter(|l| !l.contains("->")).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(file), Some(start), Some(end)) = (f.get(5), f.get(6), f.get(7)) else { return false };
        let same = |a: &str, b: &str| {
            let parts = |x: &str| {
                let mut p = x.split(':');
                let hex = |v: Option<&str>| v.and_then(|v| u64::from_str_radix(v, 16).ok());
                (hex(p.next()), hex(p.next()), p.next().and_then(|i| i.parse::<u64>().ok()))
            };
            parts(a) == parts(b)
        };
        let start = start.parse::<u64>().unwrap_or(u64::MAX);
        let covers = *end == "EOF" || end.parse::<u64>().is_ok_and(|e| e >= 128);
        f.get(1) == Some(&"POSIX") && same(file, &this) && start <= 128 && covers
    })
}

impl Index {
    /// Opens (or, with [`OpenMode::Create`], creates) the index at `path` and brings its
    /// schema up to date.
    ///
    /// A fresh index is created and switched to WAL under SQLite's locks; a second process
    /// doing the same at that moment can be told "busy" without waiting (SQLite refuses to
    /// wait where two lock upgrades would deadlock), so the whole open is retried until the
    /// busy timeout. An index this user may not write opens read-only.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Index> {
        if let Ok(m) = std::fs::metadata(path) {
            if m.is_dir() {
                return Err(
                    StoreError::IndexPath { path: path.to_path_buf(), reason: "it is a directory".into() }.into()
                );
            }
            if !m.is_file() {
                return Err(StoreError::IndexPath {
                    path: path.to_path_buf(),
                    reason: "it is not a regular file".into(),
                }
                .into());
            }
            // An empty file is a valid empty SQLite database; a read command must not turn it
            // into an index.
            if m.len() == 0 && mode == OpenMode::Existing {
                return Err(StoreError::NoIndex { path: path.to_path_buf() }.into());
            }
        }
        // access(2), not open(2): closing any descriptor of the index file drops every POSIX
        // lock this process holds on it, SQLite's included (a server opening one more pooled
        // connection lost its others' locks, and a command closing meanwhile took itself for
        // the last and deleted the log under them: "disk I/O error").
        if let Err(e) = rustix::fs::access(path, rustix::fs::Access::READ_OK).map_err(std::io::Error::from)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            let reason = format!("cannot be read ({})", crate::model::io_reason(&e));
            return Err(StoreError::IndexPath { path: path.to_path_buf(), reason }.into());
        }
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        // A file another process is creating this very moment can look like a foreign
        // SQLite file for an instant (seen 1 time in ~200 with two `include` runs on a new
        // index); a few short retries tell that apart from a file that really is not ours.
        let mut foreign_retries = 10;
        // A copy renamed over an index another process still has open: wait for that process
        // to let go (the watcher looks every second; see `shm_is_stale`).
        let waiting = std::time::Instant::now();
        while !held_here(path) && shm_is_stale(path) {
            if waiting.elapsed() >= REPLACED_WAIT {
                return Err(StoreError::IndexReplacedInUse { path: path.to_path_buf() }.into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        loop {
            match Self::open_once(path, mode) {
                Err(Error::Store(StoreError::NotAnIndex { .. })) if foreign_retries > 0 => {
                    foreign_retries -= 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(Error::Store(StoreError::Sqlite(e)))
                    if matches!(
                        e.sqlite_error_code(),
                        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path, mode: OpenMode) -> Result<Index> {
        let exists = path.exists();
        if !exists {
            if mode == OpenMode::Existing {
                return Err(StoreError::NoIndex { path: path.to_path_buf() }.into());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        // One connection for the whole command: it checks the header, migrates, and serves.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| map_open_err(path, e))?;
        let file_id = file_identity(path);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Closing checkpoints and removes the WAL, so a closed index is one self-contained
        // file that `cp` can copy or restore. Keeping the WAL between commands
        // (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE) would save two fsyncs of a one-file tag, but an
        // index file restored over a closed index would then be paired with the old `-wal`
        // (seen: the restore undone, or pages of two databases mixed).
        // SQLite opens a file it may not write read-only, silently.
        let read_only = conn.is_readonly(rusqlite::MAIN_DB)?;
        let conn = if read_only { readable(path, conn)? } else { conn };
        if exists {
            check_header(path, &conn)?;
        }
        find::register_functions(&conn)?;
        rusqlite::vtab::array::load_module(&conn)?;
        if !read_only {
            // journal_mode needs a lock too; the busy timeout (and `open`'s retry) covers it.
            let _: String =
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| map_open_err(path, e))?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            .map_err(|e| map_open_err(path, e))?;
        let mut index = Index {
            conn,
            path: path.to_path_buf(),
            read_only,
            defer_postings: false,
            history: false,
            label: history::Label::default(),
            file_id,
            checkpoint_after_write: false,
            busy_timeout: std::cell::Cell::new(BUSY_TIMEOUT),
            wal_pending: false,
        };
        hold(&index.path, 1);
        index.migrate()?;
        index.history = SCHEMA_VERSION >= HISTORY_VERSION;
        Ok(index)
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let current: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        if self.read_only {
            // An older schema needs upgrading, which needs writing.
            return Err(StoreError::ReadOnlyIndex { path }.into());
        }
        self.write(|tx| {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let v: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if v > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema { path: path.clone(), found: v, supported: SCHEMA_VERSION }.into());
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(v).unwrap_or(0)) {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", i as i64 + 1)?;
            }
            if v < POSTINGS_VERSION {
                // Builds the trigram index too.
                postings::rebuild(tx)?;
            } else if v < TRIGRAMS_VERSION {
                trigrams::rebuild(tx)?;
            }
            if v < NEAR_VERSION {
                dupes::rebuild_near(tx)?;
            }
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            Ok(())
        })
    }

    /// How long this connection waits for another writer before a write fails as busy
    /// (60 s by default; a server answering HTTP wants less).
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<()> {
        self.busy_timeout.set(wait);
        Ok(self.conn.busy_timeout(wait)?)
    }

    /// For a long-lived reader (a mount): SQLite keeps up to `cache_mib` MiB of pages on
    /// this connection and reads the file through a memory map of up to `mmap_mib` MiB
    /// (no copy of each page into the cache; the pages stay the kernel's, shared and
    /// reclaimable). Applies to this connection only: call it again after [`Index::reopen`].
    pub fn set_read_memory(&self, cache_mib: u32, mmap_mib: u32) -> Result<()> {
        self.conn.execute_batch(&format!(
            "PRAGMA cache_size = -{}; PRAGMA mmap_size = {};",
            u64::from(cache_mib) * 1024,
            u64::from(mmap_mib) << 20
        ))?;
        Ok(())
    }

    /// Turns off the fsync at each commit on this connection (`PRAGMA synchronous = OFF`),
    /// for tests and throwaway indexes: a crash of the process still loses nothing (WAL), a
    /// power cut may lose the last commits. Never used by the CLI.
    pub fn trade_durability_for_speed(&self) -> Result<()> {
        Ok(self.conn.execute_batch("PRAGMA synchronous = OFF")?)
    }

    /// Whether this index was opened read-only (this user may not write it).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Where this index lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads inside trove-core (other crates read through `ops`).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: all of it is stored, or none.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        if self.read_only {
            return Err(StoreError::ReadOnlyIndex { path }.into());
        }
        let full = |e: Error| match e {
            Error::Store(StoreError::Sqlite(ref s)) if s.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) => {
                StoreError::DiskFull { path: path.clone() }.into()
            }
            Error::Store(StoreError::Sqlite(ref s)) if s.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) => {
                StoreError::ReadOnlyIndex { path: path.clone() }.into()
            }
            e => e,
        };
        if self.is_replaced() {
            return Err(StoreError::IndexReplaced { path }.into());
        }
        let (out, op, kept) = {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| full(e.into()))?;
            // Again under the write lock: a file renamed over the index shares its `-wal`, so a
            // commit from here would land in the other file's log.
            if file_identity(&path) != self.file_id {
                drop(tx);
                return Err(StoreError::IndexReplaced { path }.into());
            }
            let tx = WriteTx::new(tx);
            // The operation row comes first: the history triggers stamp every change with it.
            let op = if self.history { Some(history::begin(&tx, &self.label).map_err(full)?) } else { None };
            let out = f(&tx).map_err(full)?;
            // The near pairs of the perceptual hashes stored, all at once.
            let values = tx.near.take();
            dupes::settle_near(&tx, values).map_err(full)?;
            // The posting lists change with the links, in this same transaction.
            postings::flush(&tx, self.defer_postings).map_err(full)?;
            let kept = match op {
                Some(op) => history::end(&tx, op).map_err(full)?,
                None => false,
            };
            tx.tx.commit().map_err(|e| full(e.into()))?;
            (out, op, kept)
        };
        if let Some(op) = op.filter(|_| kept) {
            self.label.committed(op);
        }
        self.wal_pending = !self.checkpoint_after_write || !self.checkpoint();
        Ok(out)
    }

    /// Names the writes that follow, until the next call: `actor` is who (`cli`, `watch`,
    /// `api:<key>`, `import:<tool>`, `rule:<name>`), `summary` what (the CLI passes its
    /// command line). The writes from here to the next call are one operation in the log
    /// (one group: `trove undo` reverts them together), however many transactions they
    /// take. Without a call, each transaction is its own operation by `trove`.
    pub fn set_operation(&mut self, actor: &str, summary: &str) {
        self.label = history::Label::new(actor, summary);
    }

    /// Names who makes the writes that follow, each transaction its own operation (a
    /// long-running writer: a mount, a daemon between its batches).
    pub fn set_actor(&mut self, actor: &str) {
        self.label = history::Label::ungrouped(actor);
    }

    /// The operation (group) id of the writes made since [`Index::set_operation`], once
    /// one of them changed something.
    pub fn current_operation(&self) -> Option<i64> {
        self.label.group()
    }

    /// Stops (or resumes) recording writes in the operation log on this connection: for
    /// generating throwaway benchmark libraries and measuring the cost of history. Never
    /// used by the CLI; what is written meanwhile cannot be undone or looked at with `--at`.
    pub fn record_history(&mut self, on: bool) {
        self.history = on && SCHEMA_VERSION >= HISTORY_VERSION;
    }

    /// Whether the index path now names another file than the one this connection has
    /// open (deleted, or replaced by a copy renamed over it). Such a handle refuses to write
    /// ([`StoreError::IndexReplaced`]); a long-lived process opens the index again.
    pub fn is_replaced(&self) -> bool {
        self.file_id.is_some() && file_identity(&self.path) != self.file_id
    }

    /// Opens the index file at this index's path again, after [`Index::is_replaced`]: the
    /// connection to the old file is closed first (without a checkpoint), because SQLite's
    /// locks on `-shm` belong to the process, and closing a second handle on that file later
    /// would drop the new connection's locks with it. Every other handle this process has on
    /// the old file must be closed before this is called. Settings made on this handle carry
    /// over. On failure the handle is unusable (only dropped).
    pub fn reopen(&mut self) -> Result<()> {
        let _ = self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        let old = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        drop(old);
        let mut fresh = Index::open(&self.path, OpenMode::Existing)?;
        fresh.checkpoint_after_write = self.checkpoint_after_write;
        fresh.set_busy_timeout(self.busy_timeout.get())?;
        fresh.defer_postings = self.defer_postings;
        fresh.history = self.history;
        fresh.label = self.label.restarted();
        *self = fresh;
        Ok(())
    }

    /// For processes that keep the index open for long (the watcher, the server, a writable
    /// mount): after each write, move the WAL into the index file and truncate it, so that
    /// between writes the index file alone is complete. Then a copy of it is a backup, and a
    /// file renamed over it is not paired with this process's log.
    pub fn set_checkpoint_after_write(&mut self, on: bool) {
        self.checkpoint_after_write = on;
    }

    /// Finishes a checkpoint that a write left undone because a reader was using the log;
    /// long-lived processes call it when idle. Returns whether the log is now empty.
    pub fn settle_wal(&mut self) -> bool {
        if self.wal_pending {
            self.wal_pending = !self.checkpoint();
        }
        !self.wal_pending
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)` without waiting; whether it emptied the log (not
    /// when a reader still uses it: then [`Index::settle_wal`] tries again later).
    fn checkpoint(&self) -> bool {
        if self.is_replaced() {
            return true;
        }
        let _ = self.conn.busy_timeout(Duration::ZERO);
        // (busy, pages in the log, pages moved): busy is 0 when the log was reset.
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
            .is_ok_and(|busy| busy == 0);
        let _ = self.conn.busy_timeout(self.busy_timeout.get());
        done
    }

    /// Writes a complete, compacted copy of the index to `dest` (SQLite's `VACUUM INTO`),
    /// consistent as of one moment even while other processes write. This is the way to
    /// copy an index that is open: until a commit is checkpointed it is only in the `-wal`
    /// file beside the index (a closed index is one file; see [`Index::restore`] to put a
    /// copy back).
    pub fn backup(&self, dest: &Path) -> Result<()> {
        if std::fs::symlink_metadata(dest).is_ok() {
            return Err(Error::DestinationExists(dest.to_path_buf()));
        }
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        }
        // The name goes in as bytes (a non-UTF-8 path is a valid SQLite file name).
        let name = dest.as_os_str().as_encoded_bytes();
        self.conn.execute("VACUUM INTO CAST(?1 AS TEXT)", [name]).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull { path: dest.to_path_buf() }.into(),
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly) => Error::Io {
                path: dest.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
            _ => StoreError::Sqlite(e).into(),
        })?;
        Ok(())
    }

    /// Replaces the whole content of this index with the copy at `src` (made by
    /// [`Index::backup`], or any index file), through SQLite's backup API: under the
    /// index's own locks, in one step, so every process that has the index open (the
    /// watcher, the server, a mount) sees either the old or the restored index, never a mix,
    /// and no `-wal` is left to pair with the wrong file, as renaming or copying a file over
    /// an open index can. The index as it was is first written to `keep` (a new file), so a
    /// restore is undone by restoring `keep`. A copy with an older schema is upgraded.
    pub fn restore(&mut self, src: &Path, keep: &Path) -> Result<()> {
        let bad = |reason: String| Error::from(StoreError::BadBackup { path: src.to_path_buf(), reason });
        let meta = std::fs::metadata(src).map_err(|e| Error::io(src, e))?;
        if !meta.is_file() {
            return Err(bad("it is not a regular file".into()));
        }
        if file_identity(src) == self.file_id {
            return Err(bad("it is the index itself".into()));
        }
        if self.read_only {
            return Err(StoreError::ReadOnlyIndex { path: self.path.clone() }.into());
        }
        let copy = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| bad(e.to_string()))?;
        match check_header(src, &copy) {
            Ok(()) => {}
            Err(Error::Store(StoreError::NotAnIndex { .. })) => return Err(bad("not a trove index".into())),
            Err(e @ Error::Store(StoreError::NewerSchema { .. })) => return Err(e),
            Err(e) => return Err(bad(format!("damaged: {e}"))),
        }
        let version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| bad(e.to_string()))?;
        if version == 0 {
            return Err(bad("an empty database".into()));
        }
        let problems: Vec<String> = {
            let mut st = copy.prepare("PRAGMA integrity_check").map_err(|e| bad(e.to_string()))?;
            st.query_map([], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(|e| bad(e.to_string()))?
        };
        if problems.len() != 1 || problems[0] != "ok" {
            return Err(bad(format!("damaged: {}", problems.join("; "))));
        }
        self.backup(keep)?;
        {
            let backup = rusqlite::backup::Backup::new(&copy, &mut self.conn)?;
            // All pages in one step: one write transaction on the index. Another writer
            // holding the lock past the busy timeout makes it busy, as any write.
            let deadline = std::time::Instant::now() + self.busy_timeout.get();
            loop {
                let step = backup.step(-1).map_err(|e| match e.sqlite_error_code() {
                    Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull { path: self.path.clone() }.into(),
                    Some(rusqlite::ErrorCode::DatabaseCorrupt) => bad(format!("damaged: {e}")),
                    _ => StoreError::Sqlite(e).into(),
                })?;
                match step {
                    rusqlite::backup::StepResult::Done => break,
                    _ if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                    _ => {
                        return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            None,
                        ))
                        .into());
                    }
                }
            }
        }
        // A backup with an older schema is upgraded (unrecorded, as at open).
        let history = std::mem::replace(&mut self.history, false);
        let migrated = self.migrate();
        self.history = history;
        migrated?;
        // The restored file has its own operation log, as of the backup.
        self.label = self.label.restarted();
        if self.checkpoint_after_write {
            self.wal_pending = !self.checkpoint();
        }
        Ok(())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction that is always rolled back: a dry run
    /// does the real work and stores nothing.
    pub(crate) fn dry_run<T>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T>) -> Result<T> {
        let tx = WriteTx::new(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?);
        let out = f(&tx);
        tx.tx.rollback()?;
        out
    }

    /// While on, writes leave the posting lists for one rebuild, done by the first write
    /// after it is switched off again. Queries meanwhile use plain SQL.
    pub(crate) fn defer_postings(&mut self, on: bool) {
        self.defer_postings = on;
    }

    /// `PRAGMA integrity_check`: `None` when the file is sound, else SQLite's findings.
    pub fn integrity_problems(&self) -> Result<Option<Vec<String>>> {
        let mut st = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        if rows.len() == 1 && rows[0] == "ok" { Ok(None) } else { Ok(Some(rows)) }
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Counts for `trove stats`.
    pub fn stats(&self) -> Result<Stats> {
        let c = &self.conn;
        let one = |sql: &str| -> Result<u64> { Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
        let page_count = one("PRAGMA page_count")?;
        let page_size = one("PRAGMA page_size")?;
        Ok(Stats {
            files: one("SELECT count(*) FROM files")?,
            missing: one("SELECT count(*) FROM files WHERE state = 1")?,
            untagged: one(
                "SELECT count(*) FROM files f WHERE NOT EXISTS (SELECT 1 FROM file_tags t WHERE t.file_id = f.id)",
            )?,
            total_bytes: one("SELECT coalesce(sum(size), 0) FROM files WHERE state <> 1")?,
            tags: one("SELECT count(*) FROM tags")?,
            names: one("SELECT count(*) FROM tag_names")?,
            links: one("SELECT count(*) FROM file_tags")?,
            implications: one("SELECT count(*) FROM implications")?,
            pools: one("SELECT count(*) FROM pools")?,
            schema_version: self.schema_version()?,
            index_bytes: page_count * page_size,
        })
    }
}

/// What `trove stats` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// File records, in every state.
    pub files: u64,
    /// Records whose file is missing.
    pub missing: u64,
    /// Records with no tag link.
    pub untagged: u64,
    /// Sum of the sizes of the records that are not missing, in bytes.
    pub total_bytes: u64,
    /// Tags.
    pub tags: u64,
    /// Tag names, primary names and aliases together.
    pub names: u64,
    /// Tag links (one per tag, file and source).
    pub links: u64,
    /// Declared implications (direct ones; the closure is not counted).
    pub implications: u64,
    /// Pools.
    pub pools: u64,
    /// The schema version stored in the file.
    pub schema_version: i64,
    /// The index file's size (pages × page size), WAL not included.
    pub index_bytes: u64,
}

/// A fresh 32-byte universal id from the OS random source.
pub(crate) fn random_uid() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_reopens() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/index.db");
        assert!(matches!(Index::open(&p, OpenMode::Existing), Err(Error::Store(StoreError::NoIndex { .. }))));
        let i = Index::open(&p, OpenMode::Create).unwrap();
        assert_eq!(i.schema_version().unwrap(), SCHEMA_VERSION);
        drop(i);
        let i = Index::open(&p, OpenMode::Existing).unwrap();
        assert!(i.integrity_problems().unwrap().is_none());
    }

    #[test]
    fn refuses_a_file_that_is_not_an_index() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.txt");
        std::fs::write(&p, b"hello, this is not sqlite at all, just some text padding it out").unwrap();
        assert!(matches!(Index::open(&p, OpenMode::Create), Err(Error::Store(StoreError::NotAnIndex { .. }))));
        let q = d.path().join("other.db");
        let c = Connection::open(&q).unwrap();
        c.execute_batch("CREATE TABLE x (a)").unwrap();
        drop(c);
        assert!(matches!(Index::open(&q, OpenMode::Create), Err(Error::Store(StoreError::NotAnIndex { .. }))));
    }
}
