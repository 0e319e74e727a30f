//! The stored near pairs of perceptual hashes (`phash_pairs`, kept so `trove dupes
//! --similar` and `dupe:similar` read instead of searching) against a brute-force model,
//! through random sequences of real writes on a real index and a real temp tree: images
//! included, edited to other content, deleted (reconcile makes them missing), copied,
//! pruned by `--scan`. After every step the stored pairs must equal a full recomputation
//! (`check --full`'s verification) and `dupe:similar` / `dupes --similar` must answer what
//! comparing every pair of live files answers. Then `check --repair` rebuilds damaged pairs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use trove_core::meta::{Extractor, ExtractorRef, Meta};
use trove_core::ops::NoProgress;
use trove_core::ops::check::{CheckOptions, check};
use trove_core::ops::dupes;
use trove_core::ops::find::Query;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::reconcile::{ReconcileOptions, reconcile};
use trove_core::similar::{DEFAULT_DISTANCE, STORED_DISTANCE};
use trove_core::{Index, OpenMode};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The perceptual hash of each path's current bytes, as the test decides it.
#[derive(Clone, Default)]
struct Script(Arc<Mutex<HashMap<Vec<u8>, u64>>>);

impl Extractor for Script {
    fn extract(&self, path: &Path) -> Meta {
        let bytes = std::fs::read(path).unwrap_or_default();
        Meta { perceptual: self.0.lock().unwrap().get(&bytes).map(|&h| Ok(h)), ..Meta::default() }
    }
    fn perceptual(&self, path: &Path) -> Option<Result<u64, String>> {
        let bytes = std::fs::read(path).ok()?;
        self.0.lock().unwrap().get(&bytes).map(|&h| Ok(h))
    }
}

struct World {
    _dir: tempfile::TempDir,
    lib: PathBuf,
    index: Index,
    script: Script,
    /// path → (content bytes, live)
    files: HashMap<PathBuf, (Vec<u8>, bool)>,
    next: u64,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let index = Index::open(&dir.path().join("index.db"), OpenMode::Create).unwrap();
        index.trade_durability_for_speed().unwrap();
        World { _dir: dir, lib, index, script: Script::default(), files: HashMap::new(), next: 0 }
    }

    fn content(&mut self, phash: u64) -> Vec<u8> {
        self.next += 1;
        let c = format!("image content {}", self.next).into_bytes();
        self.script.0.lock().unwrap().insert(c.clone(), phash);
        c
    }

    fn opts(&self) -> IncludeOptions {
        IncludeOptions { extractor: Some(ExtractorRef(Arc::new(self.script.clone()))), ..Default::default() }
    }

    fn write_and_include(&mut self, paths: &[(PathBuf, Vec<u8>)]) {
        for (p, c) in paths {
            std::fs::write(p, c).unwrap();
            self.files.insert(p.clone(), (c.clone(), true));
        }
        let list: Vec<PathBuf> = paths.iter().map(|p| p.0.clone()).collect();
        let opts = self.opts();
        let r = include(&mut self.index, &list, &opts, &NoProgress).unwrap();
        assert!(r.failed.is_empty(), "{:?}", r.failed);
    }

    fn phash_of(&self, content: &[u8]) -> Option<u64> {
        self.script.0.lock().unwrap().get(content).copied()
    }

    /// Brute force over live files: those with a live file of other content within `d` bits.
    fn similar_paths(&self, d: u32) -> BTreeSet<PathBuf> {
        let live: Vec<(&PathBuf, &Vec<u8>, u64)> = self
            .files
            .iter()
            .filter(|(_, (_, live))| *live)
            .filter_map(|(p, (c, _))| Some((p, c, self.phash_of(c)?)))
            .collect();
        let mut out = BTreeSet::new();
        for a in &live {
            for b in &live {
                if a.1 != b.1 && (a.2 ^ b.2).count_ones() <= d {
                    out.insert(a.0.clone());
                }
            }
        }
        out
    }

    fn assert_consistent(&self, step: &str) {
        let problems = dupes::verify_similar(&self.index).unwrap();
        assert!(problems.is_empty(), "{step}: stored pairs differ from a rebuild: {problems:?}");
        for d in [DEFAULT_DISTANCE, STORED_DISTANCE, 4, 0] {
            let want = self.similar_paths(d);
            let groups = dupes::similar(&self.index, d, None).unwrap();
            let got: BTreeSet<PathBuf> =
                groups.iter().flat_map(|g| g.members.iter().map(|m| m.member.record.path.clone())).collect();
            assert_eq!(got, want, "{step}: dupes --similar --distance {d}");
        }
        let q = Query::at(&self.index, "dupe:similar", trove_core::model::now_unix()).unwrap();
        let got: BTreeSet<PathBuf> = q.collect(&self.index, None).unwrap().into_iter().map(|r| r.path).collect();
        assert_eq!(got, self.similar_paths(DEFAULT_DISTANCE), "{step}: dupe:similar");
        // Beyond the stored distance the search runs; it agrees with the model too.
        let groups = dupes::similar(&self.index, 14, None).unwrap();
        let got: BTreeSet<PathBuf> =
            groups.iter().flat_map(|g| g.members.iter().map(|m| m.member.record.path.clone())).collect();
        assert_eq!(got, self.similar_paths(14), "{step}: dupes --similar --distance 14 (searched)");
    }
}

