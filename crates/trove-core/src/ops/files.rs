//! Reading records and their tags, for callers outside core (the CLI's `ls`, the watcher,
//! the HTTP server): one record, the records at or under a path, a directory's listing.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::model::{FileId, FileRecord, FileState};
use crate::store::{files, links};
use crate::{Index, Result};

pub use crate::store::links::FileTag;

/// The record with this id, if any (present, missing or offline).
pub fn get(index: &Index, id: FileId) -> Result<Option<FileRecord>> {
    files::by_id(index.conn(), id)
}

/// The record that owns this path now (not a missing one), if any.
pub fn live_at(index: &Index, path: &Path) -> Result<Option<FileRecord>> {
    files::live_by_path(index.conn(), path)
}

/// Whether the record carries no tag and belongs to no pool (a record made by auto-include
/// that nobody touched yet).
pub fn is_bare(index: &Index, id: FileId) -> Result<bool> {
    files::is_bare(index.conn(), id)
}

/// A file's tags: direct ones with their sources, and implied ones marked.
pub fn tags_of(index: &Index, id: FileId) -> Result<Vec<FileTag>> {
    links::of_file(index.conn(), id)
}

/// Calls `f` with every record in the index, in id order.
pub fn for_each(index: &Index, f: impl FnMut(FileRecord) -> Result<()>) -> Result<()> {
    files::for_each(index.conn(), f)
}

/// Labels many files with their tags, loading the implication graph and the tag names once.
pub struct Labeler<'i>(links::Labeler<'i>);

impl<'i> Labeler<'i> {
    /// A labeler reading from `index`.
    pub fn new(index: &'i Index) -> Result<Self> {
        Ok(Labeler(links::Labeler::new(index.conn())?))
    }

    /// The tags of one file, as [`tags_of`] gives them.
    pub fn of_file(&mut self, file: FileId) -> Result<Vec<FileTag>> {
        self.0.of_file(file)
    }
}

/// A subdirectory in a listing, with how many indexed files are under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubDir {
    /// The subdirectory's name (one path component, raw bytes).
    pub name: Vec<u8>,
    /// Indexed records anywhere below it.
    pub files: u64,
}

/// What `trove ls` shows for one path.
#[derive(Debug, Default)]
pub struct Listing {
    /// The records at the path itself (a file, or every hard-linked record of it), or the
    /// records directly in the directory (all below it when recursive), in path order.
    pub files: Vec<FileRecord>,
    /// Without recursion: the subdirectories that hold indexed records, in byte order.
    pub subdirs: Vec<SubDir>,
}

impl Listing {
    /// Nothing is indexed at or under the path.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.subdirs.is_empty()
    }
}

/// The records at `path` if it names an indexed file; else the directory's direct children
/// and its subdirectories with their counts (`recursive`: every record below it).
pub fn list(index: &Index, path: &Path, recursive: bool) -> Result<Listing> {
    let c = index.conn();
    let files = files::all_at(c, path)?;
    if !files.is_empty() {
        return Ok(Listing { files, subdirs: Vec::new() });
    }
    let mut out = Listing::default();
    let mut subdirs: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    // Children start after "DIR/"; the root directory "/" already ends in its separator.
    let dir = path.as_os_str().as_bytes();
    let prefix_len = if dir.ends_with(b"/") { dir.len() } else { dir.len() + 1 };
    for r in files::under(c, path)? {
        let rest = &r.path_bytes()[prefix_len.min(r.path_bytes().len())..];
        match rest.iter().position(|&b| b == b'/') {
            Some(i) if !recursive => *subdirs.entry(rest[..i].to_vec()).or_default() += 1,
            _ => out.files.push(r),
        }
    }
    out.subdirs = subdirs.into_iter().map(|(name, files)| SubDir { name, files }).collect();
    Ok(out)
}

/// The other indexed hard links of a present file (separate records, each with its own
/// tags). Looked up only when the file on disk has more than one link, so a plain listing
/// costs one `stat` per file and no query.
pub fn other_links(index: &Index, r: &FileRecord) -> Result<Vec<FileRecord>> {
    use std::os::unix::fs::MetadataExt;
    if r.state != FileState::Present {
        return Ok(Vec::new());
    }
    match std::fs::symlink_metadata(&r.path) {
        Ok(m) if m.nlink() > 1 && (m.dev(), m.ino()) == (r.stat.device, r.stat.inode) => {
            files::hard_links(index.conn(), r)
        }
        _ => Ok(Vec::new()),
    }
}

/// A record's SHA-256 (None: no such record, or indexed before trove kept one and not yet
/// filled by `check --full`).
pub fn sha256_of(index: &Index, id: FileId) -> Result<Option<[u8; 32]>> {
    files::sha256_of(index.conn(), id)
}

/// The records whose content has this SHA-256: present ones first, then by id.
pub fn by_sha256(index: &Index, sha256: &[u8; 32]) -> Result<Vec<FileRecord>> {
    files::by_sha256(index.conn(), sha256)
}

/// How many records have no SHA-256 yet (`check --full` fills them).
pub fn count_without_sha256(index: &Index) -> Result<u64> {
    files::count_without_sha256(index.conn())
}

/// The records at `path`: the live one and any missing ones that last lived there.
pub fn at_path(index: &Index, path: &std::path::Path) -> Result<Vec<FileRecord>> {
    files::all_at(index.conn(), path)
}
