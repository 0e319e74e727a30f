//! Operations: the one writer path. The CLI (and later the daemon and web server) call these;
//! each mutation runs in a transaction through [`Index::write`](crate::Index::write) and
//! records provenance.

pub mod bulk;
pub mod check;
pub mod disk;
pub mod dupes;
pub mod export;
pub mod files;
pub mod find;
pub mod history;
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
pub mod rules;
pub mod tagging;
pub mod tags;
pub mod track;
pub mod views;
pub mod watch;

/// Receives progress from long operations. The CLI draws a bar; tests ignore it.
/// What a phase's counts measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes read (hashing): shown as sizes and a rate.
    Bytes,
    /// Files or records.
    Files,
    /// Tags.
    Tags,
}

/// A phase of a long operation: its label and the unit of its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// A short lower-case label ("hashing").
    pub label: &'static str,
    /// What `total` and `advance` count.
    pub unit: Unit,
}

impl Phase {
    /// Walking directories; no total.
    pub const SCANNING: Phase = Phase { label: "scanning", unit: Unit::Files };
    /// Reading file contents, counted in bytes.
    pub const HASHING: Phase = Phase { label: "hashing", unit: Unit::Bytes };
    /// Reading file contents, counted in files.
    pub const HASHING_FILES: Phase = Phase { label: "hashing", unit: Unit::Files };
    /// Reading the files new since the last look, counted in files.
    pub const HASHING_NEW: Phase = Phase { label: "hashing new files", unit: Unit::Files };
    /// Matching vanished records to new files.
    pub const MATCHING: Phase = Phase { label: "matching", unit: Unit::Files };
    /// Comparing records with the disk.
    pub const CHECKING: Phase = Phase { label: "checking", unit: Unit::Files };
    /// Reading metadata.
    pub const EXTRACTING: Phase = Phase { label: "extracting", unit: Unit::Files };
    /// Decoding images for their perceptual hashes (`trove dupes --scan`).
    pub const PERCEPTUAL: Phase = Phase { label: "hashing images", unit: Unit::Files };
    /// Writing tags.
    pub const TAGS: Phase = Phase { label: "tags", unit: Unit::Tags };
    /// Writing file records.
    pub const FILES: Phase = Phase { label: "files", unit: Unit::Files };
}

/// Where long operations report how far they are; the CLI draws bars from it, the daemon
/// and the web server ignore or forward it. Every method defaults to doing nothing.
pub trait Progress: Sync {
    /// A phase begins; `total` items (in the phase's unit) when known.
    fn begin(&self, _phase: Phase, _total: Option<u64>) {}
    /// `n` more items done.
    fn advance(&self, _n: u64) {}
    /// The current phase is over.
    fn finish(&self) {}
    /// These files are now committed to the index (called after each batch's commit, so a
    /// caller may report them as done).
    fn stored(&self, _files: &[(std::path::PathBuf, include::Outcome)]) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}
