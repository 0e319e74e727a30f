//! Keyframe hashes of videos: [`FRAMES`] frames at 10, 30, 50, 70 and 90 % of the duration,
//! each decoded by `ffmpeg` (found on `$PATH` at run time) to 64×64 grey pixels and hashed
//! with the same gradient hash as images ([`crate::phash`]). A re-encode or a resized copy
//! shows the same pictures at the same times, so its frames hash alike; two videos are
//! compared frame by frame in trove-core (`store::dupes::video_pairs`).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many frames are hashed per video.
pub const FRAMES: usize = 5;
/// The side of the grey square each frame is scaled to before hashing.
const SIDE: usize = 64;

/// The positions hashed, as fractions of the duration.
pub fn positions() -> [f64; FRAMES] {
    [0.1, 0.3, 0.5, 0.7, 0.9]
}

/// Runs `cmd` until it exits or `deadline` (then kills it); its stdout, at most `limit`
/// bytes. `what` names it in errors.
pub(crate) fn run_bounded(mut cmd: Command, deadline: Instant, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(o) = stdout {
            let _ = o.take(limit).read_to_end(&mut out);
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
                let _ = reader.join();
                return Err(format!("{what} took too long; killed"));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(format!("{what}: {e}"));
            }
        }
    };
    let out = reader.join().unwrap_or_default();
    if !ok {
        return Err(format!("{what} could not read the file"));
    }
    Ok(out)
}

/// The duration of a video in milliseconds, from `ffprobe`.
pub fn duration_ms(ffprobe: &Path, path: &Path, deadline: Instant) -> Result<u64, String> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", "--"]).arg(path);
    let out = run_bounded(cmd, deadline, 4096, "ffprobe")?;
    let text = String::from_utf8_lossy(&out);
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (d * 1000.0).round() as u64)
        .ok_or_else(|| "ffprobe found no duration".to_string())
}

/// The hashes of the frames at [`positions`] of a video `duration_ms` long, each with its
/// frame number (1 to [`FRAMES`]); a frame ffmpeg cannot produce is left out. An error when
/// none could be hashed.
pub fn hash_video(ffmpeg: &Path, path: &Path, duration_ms: u64, deadline: Instant) -> Result<Vec<(u32, u64)>, String> {
    // A path starting with '-' would be read as an option; `file:` makes it a path.
    let input = {
        let mut s = std::ffi::OsString::from("file:");
        s.push(path.as_os_str());
        s
    };
    let mut out = Vec::with_capacity(FRAMES);
    let mut last_err = None;
    for (n, p) in (1u32..).zip(positions()) {
        let at = duration_ms as f64 * p / 1000.0;
        let mut cmd = Command::new(ffmpeg);
        cmd.args(["-nostdin", "-v", "error", "-ss", &format!("{at:.3}"), "-i"])
            .arg(&input)
            .args(["-map", "0:v:0", "-frames:v", "1", "-vf", &format!("scale={SIDE}:{SIDE},format=gray")])
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"]);
        match run_bounded(cmd, deadline, (SIDE * SIDE) as u64, "ffmpeg") {
            Ok(px) if px.len() == SIDE * SIDE => {
                let img = image::GrayImage::from_raw(SIDE as u32, SIDE as u32, px).ok_or("ffmpeg: bad frame")?;
                out.push((n, crate::phash::hash_grey(&img, crate::phash::Algorithm::Gradient)));
            }
            Ok(px) => last_err = Some(format!("ffmpeg gave {} bytes for a frame at {at:.1} s", px.len())),
            Err(e) => {
                let killed = e.contains("too long");
                last_err = Some(e);
                if killed {
                    break;
                }
            }
        }
    }
    if out.is_empty() {
        return Err(last_err.unwrap_or_else(|| "ffmpeg gave no frame".into()));
    }
    Ok(out)
}
