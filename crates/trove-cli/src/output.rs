//! Output helpers: raw path bytes, JSON records, progress bars.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::{Value, json};
use trove_core::FileRecord;

/// Writes a path's raw bytes (non-UTF-8 kept) followed by `end`.
pub fn write_path(out: &mut impl Write, p: &Path, end: u8) -> std::io::Result<()> {
    out.write_all(p.as_os_str().as_bytes())?;
    out.write_all(&[end])
}

/// A path as JSON: `path` (lossy text) and, when not UTF-8, `path_hex` with the exact bytes.
pub fn path_json(obj: &mut serde_json::Map<String, Value>, p: &Path) {
    let bytes = p.as_os_str().as_bytes();
    obj.insert("path".into(), Value::String(String::from_utf8_lossy(bytes).into_owned()));
    if std::str::from_utf8(bytes).is_err() {
        obj.insert("path_hex".into(), Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect()));
    }
}

pub fn record_json(r: &FileRecord) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(r.id.0));
    path_json(&mut m, &r.path);
    m.insert("size".into(), json!(r.stat.size));
    m.insert("mtime_ns".into(), json!(r.stat.mtime_ns));
    m.insert("hash".into(), json!(r.hash.to_hex()));
    m.insert("state".into(), json!(r.state.as_str()));
    m
}

/// A progress bar on a terminal, nothing when stderr is piped.
pub struct Bar {
    bar: Option<indicatif::ProgressBar>,
    /// Print each file as soon as it is committed (`include -v`).
    verbose: Option<std::path::PathBuf>,
}

impl Bar {
    pub fn new() -> Bar {
        Bar { bar: crate::ctx::stderr_is_tty().then(indicatif::ProgressBar::hidden), verbose: None }
    }

    /// Also prints every stored file (relative to `cwd`) the moment its batch is committed.
    pub fn verbose(cwd: &std::path::Path) -> Bar {
        Bar { verbose: Some(cwd.to_path_buf()), ..Bar::new() }
    }
}

impl trove_core::ops::Progress for Bar {
    fn begin(&self, phase: &str, total: Option<u64>) {
        let Some(b) = &self.bar else { return };
        b.reset();
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = match (phase, total) {
            ("hashing", Some(t)) => {
                b.set_length(t);
                indicatif::ProgressStyle::with_template(
                    "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
            }
            (_, Some(t)) => {
                b.set_length(t);
                indicatif::ProgressStyle::with_template("{msg:>9} [{bar:30}] {pos}/{len} eta {eta}")
            }
            _ => indicatif::ProgressStyle::with_template("{msg:>9} {spinner} {elapsed}"),
        };
        if let Ok(s) = style {
            b.set_style(s.progress_chars("=> "));
        }
        b.set_message(phase.to_string());
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn stored(&self, files: &[(std::path::PathBuf, trove_core::ops::include::Outcome)]) {
        use trove_core::ops::include::Outcome;
        let Some(cwd) = &self.verbose else { return };
        let mut lines = Vec::new();
        for (p, o) in files {
            let word: &[u8] = match o {
                Outcome::Added => b"   add ",
                Outcome::Updated => b"update ",
                Outcome::Unchanged => b"  keep ",
            };
            lines.extend_from_slice(word);
            lines.extend_from_slice(trove_core::paths::display_relative(p, cwd).as_os_str().as_encoded_bytes());
            lines.push(b'\n');
        }
        let print = || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&lines);
            let _ = err.flush();
        };
        match &self.bar {
            Some(b) => b.suspend(print),
            None => print(),
        }
    }
}
