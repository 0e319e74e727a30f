//! Roots as watched folders at the library level: reconcile's auto-include, the per-root
//! switch, ignore files, and roots stored by their real path.

use std::path::PathBuf;

use trove_core::ops::NoProgress;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::reconcile::{Action, ReconcileOptions, reconcile};
use trove_core::ops::roots::{add_root, set_auto_include};
use trove_core::{Index, OpenMode};

fn setup() -> (tempfile::TempDir, PathBuf, Index) {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().canonicalize().unwrap();
    let index = Index::open(&base.join("i.db"), OpenMode::Create).unwrap();
    (d, base, index)
}

fn added(index: &mut Index) -> Vec<PathBuf> {
    let r = reconcile(index, &ReconcileOptions::default(), &NoProgress).unwrap();
    let mut v: Vec<PathBuf> =
        r.actions.into_iter().filter_map(|a| if let Action::Added { path } = a { Some(path) } else { None }).collect();
    v.sort();
    v
}

#[test]
fn reconcile_adds_new_files_only_under_auto_include_roots_and_not_ignored() {
    let (_d, base, mut index) = setup();
    for dir in ["on", "off"] {
        std::fs::create_dir_all(base.join(dir)).unwrap();
        std::fs::write(base.join(dir).join("old"), dir).unwrap();
        let opts = IncludeOptions { recursive: true, ..Default::default() };
        include(&mut index, &[base.join(dir)], &opts, &NoProgress).unwrap();
    }
    assert!(set_auto_include(&mut index, &base.join("off"), false).unwrap());
    std::fs::write(base.join("on/.troveignore"), "*.part\n").unwrap();
    std::fs::write(base.join("on/new"), b"new").unwrap();
    std::fs::write(base.join("on/dl.part"), b"partial").unwrap();
    std::fs::write(base.join("off/new"), b"new too").unwrap();
    assert_eq!(added(&mut index), vec![base.join("on/.troveignore"), base.join("on/new")]);
    assert!(added(&mut index).is_empty(), "a second run finds nothing new");
    assert_eq!(index.stats().unwrap().files, 4);
}

#[test]
fn reconcile_never_adds_the_index_files_inside_a_root() {
    let (_d, base, mut index) = setup();
    std::fs::write(base.join("f"), b"f").unwrap();
    add_root(&mut index, &base).unwrap();
    assert_eq!(added(&mut index), vec![base.join("f")]);
}

#[test]
fn a_root_added_through_a_symlink_is_stored_by_its_real_path() {
    let (_d, base, mut index) = setup();
    std::fs::create_dir(base.join("real")).unwrap();
    std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
    let r = add_root(&mut index, &base.join("link")).unwrap();
    assert_eq!(r.path, base.join("real"));
    assert!(r.new);
    let list = trove_core::ops::roots::list(&index).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].path, base.join("real"));
    assert!(!add_root(&mut index, &base.join("real")).unwrap().new, "the same root by either name");
}

#[test]
fn reconcile_follows_a_root_renamed_under_a_sibling_name_and_reports_one_that_is_gone() {
    let (_d, base, mut index) = setup();
    for root in ["lib/A", "lib/G"] {
        std::fs::create_dir_all(base.join(root).join("sub")).unwrap();
        std::fs::write(base.join(root).join("sub/f"), root).unwrap();
        let opts = IncludeOptions { recursive: true, tags: vec!["t".into()], ..Default::default() };
        include(&mut index, &[base.join(root)], &opts, &NoProgress).unwrap();
    }
    std::fs::rename(base.join("lib/A"), base.join("lib/A2")).unwrap();
    std::fs::remove_dir_all(base.join("lib/G")).unwrap();
    let r = reconcile(&mut index, &ReconcileOptions::default(), &NoProgress).unwrap();
    assert!(
        r.actions.contains(&Action::RootMoved { from: base.join("lib/A"), to: base.join("lib/A2"), files: 1 }),
        "{:?}",
        r.actions
    );
    assert!(r.actions.contains(&Action::RootGone { root: base.join("lib/G") }), "{:?}", r.actions);
    let roots: Vec<PathBuf> = trove_core::ops::roots::list(&index).unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(roots, [base.join("lib/A2"), base.join("lib/G")]);
    let live: Vec<PathBuf> = trove_core::ops::find::find(&index, "t").unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(live, [base.join("lib/A2/sub/f")]);
}
