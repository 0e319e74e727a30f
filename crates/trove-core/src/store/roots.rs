//! Roots (directories trove keeps current) and the watcher's status row.

use super::WriteTx;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::paths::from_bytes;

/// A directory trove keeps current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The root's row id.
    pub id: i64,
    /// The directory, absolute and canonical when added; bytes.
    pub path: PathBuf,
    /// The filesystem it was on when added.
    pub device: u64,
    /// When it became a root, seconds since the epoch.
    pub added_at: i64,
    /// Whether files that appear under it are indexed on their own (watcher, reconcile).
    pub auto_include: bool,
}

pub fn list(c: &Connection) -> Result<Vec<Root>> {
    let mut st = c.prepare_cached("SELECT id, path, device, added_at, auto_include FROM roots ORDER BY path")?;
    let v = st
        .query_map([], |r| {
            Ok(Root {
                id: r.get(0)?,
                path: from_bytes(&r.get::<_, Vec<u8>>(1)?),
                device: r.get::<_, i64>(2)? as u64,
                added_at: r.get(3)?,
                auto_include: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// Adds a root; false if it was there already (its device is refreshed).
pub fn add(c: &WriteTx<'_>, path: &Path, device: u64, now: i64) -> Result<bool> {
    let b = path.as_os_str().as_bytes();
    let exists: Option<i64> =
        c.prepare_cached("SELECT id FROM roots WHERE path = ?1")?.query_row([b], |r| r.get(0)).optional()?;
    if exists.is_some() {
        c.prepare_cached("UPDATE roots SET device = ?2 WHERE path = ?1")?.execute(params![b, device as i64])?;
        return Ok(false);
    }
    c.prepare_cached("INSERT INTO roots (path, device, added_at) VALUES (?1, ?2, ?3)")?.execute(params![
        b,
        device as i64,
        now
    ])?;
    Ok(true)
}

pub fn remove(c: &WriteTx<'_>, path: &Path) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM roots WHERE path = ?1")?.execute([path.as_os_str().as_bytes()])? > 0)
}

/// Turns auto-include on or off for the root at `path`; false if there is no such root.
pub fn set_auto_include(c: &WriteTx<'_>, path: &Path, on: bool) -> Result<bool> {
    Ok(c.prepare_cached("UPDATE roots SET auto_include = ?2 WHERE path = ?1")?
        .execute(params![path.as_os_str().as_bytes(), on])?
        > 0)
}

/// Moves the root at `from` to `to`; false if there is no root at `from`.
pub fn set_path(c: &WriteTx<'_>, from: &Path, to: &Path, device: u64) -> Result<bool> {
    Ok(c.prepare_cached("UPDATE roots SET path = ?2, device = ?3 WHERE path = ?1")?.execute(params![
        from.as_os_str().as_bytes(),
        to.as_os_str().as_bytes(),
        device as i64
    ])? > 0)
}

/// Re-roots every root at or under `from` at `to` (a renamed root, or a renamed directory
/// holding roots); returns how many moved.
pub fn rebase(c: &WriteTx<'_>, from: &Path, to: &Path) -> Result<usize> {
    let mut n = 0;
    for r in list(c)? {
        if let Some(new) = crate::paths::rebase(&r.path, from, to) {
            let nb = new.as_os_str().as_bytes();
            let taken: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM roots WHERE path = ?1)")?
                .query_row([nb], |r| r.get(0))?;
            if taken {
                // Already a root by its new name: the old entry is the stale one.
                c.prepare_cached("DELETE FROM roots WHERE id = ?1")?.execute([r.id])?;
            } else {
                c.prepare_cached("UPDATE roots SET path = ?2 WHERE id = ?1")?.execute(params![r.id, nb])?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// The global ignore list (gitignore syntax), in the order added.
pub fn ignore_patterns(c: &Connection) -> Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT pattern FROM ignore_patterns ORDER BY added_at, rowid")?;
    let v = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(v)
}

/// Adds a global ignore pattern; false if it was there already.
pub fn add_ignore(c: &WriteTx<'_>, pattern: &str, now: i64) -> Result<bool> {
    Ok(c.prepare_cached("INSERT OR IGNORE INTO ignore_patterns (pattern, added_at) VALUES (?1, ?2)")?
        .execute(params![pattern, now])?
        > 0)
}

/// Removes a global ignore pattern; false if there was no such pattern.
pub fn remove_ignore(c: &WriteTx<'_>, pattern: &str) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM ignore_patterns WHERE pattern = ?1")?.execute([pattern])? > 0)
}

/// What `trove watch --status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStatus {
    /// The watcher's process id.
    pub pid: u32,
    /// The event source it uses: `fanotify` or `inotify`.
    pub backend: String,
    /// When it started, seconds since the epoch.
    pub started_at: i64,
    /// Its last heartbeat, seconds since the epoch (see `is_fresh`).
    pub heartbeat_at: i64,
    /// Filesystem events handled since it started.
    pub events: u64,
    /// The last event handled, described ([`crate::ops::track::FsEvent::describe`]).
    pub last_event: Option<String>,
    /// When that event was handled, seconds since the epoch.
    pub last_event_at: Option<i64>,
    /// How long the last batch took from reading its events to storing them, in
    /// milliseconds.
    pub lag_ms: u64,
    /// Whether the watcher said it stopped (a killed one cannot; see its heartbeat).
    pub stopped: bool,
}

pub fn watch_status(c: &Connection) -> Result<Option<WatchStatus>> {
    Ok(c.prepare_cached(
        "SELECT pid, backend, started_at, heartbeat_at, events, last_event, last_event_at, lag_ms, stopped
         FROM watch_status WHERE id = 1",
    )?
    .query_row([], |r| {
        Ok(WatchStatus {
            pid: r.get::<_, i64>(0)? as u32,
            backend: r.get(1)?,
            started_at: r.get(2)?,
            heartbeat_at: r.get(3)?,
            events: r.get::<_, i64>(4)? as u64,
            last_event: r.get(5)?,
            last_event_at: r.get(6)?,
            lag_ms: r.get::<_, i64>(7)? as u64,
            stopped: r.get(8)?,
        })
    })
    .optional()?)
}

pub fn watch_started(c: &WriteTx<'_>, pid: u32, backend: &str, now: i64) -> Result<()> {
    c.execute(
        "INSERT INTO watch_status (id, pid, backend, started_at, heartbeat_at, events, stopped)
         VALUES (1, ?1, ?2, ?3, ?3, 0, 0)
         ON CONFLICT (id) DO UPDATE SET pid = ?1, backend = ?2, started_at = ?3, heartbeat_at = ?3, events = 0,
            last_event = NULL, last_event_at = NULL, lag_ms = 0, stopped = 0",
        params![pid as i64, backend, now],
    )?;
    Ok(())
}

pub fn watch_progress(c: &WriteTx<'_>, events: u64, last: Option<&str>, lag_ms: u64, now: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE watch_status SET heartbeat_at = ?4, events = events + ?1,
            last_event = coalesce(?2, last_event), last_event_at = CASE WHEN ?2 IS NULL THEN last_event_at ELSE ?4 END,
            lag_ms = CASE WHEN ?2 IS NULL THEN lag_ms ELSE ?3 END
         WHERE id = 1",
    )?
    .execute(params![events as i64, last, lag_ms as i64, now])?;
    Ok(())
}

pub fn watch_stopped(c: &WriteTx<'_>, now: i64) -> Result<()> {
    c.execute("UPDATE watch_status SET stopped = 1, heartbeat_at = ?1 WHERE id = 1", [now])?;
    Ok(())
}
