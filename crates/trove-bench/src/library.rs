//! A synthetic library, deterministic from a seed: files with realistic path depths and name
//! lengths, tags with a Zipf–Mandelbrot popularity (rank r has weight 1/(r+10)), namespaces
//! with numeric values (year, rating), and implications that always point from a less
//! popular tag to a more popular one (so they never form a cycle).

use std::path::PathBuf;

/// Sizes from the benchmark issue.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub name: &'static str,
    pub files: usize,
    pub tags: usize,
    /// Mean links per file (uniform 0..=2×mean).
    pub mean_links: usize,
}

pub const S: Size = Size { name: "S", files: 10_000, tags: 1_000, mean_links: 10 };
pub const M: Size = Size { name: "M", files: 100_000, tags: 10_000, mean_links: 10 };
pub const L: Size = Size { name: "L", files: 1_000_000, tags: 100_000, mean_links: 10 };

pub fn size(name: &str) -> Option<Size> {
    match name {
        "S" | "s" => Some(S),
        "M" | "m" => Some(M),
        "L" | "l" => Some(L),
        _ => None,
    }
}

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SYL: &[&str] = &[
    "ka", "ri", "to", "mon", "sel", "da", "vi", "lo", "nar", "en", "qu", "is", "bel", "or", "tan", "mi", "ro", "sha",
    "ul", "fen", "ga", "zo", "pe", "lin", "ark", "oh", "tri", "nu", "vel", "dor",
];

pub fn word(rng: &mut Rng, min: usize, max: usize) -> String {
    let want = min + rng.below(max - min + 1);
    let mut s = String::new();
    while s.len() < want {
        s.push_str(SYL[rng.below(SYL.len())]);
    }
    s.truncate(want);
    s
}

pub struct Library {
    pub tag_names: Vec<String>,
    /// Cumulative popularity by rank, for sampling.
    cdf: Vec<f64>,
    /// rank → position in `tag_names`
    pub by_rank: Vec<u32>,
    pub implications: Vec<(u32, u32)>,
    /// The directory holding 10 000 files (for the `ls` benchmark).
    pub big_dir: PathBuf,
}

const NAMESPACES: &[&str] = &["artist", "genre", "album", "person", "place", "camera", "series", "source", "topic"];
const EXTS: &[&str] = &["flac", "mp3", "jpg", "png", "pdf", "mkv", "epub", "txt", "cr2", "mp4"];

impl Library {
    pub fn new(size: Size, seed: u64, root: &std::path::Path) -> Library {
        let mut rng = Rng::new(seed);
        let mut names: Vec<String> = Vec::with_capacity(size.tags);
        let mut seen = std::collections::HashSet::new();
        for y in 1950..=2025 {
            names.push(format!("year:{y}"));
        }
        for r in 1..=5 {
            names.push(format!("rating:{r}"));
        }
        while names.len() < size.tags {
            let n = if rng.below(10) < 7 {
                format!("{}:{}", NAMESPACES[rng.below(NAMESPACES.len())], word(&mut rng, 3, 18))
            } else {
                word(&mut rng, 3, 14)
            };
            if seen.insert(n.clone()) && !names.contains(&n) {
                names.push(n);
            }
        }
        names.truncate(size.tags);
        // Popularity ranks are a shuffle of the names.
        let mut by_rank: Vec<u32> = (0..names.len() as u32).collect();
        for i in (1..by_rank.len()).rev() {
            let j = rng.below(i + 1);
            by_rank.swap(i, j);
        }
        let mut cdf = Vec::with_capacity(names.len());
        let mut acc = 0.0;
        for r in 0..names.len() {
            acc += 1.0 / (r as f64 + 10.0);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        // ~3 % of tags imply a more popular one.
        let mut implications = Vec::new();
        for r in 50..names.len() {
            if rng.below(100) < 3 {
                let parent = rng.below(r.min(2_000));
                implications.push((by_rank[r], by_rank[parent]));
            }
        }
        Library { tag_names: names, cdf, by_rank, implications, big_dir: root.join("inbox") }
    }

    /// A tag position drawn by popularity.
    pub fn draw(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        let r = self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1);
        self.by_rank[r]
    }

    pub fn name_of_rank(&self, r: usize) -> &str {
        &self.tag_names[self.by_rank[r] as usize]
    }
}

/// The path of file `i`: the first 10 000 files sit in one directory; the rest in a tree
/// `collection/artist/album/…` 2 to 6 levels deep.
pub fn path_of(root: &std::path::Path, i: usize, rng: &mut Rng) -> PathBuf {
    let ext = EXTS[rng.below(EXTS.len())];
    if i < 10_000 {
        return root.join("inbox").join(format!("{}-{i:07}.{ext}", word(rng, 4, 24)));
    }
    let g = i / 40;
    let mut p = root.join(format!("c{:02}-{}", g % 20, "collection"));
    let depth = 1 + (g % 5);
    let mut h = g as u64;
    for d in 0..depth {
        h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407 + d as u64);
        p.push(format!(
            "{}-{:x}",
            SYL[(h >> 33) as usize % SYL.len()].repeat(1 + (h >> 40) as usize % 6),
            (h >> 20) % 4096
        ));
    }
    p.join(format!("{:03} {}.{ext}", i % 40, word(rng, 5, 40)))
}
