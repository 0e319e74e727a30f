//! Thumbnails: made on demand, cached by content hash under the cache directory, written
//! atomically (temp file + rename). Images through the `image` crate with the EXIF
//! orientation applied; audio cover art through lofty (`trove_meta::cover_art`, no program
//! needed; `ffmpeg` for containers lofty does not read); video frames through `ffmpeg` and
//! PDF first pages through `pdftoppm`, when those programs are installed. Anything else —
//! and any file that cannot be decoded — gets a type icon, never a broken image.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::{DynamicImage, ImageDecoder, ImageReader};
use trove_core::{FileRecord, FileState};

/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIZE: u32 = 320;

/// What asking for a thumbnail gave.
#[derive(Debug)]
pub enum ThumbOutcome {
    /// Made now and stored in the cache (JPEG bytes).
    Made(Vec<u8>),
    /// Already in the cache (JPEG bytes).
    Cached(Vec<u8>),
    /// A type icon (SVG); `reason` says why there is no picture when one was expected.
    Icon { svg: String, reason: Option<String> },
}

/// Makes and caches thumbnails under one directory.
#[derive(Debug, Clone)]
pub struct Thumbnailer {
    dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Image,
    Video,
    Audio,
    Pdf,
    Other,
}

fn kind(p: &Path) -> Kind {
    let m = crate::api::mime_for(p);
    if m == "image/svg+xml" {
        Kind::Other
    } else if m.starts_with("image/") {
        Kind::Image
    } else if m.starts_with("video/") {
        Kind::Video
    } else if m.starts_with("audio/") {
        Kind::Audio
    } else if m == "application/pdf" {
        Kind::Pdf
    } else {
        Kind::Other
    }
}

