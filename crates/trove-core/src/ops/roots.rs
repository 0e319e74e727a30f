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
