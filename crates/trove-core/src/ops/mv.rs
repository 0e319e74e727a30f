//! `mv`: move or rename files and directories on disk and update the index in the same step.
//!
//! Policy, in order of importance:
//! 1. Nothing is lost. On one filesystem the index update and the `rename(2)` happen inside
//!    one write transaction; if the rename fails the transaction rolls back, and if the commit
//!    fails the rename is undone. Across filesystems the data is copied to a temporary name
//!    beside the destination, fsynced and verified by BLAKE3 against the source, then the
//!    index is updated together with the rename of the copy into place, and only then is the
//!    source deleted.
//! 2. `mv`-like: `mv SRC DST` renames; `mv SRC... DIR` moves into DIR. An existing
//!    destination file is replaced only with `force`; its record (if any) becomes missing,
//!    tags kept.
//! 3. Paths are bytes; directory contents are found by byte-prefix range, never `LIKE`.

use std::cell::Cell;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::hash::hash_file;
use crate::model::{FileId, FileState, Observation, now_unix};
use crate::ops::disk::overwritten;
use crate::paths::rebase;
use crate::store::files;
use crate::{Error, Index, Result};

/// What [`mv`] did: moves on disk and the records that followed them.
#[derive(Debug, Default)]
pub struct MoveReport {
    /// (from, to) for every source moved.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Records whose path changed.
    pub records: usize,
    /// Sources that had to be copied across filesystems.
    pub copied: usize,
    /// Records of replaced destination files, now missing.
    pub replaced: usize,
    /// Temporary copies left by a killed `trove mv` (found beside a destination), removed.
    pub cleaned: Vec<PathBuf>,
    /// Sources that were not moved, each with its reason; the others were.
    pub failed: Vec<Error>,
}

/// Moves `srcs` to `dst` (all absolute).
pub fn mv(index: &mut Index, srcs: &[PathBuf], dst: &Path, force: bool) -> Result<MoveReport> {
    let dst_is_dir = fs::metadata(dst).map(|m| m.is_dir()).unwrap_or(false);
    if srcs.len() > 1 && !dst_is_dir {
        return Err(Error::NotADirectory(dst.to_path_buf()));
    }
    let mut report = MoveReport::default();
    // A killed cross-filesystem move leaves its unverified copy beside the destination.
    let dst_dir = if dst_is_dir { Some(dst) } else { dst.parent() };
    if let Some(d) = dst_dir {
        for t in leftover_temps(d) {
            let gone = if t.is_dir() { fs::remove_dir_all(&t) } else { fs::remove_file(&t) };
            match gone {
                Ok(()) => report.cleaned.push(t),
                Err(e) => report.failed.push(Error::io(&t, e)),
            }
        }
    }
    for src in srcs {
        let target = if dst_is_dir {
            match src.file_name() {
                Some(n) => dst.join(n),
                None => {
                    report.failed.push(Error::CannotMove(src.to_path_buf()));
                    continue;
                }
            }
        } else {
            dst.to_path_buf()
        };
        match move_one(index, src, &target, force, &mut report) {
            Ok(()) => report.moved.push((src.clone(), target)),
            Err(e) => report.failed.push(e),
        }
    }
    Ok(report)
}

fn move_one(index: &mut Index, src: &Path, target: &Path, force: bool, report: &mut MoveReport) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    if src == target {
        return Err(Error::SameSourceAndDestination(src.to_path_buf()));
    }
    let is_dir = meta.is_dir();
    if is_dir && target.starts_with(src) {
        return Err(Error::IntoItself(src.to_path_buf()));
    }
    if let Ok(tm) = fs::symlink_metadata(target) {
        if tm.is_dir() && !is_dir {
            return Err(Error::WouldReplaceDirectory(target.to_path_buf()));
        }
        if tm.is_dir() || !force {
            return Err(Error::DestinationExists(target.to_path_buf()));
        }
    }
    if let Some(parent) = target.parent()
        && !parent.is_dir()
    {
        return Err(Error::NotADirectory(parent.to_path_buf()));
    }

    // Which records move: the file's own, or every record under the directory.
    let moving: Vec<(FileId, PathBuf)> = if is_dir {
        files::under(index.conn(), src)?
            .into_iter()
            .filter_map(|r| rebase(&r.path, src, target).map(|n| (r.id, n)))
            .collect()
    } else {
        files::live_by_path(index.conn(), src)?.map(|r| (r.id, target.to_path_buf())).into_iter().collect()
    };

    let same_fs =
        fs::metadata(target.parent().unwrap_or(Path::new("/"))).map(|m| m.dev() == meta.dev()).unwrap_or(true);
    if same_fs {
        let renamed = Cell::new(false);
        let res = index.write(|tx| {
            let replaced = update_records(tx, &moving, None)?;
            match fs::rename(src, target) {
                Ok(()) => {
                    renamed.set(true);
                    Ok(replaced)
                }
                Err(e) => Err(Error::io(src, e)),
            }
        });
        match res {
            Ok(replaced) => {
                report.records += moving.len();
                report.replaced += replaced;
                return Ok(());
            }
            Err(Error::Io { ref source, .. }) if source.raw_os_error() == Some(libc::EXDEV) => {}
            Err(e) => {
                if renamed.get() {
                    // The commit failed after the rename: put the file back.
                    let _ = fs::rename(target, src);
                }
                return Err(e);
            }
        }
    }
    copy_across(index, src, target, is_dir, &moving, report)
}

