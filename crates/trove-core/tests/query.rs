//! Query results on real indexes: the regressions of issue 19 (each reproduced on a 2–4 file
//! library), the size limits of issue 7, and for every predicate of the grammar a check that
//! `P` and `-P` split the present files in two.
//!
//! The random differential test against the reference model is in `query_contract.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use trove_core::ops::find::Query;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::reconcile::{ReconcileOptions, reconcile};
use trove_core::ops::tagging::tag_paths;
use trove_core::ops::{NoProgress, pools, tags};
use trove_core::query::{MAX_DEPTH, MAX_PATTERN_BYTES, MAX_TERMS};
use trove_core::{Error, Index, OpenMode, Source};

/// A small library on disk: files under `root/lib`, an index beside them.
struct Lib {
    _dir: tempfile::TempDir,
    lib: PathBuf,
    index: Index,
}

impl Lib {
    fn new() -> Lib {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let lib = root.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
        // Durability is not under test here; speed is welcome.
        index.trade_durability_for_speed().unwrap();
        Lib { _dir: dir, lib, index }
    }

    /// Writes `rel` with `size` bytes (distinct content per file) and modification time
    /// `mtime_ns` nanoseconds after the epoch, then includes it.
    fn file(&mut self, rel: &str, size: usize, mtime_ns: u64) -> &mut Self {
        let p = self.lib.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut body = format!("{rel}\n").into_bytes();
        body.resize(size, b'.');
        std::fs::write(&p, &body).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_nanos(mtime_ns)).unwrap();
        drop(f);
        let opts = IncludeOptions::default();
        include(&mut self.index, &[p], &opts, &NoProgress).unwrap();
        self
    }

    fn tag(&mut self, rel: &str, names: &[&str]) -> &mut Self {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        tag_paths(&mut self.index, &[self.lib.join(rel)], &names, false, &Source::Manual, &NoProgress).unwrap();
        self
    }

    /// Deletes `rel` from disk and lets reconcile mark its record missing.
    fn lose(&mut self, rel: &str) -> &mut Self {
        std::fs::remove_file(self.lib.join(rel)).unwrap();
        trove_core::ops::reconcile::add_root(&mut self.index, &self.lib).unwrap();
        let opts = ReconcileOptions { dry_run: false, scope: vec![self.lib.clone()] };
        reconcile(&mut self.index, &opts, &NoProgress).unwrap();
        self
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.lib).unwrap().to_string_lossy().into_owned()
    }

    /// The matches in result order, relative to the library.
    fn find(&self, q: &str) -> Vec<String> {
        let query = Query::new(&self.index, q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let v: Vec<String> = query.collect(&self.index, None).unwrap().iter().map(|r| self.rel(&r.path)).collect();
        let n = query.count(&self.index).unwrap_or_else(|e| panic!("{q}: --count: {e}"));
        assert_eq!(n, v.len() as u64, "{q}: --count disagrees with the listing {v:?}");
        v
    }

    fn set(&self, q: &str) -> BTreeSet<String> {
        self.find(q).into_iter().collect()
    }
}

fn day(y: i64, m: u32, d: u32) -> u64 {
    let days = trove_core::query::parse_date(&format!("{y:04}-{m:02}-{d:02}")).unwrap();
    days as u64 * 1_000_000_000
}

const HOUR: u64 = 3_600_000_000_000;

// ---- issue 19: the six bugs ----

#[test]
fn regression_not_ext_keeps_files_without_an_extension() {
    let mut l = Lib::new();
    l.file("a.txt", 10, day(2020, 1, 1)).file("b.jpg", 10, day(2020, 1, 1)).file("README", 10, day(2020, 1, 1));
    assert_eq!(l.find("-ext:txt"), ["README", "b.jpg"]);
    assert_eq!(l.find("not ext:txt"), ["README", "b.jpg"]);
    assert_eq!(l.find("-(ext:txt | ext:jpg)"), ["README"]);
}

