//! The vocabulary types: ids, file records, tag names and sources.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

use crate::Error;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { self.0.fmt(f) }
        }
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> { self.0.to_sql() }
        }
        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }
    };
}

id_type!(
    /// The stable id of a file record. Tags hang off it; it survives renames and edits.
    FileId
);
id_type!(
    /// The stable id of a tag, local to one index (see [`Tag::uid`] for the shareable one).
    TagId
);
id_type!(
    /// A pool's id.
    PoolId
);

/// Whether the file a record describes is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// On disk at its recorded path, as last seen.
    Present,
    /// Gone from disk; the record and its tags are kept and `missing` finds it.
    Missing,
    /// Its root's filesystem is not mounted: kept as it was, still searchable.
    Offline,
}

impl FileState {
    pub(crate) fn code(self) -> i64 {
        match self {
            FileState::Present => 0,
            FileState::Missing => 1,
            FileState::Offline => 2,
        }
    }

    pub(crate) fn from_code(c: i64) -> Self {
        match c {
            1 => FileState::Missing,
            2 => FileState::Offline,
            _ => FileState::Present,
        }
    }

    /// The lowercase name used in output and JSON: `present`, `missing` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Present => "present",
            FileState::Missing => "missing",
            FileState::Offline => "offline",
        }
    }
}

/// A content hash: plain BLAKE3, so `b3sum` prints the same hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The 64 lowercase hex digits, as `b3sum` prints them.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// What was seen on disk for a file: the observation a record stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Length in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// The filesystem's device number (`st_dev`); with `inode` it finds a file after a rename.
    pub device: u64,
    /// The inode number (`st_ino`) on that device.
    pub inode: u64,
}

impl Stat {
    /// The observation in `m` (from `stat`/`lstat`), mtime folded into nanoseconds.
    pub fn from_metadata(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Stat {
            size: m.size(),
            mtime_ns: m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()),
            device: m.dev(),
            inode: m.ino(),
        }
    }
}

/// A file's observation together with its content hash and sampled fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Size, mtime and identity on disk when the content was read.
    pub stat: Stat,
    /// BLAKE3 of the whole content.
    pub hash: Hash,
    /// A cheap hash of the size and three sampled blocks, to match a moved file without
    /// reading it all ([`crate::hash::fingerprint_of`]).
    pub fingerprint: i64,
    /// SHA-256 of the content, computed in the same read as the BLAKE3 hash (the Hydrus API
    /// names files by it). `None` when the observation did not read the bytes again (a
    /// record revived with its known content keeps its stored SHA-256).
    pub sha256: Option<[u8; 32]>,
}

/// One indexed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// The record's stable id.
    pub id: FileId,
    /// The absolute path; bytes, not necessarily UTF-8.
    pub path: PathBuf,
    /// What was on disk when the record was last confirmed.
    pub stat: Stat,
    /// BLAKE3 of the content last read.
    pub hash: Hash,
    /// The sampled fingerprint of that content ([`crate::hash::fingerprint_of`]).
    pub fingerprint: i64,
    /// Whether the file is on disk, missing or on an offline root.
    pub state: FileState,
    /// Seconds since the epoch.
    pub added_at: i64,
    /// Seconds since the epoch when the content was last hashed and found as recorded.
    pub verified_at: i64,
}

impl FileRecord {
    /// The path's raw bytes, as stored and compared in the index.
    pub fn path_bytes(&self) -> &[u8] {
        self.path.as_os_str().as_bytes()
    }
}

/// A tag with its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag's id in this index.
    pub id: TagId,
    /// 32 random bytes, shareable between libraries.
    pub uid: [u8; 32],
    /// The primary name, NFC-normalised.
    pub name: String,
    /// Every other name of the tag (aliases, translations).
    pub aliases: Vec<TagName>,
}

