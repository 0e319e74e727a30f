//! The per-file time limit: a hanging ffprobe is killed at the deadline and the file is
//! recorded with an error, also in the middle of a batch; worker threads are reused, not
//! started per file.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use trove_core::meta::Extractor;
use trove_meta::{Extractors, Limits};

/// An MP4 header (ftyp isom): enough for the content sniffer to call it a video.
fn mp4_header() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.extend_from_slice(&[0; 64]);
    v
}

#[test]
fn a_hanging_ffprobe_is_killed_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("ffprobe");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let video = dir.path().join("v.mp4");
    std::fs::write(&video, mp4_header()).unwrap();

    let x = Extractors::new(Limits { time: Duration::from_secs(1), ..Limits::default() }, Some(bin.as_os_str()));
    assert!(x.has_ffprobe());
    let t = Instant::now();
    let m = x.extract(&video);
    let took = t.elapsed();
    assert_eq!(m.kind.as_deref(), Some("video"));
    let e = m.error_text().unwrap_or_default();
    assert!(e.contains("ffprobe took longer than 0.8 s; killed"), "{e}");
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
}

#[test]
fn fifos_and_directories_are_never_opened_for_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let x = Extractors::new(Limits::default(), None);
    let t = Instant::now();
    let m = x.extract(&fifo);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(m.error_text().unwrap_or_default().contains("not a regular file"), "{m:?}");
    let m = x.extract(dir.path());
    assert!(m.error_text().is_some());
}

#[test]
fn workers_are_reused_not_one_thread_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = Extractors::new(Limits::default(), None);
    for i in 0..200 {
        let p = dir.path().join(format!("{i}.txt"));
        std::fs::write(&p, format!("file {i}\n")).unwrap();
        assert_eq!(x.extract(&p).kind.as_deref(), Some("text"));
    }
    // One call at a time needs one worker thread.
    assert_eq!(x.workers_started(), 1);
    // Calls from several threads at once get a worker each, and keep them.
    std::thread::scope(|s| {
        for t in 0..4 {
            let (x, dir) = (&x, dir.path());
            s.spawn(move || {
                for i in 0..50 {
                    assert_eq!(x.extract(&dir.join(format!("{}.txt", t * 50 + i))).kind.as_deref(), Some("text"));
                }
            });
        }
    });
    assert!(x.workers_started() <= 4, "{}", x.workers_started());
}

/// Files go to a worker in batches, and the deadline still holds per file: a file over the
/// limit in the middle of a batch gets the error, the files before it keep their results and
/// the rest of the batch is read by a new worker.
#[test]
fn a_file_over_the_time_limit_in_a_batch_is_given_up_and_the_rest_extracted() {
    use image::ImageEncoder;
    let dir = tempfile::tempdir().unwrap();
    // A PNG of 12 000 × 12 000 grey pixels: small on disk, 144 MB of pixels to inflate and
    // shrink for the perceptual hash (seconds unoptimised, ~0.5 s optimised).
    let slow = dir.path().join("slow.png");
    let side = 12_000u32;
    let f = std::io::BufWriter::new(std::fs::File::create(&slow).unwrap());
    image::codecs::png::PngEncoder::new_with_quality(
        f,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&vec![0u8; (side * side) as usize], side, side, image::ExtendedColorType::L8)
    .unwrap();
    let mut paths = Vec::new();
    for i in 0..6 {
        if i == 3 {
            paths.push(slow.clone());
        }
        let p = dir.path().join(format!("{i}.txt"));
        std::fs::write(&p, format!("file {i}\n")).unwrap();
        paths.push(p);
    }
    let limit = Duration::from_millis(100);
    let x = Extractors::new(Limits { time: limit, ..Limits::default() }, None);
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let t = Instant::now();
    let metas = x.extract_all(&refs);
    let took = t.elapsed();
    assert_eq!(metas.len(), paths.len());
    for (p, m) in paths.iter().zip(&metas) {
        if *p == slow {
            assert_eq!(m.error_text().as_deref(), Some("metadata took longer than 0.1 s; given up"), "{m:?}");
        } else {
            assert_eq!((m.kind.as_deref(), m.error_text()), (Some("text"), None), "{p:?}");
        }
    }
    // The stuck worker was abandoned; a second one took the last three files.
    assert_eq!(x.workers_started(), 2);
    assert!(took < Duration::from_secs(2), "gave up after {took:?}");
    // The second worker is kept for the next batch (no new thread).
    assert!(x.extract_all(&refs[..3]).iter().all(|m| m.kind.as_deref() == Some("text")));
    assert_eq!(x.workers_started(), 2);
}

/// A scan asks every file for a perceptual hash: only images answer. A big video or text
/// file is not "an image too large to decode" (that error was stored and kept the video
/// from ever getting keyframe hashes); without ffmpeg a video gets no keyframes, and that
/// is noted once, not per file.
#[test]
fn a_big_file_that_is_not_an_image_gets_no_perceptual_error_and_ffmpegs_absence_is_noted_once() {
    let dir = tempfile::tempdir().unwrap();
    let x = Extractors::new(Limits { max_read: 1024, ..Limits::default() }, None);
    let text = dir.path().join("big.txt");
    std::fs::write(&text, "words ".repeat(1000)).unwrap();
    assert_eq!(x.perceptual(&text), None);
    assert_eq!(x.keyframes(&text), None);
    let mut v = mp4_header();
    v.resize(4096, 0);
    for i in 0..3 {
        std::fs::write(dir.path().join(format!("v{i}.mp4")), &v).unwrap();
        assert_eq!(x.perceptual(&dir.path().join(format!("v{i}.mp4"))), None);
        assert_eq!(x.keyframes(&dir.path().join(format!("v{i}.mp4"))), None);
    }
    let notes = x.notes();
    assert_eq!(notes.iter().filter(|n| n.contains("ffmpeg is not installed")).count(), 1, "{notes:?}");
    // An image over the read limit still says why it has no hash.
    let png = dir.path().join("big.png");
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, (x ^ y) as u8])).save(&png).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1024);
    assert!(matches!(x.perceptual(&png), Some(Err(e)) if e.contains("larger than")), "{:?}", x.perceptual(&png));
}

/// Include hands over the bytes of the small files it hashed: parsing those gives the same
/// metadata as reading the file, for each kind of file the extractors read whole.
#[test]
fn bytes_handed_over_give_the_same_metadata_as_reading_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let jpg = dir.path().join("a.jpg");
    image::DynamicImage::ImageRgb8(img.clone()).save_with_format(&jpg, image::ImageFormat::Jpeg).unwrap();
    let png = dir.path().join("a.png");
    image::DynamicImage::ImageRgb8(img).save_with_format(&png, image::ImageFormat::Png).unwrap();
    let txt = dir.path().join("a.txt");
    std::fs::write(&txt, "words\n").unwrap();
    let x = Extractors::new(Limits::default(), None);
    let paths = [jpg, png, txt];
    let files: Vec<_> = paths.iter().map(|p| (p.clone(), Some(std::fs::read(p).unwrap()))).collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let from_disk = x.extract_all(&refs);
    // The files are gone: only the bytes handed over can give the metadata.
    for p in &paths {
        std::fs::remove_file(p).unwrap();
    }
    let from_bytes = x.extract_read(files);
    assert_eq!(from_bytes, from_disk);
    assert_eq!(from_bytes[0].width, Some(200));
    assert!(matches!(from_bytes[1].perceptual, Some(Ok(_))));
    assert_eq!(from_bytes[2].kind.as_deref(), Some("text"));
    assert!(x.bytes_wanted_up_to() > 0);
}
