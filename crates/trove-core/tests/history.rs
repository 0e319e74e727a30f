//! The operation log on a real index and a real directory tree: a story undone step by step
//! back to the empty index (the whole index compared at each step), and random sequences of
//! writes where `find --at OP` agrees with replaying the log up to OP into a fresh index,
//! and undoing an undo gives back the index it started from.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use trove_core::ops::check::{CheckOptions, check, verify_postings};
use trove_core::ops::find::Query;
use trove_core::ops::history::{self, At, LogFilter};
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::tagging::{tag_paths, untag_paths};
use trove_core::ops::track::{FsEvent, apply as track};
use trove_core::ops::{NoProgress, mv::mv, pools, remove::remove, tags};
use trove_core::{Error, Index, OpenMode, Source};

/// Everything trove owns, as text, read through a separate connection: links with their
/// sources, tags with their names, implications, pools with their members, file records
/// with their paths and states.
fn snapshot(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = String::new();
    let queries = [
        "SELECT tag_id, file_id, s.kind || ':' || s.name FROM file_tags JOIN sources s ON s.id = source_id ORDER BY 1, 2, 3",
        "SELECT id, hex(uid), created_at FROM tags ORDER BY id",
        "SELECT folded, name, tag_id, lang, is_primary, ns, val, num FROM tag_names ORDER BY folded",
        "SELECT child, parent FROM implications ORDER BY 1, 2",
        "SELECT id, title, folded FROM pools ORDER BY id",
        "SELECT pool_id, position, file_id FROM pool_files ORDER BY 1, 2",
        "SELECT id, hex(path), state = 1 FROM files ORDER BY id",
    ];
    for q in queries {
        let mut st = c.prepare(q).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        out.push_str(q);
        out.push('\n');
        while let Some(r) = rows.next().unwrap() {
            let cols: Vec<String> =
                (0..n).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
            out.push_str(&cols.join("|"));
            out.push('\n');
        }
    }
    out
}

fn write(p: &Path, b: &[u8]) -> PathBuf {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b).unwrap();
    p.to_path_buf()
}

