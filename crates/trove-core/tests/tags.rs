//! Tag rename, alias, merge and delete never lose a link on any other tag; implication
//! cycles are refused; deleting a tag in use needs force.

use std::collections::BTreeSet;

use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::{NoProgress, tags};
use trove_core::{Error, Index, OpenMode};

/// Every (file id, tag primary name, source) triple.
fn all_links(index: &Index) -> BTreeSet<(i64, String, String)> {
    let raw = rusqlite::Connection::open(index.path()).unwrap();
    let mut st = raw
        .prepare(
            "SELECT ft.file_id, n.name, s.kind || ':' || s.name FROM file_tags ft
             JOIN tag_names n ON n.tag_id = ft.tag_id AND n.is_primary = 1 JOIN sources s ON s.id = ft.source_id",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

fn setup() -> (tempfile::TempDir, Index) {
    let d = tempfile::tempdir().unwrap();
    let mut index = Index::open(&d.path().join("i.db"), OpenMode::Create).unwrap();
    for i in 0..20 {
        let p = d.path().join(format!("f{i}"));
        std::fs::write(&p, format!("{i}")).unwrap();
        let mut t = vec!["all".to_string()];
        if i % 2 == 0 {
            t.push("even".into());
        }
        if i % 3 == 0 {
            t.push("three".into());
        }
        if i % 5 == 0 {
            t.push("five".into());
        }
        include(&mut index, &[p], &IncludeOptions { tags: t, ..Default::default() }, &NoProgress).unwrap();
    }
    (d, index)
}

fn without(links: &BTreeSet<(i64, String, String)>, tag: &str) -> BTreeSet<(i64, String, String)> {
    links.iter().filter(|l| l.1 != tag).cloned().collect()
}

#[test]
fn rename_and_alias_keep_every_link() {
    let (_d, mut index) = setup();
    let before = all_links(&index);
    tags::rename(&mut index, "even", "Even Numbers").unwrap();
    tags::alias(&mut index, "even numbers", "gerade", Some("de")).unwrap();
    let after = all_links(&index);
    assert_eq!(without(&before, "even"), without(&after, "Even Numbers"));
    assert_eq!(after.iter().filter(|l| l.1 == "Even Numbers").count(), 10);
    assert_eq!(trove_core::ops::find::find(&index, "gerade").unwrap().len(), 10);
    assert_eq!(trove_core::ops::find::find(&index, "GERADE").unwrap().len(), 10);
    // names are unique case-insensitively, across tags
    assert!(
        matches!(tags::alias(&mut index, "three", "Gerade", None), Err(Error::NameTaken { name, owner }) if name == "Gerade" && owner == "Even Numbers")
    );
    assert!(matches!(tags::rename(&mut index, "three", "FIVE"), Err(Error::NameTaken { name, .. }) if name == "FIVE"));
    assert!(matches!(tags::create(&mut index, "  "), Err(Error::BadTagName { name, .. }) if name == "  "));
    assert!(matches!(tags::create(&mut index, "a\nb"), Err(Error::BadTagName { name, .. }) if name == "a\nb"));
    // case-only rename is allowed, display keeps the case typed
    tags::rename(&mut index, "five", "FIVE").unwrap();
    assert_eq!(tags::show(&index, "five").unwrap().tag.name, "FIVE");
    // NFC: a decomposed é finds the composed name
    tags::create(&mut index, "caf\u{e9}").unwrap();
    assert!(tags::lookup(&index, "cafe\u{301}").is_ok());
    assert_eq!(all_links(&index).len(), after.len());
}

#[test]
fn merge_moves_links_names_and_implications() {
    let (_d, mut index) = setup();
    tags::alias(&mut index, "three", "drei", None).unwrap();
    tags::imply(&mut index, "three", "odd-ish").unwrap();
    tags::imply(&mut index, "child-of-three", "three").unwrap();
    let before = all_links(&index);
    tags::merge(&mut index, "three", "five").unwrap();
    let after = all_links(&index);
    // Links of other tags untouched.
    assert_eq!(without(&without(&before, "three"), "five"), without(&after, "five"));
    // five now carries the union of both sets.
    let files: BTreeSet<i64> = after.iter().filter(|l| l.1 == "five").map(|l| l.0).collect();
    let expect: BTreeSet<i64> = before.iter().filter(|l| l.1 == "three" || l.1 == "five").map(|l| l.0).collect();
    assert_eq!(files, expect);
    let d = tags::show(&index, "five").unwrap();
    let alias: Vec<_> = d.tag.aliases.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(alias, ["drei", "three"]);
    assert_eq!(d.parents, ["odd-ish"]);
    assert_eq!(d.children, ["child-of-three"]);
    assert!(matches!(
        tags::merge(&mut index, "five", "drei"),
        Err(Error::AlreadySameTag { from, into }) if from == "five" && into == "drei"
    ));
}

#[test]
fn merge_that_would_cycle_is_refused_whole() {
    let (_d, mut index) = setup();
    tags::imply(&mut index, "three", "middle").unwrap();
    tags::imply(&mut index, "middle", "five").unwrap();
    let before = all_links(&index);
    assert!(matches!(tags::merge(&mut index, "three", "five"), Err(Error::MergeMakesCycle { tag }) if tag == "five"));
    assert_eq!(all_links(&index), before);
    assert!(tags::lookup(&index, "three").is_ok());
}

#[test]
fn implication_cycles_are_refused() {
    let (_d, mut index) = setup();
    tags::imply(&mut index, "a", "b").unwrap();
    tags::imply(&mut index, "b", "c").unwrap();
    assert!(
        matches!(tags::imply(&mut index, "c", "a"), Err(Error::ImplicationCycle { child, parent }) if child == "c" && parent == "a")
    );
    assert!(matches!(tags::imply(&mut index, "a", "a"), Err(Error::SelfImplication(name)) if name == "a"));
    assert!(!tags::imply(&mut index, "a", "b").unwrap().new);
    assert!(tags::unimply(&mut index, "b", "c").unwrap());
    tags::imply(&mut index, "c", "a").unwrap();
}

#[test]
fn delete_in_use_needs_force_and_spares_other_tags() {
    let (_d, mut index) = setup();
    let before = all_links(&index);
    match tags::delete(&mut index, "five", false) {
        Err(Error::TagInUse { files, .. }) => assert_eq!(files, 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(all_links(&index), before);
    assert_eq!(tags::delete(&mut index, "five", true).unwrap(), 4);
    assert_eq!(all_links(&index), without(&before, "five"));
    tags::create(&mut index, "unused").unwrap();
    assert_eq!(tags::delete(&mut index, "unused", false).unwrap(), 0);
}
