//! `ops::rules` on a real index: a rule only ever adds and removes links of its own source,
//! applying twice changes nothing, a missing file keeps its links, revert removes exactly
//! the rule's links, and a rule's query narrows the files it gives tags to.

use std::path::{Path, PathBuf};

use trove_core::meta::Meta;
use trove_core::ops::find::find;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::rules::{Rule, Scope, apply, link_count, preview, revert};
use trove_core::ops::tagging::tag_paths;
use trove_core::ops::{NoProgress, check};
use trove_core::{FileRecord, Index, OpenMode, Source};

/// A rule that tags every file whose name holds `needle` with `tags`.
struct ByName {
    name: &'static str,
    needle: &'static str,
    tags: Vec<&'static str>,
    query: Option<&'static str>,
}

impl Rule for ByName {
    fn name(&self) -> &str {
        self.name
    }
    fn query(&self) -> Option<&str> {
        self.query
    }
    fn tags(&self, file: &FileRecord, _meta: Option<&Meta>) -> Vec<String> {
        let name = file.path.file_name().unwrap().to_string_lossy();
        if name.contains(self.needle) { self.tags.iter().map(|t| t.to_string()).collect() } else { Vec::new() }
    }
}

fn write(p: &Path, b: &[u8]) -> PathBuf {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b).unwrap();
    p.to_path_buf()
}

fn count(index: &Index, q: &str) -> usize {
    find(index, q).unwrap().len()
}

#[test]
fn a_rule_touches_only_its_own_links_and_reapplying_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
    let a = write(&root.join("lib/red-a.txt"), b"a");
    let b = write(&root.join("lib/red-b.txt"), b"b");
    write(&root.join("lib/blue.txt"), b"c");
    include(&mut index, &[root.join("lib")], &IncludeOptions { recursive: true, ..Default::default() }, &NoProgress)
        .unwrap();
    // By hand: the tag the rule will make, on one file; and a tag the rule never makes.
    tag_paths(
        &mut index,
        std::slice::from_ref(&a),
        &["color:red".into(), "keep".into()],
        false,
        &Source::Manual,
        &NoProgress,
    )
    .unwrap();
    // Another source's copy of the tag too.
    tag_paths(
        &mut index,
        std::slice::from_ref(&b),
        &["color:red".into()],
        false,
        &Source::Import("x".into()),
        &NoProgress,
    )
    .unwrap();

    let red = ByName { name: "red", needle: "red", tags: vec!["color:red", "Warm"], query: None };
    let p = preview(&index, &[&red], Scope::All).unwrap();
    assert_eq!(p[0].files_matched, 2);
    assert_eq!(p[0].changes.len(), 2);
    assert_eq!(p[0].changes[0].add, ["color:red", "Warm"]);
    assert_eq!(link_count(&index, "red").unwrap(), 0, "a preview writes nothing");

    let r = apply(&mut index, &[&red], Scope::All, &NoProgress).unwrap();
    assert_eq!((r[0].links_added, r[0].links_removed), (4, 0));
    assert_eq!(r[0].tags_created, ["Warm"]);
    assert_eq!(count(&index, "warm"), 2);
    let again = apply(&mut index, &[&red], Scope::All, &NoProgress).unwrap();
    assert_eq!((again[0].links_added, again[0].links_removed, again[0].links_kept), (0, 0, 4));

    // The rule changes: it no longer gives `Warm`; only its own Warm links go.
    let red2 = ByName { name: "red", needle: "red", tags: vec!["color:red"], query: None };
    let r = apply(&mut index, &[&red2], Scope::All, &NoProgress).unwrap();
    assert_eq!((r[0].links_added, r[0].links_removed), (0, 2));
    assert_eq!(count(&index, "warm"), 0);

    // A file gone from disk keeps the rule's links (it may come back).
    std::fs::remove_file(&b).unwrap();
    check::check(&mut index, check::CheckOptions { full: false, repair: true }, &NoProgress).unwrap();
    let r = apply(&mut index, &[&red2], Scope::All, &NoProgress).unwrap();
    assert_eq!((r[0].links_added, r[0].links_removed), (0, 0));
    assert_eq!(link_count(&index, "red").unwrap(), 2);

    // Revert: exactly the rule's links; the manual and the imported copies stay.
    assert_eq!(revert(&mut index, "red").unwrap(), 2);
    assert_eq!(link_count(&index, "red").unwrap(), 0);
    assert_eq!(count(&index, "color:red"), 1, "the manual copy on red-a");
    assert_eq!(count(&index, "color:red missing"), 1, "the imported copy on the missing red-b");
    assert_eq!(count(&index, "keep"), 1);
    assert_eq!(revert(&mut index, "red").unwrap(), 0);
}

#[test]
fn a_rule_query_narrows_its_files_and_a_scope_limits_the_run() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
    let a = write(&root.join("lib/x1.txt"), b"a");
    write(&root.join("lib/x2.md"), b"b");
    include(&mut index, &[root.join("lib")], &IncludeOptions { recursive: true, ..Default::default() }, &NoProgress)
        .unwrap();
    let only_txt = ByName { name: "x", needle: "x", tags: vec!["ex"], query: Some("ext:txt") };
    apply(&mut index, &[&only_txt], Scope::All, &NoProgress).unwrap();
    assert_eq!(count(&index, "ex"), 1);
    // Scope: only the listed records are looked at.
    let all = ByName { name: "y", needle: "x", tags: vec!["why"], query: None };
    let ids: Vec<_> = find(&index, "ext:txt").unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1);
    apply(&mut index, &[&all], Scope::Files(&ids), &NoProgress).unwrap();
    assert_eq!(count(&index, "why"), 1);
    assert_eq!(find(&index, "why").unwrap()[0].path, a);
}
