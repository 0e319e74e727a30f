//! Output helpers: raw path bytes, JSON records, progress bars.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::{Value, json};
use trove_core::FileRecord;
use trove_core::ops::files::FileTag;

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

/// A file's tags as JSON, added to `obj`: `tags` (its own links: name and every source)
/// and `implied` (the names its tags imply).
pub fn tags_json(obj: &mut serde_json::Map<String, Value>, tags: &[FileTag]) {
    let own = tags.iter().filter(|t| !t.implied).map(|t| {
        json!({
            "name": t.name,
            "sources": t.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    });
    obj.insert("tags".into(), Value::Array(own.collect()));
    obj.insert("implied".into(), json!(tags.iter().filter(|t| t.implied).map(|t| &t.name).collect::<Vec<_>>()));
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
    fn begin(&self, phase: trove_core::ops::Phase, total: Option<u64>) {
        use trove_core::ops::Unit;
        let Some(b) = &self.bar else { return };
        b.reset();
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = match (phase.unit, total) {
            (Unit::Bytes, Some(t)) => {
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
        b.set_message(phase.label);
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

/// Stored metadata as JSON: typed fields (absent ones left out), `fields` as an object of
/// arrays (a key may repeat), `error` when extraction failed, `stale` when the file changed
/// since it was read.
pub fn meta_json(s: &trove_core::meta::StoredMeta, current: Option<&trove_core::Stat>) -> Value {
    let m = &s.meta;
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            o.insert(k.into(), v);
        }
    };
    put("mime", json!(m.mime));
    put("type", json!(m.kind));
    put("width", json!(m.width));
    put("height", json!(m.height));
    put("duration_ms", json!(m.duration_ms));
    put("fps", json!(m.fps));
    put("has_audio", json!(m.has_audio));
    put("taken", json!(m.taken));
    let mut fields = serde_json::Map::new();
    for (k, v) in &m.fields {
        let e = fields.entry(k.clone()).or_insert_with(|| json!([]));
        if let Value::Array(a) = e {
            a.push(json!(v));
        }
    }
    o.insert("fields".into(), Value::Object(fields));
    if let Some(e) = m.error_text() {
        o.insert("error".into(), json!(e));
    }
    o.insert("extracted_at".into(), json!(s.extracted_at));
    if let Some(st) = current {
        o.insert("stale".into(), json!(!trove_core::ops::meta::is_current(s, st)));
    }
    Value::Object(o)
}

/// Metadata as `key: value` lines for people.
pub fn meta_lines(s: &trove_core::meta::StoredMeta) -> Vec<(String, String)> {
    let m = &s.meta;
    let mut v = Vec::new();
    if let Some(x) = &m.mime {
        v.push(("mime".into(), x.clone()));
    }
    if let Some(x) = &m.kind {
        v.push(("type".into(), x.clone()));
    }
    if let (Some(w), Some(h)) = (m.width, m.height) {
        v.push(("size".into(), format!("{w}×{h}")));
    }
    if let Some(d) = m.duration_ms {
        v.push(("duration".into(), format!("{}:{:02}.{:03}", d / 60_000, d / 1000 % 60, d % 1000)));
    }
    if let Some(f) = m.fps {
        v.push(("fps".into(), format!("{f}")));
    }
    if let Some(a) = m.has_audio {
        v.push(("audio".into(), if a { "yes" } else { "no" }.into()));
    }
    for (k, x) in &m.fields {
        let one = x.replace('\n', "\\n");
        v.push((k.clone(), one));
    }
    if let Some(e) = m.error_text() {
        v.push(("error".into(), e));
    }
    v
}
