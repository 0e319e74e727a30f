//! The daemon loop: catch up, then read events, batch them, apply them, reconcile where in
//! doubt, and keep the status row fresh.
//!
//! Batching: after the first event of a burst, more are collected for up to `debounce`
//! (or `max_batch` events), then applied in one transaction. A burst of thousands of renames
//! becomes a handful of short transactions, so CLI writers (who wait up to 60 s for the
//! lock) never fail.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use trove_core::model::now_unix;
use trove_core::ops::NoProgress;
use trove_core::ops::identity::BackupNames;
use trove_core::ops::reconcile::{ReconcileOptions, reconcile};
use trove_core::ops::track::{Decision, Memory, apply_with, auto_include, rematch};
use trove_core::ops::{roots, watch};
use trove_core::{Index, OpenMode};

use crate::{EventSource, FsEvent};

/// Which kernel interface to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// fanotify when permitted, else inotify.
    Auto,
    Fanotify,
    Inotify,
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub index: PathBuf,
    pub backend: Backend,
    /// Reconcile every root this often (`None`: never, besides at start).
    pub periodic: Option<Duration>,
    /// How long to keep collecting after the first event of a burst.
    pub debounce: Duration,
    pub max_batch: usize,
    /// Renames that count as keeping a backup (the identity rules' rule 2).
    pub backups: BackupNames,
}

impl WatchConfig {
    pub fn new(index: PathBuf) -> Self {
        WatchConfig {
            index,
            backend: Backend::Auto,
            periodic: Some(Duration::from_secs(600)),
            debounce: Duration::from_millis(50),
            max_batch: 20_000,
            backups: BackupNames::default(),
        }
    }
}

/// What the watcher does to the new files it indexes, besides storing them
/// (`trove watch --rules`): read their metadata, then apply the tagging rules to them.
pub struct OnNew {
    /// Reads each new file's metadata first (rules may test its type or fields).
    pub extractor: Option<trove_core::meta::ExtractorRef>,
    /// Applied to the new files through `ops::rules::apply`: links by `rule:<name>`, one
    /// operation per rule in the history; other links are never touched.
    pub rules: Vec<Box<dyn trove_core::ops::rules::Rule>>,
}

/// A running watcher.
pub struct Daemon {
    /// Applied to the files `include_new` indexes.
    on_new: Option<OnNew>,
    index: Index,
    source: Box<dyn EventSource>,
    cfg: WatchConfig,
    roots: Vec<PathBuf>,
    /// Unindexed files seen recently, kept a while for cross-filesystem moves whose delete
    /// arrives after the copy.
    recent: Vec<(PathBuf, Instant)>,
    /// Whether each root was mounted at the last look.
    mounted: Vec<(PathBuf, bool)>,
    /// Reconciles asked for by batches, run once the event queue is quiet: during a burst the
    /// disk is ahead of the events, so checking mid-burst only finds things in flux.
    pending_rescan: BTreeSet<PathBuf>,
    pending_all: bool,
    pending_since: Option<Instant>,
    log: Box<dyn Fn(&str) + Send>,
    /// Records recent batches took off a path, for the identity rules that span batches.
    memory: Memory,
    /// New files without a record and when they were last seen changing, for auto-include.
    new_files: HashMap<PathBuf, Instant>,
    /// The index's own files (database, journals, watch lock): their events are dropped.
    own: Vec<PathBuf>,
    /// (device, inode) of the index file when opened: a change means deleted or replaced.
    index_id: Option<(u64, u64)>,
    /// Each root's directory identity at the last look (None: absent).
    root_ids: Vec<(PathBuf, Option<crate::sys::DirId>)>,
}

/// Each root's directory identity (None: absent or not a directory).
fn root_identities(list: &[roots::Root]) -> Vec<(PathBuf, Option<crate::sys::DirId>)> {
    list.iter().map(|r| (r.path.clone(), crate::sys::dir_identity(&r.path))).collect()
}

/// (device, inode) of a path, following symlinks.
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The longest a requested reconcile waits for the event queue to go quiet.
const MAX_DEFER: Duration = Duration::from_secs(1);

/// How long a new file must be quiet before auto-include indexes it: an editor's temp file
/// is renamed over its target within milliseconds, and a move across filesystems deletes
/// the source right after the copy; either is then settled by the events (path continuity,
/// `rematch`) instead of leaving a stray record.
const AUTO_DELAY: Duration = Duration::from_millis(700);

