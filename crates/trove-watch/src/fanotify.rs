//! fanotify with filesystem marks: every rename on a filesystem holding a root arrives as one
//! `FAN_RENAME` event carrying the old and the new (directory handle, name). Needs
//! CAP_SYS_ADMIN for `FAN_MARK_FILESYSTEM` and CAP_DAC_READ_SEARCH for `open_by_handle_at`.
//!
//! Directory handles are turned into paths through our own cache, filled by
//! `name_to_handle_at` while scanning the roots and kept current on directory creates and
//! renames: a directory deleted before its event is read can no longer be opened by handle
//! (ESTALE), but its cached path still resolves. A handle we cannot resolve at all belongs to
//! a directory created after the scan and already deleted; only a move out of a known place
//! into it needs a reconcile (see `event`). The kernel merges events (one record can be
//! `CREATE|CLOSE_WRITE|DELETE`); for such records the disk decides what happened.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{EventSource, FsEvent};

const EVENTS: u64 = libc::FAN_CREATE | libc::FAN_DELETE | libc::FAN_RENAME | libc::FAN_CLOSE_WRITE | libc::FAN_ONDIR;

/// Past this many cached directory handles, those outside the roots are dropped.
const MAX_CACHED_DIRS: usize = 500_000;

/// One info record of an event: (info type, fsid, handle type, handle bytes, name).
type Info = (u8, [i32; 2], i32, Vec<u8>, Vec<u8>);

/// fsid plus the opaque handle (type and bytes): unique for a directory across filesystems.
type Key = Vec<u8>;

pub struct Fanotify {
    fd: OwnedFd,
    roots: Vec<PathBuf>,
    /// fsid → a directory on that filesystem (opened only when a handle must be resolved,
    /// so the watcher never keeps a filesystem busy and `umount` works) and the mount id it
    /// was marked under: a filesystem mark dies with its mount, so a filesystem seen under a
    /// new mount id (unmounted and mounted again: a replugged drive) is marked anew.
    mounts: HashMap<[i32; 2], (PathBuf, u64)>,
    dirs: HashMap<Key, PathBuf>,
    buf: Vec<u8>,
}

fn cstr(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
}

fn fsid_of(p: &Path) -> std::io::Result<[i32; 2]> {
    let c = cstr(p)?;
    // SAFETY: statfs fills the zeroed struct we own; `c` outlives the call.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fsid_t is two i32s on Linux; transmute between same-size plain-data types.
    Ok(unsafe { std::mem::transmute::<libc::fsid_t, [i32; 2]>(s.f_fsid) })
}

/// The mount id of the mount `p` is on.
/// `name_to_handle_at` for a directory: (handle type, handle bytes).
fn handle_of(p: &Path) -> Option<(i32, Vec<u8>)> {
    let c = cstr(p).ok()?;
    #[repr(C)]
    struct Buf {
        bytes: u32,
        kind: i32,
        data: [u8; 128],
    }
    let mut b = Buf { bytes: 128, kind: 0, data: [0; 128] };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `b` is laid out like `struct file_handle` with MAX_HANDLE_SZ bytes of room, as
    // announced in `bytes`; `c` and `mount_id` are valid for the call.
    let r = unsafe {
        libc::name_to_handle_at(libc::AT_FDCWD, c.as_ptr(), (&raw mut b).cast::<libc::file_handle>(), &mut mount_id, 0)
    };
    if r != 0 {
        return None;
    }
    Some((b.kind, b.data[..(b.bytes as usize).min(128)].to_vec()))
}

fn key(fsid: [i32; 2], kind: i32, handle: &[u8]) -> Key {
    let mut k = Vec::with_capacity(12 + handle.len());
    k.extend_from_slice(&fsid[0].to_ne_bytes());
    k.extend_from_slice(&fsid[1].to_ne_bytes());
    k.extend_from_slice(&kind.to_ne_bytes());
    k.extend_from_slice(handle);
    k
}

