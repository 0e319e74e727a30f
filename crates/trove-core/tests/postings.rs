//! The posting lists against the links: random sequences of include / tag / untag / merge /
//! imply / delete-tag / rm / mv / missing on a real directory and a real index; after every
//! step the stored bitmaps equal the ones built from the links (`check --full`'s comparison),
//! and random queries give the same files in the same order, and the same count, through the
//! set algebra as through plain SQL. Keyset pages read while writes happen between them never
//! skip a file that matched all along with an unchanged sort key, and never repeat a file
//! whose sort key stayed the same.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use trove_core::ops::check::{CheckOptions, check, verify_postings};
use trove_core::ops::find::Query;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::tagging::{tag_paths, untag_paths};
use trove_core::ops::{NoProgress, mv::mv, remove::remove, tags};
use trove_core::{FileRecord, Index, OpenMode, Source};

/// File names: hostile bytes included (newline, `*`, non-UTF-8, a leading `-`).
const NAMES: &[&[u8]] = &[
    b"d1/a.txt",
    b"d1/b.jpg",
    b"d1/new\nline.txt",
    b"d2/star*.flac",
    b"d2/bad\xff.txt",
    b"d2/-lead",
    b"d3/c.txt",
    b"d3/deep/e.jpg",
    b"d3/x%_y.TXT",
    b"d4/z.flac",
];
const TAGS: &[&str] = &["cat", "dog", "cute", "genre:rock", "genre:jazz", "year:2015", "year:2020", "Animal:Cat"];
/// New names for renames and aliases: into, out of and across namespaces, and `genre:` bare.
const NEW_NAMES: &[&str] = &["genre:pop", "topic:cat", "plain", "year:1999", "Genre:Rock:Live"];

#[derive(Debug, Clone)]
enum Op {
    Include(usize, Option<usize>),
    Tag(usize, usize),
    Untag(usize, usize),
    Merge(usize, usize),
    Rename(usize, usize),
    Alias(usize, usize),
    Imply(usize, usize),
    Unimply(usize, usize),
    DeleteTag(usize),
    Rm(usize),
    Mv(usize, usize),
    /// Gone from disk, then `check --repair` marks it missing.
    Missing(usize),
    /// Back on disk with the same bytes, then `check --repair` revives it.
    Revive(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let f = 0..NAMES.len();
    let t = 0..TAGS.len();
    prop_oneof![
        4 => (f.clone(), proptest::option::of(t.clone())).prop_map(|(a, b)| Op::Include(a, b)),
        5 => (f.clone(), t.clone()).prop_map(|(a, b)| Op::Tag(a, b)),
        2 => (f.clone(), t.clone()).prop_map(|(a, b)| Op::Untag(a, b)),
        1 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Merge(a, b)),
        1 => (t.clone(), 0..NEW_NAMES.len()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => (t.clone(), 0..NEW_NAMES.len()).prop_map(|(a, b)| Op::Alias(a, b)),
        2 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Imply(a, b)),
        1 => (t.clone(), t.clone()).prop_map(|(a, b)| Op::Unimply(a, b)),
        1 => t.clone().prop_map(Op::DeleteTag),
        1 => f.clone().prop_map(Op::Rm),
        2 => (f.clone(), f.clone()).prop_map(|(a, b)| Op::Mv(a, b)),
        2 => f.clone().prop_map(Op::Missing),
        1 => f.prop_map(Op::Revive),
    ]
}

