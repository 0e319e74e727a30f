//! What trove picks up on its own when it walks a tree, and what it never touches.
//!
//! Policy:
//! - trove's own files (the index, its `-wal`, `-shm` and `-journal`, the watcher's
//!   `.watch.lock`) are never indexed, wherever they sit — not even when named on the command
//!   line. Their events are dropped by the watcher before they cost a transaction.
//! - Pseudo filesystems (proc, sysfs, cgroup, debugfs, tracefs, …) hold no files worth a hash
//!   (`/proc/self/pagemap` reads as hundreds of GiB of zeros): they are refused when named and
//!   skipped, with a message, when a walk reaches them.
//! - Ignore patterns in gitignore syntax (the `ignore` crate from ripgrep matches them):
//!   `.troveignore` files in a root and any directory under it, plus the global list stored
//!   in the index (`trove roots ignore`). A deeper file overrides a shallower one, a `!`
//!   pattern re-includes, and an ignored directory hides everything under it (as in git).
//!   They decide what walks pick up (`include -r`, reconcile, the watcher's auto-include);
//!   a file named explicitly is still included, and a file already indexed is still tracked.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::ops::mv::TEMP_PREFIX;
use crate::store::roots;
use crate::{Index, Result};

/// The per-directory ignore file.
pub const IGNORE_FILE: &str = ".troveignore";

/// The paths of an index's own files: the database, its journals and the watcher's lock.
pub fn own_files(index_path: &Path) -> Vec<PathBuf> {
    // Compare canonical forms: walks see real paths, the index may be named through a link.
    let index_path = match (index_path.parent(), index_path.file_name()) {
        (Some(d), Some(n)) => std::fs::canonicalize(d).map_or_else(|_| index_path.to_path_buf(), |d| d.join(n)),
        _ => index_path.to_path_buf(),
    };
    let mut v = vec![index_path.clone()];
    for suffix in ["-wal", "-shm", "-journal", ".watch.lock"] {
        let mut s: OsString = index_path.clone().into_os_string();
        s.push(suffix);
        v.push(PathBuf::from(s));
    }
    v
}

/// The kind of pseudo filesystem `path` sits on, if it is one.
pub fn pseudo_fs(path: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(path).ok()?;
    // Magic numbers from linux/magic.h.
    let name = match st.f_type as u64 {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x0027_e0eb => "cgroup",
        0x6367_7270 => "cgroup2",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0xcafe_4a11 => "bpf",
        0x1cd1 => "devpts",
        0x6165_676c => "pstore",
        0x6265_6570 => "configfs",
        0x6573_5543 => "fusectl",
        0x4249_4e4d => "binfmt_misc",
        0x1980_0202 => "mqueue",
        0xde5e_81e4 => "efivarfs",
        0xf97c_ff8c => "selinuxfs",
        0x6e73_6673 => "nsfs",
        _ => return None,
    };
    Some(name)
}

/// Decides what walks and the watcher's auto-include leave out. Parsed ignore files are
/// cached, so build a fresh one for each walk or batch (an edited `.troveignore` then counts).
pub struct Filter {
    own: Vec<PathBuf>,
    global: Vec<String>,
    /// Global matchers, one per top directory (patterns anchor at the root they apply to).
    global_at: HashMap<PathBuf, Gitignore>,
    /// Directory → its parsed `.troveignore` (None: it has none).
    dirs: HashMap<PathBuf, Option<Gitignore>>,
    /// The last directory asked about and whether it or a directory above it (up to the
    /// walk's top) has an ignore file: walks ask about the same parent many times in a row,
    /// and most trees have no ignore file at all.
    last: Option<(PathBuf, PathBuf, bool)>,
}

impl Filter {
    /// The filter for `index`: its own files and its global ignore list.
    pub fn load(index: &Index) -> Result<Filter> {
        Ok(Filter::new(own_files(index.path()), roots::ignore_patterns(index.conn())?))
    }

    /// A filter that refuses the paths in `own` (the index's files) and ignores what the
    /// gitignore-style `global` patterns match, besides the ignore files found on disk.
    pub fn new(own: Vec<PathBuf>, global: Vec<String>) -> Filter {
        Filter { own, global, global_at: HashMap::new(), dirs: HashMap::new(), last: None }
    }

    /// Whether `path` is one of the index's own files.
    pub fn is_own(&self, path: &Path) -> bool {
        self.own.iter().any(|o| o.as_os_str() == path.as_os_str())
    }

    /// Whether `dir` or a directory above it, up to `top`, has an ignore file.
    fn any_ignore_file(&mut self, top: &Path, dir: &Path) -> bool {
        if let Some((t, d, any)) = &self.last
            && t.as_os_str() == top.as_os_str()
            && d.as_os_str() == dir.as_os_str()
        {
            return *any;
        }
        let mut any = false;
        let mut d = Some(dir);
        while let Some(x) = d {
            if !x.starts_with(top) {
                break;
            }
            if self.dir_matcher(x).is_some() {
                any = true;
                break;
            }
            d = x.parent();
        }
        self.last = Some((top.to_path_buf(), dir.to_path_buf(), any));
        any
    }

