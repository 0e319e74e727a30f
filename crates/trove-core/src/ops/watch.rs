//! The watcher's status row: written by the daemon, read by `trove watch --status` and by
//! a second `trove watch` that finds the lock taken.

use crate::store::roots as store;
use crate::{Index, Result};

pub use crate::store::roots::WatchStatus;

/// A watcher whose heartbeat is older than this many seconds is taken as gone, even if a
/// process with its pid exists (the daemon writes a heartbeat every few seconds).
pub const STALE_AFTER_SECS: i64 = 15;

impl WatchStatus {
    /// The row says a watcher is running and it wrote a heartbeat recently. Whether its
    /// process still exists is for the caller to check (that needs the kernel).
    pub fn is_fresh(&self, now: i64) -> bool {
        !self.stopped && now - self.heartbeat_at < STALE_AFTER_SECS
    }
}

/// The last status a watcher wrote on this index, if one ever ran.
pub fn status(index: &Index) -> Result<Option<WatchStatus>> {
    store::watch_status(index.conn())
}

/// Records that a watcher with `pid` started, using `backend` (fanotify or inotify).
pub fn started(index: &mut Index, pid: u32, backend: &str, now: i64) -> Result<()> {
    index.write(|tx| store::watch_started(tx, pid, backend, now))
}

/// The heartbeat: events handled so far, the last one, and the last batch's lag.
pub fn progress(index: &mut Index, events: u64, last: Option<&str>, lag_ms: u64, now: i64) -> Result<()> {
    index.write(|tx| store::watch_progress(tx, events, last, lag_ms, now))
}

/// Records a clean stop.
pub fn stopped(index: &mut Index, now: i64) -> Result<()> {
    index.write(|tx| store::watch_stopped(tx, now))
}
