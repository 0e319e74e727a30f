//! Recursive inotify: works without privileges, but loses events in known races (a move into
//! a directory created a moment earlier lands before its watch exists). So: every new
//! directory is scanned and reconciled, an unpaired `IN_MOVED_FROM` asks for a reconcile of
//! its root, a queue overflow asks for a reconcile of everything, and `resync` re-adds every
//! watch (inotify hands back the existing descriptor for a known inode, which re-maps
//! directories that moved without us seeing where).

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{EventSource, FsEvent};

const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_CLOSE_WRITE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW
    | libc::IN_EXCL_UNLINK;

/// How long an `IN_MOVED_FROM` waits for its `IN_MOVED_TO` before it counts as a move out
/// of sight.
const PAIR_WAIT: Duration = Duration::from_millis(200);

pub struct Inotify {
    fd: OwnedFd,
    wds: HashMap<i32, PathBuf>,
    roots: Vec<PathBuf>,
    pending: HashMap<u32, (PathBuf, bool, Instant)>,
    buf: Vec<u8>,
    /// Directories that could not be watched (usually fs.inotify.max_user_watches).
    pub unwatched: usize,
}

impl Inotify {
    pub fn new(roots: &[PathBuf]) -> std::io::Result<Inotify> {
        // SAFETY: plain syscall; the returned descriptor is checked and then owned.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut me = Inotify {
            fd,
            wds: HashMap::new(),
            roots: roots.to_vec(),
            pending: HashMap::new(),
            buf: vec![0; 256 * 1024],
            unwatched: 0,
        };
        for r in roots {
            me.add_tree(r);
        }
        Ok(me)
    }

    fn add_watch(&mut self, dir: &Path) -> Option<i32> {
        let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
        if wd < 0 {
            self.unwatched += 1;
            return None;
        }
        self.wds.insert(wd, dir.to_path_buf());
        Some(wd)
    }

    /// Watches `dir` and every directory under it (symlinks not followed).
    fn add_tree(&mut self, dir: &Path) {
        for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().flatten() {
            if e.file_type().is_dir() {
                self.add_watch(e.path());
            }
        }
    }

    fn root_of(&self, p: &Path) -> Option<PathBuf> {
        self.roots.iter().filter(|r| p.starts_with(r)).max_by_key(|r| r.as_os_str().len()).cloned()
    }

    fn rebase_watches(&mut self, from: &Path, to: &Path) {
        for p in self.wds.values_mut() {
            if let Some(n) = trove_core::paths::rebase(p, from, to) {
                *p = n;
            }
        }
    }

    fn expire(&mut self, out: &mut Vec<FsEvent>, all: bool) {
        let now = Instant::now();
        let old: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, (_, _, t))| all || now.duration_since(*t) > PAIR_WAIT)
            .map(|(c, _)| *c)
            .collect();
        for c in old {
            if let Some((path, dir, _)) = self.pending.remove(&c) {
                // Moved somewhere we do not watch (outside the roots, or into a directory whose
                // watch did not exist yet). The records stay until a reconcile of the root
                // decides: found elsewhere under it, or missing.
                let scope = self.root_of(&path);
                out.push(FsEvent::Rescan { scope: scope.or(Some(path.clone())) });
                if dir {
                    let gone: Vec<i32> =
                        self.wds.iter().filter(|(_, p)| p.starts_with(&path)).map(|(w, _)| *w).collect();
                    for w in gone {
                        self.wds.remove(&w);
                    }
                }
            }
        }
    }

    fn parse(&mut self, n: usize, out: &mut Vec<FsEvent>) {
        let mut off = 0;
        let header = std::mem::size_of::<libc::inotify_event>();
        while off + header <= n {
            // SAFETY: the kernel wrote a whole inotify_event at `off` (reads return whole
            // events); read_unaligned copes with the byte buffer's alignment.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(self.buf.as_ptr().add(off).cast::<libc::inotify_event>()) };
            let name_start = off + header;
            let name_end = (name_start + ev.len as usize).min(n);
            let raw = &self.buf[name_start..name_end];
            let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
            off = name_end;
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                out.push(FsEvent::Rescan { scope: None });
                continue;
            }
            let Some(dir) = self.wds.get(&ev.wd).cloned() else { continue };
            if ev.mask & libc::IN_UNMOUNT != 0 {
                out.push(FsEvent::Rescan { scope: self.root_of(&dir).or(Some(dir.clone())) });
                continue;
            }
            if ev.mask & libc::IN_IGNORED != 0 {
                self.wds.remove(&ev.wd);
                continue;
            }
            if ev.mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
                // A root renamed or deleted: its parent is not watched, so this is the only
                // word of it. The reconcile follows a rename (by the root's files under a
                // sibling name) and the resync before it re-watches a root that is back.
                if self.roots.contains(&dir) {
                    out.push(FsEvent::Rescan { scope: Some(dir) });
                }
                continue;
            }
            let path = if name.is_empty() { dir.clone() } else { dir.join(OsStr::from_bytes(name)) };
            let is_dir = ev.mask & libc::IN_ISDIR != 0;
            if ev.mask & libc::IN_MOVED_FROM != 0 {
                self.pending.insert(ev.cookie, (path, is_dir, Instant::now()));
            } else if ev.mask & libc::IN_MOVED_TO != 0 {
                match self.pending.remove(&ev.cookie) {
                    Some((from, dir_from, _)) => {
                        let d = is_dir || dir_from;
                        if d {
                            self.rebase_watches(&from, &path);
                        }
                        out.push(FsEvent::Renamed { from, to: path, dir: d });
                    }
                    None => {
                        if is_dir {
                            self.add_tree(&path);
                        }
                        out.push(FsEvent::Created { path, dir: is_dir });
                    }
                }
            } else if ev.mask & libc::IN_CREATE != 0 {
                if is_dir {
                    // Anything moved in before this watch existed was not seen: scan it.
                    self.add_tree(&path);
                    out.push(FsEvent::Created { path: path.clone(), dir: true });
                    if std::fs::read_dir(&path).map(|mut d| d.next().is_some()).unwrap_or(false) {
                        out.push(FsEvent::Rescan { scope: self.root_of(&path).or(Some(path)) });
                    }
                } else {
                    out.push(FsEvent::Created { path, dir: false });
                }
            } else if ev.mask & libc::IN_DELETE != 0 {
                out.push(FsEvent::Removed { path, dir: is_dir });
            } else if ev.mask & libc::IN_CLOSE_WRITE != 0 {
                out.push(FsEvent::Written { path });
            }
        }
    }
}