/// A hash near `h`: `bits` bits flipped, spread over the bands.
fn near(rng: &mut Rng, h: u64, bits: u32) -> u64 {
    let mut out = h;
    let mut flipped = 0;
    while flipped < bits {
        let b = 1u64 << rng.below(64);
        if (out ^ h) & b == 0 {
            out ^= b;
            flipped += 1;
        }
    }
    out
}

#[test]
fn stored_near_pairs_follow_includes_edits_deletions_copies_and_prunes() {
    for seed in 1..=4u64 {
        let mut rng = Rng(seed);
        let mut w = World::new();
        let mut bases: Vec<u64> = Vec::new();
        for step in 0..30 {
            let paths: Vec<PathBuf> = w.files.keys().cloned().collect();
            match rng.below(7) {
                // A few new images at once: random, or near an earlier hash (the distances
                // around the thresholds 10 and 11 included), or the same hash.
                0..=2 => {
                    let mut batch = Vec::new();
                    for _ in 0..1 + rng.below(4) {
                        let h = if bases.is_empty() || rng.below(3) == 0 {
                            rng.next()
                        } else {
                            let b = bases[rng.below(bases.len())];
                            let bits = [0, 1, 3, 6, 9, 10, 11, 12, 13][rng.below(9)];
                            near(&mut rng, b, bits)
                        };
                        bases.push(h);
                        let c = w.content(h);
                        let p = w.lib.join(format!("img-{step}-{}.jpg", batch.len()));
                        batch.push((p, c));
                    }
                    w.write_and_include(&batch);
                }
                // An image edited to other content (another hash).
                3 if !paths.is_empty() => {
                    let p = paths[rng.below(paths.len())].clone();
                    let (b, bits) = (bases[rng.below(bases.len())], rng.below(12) as u32);
                    let h = near(&mut rng, b, bits);
                    bases.push(h);
                    let c = w.content(h);
                    w.write_and_include(&[(p, c)]);
                }
                // An image deleted; reconcile marks it missing.
                4 if !paths.is_empty() => {
                    let p = paths[rng.below(paths.len())].clone();
                    if std::fs::remove_file(&p).is_ok() {
                        w.files.get_mut(&p).unwrap().1 = false;
                        let opts = ReconcileOptions { dry_run: false, scope: vec![w.lib.clone()] };
                        reconcile(&mut w.index, &opts, &NoProgress).unwrap();
                    }
                }
                // A copy of a live image (same content: an exact duplicate, not similar).
                5 if !paths.is_empty() => {
                    let p = paths[rng.below(paths.len())].clone();
                    let (c, live) = w.files[&p].clone();
                    if live {
                        w.write_and_include(&[(w.lib.join(format!("copy-{step}.jpg")), c)]);
                    }
                }
                // `trove dupes --scan`: prunes the hashes of contents no record has.
                _ => {
                    let script = w.script.clone();
                    dupes::scan(&mut w.index, None, &script, &NoProgress).unwrap();
                }
            }
            w.assert_consistent(&format!("seed {seed} step {step}"));
        }
    }
}

