//! The core story: include → tag → find → mv → check → rm → reopen, on a real SQLite file
//! and a real directory tree.

use std::path::{Path, PathBuf};

use trove_core::ops::check::{CheckOptions, Problem, check};
use trove_core::ops::find::find;
use trove_core::ops::include::{IncludeOptions, Outcome, include};
use trove_core::ops::mv::mv;
use trove_core::ops::remove::remove;
use trove_core::ops::tagging::{tag_paths, untag_paths};
use trove_core::ops::{NoProgress, tags};
use trove_core::{FileState, Index, OpenMode, Source};

fn names(index: &Index, q: &str, root: &Path) -> Vec<String> {
    let mut v: Vec<String> = find(index, q)
        .unwrap()
        .into_iter()
        .map(|r| r.path.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn write(p: &Path, b: &[u8]) -> PathBuf {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b).unwrap();
    p.to_path_buf()
}

#[test]
fn story_include_tag_find_mv_check_rm_reopen() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let db = root.join("index.db");
    let lib = root.join("lib");
    write(&lib.join("music/a.flac"), b"aaa");
    write(&lib.join("music/b.flac"), b"bbb");
    write(&lib.join("pics/cat.jpg"), b"ccc");

    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    let opts = IncludeOptions { recursive: true, tags: vec!["library".into()], ..Default::default() };
    let r = include(&mut index, std::slice::from_ref(&lib), &opts, &NoProgress).unwrap();
    assert_eq!(r.count(Outcome::Added), 3);
    assert!(r.failed.is_empty());

    // Re-including an unchanged tree hashes nothing.
    let r = include(&mut index, std::slice::from_ref(&lib), &opts, &NoProgress).unwrap();
    assert_eq!(r.count(Outcome::Unchanged), 3);
    assert_eq!(r.links_added, 0);

    tag_paths(&mut index, &[lib.join("music")], &["genre:techno".into()], true, &Source::Manual, &NoProgress).unwrap();
    tag_paths(
        &mut index,
        &[lib.join("pics/cat.jpg")],
        &["Animal:Cat".into()],
        false,
        &Source::Import("hydrus".into()),
        &NoProgress,
    )
    .unwrap();
    tags::imply(&mut index, "animal:cat", "animal").unwrap();
    assert_eq!(names(&index, "genre:techno", &root), ["lib/music/a.flac", "lib/music/b.flac"]);
    assert_eq!(names(&index, "ANIMAL", &root), ["lib/pics/cat.jpg"]);
    assert_eq!(names(&index, "library -animal", &root), ["lib/music/a.flac", "lib/music/b.flac"]);

    // The same tag from two sources: untagging one source keeps the other.
    let cat = lib.join("pics/cat.jpg");
    tag_paths(&mut index, std::slice::from_ref(&cat), &["animal:cat".into()], false, &Source::Manual, &NoProgress)
        .unwrap();
    untag_paths(
        &mut index,
        std::slice::from_ref(&cat),
        &["animal:cat".into()],
        false,
        Some(&Source::Import("hydrus".into())),
    )
    .unwrap();
    assert_eq!(names(&index, "animal:cat", &root), ["lib/pics/cat.jpg"]);
    let rec = trove_core::ops::files::live_at(&index, &cat).unwrap().unwrap();
    let t = trove_core::ops::files::tags_of(&index, rec.id).unwrap();
    let cat_tag = t.iter().find(|t| t.name == "Animal:Cat").expect("display keeps the case typed first");
    assert_eq!(cat_tag.sources, vec![Source::Manual]);
    assert!(t.iter().any(|t| t.name == "animal" && t.implied));

    // mv a directory: every record under it follows, tags kept.
    let r = mv(&mut index, &[lib.join("music")], &lib.join("tunes"), false).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.records, 2);
    assert_eq!(names(&index, "genre:techno", &root), ["lib/tunes/a.flac", "lib/tunes/b.flac"]);

    // Edit one file, delete another: check sees both, repair keeps every tag.
    write(&lib.join("tunes/a.flac"), b"aaa, edited");
    std::fs::remove_file(lib.join("tunes/b.flac")).unwrap();
    let r = check(&mut index, CheckOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.findings.len(), 2);
    assert!(r.findings.iter().any(|f| matches!(f.problem, Problem::Changed { hash_changed: true, .. })));
    assert!(r.findings.iter().any(|f| f.problem == Problem::Missing));
    let r = check(&mut index, CheckOptions { repair: true, full: false }, &NoProgress).unwrap();
    assert_eq!(r.outstanding(), 0);
    assert_eq!(names(&index, "genre:techno", &root), ["lib/tunes/a.flac"]);
    assert_eq!(names(&index, "genre:techno missing", &root), ["lib/tunes/b.flac"]);
    let a = find(&index, "genre:techno").unwrap().remove(0);
    assert_eq!(a.hash, trove_core::hash::hash_bytes(b"aaa, edited"));
    let r = check(&mut index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert_eq!(r.outstanding(), 0, "{:?}", r.findings);

    // The deleted file comes back: check notices and repair revives the record.
    write(&lib.join("tunes/b.flac"), b"bbb");
    let r = check(&mut index, CheckOptions { repair: true, full: false }, &NoProgress).unwrap();
    assert!(r.findings.iter().any(|f| f.problem == Problem::Reappeared && f.repaired));
    assert_eq!(names(&index, "genre:techno", &root), ["lib/tunes/a.flac", "lib/tunes/b.flac"]);

    // rm forgets, never deletes.
    let r = remove(&mut index, &[lib.join("pics")], true).unwrap();
    assert_eq!(r.removed, 1);
    assert!(cat.exists());
    assert!(names(&index, "animal", &root).is_empty());

    drop(index);
    let index = Index::open(&db, OpenMode::Existing).unwrap();
    assert!(index.integrity_problems().unwrap().is_none());
    assert_eq!(names(&index, "genre:techno", &root), ["lib/tunes/a.flac", "lib/tunes/b.flac"]);
    assert_eq!(names(&index, "library", &root), ["lib/tunes/a.flac", "lib/tunes/b.flac"]);
    let s = index.stats().unwrap();
    assert_eq!((s.files, s.missing), (2, 0));
    let a = trove_core::ops::files::live_at(&index, &lib.join("tunes/a.flac")).unwrap().unwrap();
    assert_eq!(a.state, FileState::Present);
}

