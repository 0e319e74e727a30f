//! `trove export json` and `trove import json` (and the importers from other tools) run on
//! real indexes through the real binary.

use std::ffi::OsString;
use std::path::PathBuf;

use trove_testutil::{TestEnv, hostile_names};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn idx(e: &TestEnv, name: &str) -> OsString {
    let mut s = OsString::from("--index=");
    s.push(e.path(name));
    s
}

fn report(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(out)))
}

/// A library with hostile paths, aliases in several languages, implications, pools, links
/// from several sources and a missing file.
fn rich_library(e: &TestEnv) {
    let names = hostile_names();
    for (i, n) in names.iter().enumerate() {
        e.write(PathBuf::from("h").join(n), format!("content {i}").as_bytes());
    }
    e.write("h/gone.txt", b"soon gone");
    e.ok(["include", "-r", "-t", "hostile", "-t", "year:2019", "h"]);
    let p = |i: usize| PathBuf::from("h").join(&names[i]).into_os_string();
    let tag = |src: &str, t: &str, i: usize| {
        e.ok([OsString::from("tag"), "--source".into(), src.into(), "-t".into(), t.into(), "--".into(), p(i)]);
    };
    tag("manual", "animal:cat", 0);
    tag("api:phone", "animal:cat", 0);
    tag("import:awtfdb", "animal:cat", 1);
    tag("rule:exif", "camera:x100", 2);
    tag("manual", "Überschrift", 3);
    e.ok(["tags", "alias", "hostile", "feindlich", "--lang", "de"]);
    e.ok(["tags", "alias", "hostile", "hostil", "--lang", "es"]);
    e.ok(["tags", "alias", "hostile", "nasty"]);
    e.ok(["tags", "alias", "animal:cat", "猫", "--lang", "ja"]);
    e.ok(["tags", "create", "animal"]);
    e.ok(["tags", "create", "thing"]);
    e.ok(["tags", "imply", "animal:cat", "animal"]);
    e.ok(["tags", "imply", "animal", "thing"]);
    e.ok(["tags", "create", "unused"]);
    e.ok(["pool", "create", "Summer 2019"]);
    e.ok([OsString::from("pool"), "add".into(), "Summer 2019".into(), p(3), p(0), p(5)]);
    e.ok(["pool", "create", "empty pool"]);
    std::fs::remove_file(e.path("h/gone.txt")).unwrap();
    e.ok(["reconcile"]);
    let (missing, _) = e.find("missing");
    assert_eq!(missing.len(), 1, "{missing:?}");
}

#[test]
fn export_import_export_is_byte_identical() {
    let e = env();
    rich_library(&e);
    let first = e.ok(["export", "json"]);
    std::fs::write(e.path("first.json"), &first).unwrap();
    let text = String::from_utf8(first.clone()).expect("the export is UTF-8 text");
    assert!(text.contains("\"path_hex\""), "non-UTF-8 paths carry their bytes");
    assert!(
        text.contains("\"lang\":\"ja\"") && text.contains("\"source\":\"api:phone\"") && text.contains("\"sha256\":")
    );

    let out = e.ok([idx(&e, "b.db"), "import".into(), "json".into(), "first.json".into(), "--json".into()]);
    let r = report(&out);
    assert_eq!(r["files_added"], 12, "{r}");
    assert_eq!(r["files_missing"], 0, "the missing record comes in as described: {r}");
    assert_eq!(r["not_mapped"], serde_json::json!([]), "{r}");
    let second = e.ok([idx(&e, "b.db"), "export".into(), "json".into()]);
    assert!(first == second, "second export differs:\n{text}\n---\n{}", String::from_utf8_lossy(&second));

    // The imported index answers queries like the original.
    for q in ["thing", "animal:cat", "hostile", "missing", "pool:\"summer 2019\" sort:pool", "feindlich"] {
        let a = e.ok(["find", q]);
        let b = e.ok([idx(&e, "b.db"), "find".into(), q.into()]);
        assert_eq!(a, b, "{q}");
    }
    // Roots are this machine's settings, not part of the library: the imported index has none.
    let a = e.ok(["ls", "h"]);
    let b =
        String::from_utf8_lossy(&e.ok([idx(&e, "b.db"), "ls".into(), "h".into()])).replace(" [outside every root]", "");
    assert_eq!(String::from_utf8_lossy(&a), b);

    // A second run adds nothing.
    let out = e.ok([idx(&e, "b.db"), "import".into(), "json".into(), "first.json".into(), "--json".into()]);
    let r = report(&out);
    for k in ["tags_created", "names_added", "implications_added", "files_added", "links_added", "pool_entries_added"] {
        assert_eq!(r[k], 0, "{k} on the second run: {r}");
    }
    assert_eq!(r["files_existing"], 12);
}

