//! `mv` across filesystems: copy, verify, update the index, then delete the source.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use trove_core::ops::NoProgress;
use trove_core::ops::find::find;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::mv::mv;
use trove_core::{Index, OpenMode};

/// A directory on another filesystem than the temp dir: /dev/shm (tmpfs) when it is one.
fn other_fs(than: &Path) -> Option<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let dev = std::fs::metadata(than).ok()?.dev();
    if std::fs::metadata(shm).ok()?.dev() == dev {
        return None;
    }
    tempfile::tempdir_in(shm).ok()
}

#[test]
fn mv_across_filesystems_copies_verifies_and_keeps_tags() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let Some(other) = other_fs(&root) else {
        eprintln!("skipped: /dev/shm is not a separate filesystem here");
        return;
    };
    let other = other.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    std::fs::create_dir_all(root.join("album/disc 1")).unwrap();
    std::fs::write(root.join("album/disc 1/t1.flac"), vec![7u8; 300_000]).unwrap();
    std::fs::write(root.join("album/cover.jpg"), b"jpeg").unwrap();
    std::fs::write(root.join("single.flac"), b"single").unwrap();
    let opts = IncludeOptions { recursive: true, tags: vec!["keep".into()], ..Default::default() };
    include(&mut index, &[root.join("album"), root.join("single.flac")], &opts, &NoProgress).unwrap();
    let before = std::fs::metadata(root.join("single.flac")).unwrap().modified().unwrap();

    let r = mv(&mut index, &[root.join("single.flac"), root.join("album")], &other, false).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.copied, 2);
    assert!(!root.join("single.flac").exists() && !root.join("album").exists());
    assert_eq!(std::fs::read(other.join("album/disc 1/t1.flac")).unwrap(), vec![7u8; 300_000]);
    assert_eq!(std::fs::metadata(other.join("single.flac")).unwrap().modified().unwrap(), before, "mtime kept");
    let mut got: Vec<_> = find(&index, "keep").unwrap().into_iter().map(|f| (f.path, f.stat.device)).collect();
    got.sort();
    let dev = std::fs::metadata(&other).unwrap().dev();
    assert_eq!(
        got,
        vec![
            (other.join("album/cover.jpg"), dev),
            (other.join("album/disc 1/t1.flac"), dev),
            (other.join("single.flac"), dev)
        ]
    );
    // no temporary copies left behind
    let names: Vec<_> = std::fs::read_dir(&other).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // and the index agrees with the disk
    let r = trove_core::ops::check::check(&mut index, Default::default(), &NoProgress).unwrap();
    assert_eq!(r.outstanding(), 0, "{:?}", r.findings);
}