#[test]
fn story_undone_step_by_step_back_to_the_empty_index() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let db = root.join("index.db");
    let lib = root.join("lib");
    let a = write(&lib.join("a.jpg"), b"aaa");
    let b = write(&lib.join("b.jpg"), b"bbb");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    let mut states = vec![snapshot(&db)];
    let mut ops = Vec::new();
    let mut step = |index: &mut Index, what: &str, f: &dyn Fn(&mut Index)| {
        index.set_operation("test", what);
        f(index);
        ops.push(index.current_operation().unwrap_or_else(|| panic!("{what}: nothing recorded")));
        states.push(snapshot(&db));
    };
    step(&mut index, "include", &|i| {
        let opts = IncludeOptions { recursive: true, tags: vec!["photo".into()], ..Default::default() };
        include(i, std::slice::from_ref(&lib), &opts, &NoProgress).unwrap();
    });
    step(&mut index, "tag", &|i| {
        tag_paths(i, std::slice::from_ref(&a), &["cat".into(), "kitty".into()], false, &Source::Manual, &NoProgress)
            .unwrap();
        tag_paths(i, std::slice::from_ref(&b), &["kitty".into()], false, &Source::Rule("r".into()), &NoProgress)
            .unwrap();
    });
    step(&mut index, "merge", &|i| tags::merge(i, "kitty", "cat").unwrap());
    step(&mut index, "alias", &|i| tags::alias(i, "cat", "chat", Some("fr")).unwrap());
    step(&mut index, "rename", &|i| tags::rename(i, "cat", "Felis").unwrap());
    step(&mut index, "imply", &|i| drop(tags::imply(i, "felis", "animal").unwrap()));
    let moved = lib.join("sub/a2.jpg");
    step(&mut index, "watcher move", &|i| {
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::rename(&a, &moved).unwrap();
        let ev = FsEvent::Renamed { from: a.clone(), to: moved.clone(), dir: false };
        track(i, &[ev], std::slice::from_ref(&lib)).unwrap();
    });
    step(&mut index, "untag", &|i| {
        untag_paths(i, std::slice::from_ref(&b), &["felis".into()], false, None).unwrap();
    });
    step(&mut index, "pool create", &|i| {
        pools::create(i, "Best of").unwrap();
    });
    step(&mut index, "pool add", &|i| drop(pools::add(i, "best of", &[moved.clone(), b.clone()], false).unwrap()));
    step(&mut index, "pool remove", &|i| {
        drop(pools::remove(i, "best of", std::slice::from_ref(&moved), false).unwrap());
    });
    step(&mut index, "rm", &|i| drop(remove(i, std::slice::from_ref(&b), false).unwrap()));
    step(&mut index, "tag delete", &|i| {
        tags::delete(i, "photo", true).unwrap();
    });

    let log = history::log(&index, LogFilter::All, 100).unwrap();
    assert_eq!(log.len(), ops.len());
    assert_eq!(log[0].summary, "tag delete");
    assert!(log.iter().all(|o| o.actor == "test"));
    let per_file = history::log(&index, LogFilter::File(&moved), 100).unwrap();
    assert!(per_file.iter().any(|o| o.summary == "watcher move"), "{per_file:?}");
    assert!(per_file.iter().all(|o| o.summary != "pool create"));

    // Undo newest first; after undoing op k the index is as it was before op k.
    for k in (0..ops.len()).rev() {
        index.set_operation("test", "undo");
        let r = history::undo(&mut index, Some(ops[k]), false).unwrap();
        assert!(r.skipped.is_empty());
        assert_eq!(snapshot(&db), states[k], "after undoing step {k}");
        assert!(verify_postings(&index).unwrap().is_empty());
    }
    assert_eq!(states[0], snapshot(&db));
    // …and the undos are operations too: undoing the last one brings the include back.
    index.set_operation("test", "redo");
    history::undo(&mut index, None, false).unwrap();
    assert_eq!(snapshot(&db), states[1]);
}

#[test]
fn undo_refuses_when_a_later_operation_changed_the_same_link_and_force_applies_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let db = root.join("index.db");
    let a = write(&root.join("a"), b"a");
    let b = write(&root.join("b"), b"b");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    index.set_operation("test", "include");
    include(&mut index, &[a.clone(), b.clone()], &IncludeOptions::default(), &NoProgress).unwrap();
    index.set_operation("test", "tag both");
    tag_paths(&mut index, &[a.clone(), b.clone()], &["x".into()], false, &Source::Manual, &NoProgress).unwrap();
    let tagged = index.current_operation().unwrap();
    index.set_operation("test", "untag a");
    untag_paths(&mut index, std::slice::from_ref(&a), &["x".into()], false, None).unwrap();
    let untag = index.current_operation().unwrap();
    let before = snapshot(&db);
    index.set_operation("test", "undo");
    match history::undo(&mut index, Some(tagged), false) {
        Err(Error::UndoConflict { op, conflicts }) => {
            assert_eq!(op, tagged);
            assert_eq!(conflicts.len(), 1, "{conflicts:?}");
            assert_eq!(conflicts[0].later, vec![untag]);
            assert!(conflicts[0].what.contains("/a"), "{}", conflicts[0].what);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(snapshot(&db), before, "a refused undo changes nothing");
    let r = history::undo(&mut index, Some(tagged), true).unwrap();
    assert_eq!(r.skipped.len(), 1);
    assert!(r.restored >= 1);
    assert!(trove_core::ops::find::find(&index, "x").unwrap().is_empty());
    // Undoing an undone operation again: nothing left in the state it left.
    index.set_operation("test", "undo again");
    assert!(
        matches!(history::undo(&mut index, Some(tagged), false), Err(Error::UndoConflict { op, .. }) if op == tagged)
    );
    assert!(matches!(history::undo(&mut index, Some(999), false), Err(Error::UnknownOp(999))));
}

#[test]
fn history_of_a_file_lists_tag_sets_and_paths_over_time() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let a = write(&root.join("a.txt"), b"a");
    let mut index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
    index.set_operation("test", "include");
    include(&mut index, std::slice::from_ref(&a), &IncludeOptions::default(), &NoProgress).unwrap();
    index.set_operation("test", "tag");
    tag_paths(&mut index, std::slice::from_ref(&a), &["x".into(), "y".into()], false, &Source::Manual, &NoProgress)
        .unwrap();
    index.set_operation("test", "move");
    let a2 = root.join("a2.txt");
    mv(&mut index, std::slice::from_ref(&a), &a2, false).unwrap();
    index.set_operation("test", "untag");
    untag_paths(&mut index, std::slice::from_ref(&a2), &["x".into()], false, None).unwrap();
    let h = history::history(&index, &a2).unwrap();
    let tags: Vec<Vec<String>> = h.events.iter().map(|e| e.tags.clone()).collect();
    assert_eq!(tags, vec![vec![], vec!["x".to_string(), "y".into()], vec!["x".into(), "y".into()], vec!["y".into()]]);
    assert_eq!(h.events[0].record, Some(true));
    assert_eq!(h.events[2].moved, Some((a.clone(), a2.clone())));
    assert_eq!(h.events[3].removed, vec!["x".to_string()]);
    // The old path finds the same record.
    assert_eq!(history::history(&index, &a).unwrap().id, h.id);
}

