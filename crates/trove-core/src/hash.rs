//! Content hashing: plain BLAKE3 over the whole file, so `b3sum` agrees.
//!
//! Hazards handled here: a path that became a FIFO or device between the walk and the open
//! (opened with `O_NONBLOCK | O_NOFOLLOW` and checked with `fstat` before any read, so we
//! never block on a FIFO nor follow a symlink), and a file that changes while it is read
//! (size/mtime compared before and after; one retry, then an error).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::model::{Hash, Stat};
use crate::{Error, Result};

/// Files at least this big are hashed with memory mapping and several threads.
const MMAP_THRESHOLD: u64 = 8 << 20;

/// Opens `path` without following a final symlink or blocking on a FIFO; refuses anything
/// but a regular file.
pub fn open_regular(path: &Path) -> Result<(File, std::fs::Metadata)> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::NotRegular { path: path.to_path_buf(), kind: "symlink" }
            } else {
                Error::io(path, e)
            }
        })?;
    let m = f.metadata().map_err(|e| Error::io(path, e))?;
    if !m.file_type().is_file() {
        return Err(Error::NotRegular { path: path.to_path_buf(), kind: kind_of(&m.file_type()) });
    }
    Ok((f, m))
}

/// A short word for a file type, for messages.
pub fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else if t.is_file() {
        "file"
    } else {
        "special file"
    }
}

/// Hashes a file and returns the observation that goes with the hash.
pub fn hash_file(path: &Path) -> Result<(Stat, Hash)> {
    for _ in 0..2 {
        let (mut f, m) = open_regular(path)?;
        let before = Stat::from_metadata(&m);
        let mut h = blake3::Hasher::new();
        if before.size >= MMAP_THRESHOLD {
            h.update_mmap_rayon(path).map_err(|e| Error::io(path, e))?;
        } else {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io(path, e)),
                };
                h.update(&buf[..n]);
            }
        }
        let after = Stat::from_metadata(&f.metadata().map_err(|e| Error::io(path, e))?);
        if after == before {
            return Ok((before, Hash(*h.finalize().as_bytes())));
        }
    }
    Err(Error::ChangedWhileHashing(path.to_path_buf()))
}

/// BLAKE3 of a byte slice (tests and copies).
pub fn hash_bytes(b: &[u8]) -> Hash {
    Hash(*blake3::hash(b).as_bytes())
}