/// Query texts over the same names: every term kind the set algebra handles, row terms
/// mixed in, nesting and negation, and each order.
fn query() -> impl Strategy<Value = String> {
    let term = prop_oneof![
        Just("cat".to_string()),
        Just("dog".to_string()),
        Just("cute".to_string()),
        Just("genre:*".to_string()),
        Just("year:*".to_string()),
        Just("animal:*".to_string()),
        Just("topic:*".to_string()),
        Just("*a*".to_string()),
        Just("year>2015".to_string()),
        Just("year<=2015".to_string()),
        Just("animal".to_string()),
        Just("tags:0".to_string()),
        Just("tags>1".to_string()),
        Just("missing".to_string()),
        Just("path:*d1*".to_string()),
        Just("path:*d1/*".to_string()),
        Just("path:*.txt".to_string()),
        Just("path:*x%_y*".to_string()),
        Just("path:*/-lead".to_string()),
        Just("path:*ar*.f?ac".to_string()),
        Just("ext:txt".to_string()),
        Just("size>3".to_string()),
        Just("nosuchtag".to_string()),
        Just("type:text".to_string()),
        Just("mime:text/*".to_string()),
        Just("width>10".to_string()),
    ];
    let expr = term.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(" "))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(" | "))),
            inner.prop_map(|x| format!("-{x}")),
        ]
    });
    let sort = prop_oneof![
        Just(""),
        Just(" sort:path"),
        Just(" sort:-path"),
        Just(" sort:mtime"),
        Just(" sort:-size"),
        Just(" sort:size"),
        Just(" sort:added"),
        Just(" sort:-added"),
        Just(" sort:-taken"),
        Just(" sort:width")
    ];
    let limit = prop_oneof![3 => Just(String::new()), 1 => (0u64..4).prop_map(|n| format!(" limit:{n}"))];
    (expr, sort, limit).prop_map(|(e, s, l)| format!("{e}{s}{l}"))
}

struct Lib {
    _dir: tempfile::TempDir,
    lib: PathBuf,
    index: Index,
    /// Bytes written per name, so a revived file has its old content.
    content: BTreeMap<usize, Vec<u8>>,
}

impl Lib {
    fn new() -> Lib {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let lib = root.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
        index.trade_durability_for_speed().unwrap();
        Lib { _dir: dir, lib, index, content: BTreeMap::new() }
    }

    fn path(&self, i: usize) -> PathBuf {
        self.lib.join(OsStr::from_bytes(NAMES[i]))
    }

    fn write(&mut self, i: usize) {
        let p = self.path(i);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let body = self.content.entry(i).or_insert_with(|| format!("file {i} {}", "x".repeat(i)).into_bytes()).clone();
        std::fs::write(&p, body).unwrap();
    }

    /// Applies one step; refusals (unknown tag, cycle, file not indexed…) are fine: the
    /// invariants must hold whatever happened.
    fn apply(&mut self, op: &Op) {
        let lib = self.lib.clone();
        let path = |i: usize| lib.join(OsStr::from_bytes(NAMES[i]));
        let _ = match op {
            Op::Include(f, t) => {
                self.write(*f);
                let tags = t.map(|t| vec![TAGS[t].to_string()]).unwrap_or_default();
                let opts = IncludeOptions { tags, ..Default::default() };
                include(&mut self.index, &[path(*f)], &opts, &NoProgress).map(drop)
            }
            Op::Tag(f, t) => {
                let p = path(*f);
                tag_paths(&mut self.index, &[p], &[TAGS[*t].into()], false, &Source::Manual, &NoProgress).map(drop)
            }
            Op::Untag(f, t) => {
                let p = path(*f);
                untag_paths(&mut self.index, &[p], &[TAGS[*t].into()], false, None).map(drop)
            }
            Op::Merge(a, b) => tags::merge(&mut self.index, TAGS[*a], TAGS[*b]),
            Op::Rename(a, b) => tags::rename(&mut self.index, TAGS[*a], NEW_NAMES[*b]),
            Op::Alias(a, b) => tags::alias(&mut self.index, TAGS[*a], NEW_NAMES[*b], None),
            Op::Imply(a, b) => tags::imply(&mut self.index, TAGS[*a], TAGS[*b]).map(drop),
            Op::Unimply(a, b) => tags::unimply(&mut self.index, TAGS[*a], TAGS[*b]).map(drop),
            Op::DeleteTag(t) => tags::delete(&mut self.index, TAGS[*t], true).map(drop),
            Op::Rm(f) => {
                let p = path(*f);
                remove(&mut self.index, &[p], false).map(drop)
            }
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
            Op::Revive(f) => {
                if !self.content.contains_key(f) || path(*f).exists() {
                    return;
                }
                self.write(*f);
                check(&mut self.index, CheckOptions { full: false, repair: true }, &NoProgress).map(drop)
            }
        };
    }

    fn consistent(&self, after: &Op) {
        let problems = verify_postings(&self.index).unwrap();
        assert!(problems.is_empty(), "after {after:?}: {problems:?}");
    }