#[test]
fn check_full_reports_damaged_near_pairs_and_repair_rebuilds_them() {
    let mut w = World::new();
    let a = w.content(0x0f0f_0f0f_0f0f_0f0f);
    let b = w.content(0x0f0f_0f0f_0f0f_0f0f ^ 0b111);
    let c = w.content(0x1234_5678_9abc_def0);
    w.write_and_include(&[(w.lib.join("a.jpg"), a), (w.lib.join("b.jpg"), b), (w.lib.join("c.jpg"), c)]);
    w.assert_consistent("three images");
    // Damage: a pair lost, a stale pair, a band entry lost.
    let db = rusqlite::Connection::open(w.index.path()).unwrap();
    db.execute_batch(
        "DELETE FROM phash_pairs; INSERT INTO phash_pairs (a, b, distance) VALUES (1, 2, 2);
         DELETE FROM phash_bands WHERE key = (SELECT min(key) FROM phash_bands);",
    )
    .unwrap();
    drop(db);
    let r = check(&mut w.index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert_eq!(r.similar.len(), 3, "{:?}", r.similar);
    assert!(r.similar.iter().any(|p| p.contains("1 of 1 missing")), "{:?}", r.similar);
    assert!(r.outstanding() >= 3);
    let r = check(&mut w.index, CheckOptions { full: true, repair: true }, &NoProgress).unwrap();
    assert!(r.similar_rebuilt, "{:?}", r.similar);
    w.assert_consistent("after check --repair");
    let r = check(&mut w.index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert!(r.similar.is_empty(), "{:?}", r.similar);
}

#[test]
fn upgrading_a_version_10_index_builds_the_near_pairs_of_its_hashes() {
    let mut w = World::new();
    let a = w.content(0xdead_beef_0000_ffff);
    let b = w.content(0xdead_beef_0000_ffff ^ (1 << 63) ^ 1);
    let c = w.content(0x0123_4567_89ab_cdef);
    w.write_and_include(&[(w.lib.join("a.jpg"), a), (w.lib.join("b.jpg"), b), (w.lib.join("c.jpg"), c)]);
    let path = w.index.path().to_path_buf();
    // The index as trove at schema 10 left it: hashes, no stored pairs.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "DROP TABLE phash_bands; DROP TABLE phash_pairs; DROP INDEX perceptual_phash;
         DROP TRIGGER trigrams_insert; DROP TRIGGER trigrams_delete; DROP TRIGGER trigrams_update;
         DROP TABLE trigrams; DROP TABLE trigrams_dirty; DROP TABLE dupe_potentials;
         DROP TRIGGER postings_ns_name_insert; DROP TRIGGER postings_ns_name_delete; DROP TRIGGER postings_ns_name_update;
         DROP TRIGGER history_decision_insert; DROP TRIGGER history_decision_delete; DROP TRIGGER history_decision_update;
         DROP TABLE postings_ns; DROP INDEX files_added;
         DROP INDEX meta_fields_key; CREATE INDEX meta_fields_key ON meta_fields (key, folded);
         PRAGMA user_version = 10;",
    )
    .unwrap();
    drop(db);
    w.index = Index::open(&path, OpenMode::Create).unwrap();
    assert_eq!(w.index.schema_version().unwrap(), trove_core::SCHEMA_VERSION);
    w.assert_consistent("after the upgrade");
    assert_eq!(w.similar_paths(DEFAULT_DISTANCE).len(), 2);
}

/// A hasher that panics on one file (a decoder bug on a hostile image) makes that file's
/// perceptual hash an error; `trove dupes --scan` hashes every other file and stores them.
#[test]
fn a_decoder_panic_during_scan_is_that_files_error_not_the_scans_end() {
    struct Panicky;
    impl Extractor for Panicky {
        fn extract(&self, _: &Path) -> Meta {
            Meta::default()
        }
        fn perceptual(&self, path: &Path) -> Option<Result<u64, String>> {
            let bytes = std::fs::read(path).ok()?;
            assert!(bytes != b"hostile", "a decoder bug");
            Some(Ok(bytes.len() as u64 * 0x0101_0101))
        }
    }
    let mut w = World::new();
    let mut paths = Vec::new();
    for (i, body) in ["one", "hostile", "three3", "four4444"].iter().enumerate() {
        let p = w.lib.join(format!("f{i}"));
        std::fs::write(&p, body).unwrap();
        paths.push(p);
    }
    include(&mut w.index, &paths, &IncludeOptions::default(), &NoProgress).unwrap();
    let report = dupes::scan(&mut w.index, None, &Panicky, &NoProgress).unwrap();
    assert_eq!((report.hashed, report.failed), (4, 1), "{report:?}");
    // A second scan has nothing left to do: the failure is stored as that file's result.
    let again = dupes::scan(&mut w.index, None, &Panicky, &NoProgress).unwrap();
    assert_eq!(again.hashed, 0, "{again:?}");
}
