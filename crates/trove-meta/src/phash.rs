//! Perceptual hashes of images: 64 bits that stay close (in Hamming distance) when an image
//! is resized, recompressed, slightly cropped or marked, and differ by about half their bits
//! between unrelated images.
//!
//! Policy: the algorithm is the gradient hash ("dHash": grey, resized to 9×8, each bit says
//! whether brightness rises from one pixel to its right neighbour), through the maintained
//! `image_hasher` crate. It was chosen over `image_hasher`'s DCT mean hash, the mean hash
//! and the block hash on the fixture set in `tests/phash.rs`: at 10 bits it found every
//! resized, recompressed, cropped, captioned and grayscale copy with no false pair, where
//! the others either missed crops or paired unrelated images (figures in
//! docs/performance.md).
//! Pixels are decoded only here, under limits: at most [`MAX_SIDE`] pixels a side and
//! [`MAX_ALLOC`] bytes of decoder memory, from a file of at most the extractor's read limit.
//! A mirrored image is a different image to this hash, and so is a rotated one.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use image_hasher::{HashAlg, Hasher, HasherConfig};

/// The longest side decoded.
pub const MAX_SIDE: u32 = 20_000;
/// The most memory the decoder may allocate.
pub const MAX_ALLOC: u64 = 512 << 20;

/// The hash algorithms compared on the fixture set; [`Algorithm::default`] is the one used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Horizontal gradient hash (dHash).
    #[default]
    Gradient,
    /// DCT mean hash (pHash).
    Dct,
    /// Mean (average) hash.
    Mean,
    /// Blockhash.io.
    Block,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [Algorithm::Gradient, Algorithm::Dct, Algorithm::Mean, Algorithm::Block];

    fn hasher(self) -> Hasher<[u8; 8]> {
        let c = HasherConfig::with_bytes_type::<[u8; 8]>().hash_size(8, 8);
        match self {
            Algorithm::Dct => c.hash_alg(HashAlg::Mean).preproc_dct(),
            Algorithm::Gradient => c.hash_alg(HashAlg::Gradient),
            Algorithm::Mean => c.hash_alg(HashAlg::Mean),
            Algorithm::Block => c.hash_alg(HashAlg::Blockhash),
        }
        .to_hasher()
    }
}

fn hasher(alg: Algorithm) -> &'static Hasher<[u8; 8]> {
    static H: [OnceLock<Hasher<[u8; 8]>>; 4] = [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = Algorithm::ALL.iter().position(|a| *a == alg).unwrap_or(0);
    H[i].get_or_init(|| alg.hasher())
}

/// The hash of decoded pixels (any colour type: the hasher converts to grey and resizes).
pub fn hash_image(img: &image::DynamicImage, alg: Algorithm) -> u64 {
    u64::from_be_bytes(*hasher(alg).hash_image(img).as_bytes().first_chunk::<8>().unwrap_or(&[0; 8]))
}

/// The hash of grey pixels.
pub fn hash_grey(img: &image::GrayImage, alg: Algorithm) -> u64 {
    u64::from_be_bytes(*hasher(alg).hash_image(img).as_bytes().first_chunk::<8>().unwrap_or(&[0; 8]))
}

fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes an image from bytes (format sniffed) under the limits.
pub fn decode(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    let mut r = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("perceptual hash: {e}"))?;
    r.limits(limits());
    r.decode().map_err(|e| format!("perceptual hash: {e}"))
}

/// The smallest a side is box-shrunk to before the hasher's own resize: eight times the
/// hash's 9×8 grid, so the hasher's Lanczos filter (which spans ±3 source pixels per
/// output pixel at that size, far more at full size) sees nearly what it saw at full size.
const SHRINK_TO: (u32, u32) = (72, 64);

/// Grey pixels of an image, box-shrunk for hashing; what [`hash_bytes`] hashes.
///
/// Speed (docs/performance.md, "Include with metadata extraction"): a JPEG is decoded at
/// 1/8 scale in the DCT domain ([`jpeg_scaled`]: each 8×8 block's mean, no full-size inverse
/// DCT or colour conversion), with zune-jpeg at full size as the fallback for layouts it
/// does not take; other formats by `image`; all are turned grey with integer Rec. 709
/// weights (the `image` crate's own conversion goes through floats and took a third of
/// the include's time) and averaged in k×k boxes down to about [`SHRINK_TO`], in one pass,
/// before the hasher resizes them to 9×8 (its resize of the full image took another quarter).
pub fn grey(bytes: &[u8]) -> Result<image::GrayImage, String> {
    let img = match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => match jpeg_scaled(bytes) {
            Ok(img) => img,
            Err(Refused::TooLarge(e)) => return Err(e),
            // CMYK, 12-bit and other rare layouts, or a stream jpeg-decoder gives up on
            // (zune-jpeg is lenient with files cut short): the full-size decoders.
            Err(Refused::Other) => match jpeg_pixels(bytes) {
                Ok(img) => img,
                Err(_) => decode(bytes)?,
            },
        },
        _ => decode(bytes)?,
    };
    Ok(shrink_grey(img))
}