/// The most decision lines one batch logs; the rest are summed up in one line.
const MAX_DECISION_LINES: usize = 200;

/// How long an unindexed new file stays a candidate for a cross-filesystem move.
const RECENT: Duration = Duration::from_secs(120);

/// Why a watcher could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The lock file next to the index could not be opened or locked.
    #[error("{}: cannot take the watch lock: {source}", index.display())]
    Lock { index: PathBuf, source: std::io::Error },
    /// Another watcher holds the lock on this index.
    #[error("a watcher is already running on {}{}", index.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning { index: PathBuf, pid: Option<u32> },
    /// The index could not be opened or read.
    #[error(transparent)]
    Index(#[from] trove_core::Error),
    /// Neither fanotify nor inotify could watch the roots.
    #[error("cannot start watching: {0}")]
    Source(std::io::Error),
}

/// Opens the best source for `backend`; the string says what happened (for the log).
pub fn open_source(backend: Backend, roots: &[PathBuf]) -> std::io::Result<(Box<dyn EventSource>, Option<String>)> {
    match backend {
        Backend::Inotify => Ok((Box::new(crate::inotify::Inotify::new(roots)?), None)),
        Backend::Fanotify => Ok((Box::new(crate::fanotify::Fanotify::new(roots)?), None)),
        Backend::Auto => match crate::fanotify::Fanotify::new(roots) {
            Ok(f) => Ok((Box::new(f), None)),
            Err(e) => {
                let why = if e.raw_os_error() == Some(libc::EPERM) {
                    "fanotify filesystem marks need CAP_SYS_ADMIN (root)".to_string()
                } else {
                    format!("fanotify is unavailable ({e})")
                };
                let note = format!(
                    "{why}; using inotify: renames are followed live, and anything inotify may have missed is caught by a reconcile"
                );
                Ok((Box::new(crate::inotify::Inotify::new(roots)?), Some(note)))
            }
        },
    }
}

impl Daemon {
    pub fn new(
        mut index: Index,
        source: Box<dyn EventSource>,
        cfg: WatchConfig,
        log: Box<dyn Fn(&str) + Send>,
    ) -> Self {
        // Between batches the index file alone is complete (see `Index::set_checkpoint_after_write`).
        index.set_checkpoint_after_write(true);
        let roots = roots::list(&index).map(|v| v.into_iter().map(|r| r.path).collect()).unwrap_or_default();
        let memory = Memory::new(cfg.backups.clone());
        let index_id = identity(index.path());
        let own = trove_core::filter::own_files(index.path());
        Daemon {
            on_new: None,
            memory,
            index,
            source,
            cfg,
            roots,
            recent: Vec::new(),
            mounted: Vec::new(),
            pending_rescan: BTreeSet::new(),
            pending_all: false,
            pending_since: None,
            log,
            new_files: HashMap::new(),
            own,
            index_id,
            root_ids: Vec::new(),
        }
    }

    /// Opens the index and the source named by `cfg`, takes the one-watcher lock.
    pub fn start(
        cfg: WatchConfig,
        log: Box<dyn Fn(&str) + Send>,
    ) -> Result<(Daemon, crate::lock::WatchLock), StartError> {
        let lock = crate::lock::acquire(&cfg.index)
            .map_err(|source| StartError::Lock { index: cfg.index.clone(), source })?
            .ok_or_else(|| {
                let pid = Index::open(&cfg.index, OpenMode::Existing)
                    .ok()
                    .and_then(|i| watch::status(&i).ok().flatten())
                    .map(|s| s.pid);
                StartError::AlreadyRunning { index: cfg.index.clone(), pid }
            })?;
        let index = Index::open(&cfg.index, OpenMode::Existing)?;
        let root_paths: Vec<PathBuf> = roots::list(&index)?.into_iter().map(|r| r.path).collect();
        let (source, note) = open_source(cfg.backend, &root_paths).map_err(StartError::Source)?;
        if let Some(n) = note {
            log(&n);
        }
        let mut d = Daemon::new(index, source, cfg, log);
        d.roots = root_paths;
        Ok((d, lock))
    }

    fn log(&self, s: &str) {
        (self.log)(s);
    }

    /// Reads metadata and applies rules to every new file indexed from now on.
    pub fn set_on_new(&mut self, on_new: OnNew) {
        self.on_new = Some(on_new);
    }

