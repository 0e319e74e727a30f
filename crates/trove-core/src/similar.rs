//! Near neighbours among 64-bit perceptual hashes, without comparing all pairs.
//!
//! Policy: two images are similar when the Hamming distance between their hashes is at most
//! a threshold ([`DEFAULT_DISTANCE`] unless the user gives one). Comparing every pair is
//! n²/2 popcounts (5·10¹¹ at a million images), so the pairs are found by **multi-index
//! hashing** (Norouzi, Punjani and Fleet, 2012): the 64 bits are cut into 4 bands of 16;
//! if two hashes differ in at most `d` bits, then by the pigeonhole principle some band
//! differs in at most `⌊d/4⌋` bits. Each band is a table of 2¹⁶ buckets; a hash looks up,
//! in every band, the buckets within that radius of its own band value (137 buckets per band
//! at the default distance) and checks the full distance of what it finds there. A pair is
//! reported once, from the first band that can find it.
//!
//! Pure: no SQL, no files. The store reads the hashes; `ops::dupes` and the query engine
//! (`dupe:similar`) call [`pairs`].

use rayon::prelude::*;

/// The default Hamming distance (out of 64 bits) at which two images count as similar:
/// measured on the fixture set in `crates/trove-meta/tests/phash.rs` (docs/performance.md).
pub const DEFAULT_DISTANCE: u32 = 10;

/// The largest distance accepted: beyond it unrelated images match (random 64-bit hashes
/// differ in 32 ± 4 bits).
pub const MAX_DISTANCE: u32 = 24;

const BANDS: usize = 4;
const BAND_BITS: u32 = 16;

fn band(h: u64, b: usize) -> u16 {
    (h >> (BAND_BITS as usize * b)) as u16
}

/// The hashes bucketed by each band's value (compressed rows: `start[v]..start[v + 1]` of
/// `vals` and `idx` hold the hashes whose band value is `v`, and their indexes). The hash
/// values sit in the bucket itself, so checking a bucket reads memory in order; the index
/// is read only for a hit.
struct Tables {
    start: Vec<Vec<u32>>,
    vals: Vec<Vec<u64>>,
    idx: Vec<Vec<u32>>,
}

impl Tables {
    fn new(hashes: &[u64]) -> Tables {
        let mut t = Tables { start: Vec::with_capacity(BANDS), vals: Vec::new(), idx: Vec::new() };
        for b in 0..BANDS {
            let mut count = vec![0u32; (1 << BAND_BITS) + 1];
            for &h in hashes {
                count[band(h, b) as usize + 1] += 1;
            }
            for i in 1..count.len() {
                count[i] += count[i - 1];
            }
            let mut fill = count.clone();
            let mut vals = vec![0u64; hashes.len()];
            let mut idx = vec![0u32; hashes.len()];
            for (i, &h) in hashes.iter().enumerate() {
                let v = band(h, b) as usize;
                vals[fill[v] as usize] = h;
                idx[fill[v] as usize] = i as u32;
                fill[v] += 1;
            }
            t.start.push(count);
            t.vals.push(vals);
            t.idx.push(idx);
        }
        t
    }

    fn bucket(&self, b: usize, v: u16) -> (&[u64], &[u32]) {
        let s = &self.start[b];
        let r = s[v as usize] as usize..s[v as usize + 1] as usize;
        (&self.vals[b][r.clone()], &self.idx[b][r])
    }
}

/// Every band value within `radius` bits of `v`, `v` itself first.
fn neighbours(v: u16, radius: u32, out: &mut Vec<u16>) {
    out.clear();
    out.push(v);
    fn flip(v: u16, from: u32, left: u32, out: &mut Vec<u16>) {
        if left == 0 {
            return;
        }
        for bit in from..BAND_BITS {
            let w = v ^ (1 << bit);
            out.push(w);
            flip(w, bit + 1, left - 1, out);
        }
    }
    flip(v, 0, radius, out);
}