impl EventSource for Inotify {
    fn name(&self) -> &'static str {
        "inotify"
    }

    fn warning(&self) -> Option<String> {
        (self.unwatched > 0).then(|| {
            format!(
                "{} director(ies) could not be watched (raise fs.inotify.max_user_watches); \
                 changes there are caught by the periodic reconcile",
                self.unwatched
            )
        })
    }

    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<FsEvent>> {
        let mut out = Vec::new();
        let wait = if self.pending.is_empty() { timeout } else { timeout.min(PAIR_WAIT) };
        crate::sys::poll_readable(self.fd.as_raw_fd(), wait)?;
        while let Some(n) = crate::sys::read_some(self.fd.as_raw_fd(), &mut self.buf)? {
            self.parse(n, &mut out);
        }
        self.expire(&mut out, false);
        Ok(out)
    }

    fn resync(&mut self, roots: &[PathBuf]) -> std::io::Result<()> {
        self.roots = roots.to_vec();
        self.unwatched = 0;
        for r in roots {
            self.add_tree(r);
        }
        // Watches whose directory is no longer where we thought: drop them (re-adding above
        // gave every existing directory its current path).
        let stale: Vec<i32> = self.wds.iter().filter(|(_, p)| !p.is_dir()).map(|(w, _)| *w).collect();
        for w in stale {
            // SAFETY: removing a watch descriptor from our own inotify instance.
            unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), w) };
            self.wds.remove(&w);
        }
        Ok(())
    }
}
