//! Perceptual hashes on a fixture set made here: synthetic photos-like images (gradients
//! and overlapping shapes), each with six known transforms — resized to half, recompressed
//! as JPEG at quality 20, cropped by 5 %, a small text-like overlay, mirrored, grayscale —
//! plus the other images as unrelated ones. Recall per transform and precision over every
//! pair at trove's default distance are printed (docs/performance.md) and held to the
//! targets of issue 16: recall ≥ 0.9 on resize, recompress and crop; precision ≥ 0.99.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use trove_core::meta::Extractor;
use trove_core::similar::DEFAULT_DISTANCE;
use trove_meta::phash::{self, Algorithm};
use trove_meta::{Extractors, Limits};

const BASES: usize = 60;
const TRANSFORMS: [&str; 6] = ["resize", "recompress", "crop", "text", "mirror", "gray"];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
    fn colour(&mut self) -> [u8; 3] {
        [self.below(256) as u8, self.below(256) as u8, self.below(256) as u8]
    }
}

/// A picture-like image: a four-corner gradient, then overlapping discs and rectangles.
fn base(seed: u64) -> RgbImage {
    let mut r = Rng(seed * 7919 + 17);
    let (w, h) = (320u32, 240u32);
    let c: Vec<[u8; 3]> = (0..4).map(|_| r.colour()).collect();
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let mix = |k: usize| {
            let top = c[0][k] as f32 * (1.0 - fx) + c[1][k] as f32 * fx;
            let bottom = c[2][k] as f32 * (1.0 - fx) + c[3][k] as f32 * fx;
            (top * (1.0 - fy) + bottom * fy) as u8
        };
        Rgb([mix(0), mix(1), mix(2)])
    });
    for _ in 0..6 + r.below(8) {
        let col = r.colour();
        let (cx, cy) = (r.below(w) as i64, r.below(h) as i64);
        let (rx, ry) = (15 + r.below(80) as i64, 15 + r.below(70) as i64);
        let disc = r.below(2) == 0;
        for y in (cy - ry).max(0)..(cy + ry).min(h as i64) {
            for x in (cx - rx).max(0)..(cx + rx).min(w as i64) {
                let (dx, dy) = ((x - cx) as f32 / rx as f32, (y - cy) as f32 / ry as f32);
                if !disc || dx * dx + dy * dy <= 1.0 {
                    img.put_pixel(x as u32, y as u32, Rgb(col));
                }
            }
        }
    }
    img
}

/// A small caption: a light box with dark strokes, about 3 % of the image.
fn text_overlay(img: &RgbImage, seed: u64) -> RgbImage {
    let mut out = img.clone();
    let mut r = Rng(seed);
    let (x0, y0, bw, bh) = (12u32, img.height() - 34, 96u32, 22u32);
    for y in y0..y0 + bh {
        for x in x0..x0 + bw {
            out.put_pixel(x, y, Rgb([240, 240, 235]));
        }
    }
    for g in 0..12 {
        let gx = x0 + 4 + g * 7;
        for _ in 0..4 {
            let (sx, sy) = (gx + r.below(5), y0 + 4 + r.below(12));
            for y in sy..sy + 3 {
                out.put_pixel(sx, y, Rgb([20, 20, 20]));
            }
        }
    }
    out
}

fn encode(img: &DynamicImage, format: ImageFormat, path: &Path) {
    match format {
        ImageFormat::Jpeg => {
            let f = std::fs::File::create(path).unwrap();
            let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(f, 20);
            enc.encode_image(&img.to_rgb8()).unwrap();
        }
        _ => img.save_with_format(path, format).unwrap(),
    }
}

/// Writes the fixture set under `dir`: `b{i}.png` and `b{i}-{transform}.{png,jpg}`.
fn fixtures(dir: &Path) -> Vec<(usize, Option<&'static str>, PathBuf)> {
    let mut out = Vec::new();
    for i in 0..BASES {
        let b = base(i as u64);
        let (w, h) = (b.width(), b.height());
        let orig = DynamicImage::ImageRgb8(b.clone());
        let p = dir.join(format!("b{i}.png"));
        encode(&orig, ImageFormat::Png, &p);
        out.push((i, None, p));
        for t in TRANSFORMS {
            let (img, fmt) = match t {
                "resize" => (orig.resize_exact(w / 2, h / 2, image::imageops::FilterType::Triangle), ImageFormat::Png),
                "recompress" => (orig.clone(), ImageFormat::Jpeg),
                // 5 % of each side's length off, split between its two ends
                "crop" => (orig.crop_imm(w * 25 / 1000, h * 25 / 1000, w * 95 / 100, h * 95 / 100), ImageFormat::Png),
                "text" => (DynamicImage::ImageRgb8(text_overlay(&b, i as u64)), ImageFormat::Png),
                "mirror" => (orig.fliph(), ImageFormat::Png),
                _ => (DynamicImage::ImageLuma8(orig.to_luma8()), ImageFormat::Png),
            };
            let ext = if fmt == ImageFormat::Jpeg { "jpg" } else { "png" };
            let p = dir.join(format!("b{i}-{t}.{ext}"));
            encode(&img, fmt, &p);
            out.push((i, Some(t), p));
        }
    }
    out
}