/// The size a JPEG is decoded at, at least, on both sides (when the image has it): twice the
/// hasher's 9×8 grid. A large JPEG takes the 1/8 DCT scale; a small one a larger scale (a
/// 40×40 icon at 1/8 would be 5×5 pixels, and an 8×8 one a single pixel, whose hash is 0
/// like every flat image's).
pub const JPEG_AT_LEAST: (u32, u32) = (18, 16);

/// The smallest DCT scale, in eighths (1, 2, 4 or 8), at which a `w`×`h` JPEG reaches
/// [`JPEG_AT_LEAST`] on both sides (8: full size, whatever it is).
fn jpeg_eighths(w: u32, h: u32) -> u32 {
    [1, 2, 4]
        .into_iter()
        .find(|&s| (w * s).div_ceil(8) >= JPEG_AT_LEAST.0 && (h * s).div_ceil(8) >= JPEG_AT_LEAST.1)
        .unwrap_or(8)
}

/// Why [`jpeg_scaled`] gave no pixels.
enum Refused {
    /// Over the limits: no other decoder is tried.
    TooLarge(String),
    /// A layout or stream it does not take: the full decoders are tried.
    Other,
}

/// A JPEG decoded in the DCT domain at reduced scale (jpeg-decoder's `scale`): at 1/8 each
/// 8×8 block becomes one pixel, its DC coefficient — the block's mean, the same as a box
/// shrink by 8 — so neither the inverse DCT nor the colour conversion runs at full size
/// (the entropy decoding of every coefficient still does). RGB or grey, as stored.
fn jpeg_scaled(bytes: &[u8]) -> Result<image::DynamicImage, Refused> {
    use jpeg_decoder::PixelFormat;
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info().map_err(|_| Refused::Other)?;
    let info = d.info().ok_or(Refused::Other)?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(Refused::TooLarge(format!("perceptual hash: {w}×{h} is larger than {MAX_SIDE} pixels a side")));
    }
    // The decoder keeps every component's coefficients (progressive files) or rows.
    if u64::from(w) * u64::from(h) * 4 > MAX_ALLOC {
        return Err(Refused::TooLarge(format!("perceptual hash: {w}×{h} is too large to decode")));
    }
    d.set_max_decoding_buffer_size(MAX_ALLOC as usize);
    // jpeg-decoder takes the smallest scale where *one* side reaches the request: ask by
    // width alone, for the width that scale gives.
    let want = u16::try_from((w * jpeg_eighths(w, h)).div_ceil(8)).map_err(|_| Refused::Other)?;
    let (sw, sh) = d.scale(want, u16::MAX).map_err(|_| Refused::Other)?;
    let px = d.decode().map_err(|_| Refused::Other)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let img = match d.info().map(|i| i.pixel_format) {
        Some(PixelFormat::L8) => image::GrayImage::from_raw(sw, sh, px).map(image::DynamicImage::ImageLuma8),
        Some(PixelFormat::RGB24) => image::RgbImage::from_raw(sw, sh, px).map(image::DynamicImage::ImageRgb8),
        _ => None,
    };
    img.ok_or(Refused::Other)
}

/// A JPEG decoded by zune-jpeg directly (the `image` crate copies the input and parses the
/// headers twice), to RGB or grey as stored, under the same limits as [`decode`].
fn jpeg_pixels(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    use zune_core::colorspace::ColorSpace;
    let opts = zune_core::options::DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), opts);
    d.decode_headers().map_err(|e| format!("perceptual hash: {e:?}"))?;
    let (w, h) = d.dimensions().ok_or("perceptual hash: no JPEG dimensions")?;
    let grey = d.input_colorspace() == Some(ColorSpace::Luma);
    let out = if grey { ColorSpace::Luma } else { ColorSpace::RGB };
    // The output, plus the decoder's own planes.
    if (w as u64) * (h as u64) * out.num_components() as u64 * 2 > MAX_ALLOC {
        return Err(format!("perceptual hash: {w}×{h} is too large to decode"));
    }
    d.set_options(d.options().jpeg_set_out_colorspace(out));
    let px = d.decode().map_err(|e| format!("perceptual hash: {e:?}"))?;
    let (w, h) = (w as u32, h as u32);
    let img = match d.output_colorspace() {
        Some(ColorSpace::Luma) => image::GrayImage::from_raw(w, h, px).map(image::DynamicImage::ImageLuma8),
        Some(ColorSpace::RGB) => image::RgbImage::from_raw(w, h, px).map(image::DynamicImage::ImageRgb8),
        _ => None,
    };
    img.ok_or_else(|| "perceptual hash: unexpected JPEG output".into())
}

