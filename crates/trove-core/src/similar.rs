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

/// The largest distance whose pairs the index keeps (`phash_pairs`, docs/schema.md), so
/// `trove dupes --similar` and `dupe:similar` read them instead of searching. 11 costs the
/// search no more than the default 10: both look 2 bits around each 16-bit band (four bands
/// each 3 bits apart are 12 bits apart).
pub const STORED_DISTANCE: u32 = 11;

/// How many bands the 64 bits are cut into.
pub const BANDS: usize = 4;
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
///
/// The search goes bucket by bucket, not hash by hash: for every non-empty bucket of a band
/// and every bucket within the radius of it (with a larger or equal band value), all the
/// hashes of the one are compared with all the hashes of the other. Each pair of buckets is
/// read once, in order, so the cost is comparisons (a popcount each), not one random memory
/// read per probe and hash.
pub fn pairs(hashes: &[u64], max: u32) -> Vec<(u32, u32, u32)> {
    let max = max.min(MAX_DISTANCE);
    if hashes.len() < 2 {
        return Vec::new();
    }
    let t = Tables::new(hashes);
    let radius = max / BANDS as u32;
    // The non-empty buckets of every band: (band, value).
    let buckets: Vec<(usize, u16)> = (0..BANDS)
        .flat_map(|b| {
            let s = &t.start[b];
            (0..1usize << BAND_BITS).filter(move |&v| s[v] < s[v + 1]).map(move |v| (b, v as u16))
        })
        .collect();
    let mut out: Vec<(u32, u32, u32)> = buckets
        .par_iter()
        .fold(
            || (Vec::new(), Vec::new()),
            |(mut found, mut near): (Vec<(u32, u32, u32)>, Vec<u16>), &(b, v)| {
                let (vv, vi) = t.bucket(b, v);
                neighbours(v, radius, &mut near);
                for &w in near.iter().filter(|&&w| w >= v) {
                    let (wv, wi) = t.bucket(b, w);
                    for (k, &h) in vv.iter().enumerate() {
                        let from = if w == v { k + 1 } else { 0 };
                        for (l, &g) in wv.iter().enumerate().skip(from) {
                            let d = (h ^ g).count_ones();
                            // Each pair once: from the first band within the radius.
                            if d <= max && (0..b).all(|e| u32::from(band(h, e) ^ band(g, e)).count_ones() > radius) {
                                let (i, j) = (vi[k], wi[l]);
                                found.push((i.min(j), i.max(j), d));
                            }
                        }
                    }
                }
                (found, near)
            },
        )
        .map(|(found, _)| found)
        .flatten()
        .collect();
    out.sort_unstable();
    out
}

/// The pairs of [`pairs`] that involve at least one of `new` (indexes into `all` of the
/// hashes just added), found by looking up only the new hashes' buckets: for adding a few
/// hashes to a large set. Ordered by `(i, j)`, each pair once.
pub fn pairs_of(all: &[u64], new: &[u32], max: u32) -> Vec<(u32, u32, u32)> {
    let max = max.min(MAX_DISTANCE);
    if all.len() < 2 || new.is_empty() {
        return Vec::new();
    }
    let t = Tables::new(all);
    let radius = max / BANDS as u32;
    let is_new: std::collections::HashSet<u32> = new.iter().copied().collect();
    let mut out: Vec<(u32, u32, u32)> = new
        .par_iter()
        .map_init(Vec::new, |near, &i| {
            let h = all[i as usize];
            let mut found = Vec::new();
            for b in 0..BANDS {
                neighbours(band(h, b), radius, near);
                for &v in near.iter() {
                    let (vals, idx) = t.bucket(b, v);
                    for (k, &g) in vals.iter().enumerate() {
                        let j = idx[k];
                        let d = (h ^ g).count_ones();
                        // A pair of two new hashes is reported by the smaller index only.
                        if d <= max
                            && j != i
                            && (j > i || !is_new.contains(&j))
                            && (0..b).all(|e| u32::from(band(h, e) ^ band(g, e)).count_ones() > radius)
                        {
                            found.push((i.min(j), i.max(j), d));
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

/// The keys of the 4 band buckets a hash sits in: `band << 16 | value`, as the store keeps
/// them (`phash_bands`, docs/schema.md).
pub fn band_keys(h: u64) -> [i64; BANDS] {
    std::array::from_fn(|b| ((b as i64) << BAND_BITS) | i64::from(band(h, b)))
}

/// The bucket keys to look up for a hash to find every stored hash within `max` bits of it
/// (capped at [`MAX_DISTANCE`]): per band, the band values within `⌊max / 4⌋` bits. A hash
/// found in band `b` is within `max` only if [`first_band`] says `b` too (each pair once).
pub fn probe_keys(h: u64, max: u32) -> Vec<(usize, i64)> {
    let radius = max.min(MAX_DISTANCE) / BANDS as u32;
    let mut near = Vec::new();
    let mut out = Vec::new();
    for b in 0..BANDS {
        neighbours(band(h, b), radius, &mut near);
        out.extend(near.iter().map(|&v| (b, ((b as i64) << BAND_BITS) | i64::from(v))));
    }
    out
}

/// The first band in which `h` and `g` differ in at most `⌊max / 4⌋` bits (where the
/// search finds the pair), if any.
pub fn first_band(h: u64, g: u64, max: u32) -> Option<usize> {
    let radius = max.min(MAX_DISTANCE) / BANDS as u32;
    (0..BANDS).find(|&b| u32::from(band(h, b) ^ band(g, b)).count_ones() <= radius)
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
            // The new hashes (the copies added last) against all, as the store adds them.
            let new: Vec<u32> = (seeds.len() as u32..hs.len() as u32).collect();
            let want: Vec<_> = brute(&hs, max).into_iter().filter(|p| p.0 >= seeds.len() as u32 || p.1 >= seeds.len() as u32).collect();
            prop_assert_eq!(pairs_of(&hs, &new, max), want);
        }
    }

    #[test]
    fn components_join_chains_and_drop_singletons() {
        assert_eq!(components(6, [(0, 2), (2, 4), (1, 5)]), vec![vec![0, 2, 4], vec![1, 5]]);
        assert!(components(3, []).is_empty());
    }
}
