//! The shapes of failure: one error type per subsystem, each holding the path and the
//! offending value in fields.
//!
//! - [`StoreError`]: the index file itself (opening, SQLite, disk full, replaced, restored).
//! - [`crate::query::ParseError`] and [`crate::query::QueryMeaning`]: the query language.
//! - [`Error`]: the operations (`ops`), which wrap the two above and add their own kinds
//!   (a path not indexed, an unknown tag, a move refused, …).
//!
//! Messages name no command-line flag; the CLI adds its hints (crates/trove-cli/src/ctx.rs).

use std::path::PathBuf;

use crate::{FileId, ops, query};

/// What went wrong with the index file itself: opening it, SQLite, the disk, the file
/// being replaced under a long-lived process. Reached through [`Error::Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused a statement: a locked index past the busy timeout ([`StoreError::is_busy`]),
    /// a damaged file, or a bug in a statement.
    #[error("index error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// SQLite ran out of disk space while writing the index; the transaction in progress was
    /// rolled back, so only what was committed before it is stored.
    #[error(
        "{}: the disk is full; the change in progress was not stored and the index is intact (what was reported done before it is kept)",
        path.display()
    )]
    DiskFull {
        /// The index file.
        path: PathBuf,
    },
    /// The index file does not exist (or is empty) and the index was opened with
    /// [`crate::OpenMode::Existing`].
    #[error("{}: no index here yet", path.display())]
    NoIndex {
        /// Where the index was expected.
        path: PathBuf,
    },
    /// The file exists but is not a SQLite database written by trove.
    #[error("{}: not a trove index", path.display())]
    NotAnIndex {
        /// The file that was opened as the index.
        path: PathBuf,
    },
    /// The path given for the index cannot hold one (a directory, not a regular file,
    /// unreadable).
    #[error("{}: cannot be used as the index: {reason}", path.display())]
    IndexPath {
        /// The path given for the index.
        path: PathBuf,
        /// Why it cannot be used, e.g. "it is a directory".
        reason: String,
    },
    /// A change was asked of an index this user may only read.
    #[error("{}: the index is read-only for this user; reading works, changing it does not", path.display())]
    ReadOnlyIndex {
        /// The index file.
        path: PathBuf,
    },
    /// The index was written by a newer trove; it is left untouched rather than migrated down.
    #[error(
        "{}: written by a newer trove (schema version {found}; this trove knows up to {supported}); left untouched",
        path.display()
    )]
    NewerSchema {
        /// The index file.
        path: PathBuf,
        /// The schema version stored in the index.
        found: i64,
        /// The newest schema version this build knows ([`crate::SCHEMA_VERSION`]).
        supported: i64,
    },
    /// A stored posting list (a query bitmap) does not decode; the links are intact.
    #[error(
        "the index's posting lists are damaged ({reason}); the links are intact and `trove check --repair` rebuilds them"
    )]
    DamagedPostings {
        /// What failed to decode, for the report.
        reason: String,
    },
    /// The index file was deleted while a long-lived process (the watcher) had it open.
    #[error("{}: the index file was deleted", path.display())]
    IndexDeleted {
        /// The index file.
        path: PathBuf,
    },
    /// The index file at the path is no longer the one this process opened (its inode
    /// changed); writing was refused so the new file is not corrupted.
    #[error("{}: the index file was replaced (or deleted) while this process had it open; nothing was written", path.display())]
    IndexReplaced {
        /// The index file.
        path: PathBuf,
    },
    /// The index file was replaced (a copy renamed over it) while another process still has
    /// the old file open, and the shared-memory file beside the index still describes the
    /// old file; reading now would read the new file through the old one's size. Nothing
    /// was read or written.
    #[error(
        "{}: the index file was replaced while another process (a watcher, `trove serve` or a mount) still has the old one open, and it has not let go of it yet; nothing was read or written",
        path.display()
    )]
    IndexReplacedInUse {
        /// The index file.
        path: PathBuf,
    },
    /// A file given to restore from is not a sound index copy; the index was left as it was.
    #[error("{}: not a sound copy of an index ({reason}); the index was not changed", path.display())]
    BadBackup {
        /// The file given as the backup.
        path: PathBuf,
        /// What is wrong with it (not SQLite, failed integrity check, newer schema, …).
        reason: String,
    },
}

impl StoreError {
    /// Whether the index was locked by another writer for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(e) if matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        ))
    }
}