    /// Metadata, then the rules, for files `include_new` just indexed. A failure is logged
    /// (the files stay indexed; `trove rules apply` catches them up).
    fn after_new(&mut self, paths: &[PathBuf]) {
        let Some(on) = &self.on_new else { return };
        let records: Vec<trove_core::model::FileRecord> =
            paths.iter().filter_map(|p| trove_core::ops::files::live_at(&self.index, p).ok().flatten()).collect();
        if records.is_empty() {
            return;
        }
        let mut lines = Vec::new();
        if let Some(x) = &on.extractor {
            self.index.set_operation("watch", &format!("metadata of {} new file(s)", records.len()));
            if let Err(e) = trove_core::ops::meta::refresh(&mut self.index, &records, x.0.as_ref(), &NoProgress) {
                lines.push(format!("metadata of new files failed: {e}"));
            }
        }
        if !on.rules.is_empty() {
            let ids: Vec<trove_core::FileId> = records.iter().map(|r| r.id).collect();
            let rules: Vec<&dyn trove_core::ops::rules::Rule> = on.rules.iter().map(|r| r.as_ref()).collect();
            match trove_core::ops::rules::apply(
                &mut self.index,
                &rules,
                trove_core::ops::rules::Scope::Files(&ids),
                &NoProgress,
            ) {
                Ok(reports) => {
                    for r in reports {
                        for w in &r.warnings {
                            lines.push(format!("rule {:?}: {w}", r.rule));
                        }
                        if r.links_added + r.links_removed > 0 {
                            lines.push(format!(
                                "rule {:?}: {} link(s) added, {} removed",
                                r.rule, r.links_added, r.links_removed
                            ));
                        }
                    }
                }
                Err(e) => lines.push(format!("rules on new files failed: {e}")),
            }
        }
        for l in lines {
            self.log(&l);
        }
    }