#[test]
fn import_dry_run_counts_and_stores_nothing() {
    let e = env();
    rich_library(&e);
    e.ok(["export", "json", "-o", "all.json"]);
    e.ok([idx(&e, "c.db"), "tags".into(), "create".into(), "other".into()]);
    let dry = report(&e.ok([
        idx(&e, "c.db"),
        "import".into(),
        "json".into(),
        "all.json".into(),
        "-n".into(),
        "--json".into(),
    ]));
    assert_eq!(dry["dry_run"], true);
    let stats = report(&e.ok([idx(&e, "c.db"), "stats".into(), "--json".into()]));
    assert_eq!((stats["files"].as_u64(), stats["tags"].as_u64()), (Some(0), Some(1)), "a dry run stores nothing");
    let real = report(&e.ok([idx(&e, "c.db"), "import".into(), "json".into(), "all.json".into(), "--json".into()]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "links_added", "pools_created"] {
        assert_eq!(dry[k], real[k], "{k}: the dry run said {} and the run did {}", dry[k], real[k]);
    }
}

#[test]
fn import_json_merges_tags_by_universal_id() {
    let e = env();
    rich_library(&e);
    e.ok(["export", "json", "-o", "all.json"]);
    // Another index that already has the library, where a tag was renamed since.
    e.ok([idx(&e, "d.db"), "import".into(), "json".into(), "all.json".into()]);
    e.ok([idx(&e, "d.db"), "tags".into(), "rename".into(), "hostile".into(), "gefährlich".into()]);
    let tags_before = report(&e.ok([idx(&e, "d.db"), "stats".into(), "--json".into()]))["tags"].clone();
    let r = report(&e.ok([idx(&e, "d.db"), "import".into(), "json".into(), "all.json".into(), "--json".into()]));
    assert_eq!(r["tags_created"], 0, "same universal id, same tag: {r}");
    assert_eq!(r["names_added"], 1, "the old name comes back as an alias: {r}");
    let stats = report(&e.ok([idx(&e, "d.db"), "stats".into(), "--json".into()]));
    assert_eq!(stats["tags"], tags_before);
    let a = e.ok([idx(&e, "d.db"), "find".into(), "hostile".into()]);
    let b = e.ok([idx(&e, "d.db"), "find".into(), "gefährlich".into()]);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn export_with_a_query_keeps_what_concerns_the_files() {
    let e = env();
    rich_library(&e);
    let out = String::from_utf8(e.ok(["export", "json", "animal:cat"])).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    let names: Vec<&str> =
        v["tags"].as_array().unwrap().iter().map(|t| t["names"][0]["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    // Linked tags plus what they imply; not `unused` nor `camera:x100`.
    assert_eq!(sorted, ["animal", "animal:cat", "hostile", "thing", "year:2019"], "{out}");
    assert_eq!(v["implications"].as_array().unwrap().len(), 2);
    let pools = v["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "only the pool holding an exported file: {out}");
    assert_eq!(pools[0]["files"].as_array().unwrap().len(), 1);
}

#[test]
fn import_json_refuses_bad_input_clearly() {
    let e = env();
    e.write("v2.json", br#"{"format":"trove-export","version":2,"tags":[]}"#);
    let o = e.run(["import", "json", "v2.json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("v2.json: export format version 2; this trove reads versions 1 to 1"), "{err}");
    e.write("bad.json", br#"{"format":"trove-export","version":1,"tags":[{"uid":"12","names":[{"name":"x"}]}]}"#);
    let o = e.run(["import", "json", "bad.json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.json: tags[0]: \"12\" is not 64 hex digits"), "{err}");
    e.write("notjson.json", b"hello");
    let o = e.run(["import", "json", "notjson.json"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("notjson.json: not valid JSON"));
    assert!(!e.index.exists() || report(&e.ok(["stats", "--json"]))["files"] == 0);
}
