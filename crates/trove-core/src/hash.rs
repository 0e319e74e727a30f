//! Content hashing: plain BLAKE3 over the whole file, so `b3sum` agrees, and SHA-256 in the
//! same read (so `sha256sum` agrees; the Hydrus API names files by it).
//!
//! Hazards handled here: a path that became a FIFO or device between the walk and the open
//! (opened with `O_NONBLOCK | O_NOFOLLOW` and checked with `fstat` before any read, so we
//! never block on a FIFO nor follow a symlink), and a file that changes while it is read
//! (size/mtime compared before and after; one retry, then an error).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::model::{Hash, Observation, Stat};
use crate::{Error, Result};

/// Files at least this big are read in large chunks and hashed with several threads.
const LARGE_THRESHOLD: u64 = 8 << 20;

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

/// Bytes read at each of the three fingerprint samples.
const SAMPLE: u64 = 4096;

/// The sampled fingerprint of an open file of `size` bytes: BLAKE3 over the size and the
/// first, middle and last 4 KiB, truncated to 8 bytes. Three small reads, whatever the size.
pub fn fingerprint_of(f: &File, size: u64) -> std::io::Result<i64> {
    use std::os::unix::fs::FileExt;
    let mut h = blake3::Hasher::new();
    h.update(&size.to_le_bytes());
    let mut buf = vec![0u8; SAMPLE as usize];
    let offsets = [0, size.saturating_sub(SAMPLE) / 2, size.saturating_sub(SAMPLE)];
    for off in offsets {
        let want = SAMPLE.min(size.saturating_sub(off)) as usize;
        let mut got = 0;
        while got < want {
            match f.read_at(&mut buf[got..want], off + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        h.update(&buf[..got]);
    }
    let b = h.finalize();
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&b.as_bytes()[..8]);
    Ok(i64::from_le_bytes(eight))
}

/// The sampled fingerprint of bytes in memory: the same value [`fingerprint_of`] gives for a
/// file holding them (tests and in-memory disk models).
pub fn fingerprint_bytes(b: &[u8]) -> i64 {
    let size = b.len() as u64;
    let mut h = blake3::Hasher::new();
    h.update(&size.to_le_bytes());
    for off in [0, size.saturating_sub(SAMPLE) / 2, size.saturating_sub(SAMPLE)] {
        let end = (off + SAMPLE).min(size);
        h.update(&b[off as usize..end as usize]);
    }
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&h.finalize().as_bytes()[..8]);
    i64::from_le_bytes(eight)
}

/// The fingerprint of the file at `path` (opened safely, see [`open_regular`]).
pub fn fingerprint_file(path: &Path) -> Result<(Stat, i64)> {
    let (f, m) = open_regular(path)?;
    let stat = Stat::from_metadata(&m);
    Ok((stat, fingerprint_of(&f, stat.size).map_err(|e| Error::io(path, e))?))
}

/// Bytes read at a time: small files with one buffer, large ones in bigger chunks hashed by
/// both hashers at once (BLAKE3 on the pool's threads, SHA-256 on one).
const SMALL_CHUNK: usize = 64 * 1024;
const LARGE_CHUNK: usize = 4 << 20;

/// Hashes a file and returns the observation that goes with the hash: BLAKE3 and SHA-256
/// from the same read of the bytes.
pub fn hash_file(path: &Path) -> Result<Observation> {
    use sha2::Digest;
    for _ in 0..2 {
        let (mut f, m) = open_regular(path)?;
        let before = Stat::from_metadata(&m);
        let mut h = blake3::Hasher::new();
        let mut sha = sha2::Sha256::new();
        let large = before.size >= LARGE_THRESHOLD;
        let mut buf = vec![0u8; if large { LARGE_CHUNK } else { SMALL_CHUNK }];
        loop {
            let n = read_full(&mut f, &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            if large {
                rayon::join(
                    || {
                        h.update_rayon(chunk);
                    },
                    || sha.update(chunk),
                );
            } else {
                h.update(chunk);
                sha.update(chunk);
            }
        }
        let fp = fingerprint_of(&f, before.size).map_err(|e| Error::io(path, e))?;
        let after = Stat::from_metadata(&f.metadata().map_err(|e| Error::io(path, e))?);
        if after == before {
            return Ok(Observation {
                stat: before,
                hash: Hash(*h.finalize().as_bytes()),
                fingerprint: fp,
                sha256: Some(sha.finalize().into()),
            });
        }
    }
    Err(Error::ChangedWhileHashing(path.to_path_buf()))
}

/// [`hash_file`], and the file's bytes when it is at most `keep` bytes long: read once, so
/// the caller's metadata extractor parses them instead of reading the file again. Larger
/// files are hashed as [`hash_file`] does and come without bytes.
pub fn hash_file_keeping(path: &Path, keep: u64) -> Result<(Observation, Option<Vec<u8>>)> {
    use sha2::Digest;
    for _ in 0..2 {
        let (f, m) = open_regular(path)?;
        let before = Stat::from_metadata(&m);
        if before.size > keep {
            drop(f);
            return hash_file(path).map(|o| (o, None));
        }
        let mut bytes = Vec::with_capacity(before.size as usize + 1);
        (&f).take(keep + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        let after = Stat::from_metadata(&f.metadata().map_err(|e| Error::io(path, e))?);
        if after == before && bytes.len() as u64 == before.size {
            let o = Observation {
                stat: before,
                hash: Hash(*blake3::hash(&bytes).as_bytes()),
                fingerprint: fingerprint_bytes(&bytes),
                sha256: Some(sha2::Sha256::digest(&bytes).into()),
            };
            return Ok((o, Some(bytes)));
        }
    }
    Err(Error::ChangedWhileHashing(path.to_path_buf()))
}

/// Fills `buf` as far as the file goes; returns the bytes read (0 at the end).
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// SHA-256 of a byte slice (tests and in-memory disk models).
pub fn sha256_bytes(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// BLAKE3 of a byte slice (tests and copies).
pub fn hash_bytes(b: &[u8]) -> Hash {
    Hash(*blake3::hash(b).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Include hashes small files with [`hash_file_keeping`] when it extracts metadata: the
    /// record must be the one [`hash_file`] gives (hash, SHA-256, fingerprint, stat), and the
    /// bytes handed on exactly the file's, only up to the size asked.
    #[test]
    fn hashing_while_keeping_the_bytes_gives_the_same_observation() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 4095, 4096, 9000, 65_536, 70_000, 300_000] {
            let p = dir.path().join(format!("f{size}"));
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            std::fs::write(&p, &data).unwrap();
            let plain = hash_file(&p).unwrap();
            let (kept, bytes) = hash_file_keeping(&p, 256 << 10).unwrap();
            assert_eq!(kept, plain, "{size}");
            if size <= 256 << 10 {
                assert_eq!(bytes.as_deref(), Some(&data[..]), "{size}");
            } else {
                assert_eq!(bytes, None, "{size}");
            }
            assert_eq!(hash_file_keeping(&p, 0).unwrap().1.is_some(), size == 0);
        }
    }
}