    fn both(&self, text: &str) -> (Vec<FileRecord>, Vec<FileRecord>, u64, u64) {
        let q = Query::at(&self.index, text, 1_700_000_000).unwrap();
        assert!(q.uses_posting_lists(&self.index).unwrap(), "{text}: posting lists not in use");
        let sets = q.collect(&self.index, None).unwrap();
        let sets_n = q.count(&self.index).unwrap();
        let plain = Query::at(&self.index, text, 1_700_000_000).unwrap().plain_sql();
        let sql = plain.collect(&self.index, None).unwrap();
        let sql_n = plain.count(&self.index).unwrap();
        (sets, sql, sets_n, sql_n)
    }
}

fn paths(v: &[FileRecord]) -> Vec<&Path> {
    v.iter().map(|r| r.path.as_path()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn set_algebra_matches_plain_sql_after_random_writes(
        ops in proptest::collection::vec(op(), 1..30),
        queries in proptest::collection::vec(query(), 12),
    ) {
        let mut l = Lib::new();
        for (i, o) in ops.iter().enumerate() {
            l.apply(o);
            l.consistent(o);
            // A query now and then in the middle of the sequence, all of them at the end.
            let now: &[String] = if i + 1 == ops.len() { &queries } else { &queries[i % queries.len()..][..1] };
            for text in now {
                let (sets, sql, sets_n, sql_n) = l.both(text);
                prop_assert_eq!(sets_n, sql_n, "count of {:?} after {:?}", text, &ops[..=i]);
                prop_assert_eq!(paths(&sets), paths(&sql), "{:?} after {:?}", text, &ops[..=i]);
            }
        }
    }

    #[test]
    fn keyset_pages_neither_skip_nor_repeat_while_writes_happen(
        setup in proptest::collection::vec(op(), 5..25),
        between in proptest::collection::vec(op(), 8),
        text in query(),
        page in 1u64..4,
    ) {
        let mut l = Lib::new();
        for i in 0..NAMES.len() {
            l.apply(&Op::Include(i, Some(i % TAGS.len())));
        }
        for o in &setup {
            l.apply(o);
        }
        // Metadata orders continue by offset (no stable key): nothing to hold them to here.
        prop_assume!(!text.contains("sort:-taken") && !text.contains("sort:width"));
        // Strip any limit: keyset pages ignore it.
        let text = text.split(" limit:").next().unwrap().to_string();
        let key = |r: &FileRecord| -> (i64, PathBuf) {
            if text.contains("sort:mtime") {
                (r.stat.mtime_ns, r.path.clone())
            } else if text.contains("sort:size") || text.contains("sort:-size") {
                (r.stat.size as i64, r.path.clone())
            } else {
                (0, r.path.clone())
            }
        };
        // Files that match in every state with the same sort key (`stable`), and every key
        // each file had while matching (`keys`).
        type State = (Option<BTreeMap<i64, (i64, PathBuf)>>, BTreeMap<i64, BTreeSet<(i64, PathBuf)>>);
        let note_state = |l: &Lib, st: &mut State| {
            let q = Query::at(&l.index, &text, 1_700_000_000).unwrap().plain_sql();
            let now: BTreeMap<i64, (i64, PathBuf)> =
                q.collect(&l.index, None).unwrap().iter().map(|r| (r.id.0, key(r))).collect();
            for (id, k) in &now {
                st.1.entry(*id).or_default().insert(k.clone());
            }
            st.0 = Some(match st.0.take() {
                None => now,
                Some(s) => s.into_iter().filter(|(id, k)| now.get(id) == Some(k)).collect(),
            });
        };
        let mut stable: State = (None, BTreeMap::new());
        note_state(&l, &mut stable);
        let q = Query::at(&l.index, &text, 1_700_000_000).unwrap();
        let mut seen: Vec<i64> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut writes = between.iter();
        loop {
            prop_assert!(q.uses_posting_lists(&l.index).unwrap());
            let p = q.page(&l.index, cursor.as_deref(), page).unwrap();
            seen.extend(p.files.iter().map(|r| r.id.0));
            let Some(next) = p.next else { break };
            cursor = Some(next);
            if let Some(o) = writes.next() {
                l.apply(o);
                l.consistent(o);
                note_state(&l, &mut stable);
            }
        }
        // A file whose sort key changed between pages may come round again in its new place;
        // no other file may.
        let mut once = BTreeSet::new();
        for id in &seen {
            let moved = stable.1.get(id).is_some_and(|k| k.len() > 1);
            prop_assert!(once.insert(*id) || moved, "{:?} repeated file {}: {:?}", &text, id, &seen);
        }
        for id in stable.0.unwrap().keys() {
            prop_assert!(once.contains(id), "{:?} skipped file {} that matched throughout: {:?}", &text, id, &seen);
        }
    }
}

/// A file name of hostile bytes: `%`, `_`, `*`, `?`, `[`, a newline, `\xff`, a two-byte
/// character, a leading `-` after the `f`.
fn hostile_name() -> impl Strategy<Value = Vec<u8>> {
    let piece = proptest::sample::select(vec![
        &b"a"[..],
        b"b",
        b"ab",
        b"abc",
        b"%",
        b"_",
        b"*",
        b"?",
        b"[",
        b"\n",
        b"\xff",
        "\u{e9}".as_bytes(),
        b"-",
        b".",
    ]);
    proptest::collection::vec(piece, 1..7).prop_map(|v| [&b"f"[..], &v.concat()].concat())
}

/// A glob over the same bytes (as query text, so UTF-8), most with a literal run of 3
/// bytes or more.
fn hostile_glob() -> impl Strategy<Value = String> {
    let piece = proptest::sample::select(vec![
        "*", "*", "?", "a", "b", "ab", "abc", "bab", "fa", "%", "_", "\u{e9}", "-", ".", "/", "p/", "q/ab/", "[ab]",
        "[!a]", "\\*", "\\?", "[", "fab",
    ]);
    proptest::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

/// Each glob through the trigram index gives the files a scan of every path gives, in order.
fn globs_agree(index: &Index, globs: &[String], after: &str) {
    for g in globs {
        let text = trove_core::query::Expr::Pred(trove_core::query::Predicate::Path(g.clone())).to_string();
        let q = Query::at(index, &text, 1_700_000_000).unwrap();
        assert!(q.uses_posting_lists(index).unwrap());
        let sets = q.collect(index, None).unwrap();
        let plain = Query::at(index, &text, 1_700_000_000).unwrap().plain_sql();
        let sql = plain.collect(index, None).unwrap();
        assert_eq!(paths(&sets), paths(&sql), "{text} {after}");
        assert_eq!(q.count(index).unwrap(), sql.len() as u64, "count of {text} {after}");
        let neg = format!("-{text}");
        let q = Query::at(index, &neg, 1_700_000_000).unwrap();
        let plain = Query::at(index, &neg, 1_700_000_000).unwrap().plain_sql();
        assert_eq!(
            paths(&q.collect(index, None).unwrap()),
            paths(&plain.collect(index, None).unwrap()),
            "{neg} {after}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 300, ..ProptestConfig::default() })]

    /// `path:` globs answered through the trigram index equal a plain scan of the paths,
    /// for random hostile names and random globs, before and after renames (into another
    /// directory and to new hostile names) and removals; the stored trigram sets equal the
    /// ones built from the paths after every step.
    #[test]
    fn path_globs_through_the_trigram_index_match_a_scan_across_renames(
        names in proptest::collection::vec(hostile_name(), 1..10),
        moves in proptest::collection::vec((any::<proptest::sample::Index>(), hostile_name(), any::<bool>()), 0..6),
        globs in proptest::collection::vec(hostile_glob(), 10),
    ) {
        let mut l = Lib::new();
        let dirs = [l.lib.join("p"), l.lib.join("q/ab")];
        let mut files: Vec<PathBuf> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let p = dirs[i % 2].join(OsStr::from_bytes(n));
            if files.contains(&p) {
                continue;
            }
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("content {i}")).unwrap();
            files.push(p);
        }
        include(&mut l.index, &files, &IncludeOptions::default(), &NoProgress).unwrap();
        prop_assert!(verify_postings(&l.index).unwrap().is_empty());
        globs_agree(&l.index, &globs, "after include");
        for (k, (which, new, rm)) in moves.iter().enumerate() {
            if files.is_empty() {
                break;
            }
            let at = which.index(files.len());
            if *rm && k % 2 == 1 {
                let p = files.remove(at);
                remove(&mut l.index, &[p], false).unwrap();
            } else {
                let to = dirs[(k + 1) % 2].join(OsStr::from_bytes(new));
                if to.exists() {
                    continue;
                }
                mv(&mut l.index, std::slice::from_ref(&files[at]), &to, false).unwrap();
                files[at] = to;
            }
            let problems = verify_postings(&l.index).unwrap();
            prop_assert!(problems.is_empty(), "{:?}", problems);
            globs_agree(&l.index, &globs, &format!("after {} changes", k + 1));
        }
    }
}

#[test]
fn a_path_glob_reads_its_candidates_from_the_trigram_index() {
    let mut l = Lib::new();
    for i in 0..NAMES.len() {
        l.apply(&Op::Include(i, None));
    }
    let q = Query::at(&l.index, "path:*d3/*e*", 1_700_000_000).unwrap();
    assert!(q.steps().contains("trigram sets"), "{}", q.steps());
    let got: Vec<PathBuf> = q.collect(&l.index, None).unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(got, vec![l.path(7)], "d3/deep/e.jpg");
    // Two bytes of literal: no trigram, a scan.
    let q = Query::at(&l.index, "path:*d1*", 1_700_000_000).unwrap();
    assert!(!q.steps().contains("trigram"), "{}", q.steps());
    assert_eq!(q.count(&l.index).unwrap(), 3);
}

/// An index made before version 15 gets its trigram index built when it is opened, and
/// answers globs through it from then on.
#[test]
fn upgrading_a_version_14_index_builds_its_trigram_index() {
    let mut l = Lib::new();
    for i in 0..NAMES.len() {
        l.apply(&Op::Include(i, Some(i % TAGS.len())));
    }
    let path = l.index.path().to_path_buf();
    drop(l.index);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "DROP TRIGGER trigrams_insert; DROP TRIGGER trigrams_delete; DROP TRIGGER trigrams_update;
         DROP TABLE trigrams; DROP TABLE trigrams_dirty; DROP TABLE dupe_potentials; PRAGMA user_version = 14;",
    )
    .unwrap();
    drop(db);
    l.index = Index::open(&path, OpenMode::Create).unwrap();
    assert_eq!(l.index.schema_version().unwrap(), trove_core::SCHEMA_VERSION);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let sets: i64 = raw.query_row("SELECT count(*) FROM trigrams", [], |r| r.get(0)).unwrap();
    assert!(sets > 20, "built from the paths: {sets} sets");
    assert!(verify_postings(&l.index).unwrap().is_empty());
    globs_agree(
        &l.index,
        &["*d3/*e*".into(), "*bad*".into(), "*x%_y*".into(), "*ar\\*.fl*".into()],
        "after the upgrade",
    );
    let q = Query::at(&l.index, "path:*bad*", 1_700_000_000).unwrap();
    assert_eq!(q.collect(&l.index, None).unwrap().len(), 1, "d2/bad\\xff.txt");
}

/// `check --full` finds a trigram set that disagrees with the paths, and `--repair` puts
/// it right.
#[test]
fn check_finds_and_repairs_a_damaged_trigram_set() {
    let mut l = Lib::new();
    for i in 0..NAMES.len() {
        l.apply(&Op::Include(i, None));
    }
    let path = l.index.path().to_path_buf();
    let raw = rusqlite::Connection::open(&path).unwrap();
    // "d3/" loses its files.
    let tri = i64::from(b'd') << 16 | i64::from(b'3') << 8 | i64::from(b'/');
    assert_eq!(raw.execute("DELETE FROM trigrams WHERE tri = ?1", [tri]).unwrap(), 1);
    drop(raw);
    let r = check(&mut l.index, CheckOptions { full: true, repair: false }, &NoProgress).unwrap();
    assert!(r.postings.iter().any(|p| p.contains("trigram index of \"d3/\"")), "{:?}", r.postings);
    let r = check(&mut l.index, CheckOptions { full: true, repair: true }, &NoProgress).unwrap();
    assert!(r.postings_rebuilt);
    assert!(verify_postings(&l.index).unwrap().is_empty());
    assert_eq!(Query::at(&l.index, "path:*d3/*", 1_700_000_000).unwrap().count(&l.index).unwrap(), 3);
}
