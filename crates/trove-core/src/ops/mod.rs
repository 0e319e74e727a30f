//! Operations: the one writer path. The CLI (and later the daemon and web server) call these;
//! each mutation runs in a transaction through [`Index::write`](crate::Index::write) and
//! records provenance.

pub mod bulk;
pub mod check;
pub mod disk;
pub mod export;
pub mod files;
pub mod find;
pub mod identity;
pub mod import;
pub mod include;
pub mod keys;
pub mod meta;
pub mod mv;
pub mod pools;
pub mod reconcile;
pub mod remove;
pub mod roots;
pub mod tagging;
pub mod tags;
pub mod track;
pub mod views;
pub mod watch;

/// Receives progress from long operations. The CLI draws a bar; tests ignore it.
pub trait Progress: Sync {
    /// A phase begins; `total` items when known.
    fn begin(&self, _phase: &str, _total: Option<u64>) {}
    /// `n` more items done.
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
    /// These files are now committed to the index (called after each batch's commit, so a
    /// caller may report them as done).
    fn stored(&self, _files: &[(std::path::PathBuf, include::Outcome)]) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}
