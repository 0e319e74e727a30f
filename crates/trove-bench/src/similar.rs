//! `similar [--files N] [--seed S]`: the near-duplicate search behind `trove dupes --similar`
//! and `dupe:similar` (`trove_core::similar`) over N random 64-bit hashes with planted
//! near copies, next to an all-pairs estimate. Prints time, peak memory and what was found.
//!
//! The planted set: 1 % of the hashes get 1–3 near copies each, 1–8 bits flipped (so every
//! planted pair is within the default distance of 10 and must be found); the rest are
//! uniform random, whose chance pairs within 10 bits are few (P ≈ 2·10⁻⁵ per pair).

use std::time::Instant;

use trove_core::similar::{DEFAULT_DISTANCE, components, pairs};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

pub fn similar_bench(a: &crate::Args) {
    let n = a.files;
    let mut r = Rng(a.seed);
    let mut hashes: Vec<u64> = Vec::with_capacity(n + n / 20);
    let mut planted = 0u64;
    while hashes.len() < n {
        let h = r.next();
        hashes.push(h);
        if r.next().is_multiple_of(100) {
            for _ in 0..1 + r.next() % 3 {
                let mut c = h;
                for _ in 0..1 + r.next() % 8 {
                    c ^= 1 << (r.next() % 64);
                }
                hashes.push(c);
                planted += 1;
            }
        }
    }
    hashes.truncate(n);
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let found = pairs(&hashes, DEFAULT_DISTANCE);
    let search = t.elapsed();
    let t = Instant::now();
    let groups = components(hashes.len(), found.iter().map(|p| (p.0, p.1)));
    let group_time = t.elapsed();
    let rss_after = peak_rss_kib();

    // All pairs on a sample, scaled by n²: what a naive --similar would cost.
    let m = 20_000.min(n);
    let t = Instant::now();
    let mut near = 0u64;
    for i in 0..m {
        for j in i + 1..m {
            near += u64::from((hashes[i] ^ hashes[j]).count_ones() <= DEFAULT_DISTANCE);
        }
    }
    let sample = t.elapsed();
    let scale = (n as f64 * (n as f64 - 1.0)) / (m as f64 * (m as f64 - 1.0));
    println!("similar: {n} hashes ({planted} planted near copies), distance ≤ {DEFAULT_DISTANCE}, 2 threads");
    println!(
        "  multi-index hashing: {:.2} s, {} pairs, {} groups; components {:.0} ms",
        search.as_secs_f64(),
        found.len(),
        groups.len(),
        group_time.as_secs_f64() * 1e3
    );
    println!(
        "  peak RSS {:.1} MiB (hashes alone {:.1} MiB; {:.1} MiB before the search)",
        rss_after as f64 / 1024.0,
        (n * 8) as f64 / (1 << 20) as f64,
        rss_before as f64 / 1024.0
    );
    println!(
        "  all pairs: {m} hashes in {:.2} s ({near} near) → {:.0} s estimated for {n} (one thread), no extra memory",
        sample.as_secs_f64(),
        sample.as_secs_f64() * scale
    );
    assert!(found.len() as u64 >= planted, "a planted pair was missed");
}