/// Every pair `(i, j, distance)` with `i < j` whose hashes differ in at most `max` bits
/// (capped at [`MAX_DISTANCE`]), each pair once, ordered by `(i, j)`. Equal hashes are pairs
/// at distance 0.
pub fn pairs(hashes: &[u64], max: u32) -> Vec<(u32, u32, u32)> {
    let max = max.min(MAX_DISTANCE);
    if hashes.len() < 2 {
        return Vec::new();
    }
    let t = Tables::new(hashes);
    let radius = max / BANDS as u32;
    let mut out: Vec<(u32, u32, u32)> = (0..hashes.len())
        .into_par_iter()
        .map_init(Vec::new, |near, i| {
            let h = hashes[i];
            let mut found = Vec::new();
            for b in 0..BANDS {
                neighbours(band(h, b), radius, near);
                for &v in near.iter() {
                    let (vals, idx) = t.bucket(b, v);
                    for (k, &g) in vals.iter().enumerate() {
                        let d = (h ^ g).count_ones();
                        // Each pair once: from its smaller index, and from the first band
                        // within the radius.
                        if d <= max
                            && idx[k] as usize > i
                            && (0..b).all(|e| u32::from(band(h, e) ^ band(g, e)).count_ones() > radius)
                        {
                            found.push((i as u32, idx[k], d));
                        }
                    }
                }
            }
            found
        })
        .flatten()
        .collect();
    out.sort_unstable();
    out
}

/// Connected components of `n` items joined by `edges` (union–find), each component of at
/// least two items as a sorted list; components ordered by their first item.
pub fn components(n: usize, edges: impl IntoIterator<Item = (u32, u32)>) -> Vec<Vec<u32>> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn root(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    for (a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    let mut groups: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
    for x in 0..n as u32 {
        let r = root(&mut parent, x);
        groups.entry(r).or_default().push(x);
    }
    groups.into_values().filter(|g| g.len() >= 2).collect()
}

/// Hamming distance between two hashes.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(h: &[u64], max: u32) -> Vec<(u32, u32, u32)> {
        let mut v = Vec::new();
        for i in 0..h.len() {
            for j in i + 1..h.len() {
                let d = distance(h[i], h[j]);
                if d <= max {
                    v.push((i as u32, j as u32, d));
                }
            }
        }
        v
    }

    #[test]
    fn neighbours_within_two_bits_of_a_16_bit_band_are_137() {
        let mut v = Vec::new();
        neighbours(0xabcd, 2, &mut v);
        assert_eq!(v.len(), 1 + 16 + 120);
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 137, "no value twice");
    }

    #[test]
    fn pairs_at_every_distance_up_to_the_threshold_and_none_beyond() {
        let base = 0x0123_4567_89ab_cdefu64;
        // flip d bits spread over the bands (the worst case for a band-local search)
        let mut hs = vec![base];
        for d in 1..=12u32 {
            let mut h = base;
            for k in 0..d {
                h ^= 1 << ((k * 16 + k / 4) % 64);
            }
            hs.push(h);
        }
        let got = pairs(&hs, 10);
        assert_eq!(got, brute(&hs, 10));
        assert!(got.contains(&(0, 10, 10)));
        assert!(!got.iter().any(|p| p.0 == 0 && p.1 == 11), "distance 11 is not similar at 10");
    }

    proptest! {
        #[test]
        fn multi_index_hashing_finds_exactly_what_all_pairs_finds(
            seeds in proptest::collection::vec(any::<u64>(), 1..60),
            flips in proptest::collection::vec((0usize..60, any::<u64>(), 0u32..14), 0..80),
            max in 0u32..16,
        ) {
            let mut hs = seeds.clone();
            for (i, mask_seed, d) in flips {
                // a near copy of an existing hash: d bits flipped
                let mut h = hs[i % hs.len()];
                let mut s = mask_seed;
                for _ in 0..d {
                    h ^= 1 << (s % 64);
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
                }
                hs.push(h);
            }
            prop_assert_eq!(pairs(&hs, max), brute(&hs, max));
        }
    }

    #[test]
    fn components_join_chains_and_drop_singletons() {
        assert_eq!(components(6, [(0, 2), (2, 4), (1, 5)]), vec![vec![0, 2, 4], vec![1, 5]]);
        assert!(components(3, []).is_empty());
    }
}