#[test]
fn find_at_a_time_before_history_is_refused_and_prune_forgets_old_operations() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let a = write(&root.join("a.txt"), b"a");
    let mut index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
    index.set_operation("test", "include");
    include(&mut index, std::slice::from_ref(&a), &IncludeOptions::default(), &NoProgress).unwrap();
    let first = index.current_operation().unwrap();
    assert!(matches!(
        history::find_at(&mut index, At::Time(1000), "", None),
        Err(Error::HistoryStartsLater { at: 1000, .. })
    ));
    let now = trove_core::ops::find::find(&index, "").unwrap();
    let at = history::find_at(&mut index, At::Time(i64::MAX / 2), "", None).unwrap();
    assert_eq!(at.files.len(), now.len());
    let p = history::prune(&mut index, i64::MAX / 2).unwrap();
    // An include is a few transactions (the batch, the root): one operation, all pruned.
    assert!(p.ops >= 1);
    assert!(p.changes >= 1);
    assert!(history::log(&index, LogFilter::All, 10).unwrap().is_empty());
    assert!(
        matches!(history::find_at(&mut index, At::Op(first), "", None), Err(Error::HistoryPruned { op, .. }) if op == first)
    );
    // Ids are not reused after a prune.
    index.set_operation("test", "tag");
    tag_paths(&mut index, std::slice::from_ref(&a), &["x".into()], false, &Source::Manual, &NoProgress).unwrap();
    assert!(index.current_operation().unwrap() > first);
}

/// File names: hostile bytes included (newline, `*`, non-UTF-8, a leading `-`).
const NAMES: &[&[u8]] =
    &[b"d1/a.txt", b"d1/new\nline.txt", b"d2/star*.flac", b"d2/bad\xff.txt", b"d2/-lead", b"d3/c.txt"];
const TAGS: &[&str] = &["cat", "dog", "cute", "genre:rock", "year:2015", "Animal:Cat"];

