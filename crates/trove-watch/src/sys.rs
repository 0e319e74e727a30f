//! The two syscalls both event sources read through.

use std::os::fd::RawFd;
use std::time::Duration;

/// Waits up to `timeout` for `fd` to become readable (an interrupted wait is not an error).
pub fn poll_readable(fd: RawFd, timeout: Duration) -> std::io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis().min(i32::MAX as u128) as i32) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// One non-blocking read into `buf`: `Some(n)` bytes, or `None` when nothing more is ready.
pub fn read_some(fd: RawFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    // SAFETY: reading into a buffer we own, of the stated length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(None);
        }
        return Err(e);
    }
    Ok((n > 0).then_some(n as usize))
}

/// What tells one directory from another at the same path: device, inode, birth time and
/// the mount it is on. The inode alone is not enough: a directory deleted and made again
/// often gets the same inode number back, and a filesystem unmounted and mounted again the
/// same device and root inode; the birth time and the mount id (`STATX_MNT_ID_UNIQUE`, never
/// reused, Linux 6.8+) tell them apart.
pub type DirId = (u64, u64, i64, u32, u64);

pub fn dir_identity(p: &std::path::Path) -> Option<DirId> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx fills the zeroed struct we own; `c` is a valid C string for the call.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_INO | libc::STATX_BTIME | libc::STATX_MNT_ID_UNIQUE | libc::STATX_MNT_ID;
    let r = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, mask, &mut st) };
    if r != 0 || u32::from(st.stx_mode) & libc::S_IFMT != libc::S_IFDIR {
        return None;
    }
    let dev = libc::makedev(st.stx_dev_major, st.stx_dev_minor);
    Some((dev, st.stx_ino, st.stx_btime.tv_sec, st.stx_btime.tv_nsec, st.stx_mnt_id))
}

/// A mount's identity that is never reused (see [`dir_identity`]).
pub fn mount_id(p: &std::path::Path) -> Option<u64> {
    dir_identity(p).map(|d| d.4)
}