#[test]
fn regression_quoted_star_next_to_a_bare_star_stays_literal() {
    let mut l = Lib::new();
    l.file("1", 10, 0).file("2", 10, 0).file("3", 10, 0).file("4", 10, 0);
    l.tag("1", &["top*"]).tag("2", &["top"]).tag("3", &["topaz"]).tag("4", &["top*x"]);
    assert_eq!(l.find(r#""top*"*"#), ["1", "4"]);
    assert_eq!(l.find(r#""top*""#), ["1"]);
    assert_eq!(l.find(r#"*"p*""#), ["1"]);
    assert_eq!(l.find("top*"), ["1", "2", "3", "4"]);
    // The other GLOB characters in a name are literal too.
    l.tag("2", &["a?c", "[x]"]).tag("3", &["abc", "x"]);
    assert_eq!(l.find("a?c*"), ["2"]);
    assert_eq!(l.find("*[x]"), ["2"]);
}

#[test]
fn regression_spaces_at_the_edge_of_a_quoted_wildcard_piece_are_kept() {
    let mut l = Lib::new();
    l.file("1", 10, 0).file("2", 10, 0);
    l.tag("1", &["black and white"]).tag("2", &["landscape"]);
    assert_eq!(l.find(r#"*" and "*"#), ["1"]);
    assert_eq!(l.find(r#""black "*"#), ["1"]);
    // The ends of the whole pattern are trimmed, as stored names are.
    assert_eq!(l.find(r#"" black"*"#), ["1"]);
    assert_eq!(l.find(r#"*"scape ""#), ["2"]);
}

#[test]
fn regression_mtime_after_a_date_excludes_that_day() {
    let mut l = Lib::new();
    let noon = day(2020, 1, 1) + 12 * HOUR;
    l.file("before", 1, day(2019, 12, 31) + 23 * HOUR)
        .file("start", 1, day(2020, 1, 1))
        .file("noon", 1, noon)
        .file("noon.5", 1, noon + 500_000_000)
        .file("minute", 1, noon + 60_000_000_000)
        .file("next", 1, day(2020, 1, 2));
    // A bare date is the whole UTC day.
    assert_eq!(l.set("mtime:2020-01-01"), ["noon", "noon.5", "minute", "start"].map(String::from).into());
    assert_eq!(l.find("mtime>2020-01-01"), ["next"]);
    assert_eq!(l.find("mtime>=2020-01-01").len(), 5);
    assert_eq!(l.find("mtime<2020-01-01"), ["before"]);
    assert_eq!(l.find("mtime<=2020-01-01").len(), 5);
    // HH:MM is that minute, HH:MM:SS that second.
    assert_eq!(l.find("mtime>2020-01-01T12:00"), ["minute", "next"]);
    assert_eq!(l.find("mtime:2020-01-01T12:00"), ["noon", "noon.5"]);
    assert_eq!(l.find("mtime>2020-01-01T12:00:00"), ["minute", "next"]);
    assert_eq!(l.find("mtime>=2020-01-01T12:00:01"), ["minute", "next"]);
    assert_eq!(l.find("mtime<2020-01-01T12:00:00"), ["before", "start"]);
    assert_eq!(l.find(r#"mtime<="2020-01-01 12:00""#), ["before", "noon", "noon.5", "start"]);
    for q in ["2020-01-01", "2020-01-01T12:00", "2020-01-01T12:00:00"] {
        let all: BTreeSet<String> = l.set("");
        for (a, b) in [(">", "<="), ("<", ">=")] {
            let (x, y) = (l.set(&format!("mtime{a}{q}")), l.set(&format!("mtime{b}{q}")));
            assert!(x.is_disjoint(&y), "mtime{a}{q} and mtime{b}{q} overlap");
            assert_eq!(&x | &y, all, "mtime{a}{q} and mtime{b}{q} miss files");
        }
    }
}

#[test]
fn regression_nan_and_infinity_compare_as_text() {
    let mut l = Lib::new();
    l.file("1", 1, 0).file("2", 1, 0).file("3", 1, 0).file("4", 1, 0);
    l.tag("1", &["artist:nancy"]).tag("2", &["artist:infinity"]).tag("3", &["artist:abba"]).tag("4", &["n:1e5"]);
    assert_eq!(l.find("artist>=Nan"), ["1"]);
    assert_eq!(l.find("artist<=Infinity"), ["2", "3"]);
    assert_eq!(l.find("artist>inf"), ["1", "2"]);
    // 1e5 is text too, as a value and as an operand: "1e5" sorts after "1" and before "2".
    l.tag("3", &["n:2"]).tag("2", &["n:100"]);
    assert_eq!(l.find("n>10"), ["2"]);
    assert_eq!(l.find("n>1"), ["2", "3"]);
    assert_eq!(l.find("n>1e4"), ["3", "4"]);
    assert_eq!(l.find("n<1e6"), ["2", "4"]);
}

#[test]
fn regression_count_answers_where_find_does() {
    let mut l = Lib::new();
    l.file("a.txt", 1, 0).file("b.txt", 2, 0).file("c.txt", 1, 0).lose("c.txt");
    l.tag("a.txt", &["cute"]);
    // `find` checks --count against the listing.
    assert_eq!(l.find("(size:1|missing) size:1 (cute|missing)"), ["a.txt", "c.txt"]);
    assert_eq!(l.find("(path:*a*|missing) size:1 (cute|missing)"), ["a.txt", "c.txt"]);
    assert_eq!(l.find("(size:1|missing) size:1 (cute|missing) limit:1").len(), 1);
}

/// Version 1 stored `1e5` and `+5` as numbers; migration 2 turns them back into text.
#[test]
fn migration_2_makes_non_decimal_values_text() {
    let mut l = Lib::new();
    l.file("1", 1, 0).tag("1", &["n:1e5", "n:+5", "n:.5", "n:5.", "n:-5", "n:2.50", "n:x"]);
    let path = l.index.path().to_path_buf();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "UPDATE tag_names SET num = CAST(val AS REAL) WHERE ns = 'n' AND val <> 'x';
         DROP TRIGGER history_decision_insert; DROP TRIGGER history_decision_delete; DROP TRIGGER history_decision_update;
         DROP TRIGGER trigrams_insert; DROP TRIGGER trigrams_delete; DROP TRIGGER trigrams_update;
         DROP TABLE trigrams; DROP TABLE trigrams_dirty; DROP TABLE dupe_potentials;
         DROP TABLE op_changes; DROP TABLE ops; DROP TABLE op_recording; DROP TABLE op_history; DROP TABLE row_ids;
         DROP TRIGGER tags_never_reuse_ids; DROP TRIGGER pools_never_reuse_ids;
         DROP TRIGGER history_link_insert; DROP TRIGGER history_link_delete; DROP TRIGGER history_link_update; DROP TRIGGER history_name_insert; DROP TRIGGER history_name_delete; DROP TRIGGER history_name_update; DROP TRIGGER history_tag_insert; DROP TRIGGER history_tag_delete; DROP TRIGGER history_implication_insert; DROP TRIGGER history_implication_delete; DROP TRIGGER history_pool_insert; DROP TRIGGER history_pool_delete; DROP TRIGGER history_pool_update; DROP TRIGGER history_member_insert; DROP TRIGGER history_member_delete; DROP TRIGGER history_member_update; DROP TRIGGER history_file_insert; DROP TRIGGER history_file_delete; DROP TRIGGER history_file_move; DROP TRIGGER history_source_insert;
         ALTER TABLE roots DROP COLUMN auto_include; DROP TABLE ignore_patterns; DROP TABLE api_keys;
         DROP TRIGGER postings_link_insert; DROP TRIGGER postings_link_delete; DROP TRIGGER postings_link_update;
         DROP TRIGGER postings_file_insert; DROP TRIGGER postings_file_delete; DROP TRIGGER postings_file_state;
         DROP TRIGGER postings_ns_name_insert; DROP TRIGGER postings_ns_name_delete; DROP TRIGGER postings_ns_name_update;
         DROP TABLE postings_ns; DROP INDEX files_added;
         DROP TABLE postings; DROP TABLE postings_dirty;
         DROP TABLE phash_bands; DROP TABLE phash_pairs;
         DROP TABLE meta_fields; DROP TABLE file_meta; DROP TABLE dupe_decisions; DROP TABLE perceptual;
         DROP TRIGGER files_never_reuse_ids; DROP TABLE file_ids; DROP INDEX files_sha256;
         ALTER TABLE files DROP COLUMN sha256;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(c);
    drop(l.index);
    let index = Index::open(&path, OpenMode::Existing).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mut st = raw.prepare("SELECT val, num FROM tag_names WHERE ns = 'n' ORDER BY val").unwrap();
    let rows: Vec<(String, Option<f64>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    let expect =
        [("+5", None), ("-5", Some(-5.0)), (".5", None), ("1e5", None), ("2.50", Some(2.5)), ("5.", None), ("x", None)];
    let expect: Vec<(String, Option<f64>)> = expect.iter().map(|(v, n)| (v.to_string(), *n)).collect();
    assert_eq!(rows, expect);
    assert_eq!(index.schema_version().unwrap(), trove_core::SCHEMA_VERSION);
}

/// `sort:pool` binds a parameter in ORDER BY, which the count statement does not have:
/// "Wrong number of parameters passed to query. Got 2, needed 1".
#[test]
fn regression_count_with_sort_pool() {
    let mut l = Lib::new();
    l.file("a", 1, 0).file("b", 1, 0).file("c", 1, 0);
    pools::create(&mut l.index, "P").unwrap();
    pools::add(&mut l.index, "P", &[l.lib.join("c"), l.lib.join("a")], false).unwrap();
    assert_eq!(l.find("pool:P sort:pool"), ["c", "a"]);
    assert_eq!(l.find("pool:p sort:-pool"), ["a", "c"]);
    assert_eq!(l.find("pool:P -b sort:pool limit:1"), ["c"]);
}

// ---- issue 7: query size ----

fn query_error(l: &Lib, q: &str) -> trove_core::query::ParseError {
    match Query::new(&l.index, q) {
        Err(Error::Query(e)) => e,
        Err(e) => panic!("{}: not a query error: {e}", &q[..q.len().min(60)]),
        Ok(_) => panic!("{}: accepted", &q[..q.len().min(60)]),
    }
}

#[test]
fn deep_parentheses_are_a_query_error_at_the_first_level_too_deep() {
    let l = Lib::new();
    for n in [MAX_DEPTH + 1, 1_000, 9_000, 100_000] {
        let q = format!("{}a{}", "(".repeat(n), ")".repeat(n));
        let e = query_error(&l, &q);
        assert_eq!(e.position, MAX_DEPTH, "{n} levels");
        assert_eq!(e.message, format!("query nests deeper than {MAX_DEPTH} levels"));
    }
    let q = format!("x {}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    Query::new(&l.index, &q).unwrap().collect(&l.index, None).unwrap();
}

#[test]
fn deep_negations_are_a_query_error_at_the_first_level_too_deep() {
    let l = Lib::new();
    for (unit, n) in [("-", 30_000), ("not ", 30_000), ("-(", 5_000), ("- ", 10)] {
        let q = format!("{}a", unit.repeat(n));
        if unit == "- " {
            // `- a` is not a negation
            assert!(
                matches!(Query::new(&l.index, &q), Err(Error::Query(p)) if p.position == 0 && p.message.contains("after '-'")),
                "{q}"
            );
            continue;
        }
        let e = query_error(&l, &q);
        let per_level = if unit == "-(" { 1 } else { unit.len() };
        assert_eq!(e.position, MAX_DEPTH * per_level, "{unit:?} x {n}");
        assert!(e.message.contains("nests deeper"), "{}", e.message);
    }
    // At the limit, every mix of negations and parentheses runs (and so does `tag --query`,
    // which goes through the same parser and compiler).
    for unit in ["-", "not ", "-("] {
        let levels = if unit == "-(" { MAX_DEPTH / 2 } else { MAX_DEPTH };
        let close = if unit == "-(" { ")".repeat(levels) } else { String::new() };
        let q = format!("{}a{close}", unit.repeat(levels));
        let query = Query::new(&l.index, &q).unwrap_or_else(|e| panic!("{unit:?}: {e}"));
        query.collect(&l.index, None).unwrap();
        query.count(&l.index).unwrap();
    }
}

#[test]
fn long_and_or_chains_run_inside_sqlite_limits() {
    let mut l = Lib::new();
    l.file("a", 1, 0).tag("a", &["t0", "t1"]);
    // 998 terms used to hit "Expression tree is too large (maximum depth 1000)".
    for n in [998, MAX_TERMS] {
        let and: Vec<String> = (0..n).map(|i| format!("-t{i}x")).collect();
        assert_eq!(l.find(&and.join(" ")), ["a"], "{n}-term AND");
        let or: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        assert_eq!(l.find(&or.join(" | ")), ["a"], "{n}-term OR");
        let mixed: Vec<String> = (0..n / 3).map(|i| format!("(t{i} | path:*/nothing{i} -size:{i})")).collect();
        assert_eq!(l.find(&mixed.join(" ")), Vec::<String>::new(), "{n}-term mix");
    }
    let too_many: Vec<String> = (0..=MAX_TERMS).map(|i| format!("t{i}")).collect();
    let q = too_many.join(" ");
    let e = query_error(&l, &q);
    assert_eq!(e.message, format!("query holds more than {MAX_TERMS} terms"));
    assert_eq!(e.position, q.rfind(' ').unwrap() + 1);
}

#[test]
fn huge_words_run_or_are_refused_with_their_limit() {
    let mut l = Lib::new();
    let big = "x".repeat(100_000);
    l.file("a", 1, 0).tag("a", &[&format!("{big}0")]);
    // Ten 100 KB tag names, paths, pools, comparisons: bound parameters, no limit.
    let or: Vec<String> = (0..10).map(|i| format!("{big}{i}")).collect();
    assert_eq!(l.find(&or.join(" | ")), ["a"]);
    let or: Vec<String> = (0..10).map(|i| format!("path:*{big}{i} | pool:{big} | ns>{big} | ext:{big}")).collect();
    assert!(l.find(&or.join(" | ")).is_empty());
    // A wildcard pattern goes to GLOB, which has a limit of its own.
    let q = format!("a | {big}*");
    let e = query_error(&l, &q);
    assert_eq!(
        (e.position, e.message.as_str()),
        (4, &*format!("a wildcard pattern longer than {MAX_PATTERN_BYTES} bytes"))
    );
    let longest = format!("{}*", "x".repeat(MAX_PATTERN_BYTES - 1));
    assert_eq!(l.find(&longest), ["a"]);
    // Every character of the longest pattern escaped (`[*]` etc.) still fits GLOB's limit.
    let worst = format!("\"{}\"*", "*?[".repeat((MAX_PATTERN_BYTES - 1) / 3));
    assert!(l.find(&worst).is_empty());
}

// ---- P and -P split the present files, for every predicate ----

/// A library with the cases a predicate can stumble on: no extension, a hidden file, an
/// upper-case extension, an empty file, a day boundary, untagged files, aliases, an
/// implication chain, numeric and text values, a pool, a missing file (which no answer
/// about present files may include).
fn awkward_library() -> Lib {
    let mut l = Lib::new();
    let d = day(2021, 6, 1);
    l.file("README", 0, d)
        .file(".hidden", 3, d - 1)
        .file("UP.TXT", 3, d + 12 * HOUR)
        .file("a.txt", 1024, d + 24 * HOUR)
        .file("dir/b.jpg", 2048, day(2019, 1, 1))
        .file("dir/-lead*[x]?.flac", 10 << 20, day(2024, 2, 29))
        .file("dir/é t.txt", 7, d + 60_000_000_000)
        .file("gone.txt", 5, d);
    l.tag("a.txt", &["cat", "year:2015", "rating:4"])
        .tag("dir/b.jpg", &["animal:cat", "year:unknown", "date:2019-05-01"])
        .tag("UP.TXT", &["year:2019", "x*y"])
        .tag("gone.txt", &["cat", "year:2000"]);
    tags::alias(&mut l.index, "cat", "chat", None).unwrap();
    tags::imply(&mut l.index, "animal:cat", "animal").unwrap();
    tags::imply(&mut l.index, "animal", "living").unwrap();
    pools::create(&mut l.index, "Summer 2019").unwrap();
    pools::add(&mut l.index, "summer 2019", &[l.lib.join("README"), l.lib.join("a.txt")], false).unwrap();
    l.lose("gone.txt");
    l
}

fn assert_partition(l: &Lib, p: &str) {
    let present = l.set("");
    assert_eq!(present.len(), 7);
    let yes = l.set(p);
    for neg in [format!("-{p}"), format!("not {p}"), format!("-({p})")] {
        let no = l.set(&neg);
        assert!(yes.is_disjoint(&no), "{p} and {neg} overlap: {:?}", &yes & &no);
        assert_eq!(&yes | &no, present, "{p} and {neg} miss {:?}", &present - &(&yes | &no));
    }
}

macro_rules! partition_tests {
    ($($name:ident: [$($q:expr),* $(,)?];)*) => {$(
        #[test]
        fn $name() {
            let l = awkward_library();
            for q in [$($q),*] {
                assert_partition(&l, q);
            }
        }
    )*};
}

partition_tests! {
    partition_tag: ["cat", "chat", "animal", "living", "nothing", "year:2015"];
    partition_wildcard: ["*cat*", "year:*", "ch*", "\"x*\"*", "zz*"];
    partition_comparison: ["year>2000", "year<=2015", "year>=unknown", "date<2020-01-01", "rating>3.5", "none>1"];
    partition_path: ["path:*.txt", "path:dir/*", "path:*/?.txt", "path:*[é]*", "path:/nowhere/*", "path:*\\**"];
    partition_ext: ["ext:txt", "ext:TXT", "ext:jpg", "ext:flac", "ext:none"];
    partition_size: ["size>1k", "size:0", "size<=1k", "size>=10M", "size<3"];
    partition_mtime_date: ["mtime>2021-06-01", "mtime:2021-06-01", "mtime<2021-06-01", "mtime>=2021-06-01T12:00", "mtime<=2021-06-01T00:01:00"];
    partition_mtime_age: ["mtime<30d", "mtime>1y", "mtime:1000w", "mtime>=100000d"];
    partition_tag_count: ["tags:0", "tags>1", "tags<3", "tags>=3", "tags:2"];
    partition_hash: ["hash:00000000", "hash:ffffffffff"];
    partition_pool: ["pool:\"summer 2019\"", "pool:nope"];
}

#[test]
fn partition_hash_of_a_present_file() {
    let l = awkward_library();
    let rec = Query::new(&l.index, "ext:jpg").unwrap().collect(&l.index, None).unwrap();
    let hex = rec[0].hash.to_hex();
    assert_partition(&l, &format!("hash:{}", &hex[..8]));
    assert_eq!(l.find(&format!("hash:{}", &hex[..8])), ["dir/b.jpg"]);
}

/// `missing` is the one predicate that widens the universe: a query that mentions it sees
/// every record, so `missing` and `-missing` split all of them.
#[test]
fn partition_missing_splits_every_record() {
    let l = awkward_library();
    assert_eq!(l.find("missing"), ["gone.txt"]);
    assert_eq!(l.set("-missing"), l.set(""));
    assert_eq!(l.find("cat | missing"), ["a.txt", "gone.txt"]);
    assert_eq!(l.find("cat -missing"), ["a.txt"]);
}

// ---- decisions of issue 19, as documented in the README ----

#[test]
fn numeric_comparisons_ignore_non_numeric_values() {
    let mut l = Lib::new();
    l.file("1", 1, 0).file("2", 1, 0).file("3", 1, 0);
    l.tag("1", &["year:2010", "date:2019-05-01"]).tag("2", &["year:unknown", "date:2020"]).tag("3", &["year:1e5"]);
    assert_eq!(l.find("year>2005"), ["1"]);
    assert_eq!(l.find("year<99999"), ["1"]);
    assert_eq!(l.find("date>=2019"), ["2"]);
    // A text operand compares with every value as text.
    assert_eq!(l.find("date>=2019-01-01"), ["1", "2"]);
    assert_eq!(l.find("year>a"), ["2"]);
}

#[test]
fn tag_count_counts_direct_tags_once_each() {
    let mut l = Lib::new();
    l.file("1", 1, 0).file("2", 1, 0);
    l.tag("1", &["animal:cat"]).tag("2", &["animal:cat", "animal"]);
    tags::imply(&mut l.index, "animal:cat", "animal").unwrap();
    tag_paths(
        &mut l.index,
        &[l.lib.join("1")],
        &["animal:cat".into()],
        false,
        &Source::Import("x".into()),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(l.find("tags:1"), ["1"]);
    assert_eq!(l.find("tags:2"), ["2"]);
    assert_eq!(l.find("animal"), ["1", "2"]);
}

#[test]
fn comparisons_and_wildcards_see_aliases_and_implied_tags() {
    let mut l = Lib::new();
    l.file("1", 1, 0).file("2", 1, 0).file("3", 1, 0);
    l.tag("1", &["y2015"]).tag("2", &["photo"]).tag("3", &["other"]);
    tags::alias(&mut l.index, "y2015", "year:2015", None).unwrap();
    tags::imply(&mut l.index, "photo", "year:2019").unwrap();
    assert_eq!(l.find("year>2000"), ["1", "2"]);
    assert_eq!(l.find("year:*"), ["1", "2"]);
    assert_eq!(l.find("*:2019"), ["2"]);
    assert_eq!(l.find("-year:*"), ["3"]);
}

#[test]
fn path_globs_take_question_marks_classes_and_escapes() {
    let mut l = Lib::new();
    l.file("a1.txt", 1, 0).file("b2.txt", 1, 0).file("é3.txt", 1, 0).file("x*.txt", 1, 0);
    assert_eq!(l.find("path:*/??.txt"), ["a1.txt", "b2.txt", "x*.txt", "é3.txt"]);
    assert_eq!(l.find("path:*/[ab]?.txt"), ["a1.txt", "b2.txt"]);
    assert_eq!(l.find("path:*/[!ab]?.txt"), ["x*.txt"]);
    assert_eq!(l.find("path:*/[a-z][0-9].txt"), ["a1.txt", "b2.txt"]);
    assert_eq!(l.find(r#"path:"*\\*.txt""#), ["x*.txt"]);
    assert_eq!(l.find("path:a1.txt"), ["a1.txt"]);
    assert_eq!(l.find("path:1.txt"), Vec::<String>::new());
}

#[test]
fn keywords_operator_words_and_size_units_are_case_insensitive() {
    let mut l = Lib::new();
    l.file("big", 2048, 0).file("small", 10, 0).lose("small");
    l.tag("big", &["Cat"]);
    assert_eq!(l.find("SIZE>1K AND cat"), ["big"]);
    assert_eq!(l.find("size>1kib"), ["big"]);
    assert_eq!(l.find("Size:2KB"), ["big"]);
    assert_eq!(l.find("NOT cat OR MISSING"), ["small"]);
    assert_eq!(l.find("CAT Sort:-SIZE LIMIT:1"), ["big"]);
    // Age units are lower case: `M` is not minutes.
    assert!(matches!(Query::new(&l.index, "mtime<30M"), Err(Error::Query(p)) if p.position == 6));
}

#[test]
fn sort_and_limit_inside_parentheses_or_negations_are_refused() {
    let l = Lib::new();
    for (q, m) in [("a | sort:size", "sort:size"), ("-limit:3", "limit:3"), ("(a limit:3) | b", "limit:3")] {
        assert!(
            matches!(
                Query::new(&l.index, q),
                Err(Error::QueryMeaning(trove_core::query::QueryMeaning::NestedModifier { modifier })) if modifier == m
            ),
            "{q}"
        );
    }
}
