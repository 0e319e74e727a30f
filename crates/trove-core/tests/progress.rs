//! Progress phases carry their unit, so a display never draws a file count as bytes.

use std::path::PathBuf;
use std::sync::Mutex;

use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::reconcile::{ReconcileOptions, reconcile};
use trove_core::ops::{Phase, Progress, Unit};
use trove_core::{Index, OpenMode};

#[derive(Default)]
struct Record(Mutex<Vec<(Phase, Option<u64>)>>);

impl Progress for Record {
    fn begin(&self, phase: Phase, total: Option<u64>) {
        self.0.lock().unwrap().push((phase, total));
    }
}

#[test]
fn reconcile_counts_its_hashing_in_files_and_include_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let lib = root.join("lib");
    std::fs::create_dir(&lib).unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    for i in 0..3 {
        let p = lib.join(format!("{i}.bin"));
        std::fs::write(&p, vec![i as u8; 1000 + i]).unwrap();
        paths.push(p);
    }
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    let rec = Record::default();
    let opts = IncludeOptions { recursive: true, add_roots: true, ..Default::default() };
    include(&mut index, std::slice::from_ref(&lib), &opts, &rec).unwrap();
    let seen = rec.0.lock().unwrap().clone();
    assert!(seen.contains(&(Phase::HASHING, Some(3003))), "include hashes 3003 bytes: {seen:?}");

    // Two files change in place: reconcile re-reads them, and says so in files.
    std::fs::write(&paths[0], vec![9u8; 2000]).unwrap();
    std::fs::write(&paths[1], vec![8u8; 3000]).unwrap();
    let rec = Record::default();
    reconcile(&mut index, &ReconcileOptions { dry_run: false, scope: Vec::new() }, &rec).unwrap();
    let seen = rec.0.lock().unwrap().clone();
    let hashing: Vec<_> = seen.iter().filter(|(p, _)| p.label.starts_with("hashing")).collect();
    assert!(!hashing.is_empty(), "{seen:?}");
    for (p, total) in hashing {
        assert_eq!(p.unit, Unit::Files, "{seen:?}");
        assert!(total.is_some_and(|t| t <= 3), "a file count, not bytes: {seen:?}");
    }
}