    fn dir_matcher(&mut self, dir: &Path) -> Option<&Gitignore> {
        if !self.dirs.contains_key(dir) {
            let f = dir.join(IGNORE_FILE);
            self.dirs.insert(dir.to_path_buf(), f.is_file().then(|| Gitignore::new(&f).0));
        }
        self.dirs.get(dir).and_then(Option::as_ref)
    }

    fn global_matcher(&mut self, top: &Path) -> &Gitignore {
        let global = &self.global;
        self.global_at.entry(top.to_path_buf()).or_insert_with(|| {
            let mut b = GitignoreBuilder::new(top);
            for p in global {
                // A pattern that does not parse was refused when it was added.
                let _ = b.add_line(None, p);
            }
            b.build().unwrap_or_else(|_| Gitignore::empty())
        })
    }

    /// Whether the walk from `top` should leave out `path` (its parent directories already
    /// passed): trove's own files, and what the ignore files and the global list exclude.
    pub fn skip_entry(&mut self, top: &Path, path: &Path, is_dir: bool) -> bool {
        if path == top {
            return false;
        }
        if !is_dir && self.is_own(path) {
            return true;
        }
        // A cross-filesystem `trove mv` copies to this name before renaming into place.
        if path.file_name().is_some_and(|n| n.as_bytes().starts_with(TEMP_PREFIX)) {
            return true;
        }
        if self.global.is_empty() && !path.parent().is_some_and(|p| self.any_ignore_file(top, p)) {
            return false;
        }
        // The deepest ignore file with an opinion decides; then the global list.
        let mut d = path.parent();
        while let Some(dir) = d {
            if !dir.starts_with(top) {
                break;
            }
            if let Some(gi) = self.dir_matcher(dir) {
                match gi.matched(path, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            d = dir.parent();
        }
        !self.global.is_empty() && self.global_matcher(top).matched(path, is_dir).is_ignore()
    }

    /// Whether `path` (anywhere under `top`) is left out: it or a directory above it is.
    pub fn skip(&mut self, top: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rest) = path.strip_prefix(top) else { return false };
        let mut at = top.to_path_buf();
        let n = rest.components().count();
        for (i, c) in rest.components().enumerate() {
            at.push(c);
            let last = i + 1 == n;
            if self.skip_entry(top, &at, if last { is_dir } else { true }) {
                return true;
            }
        }
        false
    }
}

/// Checks a global ignore pattern before it is stored.
pub fn check_pattern(p: &str) -> Result<()> {
    let mut b = GitignoreBuilder::new("/");
    b.add_line(None, p)
        .map_err(|e| crate::Error::BadIgnorePattern { pattern: p.to_string(), reason: e.to_string() })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troveignore_files_nest_like_gitignore() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        std::fs::write(top.join(IGNORE_FILE), "*.tmp\nbuild/\n").unwrap();
        std::fs::write(top.join("a").join(IGNORE_FILE), "!keep.tmp\n").unwrap();
        let mut f = Filter::new(Vec::new(), vec!["*.bak".into()]);
        assert!(f.skip(&top, &top.join("x.tmp"), false));
        assert!(f.skip(&top, &top.join("a/b/x.tmp"), false));
        assert!(!f.skip(&top, &top.join("a/keep.tmp"), false), "a deeper ! pattern re-includes");
        assert!(f.skip(&top, &top.join("a/build/f"), false), "an ignored directory hides its files");
        assert!(f.skip(&top, &top.join("a/old.bak"), false), "the global list applies under every root");
        assert!(!f.skip(&top, &top.join("a/b/song.flac"), false));
    }

    #[test]
    fn own_files_cover_the_journals_and_the_watch_lock() {
        let d = tempfile::tempdir().unwrap();
        let idx = d.path().join("index.db");
        let f = Filter::new(own_files(&idx), Vec::new());
        let real = d.path().canonicalize().unwrap();
        for n in ["index.db", "index.db-wal", "index.db-shm", "index.db-journal", "index.db.watch.lock"] {
            assert!(f.is_own(&real.join(n)), "{n}");
        }
        assert!(!f.is_own(&real.join("index.db2")));
    }

    #[test]
    fn proc_and_sys_are_pseudo_filesystems() {
        assert_eq!(pseudo_fs(Path::new("/proc/self")), Some("proc"));
        assert_eq!(pseudo_fs(Path::new("/sys")), Some("sysfs"));
        assert_eq!(pseudo_fs(Path::new("/tmp")), None);
    }
}
