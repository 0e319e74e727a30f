//! trove-meta: reads metadata from file contents for trove-core's [`Extractor`] interface.
//!
//! Policy: content, not names, decides (the MIME type is sniffed; an `.mp3` that is a PNG is
//! read as a PNG). Every file is read under limits: at most [`Limits::max_read`] bytes are
//! loaded into memory by any extractor (EXIF and PDF parse from a bounded buffer, lofty runs
//! with an allocation limit and without cover art, PNG text chunks are inflated up to a cap),
//! and the whole extraction of one file runs on a worker thread with a deadline
//! ([`Limits::time`]): a file that takes longer is recorded with an error and the caller
//! goes on (the stuck worker is abandoned to finish on its own; the others are reused).
//! Pixels are decoded only for an image's perceptual hash ([`phash`]: at most 20 000 pixels
//! a side and 512 MiB of decoder memory), so a JPEG that claims 65535×65535 is refused
//! before any pixel is read. `ffprobe` is used for video only when it is
//! installed; its absence is noted once per run.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trove_core::meta::{Extractor, Meta, kind_of_mime};

mod exif;
pub mod keyframes;
pub mod phash;
mod png;

/// Per-file limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time for one file's whole extraction (ffprobe included).
    pub time: Duration,
    /// Most bytes of one file any extractor loads into memory.
    pub max_read: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { time: Duration::from_secs(10), max_read: 64 << 20 }
    }
}

/// The extractors trove uses, behind trove-core's [`Extractor`] trait.
///
/// Each extraction runs on a worker thread while the caller waits up to
/// [`Limits::time`] per file. Workers are kept and reused (a thread per file cost more than
/// the extraction of a small file: the spawn, its stack mapped and unmapped), and take a
/// batch of files at a time ([`Extractor::extract_all`]: waking a thread per file cost
/// about a tenth of the include); a worker that misses the deadline is abandoned (it
/// finishes or hangs on its own, its result discarded) and a new one takes its place.
pub struct Extractors {
    inner: Arc<Inner>,
    idle: Mutex<Vec<Worker>>,
    started: std::sync::atomic::AtomicUsize,
}

/// What the workers share: the limits and where ffprobe is.
struct Inner {
    limits: Limits,
    ffprobe: Option<PathBuf>,
    /// Set when a video was met and ffprobe is not installed (noted once).
    video_without_ffprobe: AtomicBool,
    /// `ffmpeg`, for the keyframe hashes of videos.
    ffmpeg: Option<PathBuf>,
    /// Set when a video was met and ffmpeg is not installed (noted once).
    video_without_ffmpeg: AtomicBool,
}

/// Files handed to a worker at once, and what it has done with them so far.
struct Batch {
    /// Each file, with its bytes when the caller read them already.
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    state: Mutex<BatchState>,
    /// Set when the caller gave up on the batch: the worker stops before its next file.
    cancel: AtomicBool,
}

struct BatchState {
    /// One result per finished path, in order.
    done: Vec<Meta>,
    /// When the worker started on the file after the last one done.
    started: Instant,
}

/// A batch, and the channel that says the worker finished it.
type Job = (Arc<Batch>, mpsc::SyncSender<()>);

/// A worker thread, reached through its job queue (dropping it lets the thread end).
struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn spawn(inner: &Arc<Inner>) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::channel::<Job>();
        let inner = Arc::clone(inner);
        std::thread::Builder::new().name("trove-meta".into()).stack_size(8 << 20).spawn(move || {
            while let Ok((batch, reply)) = rx.recv() {
                for (path, bytes) in &batch.files {
                    if batch.cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let m = inner.extract_unbounded(path, bytes.as_deref());
                    let mut s = lock(&batch.state);
                    s.done.push(m);
                    s.started = Instant::now();
                }
                let _ = reply.send(());
            }
        })?;
        Ok(Worker { jobs: tx })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn failed(e: impl Into<String>) -> Meta {
    Meta { errors: vec![e.into()], ..Meta::default() }
}