struct Figures {
    recall: Vec<(&'static str, f64)>,
    precision: f64,
    found: usize,
}

fn measure(items: &[(usize, Option<&'static str>, u64)], d: u32) -> Figures {
    let recall = TRANSFORMS
        .iter()
        .map(|t| {
            let mut hit = 0;
            let mut all = 0;
            for (b, tr, h) in items {
                if tr == &Some(*t) {
                    all += 1;
                    let orig = items.iter().find(|x| x.0 == *b && x.1.is_none()).unwrap().2;
                    hit += usize::from((h ^ orig).count_ones() <= d);
                }
            }
            (*t, hit as f64 / all as f64)
        })
        .collect();
    let (mut found, mut right) = (0usize, 0usize);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            if (items[i].2 ^ items[j].2).count_ones() <= d {
                found += 1;
                right += usize::from(items[i].0 == items[j].0);
            }
        }
    }
    Figures { recall, precision: if found == 0 { 1.0 } else { right as f64 / found as f64 }, found }
}

fn table(name: &str, d: u32, f: &Figures) -> String {
    let r: Vec<String> = f.recall.iter().map(|(t, x)| format!("{t} {x:.2}")).collect();
    format!("{name:>8} d≤{d:<2}  recall: {}  precision {:.4} ({} pairs)", r.join(", "), f.precision, f.found)
}

#[test]
fn perceptual_hashes_find_resized_recompressed_and_cropped_copies_at_the_default_distance() {
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path());
    // Through the extractor trove runs (`trove dupes --scan` calls this), on real files.
    let x = Extractors::new(Limits::default(), None);
    let items: Vec<(usize, Option<&'static str>, u64)> = files
        .iter()
        .map(|(b, t, p)| (*b, *t, x.perceptual(p).expect("an image").unwrap_or_else(|e| panic!("{p:?}: {e}"))))
        .collect();
    // And at include: the full extraction carries the same hash.
    let m = x.extract(&files[0].2);
    assert_eq!(m.perceptual, Some(Ok(items[0].2)));

    let f = measure(&items, DEFAULT_DISTANCE);
    println!("{}", table("default", DEFAULT_DISTANCE, &f));
    for (t, r) in &f.recall {
        if matches!(*t, "resize" | "recompress" | "crop") {
            assert!(*r >= 0.9, "recall on {t}: {r}");
        }
    }
    assert!(f.precision >= 0.99, "precision {}", f.precision);
}

#[test]
fn a_file_that_is_not_an_image_has_no_perceptual_hash_and_a_broken_one_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let x = Extractors::new(Limits::default(), None);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just words\n").unwrap();
    assert_eq!(x.perceptual(&text), None);
    assert_eq!(x.extract(&text).perceptual, None);
    // A PNG signature followed by garbage: an image format, but no pixels.
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRgarbage").unwrap();
    let e = x.perceptual(&bad).expect("a PNG").expect_err("undecodable");
    assert!(e.starts_with("perceptual hash:"), "{e}");
    // An image that claims to be huge is refused before its pixels are read.
    let huge = dir.path().join("huge.png");
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(&[0u8; 3], 1, 1, image::ExtendedColorType::Rgb8).unwrap();
    // patch the IHDR width to 60 000 (the CRC no longer matches: refused either way)
    png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    std::fs::write(&huge, &png).unwrap();
    assert!(x.perceptual(&huge).expect("a PNG").is_err());
}

