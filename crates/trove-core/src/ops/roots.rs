//! Roots: the directories trove keeps current, and the global ignore list.
//!
//! Policy: a root is stored by its real path (symlinks resolved; the report says where a link
//! led), so every record under it — which carries real paths too — is covered whichever name
//! the user typed. Pseudo filesystems are refused. Removing a root forgets nothing: its
//! files stay indexed, no longer tracked.

use std::path::{Path, PathBuf};

use crate::filter::{check_pattern, pseudo_fs};
use crate::model::now_unix;
use crate::store::roots;
use crate::{Error, Index, Result};

pub use crate::store::roots::Root;

/// Every root, in path order.
pub fn list(index: &Index) -> Result<Vec<Root>> {
    roots::list(index.conn())
}

/// The global ignore patterns (gitignore syntax), in the order they were added.
pub fn ignore_patterns(index: &Index) -> Result<Vec<String>> {
    roots::ignore_patterns(index.conn())
}

/// Whether the filesystem that holds `root` is there: a root on an unplugged drive (or an
/// empty mount point) is offline, and its files are not taken as deleted.
pub fn is_mounted(index: &Index, root: &Root) -> Result<bool> {
    Ok(crate::ops::reconcile::mount_state(index.conn(), root)?.0)
}

/// What [`add_root`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedRoot {
    /// The real path stored (differs from the argument when a symlink was resolved).
    pub path: PathBuf,
    /// False when it was a root already.
    pub new: bool,
}

/// The real path of an existing directory, else the path as given.
fn real(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Adds `dir` as a root (by its real path, recording its device).
pub fn add_root(index: &mut Index, dir: &Path) -> Result<AddedRoot> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !m.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let path = real(dir);
    if let Some(fs) = pseudo_fs(&path) {
        return Err(Error::PseudoFs { path, fs });
    }
    let new = index.write(|tx| roots::add(tx, &path, m.dev(), now_unix()))?;
    Ok(AddedRoot { path, new })
}

/// Stops tracking `dir` (as given, or its real path); false if it was not a root.
pub fn remove_root(index: &mut Index, dir: &Path) -> Result<bool> {
    let r = real(dir);
    index.write(|tx| Ok(roots::remove(tx, dir)? || (r != dir && roots::remove(tx, &r)?)))
}

/// Turns auto-include on or off for a root; false if `dir` is not a root.
pub fn set_auto_include(index: &mut Index, dir: &Path, on: bool) -> Result<bool> {
    let r = real(dir);
    index.write(|tx| Ok(roots::set_auto_include(tx, dir, on)? || (r != dir && roots::set_auto_include(tx, &r, on)?)))
}

/// How many live records no root keeps current (indexed outside every root).
pub fn untracked(index: &Index) -> Result<u64> {
    let list = roots::list(index.conn())?;
    let dirs: Vec<&Path> = list.iter().map(|r| r.path.as_path()).collect();
    crate::store::files::count_live_outside(index.conn(), &dirs)
}

/// The root (innermost) that holds `path`, if any.
pub fn root_of<'a>(list: &'a [roots::Root], path: &Path) -> Option<&'a roots::Root> {
    list.iter().filter(|r| path.starts_with(&r.path)).max_by_key(|r| r.path.as_os_str().len())
}

/// Adds a pattern to the global ignore list; false if it was there.
pub fn add_ignore(index: &mut Index, pattern: &str) -> Result<bool> {
    check_pattern(pattern)?;
    index.write(|tx| roots::add_ignore(tx, pattern, now_unix()))
}

/// Removes a pattern from the global ignore list; false if it was not there.
pub fn remove_ignore(index: &mut Index, pattern: &str) -> Result<bool> {
    index.write(|tx| roots::remove_ignore(tx, pattern))
}

/// What [`move_root`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedRoot {
    /// The root's path before.
    pub from: PathBuf,
    /// Its path now.
    pub to: PathBuf,
    /// Records whose path now starts with `to`.
    pub records: usize,
}

/// Moves the root `from` to the directory `to` (already renamed on disk) and rewrites the
/// path of every record under it, in one transaction: a kill at any moment leaves either
/// the old prefix or the new one, never a mix. Roots nested under `from` move too.
pub fn move_root(index: &mut Index, from: &Path, to: &Path) -> Result<MovedRoot> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(to).map_err(|e| Error::io(to, e))?;
    if !m.is_dir() {
        return Err(Error::NotADirectory(to.to_path_buf()));
    }
    let to = real(to);
    let list = roots::list(index.conn())?;
    let Some(root) = list.iter().find(|r| r.path == from).or_else(|| list.iter().find(|r| r.path == real(from))) else {
        return Err(Error::NotARoot(from.to_path_buf()));
    };
    let from = root.path.clone();
    if from == to {
        return Err(Error::SameSourceAndDestination(from.to_path_buf()));
    }
    if to.starts_with(&from) {
        return Err(Error::IntoItself(from));
    }
    if list.iter().any(|r| r.path == to) {
        return Err(Error::AlreadyARoot(to.to_path_buf()));
    }
    let records = index.write(|tx| {
        roots::rebase(tx, &from, &to)?;
        roots::set_path(tx, &to, &to, m.dev())?;
        let mut missing = 0;
        crate::ops::track::move_dir(tx, &from, &to, &mut missing)
    })?;
    Ok(MovedRoot { from, to, records })
}

/// Where a root that is gone from disk went, when it can be told: a sibling directory
/// (same parent) holding, under the same relative paths, the very files (device and inode)
/// of a sample of the root's present records. `None` when no sibling or several match, or
/// the root has no present record to recognise it by.
pub fn find_renamed(index: &Index, root: &roots::Root, all: &[roots::Root]) -> Result<Option<PathBuf>> {
    use std::os::unix::fs::MetadataExt;
    let Some(parent) = root.path.parent() else { return Ok(None) };
    let recs: Vec<crate::FileRecord> = crate::store::files::under(index.conn(), &root.path)?
        .into_iter()
        .filter(|r| r.state == crate::FileState::Present)
        .take(5)
        .collect();
    if recs.is_empty() {
        return Ok(None);
    }
    let Ok(rd) = std::fs::read_dir(parent) else { return Ok(None) };
    let mut found = Vec::new();
    for e in rd.flatten() {
        let cand = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) || all.iter().any(|r| r.path == cand) {
            continue;
        }
        let all_there = recs.iter().all(|r| {
            r.path.strip_prefix(&root.path).ok().is_some_and(|rel| {
                std::fs::symlink_metadata(cand.join(rel))
                    .is_ok_and(|m| (m.dev(), m.ino()) == (r.stat.device, r.stat.inode))
            })
        });
        if all_there {
            found.push(cand);
        }
    }
    Ok(if found.len() == 1 { found.pop() } else { None })
}