#[derive(Debug, Clone)]
enum Op {
    Include(usize, Option<usize>),
    Tag(usize, usize),
    Untag(usize, usize),
    Merge(usize, usize),
    Imply(usize, usize),
    Unimply(usize, usize),
    Alias(usize, usize),
    DeleteTag(usize),
    Rm(usize),
    Mv(usize, usize),
    Missing(usize),
    PoolAdd(usize),
    PoolRemove(usize),
    /// Undo the operation this many back (an undo that conflicts is refused, and that is fine).
    Undo(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let f = 0..NAMES.len();
    let t = 0..TAGS.len();
    prop_oneof![
        4 => (f.clone(), proptest::option::of(t.clone())).prop_map(|(a, b)| Op::Include(a, b)),
        5 => (f.clone(), t.clone()).prop_map(|(a, b)| Op::Tag(a, b)),
        2 => (f.clone(), t.clone()).prop_map(|(a, b)| Op::Untag(a, b)),
        1 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Merge(a, b)),
        2 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Imply(a, b)),
        1 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Unimply(a, b)),
        1 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Alias(a, b)),
        1 => t.clone().prop_map(Op::DeleteTag),
        1 => f.clone().prop_map(Op::Rm),
        2 => (f.clone(), f.clone()).prop_map(|(a, b)| Op::Mv(a, b)),
        1 => f.clone().prop_map(Op::Missing),
        1 => f.clone().prop_map(Op::PoolAdd),
        1 => f.prop_map(Op::PoolRemove),
        2 => (0usize..4).prop_map(Op::Undo),
    ]
}

/// A query's matches: (record id, path), sorted.
type Found = Vec<(i64, PathBuf)>;

const QUERIES: &[&str] =
    &["cat", "dog | cute", "-cat", "genre:*", "animal", "tags:0", "missing", "year>2000", "pool:p"];

struct Lib {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lib: PathBuf,
    db: PathBuf,
    index: Index,
    content: BTreeMap<usize, Vec<u8>>,
    ops: Vec<i64>,
}

impl Lib {
    fn new() -> Lib {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let lib = root.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let db = root.join("index.db");
        let index = Index::open(&db, OpenMode::Create).unwrap();
        index.trade_durability_for_speed().unwrap();
        Lib { _dir: dir, root, lib, db, index, content: BTreeMap::new(), ops: Vec::new() }
    }

    fn path(&self, i: usize) -> PathBuf {
        self.lib.join(OsStr::from_bytes(NAMES[i]))
    }