/// Reads a fresh observation of a moved file from its new path.
type Observe<'a> = dyn Fn(&Path) -> Result<Observation> + 'a;

/// Points the moving records at their new paths. A live record already sitting at a new
/// path (a replaced file, or a stale record) becomes missing first. `observe` supplies a new
/// observation per record when the file's identity on disk changed (a copy).
fn update_records(
    tx: &crate::store::WriteTx<'_>,
    moving: &[(FileId, PathBuf)],
    observe: Option<&Observe<'_>>,
) -> Result<usize> {
    let mut replaced = 0;
    let ids: std::collections::HashSet<FileId> = moving.iter().map(|m| m.0).collect();
    let now = now_unix();
    for (_, new) in moving {
        if let Some(other) = overwritten(files::live_by_path(tx, new)?.as_ref(), |id| ids.contains(&id)) {
            files::set_state(tx, other, FileState::Missing)?;
            replaced += 1;
        }
    }
    files::park(tx, moving.iter().map(|m| m.0))?;
    for (id, new) in moving {
        files::set_path(tx, *id, new)?;
        if let Some(f) = observe {
            let rec = files::by_id(tx, *id)?;
            if let Some(rec) = rec
                && rec.state == FileState::Present
            {
                let o = f(new)?;
                files::update_observation(tx, *id, &o, now)?;
            }
        }
    }
    Ok(replaced)
}

/// The prefix of a cross-filesystem move's temporary copy: `.trove-mv-PID-NAME`.
pub const TEMP_PREFIX: &[u8] = b".trove-mv-";

/// The pid in a temporary copy's name, if `name` is one.
pub fn temp_owner(name: &[u8]) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    std::str::from_utf8(&rest[..dash]).ok()?.parse().ok()
}

/// Temporary copies in `dir` whose `trove mv` is no longer running (a live one is mid-copy).
pub fn leftover_temps(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| {
            temp_owner(e.file_name().as_bytes())
                .is_some_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn temp_name(target: &Path) -> PathBuf {
    let mut name = TEMP_PREFIX.to_vec();
    name.extend_from_slice(std::process::id().to_string().as_bytes());
    name.push(b'-');
    let base = target.file_name().map_or(&b"x"[..], |n| n.as_bytes());
    name.extend_from_slice(&base[..base.len().min(180)]);
    target.with_file_name(std::ffi::OsStr::from_bytes(&name))
}

/// Copies one regular file with its permissions and mtime, fsyncs it, and checks that the
/// copy hashes like the source. Returns the source hash.
fn copy_file_verified(from: &Path, to: &Path) -> Result<crate::Hash> {
    let src_hash = hash_file(from)?.hash;
    fs::copy(from, to).map_err(|e| Error::io(to, e))?;
    let meta = fs::metadata(from).map_err(|e| Error::io(from, e))?;
    let f = fs::OpenOptions::new().write(true).open(to).map_err(|e| Error::io(to, e))?;
    let times = fs::FileTimes::new().set_modified(meta.modified().map_err(|e| Error::io(from, e))?);
    f.set_times(times).map_err(|e| Error::io(to, e))?;
    f.sync_all().map_err(|e| Error::io(to, e))?;
    drop(f);
    let copy_hash = hash_file(to)?.hash;
    if copy_hash != src_hash {
        return Err(Error::CopyMismatch(from.to_path_buf()));
    }
    Ok(src_hash)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io(from, e))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        fs::create_dir(to).map_err(|e| Error::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
            let entry = entry.map_err(|e| Error::io(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        fs::set_permissions(to, meta.permissions()).map_err(|e| Error::io(to, e))?;
    } else if ft.is_symlink() {
        let link = fs::read_link(from).map_err(|e| Error::io(from, e))?;
        std::os::unix::fs::symlink(link, to).map_err(|e| Error::io(to, e))?;
    } else if ft.is_file() {
        copy_file_verified(from, to)?;
    } else {
        return Err(Error::NotRegular { path: from.to_path_buf(), kind: crate::hash::kind_of(&ft) });
    }
    Ok(())
}

fn copy_across(
    index: &mut Index,
    src: &Path,
    target: &Path,
    is_dir: bool,
    moving: &[(FileId, PathBuf)],
    report: &mut MoveReport,
) -> Result<()> {
    let tmp = temp_name(target);
    let cleanup = |p: &Path| {
        let _ = if is_dir { fs::remove_dir_all(p) } else { fs::remove_file(p) };
    };
    if let Err(e) = copy_tree(src, &tmp) {
        cleanup(&tmp);
        return Err(e);
    }
    // Observations are read from the copy at its temporary place, then re-rooted.
    let observe = |new: &Path| -> Result<Observation> {
        let at = rebase(new, target, &tmp).unwrap_or_else(|| tmp.clone());
        hash_file(&at)
    };
    let renamed = Cell::new(false);
    let res = index.write(|tx| {
        let replaced = update_records(tx, moving, Some(&observe))?;
        fs::rename(&tmp, target).map_err(|e| Error::io(target, e))?;
        renamed.set(true);
        Ok(replaced)
    });
    match res {
        Ok(replaced) => {
            report.records += moving.len();
            report.replaced += replaced;
            report.copied += 1;
            // Only now, with the copy in place and the index committed, the source goes.
            let gone = if is_dir { fs::remove_dir_all(src) } else { fs::remove_file(src) };
            gone.map_err(|e| Error::io(src, e))
        }
        Err(e) => {
            if renamed.get() {
                cleanup(target);
            } else {
                cleanup(&tmp);
            }
            Err(e)
        }
    }
}