impl Tag {
    /// [`Tag::uid`] as 64 lowercase hex digits.
    pub fn uid_hex(&self) -> String {
        self.uid.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One name of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName {
    /// The name, NFC-normalised; unique across all tags of the index.
    pub name: String,
    /// The language of a translated name (e.g. `de`), `None` for a plain alias.
    pub lang: Option<String>,
    /// Whether this is the tag's primary name, the one output shows.
    pub primary: bool,
}

/// Who put a tag on a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Someone tagged it by hand on the command line (the default source).
    Manual,
    /// An auto-tagging rule added it; holds the rule's name.
    Rule(String),
    /// An import from another tool added it; holds the tool's name.
    Import(String),
    /// A client of the HTTP API added it; holds the client's name.
    Api(String),
    /// A tagging gesture in a writable `trove mount` (mkdir, ln -s, rm of a link).
    Mount,
}

impl Source {
    /// The source's kind as stored: `manual`, `rule`, `import`, `api` or `mount`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Manual => "manual",
            Source::Rule(_) => "rule",
            Source::Import(_) => "import",
            Source::Api(_) => "api",
            Source::Mount => "mount",
        }
    }

    /// The rule, tool or client name; empty for `manual` and `mount`.
    pub fn name(&self) -> &str {
        match self {
            Source::Manual | Source::Mount => "",
            Source::Rule(n) | Source::Import(n) | Source::Api(n) => n,
        }
    }

    pub(crate) fn from_parts(kind: &str, name: &str) -> Self {
        match kind {
            "rule" => Source::Rule(name.to_string()),
            "import" => Source::Import(name.to_string()),
            "api" => Source::Api(name.to_string()),
            "mount" => Source::Mount,
            _ => Source::Manual,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Manual => f.write_str("manual"),
            Source::Mount => f.write_str("mount"),
            s => write!(f, "{}:{}", s.kind(), s.name()),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = Error;

    /// `manual`, `mount`, `rule:NAME`, `import:TOOL`, `api:CLIENT`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::BadSource(s.to_string());
        if s == "manual" {
            return Ok(Source::Manual);
        }
        if s == "mount" {
            return Ok(Source::Mount);
        }
        let (kind, name) = s.split_once(':').ok_or_else(bad)?;
        if name.trim().is_empty() {
            return Err(bad());
        }
        match kind {
            "rule" | "import" | "api" => Ok(Source::from_parts(kind, name.trim())),
            _ => Err(bad()),
        }
    }
}

/// NFC-normalises and trims a name; never fails (the parser uses this).
pub fn normalize_name_lossy(s: &str) -> String {
    s.nfc().collect::<String>().trim().to_string()
}

/// Checks and normalises a tag name typed by a user: NFC, trimmed, not empty, no control
/// characters.
pub fn normalize_tag_name(s: &str) -> Result<String, Error> {
    let n = normalize_name_lossy(s);
    if n.is_empty() {
        return Err(Error::BadTagName { name: s.to_string(), reason: "a tag name cannot be empty" });
    }
    if n.chars().any(char::is_control) {
        return Err(Error::BadTagName { name: s.to_string(), reason: "a tag name cannot hold control characters" });
    }
    Ok(n)
}

/// The matching key of a normalised name: case-insensitive.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// The `ns:value` split of a folded name, and the value as a number when it is one.
pub(crate) fn split_namespace(folded: &str) -> (Option<&str>, Option<&str>, Option<f64>) {
    match folded.split_once(':') {
        Some((ns, val)) if !ns.is_empty() && !val.is_empty() => (Some(ns), Some(val), decimal_number(val)),
        _ => (None, None, None),
    }
}

/// A tag value or a comparison's operand as a number: only plain decimals count
/// (`-?[0-9]+(\.[0-9]+)?`, within the range of a double). `nan`, `inf`, `1e5`, `+5`, `.5`
/// and `5.` are text, compared as text.
pub fn decimal_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Lower-cased extension of a path's last component, if any.
pub(crate) fn extension_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.as_bytes();
    let dot = name.iter().rposition(|&b| b == b'.')?;
    if dot == 0 || dot + 1 == name.len() {
        return None;
    }
    Some(String::from_utf8_lossy(&name[dot + 1..]).to_lowercase())
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An I/O error's reason in message style: lowercase, without the `(os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
