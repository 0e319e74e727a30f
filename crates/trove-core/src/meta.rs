//! Metadata read from file contents: the typed model and the extractor interface.
//!
//! Policy: metadata is not tags. Measurements (MIME type, kind, width, height, duration,
//! frame rate, audio present, date taken) are typed values; text fields (audio tags, camera,
//! lens, PDF info, PNG text chunks) are key/value pairs, a key may repeat (several artists).
//! The extractors themselves live outside core (crate `trove-meta`, heavy dependencies); core
//! only stores what an [`Extractor`] returns and calls it while hashing, so an include
//! without an extractor works exactly as before.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest text value kept (bytes); longer values are cut at a character boundary.
pub const MAX_VALUE: usize = 64 * 1024;
/// Most text fields kept per file.
pub const MAX_FIELDS: usize = 256;

/// The broad kinds `type:` selects.
pub const KINDS: &[&str] = &["image", "video", "audio", "text", "document", "archive", "other"];

/// Everything read from one file's content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// Sniffed from the content, not the extension.
    pub mime: Option<String>,
    /// One of [`KINDS`].
    pub kind: Option<String>,
    /// As displayed: EXIF orientation applied.
    pub width: Option<u32>,
    /// As displayed (EXIF orientation applied), in pixels.
    pub height: Option<u32>,
    /// Playing time of audio or video, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Frames per second of a video's first video stream.
    pub fps: Option<f64>,
    /// Whether a video has an audio stream (`None` for files that are not video).
    pub has_audio: Option<bool>,
    /// Date taken, seconds since the epoch (EXIF times without an offset are read as UTC).
    pub taken: Option<i64>,
    /// Text fields in the order found (`artist`, `album`, `camera`, `png.parameters`, …).
    pub fields: Vec<(String, String)>,
    /// What went wrong, one entry per failed extractor ("exif: …"); the rest is kept.
    pub errors: Vec<String>,
    /// A 64-bit perceptual hash of an image's pixels, stored per content (`perceptual`
    /// table) rather than in the file's metadata row; `Err` when the pixels could not be
    /// decoded; `None` when not computed (not an image, or no hasher).
    pub perceptual: Option<Result<u64, String>>,
    /// A video's keyframe hashes (the same hash as `perceptual`, of frames at fixed
    /// fractions of the duration), each with its frame number from 1; stored per content
    /// like `perceptual`. `None` when not computed (not a video, or no ffmpeg).
    pub keyframes: Option<Result<Vec<(u32, u64)>, String>>,
}

impl Meta {
    /// Adds a text field, trimmed (NULs and spaces) and bounded; empty values are dropped.
    pub fn push(&mut self, key: &str, value: &str) {
        let v = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        if v.is_empty() || self.fields.len() >= MAX_FIELDS {
            return;
        }
        let mut end = v.len().min(MAX_VALUE);
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        let v = &v[..end];
        if !self.fields.iter().any(|(k, x)| k == key && x == v) {
            self.fields.push((key.to_string(), v.to_string()));
        }
    }

    /// The first value of a text field.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Width divided by height, when both are known and non-zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.width, self.height) {
            (Some(w), Some(h)) if h > 0 => Some(f64::from(w) / f64::from(h)),
            _ => None,
        }
    }

    /// The error text stored for the file (extractors' errors joined), if any.
    pub fn error_text(&self) -> Option<String> {
        if self.errors.is_empty() { None } else { Some(self.errors.join("; ")) }
    }
}

/// The kind a MIME type belongs to.
pub fn kind_of_mime(mime: &str) -> &'static str {
    let (top, sub) = mime.split_once('/').unwrap_or((mime, ""));
    match top {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        "text" => "text",
        _ => match sub {
            "pdf" | "epub+zip" | "msword" | "rtf" | "vnd.oasis.opendocument.text" | "x-mobipocket-ebook" => "document",
            s if s.starts_with("vnd.openxmlformats-officedocument") || s.starts_with("vnd.ms-") => "document",
            "json" | "xml" | "javascript" | "x-sh" | "x-shellscript" => "text",
            "zip" | "gzip" | "x-tar" | "x-7z-compressed" | "x-rar-compressed" | "vnd.rar" | "x-bzip2" | "x-xz"
            | "zstd" | "x-zstd" => "archive",
            "ogg" => "audio",
            _ => "other",
        },
    }
}

/// Reads metadata from a file. Implementations bound their own time and memory per file
/// and report failures in [`Meta::errors`]; they never panic on hostile input.
pub trait Extractor: Send + Sync {
    /// Reads what it can from the file at `path`; failures go into [`Meta::errors`] and the
    /// rest is still returned.
    fn extract(&self, path: &Path) -> Meta;
    /// [`Extractor::extract`] of each path, in order (one result per path). Include calls
    /// this with a few dozen files at a time, so an implementation that hands work to a
    /// thread can hand over the list at once instead of waking a thread per file.
    fn extract_all(&self, paths: &[&Path]) -> Vec<Meta> {
        paths.iter().map(|p| self.extract(p)).collect()
    }
    /// [`Extractor::extract_all`] for files the caller has read already: `Some(bytes)` is
    /// the whole file (at most [`Extractor::bytes_wanted_up_to`] bytes), to be parsed instead
    /// of reading the file again. The default reads the files.
    fn extract_read(&self, files: Vec<(PathBuf, Option<Vec<u8>>)>) -> Vec<Meta> {
        files.iter().map(|(p, _)| self.extract(p)).collect()
    }
    /// The largest file whose bytes [`Extractor::extract_read`] wants (0: none).
    fn bytes_wanted_up_to(&self) -> u64 {
        0
    }
    /// The perceptual hash of an image file alone (for `trove dupes --scan`); `None` when
    /// the file is not an image this extractor can decode, or it computes none.
    fn perceptual(&self, _path: &Path) -> Option<Result<u64, String>> {
        None
    }
    /// A video's keyframe hashes alone (for `trove dupes --scan`), as [`Meta::keyframes`];
    /// `None` when the file is not a video or no keyframes can be computed here.
    fn keyframes(&self, _path: &Path) -> Option<Result<Vec<(u32, u64)>, String>> {
        None
    }
    /// Things worth saying once per run (e.g. "ffprobe is not installed"), gathered while
    /// extracting; the caller prints them.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A shared extractor handle for options structs.
#[derive(Clone)]
pub struct ExtractorRef(pub Arc<dyn Extractor>);

impl fmt::Debug for ExtractorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Extractor")
    }
}

/// The metadata stored for one file, with what it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeta {
    /// What was extracted.
    pub meta: Meta,
    /// The file's size in bytes when it was read; a different size means the row is stale.
    pub size: u64,
    /// The file's mtime in nanoseconds when it was read; a different mtime means the row is
    /// stale.
    pub mtime_ns: i64,
    /// When it was extracted, seconds since the epoch.
    pub extracted_at: i64,
}