impl Fanotify {
    pub fn new(roots: &[PathBuf]) -> std::io::Result<Fanotify> {
        // SAFETY: plain syscall; the result is checked and then owned.
        let fd = unsafe {
            libc::fanotify_init(
                libc::FAN_CLASS_NOTIF | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK | libc::FAN_REPORT_DFID_NAME,
                (libc::O_RDONLY | libc::O_CLOEXEC) as u32,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut me =
            Fanotify { fd, roots: Vec::new(), mounts: HashMap::new(), dirs: HashMap::new(), buf: vec![0; 256 * 1024] };
        // Probe: without CAP_SYS_ADMIN a filesystem mark is refused with EPERM. Probe on /
        // when there are no roots yet, so `auto` decides the same way either way.
        if roots.is_empty() {
            me.mark(Path::new("/"))?;
            me.unmark_all();
        }
        me.resync(roots)?;
        Ok(me)
    }

    fn mark(&mut self, p: &Path) -> std::io::Result<()> {
        let fsid = fsid_of(p)?;
        let mount_id = crate::sys::mount_id(p).unwrap_or(0);
        if self.mounts.get(&fsid).is_some_and(|(_, m)| *m == mount_id) {
            return Ok(());
        }
        let c = cstr(p)?;
        // SAFETY: valid fanotify descriptor and NUL-terminated path for the call.
        let r = unsafe {
            libc::fanotify_mark(
                self.fd.as_raw_fd(),
                libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM,
                EVENTS,
                libc::AT_FDCWD,
                c.as_ptr(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.mounts.insert(fsid, (p.to_path_buf(), mount_id));
        Ok(())
    }

    /// Drops every filesystem mark (after the probe, so an idle watcher with no roots reads
    /// no events).
    fn unmark_all(&mut self) {
        for (p, _) in std::mem::take(&mut self.mounts).into_values() {
            if let Ok(c) = cstr(&p) {
                // SAFETY: valid fanotify descriptor and NUL-terminated path for the call.
                unsafe {
                    libc::fanotify_mark(
                        self.fd.as_raw_fd(),
                        libc::FAN_MARK_REMOVE | libc::FAN_MARK_FILESYSTEM,
                        EVENTS,
                        libc::AT_FDCWD,
                        c.as_ptr(),
                    )
                };
            }
        }
    }

    fn cache_tree(&mut self, dir: &Path) {
        let Ok(fsid) = fsid_of(dir) else { return };
        for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().flatten() {
            if e.file_type().is_dir() {
                // Directories on other filesystems below a root have their own fsid.
                let f = if e.depth() == 0 { fsid } else { fsid_of(e.path()).unwrap_or(fsid) };
                if let Some((kind, h)) = handle_of(e.path()) {
                    self.dirs.insert(key(f, kind, &h), e.path().to_path_buf());
                }
            }
        }
    }

    /// Resolves a directory handle: cache first, then the kernel.
    fn resolve(&mut self, fsid: [i32; 2], kind: i32, handle: &[u8]) -> Option<PathBuf> {
        let k = key(fsid, kind, handle);
        if let Some(p) = self.dirs.get(&k) {
            return Some(p.clone());
        }
        let mount_path = cstr(&self.mounts.get(&fsid)?.0).ok()?;
        // SAFETY: open(2) with a valid path; checked, then owned and closed on return.
        let mfd = unsafe { libc::open(mount_path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if mfd < 0 {
            return None;
        }
        // SAFETY: fresh descriptor.
        let mount = unsafe { OwnedFd::from_raw_fd(mfd) };
        let mut buf = vec![0u8; 8 + handle.len()];
        buf[..4].copy_from_slice(&(handle.len() as u32).to_ne_bytes());
        buf[4..8].copy_from_slice(&kind.to_ne_bytes());
        buf[8..].copy_from_slice(handle);
        // SAFETY: `buf` holds a complete struct file_handle (header + handle bytes); the
        // returned descriptor is checked and closed by OwnedFd.
        let fd = unsafe {
            libc::open_by_handle_at(
                mount.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::file_handle>(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let p = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        // A deleted directory reads back as "… (deleted)": not a usable path.
        if p.as_os_str().as_bytes().ends_with(b" (deleted)") && !p.exists() {
            return None;
        }
        self.dirs.insert(k, p.clone());
        if self.dirs.len() > MAX_CACHED_DIRS {
            // Directories outside the roots were only cached to filter their events: forget
            // them rather than grow without bound on a busy filesystem.
            let roots = self.roots.clone();
            self.dirs.retain(|_, d| roots.iter().any(|r| d.starts_with(r)));
        }
        Some(p)
    }

    fn rebase_dirs(&mut self, from: &Path, to: &Path) {
        for p in self.dirs.values_mut() {
            if let Some(n) = trove_core::paths::rebase(p, from, to) {
                *p = n;
            }
        }
    }

    fn in_roots(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| p.starts_with(r))
    }

    /// Parses one event record into events.
    fn event(&mut self, mask: u64, infos: &[Info], out: &mut Vec<FsEvent>) {
        let is_dir = mask & libc::FAN_ONDIR != 0;
        let mut old = None;
        let mut new = None;
        let mut here = None;
        let mut unresolved = false;
        for (t, fsid, kind, handle, name) in infos {
            let Some(dir) = self.resolve(*fsid, *kind, handle) else {
                unresolved = true;
                continue;
            };
            let path = if name.is_empty() || name == b"." { dir } else { dir.join(OsStr::from_bytes(name)) };
            match *t {
                libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME => old = Some(path),
                libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME => new = Some(path),
                libc::FAN_EVENT_INFO_TYPE_DFID_NAME => here = Some(path),
                _ => {}
            }
        }
        if unresolved {
            // A directory we never cached and can no longer open: it was created after our
            // scan and is already gone. Nothing indexed can live there, except files moved in
            // and out of it: a move out of a known place into it asks for a reconcile of that
            // place's root; a move from it into a known place is a file arriving. Creates,
            // writes and deletes inside it (usually a program's temp directory, often outside
            // every root) are dropped instead of costing a reconcile each.
            if mask & libc::FAN_RENAME != 0 {
                match (old, new) {
                    (Some(from), None) if self.in_roots(&from) => out.push(FsEvent::Rescan { scope: Some(from) }),
                    (None, Some(to)) => out.push(FsEvent::Created { path: to, dir: is_dir }),
                    _ => {}
                }
            }
            return;
        }
        if mask & libc::FAN_RENAME != 0 {
            match (old, new) {
                (Some(from), Some(to)) => {
                    if is_dir {
                        self.rebase_dirs(&from, &to);
                    }
                    out.push(FsEvent::Renamed { from, to, dir: is_dir });
                }
                (Some(from), None) => out.push(FsEvent::Removed { path: from, dir: is_dir }),
                (None, Some(to)) => out.push(FsEvent::Created { path: to, dir: is_dir }),
                (None, None) => {}
            }
        }
        let Some(path) = here else { return };
        let create = mask & libc::FAN_CREATE != 0;
        let delete = mask & libc::FAN_DELETE != 0;
        let write = mask & libc::FAN_CLOSE_WRITE != 0;
        if create && is_dir && self.in_roots(&path) {
            self.cache_tree(&path);
        }
        if create && delete {
            // Merged: created and deleted, in some order. The disk says which came last.
            if std::fs::symlink_metadata(&path).is_ok() {
                out.push(FsEvent::Created { path: path.clone(), dir: is_dir });
                if !is_dir {
                    out.push(FsEvent::Written { path });
                }
            } else {
                out.push(FsEvent::Removed { path, dir: is_dir });
            }
            return;
        }
        if create {
            out.push(FsEvent::Created { path: path.clone(), dir: is_dir });
        }
        if write {
            out.push(FsEvent::Written { path: path.clone() });
        }
        if delete {
            out.push(FsEvent::Removed { path, dir: is_dir });
        }
    }

    fn parse(&mut self, n: usize, out: &mut Vec<FsEvent>) {
        let meta_size = std::mem::size_of::<libc::fanotify_event_metadata>();
        let mut off = 0;
        while off + meta_size <= n {
            // SAFETY: the kernel wrote whole event records; read_unaligned copes with the
            // buffer's alignment.
            let m: libc::fanotify_event_metadata =
                unsafe { std::ptr::read_unaligned(self.buf.as_ptr().add(off).cast()) };
            let len = m.event_len as usize;
            if len < meta_size || off + len > n {
                break;
            }
            if m.fd >= 0 {
                // SAFETY: an event fd (not expected with FID reporting) is ours to close.
                unsafe { libc::close(m.fd) };
            }
            if m.mask & libc::FAN_Q_OVERFLOW != 0 {
                out.push(FsEvent::Rescan { scope: None });
                off += len;
                continue;
            }
            let mut infos = Vec::new();
            let mut i = off + m.metadata_len as usize;
            let end = off + len;
            while i + 4 <= end {
                let t = self.buf[i];
                let ilen = u16::from_ne_bytes([self.buf[i + 2], self.buf[i + 3]]) as usize;
                if ilen < 4 || i + ilen > end {
                    break;
                }
                let rec = &self.buf[i..i + ilen];
                // header(4) fsid(8) handle_bytes(4) handle_type(4) handle[..] name\0
                if rec.len() >= 20 {
                    let fsid = [
                        i32::from_ne_bytes(rec[4..8].try_into().unwrap_or([0; 4])),
                        i32::from_ne_bytes(rec[8..12].try_into().unwrap_or([0; 4])),
                    ];
                    let hb = u32::from_ne_bytes(rec[12..16].try_into().unwrap_or([0; 4])) as usize;
                    let kind = i32::from_ne_bytes(rec[16..20].try_into().unwrap_or([0; 4]));
                    let hend = (20 + hb).min(rec.len());
                    let handle = rec[20..hend].to_vec();
                    let tail = &rec[hend..];
                    let name = tail[..tail.iter().position(|&b| b == 0).unwrap_or(tail.len())].to_vec();
                    infos.push((t, fsid, kind, handle, name));
                }
                i += ilen;
            }
            self.event(m.mask, &infos, out);
            off += len;
        }
    }
}

impl EventSource for Fanotify {
    fn name(&self) -> &'static str {
        "fanotify"
    }

    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<FsEvent>> {
        let mut out = Vec::new();
        crate::sys::poll_readable(self.fd.as_raw_fd(), timeout)?;
        while let Some(n) = crate::sys::read_some(self.fd.as_raw_fd(), &mut self.buf)? {
            self.parse(n, &mut out);
            if out.len() > 50_000 {
                break;
            }
        }
        Ok(out)
    }

    fn resync(&mut self, roots: &[PathBuf]) -> std::io::Result<()> {
        self.roots = roots.to_vec();
        for r in roots {
            if r.is_dir() {
                self.mark(r)?;
                self.cache_tree(r);
            }
        }
        Ok(())
    }
}