    /// The index, for inspection (tests, status).
    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn backend(&self) -> &'static str {
        self.source.name()
    }

    fn reconcile(&mut self, scope: Vec<PathBuf>) {
        let opts = ReconcileOptions { dry_run: false, scope };
        self.index.set_operation("watch", "reconcile");
        match reconcile(&mut self.index, &opts, &NoProgress) {
            Ok(r) => {
                if !r.actions.is_empty() {
                    self.log(&format!("reconcile: {} change(s) over {} file(s)", r.actions.len(), r.scanned));
                }
            }
            Err(e) => self.log(&format!("reconcile failed: {e}")),
        }
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> trove_core::Result<()> {
        let list = roots::list(&self.index)?;
        self.root_ids = root_identities(&list);
        self.roots = list.into_iter().map(|r| r.path).collect();
        let pid = std::process::id();
        let backend = self.source.name();
        watch::started(&mut self.index, pid, backend, now_unix())?;
        self.log(&format!("watching {} root(s) with {backend}", self.roots.len()));
        let mut last_warning = self.source.warning();
        if let Some(w) = &last_warning {
            self.log(w);
        }
        // Catch up with whatever happened while nothing was watching. The source is already
        // listening, so changes made during this reconcile are not lost.
        if !self.roots.is_empty() {
            self.reconcile(Vec::new());
        }
        let mut last_periodic = Instant::now();
        let mut last_beat = Instant::now();
        // A batch that met a replaced index file, applied again to the new one.
        let mut carry: Vec<FsEvent> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let mut batch = std::mem::take(&mut carry);
            batch.extend(
                self.source
                    // With reconciles pending, look for quiet sooner.
                    .wait(if self.pending_since.is_some() || !self.new_files.is_empty() || !batch.is_empty() {
                        Duration::from_millis(100)
                    } else {
                        Duration::from_millis(500)
                    })
                    .map_err(|e| trove_core::Error::Io { path: self.cfg.index.clone(), source: e })?,
            );
            let beat = last_beat.elapsed() > Duration::from_secs(1);
            if beat {
                last_beat = Instant::now();
                let w = self.source.warning();
                if w != last_warning {
                    if let Some(w) = &w {
                        self.log(w);
                    }
                    last_warning = w;
                }
            }
            match self.turn(batch, &mut carry, beat) {
                Ok(()) => {}
                // The index file was replaced (a restore by renaming a copy over it): open
                // the new one and go on; `carry` holds the batch that was not applied.
                Err(trove_core::Error::Store(trove_core::StoreError::IndexReplaced { .. })) => self.check_index()?,
                Err(e) => return Err(e),
            }
            if let Some(p) = self.cfg.periodic
                && last_periodic.elapsed() >= p
            {
                last_periodic = Instant::now();
                self.reconcile(Vec::new());
            }
        }
        watch::stopped(&mut self.index, now_unix())?;
        self.log("stopped");
        Ok(())
    }

    /// One turn of the loop: apply a batch (kept in `carry` until it is stored), settle
    /// what is pending, index quiet new files, and on a heartbeat look at the index file and
    /// the roots.
    fn turn(&mut self, mut batch: Vec<FsEvent>, carry: &mut Vec<FsEvent>, beat: bool) -> trove_core::Result<()> {
        if !batch.is_empty() {
            let start = Instant::now();
            while start.elapsed() < self.cfg.debounce && batch.len() < self.cfg.max_batch {
                let more = self
                    .source
                    .wait(Duration::from_millis(10))
                    .map_err(|e| trove_core::Error::Io { path: self.cfg.index.clone(), source: e })?;
                if more.is_empty() {
                    break;
                }
                batch.extend(more);
            }
            carry.clone_from(&batch);
            self.apply_batch(batch)?;
            carry.clear();
        } else {
            // The queue is quiet: settle whatever the batches could not.
            self.flush_rescans();
            self.index.settle_wal();
        }
        if self.pending_since.is_some_and(|t| t.elapsed() > MAX_DEFER) {
            self.flush_rescans();
        }
        self.include_new(false)?;
        if beat {
            self.check_index()?;
            self.check_roots()?;
            watch::progress(&mut self.index, 0, None, 0, now_unix())?;
        }
        Ok(())
    }

    /// Applies one batch and at once reconciles what the events could not settle (the
    /// daemon loop defers that until the queue is quiet; tests use this).
    pub fn handle(&mut self, batch: Vec<FsEvent>) -> trove_core::Result<()> {
        self.apply_batch(batch)?;
        self.flush_rescans();
        self.include_new(true)
    }

    /// Indexes the new files that have been quiet for [`AUTO_DELAY`] (all of them with
    /// `now`), under roots with auto-include on.
    pub fn include_new(&mut self, now: bool) -> trove_core::Result<()> {
        // A pending reconcile may still find these files to be records that moved; it
        // goes first (see `flush_rescans`).
        if self.new_files.is_empty() || (!now && self.pending_since.is_some()) {
            return Ok(());
        }
        let (ready, wait): (HashMap<_, _>, HashMap<_, _>) =
            std::mem::take(&mut self.new_files).into_iter().partition(|(_, t)| now || t.elapsed() >= AUTO_DELAY);
        self.new_files = wait;
        let paths: Vec<PathBuf> = ready.into_keys().collect();
        self.index.set_operation("watch", &format!("index {} new file(s)", paths.len()));
        let added = match auto_include(&mut self.index, &paths) {
            Ok(a) => a,
            Err(e) => {
                // Not lost: tried again on the next round (after a reopen, if that was it).
                self.new_files.extend(paths.into_iter().map(|p| (p, Instant::now())));
                return Err(e);
            }
        };
        if !added.is_empty() {
            self.log(&format!("indexed {} new file(s)", added.len()));
            self.after_new(&added);
        }
        Ok(())
    }

    /// Runs the reconciles that batches asked for.
    pub fn flush_rescans(&mut self) {
        if !self.pending_all && self.pending_rescan.is_empty() {
            return;
        }
        let roots = self.roots.clone();
        if let Err(e) = self.source.resync(&roots) {
            self.log(&format!("resync failed: {e}"));
        }
        let scope: Vec<PathBuf> =
            if self.pending_all { Vec::new() } else { widen(&std::mem::take(&mut self.pending_rescan), &self.roots) };
        self.pending_all = false;
        self.pending_rescan.clear();
        self.pending_since = None;
        self.reconcile(scope);
    }

    /// Applies one batch; what it cannot settle is queued for [`Daemon::flush_rescans`].
    pub fn apply_batch(&mut self, batch: Vec<FsEvent>) -> trove_core::Result<()> {
        let read_at = Instant::now();
        // The index's own files change with every commit: their events would feed back forever.
        let batch: Vec<FsEvent> = batch.into_iter().filter(|e| !self.own_event(e)).collect();
        if batch.is_empty() {
            return Ok(());
        }
        // `trove status` counts and shows only what happened under the roots.
        let n = batch.iter().filter(|e| e.touches(&self.roots)).count() as u64;
        let last = batch.iter().rev().find(|e| e.touches(&self.roots)).map(FsEvent::describe);
        // One operation per batch in the log, named by its last event.
        let what = match &last {
            Some(l) if n > 1 => format!("{n} events, last: {l}"),
            Some(l) => l.clone(),
            None => format!("{} event(s)", batch.len()),
        };
        self.index.set_operation("watch", &what);
        let mut applied = apply_with(&mut self.index, &batch, &self.roots, &mut self.memory)?;
        let now = Instant::now();
        self.recent.retain(|(_, t)| now.duration_since(*t) < RECENT);
        self.recent.extend(applied.unindexed.iter().map(|p| (p.clone(), now)));
        if self.recent.len() > 10_000 {
            let cut = self.recent.len() - 10_000;
            self.recent.drain(..cut);
        }
        if !self.recent.is_empty() && (applied.missing > 0 || !applied.unindexed.is_empty()) {
            let paths: Vec<PathBuf> = self.recent.iter().map(|(p, _)| p.clone()).collect();
            let moved = rematch(&mut self.index, &paths)?;
            let n = moved.len();
            applied.decisions.extend(moved);
            if n > 0 {
                self.recent.retain(|(p, _)| {
                    !p.exists() || trove_core::ops::files::live_at(&self.index, p).ok().flatten().is_none()
                });
            }
        }
        self.log_decisions(&applied.decisions);
        if !applied.roots_moved.is_empty() {
            for (from, to) in &applied.roots_moved {
                self.log(&format!("{}: root renamed to {}; followed", from.display(), to.display()));
            }
            let list = roots::list(&self.index)?;
            self.root_ids = root_identities(&list);
            self.mounted = list.iter().map(|r| (r.path.clone(), self.is_mounted(r))).collect();
            self.roots = list.into_iter().map(|r| r.path).collect();
            let roots = self.roots.clone();
            if let Err(e) = self.source.resync(&roots) {
                self.log(&format!("resync failed: {e}"));
            }
        }
        // New files are indexed once they have been quiet for a moment (see AUTO_DELAY).
        for p in &applied.unindexed {
            self.new_files.insert(p.clone(), now);
        }
        if applied.rescan_all || !applied.rescan.is_empty() {
            self.pending_all |= applied.rescan_all;
            self.pending_rescan.extend(applied.rescan);
            self.pending_since.get_or_insert_with(Instant::now);
        }
        let lag = read_at.elapsed().as_millis() as u64;
        watch::progress(&mut self.index, n, last.as_deref(), lag, now_unix())?;
        Ok(())
    }
}