impl Extractors {
    /// Looks for `ffprobe` on `path_var` (the caller passes `$PATH`; `None` disables it).
    pub fn new(limits: Limits, path_var: Option<&std::ffi::OsStr>) -> Self {
        let find = |tool: &str| {
            path_var.and_then(|p| {
                std::env::split_paths(p).map(|d| d.join(tool)).find(|c| {
                    std::fs::metadata(c).is_ok_and(|m| {
                        use std::os::unix::fs::PermissionsExt;
                        m.is_file() && m.permissions().mode() & 0o111 != 0
                    })
                })
            })
        };
        let (ffprobe, ffmpeg) = (find("ffprobe"), find("ffmpeg"));
        let mut g = lofty::config::GlobalOptions::new();
        lofty::config::apply_global_options(g.allocation_limit(16 << 20));
        Extractors {
            inner: Arc::new(Inner {
                limits,
                ffprobe,
                video_without_ffprobe: AtomicBool::new(false),
                ffmpeg,
                video_without_ffmpeg: AtomicBool::new(false),
            }),
            idle: Mutex::new(Vec::new()),
            started: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn has_ffprobe(&self) -> bool {
        self.inner.ffprobe.is_some()
    }

    /// How many worker threads were started so far (one per concurrent caller, plus one
    /// for each worker abandoned at the deadline).
    pub fn workers_started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// The extraction without the deadline (what a worker thread runs).
    pub fn extract_unbounded(&self, path: &Path) -> Meta {
        self.inner.extract_unbounded(path, None)
    }
}

impl Inner {
    /// A video's keyframe hashes ([`keyframes`]); `None` when ffmpeg is not installed (and
    /// that is noted once).
    fn keyframes(
        &self,
        path: &Path,
        duration_ms: Option<u64>,
        deadline: Instant,
    ) -> Option<Result<Vec<(u32, u64)>, String>> {
        let Some(ffmpeg) = &self.ffmpeg else {
            self.video_without_ffmpeg.store(true, Ordering::Relaxed);
            return None;
        };
        let duration = match (duration_ms, &self.ffprobe) {
            (Some(d), _) => Ok(d),
            (None, Some(ffprobe)) => keyframes::duration_ms(ffprobe, path, deadline),
            (None, None) => Err("no duration known (ffprobe is not installed)".to_string()),
        };
        Some(duration.and_then(|d| keyframes::hash_video(ffmpeg, path, d, deadline)))
    }

    fn extract_unbounded(&self, path: &Path, bytes: Option<&[u8]>) -> Meta {
        let mut m = Meta::default();
        if let Err(e) = read_all(self, path, bytes, &mut m) {
            m.errors.push(e);
        }
        m
    }
}

impl Extractors {
    /// The files go to one worker as a batch (one thread wake-up for the batch, not one per
    /// file: docs/performance.md), and the deadline still holds per file: the caller sleeps
    /// until the file the worker is on has had [`Limits::time`]; then that file gets the
    /// error, the worker is abandoned and a new one takes the rest of the batch.
    fn run(&self, files: Vec<(PathBuf, Option<Vec<u8>>)>) -> Vec<Meta> {
        let limit = self.inner.limits.time;
        let total = files.len();
        let mut out = Vec::with_capacity(total);
        let mut pending = files;
        while !pending.is_empty() {
            let worker = match self.worker() {
                Ok(w) => w,
                Err(e) => {
                    out.extend(pending.iter().map(|_| failed(e.clone())));
                    break;
                }
            };
            let n = pending.len();
            let batch = Arc::new(Batch {
                files: std::mem::take(&mut pending),
                state: Mutex::new(BatchState { done: Vec::with_capacity(n), started: Instant::now() }),
                cancel: AtomicBool::new(false),
            });
            let (tx, rx) = mpsc::sync_channel(1);
            if worker.jobs.send((Arc::clone(&batch), tx)).is_err() {
                out.push(failed("the metadata reader crashed on this file"));
                pending = batch.files[1..].to_vec();
                continue;
            }
            loop {
                let wait = limit.saturating_sub(lock(&batch.state).started.elapsed());
                let error = match rx.recv_timeout(wait) {
                    Ok(()) => {
                        out.append(&mut lock(&batch.state).done);
                        lock(&self.idle).push(worker);
                        break;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if lock(&batch.state).started.elapsed() < limit {
                            // The worker moved on to a later file meanwhile.
                            continue;
                        }
                        format!("metadata took longer than {} s; given up", limit.as_secs_f64())
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => "the metadata reader crashed on this file".into(),
                };
                // The worker is dropped: it is stuck on this file (or died). The files after
                // it go to a new worker.
                batch.cancel.store(true, Ordering::Relaxed);
                let mut s = lock(&batch.state);
                let k = s.done.len();
                out.append(&mut s.done);
                out.push(failed(error));
                pending = batch.files.get(k + 1..).unwrap_or_default().to_vec();
                break;
            }
        }
        out.truncate(total);
        out
    }

    /// An idle worker, or a new one.
    fn worker(&self) -> Result<Worker, String> {
        if let Some(w) = lock(&self.idle).pop() {
            return Ok(w);
        }
        let w = Worker::spawn(&self.inner).map_err(|e| format!("cannot start an extractor thread: {e}"))?;
        self.started.fetch_add(1, Ordering::Relaxed);
        Ok(w)
    }
}

impl Extractor for Extractors {
    fn extract(&self, path: &Path) -> Meta {
        self.extract_all(&[path]).pop().unwrap_or_else(|| failed("the metadata reader crashed on this file"))
    }

    /// One batch for one worker (`Extractors::run`).
    fn extract_all(&self, paths: &[&Path]) -> Vec<Meta> {
        self.run(paths.iter().map(|p| (p.to_path_buf(), None)).collect())
    }

    /// Small files come with the bytes include hashed, parsed instead of read again.
    fn extract_read(&self, files: Vec<(PathBuf, Option<Vec<u8>>)>) -> Vec<Meta> {
        self.run(files)
    }

    fn bytes_wanted_up_to(&self) -> u64 {
        WHOLE
    }

    fn perceptual(&self, path: &Path) -> Option<Result<u64, String>> {
        // Only images: a big video or archive is not an image "too large to decode".
        if kind_of_file(path).as_deref() != Some("image") {
            return None;
        }
        phash::hash_file(path, self.inner.limits.max_read)
    }

    fn keyframes(&self, path: &Path) -> Option<Result<Vec<(u32, u64)>, String>> {
        if kind_of_file(path).as_deref() != Some("video") {
            return None;
        }
        let deadline = Instant::now() + self.inner.limits.time;
        self.inner.keyframes(path, None, deadline)
    }

    fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.inner.video_without_ffprobe.load(Ordering::Relaxed) {
            out.push(
                "ffprobe is not installed: videos were indexed without duration, size or frame rate \
                 (install ffmpeg, then run `trove meta refresh type:video`)"
                    .into(),
            );
        }
        if self.inner.video_without_ffmpeg.load(Ordering::Relaxed) {
            out.push(
                "ffmpeg is not installed: videos got no keyframe hashes, so `trove dupes --similar` cannot \
                 compare them (install ffmpeg, then run `trove dupes --scan type:video`)"
                    .into(),
            );
        }
        out
    }
}

/// The kind ([`trove_core::meta::KINDS`]) of the file at `path`, sniffed from its first
/// bytes; `None` when it cannot be read.
fn kind_of_file(path: &Path) -> Option<String> {
    let (mut f, _) = open_regular(path).ok()?;
    let first = head(&mut f, 8192).ok()?;
    sniff(&first, path).as_deref().map(|m| kind_of_mime(m).to_string())
}

/// Reads at most `limit` bytes from the start of `f`.
fn head(f: &mut dyn Source, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(limit.min(1 << 20)).unwrap_or(0));
    f.seek(SeekFrom::Start(0))?;
    f.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// What the extractors read from: the open file, or the whole file in memory.
pub(crate) trait Source: Read + Seek {}
impl<T: Read + Seek> Source for T {}

/// Files up to this size are read into memory with one read, and every extractor parses
/// that buffer (small files were read a dozen times in small pieces otherwise).
const WHOLE: u64 = 256 << 10;

/// Opens without following a symlink and without blocking on a FIFO; refuses non-files.
fn open_regular(path: &Path) -> Result<(File, u64), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let md = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !md.is_file() {
        return Err("not a regular file".into());
    }
    Ok((f, md.len()))
}

/// `whole`: the file's bytes, when the caller read them already (a small file).
fn read_all(x: &Inner, path: &Path, whole: Option<&[u8]>, m: &mut Meta) -> Result<(), String> {
    if let Some(buf) = whole.filter(|b| b.len() as u64 <= WHOLE) {
        let mime = sniff(&buf[..buf.len().min(8192)], path);
        dispatch(x, path, &mut std::io::Cursor::new(buf), Some(buf), buf.len() as u64, mime, m);
        return Ok(());
    }
    let (mut f, size) = open_regular(path)?;
    if size <= WHOLE {
        let mut buf = Vec::with_capacity(size as usize);
        (&mut f).take(WHOLE).read_to_end(&mut buf).map_err(|e| format!("cannot read: {e}"))?;
        let first = &buf[..buf.len().min(8192)];
        let mime = sniff(first, path);
        let n = buf.len() as u64;
        dispatch(x, path, &mut std::io::Cursor::new(buf.as_slice()), Some(&buf), n, mime, m);
    } else {
        let first = head(&mut f, 8192).map_err(|e| format!("cannot read: {e}"))?;
        let mime = sniff(&first, path);
        dispatch(x, path, &mut f, None, size, mime, m);
    }
    Ok(())
}

/// `whole` is the file's bytes when it was small enough to be read at once.
fn dispatch(
    x: &Inner,
    path: &Path,
    f: &mut dyn Source,
    whole: Option<&[u8]>,
    size: u64,
    mime: Option<String>,
    m: &mut Meta,
) {
    let kind = mime.as_deref().map(kind_of_mime);
    m.mime = mime.clone();
    m.kind = kind.map(str::to_string);
    let mime = mime.unwrap_or_default();
    match kind {
        Some("image") => {
            image(x, f, size, &mime, m);
            m.perceptual = match whole {
                Some(b) => phash::hash_bytes(b),
                None => phash::hash_file(path, x.limits.max_read),
            };
        }
        Some("audio") => audio(f, m),
        Some("video") => {
            let deadline = Instant::now() + x.limits.time * 9 / 10;
            video(x, path, m);
            m.keyframes = x.keyframes(path, m.duration_ms, deadline);
        }
        _ if mime == "application/pdf" => pdf(x, f, size, m),
        _ => {}
    }
}

/// The MIME type from the content; plain text is recognised as valid UTF-8 without NULs.
fn sniff(first: &[u8], path: &Path) -> Option<String> {
    if let Some(t) = infer::get(first) {
        // infer reads Ogg as audio/ogg and Matroska as video/x-matroska; both fine.
        return Some(t.mime_type().to_string());
    }
    if first.is_empty() {
        return None;
    }
    let text = match std::str::from_utf8(first) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) => e.error_len().is_none() && first.len() == 8192,
    };
    if text && !first.contains(&0) {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let sub = match ext.as_str() {
            "md" | "markdown" => "markdown",
            "html" | "htm" => "html",
            "csv" => "csv",
            _ => "plain",
        };
        return Some(format!("text/{sub}"));
    }
    None
}

