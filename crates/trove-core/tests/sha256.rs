//! The SHA-256 kept next to BLAKE3 (the Hydrus API names files by it): computed in the same
//! read on include and on re-hash, filled by `check --full` for records indexed before, and
//! record ids that are never reused after a removal.

use std::process::Command;

use trove_core::ops::check::{CheckOptions, check};
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::{NoProgress, files, remove};
use trove_core::{FileId, Index, OpenMode};

fn sha256sum(p: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().expect("sha256sum (coreutils) runs");
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn add(index: &mut Index, p: &std::path::Path) -> FileId {
    let r = include(index, &[p.to_path_buf()], &IncludeOptions::default(), &NoProgress).unwrap();
    r.files[0].1.unwrap()
}

#[test]
fn include_stores_the_sha256_sha256sum_prints_small_and_large_files() {
    let d = tempfile::tempdir().unwrap();
    let mut index = Index::open(&d.path().join("i.db"), OpenMode::Create).unwrap();
    let small = d.path().join("small");
    std::fs::write(&small, b"hello hydrus").unwrap();
    // Over the large-file threshold (8 MiB) and not a multiple of the 4 MiB chunk.
    let large = d.path().join("large");
    std::fs::write(&large, (0..9 * 1024 * 1024 + 123).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let empty = d.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    for p in [&small, &large, &empty] {
        let id = add(&mut index, p);
        let sha = files::sha256_of(&index, id).unwrap().expect("stored on include");
        assert_eq!(hex(&sha), sha256sum(p), "{}", p.display());
        let found = files::by_sha256(&index, &sha).unwrap();
        assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
    }
    assert_eq!(files::count_without_sha256(&index).unwrap(), 0);
}

#[test]
fn check_full_fills_the_sha256_of_records_indexed_before_it_was_kept() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("i.db");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    std::fs::write(&a, b"content a").unwrap();
    std::fs::write(&b, b"content b").unwrap();
    let (ia, ib) = (add(&mut index, &a), add(&mut index, &b));
    // As an index from before migration 0005 leaves them.
    rusqlite::Connection::open(&db).unwrap().execute("UPDATE files SET sha256 = NULL", []).unwrap();
    assert_eq!(files::count_without_sha256(&index).unwrap(), 2);
    let plain = check(&mut index, CheckOptions::default(), &NoProgress).unwrap();
    assert_eq!((plain.sha256_filled, files::count_without_sha256(&index).unwrap()), (0, 2), "only --full reads");
    let r = check(&mut index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert_eq!(r.sha256_filled, 2);
    assert_eq!(r.outstanding(), 0, "filling the SHA-256 is not a problem: {:?}", r.findings);
    assert_eq!(hex(&files::sha256_of(&index, ia).unwrap().unwrap()), sha256sum(&a));
    assert_eq!(hex(&files::sha256_of(&index, ib).unwrap().unwrap()), sha256sum(&b));
    let again = check(&mut index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert_eq!(again.sha256_filled, 0);
}

#[test]
fn an_edited_file_gets_the_sha256_of_its_new_content() {
    let d = tempfile::tempdir().unwrap();
    let mut index = Index::open(&d.path().join("i.db"), OpenMode::Create).unwrap();
    let a = d.path().join("a");
    std::fs::write(&a, b"before").unwrap();
    let id = add(&mut index, &a);
    std::fs::write(&a, b"after the edit, longer").unwrap();
    let r = check(&mut index, CheckOptions { full: false, repair: true }, &NoProgress).unwrap();
    assert_eq!(r.outstanding(), 0);
    assert_eq!(hex(&files::sha256_of(&index, id).unwrap().unwrap()), sha256sum(&a));
}

#[test]
fn removed_record_ids_are_never_given_to_another_file() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("i.db");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    let paths: Vec<_> = (0..3)
        .map(|i| {
            let p = d.path().join(format!("f{i}"));
            std::fs::write(&p, format!("file {i}")).unwrap();
            p
        })
        .collect();
    let ids: Vec<FileId> = paths.iter().map(|p| add(&mut index, p)).collect();
    // Remove the newest record: plain SQLite rowids would hand its id to the next insert.
    remove::remove(&mut index, &[paths[2].clone()], false).unwrap();
    let p = d.path().join("new");
    std::fs::write(&p, b"a new file").unwrap();
    let new = add(&mut index, &p);
    assert!(new > ids[2], "{new:?} reuses an id up to {:?}", ids[2]);
    // Also across a reopen, and after removing every record.
    drop(index);
    let mut index = Index::open(&db, OpenMode::Existing).unwrap();
    remove::remove(&mut index, &[paths[0].clone(), paths[1].clone(), p.clone()], false).unwrap();
    let q = d.path().join("newer");
    std::fs::write(&q, b"newer").unwrap();
    let newer = add(&mut index, &q);
    assert!(newer > new, "{newer:?} <= {new:?}");
}
