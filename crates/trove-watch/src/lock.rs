//! One watcher per index: an advisory `flock` on `<index>.watch.lock`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Held for the daemon's lifetime; released by the kernel when the process ends, however it
/// ends.
pub struct WatchLock {
    _file: File,
}

pub fn lock_path(index: &Path) -> PathBuf {
    let mut s = index.as_os_str().to_owned();
    s.push(".watch.lock");
    PathBuf::from(s)
}

/// Takes the lock, or says it is taken.
pub fn acquire(index: &Path) -> std::io::Result<Option<WatchLock>> {
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(index))?;
    // SAFETY: flock on a file descriptor we own and keep open; no memory is passed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(Some(WatchLock { _file: f }));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(None) } else { Err(e) }
}