/// The hash at include decodes less than the full pipeline (`phash::grey`: a JPEG at 1/8
/// scale from its DC coefficients, integer grey, a box shrink before the hasher's resize)
/// and must stay
/// close to what the full decode gave, on the fixtures and on larger JPEGs and PNGs where
/// the shrink does most.
#[test]
fn the_fast_grey_path_hashes_nearly_as_the_full_decode() {
    let dir = tempfile::tempdir().unwrap();
    // Every third fixture (the test runs unoptimised: each image is decoded twice here).
    let mut files: Vec<PathBuf> = fixtures(dir.path()).into_iter().step_by(3).map(|f| f.2).collect();
    for i in 0..6u64 {
        let big = DynamicImage::ImageRgb8(base(1000 + i)).resize_exact(
            1000 + i as u32 * 37,
            750 + i as u32 * 23,
            image::imageops::FilterType::Triangle,
        );
        let jpg = dir.path().join(format!("big{i}.jpg"));
        let f = std::fs::File::create(&jpg).unwrap();
        big.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(f, 85)).unwrap();
        let png = dir.path().join(format!("big{i}.png"));
        big.save_with_format(&png, ImageFormat::Png).unwrap();
        // A greyscale JPEG (one component: the scaled decoder's other layout).
        let grey = dir.path().join(format!("big{i}-grey.jpg"));
        let f = std::fs::File::create(&grey).unwrap();
        DynamicImage::ImageLuma8(big.to_luma8())
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(f, 85))
            .unwrap();
        files.extend([jpg, png, grey]);
    }
    let mut hist = [0usize; 65];
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        let full = phash::hash_image(&phash::decode(&bytes).unwrap(), Algorithm::default());
        let fast = phash::hash_bytes(&bytes).expect("an image").unwrap();
        hist[(full ^ fast).count_ones() as usize] += 1;
    }
    let n = files.len();
    let mean = hist.iter().enumerate().map(|(d, c)| d * c).sum::<usize>() as f64 / n as f64;
    let max = hist.iter().rposition(|c| *c > 0).unwrap_or(0);
    println!("{n} images, bits differing from the full decode: {:?} (mean {mean:.2})", &hist[..=max]);
    // Measured (2026-11-27): most hashes equal, a few bits off on flat synthetic shapes
    // where neighbouring cells are near ties; the default distance is 10.
    assert!(max <= 8 && mean <= 1.0, "{:?} mean {mean}", &hist[..=max]);
}

/// Every algorithm at several distances, for docs/performance.md:
/// `cargo test -p trove-meta --test phash -- --ignored --nocapture`.
#[test]
#[ignore = "a table for the docs, not a check"]
fn compare_algorithms_and_distances() {
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path());
    for alg in Algorithm::ALL {
        let items: Vec<(usize, Option<&'static str>, u64)> = files
            .iter()
            .map(|(b, t, p)| (*b, *t, phash::hash_grey(&phash::grey(&std::fs::read(p).unwrap()).unwrap(), alg)))
            .collect();
        for d in [4, 6, 8, 10, 12, 14] {
            println!("{}", table(&format!("{alg:?}"), d, &measure(&items, d)));
        }
    }
}

use image::ImageEncoder;

/// Small JPEGs are decoded at a scale that keeps at least 18×16 pixels (not always 1/8): a
/// 40×40 JPEG hashes as the same picture saved as PNG does, and tiny unrelated JPEGs (down to
/// 8×8) do not all collapse to one flat pixel with hash 0.
#[test]
fn small_jpegs_keep_enough_pixels_for_the_hash() {
    let d = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for (i, side) in [8u32, 12, 16, 24, 40, 64].into_iter().enumerate() {
        for seed in 0..4u64 {
            let img = DynamicImage::ImageRgb8(image::imageops::resize(
                &base(100 + seed),
                side,
                side,
                image::imageops::FilterType::Triangle,
            ));
            let jpg = d.path().join(format!("s{i}-{seed}.jpg"));
            let f = std::fs::File::create(&jpg).unwrap();
            img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(f, 95)).unwrap();
            let png = d.path().join(format!("s{i}-{seed}.png"));
            img.save_with_format(&png, ImageFormat::Png).unwrap();
            let hj = phash::hash_file(&jpg, u64::MAX).unwrap().unwrap();
            let hp = phash::hash_file(&png, u64::MAX).unwrap().unwrap();
            if side >= 16 {
                assert!((hj ^ hp).count_ones() <= 8, "{side}×{side} seed {seed}: JPEG {hj:016x} vs PNG {hp:016x}");
            }
            hashes.push((side, seed, hj));
        }
    }
    for side in [8u32, 12, 16] {
        let of: Vec<u64> = hashes.iter().filter(|h| h.0 == side).map(|h| h.2).collect();
        assert!(of.iter().any(|&h| h != 0), "{side}×{side}: every hash is 0: {of:x?}");
        let distinct: std::collections::BTreeSet<u64> = of.iter().copied().collect();
        assert!(distinct.len() >= 3, "{side}×{side}: four unrelated pictures, hashes {of:x?}");
    }
}
