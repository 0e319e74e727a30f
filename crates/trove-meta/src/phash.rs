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

/// The hash of decoded pixels.
pub fn hash_image(img: &image::DynamicImage, alg: Algorithm) -> u64 {
    u64::from_be_bytes(*hasher(alg).hash_image(img).as_bytes().first_chunk::<8>().unwrap_or(&[0; 8]))
}

/// Decodes an image from bytes (format sniffed) under the limits.
pub fn decode(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    let mut r = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("perceptual hash: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    r.limits(limits);
    r.decode().map_err(|e| format!("perceptual hash: {e}"))
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
    image::guess_format(&bytes).ok()?;
    Some(decode(&bytes).map(|img| hash_image(&img, Algorithm::default())))
}
