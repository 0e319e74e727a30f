//! `similar [--files N] [--seed S] [--dir D]`: the near-duplicate search behind `trove dupes
//! --similar` and `dupe:similar` (`trove_core::similar`) over N random 64-bit hashes with
//! planted near copies, next to an all-pairs estimate; then the stored near pairs on a real
//! index of N files with those hashes (bulk load with the pairs kept, the full rebuild
//! `trove check --repair` does, `--similar` and `dupe:similar` reading them, one image
//! added). Prints time, peak memory and what was found.
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
    index_bench(a, &hashes, found.len());
}

/// The stored pairs on a real index holding one file per hash.
fn index_bench(a: &crate::Args, hashes: &[u64], pairs: usize) {
    use trove_core::meta::Meta;
    use trove_core::model::{Hash, Observation, Stat};
    use trove_core::ops::bulk::{BulkFile, BulkLoad};
    use trove_core::ops::dupes;
    use trove_core::ops::find::Query;
    use trove_core::{Index, OpenMode, Source};

    // `--index PATH` keeps the index (built when absent) for another run or a look inside.
    let dir = crate::scratch(a);
    let path = a.index.clone().unwrap_or_else(|| dir.path().join("index.db"));
    let reuse = path.exists();
    let mut idx = Index::open(&path, OpenMode::Create).expect("index");
    idx.record_history(false);
    let file = |i: usize, h: u64| {
        let content = blake3::hash(&(i as u64).to_le_bytes());
        let o = Observation {
            stat: Stat { size: 100_000, mtime_ns: 1_600_000_000_000_000_000, device: 1, inode: i as u64 + 1 },
            hash: Hash(*content.as_bytes()),
            fingerprint: i as i64,
            sha256: None,
        };
        let m = Meta {
            mime: Some("image/jpeg".into()),
            kind: Some("image".into()),
            perceptual: Some(Ok(h)),
            ..Meta::default()
        };
        (std::path::PathBuf::from(format!("/bench/img/{:03}/{i:07}.jpg", i % 1000)), o, m)
    };
    let t = Instant::now();
    if !reuse {
        let mut load = BulkLoad::new(&mut idx, &Source::Import("trove-bench".into()), 1024).expect("bulk");
        for (i, &h) in hashes.iter().enumerate() {
            let (p, o, m) = file(i, h);
            load.add_with_meta(BulkFile { path: &p, observation: o, tags: &[] }, m).expect("add");
        }
        load.finish(false).expect("finish");
    }
    let load_time = t.elapsed();
    let t = Instant::now();
    dupes::rebuild_similar(&mut idx).expect("rebuild");
    let rebuild_time = t.elapsed();
    let t = Instant::now();
    let problems = dupes::verify_similar(&idx).expect("verify");
    let verify_time = t.elapsed();
    assert!(problems.is_empty(), "{problems:?}");
    let db_mib = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / (1 << 20) as f64;

    let rss0 = peak_rss_kib();
    let mut times = Vec::new();
    let mut ngroups = 0;
    for _ in 0..5 {
        let t = Instant::now();
        ngroups = dupes::similar(&idx, DEFAULT_DISTANCE, None).expect("similar").len();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let mut qtimes = Vec::new();
    let mut nsim = 0;
    for _ in 0..5 {
        let t = Instant::now();
        // Compiling the query is where `dupe:similar` finds its files.
        let q = Query::at(&idx, "dupe:similar", trove_core::model::now_unix()).expect("query");
        nsim = q.count(&idx).expect("count");
        qtimes.push(t.elapsed().as_secs_f64());
    }
    qtimes.sort_by(f64::total_cmp);
    let rss1 = peak_rss_kib();
    // One image more, as `trove include` adds it (a real file, its hash from a scripted
    // extractor): its buckets are looked up in the index. The same without a hash, to see
    // what the lookups cost.
    let mut add = Vec::new();
    let mut plain = Vec::new();
    for k in 0..40 {
        let with_hash = k % 2 == 0;
        let h = hashes[k * 7919 % hashes.len()] ^ 0b1011;
        let p = dir.path().join(format!("added-{k}.jpg"));
        std::fs::write(&p, format!("image {k}")).expect("write");
        let m = Meta {
            mime: Some("image/jpeg".into()),
            kind: Some("image".into()),
            perceptual: with_hash.then_some(Ok(h)),
            ..Meta::default()
        };
        let opts = trove_core::ops::include::IncludeOptions {
            extractor: Some(trove_core::meta::ExtractorRef(std::sync::Arc::new(Fixed(m)))),
            ..Default::default()
        };
        let t = Instant::now();
        let r =
            trove_core::ops::include::include(&mut idx, &[p], &opts, &trove_core::ops::NoProgress).expect("include");
        assert!(r.failed.is_empty());
        if with_hash { &mut add } else { &mut plain }.push(t.elapsed().as_secs_f64());
    }
    plain.sort_by(f64::total_cmp);
    add.sort_by(f64::total_cmp);
    println!(
        "  index of {} files ({db_mib:.0} MiB): bulk load with the pairs kept {:.1} s",
        hashes.len(),
        load_time.as_secs_f64()
    );
    println!(
        "  full rebuild of the pairs (check --repair) {:.1} s; verify (check --full) {:.1} s",
        rebuild_time.as_secs_f64(),
        verify_time.as_secs_f64()
    );
    println!(
        "  read path: dupes --similar {ngroups} groups median {:.2} s (max {:.2}); dupe:similar {nsim} files median {:.2} s (max {:.2}); peak RSS {:.0} MiB (was {:.0})",
        times[2],
        times[4],
        qtimes[2],
        qtimes[4],
        rss1 as f64 / 1024.0,
        rss0 as f64 / 1024.0
    );
    println!(
        "  one image included: median {:.1} ms, max {:.1} ms (without a perceptual hash: median {:.1} ms)",
        add[10] * 1e3,
        add[19] * 1e3,
        plain[10] * 1e3
    );
    let _ = pairs;
}

/// An extractor that says the same of every file.
struct Fixed(trove_core::meta::Meta);

impl trove_core::meta::Extractor for Fixed {
    fn extract(&self, _path: &std::path::Path) -> trove_core::meta::Meta {
        self.0.clone()
    }
}