#[test]
fn editing_a_file_keeps_its_record_and_tags() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let f = write(&root.join("notes.txt"), b"v1");
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    let opts = IncludeOptions { tags: vec!["notes".into()], ..Default::default() };
    include(&mut index, std::slice::from_ref(&f), &opts, &NoProgress).unwrap();
    let id1 = find(&index, "notes").unwrap()[0].id;
    write(&f, b"version two");
    let r = include(&mut index, std::slice::from_ref(&f), &IncludeOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.count(Outcome::Updated), 1);
    let rec = &find(&index, "notes").unwrap()[0];
    assert_eq!(rec.id, id1);
    assert_eq!(rec.hash, trove_core::hash::hash_bytes(b"version two"));
}

#[test]
fn queries_over_a_small_library() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    let mk = |index: &mut Index, rel: &str, size: usize, tags: &[&str]| {
        let p = write(&root.join(rel), &vec![b'x'; size]);
        let opts = IncludeOptions { tags: tags.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        include(index, &[p], &opts, &NoProgress).unwrap();
    };
    mk(&mut index, "m/1.flac", 10, &["year:2014", "rating:5", "date:2019-05-01"]);
    mk(&mut index, "m/2.FLAC", 2000, &["year:2016", "rating:3", "date:2021-01-09"]);
    mk(&mut index, "m/deep/3.mp3", 30, &["year:2020"]);
    mk(&mut index, "p/100%_a.jpg", 5, &[]);
    mk(&mut index, "p/100xa.jpg", 5, &["a", "b", "c"]);
    let n = |q: &str| names(&index, q, &root);
    assert_eq!(n("year>2015"), ["m/2.FLAC", "m/deep/3.mp3"]);
    assert_eq!(n("year<=2016 rating>=4"), ["m/1.flac"]);
    assert_eq!(n("date<2020-01-01"), ["m/1.flac"]);
    assert_eq!(n("ext:flac"), ["m/1.flac", "m/2.FLAC"]);
    assert_eq!(n("size>1k"), ["m/2.FLAC"]);
    assert_eq!(n("size<1k -tags:0"), ["m/1.flac", "m/deep/3.mp3", "p/100xa.jpg"]);
    assert_eq!(n("tags:0"), ["p/100%_a.jpg"]);
    assert_eq!(n("tags>2"), ["m/1.flac", "m/2.FLAC", "p/100xa.jpg"]);
    assert_eq!(n("path:*/100%_*"), ["p/100%_a.jpg"]);
    assert_eq!(n("path:m/*"), ["m/1.flac", "m/2.FLAC", "m/deep/3.mp3"]);
    assert_eq!(n(&format!("path:{}/m/deep/*", root.display())), ["m/deep/3.mp3"]);
    assert_eq!(n("mtime<1d"), n(""));
    assert!(n("mtime>1d").is_empty());
    assert_eq!(n("mtime>2000-01-01").len(), 5);
    assert_eq!(n("year:*"), ["m/1.flac", "m/2.FLAC", "m/deep/3.mp3"]);
    assert_eq!(n("*a*").len(), 4, "a, rating:*, date:* match");
    let sorted: Vec<_> = find(&index, "sort:-size limit:2").unwrap().iter().map(|r| r.stat.size).collect();
    assert_eq!(sorted, [2000, 30]);
    assert_eq!(find(&index, "sort:random limit:3").unwrap().len(), 3);
    assert!(matches!(
        find(&index, "a | limit:3"),
        Err(trove_core::Error::QueryMeaning(trove_core::query::QueryMeaning::NestedModifier { modifier }))
            if modifier == "limit:3"
    ));
    trove_core::ops::pools::create(&mut index, "Best Of").unwrap();
    trove_core::ops::pools::add(&mut index, "best of", &[root.join("m/2.FLAC"), root.join("m/1.flac")], false).unwrap();
    assert_eq!(names(&index, "pool:\"BEST OF\"", &root), ["m/1.flac", "m/2.FLAC"]);
    let files = trove_core::ops::pools::show(&index, "Best Of").unwrap().files;
    let order: Vec<_> = files.iter().map(|f| f.path.strip_prefix(&root).unwrap().to_owned()).collect();
    assert_eq!(order, [PathBuf::from("m/2.FLAC"), PathBuf::from("m/1.flac")]);
    trove_core::ops::pools::remove(&mut index, "Best Of", &[root.join("m/2.FLAC")], false).unwrap();
    trove_core::ops::pools::add(&mut index, "Best Of", &[root.join("p")], true).unwrap();
    let files = trove_core::ops::pools::show(&index, "Best Of").unwrap().files;
    assert_eq!(files.len(), 3);
    assert!(files[0].path.ends_with("m/1.flac"));
}