/// Grey, averaged in k×k boxes, k the largest factor that keeps both sides at least
/// [`SHRINK_TO`] (the last row and column of boxes may be partial; k = 1 keeps the size).
/// 8-bit images are turned grey with integer Rec. 709 weights, in the same pass (what the
/// `image` crate's conversion gives, without its float colour pipeline); 16-bit and float
/// images (rare) go through that conversion first.
fn shrink_grey(img: image::DynamicImage) -> image::GrayImage {
    use image::DynamicImage as D;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (raw, ch): (&[u8], usize) = match &img {
        D::ImageLuma8(g) => (g.as_raw(), 1),
        D::ImageLumaA8(g) => (g.as_raw(), 2),
        D::ImageRgb8(g) => (g.as_raw(), 3),
        D::ImageRgba8(g) => (g.as_raw(), 4),
        _ => return shrink_grey(D::ImageLuma8(img.to_luma8())),
    };
    let k = ((w / SHRINK_TO.0 as usize).min(h / SHRINK_TO.1 as usize)).max(1);
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let mut sum = vec![0u64; ow * oh];
    match ch {
        1 => sum_boxes::<1>(raw, w, h, k, &mut sum),
        2 => sum_boxes::<2>(raw, w, h, k, &mut sum),
        3 => sum_boxes::<3>(raw, w, h, k, &mut sum),
        _ => sum_boxes::<4>(raw, w, h, k, &mut sum),
    }
    let px = sum
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (bx, by) = (i % ow, i / ow);
            let n = ((w - bx * k).min(k) * (h - by * k).min(k)) as u64;
            ((s + (n << 15)) / (n << 16)).min(255) as u8
        })
        .collect();
    image::GrayImage::from_raw(ow as u32, oh as u32, px).unwrap_or_else(|| img.to_luma8())
}

/// Adds each pixel's luma × 65536 to its k×k box in `sum` (`ow` boxes a row). Luma is
/// 0.2126 R + 0.7152 G + 0.0722 B in 16-bit fixed point (the weights sum to 65536); one- and
/// two-channel images are grey already.
fn sum_boxes<const CH: usize>(raw: &[u8], w: usize, h: usize, k: usize, sum: &mut [u64]) {
    let ow = w.div_ceil(k);
    // One row's luma first (a loop the compiler vectorises), then its boxes.
    let mut luma = vec![0u32; w];
    for (y, row) in raw.chunks_exact(w * CH).take(h).enumerate() {
        for (l, p) in luma.iter_mut().zip(row.chunks_exact(CH)) {
            *l = if CH >= 3 {
                13_933 * u32::from(p[0]) + 46_871 * u32::from(p[1]) + 4_732 * u32::from(p[2])
            } else {
                u32::from(p[0]) << 16
            };
        }
        let line = &mut sum[(y / k) * ow..(y / k + 1) * ow];
        for (cell, span) in line.iter_mut().zip(luma.chunks(k)) {
            *cell += span.iter().map(|&l| u64::from(l)).sum::<u64>();
        }
    }
}

/// The hash of an image file's bytes; `None` when they are not an image format the decoder
/// knows (JPEG, PNG, GIF, WebP, BMP, TIFF).
pub fn hash_bytes(bytes: &[u8]) -> Option<Result<u64, String>> {
    image::guess_format(bytes).ok()?;
    Some(grey(bytes).map(|g| hash_grey(&g, Algorithm::default())))
}

/// The hash of the image file at `path`, reading at most `max_read` bytes; `None` when the
/// file is not an image format the decoder knows (JPEG, PNG, GIF, WebP, BMP, TIFF).
pub fn hash_file(path: &Path, max_read: u64) -> Option<Result<u64, String>> {
    let (f, size) = match crate::open_regular(path) {
        Ok(x) => x,
        Err(e) => return Some(Err(e)),
    };
    if size > max_read {
        return Some(Err(format!("perceptual hash: larger than {} MiB; not decoded", max_read >> 20)));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    if let Err(e) = f.take(max_read).read_to_end(&mut bytes) {
        return Some(Err(format!("cannot read: {e}")));
    }
    hash_bytes(&bytes)
}
