//! trove-watch: keeps the index current while files are renamed, moved and deleted by any
//! program.
//!
//! Two event sources: fanotify with filesystem marks (complete rename information, needs
//! CAP_SYS_ADMIN) and recursive inotify (no privileges, but it loses events in known races,
//! so every doubt turns into a scoped reconcile, and a periodic reconcile runs as well).
//! Both produce [`FsEvent`]s; the [`daemon`] batches them and hands them to
//! `trove_core::ops::track::apply`, the same writer path the CLI uses.

// This crate talks to the kernel (inotify, fanotify, flock, kill): the one crate where the
// workspace's `unsafe_code = "deny"` is lifted. Each unsafe block says why it is sound.
#![allow(unsafe_code)]

pub mod daemon;
pub mod fake;
pub mod fanotify;
pub mod inotify;
mod lock;
mod sys;

pub use daemon::{Backend, Daemon, OnNew, WatchConfig};
pub use trove_core::ops::track::FsEvent;

/// Where events come from.
pub trait EventSource: Send {
    /// `"fanotify"`, `"inotify"`, `"fake"`.
    fn name(&self) -> &'static str;
    /// Waits up to `timeout` for events and returns what arrived (possibly nothing).
    fn wait(&mut self, timeout: std::time::Duration) -> std::io::Result<Vec<FsEvent>>;
    /// The set of roots changed, or events were lost: bring watches in line with the disk.
    fn resync(&mut self, roots: &[std::path::PathBuf]) -> std::io::Result<()>;
    /// Something the user should know about the source's coverage (logged when it changes).
    fn warning(&self) -> Option<String> {
        None
    }
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Sets up SIGINT and SIGTERM to stop the daemon cleanly; returns the flag they set.
pub fn stop_on_signals() -> &'static std::sync::atomic::AtomicBool {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    &STOP
}