/// Everything that can go wrong in an operation of trove-core. Paths and the offending
/// values live in fields, not in strings; messages name no command-line flag (the CLI adds
/// its hints).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index file itself failed: see [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a file or directory failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A tag name or alias breaks the naming rules (empty once trimmed and normalised, or
    /// holding control characters).
    #[error("{name:?}: {reason}")]
    BadTagName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A provenance string does not parse as a [`crate::Source`]; holds the string as given.
    #[error("{0:?}: not a source (expected manual, mount, rule:NAME, import:TOOL or api:CLIENT)")]
    BadSource(String),
    /// No tag has this name or alias; holds the name as given.
    #[error("{0}: no such tag")]
    UnknownTag(String),
    /// A new name or alias is already a name of another tag (names are unique across tags).
    #[error("{name}: the name already belongs to the tag {owner}")]
    NameTaken {
        /// The name that was asked for.
        name: String,
        /// The primary name of the tag that already has it.
        owner: String,
    },
    /// Adding `child ⇒ parent` would close a loop in the implication graph.
    #[error("{child} ⇒ {parent} would make a cycle ({parent} already implies {child})")]
    ImplicationCycle {
        /// The tag that would imply `parent`.
        child: String,
        /// The tag that would be implied, which already implies `child`.
        parent: String,
    },
    /// Both sides of an implication name the same tag; holds the name as given.
    #[error("{0}: a tag cannot imply itself (its names and aliases all name one tag)")]
    SelfImplication(String),
    /// A tag still on files was asked to be deleted without forcing it.
    #[error("{name}: carried by {files} file(s); deleting it would remove those links too")]
    TagInUse {
        /// The tag's primary name.
        name: String,
        /// How many files carry it directly.
        files: u64,
    },
    /// A query does not parse; the error carries the byte offset of the problem.
    #[error("{0}")]
    Query(#[from] query::ParseError),
    /// A query parses but asks for something that has no meaning (an unknown sort key, a
    /// nested modifier, a bad cursor).
    #[error("{0}")]
    QueryMeaning(#[from] query::QueryMeaning),
    /// The path names no record in the index (live or missing).
    #[error("{}: not in the index", .0.display())]
    NotIndexed(PathBuf),
    /// The path does not exist on disk.
    #[error("{}: no such file", .0.display())]
    NoSuchFile(PathBuf),
    /// A file was expected but the path is a directory (directories are only walked with
    /// recursion).
    #[error("{}: is a directory", .0.display())]
    IsDirectory(PathBuf),
    /// The path is neither a regular file nor a directory; trove indexes regular files only.
    #[error("{}: not a regular file ({kind})", path.display())]
    NotRegular {
        /// The path on disk.
        path: PathBuf,
        /// What it is instead: "symlink", "fifo", "socket", "block device", ….
        kind: &'static str,
    },
    /// The file kept changing (size, mtime or inode) while its content was hashed, so the
    /// hash describes no version of it; nothing was stored for it.
    #[error("{}: changed while it was being read; try again", .0.display())]
    ChangedWhileHashing(PathBuf),
    /// No pool has this title; holds the title as given.
    #[error("{0}: no such pool")]
    UnknownPool(String),
    /// A pool with this title already exists (titles are unique); holds the title.
    #[error("{0}: a pool with this title exists")]
    PoolExists(String),
    /// The destination of a move or a backup exists; nothing was overwritten (a move
    /// replaces a file only when forced, a directory never).
    #[error("{}: already exists", .0.display())]
    DestinationExists(PathBuf),
    /// A directory was expected (the target of a move of several sources, a new root, a
    /// destination's parent) but the path is something else.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A directory move whose destination lies inside the directory itself.
    #[error("{}: cannot move a directory into itself", .0.display())]
    IntoItself(PathBuf),
    /// A move across filesystems copied the file, but the copy's hash differs from the
    /// original; the copy was removed and the original kept.
    #[error("{}: the copy does not match the original; the original was kept", .0.display())]
    CopyMismatch(PathBuf),
    /// The path is one of the index's own files (the database and SQLite's files beside it),
    /// which are never indexed.
    #[error("{}: trove's own index file; it is never indexed", .0.display())]
    OwnFile(PathBuf),
    /// The path lies on a pseudo filesystem (proc, sysfs, …) whose entries are not real files.
    #[error("{}: on a pseudo filesystem ({fs}), which holds no real files; skipped", path.display())]
    PseudoFs {
        /// The path asked for.
        path: PathBuf,
        /// The filesystem's name, e.g. "proc".
        fs: &'static str,
    },
    /// No file record has this id.
    #[error("{}: no such file id", .0.0)]
    NoSuchId(FileId),
    /// No operation in the history log has this number.
    #[error("op {0}: no such operation")]
    UnknownOp(i64),
    /// Undo was asked for but the history log holds no operation.
    #[error("nothing to undo: the operation log is empty")]
    NothingToUndo,
    /// Undoing an operation would overwrite rows that later operations changed again; nothing
    /// was undone (forcing it is the caller's choice).
    #[error(
        "op {op}: cannot be undone, {} row(s) were changed again later: {}",
        conflicts.len(),
        conflicts.iter().take(5).map(|c| c.to_string()).collect::<Vec<_>>().join("; ")
    )]
    UndoConflict {
        /// The operation asked to be undone.
        op: i64,
        /// Every row changed later, with the operation that changed it.
        conflicts: Vec<ops::history::Conflict>,
    },
    /// The operation asked for is older than what the pruned history still holds.
    #[error("op {op}: older than the history kept (pruned up to op {pruned})")]
    HistoryPruned {
        /// The operation asked for.
        op: i64,
        /// The newest operation removed by pruning; everything up to it is gone.
        pruned: i64,
    },
    /// A point in time before the history log begins, so the index as it was then is unknown.
    #[error("{at}: before the history starts (unix time {started}: the index was created or upgraded then)")]
    HistoryStartsLater {
        /// The time asked for, in unix seconds.
        at: i64,
        /// When the log starts (index created or upgraded to history), in unix seconds.
        started: i64,
    },
    /// The path is not one of the index's roots.
    #[error("{}: not a root", .0.display())]
    NotARoot(PathBuf),
    /// The path is already a root of the index.
    #[error("{}: already a root", .0.display())]
    AlreadyARoot(PathBuf),
    /// A move (of files or of a root) whose source and destination are the same path.
    #[error("{}: source and destination are the same", .0.display())]
    SameSourceAndDestination(PathBuf),
    /// A file move whose destination is an existing directory that it would replace.
    #[error("{}: is a directory; a file cannot replace it", .0.display())]
    WouldReplaceDirectory(PathBuf),
    /// A source path has no file name to keep under the destination directory (`/`, or a
    /// path ending in `..`).
    #[error("{}: cannot move this path", .0.display())]
    CannotMove(PathBuf),
    /// A pattern for editors' backup file names (used to recognise safe saves) is malformed.
    #[error("{pattern}: {reason}")]
    BadBackupPattern {
        /// The offending pattern.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An ignore pattern (gitignore syntax) does not compile.
    #[error("{pattern:?}: not an ignore pattern ({reason})")]
    BadIgnorePattern {
        /// The offending pattern.
        pattern: String,
        /// The glob compiler's message.
        reason: String,
    },
    /// A pool title is empty or otherwise unusable; holds the title as given.
    #[error("{0:?}: not a usable pool title")]
    BadPoolTitle(String),
    /// An API key name breaks the naming rules.
    #[error("{name:?}: {reason}")]
    BadKeyName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An API key with this name already exists; holds the name.
    #[error("{0}: a key with this name exists; remove it first")]
    KeyExists(String),
    /// Removing an alias that is the tag's primary name; holds the name.
    #[error("{0}: is the primary name; rename the tag instead")]
    AliasIsPrimary(String),
    /// A merge of two names that already belong to one tag.
    #[error("{from} and {into} are already the same tag")]
    AlreadySameTag {
        /// The tag asked to be merged away, as given.
        from: String,
        /// The tag asked to receive it, as given.
        into: String,
    },
    /// Merging two tags would make the merged tag imply itself through the implication graph.
    #[error("merging would make {tag} imply itself through its implications; remove one of them first")]
    MergeMakesCycle {
        /// The primary name of the merged tag.
        tag: String,
    },
    /// A file to import (another tool's database, a JSON export) is not in the expected
    /// shape.
    #[error("{}: {reason}", path.display())]
    BadSourceFile {
        /// The file being imported.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An operation on a group of files (marking duplicates) got fewer files than it needs.
    #[error("this needs {needed} files or more; {given} given")]
    NotEnoughFiles {
        /// The minimum number of files.
        needed: usize,
        /// How many were given.
        given: usize,
    },
    /// The queue of API key requests awaiting approval is full; refused to stop request spam.
    #[error("{max} key requests already wait for approval")]
    TooManyKeyRequests {
        /// The most requests that may wait at once.
        max: u64,
    },
    /// A path with a default (an importer's database under `$HOME` or above the current
    /// directory) was not given, and the default could not be found.
    #[error("HOME is not set, so there is no default {what}: name it")]
    NoDefaultPath {
        /// What the path is for, e.g. "awtfdb database".
        what: &'static str,
    },
    /// The operating system's random source failed (used for tag uids and API keys); holds
    /// its message.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(StoreError::Sqlite(e))
    }
}

impl Error {
    /// Whether the index was locked by another writer for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Store(s) if s.is_busy())
    }

    /// The index-level failure, if this is one.
    pub fn store(&self) -> Option<&StoreError> {
        match self {
            Error::Store(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// The result of every fallible trove-core function; the error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