fn image(x: &Inner, f: &mut dyn Source, size: u64, mime: &str, m: &mut Meta) {
    let _ = f.seek(SeekFrom::Start(0));
    match imagesize::reader_size(BufReader::new(&mut *f)) {
        Ok(s) => {
            m.width = u32::try_from(s.width).ok();
            m.height = u32::try_from(s.height).ok();
        }
        Err(e) => m.errors.push(format!("image size: {e}")),
    }
    let bound = x.limits.max_read.min(size);
    if mime == "image/png" {
        if let Err(e) = png::text_chunks(f, m) {
            m.errors.push(format!("png: {e}"));
        }
        return;
    }
    // JPEG keeps EXIF in the first 64 KiB segment; other containers may put it anywhere in
    // the bounded head.
    let limit = if mime == "image/jpeg" { bound.min(1 << 20) } else { bound };
    match head(f, limit) {
        Ok(buf) => exif::read(&buf, m),
        Err(e) => m.errors.push(format!("exif: {e}")),
    }
}

/// The embedded cover art of an audio file (the front cover, else the first picture), as the
/// encoded image bytes (JPEG, PNG…): for thumbnails, without ffmpeg. `None` when the file has
/// no picture or cannot be read; pictures larger than `max` bytes are not loaded (lofty's
/// global allocation limit bounds what it reads at all).
pub fn cover_art(path: &Path, max: usize) -> Option<Vec<u8>> {
    use lofty::prelude::*;
    let f = File::open(path).ok()?;
    let probe = lofty::probe::Probe::new(BufReader::new(f)).guess_file_type().ok()?;
    let tagged = probe.read().ok()?;
    let pictures = tagged.tags().iter().flat_map(|t| t.pictures().iter());
    let mut first = None;
    for p in pictures {
        if p.pic_type() == lofty::picture::PictureType::CoverFront {
            first = Some(p);
            break;
        }
        first.get_or_insert(p);
    }
    first.map(lofty::picture::Picture::data).filter(|d| !d.is_empty() && d.len() <= max).map(<[u8]>::to_vec)
}