impl Daemon {
    /// Whether a root's filesystem is there (see `reconcile::mount_state`).
    fn is_mounted(&self, r: &roots::Root) -> bool {
        roots::is_mounted(&self.index, r).unwrap_or(false)
    }

    /// Whether every path of `e` is one of the index's own files.
    fn own_event(&self, e: &FsEvent) -> bool {
        let own = |p: &Path| self.own.iter().any(|o| o == p);
        match e {
            FsEvent::Renamed { from, to, .. } => own(from) && own(to),
            FsEvent::Removed { path, .. } | FsEvent::Created { path, .. } | FsEvent::Written { path } => own(path),
            FsEvent::Rescan { .. } => false,
        }
    }

    /// Whether the index file on disk is still the one we have open. Deleted: stop with a
    /// clear message (the records would go nowhere). Replaced by another file (a restore, a
    /// copy renamed over it): reopen it and catch up.
    fn check_index(&mut self) -> trove_core::Result<()> {
        // Replaced again while being reopened: look again (a few times).
        for _ in 0..5 {
            match self.reopen_if_replaced() {
                Err(trove_core::Error::Store(trove_core::StoreError::IndexReplaced { .. })) => continue,
                r => return r,
            }
        }
        self.reopen_if_replaced()
    }

    fn reopen_if_replaced(&mut self) -> trove_core::Result<()> {
        let now = identity(&self.cfg.index);
        if now == self.index_id && !self.index.is_replaced() {
            return Ok(());
        }
        let Some(_) = now else {
            self.log(&format!("{}: the index file was deleted; stopping", self.cfg.index.display()));
            return Err(trove_core::StoreError::IndexDeleted { path: self.cfg.index.clone() }.into());
        };
        self.log(&format!("{}: the index file was replaced; reopening it", self.cfg.index.display()));
        self.index.reopen()?;
        self.index_id = now;
        self.own = trove_core::filter::own_files(&self.cfg.index);
        let pid = std::process::id();
        let backend = self.source.name();
        watch::started(&mut self.index, pid, backend, now_unix())?;
        self.roots = roots::list(&self.index)?.into_iter().map(|r| r.path).collect();
        let roots = self.roots.clone();
        if let Err(e) = self.source.resync(&roots) {
            self.log(&format!("resync failed: {e}"));
        }
        self.reconcile(Vec::new());
        Ok(())
    }