#[test]
fn every_query_form_compiles_and_runs() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    let p = write(&root.join("x/y.txt"), b"hello");
    include(
        &mut index,
        &[p],
        &IncludeOptions { tags: vec!["year:2020".into(), "t".into()], ..Default::default() },
        &NoProgress,
    )
    .unwrap();
    for op in [":", ">", ">=", "<", "<="] {
        for q in [
            format!("size{op}1k"),
            format!("mtime{op}2024-01-01"),
            format!("mtime{op}2024-01-01T10:00:00"),
            format!("mtime{op}30d"),
            format!("tags{op}1"),
            format!("tags{op}0"),
        ] {
            let r = find(&index, &q);
            assert!(r.is_ok(), "{q}: {r:?}");
        }
    }
    for op in [">", ">=", "<", "<="] {
        for q in [format!("year{op}2019"), format!("year{op}abc"), format!("nosuchns{op}1")] {
            assert!(find(&index, &q).is_ok(), "{q}");
        }
    }
    for q in [
        "",
        "t",
        "-t",
        "t | -t",
        "not (t and year:*)",
        "path:*",
        "path:/no/such/*",
        "path:[x]*",
        "ext:txt",
        "hash:00000000",
        "pool:none",
        "missing",
        "-missing",
        "sort:size",
        "sort:-mtime",
        "sort:random limit:1",
        "limit:0",
        "*",
        "tag:*",
    ] {
        assert!(find(&index, q).is_ok(), "{q}");
    }
    assert_eq!(find(&index, "t | -t").unwrap().len(), 1);
    assert_eq!(find(&index, "limit:0").unwrap().len(), 0);
    assert_eq!(find(&index, "size:5").unwrap().len(), 1);
    assert_eq!(find(&index, "tags:2").unwrap().len(), 1);
}