fn audio(f: &mut dyn Source, m: &mut Meta) {
    use lofty::prelude::*;
    let _ = f.seek(SeekFrom::Start(0));
    let opts = lofty::config::ParseOptions::new().read_cover_art(false);
    let probe = lofty::probe::Probe::new(BufReader::new(&mut *f)).options(opts);
    let tagged =
        match probe.guess_file_type().map_err(|e| e.to_string()).and_then(|p| p.read().map_err(|e| e.to_string())) {
            Ok(t) => t,
            Err(e) => {
                m.errors.push(format!("audio: {e}"));
                return;
            }
        };
    let d = tagged.properties().duration();
    if !d.is_zero() {
        m.duration_ms = Some(d.as_millis() as u64);
    }
    m.has_audio = Some(true);
    let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) else { return };
    for (key, item) in [
        ("artist", ItemKey::TrackArtist),
        ("albumartist", ItemKey::AlbumArtist),
        ("album", ItemKey::AlbumTitle),
        ("title", ItemKey::TrackTitle),
        ("genre", ItemKey::Genre),
        ("date", ItemKey::RecordingDate),
        ("date", ItemKey::Year),
    ] {
        for v in tag.get_strings(item) {
            m.push(key, v);
        }
    }
    if let Some(t) = tag.track() {
        m.push("track", &t.to_string());
    }
    if let Some(d) = tag.disk() {
        m.push("disc", &d.to_string());
    }
    if let Some(y) = m.field("date").and_then(|d| d.get(..4)).filter(|y| y.bytes().all(|b| b.is_ascii_digit())) {
        let y = y.to_string();
        m.push("year", &y);
    }
}