    /// One log line per record a batch turned missing (and that is still missing), put back
    /// on its path, or found again by content: the path and the reason.
    fn log_decisions(&self, decisions: &[Decision]) {
        let mut lines = 0;
        let mut more = 0;
        for d in decisions {
            if let Decision::Missing { id, .. } = d {
                let still = trove_core::ops::files::get(&self.index, *id)
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.state == trove_core::FileState::Missing);
                if !still {
                    continue;
                }
            }
            if lines < MAX_DECISION_LINES {
                self.log(&d.to_string());
                lines += 1;
            } else {
                more += 1;
            }
        }
        if more > 0 {
            self.log(&format!("... and {more} more record(s) (not listed)"));
        }
    }

    /// One look at the roots per heartbeat: roots added or removed (`trove roots`) mean a
    /// resync and a reconcile of everything; a root mounted or unmounted since the last look
    /// is reconciled on its own (no event announces an unmount; unmounted roots go offline).
    fn check_roots(&mut self) -> trove_core::Result<()> {
        let list = roots::list(&self.index)?;
        let paths: Vec<PathBuf> = list.iter().map(|r| r.path.clone()).collect();
        let state: Vec<(PathBuf, bool)> = list.iter().map(|r| (r.path.clone(), self.is_mounted(r))).collect();
        let mut changed: Vec<PathBuf> = state
            .iter()
            .filter(|(p, up)| self.mounted.iter().any(|(q, was)| q == p && was != up))
            .map(|(p, _)| p.clone())
            .collect();
        for p in &changed {
            self.log(&format!("{}: mount state changed", p.display()));
        }
        self.mounted = state;
        // A root directory that went away, came back, or was replaced by another directory
        // (a restore) is re-watched and reconciled at once, not at the next periodic run.
        let ids = root_identities(&list);
        for (p, id) in &ids {
            let Some((_, was)) = self.root_ids.iter().find(|(q, _)| q == p) else { continue };
            if was == id {
                continue;
            }
            self.log(&match (was, id) {
                (Some(_), None) => format!("{}: the root is gone (deleted, renamed or unmounted)", p.display()),
                (None, Some(_)) => format!("{}: the root is back; reconciling it", p.display()),
                _ => format!("{}: the root directory was replaced; reconciling it", p.display()),
            });
            if !changed.contains(p) {
                changed.push(p.clone());
            }
        }
        self.root_ids = ids;
        let scope = if paths != self.roots {
            self.roots = paths;
            self.log(&format!("roots changed: now {}", self.roots.len()));
            Some(Vec::new())
        } else if !changed.is_empty() {
            Some(changed)
        } else {
            None
        };
        if let Some(scope) = scope {
            let roots = self.roots.clone();
            if let Err(e) = self.source.resync(&roots) {
                self.log(&format!("resync failed: {e}"));
            }
            self.reconcile(scope);
        }
        Ok(())
    }
}

/// A directory to reconcile after a lost event may have received the file from anywhere
/// under its root: reconcile the root that holds it (a stat per file, no reads).
fn widen(dirs: &BTreeSet<PathBuf>, roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: BTreeSet<PathBuf> = BTreeSet::new();
    for d in dirs {
        match roots.iter().filter(|r| d.starts_with(r) || r.starts_with(d)).min_by_key(|r| r.as_os_str().len()) {
            Some(r) => out.insert(r.clone()),
            None => out.insert(d.clone()),
        };
    }
    out.into_iter().collect()
}

/// Whether a process with this pid is alive (for `--status`).
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