/// Programs `have` found; a found program is not looked for again (one `ffmpeg -version`
/// per thumbnail cost ~100 ms of a ~470 ms video thumbnail). A missing one is looked for
/// every time, so installing it needs no restart of the server.
static FOUND: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Whether an external program can be run (`PROGRAM -version` or `-v` succeeds).
fn have(program: &'static str) -> bool {
    if FOUND.lock().is_ok_and(|f| f.contains(&program)) {
        return true;
    }
    let found = ["-version", "-v"].iter().any(|flag| {
        Command::new(program)
            .arg(flag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found && let Ok(mut f) = FOUND.lock() {
        f.push(program);
    }
    found
}

impl Thumbnailer {
    pub fn new(dir: PathBuf) -> Thumbnailer {
        Thumbnailer { dir }
    }

    pub(crate) fn cache_path(&self, r: &FileRecord) -> PathBuf {
        let h = r.hash.to_hex();
        self.dir.join(&h[..2]).join(format!("{h}-{THUMB_SIZE}.jpg"))
    }

    /// The cached thumbnail, if there is one.
    pub fn cached(&self, r: &FileRecord) -> Option<Vec<u8>> {
        std::fs::read(self.cache_path(r)).ok()
    }

    /// The thumbnail of `r`: from the cache, made now, or an icon.
    pub fn make(&self, r: &FileRecord) -> ThumbOutcome {
        if let Some(b) = self.cached(r) {
            return ThumbOutcome::Cached(b);
        }
        let k = kind(&r.path);
        if r.state != FileState::Present {
            return ThumbOutcome::Icon { svg: icon(&r.path, k), reason: None };
        }
        let decoded = match k {
            Kind::Image => decode_image(&r.path),
            Kind::Video => via_ffmpeg(&r.path, true),
            Kind::Audio => cover_art(&r.path),
            Kind::Pdf => via_pdftoppm(&r.path),
            Kind::Other => return ThumbOutcome::Icon { svg: icon(&r.path, k), reason: None },
        };
        let img = match decoded {
            Ok(i) => i,
            Err(reason) => return ThumbOutcome::Icon { svg: icon(&r.path, k), reason: Some(reason) },
        };
        let small = img.thumbnail(THUMB_SIZE, THUMB_SIZE).to_rgb8();
        let mut out = Vec::new();
        if let Err(e) = DynamicImage::ImageRgb8(small).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg) {
            return ThumbOutcome::Icon { svg: icon(&r.path, k), reason: Some(format!("encoding the thumbnail: {e}")) };
        }
        // A cache that cannot be written costs speed, not correctness: serve what we made.
        let _ = self.store(r, &out);
        ThumbOutcome::Made(out)
    }

    fn store(&self, r: &FileRecord, bytes: &[u8]) -> std::io::Result<()> {
        let dest = self.cache_path(r);
        let dir = dest.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), crate::secret()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

fn decode_image(p: &Path) -> Result<DynamicImage, String> {
    let reader = ImageReader::open(p).map_err(|e| format!("cannot open: {e}"))?;
    let reader = reader.with_guessed_format().map_err(|e| format!("cannot read: {e}"))?;
    let mut decoder = reader.into_decoder().map_err(|e| format!("not a picture this build decodes: {e}"))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| format!("cannot decode: {e}"))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// A temporary directory for an external program's output, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let d = std::env::temp_dir().join(format!("trove-thumb-{}-{}", std::process::id(), crate::secret()));
        std::fs::create_dir(&d)?;
        Ok(Scratch(d))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_quiet(c: &mut Command) -> Result<(), String> {
    let o = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("failed").to_string())
    }
}

/// An audio file's embedded cover art: read by lofty (no ffmpeg needed), else by ffmpeg
/// (containers lofty does not read).
fn cover_art(p: &Path) -> Result<DynamicImage, String> {
    match trove_meta::cover_art(p, 16 << 20) {
        Some(bytes) => image::load_from_memory(&bytes).map_err(|e| format!("the cover art: {e}")),
        None if have("ffmpeg") => via_ffmpeg(p, false),
        None => Err("no cover art".into()),
    }
}

/// A video frame from about 10 % in, or an audio file's embedded cover art.
fn via_ffmpeg(p: &Path, video: bool) -> Result<DynamicImage, String> {
    if !have("ffmpeg") {
        return Err("ffmpeg is not installed (apt install ffmpeg) for video and audio thumbnails".into());
    }
    let s = Scratch::new().map_err(|e| e.to_string())?;
    let out = s.0.join("frame.png");
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-v", "error", "-y"]);
    if video {
        let seek = duration(p).map_or(0.0, |d| d * 0.1);
        c.args(["-ss", &format!("{seek:.3}")]);
    }
    // `--` would end options for ffmpeg's own parser too; a path that starts with '-' is
    // passed as `file:PATH`.
    let mut input = std::ffi::OsString::from("file:");
    input.push(p.as_os_str());
    c.arg("-i").arg(input).args(["-an", "-frames:v", "1", "-vf", "scale=640:-2"]).arg(&out);
    run_quiet(&mut c).map_err(|e| {
        if video { format!("ffmpeg could not take a frame: {e}") } else { format!("no cover art: {e}") }
    })?;
    image::open(&out).map_err(|e| format!("ffmpeg's frame: {e}"))
}

fn duration(p: &Path) -> Option<f64> {
    let mut input = std::ffi::OsString::from("file:");
    input.push(p.as_os_str());
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

fn via_pdftoppm(p: &Path) -> Result<DynamicImage, String> {
    if !have("pdftoppm") {
        return Err("pdftoppm is not installed (apt install poppler-utils) for PDF thumbnails".into());
    }
    let s = Scratch::new().map_err(|e| e.to_string())?;
    let prefix = s.0.join("page");
    let mut c = Command::new("pdftoppm");
    c.args(["-f", "1", "-l", "1", "-png", "-singlefile", "-scale-to", "640", "--"]).arg(p).arg(&prefix);
    run_quiet(&mut c).map_err(|e| format!("pdftoppm could not render page 1: {e}"))?;
    image::open(prefix.with_extension("png")).map_err(|e| format!("pdftoppm's page: {e}"))
}

/// A type icon: a coloured card with the extension.
fn icon(p: &Path, k: Kind) -> String {
    let (colour, label) = match k {
        Kind::Image => ("#6a8caf", "image"),
        Kind::Video => ("#a3586b", "video"),
        Kind::Audio => ("#5c9a6a", "audio"),
        Kind::Pdf => ("#b5523b", "pdf"),
        Kind::Other => ("#7d7d7d", "file"),
    };
    let ext: String = p
        .extension()
        .map(|e| e.to_string_lossy().to_uppercase())
        .unwrap_or_else(|| label.to_uppercase())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(5)
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{THUMB_SIZE}\" height=\"{THUMB_SIZE}\" viewBox=\"0 0 100 100\">\
         <rect x=\"18\" y=\"8\" width=\"64\" height=\"84\" rx=\"6\" fill=\"{colour}\"/>\
         <text x=\"50\" y=\"58\" font-family=\"sans-serif\" font-size=\"14\" fill=\"#fff\" text-anchor=\"middle\">{ext}</text>\
         <text x=\"50\" y=\"78\" font-family=\"sans-serif\" font-size=\"8\" fill=\"#fff\" text-anchor=\"middle\">{label}</text></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn have_remembers_found_programs_and_not_missing_ones() {
        assert!(!have("trove-no-such-program"));
        assert!(!FOUND.lock().unwrap().contains(&"trove-no-such-program"));
        // `sh -version` fails, `sh -v` reads an empty stdin and succeeds.
        assert!(have("sh"));
        assert!(FOUND.lock().unwrap().contains(&"sh"));
        assert!(have("sh"));
        assert_eq!(FOUND.lock().unwrap().iter().filter(|p| **p == "sh").count(), 1);
    }
}
