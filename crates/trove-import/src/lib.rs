//! trove-import: readers that turn another tool's library into trove's neutral
//! [`Library`](trove_core::ops::import::Library), and trove's own JSON format both ways.
//!
//! Readers only read: SQLite sources are opened read-only (`mode=ro`), nothing next to the
//! source is written. What a reader cannot map goes into its notes, one line each; the
//! writing itself is trove-core's `ops::import::apply`.

#![forbid(unsafe_code)]

pub mod json;

use std::path::Path;

pub use trove_core::ops::import::{LibFile, LibLink, LibPool, LibRecord, LibTag, Library};

/// A source read into a library, with what could not be mapped.
#[derive(Debug, Default)]
pub struct Read {
    pub library: Library,
    /// Everything left out or changed on the way, for the user.
    pub notes: Vec<String>,
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

pub(crate) fn invalid(path: &Path, what: impl std::fmt::Display) -> trove_core::Error {
    trove_core::Error::Invalid(format!("{}: {what}", path.display()))
}