    fn apply(&mut self, op: &Op) {
        let path = |i: usize| self.lib.join(OsStr::from_bytes(NAMES[i]));
        self.index.set_operation("test", &format!("{op:?}"));
        let _ = match op {
            Op::Include(f, t) => {
                let p = path(*f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                let body = self.content.entry(*f).or_insert_with(|| format!("file {f}").into_bytes()).clone();
                std::fs::write(&p, body).unwrap();
                let tags = t.map(|t| vec![TAGS[t].to_string()]).unwrap_or_default();
                let opts = IncludeOptions { tags, ..Default::default() };
                include(&mut self.index, &[p], &opts, &NoProgress).map(drop)
            }
            Op::Tag(f, t) => {
                tag_paths(&mut self.index, &[path(*f)], &[TAGS[*t].into()], false, &Source::Manual, &NoProgress)
                    .map(drop)
            }
            Op::Untag(f, t) => untag_paths(&mut self.index, &[path(*f)], &[TAGS[*t].into()], false, None).map(drop),
            Op::Merge(a, b) => tags::merge(&mut self.index, TAGS[*a], TAGS[*b]),
            Op::Imply(a, b) => tags::imply(&mut self.index, TAGS[*a], TAGS[*b]).map(drop),
            Op::Unimply(a, b) => tags::unimply(&mut self.index, TAGS[*a], TAGS[*b]).map(drop),
            Op::Alias(a, b) => tags::alias(&mut self.index, TAGS[*a], &format!("{}-alias", TAGS[*b]), None),
            Op::DeleteTag(t) => tags::delete(&mut self.index, TAGS[*t], true).map(drop),
            Op::Rm(f) => remove(&mut self.index, &[path(*f)], false).map(drop),
            Op::Mv(a, b) => {
                let (pa, pb) = (path(*a), path(*b));
                if pb.exists() {
                    return;
                }
                std::fs::create_dir_all(pb.parent().unwrap()).unwrap();
                let r = mv(&mut self.index, &[pa], &pb, false).map(drop);
                if r.is_ok()
                    && let Some(c) = self.content.remove(a)
                {
                    self.content.insert(*b, c);
                }
                r
            }
            Op::Missing(f) => {
                let _ = std::fs::remove_file(path(*f));
                check(&mut self.index, CheckOptions { full: false, repair: true }, &NoProgress).map(drop)
            }
            Op::PoolAdd(f) => {
                let _ = pools::create(&mut self.index, "p");
                pools::add(&mut self.index, "p", &[path(*f)], false).map(drop)
            }
            Op::PoolRemove(f) => pools::remove(&mut self.index, "p", &[path(*f)], false).map(drop),
            Op::Undo(back) => match self.ops.iter().rev().nth(*back) {
                Some(&o) => history::undo(&mut self.index, Some(o), false).map(drop),
                None => Ok(()),
            },
        };
        if let Some(o) = self.index.current_operation() {
            self.ops.push(o);
        }
    }

    fn found(index: &mut Index, q: &str) -> Found {
        let mut v: Vec<(i64, PathBuf)> =
            Query::new(index, q).unwrap().collect(index, None).unwrap().into_iter().map(|r| (r.id.0, r.path)).collect();
        v.sort();
        v
    }
}

proptest! {
    // PROPTEST_CASES=500 for a long run (docs/history.md).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16),
        max_shrink_iters: 100,
        ..ProptestConfig::default()
    })]

    #[test]
    fn find_at_agrees_with_replaying_the_log_and_undo_of_undo_is_identity(
        ops in proptest::collection::vec(op(), 1..24),
    ) {
        let mut l = Lib::new();
        // The state after each recorded operation, for each query, as it was then.
        let mut then: Vec<(i64, Vec<Found>)> = Vec::new();
        for o in &ops {
            let before = l.ops.len();
            l.apply(o);
            if l.ops.len() > before {
                let got = QUERIES.iter().map(|q| Lib::found(&mut l.index, q)).collect();
                then.push((*l.ops.last().unwrap(), got));
            }
        }
        for (k, (op, want)) in then.iter().enumerate() {
            // find --at: the index rewound inside a rolled-back transaction.
            for (q, w) in QUERIES.iter().zip(want) {
                let at = history::find_at(&mut l.index, At::Op(*op), q, None).unwrap();
                let mut got: Vec<(i64, PathBuf)> = at.files.into_iter().map(|r| (r.id.0, r.path)).collect();
                got.sort();
                prop_assert_eq!(&got, w, "find --at {} {:?} (step {}) after {:?}", op, q, k, &ops);
            }
            // The reference: the log played forward into a fresh index.
            let fresh = l.root.join(format!("replay{k}.db"));
            let mut r = Index::open(&fresh, OpenMode::Create).unwrap();
            r.trade_durability_for_speed().unwrap();
            let blocked = history::replay_into(&l.index, *op, &mut r).unwrap();
            prop_assert_eq!(blocked, 0);
            for (q, w) in QUERIES.iter().zip(want) {
                prop_assert_eq!(&Lib::found(&mut r, q), w, "replay up to {} {:?} after {:?}", op, q, &ops);
            }
            drop(r);
            let _ = std::fs::remove_file(&fresh);
        }
        // Undo of undo is the identity (on the whole index).
        if let Some(&last) = l.ops.last() {
            let before = snapshot(&l.db);
            l.index.set_operation("test", "undo");
            let u = history::undo(&mut l.index, Some(last), false).unwrap();
            prop_assert!(verify_postings(&l.index).unwrap().is_empty());
            l.index.set_operation("test", "undo the undo");
            history::undo(&mut l.index, u.op, false).unwrap();
            prop_assert_eq!(snapshot(&l.db), before, "after {:?}", &ops);
            prop_assert!(verify_postings(&l.index).unwrap().is_empty());
        }
        let _ = l.path(0);
    }
}
