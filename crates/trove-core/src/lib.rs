//! trove-core: the index, the tag model, the query language and every operation.
//!
//! Policy: this crate never talks to the user (no printing, no exiting, no environment
//! lookups). Paths and settings come in as arguments; results and warnings go out as values.
//! Every mutation goes through [`ops`] in one transaction, so the CLI, a daemon and a web
//! server share a single writer path.
//!
//! That path is enforced by the compiler, not by convention: the `store` module (every SQL
//! statement) is private to this crate, its write functions take a write transaction that
//! only the index's own `write` can open, and the raw connection is private too. Another
//! crate can read and write only through [`ops`]:
//!
//! ```compile_fail,E0603
//! // A store write function is out of reach from another crate.
//! fn sneak(index: &trove_core::Index) {
//!     trove_core::store::files::set_state(index.conn(), trove_core::FileId(1), trove_core::FileState::Missing);
//! }
//! ```
//!
//! ```compile_fail,E0624
//! // So is the connection, and with it raw SQL.
//! fn sneak(index: &trove_core::Index) {
//!     index.conn().execute("DELETE FROM file_tags", []).unwrap();
//! }
//! ```
//!
//! ```compile_fail,E0624
//! // And so is a write transaction.
//! fn sneak(index: &mut trove_core::Index) {
//!     index.write(|tx| Ok(tx.execute("DELETE FROM file_tags", [])?)).unwrap();
//! }
//! ```
//!
//! The same calls through `ops` compile:
//!
//! ```no_run
//! # fn main() -> trove_core::Result<()> {
//! let mut index = trove_core::Index::open(std::path::Path::new("/tmp/i.db"), trove_core::OpenMode::Create)?;
//! let files = trove_core::ops::find::find(&index, "cat")?;
//! trove_core::ops::tags::create(&mut index, "dog")?;
//! # let _ = files; Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod filter;
pub mod hash;
pub mod meta;
pub mod model;
pub mod ops;
pub mod paths;
pub mod query;
pub mod similar;
pub(crate) mod store;

pub use model::{FileId, FileRecord, FileState, Hash, PoolId, Source, Stat, Tag, TagId, TagName};
pub use store::{Index, OpenMode, SCHEMA_VERSION};

use std::path::PathBuf;