#[test]
fn fast_count_agrees_with_the_full_query() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    for i in 0..30 {
        let p = write(&root.join(format!("f{i}")), format!("{i}").as_bytes());
        let mut tags = vec![format!("n:{}", i % 7), "all".to_string()];
        if i % 3 == 0 {
            tags.push("animal:cat".into());
        }
        include(&mut index, &[p], &IncludeOptions { tags, ..Default::default() }, &NoProgress).unwrap();
    }
    tags::imply(&mut index, "animal:cat", "animal").unwrap();
    // the same tag from a second source must not count twice
    let ones: Vec<_> = find(&index, "n:1").unwrap().iter().map(|r| r.id).collect();
    trove_core::ops::tagging::tag_ids(&mut index, &ones, &["all".into()], &Source::Import("x".into())).unwrap();
    // two files go missing: not counted unless asked for
    std::fs::remove_file(root.join("f0")).unwrap();
    std::fs::remove_file(root.join("f1")).unwrap();
    check(&mut index, CheckOptions { repair: true, full: false }, &NoProgress).unwrap();
    for q in ["all", "animal", "animal:cat", "n:*", "n>3", "n:1", "all limit:5", "nosuch", "all missing"] {
        let query = trove_core::ops::find::Query::new(&index, q).unwrap();
        assert_eq!(query.count(&index).unwrap() as usize, query.collect(&index, None).unwrap().len(), "{q}");
    }
}

#[test]
fn sort_random_limit_samples_uniformly_and_never_returns_missing_files() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    for i in 0..200 {
        write(&root.join(format!("lib/f{i:03}")), format!("{i}").as_bytes());
    }
    include(&mut index, &[root.join("lib")], &IncludeOptions { recursive: true, ..Default::default() }, &NoProgress)
        .unwrap();
    for i in 0..50 {
        std::fs::remove_file(root.join(format!("lib/f{i:03}"))).unwrap();
    }
    check(&mut index, CheckOptions { repair: true, full: false }, &NoProgress).unwrap();
    let mut seen = std::collections::HashMap::new();
    for _ in 0..400 {
        let r = find(&index, "sort:random limit:10").unwrap();
        assert_eq!(r.len(), 10);
        let ids: std::collections::BTreeSet<_> = r.iter().map(|x| x.id).collect();
        assert_eq!(ids.len(), 10, "no duplicates");
        for x in r {
            assert_eq!(x.state, trove_core::FileState::Present);
            *seen.entry(x.id).or_insert(0u32) += 1;
        }
    }
    // 150 live files, 4000 draws: each should come up about 27 times.
    assert_eq!(seen.len(), 150);
    assert!(seen.values().all(|&n| (5..=60).contains(&n)), "{seen:?}");
    // asking for more than there are falls back to shuffling everything
    assert_eq!(find(&index, "sort:random limit:500").unwrap().len(), 150);
}

#[test]
fn counting_a_wildcard_that_matches_more_tags_than_sqlite_has_parameters() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let mut index = Index::open(&root.join("i.db"), OpenMode::Create).unwrap();
    let p = write(&root.join("f"), b"x");
    include(&mut index, std::slice::from_ref(&p), &IncludeOptions::default(), &NoProgress).unwrap();
    let names: Vec<String> = (0..33_000).map(|i| format!("many:{i}")).collect();
    let mut load = trove_core::ops::bulk::BulkLoad::new(&mut index, &Source::Manual, 64).unwrap();
    load.tags(&names, &NoProgress).unwrap();
    load.finish(false).unwrap();
    trove_core::ops::tagging::tag_paths(&mut index, &[p], &["many:7".into()], false, &Source::Manual, &NoProgress)
        .unwrap();
    let q = trove_core::ops::find::Query::new(&index, "many:*").unwrap();
    assert_eq!(q.count(&index).unwrap(), 1);
    assert_eq!(q.collect(&index, None).unwrap().len(), 1);
}