fn pdf(x: &Inner, f: &mut dyn Source, size: u64, m: &mut Meta) {
    if size > x.limits.max_read {
        m.errors.push(format!("pdf: larger than {} MiB; info not read", x.limits.max_read >> 20));
        return;
    }
    let buf = match head(f, x.limits.max_read) {
        Ok(b) => b,
        Err(e) => {
            m.errors.push(format!("pdf: {e}"));
            return;
        }
    };
    match lopdf::Document::load_metadata_mem(&buf) {
        Ok(p) => {
            for (k, v) in [("title", p.title), ("author", p.author), ("subject", p.subject), ("keywords", p.keywords)] {
                if let Some(v) = v {
                    m.push(k, &v);
                }
            }
            if let Some(c) = p.creation_date {
                m.push("pdf.created", &c);
            }
            m.push("pages", &p.page_count.to_string());
        }
        Err(e) => m.errors.push(format!("pdf: {e}")),
    }
}

fn video(x: &Inner, path: &Path, m: &mut Meta) {
    let Some(ffprobe) = &x.ffprobe else {
        x.video_without_ffprobe.store(true, Ordering::Relaxed);
        return;
    };
    let child = Command::new(ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            m.errors.push(format!("ffprobe: {e}"));
            return;
        }
    };
    // stdout is read on a helper thread (bounded); this one reaps the child and kills it at
    // the deadline.
    // Three quarters of the file's time, so ffprobe is killed (and the rest of what was read
    // kept) before the whole extraction is given up.
    let budget = x.limits.time * 3 / 4;
    let deadline = Instant::now() + budget;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(o) = stdout {
            let _ = o.take(4 << 20).read_to_end(&mut out);
        }
        out
    });
    let ok = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                m.errors.push(format!("ffprobe took longer than {:.1} s; killed", budget.as_secs_f64()));
                return;
            }
            Err(e) => {
                m.errors.push(format!("ffprobe: {e}"));
                return;
            }
        }
    };
    let out = reader.join().unwrap_or_default();
    if !ok {
        m.errors.push("ffprobe could not read the file".into());
        return;
    }
    let v: serde_json::Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => {
            m.errors.push(format!("ffprobe: {e}"));
            return;
        }
    };
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    m.has_audio = Some(streams.iter().any(|s| s["codec_type"] == "audio"));
    if let Some(s) = streams.iter().find(|s| s["codec_type"] == "video") {
        m.width = s["width"].as_u64().and_then(|w| u32::try_from(w).ok());
        m.height = s["height"].as_u64().and_then(|w| u32::try_from(w).ok());
        m.fps =
            s["avg_frame_rate"].as_str().and_then(rational).or_else(|| s["r_frame_rate"].as_str().and_then(rational));
        if let Some(c) = s["codec_name"].as_str() {
            m.push("codec", c);
        }
        // Phones store the rotation as side data; 90° turns swap what is displayed.
        let rot = s["side_data_list"].as_array().into_iter().flatten().find_map(|d| d["rotation"].as_i64());
        if rot.is_some_and(|r| r.rem_euclid(180) == 90) {
            std::mem::swap(&mut m.width, &mut m.height);
        }
    }
    if let Some(d) =
        v["format"]["duration"].as_str().and_then(|d| d.parse::<f64>().ok()).filter(|d| d.is_finite() && *d >= 0.0)
    {
        m.duration_ms = Some((d * 1000.0).round() as u64);
    }
    if let Some(tags) = v["format"]["tags"].as_object() {
        for (k, key) in [("title", "title"), ("artist", "artist"), ("album", "album")] {
            if let Some(s) = tags.get(k).and_then(|x| x.as_str()) {
                m.push(key, s);
            }
        }
    }
}

/// "30000/1001" → 29.97; "0/0" → none.
fn rational(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| (n / d * 1000.0).round() / 1000.0)
}