/// Everything that can go wrong in trove-core. Paths and the offending values live in
/// fields, not in strings; messages name no command-line flag (the CLI adds its hints).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("index error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "{}: the disk is full; the change in progress was not stored and the index is intact (what was reported done before it is kept)",
        path.display()
    )]
    DiskFull { path: PathBuf },
    #[error("{}: no index here yet", path.display())]
    NoIndex { path: PathBuf },
    #[error("{}: not a trove index", path.display())]
    NotAnIndex { path: PathBuf },
    #[error("{}: cannot be used as the index: {reason}", path.display())]
    IndexPath { path: PathBuf, reason: String },
    #[error("{}: the index is read-only for this user; reading works, changing it does not", path.display())]
    ReadOnlyIndex { path: PathBuf },
    #[error(
        "{}: written by a newer trove (schema version {found}; this trove knows up to {supported}); left untouched",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("{name:?}: {reason}")]
    BadTagName { name: String, reason: &'static str },
    #[error("{0:?}: not a source (expected manual, mount, rule:NAME, import:TOOL or api:CLIENT)")]
    BadSource(String),
    #[error("{0}: no such tag")]
    UnknownTag(String),
    #[error("{name}: the name already belongs to the tag {owner}")]
    NameTaken { name: String, owner: String },
    #[error("{child} ⇒ {parent} would make a cycle ({parent} already implies {child})")]
    ImplicationCycle { child: String, parent: String },
    #[error("{0}: a tag cannot imply itself (its names and aliases all name one tag)")]
    SelfImplication(String),
    #[error("{name}: carried by {files} file(s); deleting it would remove those links too")]
    TagInUse { name: String, files: u64 },
    #[error("{0}")]
    Query(#[from] query::ParseError),
    #[error("{0}")]
    QueryMeaning(#[from] query::QueryMeaning),
    #[error("{}: not in the index", .0.display())]
    NotIndexed(PathBuf),
    #[error("{}: no such file", .0.display())]
    NoSuchFile(PathBuf),
    #[error("{}: is a directory", .0.display())]
    IsDirectory(PathBuf),
    #[error("{}: not a regular file ({kind})", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{}: changed while it was being read; try again", .0.display())]
    ChangedWhileHashing(PathBuf),
    #[error("{0}: no such pool")]
    UnknownPool(String),
    #[error("{0}: a pool with this title exists")]
    PoolExists(String),
    #[error("{}: already exists", .0.display())]
    DestinationExists(PathBuf),
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{}: cannot move a directory into itself", .0.display())]
    IntoItself(PathBuf),
    #[error("{}: the copy does not match the original; the original was kept", .0.display())]
    CopyMismatch(PathBuf),
    #[error("{}: trove's own index file; it is never indexed", .0.display())]
    OwnFile(PathBuf),
    #[error("{}: on a pseudo filesystem ({fs}), which holds no real files; skipped", path.display())]
    PseudoFs { path: PathBuf, fs: &'static str },
    /// A stored posting list (a query bitmap) does not decode; the links are intact.
    #[error(
        "the index's posting lists are damaged ({reason}); the links are intact and `trove check --repair` rebuilds them"
    )]
    DamagedPostings { reason: String },
    #[error("{}: no such file id", .0.0)]
    NoSuchId(FileId),
    #[error("op {0}: no such operation")]
    UnknownOp(i64),
    #[error("nothing to undo: the operation log is empty")]
    NothingToUndo,
    #[error(
        "op {op}: cannot be undone, {} row(s) were changed again later: {}",
        conflicts.len(),
        conflicts.iter().take(5).map(|c| c.to_string()).collect::<Vec<_>>().join("; ")
    )]
    UndoConflict { op: i64, conflicts: Vec<ops::history::Conflict> },
    #[error("op {op}: older than the history kept (pruned up to op {pruned})")]
    HistoryPruned { op: i64, pruned: i64 },
    #[error("{at}: before the history starts (unix time {started}: the index was created or upgraded then)")]
    HistoryStartsLater { at: i64, started: i64 },
    #[error("{}: not a root", .0.display())]
    NotARoot(PathBuf),
    #[error("{}: already a root", .0.display())]
    AlreadyARoot(PathBuf),
    #[error("{}: source and destination are the same", .0.display())]
    SameSourceAndDestination(PathBuf),
    #[error("{}: is a directory; a file cannot replace it", .0.display())]
    WouldReplaceDirectory(PathBuf),
    #[error("{}: cannot move this path", .0.display())]
    CannotMove(PathBuf),
    #[error("{pattern}: {reason}")]
    BadBackupPattern { pattern: String, reason: &'static str },
    #[error("{pattern:?}: not an ignore pattern ({reason})")]
    BadIgnorePattern { pattern: String, reason: String },
    #[error("{0:?}: not a usable pool title")]
    BadPoolTitle(String),
    #[error("{name:?}: {reason}")]
    BadKeyName { name: String, reason: &'static str },
    #[error("{0}: a key with this name exists; remove it first")]
    KeyExists(String),
    #[error("{0}: is the primary name; rename the tag instead")]
    AliasIsPrimary(String),
    #[error("{from} and {into} are already the same tag")]
    AlreadySameTag { from: String, into: String },
    #[error("merging would make {tag} imply itself through its implications; remove one of them first")]
    MergeMakesCycle { tag: String },
    #[error("{}: {reason}", path.display())]
    BadSourceFile { path: PathBuf, reason: String },
    #[error("this needs {needed} files or more; {given} given")]
    NotEnoughFiles { needed: usize, given: usize },
    #[error("{max} key requests already wait for approval")]
    TooManyKeyRequests { max: u64 },
    #[error("HOME is not set, so there is no default {what}: name it")]
    NoDefaultPath { what: &'static str },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("{}: the index file was deleted", path.display())]
    IndexDeleted { path: PathBuf },
    #[error("{}: the index file was replaced (or deleted) while this process had it open; nothing was written", path.display())]
    IndexReplaced { path: PathBuf },
    #[error("{}: not a sound copy of an index ({reason}); the index was not changed", path.display())]
    BadBackup { path: PathBuf, reason: String },
}

impl Error {
    /// Whether the index was locked by another writer for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Sqlite(e) if matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        ))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
