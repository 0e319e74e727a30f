//! Path policy: records hold absolute paths as raw bytes; prefixes are byte ranges.
//!
//! A directory's contents are the byte range `[dir + "/", dir + "0")` ('0' is the byte after
//! '/'), so `%`, `_`, `*` and non-UTF-8 bytes in names are just bytes — no `LIKE`, no escaping.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Makes `p` absolute against `cwd` and resolves symlinks in its parent directories, but
/// not in its last component (a symlink itself is named, not followed). `.` and `..` are
/// resolved lexically where the directory no longer exists.
pub fn resolve(cwd: &Path, p: &Path) -> PathBuf {
    let abs = if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    let abs = lexical(&abs);
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => match std::fs::canonicalize(parent) {
            Ok(cp) => cp.join(name),
            Err(_) => abs,
        },
        _ => abs,
    }
}

/// Removes `.` and resolves `..` without touching the filesystem.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from("/") } else { out }
}

/// The byte range holding every path strictly under `dir`.
pub fn under_range(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut d = dir.as_os_str().as_bytes().to_vec();
    while d.len() > 1 && d.ends_with(b"/") {
        d.pop();
    }
    if d == b"/" {
        // everything absolute
        return (b"/".to_vec(), b"0".to_vec());
    }
    let mut lo = d.clone();
    lo.push(b'/');
    let mut hi = d;
    hi.push(b'0');
    (lo, hi)
}

/// `path` re-rooted from `old` to `new` when it lies at or under `old`.
pub fn rebase(path: &Path, old: &Path, new: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(old).ok()?;
    Some(if rest.as_os_str().is_empty() { new.to_path_buf() } else { new.join(rest) })
}

/// Shows `path` relative to `cwd` when it lies under it, else absolute; bytes kept.
pub fn display_relative<'a>(path: &'a Path, cwd: &Path) -> &'a Path {
    match path.strip_prefix(cwd) {
        Ok(rest) if !rest.as_os_str().is_empty() => rest,
        _ => path,
    }
}

/// The path with exactly these bytes (as stored in the index); any bytes, UTF-8 or not.
pub fn from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_range_is_a_byte_prefix_range() {
        let (lo, hi) = under_range(Path::new("/a/b_%"));
        assert_eq!(lo, b"/a/b_%/");
        assert_eq!(hi, b"/a/b_%0");
        let inside = b"/a/b_%/x".to_vec();
        let sibling = b"/a/b_%x/y".to_vec();
        let sibling2 = b"/a/b_%-/y".to_vec();
        assert!(inside >= lo && inside < hi);
        assert!(!(sibling >= lo && sibling < hi));
        assert!(!(sibling2 >= lo && sibling2 < hi));
    }

    #[test]
    fn lexical_resolves_dots() {
        assert_eq!(lexical(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(lexical(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn rebase_moves_prefixes_by_component() {
        let p = Path::new("/x/old/f");
        assert_eq!(rebase(p, Path::new("/x/old"), Path::new("/y/new")), Some(PathBuf::from("/y/new/f")));
        assert_eq!(rebase(Path::new("/x/older/f"), Path::new("/x/old"), Path::new("/y")), None);
    }
}
