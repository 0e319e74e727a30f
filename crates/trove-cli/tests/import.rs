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

/// Every file of a directory with its bytes, to prove a source was not written.
fn snapshot(dir: &std::path::Path) -> Vec<(OsString, String)> {
    let mut v: Vec<(OsString, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name(), blake3::hash(&std::fs::read(e.path()).unwrap_or_default()).to_hex().to_string())
        })
        .collect();
    v.sort();
    v
}

fn lines(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out).lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn awtfdb_import_brings_every_file_tag_alias_implication_and_pool() {
    use std::os::unix::ffi::OsStrExt;
    use trove_import::awtfdb::Builder;
    let e = env();
    let a = e.write("pics/a.jpg", b"picture a");
    let b = e.write("pics/b.jpg", b"picture b");
    let d1 = e.write("pics/dup1.txt", b"same bytes");
    let d2 = e.write("pics/dup2.txt", b"same bytes");
    let odd = e.write(std::ffi::OsStr::from_bytes(b"pics/caf\xe9.png"), b"latin-1 name");
    let gone = e.path("pics/gone.txt");
    std::fs::create_dir_all(e.path("awtf")).unwrap();
    let db = e.path("awtf/awtf.db");
    let (cat_uid, parent_rowid);
    {
        let mut w = Builder::create(&db, 7).unwrap();
        let p = |x: &std::path::Path| x.as_os_str().as_bytes().to_vec();
        let ha = w.file(&p(&a), b"picture a").unwrap();
        let hb = w.file(&p(&b), b"picture b").unwrap();
        let hd = w.file(&p(&d1), b"same bytes").unwrap();
        assert_eq!(w.file(&p(&d2), b"same bytes").unwrap(), hd, "one content, two paths");
        let ho = w.file(&p(&odd), b"latin-1 name").unwrap();
        let hg = w.file(&p(&gone), b"was here once").unwrap();
        let cat = w.tag(&[("cat", "en"), ("gato", "pt"), ("Katze", "de")]).unwrap();
        let animal = w.tag(&[("animal", "en")]).unwrap();
        let photo = w.tag(&[("photo", "en")]).unwrap();
        let dog_a = w.tag(&[("Dog", "en")]).unwrap();
        let dog_b = w.tag(&[("dog", "en")]).unwrap();
        let _unused = w.tag(&[("unused", "en")]).unwrap();
        cat_uid = w.core_hash(&cat).unwrap();
        parent_rowid = w.imply(&cat, &animal).unwrap();
        w.imply(&dog_a, &animal).unwrap();
        let ddb = w.source("deepdanbooru").unwrap();
        w.link(&ha, &cat, (0, 0), None).unwrap();
        // Copied by awtfdb from cat ⇒ animal while cat is on the file: derived, not copied.
        w.link(&ha, &animal, (0, 1), Some(parent_rowid)).unwrap();
        // Copied once, and the child tag removed since (`arm -t cat`): kept as a tag.
        w.link(&hb, &animal, (0, 1), Some(parent_rowid)).unwrap();
        w.link(&hd, &photo, (1, ddb), None).unwrap();
        w.link(&ho, &dog_a, (0, 0), None).unwrap();
        w.link(&ho, &dog_b, (0, 0), None).unwrap();
        w.link(&hg, &cat, (0, 0), None).unwrap();
        // Tags on a content with no path left in awtfdb.
        let lost = w.file(b"/nowhere/x", b"lost").unwrap();
        w.link(&lost, &photo, (0, 0), None).unwrap();
        w.conn.execute("DELETE FROM files WHERE file_hash = ?1", [&lost]).unwrap();
        w.pool("Trip", &[&hb, &ha, &hd]).unwrap();
        w.conn.execute("INSERT INTO library_configuration VALUES ('tag_name_regex', '[a-z]+')", []).unwrap();
    }
    let before = snapshot(&e.path("awtf"));

    // A dry run says what would happen and stores nothing.
    let dry = report(&e.ok(["import", "awtfdb", "awtf/awtf.db", "--dry-run", "--json"]));
    // Dog and dog become one tag, so their two links on one file are one.
    assert_eq!((dry["links_added"].as_u64(), dry["links_existing"].as_u64()), (Some(6), Some(1)), "{dry}");
    assert_eq!(report(&e.ok(["stats", "--json"]))["files"], 0);

    // The default place is $HOME/awtf.db (HOME is the test's temp dir).
    std::fs::copy(&db, e.path("awtf.db")).unwrap();
    let r = report(&e.ok(["import", "awtfdb", "--json"]));
    std::fs::remove_file(e.path("awtf.db")).unwrap();
    for k in ["tags_created", "names_added", "implications_added", "files_added", "links_added", "pool_entries_added"] {
        assert_eq!(r[k], dry[k], "{k}: dry run {} vs run {}", dry[k], r[k]);
    }
    assert_eq!(r["tags_created"], 5, "Dog and dog are one tag in trove: {r}");
    assert_eq!(r["files_added"], 5, "{r}");
    assert_eq!(r["files_missing"], 1, "{r}");
    assert_eq!(r["implications_added"], 2, "{r}");
    let notes = r["not_mapped"].to_string();
    for want in [
        "1 tag(s) awtfdb had copied from implications were not copied",
        "1 tag(s) awtfdb had copied from an implication whose child tag is gone were kept",
        "1 tag link(s) on 1 content(s) that have no path in awtfdb were left out",
        "[a-z]+",
        "merged into the tag Dog that already has this name",
        "1 file(s) are not on disk",
    ] {
        assert!(notes.contains(want), "report lacks {want:?}: {notes}");
    }

    let find = |q: &str| lines(&e.ok(["find", q]));
    let show = |p: &std::path::Path| p.strip_prefix(e.root()).unwrap().to_string_lossy().into_owned();
    assert_eq!(find("cat"), [show(&a)]);
    assert_eq!(find("gato"), [show(&a)]);
    assert_eq!(find("Katze"), [show(&a)]);
    assert_eq!(find("cat tags:1"), [show(&a)], "the copied parent is not a link of its own");
    assert_eq!(find("animal"), [show(&a), show(&b), show(&odd)]);
    assert_eq!(find("photo"), [show(&d1), show(&d2)]);
    assert_eq!(find("missing"), [show(&gone)]);
    e.ok(["tags", "show", "unused"]);
    let pool = String::from_utf8(e.ok(["pool", "show", "Trip"])).unwrap();
    assert_eq!(pool.lines().collect::<Vec<_>>(), [show(&b), show(&a), show(&d1)]);
    // Universal ids, languages and sources come along.
    let ex = String::from_utf8(e.ok(["export", "json"])).unwrap();
    let cat_hex: String = cat_uid.iter().map(|x| format!("{x:02x}")).collect();
    assert!(ex.contains(r#""lang":null,"name":"cat","primary":true},{"lang":"pt","name":"gato""#), "{ex}");
    assert!(ex.contains(&format!("\"uid\":\"{cat_hex}\"")), "the core's hash is the universal id");
    assert!(ex.contains("\"source\":\"import:awtfdb:deepdanbooru\"") && ex.contains("\"source\":\"import:awtfdb\""));

    // A second run adds nothing; the source was never written.
    let again = report(&e.ok(["import", "awtfdb", "awtf/awtf.db", "--json"]));
    assert!(
        [
            "tags_created",
            "names_added",
            "implications_added",
            "files_added",
            "files_missing",
            "links_added",
            "pool_entries_added"
        ]
        .iter()
        .all(|k| again[k] == 0),
        "{again}"
    );
    assert_eq!(snapshot(&e.path("awtf")), before, "the awtfdb directory changed");
}

#[test]
fn awtfdb_import_refuses_an_old_schema_and_a_non_awtfdb_file() {
    let e = env();
    let db = e.path("old.db");
    {
        let w = trove_import::awtfdb::Builder::create(&db, 1).unwrap();
        w.conn.execute("DELETE FROM migration_logs WHERE version > 7", []).unwrap();
    }
    let o = e.run(["import", "awtfdb", "old.db"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("old.db: awtfdb schema version 7 (integer ids); run `awtfdb-manage migrate` first"), "{err}");
    e.write("notes.txt", b"not a database at all, only text");
    let err = String::from_utf8_lossy(&e.run(["import", "awtfdb", "notes.txt"]).stderr).into_owned();
    assert!(err.contains("notes.txt: "), "{err}");
    let err = String::from_utf8_lossy(&e.run(["import", "awtfdb", "nothere.db"]).stderr).into_owned();
    assert!(err.contains("nothere.db"), "{err}");
}

#[test]
fn awtfdb_import_reads_a_live_database_through_a_copy_and_leaves_it_alone() {
    use std::os::unix::ffi::OsStrExt;
    let e = env();
    let f = e.write("x.txt", b"x");
    std::fs::create_dir_all(e.path("live")).unwrap();
    // awtfdb still running: its connection is open, the latest rows are only in the -wal.
    let mut w = trove_import::awtfdb::Builder::create(&e.path("live/awtf.db"), 3).unwrap();
    let h = w.file(f.as_os_str().as_bytes(), b"x").unwrap();
    let t = w.tag(&[("fresh", "en")]).unwrap();
    w.link(&h, &t, (0, 0), None).unwrap();
    assert!(e.path("live/awtf.db-wal").exists());
    let before = snapshot(&e.path("live"));
    let r = report(&e.ok(["import", "awtfdb", "live/awtf.db", "--json"]));
    assert_eq!(r["links_added"], 1, "{r}");
    assert_eq!(lines(&e.ok(["find", "fresh"])), ["x.txt"]);
    assert_eq!(snapshot(&e.path("live")), before, "reading wrote next to the live database");
    drop(w);
}

/// A TMSU database as `tmsu` 0.7.5 leaves it (its schema, rows as it writes them).
fn tmsu_library(e: &TestEnv) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use trove_import::tmsu::Builder;
    let a = e.write("lib/a.txt", b"a");
    let b = e.write("lib/sub/b.jpg", b"b");
    let c = e.write("lib/sub/deep/c.png", b"c");
    let o = e.write("outside/o.txt", b"outside the root");
    let odd = e.write(std::ffi::OsStr::from_bytes(b"lib/caf\xe9 %_*.txt"), b"latin-1 name");
    let gone = e.path("lib/gone.txt");
    let w = Builder::init(&e.path("lib")).unwrap();
    let fa = w.file(&a, false).unwrap();
    let fb = w.file(&b, false).unwrap();
    let fc = w.file(&c, false).unwrap();
    let fo = w.file(&o, false).unwrap();
    let fodd = w.file(&odd, false).unwrap();
    let fgone = w.file(&gone, false).unwrap();
    let fsub = w.file(&e.path("lib/sub"), true).unwrap();
    w.tag_file(fa, "year", "2017").unwrap();
    w.tag_file(fa, "music", "").unwrap();
    // TMSU tag names are case-sensitive: `Music` is another tag there.
    w.conn.execute("INSERT INTO tag (name) VALUES ('Music')", []).unwrap();
    w.tag_file(fb, "Music", "").unwrap();
    w.tag_file(fb, "year", "2019").unwrap();
    w.tag_file(fc, "photo", "").unwrap();
    w.tag_file(fo, "year", "2017").unwrap();
    w.tag_file(fodd, "odd name", "").unwrap();
    w.tag_file(fgone, "photo", "").unwrap();
    w.tag_file(fsub, "folder", "").unwrap();
    w.imply(("year", ""), ("dated", "")).unwrap();
    w.imply(("photo", ""), ("image", "")).unwrap();
    w.imply(("year", "2019"), ("recent", "")).unwrap();
    w.conn.execute("INSERT INTO query VALUES ('year > 2018')", []).unwrap();
    w.conn.execute("INSERT INTO setting VALUES ('fileFingerprintAlgorithm', 'none')", []).unwrap();
    // Stored as TMSU stores them: relative to the root, cleaned.
    let rows: Vec<String> = w
        .conn
        .prepare("SELECT directory || '|' || name FROM file WHERE id IN (?1, ?2, ?3, ?4) ORDER BY id")
        .unwrap()
        .query_map([fa, fc, fo, fsub], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [".|a.txt", "sub/deep|c.png", "../outside|o.txt", ".|sub"]);
    vec![a, b, c, o, odd, gone]
}

#[test]
fn tmsu_import_brings_files_values_implications_and_reports_the_rest() {
    let e = env();
    let files = tmsu_library(&e);
    let show = |p: &std::path::Path| p.strip_prefix(e.root()).unwrap().to_string_lossy().into_owned();
    let [a, b, c, o, odd, gone] = [0, 1, 2, 3, 4, 5].map(|i| show(&files[i]));
    let before = snapshot(&e.path("lib/.tmsu"));

    let dry = report(&e.ok(["import", "tmsu", "lib/.tmsu/db", "--dry-run", "--json"]));
    assert_eq!(report(&e.ok(["stats", "--json"]))["files"], 0, "a dry run stores nothing");
    // Found from the working directory like TMSU does (.tmsu/db here or above).
    let out = e.cmd(["import", "tmsu", "--json"]).current_dir(e.path("lib/sub")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = report(&out.stdout);
    for k in ["tags_created", "names_added", "implications_added", "files_added", "files_missing", "links_added"] {
        assert_eq!(r[k], dry[k], "{k}: dry run {} vs run {}", dry[k], r[k]);
    }
    assert_eq!(r["files_added"], 5, "{r}");
    assert_eq!(r["files_missing"], 1, "{r}");
    // year, year:2017, year:2019, music (=Music), photo, odd name, folder, dated, image, recent
    assert_eq!(r["tags_created"], 10, "{r}");
    // year ⇒ dated, photo ⇒ image, year:2019 ⇒ recent, year:2017 ⇒ year, year:2019 ⇒ year
    assert_eq!(r["implications_added"], 5, "{r}");
    let notes = r["not_mapped"].to_string();
    for want in [
        r#"TMSU tags \"music\" and \"Music\" differ only in case: merged into \"music\""#,
        "lib/sub: a directory with 1 tag(s) in TMSU",
        "saved query not imported",
        "year > 2018",
        "fileFingerprintAlgorithm=none",
        "1 file(s) are not on disk",
    ] {
        assert!(notes.contains(want), "report lacks {want:?}: {notes}");
    }

    let find = |q: &str| lines(&e.ok(["find", q]));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(find("year:2017"), sorted(vec![a.clone(), o.clone()]), "relative paths resolve, ../ included");
    assert_eq!(find("year"), sorted(vec![a.clone(), b.clone(), o.clone()]), "as in TMSU, `year` finds every value");
    assert_eq!(find("dated"), find("year"), "an any-value implication holds for every value");
    assert_eq!(find("year>2018"), std::slice::from_ref(&b));
    assert_eq!(find("recent"), std::slice::from_ref(&b));
    assert_eq!(find("music"), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(find("image"), std::slice::from_ref(&c), "a tag only implied still exists");
    assert_eq!(find("\"odd name\""), [odd]);
    assert_eq!(find("missing"), std::slice::from_ref(&gone));
    assert_eq!(find("missing photo"), [gone], "a file not on disk keeps its tags");
    assert_eq!(e.find("folder"), (vec![], 1), "a directory's tags are not put on its files");
    assert!(String::from_utf8(e.ok(["export", "json"])).unwrap().contains("\"source\":\"import:tmsu\""));

    let again = report(&e.ok(["import", "tmsu", "lib/.tmsu/db", "--json"]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "files_missing", "links_added"] {
        assert_eq!(again[k], 0, "{k} on the second run: {again}");
    }
    assert_eq!(snapshot(&e.path("lib/.tmsu")), before, "the TMSU directory changed");

    // Without value ⇒ tag, the any-value implication is expanded to the values in use.
    let r = report(&e.ok([
        idx(&e, "b.db"),
        "import".into(),
        "tmsu".into(),
        "lib/.tmsu/db".into(),
        "--no-value-implies-tag".into(),
        "--json".into(),
    ]));
    assert!(r["not_mapped"].to_string().contains("applied them to each value in use now"), "{r}");
    let find_b = |q: &str| lines(&e.ok([idx(&e, "b.db"), "find".into(), q.into()]));
    assert_eq!(find_b("dated"), sorted(vec![a, b, o]));
    assert!(e.run([idx(&e, "b.db"), "find".into(), "year".into()]).stdout.is_empty());
}

#[test]
fn tmsu_import_refuses_a_file_that_is_not_a_tmsu_database() {
    let e = env();
    std::fs::create_dir_all(e.path("x")).unwrap();
    rusqlite::Connection::open(e.path("x/db")).unwrap().execute_batch("CREATE TABLE tag (id, name)").unwrap();
    let o = e.run(["import", "tmsu", "x/db"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("x/db: not a TMSU database (no file table)"), "{err}");
    let err = String::from_utf8_lossy(&e.run(["import", "tmsu"]).stderr).into_owned();
    assert!(err.contains("TMSU database"), "{err}");
}

#[test]
fn tagstudio_import_brings_entries_tags_aliases_parents_and_disambiguated_names() {
    use trove_import::tagstudio::{Builder, Layout};
    let e = env();
    e.write("ts/a.jpg", b"a");
    e.write("ts/sub/ü c.txt", b"u");
    {
        let mut w = Builder::create(&e.path("ts"), Layout::V400).unwrap();
        let color = w.tag("Color", Some("col"), None).unwrap();
        let team = w.tag("Team", None, None).unwrap();
        let red_color = w.tag("Red", None, Some(color)).unwrap();
        let red_team = w.tag("red", None, Some(team)).unwrap();
        let animal = w.tag("animal", Some("an"), None).unwrap();
        w.alias(animal, "beast").unwrap();
        w.alias(animal, "").unwrap();
        let cat = w.tag("cat", None, None).unwrap();
        w.parent(cat, animal).unwrap();
        w.parent(red_color, color).unwrap();
        w.parent(red_team, team).unwrap();
        let a = w.entry("a.jpg", "2024-05-01 12:34:56.123456").unwrap();
        let u = w.entry("sub/ü c.txt", "2024-05-02 00:00:00").unwrap();
        let gone = w.entry("gone.png", "2024-05-03 00:00:00").unwrap();
        for t in [cat, red_color, 1] {
            w.tag_entry(a, t).unwrap();
        }
        w.tag_entry(u, red_team).unwrap();
        w.tag_entry(u, 0).unwrap();
        w.tag_entry(gone, cat).unwrap();
        w.text_field(a, "Title", "A picture").unwrap();
    }
    let before = snapshot(&e.path("ts/.TagStudio"));
    let dry = report(&e.ok(["import", "tagstudio", "ts", "-n", "--json"]));
    let r = report(&e.ok(["import", "tagstudio", "ts", "--json"]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "files_missing", "links_added"] {
        assert_eq!(r[k], dry[k], "{k}: dry run {} vs run {}", dry[k], r[k]);
    }
    assert_eq!((r["tags_created"].as_u64(), r["files_added"].as_u64()), (Some(9), Some(2)), "{r}");
    assert_eq!((r["implications_added"].as_u64(), r["links_added"].as_u64()), (Some(5), Some(6)), "{r}");
    let notes = r["not_mapped"].to_string();
    for want in [
        r#"TagStudio has several tags named \"Red\": tag 1002 is named \"Red (col)\""#,
        r#"tag 1003 is named \"red (Team)\""#,
        "1 field value(s)",
        "2 tag(s) have a colour, icon, category or hidden flag",
        "1 file(s) are not on disk",
    ] {
        assert!(notes.contains(want), "report lacks {want:?}: {notes}");
    }
    let find = |q: &str| lines(&e.ok(["find", q]));
    assert_eq!(find("animal"), ["ts/a.jpg"]);
    assert_eq!(find("beast"), ["ts/a.jpg"], "aliases come along");
    assert_eq!(find("an"), ["ts/a.jpg"], "the shorthand is an alias");
    assert_eq!(find("\"Red (col)\""), ["ts/a.jpg"]);
    assert_eq!(find("Team"), ["ts/sub/ü c.txt"]);
    assert_eq!(find("Favorited"), ["ts/a.jpg"]);
    assert_eq!(find("\"Meta Tags\""), ["ts/a.jpg", "ts/sub/ü c.txt"], "Archived and Favorite sit under Meta Tags");
    assert_eq!(find("missing cat"), ["ts/gone.png"]);
    let ex = String::from_utf8(e.ok(["export", "json"])).unwrap();
    assert!(ex.contains("\"added_at\":1714566896,"), "the entry's date_added is the file's: {ex}");
    assert!(ex.contains("\"source\":\"import:tagstudio\""));
    let again = report(&e.ok(["import", "tagstudio", "ts/.TagStudio", "--json"]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "files_missing", "links_added"] {
        assert_eq!(again[k], 0, "{k} on the second run: {again}");
    }
    assert_eq!(snapshot(&e.path("ts/.TagStudio")), before, "the TagStudio folder changed");
}

#[test]
fn tagstudio_before_version_100_reads_parents_the_other_way_round() {
    use trove_import::tagstudio::{Builder, Layout};
    let e = env();
    e.write("old/x.jpg", b"x");
    e.write("old/y.jpg", b"y");
    {
        // DB_VERSION 8 stored `tag_parents` with the columns swapped (fixed by migration 100).
        let mut w = Builder::create(&e.path("old"), Layout::V8).unwrap();
        let animal = w.tag("animal", None, None).unwrap();
        let cat = w.tag("cat", None, None).unwrap();
        w.parent(cat, animal).unwrap();
        let (x, y) = (w.entry("x.jpg", "2024-01-01 00:00:00").unwrap(), w.entry("y.jpg", "").unwrap());
        w.tag_entry(x, cat).unwrap();
        w.tag_entry(y, animal).unwrap();
        let raw: (i64, i64) = w
            .conn
            .query_row("SELECT parent_id, child_id FROM tag_parents WHERE parent_id >= 1000", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(raw, (cat, animal), "version 8 writes the child in parent_id");
    }
    let r = report(&e.ok(["import", "tagstudio", "old", "--json"]));
    assert_eq!(r["files_added"], 2, "{r}");
    assert_eq!(lines(&e.ok(["find", "animal"])), ["old/x.jpg", "old/y.jpg"]);
    assert_eq!(lines(&e.ok(["find", "cat"])), ["old/x.jpg"], "cat ⇒ animal, not animal ⇒ cat");

    // A library newer than trove knows is refused, naming the file.
    let db = e.path("old/.TagStudio/ts_library.sqlite");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE preferences SET value = 3 WHERE key = 'DB_VERSION'", []).unwrap();
    let err = String::from_utf8_lossy(&e.run(["import", "tagstudio", "old"]).stderr).into_owned();
    assert!(err.contains("ts_library.sqlite: TagStudio DB_VERSION 3; trove reads 6 to 4xx"), "{err}");
    c.execute_batch("CREATE TABLE versions (key, value); INSERT INTO versions VALUES ('CURRENT', 500)").unwrap();
    let err = String::from_utf8_lossy(&e.run(["import", "tagstudio", "old"]).stderr).into_owned();
    assert!(err.contains("DB_VERSION 500 is newer than trove knows"), "{err}");
    let err = String::from_utf8_lossy(&e.run(["import", "tagstudio", "."]).stderr).into_owned();
    assert!(err.contains(".TagStudio: no TagStudio library here"), "{err}");
}

#[test]
fn tagstudio_legacy_json_library_with_tag_boxes_and_collations() {
    let e = env();
    e.write("leg/pets/d.jpg", b"d");
    e.write("leg/pets/p2.jpg", b"page two");
    e.write(
        "leg/.TagStudio/ts_library.json",
        br#"{"ts-version":"9.4.1","ext_list":[".json"],"is_exclude_list":true,
        "tags":[{"id":0,"name":"Archived","aliases":["Archive"],"color":"Red"},
                {"id":1000,"name":"dog","shorthand":"dg","aliases":["doggo"],"subtag_ids":[1001]},
                {"id":1001,"name":"animal"}],
        "collations":[{"id":0,"title":"Comic","e_ids_and_pages":[[1,2],[0,1]],"sort_order":"","cover_id":-1}],
        "fields":[],"macros":[],
        "entries":[{"id":0,"filename":"d.jpg","path":"pets","fields":[{"6":[1000]},{"0":"A title"}]},
                   {"id":1,"filename":"p2.jpg","path":"pets","fields":[{"8":[0,1000]}]}]}"#,
    );
    let r = report(&e.ok(["import", "tagstudio", "leg", "--json"]));
    assert_eq!((r["files_added"].as_u64(), r["links_added"].as_u64()), (Some(2), Some(3)), "{r}");
    assert!(r["not_mapped"].to_string().contains("1 field value(s)"), "{r}");
    assert_eq!(lines(&e.ok(["find", "animal"])), ["leg/pets/d.jpg", "leg/pets/p2.jpg"]);
    assert_eq!(lines(&e.ok(["find", "doggo"])), ["leg/pets/d.jpg", "leg/pets/p2.jpg"]);
    assert_eq!(lines(&e.ok(["find", "Archive"])), ["leg/pets/p2.jpg"]);
    let pool = String::from_utf8(e.ok(["pool", "show", "Comic"])).unwrap();
    assert_eq!(pool.lines().collect::<Vec<_>>(), ["leg/pets/d.jpg", "leg/pets/p2.jpg"], "in page order");
    e.write("leg2/.TagStudio/ts_library.json", b"{\"tags\": []}");
    let err = String::from_utf8_lossy(&e.run(["import", "tagstudio", "leg2"]).stderr).into_owned();
    assert!(err.contains("ts_library.json: not a TagStudio library (no \"ts-version\")"), "{err}");
}

#[test]
fn hydrus_import_matches_files_by_content_with_siblings_parents_and_unmatched_report() {
    use trove_import::hydrus::Builder;
    let e = env();
    e.write("pics/cat.jpg", b"cat bytes");
    e.write("pics/copy/cat again.jpg", b"cat bytes");
    e.write("pics/dog.png", b"dog bytes");
    e.write("pics/other.txt", b"not a cat"); // the size of a tagged file, another content
    let lost_sha: String = {
        let w = Builder::create(&e.path("hy/db")).unwrap();
        let cat = w.file(b"cat bytes", 1_700_000_123_456).unwrap();
        let dog = w.file(b"dog bytes", 1_700_000_000_000).unwrap();
        let lost = w.file(b"lost bytes", 1_700_000_000_000).unwrap();
        let my = w.my_tags;
        w.map(my, cat, "kitty").unwrap();
        w.map(my, cat, "creator:someone").unwrap();
        w.map(my, dog, "species:dog").unwrap();
        w.map(my, lost, "lost").unwrap();
        w.sibling(my, "kitty", "cat").unwrap();
        w.sibling(my, "cat", "species:cat").unwrap();
        w.parent(my, "species:cat", "animal").unwrap();
        w.parent(my, "species:dog", "animal").unwrap();
        let dl: i64 = w
            .client
            .query_row("SELECT service_id FROM services WHERE name = 'downloader tags'", [], |r| r.get(0))
            .unwrap();
        w.map(dl, dog, "downloaded").unwrap();
        trove_core::hash::sha256_bytes(b"lost bytes").iter().map(|b| format!("{b:02x}")).collect()
    };
    let before = snapshot(&e.path("hy/db"));
    // Already indexed: matched by the SHA-256 trove keeps, not read again.
    e.ok(["include", "pics/dog.png"]);
    let dry = report(&e.ok(["import", "hydrus", "hy/db", "--under", "pics", "-n", "--json"]));
    let r = report(&e.ok(["import", "hydrus", "hy/db", "--under", "pics", "--json"]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "links_added"] {
        assert_eq!(r[k], dry[k], "{k}: dry run {} vs run {}", dry[k], r[k]);
    }
    assert_eq!(r["files_added"], 2, "two copies of the cat, not other.txt: {r}");
    assert_eq!(r["files_existing"], 1, "the dog, indexed before: {r}");
    // species:cat (+ kitty, cat), creator:someone, species:dog, animal, lost
    assert_eq!((r["tags_created"].as_u64(), r["names_added"].as_u64()), (Some(5), Some(2)), "{r}");
    assert_eq!(r["implications_added"], 2, "{r}");
    let notes = r["not_mapped"].to_string();
    for want in [
        "1 tagged Hydrus file(s) matched no file under",
        &format!("unmatched {lost_sha} (1 tag(s))"),
        "1 file(s) matched by the SHA-256 trove already had for them (not read again)",
    ] {
        assert!(notes.contains(want), "report lacks {want:?}: {notes}");
    }
    let find = |q: &str| lines(&e.ok(["find", q]));
    assert_eq!(find("kitty"), ["pics/cat.jpg", "pics/copy/cat again.jpg"], "a sibling is an alias of its ideal");
    assert_eq!(find("species:cat"), find("kitty"));
    assert_eq!(find("animal"), ["pics/cat.jpg", "pics/copy/cat again.jpg", "pics/dog.png"]);
    assert_eq!(find("creator:someone"), ["pics/cat.jpg", "pics/copy/cat again.jpg"]);
    assert_eq!(e.find("downloaded"), (vec![], 1), "only \"my tags\" unless --service says");
    let ex = String::from_utf8(e.ok(["export", "json"])).unwrap();
    assert!(ex.contains("\"added_at\":1700000123,"), "Hydrus's import time is kept: {ex}");
    assert!(ex.contains("\"source\":\"import:hydrus\""));

    let again = report(&e.ok(["import", "hydrus", "hy/db", "--under", "pics", "--json"]));
    for k in ["tags_created", "names_added", "implications_added", "files_added", "links_added"] {
        assert_eq!(again[k], 0, "{k} on the second run: {again}");
    }
    let r = report(&e.ok(["import", "hydrus", "hy/db", "--under", "pics", "--service", "downloader tags", "--json"]));
    assert_eq!(r["links_added"], 1, "{r}");
    assert_eq!(find("downloaded"), ["pics/dog.png"]);
    assert!(
        String::from_utf8(e.ok(["export", "json"])).unwrap().contains("\"source\":\"import:hydrus:downloader tags\"")
    );
    assert_eq!(snapshot(&e.path("hy/db")), before, "the Hydrus folder changed");
}

#[test]
fn hydrus_import_refuses_a_running_client_and_bad_folders_clearly() {
    let e = env();
    e.write("pics/x", b"x");
    drop(trove_import::hydrus::Builder::create(&e.path("hy")).unwrap());
    let err = |args: &[&str]| String::from_utf8_lossy(&e.run(args).stderr).into_owned();
    let out = err(&["import", "hydrus", "hy", "--under", "pics", "--service", "PTR"]);
    assert!(
        out.contains("client.db: no tag service named \"PTR\" (its tag services: my tags, downloader tags)"),
        "{out}"
    );
    e.write("hy/client.db-wal", b"");
    let out = err(&["import", "hydrus", "hy", "--under", "pics"]);
    assert!(out.contains("hy/client.db-wal: Hydrus is running, or was not closed cleanly"), "{out}");
    let out = err(&["import", "hydrus", "pics", "--under", "pics"]);
    assert!(out.contains("pics/client.db: missing: not a Hydrus database folder"), "{out}");
    let o = e.run(["import", "hydrus", "hy"]);
    assert_eq!(o.status.code(), Some(2), "--under is required");
    assert!(!e.index.exists(), "a refused import creates no index");
}

fn get_xattr(p: &std::path::Path) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    rustix::fs::getxattr(p, "user.xdg.tags", &mut buf[..]).ok().map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn set_xattr(p: &std::path::Path, v: &str) {
    rustix::fs::setxattr(p, "user.xdg.tags", v.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
}

#[test]
fn xattr_import_reads_xdg_tags_and_export_adds_to_them() {
    let e = env();
    let a = e.write("x/a.txt", b"a");
    let b = e.write("x/b.txt", b"b");
    let c = e.write("x/sub/c.txt", b"c");
    set_xattr(&a, "cat, cute animals,,year:2020");
    set_xattr(&c, "Cat");
    let dry = report(&e.ok(["import", "xattr", "x", "-n", "--json"]));
    let r = report(&e.ok(["import", "xattr", "x", "--json"]));
    assert_eq!(dry["links_added"], r["links_added"]);
    assert_eq!((r["files_added"].as_u64(), r["tags_created"].as_u64()), (Some(2), Some(3)), "{r}");
    assert_eq!(lines(&e.ok(["find", "cat"])), ["x/a.txt", "x/sub/c.txt"], "Cat and cat are one tag");
    assert_eq!(lines(&e.ok(["find", "\"cute animals\" year>2019"])), ["x/a.txt"]);
    assert!(String::from_utf8(e.ok(["export", "json"])).unwrap().contains("\"source\":\"import:xattr\""));
    let again = report(&e.ok(["import", "xattr", "x", "--json"]));
    assert_eq!((again["links_added"].as_u64(), again["files_added"].as_u64()), (Some(0), Some(0)), "{again}");

    // Export adds trove's tags and keeps what was there.
    e.ok(["tag", "-t", "new", "--", "x/a.txt"]);
    e.ok(["include", "-t", "fresh", "x/b.txt"]);
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    let out = String::from_utf8(e.ok(["export", "xattr", "-n"])).unwrap();
    assert!(out.contains("would write 2 file(s), 1 already up to date"), "{out}");
    assert_eq!(get_xattr(&b), None, "a dry run writes nothing");
    let out = String::from_utf8(e.ok(["export", "xattr"])).unwrap();
    assert!(out.contains("wrote 2 file(s), 1 already up to date"), "{out}");
    assert_eq!(get_xattr(&a).as_deref(), Some("cat,cute animals,year:2020,new"));
    assert_eq!(get_xattr(&b).as_deref(), Some("fresh"));
    assert_eq!(get_xattr(&c).as_deref(), Some("Cat"), "the same tag in another case is not added again");
    assert_eq!(std::fs::read(&a).unwrap(), b"a");
    assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), mtime, "content and mtime untouched");
    assert!(String::from_utf8(e.ok(["export", "xattr"])).unwrap().contains("wrote 0 file(s), 3 already up to date"));

    // What another index reads back is what trove wrote.
    let r = report(&e.ok([idx(&e, "b.db"), "import".into(), "xattr".into(), "x".into(), "--json".into()]));
    assert_eq!(r["files_added"], 3, "{r}");
    assert_eq!(lines(&e.ok([idx(&e, "b.db"), "find".into(), "new".into()])), ["x/a.txt"]);

    // A tag with a comma cannot go into user.xdg.tags: reported, exit 1.
    e.ok(["tag", "-t", "one,two", "--", "x/b.txt"]);
    let o = e.run(["export", "xattr", "one,two"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("x/b.txt: the tag \"one,two\" holds a `,`"), "{out}");
    assert_eq!(get_xattr(&b).as_deref(), Some("fresh"));
}

#[test]
fn xmp_import_reads_embedded_packets_and_sidecars_and_export_sidecar_round_trips() {
    let e = env();
    std::fs::create_dir_all(e.path("p")).unwrap();
    image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10])).save(e.path("p/img.jpg")).unwrap();
    let o = std::process::Command::new("exiftool")
        .args(["-q", "-overwrite_original", "-XMP-dc:Subject+=cat", "-XMP-dc:Subject+=R&D"])
        .arg("-XMP-lr:HierarchicalSubject+=animals|mammals|cat")
        .arg(e.path("p/img.jpg"))
        .output()
        .expect("exiftool (package libimage-exiftool-perl; .ci/run installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    e.write("p/raw.cr2", b"raw bytes");
    e.write(
        "p/raw.cr2.xmp",
        br#"<?xml version="1.0"?><x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/" darktable:xmp_version="5">
   <dc:subject><rdf:Bag><rdf:li>Paris</rdf:li><rdf:li>night &amp; day</rdf:li></rdf:Bag></dc:subject>
   <digiKam:TagsList><rdf:Seq><rdf:li>Places/France/Paris</rdf:li></rdf:Seq></digiKam:TagsList>
   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq></darktable:history>
  </rdf:Description></rdf:RDF></x:xmpmeta>"#,
    );
    e.write("p/lr.dng", b"dng bytes");
    e.write(
        "p/lr.xmp",
        br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>
<rdf:li>lightroom tag</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"#,
    );
    e.write("p/orphan.xmp", b"<x:xmpmeta/>");
    e.write("p/plain.txt", b"no keywords");
    let r = report(&e.ok(["import", "xmp", "p", "--json"]));
    assert_eq!(r["files_added"], 3, "img.jpg, raw.cr2, lr.dng; sidecars are not files of their own: {r}");
    assert!(r["not_mapped"].to_string().contains("1 .xmp sidecar(s) belong to no file here"), "{r}");
    let find = |q: &str| lines(&e.ok(["find", q]));
    assert_eq!(find("cat"), ["p/img.jpg"]);
    assert_eq!(find("\"R&D\""), ["p/img.jpg"]);
    assert_eq!(find("mammals"), ["p/img.jpg"], "a hierarchical keyword implies its parents");
    assert_eq!(find("animals"), ["p/img.jpg"]);
    assert_eq!(find("Paris"), ["p/raw.cr2"]);
    assert_eq!(find("France"), ["p/raw.cr2"]);
    assert_eq!(find("\"night & day\""), ["p/raw.cr2"]);
    assert_eq!(find("\"lightroom tag\""), ["p/lr.dng"]);
    let again = report(&e.ok(["import", "xmp", "p", "--json"]));
    assert_eq!((again["links_added"].as_u64(), again["tags_created"].as_u64()), (Some(0), Some(0)), "{again}");

    // Export: trove's own sidecars for img.jpg and lr.dng; darktable's raw.cr2.xmp is left alone.
    let dt_before = std::fs::read(e.path("p/raw.cr2.xmp")).unwrap();
    let o = e.run(["export", "sidecar"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("wrote 2 file(s)") && out.contains("p/raw.cr2.xmp: written by another tool; left alone"),
        "{out}"
    );
    assert_eq!(std::fs::read(e.path("p/raw.cr2.xmp")).unwrap(), dt_before);
    let side = std::fs::read_to_string(e.path("p/img.jpg.xmp")).unwrap();
    assert!(side.contains("<rdf:li>R&amp;D</rdf:li>") && side.contains("xmp:CreatorTool=\"trove\""), "{side}");
    e.ok(["tag", "-t", "later", "--", "p/img.jpg"]);
    assert!(String::from_utf8(e.run(["export", "sidecar", "cat"]).stdout).unwrap().contains("wrote 1 file(s)"));
    assert!(std::fs::read_to_string(e.path("p/img.jpg.xmp")).unwrap().contains("<rdf:li>later</rdf:li>"));
    // Another index reads the sidecars back.
    std::fs::remove_file(e.path("p/raw.cr2.xmp")).unwrap();
    e.ok([idx(&e, "b.db"), "import".into(), "xmp".into(), "p/img.jpg".into()]);
    let b = lines(&e.ok([idx(&e, "b.db"), "find".into(), "later \"R&D\" animals".into()]));
    assert_eq!(b, ["p/img.jpg"]);
}

#[test]
fn tagspaces_import_reads_name_tags_and_ts_sidecars() {
    let e = env();
    e.write("t/photo[cat cute].jpg", b"photo");
    e.write("t/.ts/photo[cat cute].jpg.json", "\u{feff}{\"appName\":\"TagSpaces\",\"tags\":[{\"title\":\"holiday\",\"type\":\"sidecar\",\"color\":\"#008000\"}]}".as_bytes());
    e.write("t/notes.md", b"notes");
    e.write("t/.ts/notes.md.json", br#"{"tags":[{"title":"todo"}],"lastUpdated":1700000000000}"#);
    e.write("t/.ts/tsm.json", br#"{"tags":[{"title":"project"}]}"#);
    e.write("t/.ts/tsi.json", b"[]");
    e.write("t/odd]x[y].txt", b"odd");
    e.write("t/list[a,b].txt", b"list");
    let r = report(&e.ok(["import", "tagspaces", "t", "--json"]));
    assert_eq!(r["files_added"], 3, "photo, notes.md, list[a,b].txt; nothing under .ts: {r}");
    assert!(r["not_mapped"].to_string().contains("folder tags project not imported"), "{r}");
    let find = |q: &str| lines(&e.ok(["find", q]));
    assert_eq!(find("cute holiday"), ["t/photo[cat cute].jpg"], "name and sidecar tags together");
    assert_eq!(find("todo"), ["t/notes.md"]);
    assert_eq!(find("\"a,b\""), ["t/list[a,b].txt"], "the default delimiter is a space");
    let r = report(&e.ok([
        idx(&e, "b.db"),
        "import".into(),
        "tagspaces".into(),
        "--delimiter".into(),
        ",".into(),
        "t/list[a,b].txt".into(),
        "--json".into(),
    ]));
    assert_eq!(r["tags_created"], 2, "{r}");
    let again = report(&e.ok(["import", "tagspaces", "t", "--json"]));
    assert_eq!(again["links_added"], 0, "{again}");
}

/// An export of `n` described records (not on disk: nothing to hash) with three tags each.
fn big_export(e: &TestEnv, n: usize) -> PathBuf {
    use std::io::Write;
    let p = e.path("big.json");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(w, r#"{{"format":"trove-export","version":1,"tags":["#).unwrap();
    for t in 0..50 {
        writeln!(w, r#"{}{{"names":[{{"name":"t{t}"}}]}}"#, if t > 0 { "," } else { "" }).unwrap();
    }
    writeln!(w, r#"],"implications":[{{"child":"t1","parent":"t0"}}],"files":["#).unwrap();
    let root = e.root().display().to_string();
    for i in 0..n {
        writeln!(
            w,
            r#"{}{{"path":"{root}/big/f{i:06}.txt","size":{i},"mtime_ns":1,"hash":"{i:064x}","state":"present","verified_at":1,"added_at":1,"tags":[{{"tag":"t{}","source":"manual"}},{{"tag":"t{}","source":"import:x"}},"t49"]}}"#,
            if i > 0 { "," } else { "" },
            i % 49,
            (i / 49) % 49
        )
        .unwrap();
    }
    writeln!(w, r#"],"pools":[{{"title":"p","files":[0,1,{}]}}]}}"#, n - 1).unwrap();
    w.flush().unwrap();
    p
}

fn stat_counts(e: &TestEnv) -> (u64, u64) {
    let s = report(&e.ok(["stats", "--json"]));
    (s["files"].as_u64().unwrap(), s["links"].as_u64().unwrap())
}

#[test]
fn import_killed_mid_way_keeps_whole_batches_and_a_rerun_finishes_without_doubling() {
    const N: u64 = 30_000;
    let e = env();
    let big = big_export(&e, N as usize);
    e.ok(["tags", "create", "t0"]);
    let mut child = e.cmd(["import".as_ref(), "json".as_ref(), big.as_os_str()]).spawn().unwrap();
    let t0 = std::time::Instant::now();
    let seen = loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(child.try_wait().unwrap().is_none(), "the import finished before it could be killed; make it bigger");
        let o = e.run(["stats", "--json"]);
        if o.status.success() && report(&o.stdout)["files"].as_u64().unwrap_or(0) > 0 {
            break t0.elapsed();
        }
        assert!(t0.elapsed().as_secs() < 120, "no batch committed in two minutes");
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (files, links) = stat_counts(&e);
    assert!(files < N, "killed after {seen:?}, yet all {files} files are in");
    assert_eq!(files % 2000, 0, "whole batches only: {files} files");
    // Three links a file (the same tag from two sources is two links).
    assert_eq!(links, 3 * files, "every committed file has all its links");
    let ok: String =
        rusqlite::Connection::open(&e.index).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");

    let r = report(&e.ok(["import".as_ref(), "json".as_ref(), big.as_os_str(), "--json".as_ref()]));
    assert_eq!((r["files_existing"].as_u64(), r["files_added"].as_u64()), (Some(files), Some(N - files)), "{r}");
    let all_links = 3 * N;
    assert_eq!(stat_counts(&e), (N, all_links), "the re-run finished the job and doubled nothing");
    let again = report(&e.ok(["import".as_ref(), "json".as_ref(), big.as_os_str(), "--json".as_ref()]));
    assert_eq!((again["files_added"].as_u64(), again["links_added"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(stat_counts(&e), (N, all_links));
    assert_eq!(String::from_utf8(e.ok(["pool", "show", "p"])).unwrap().lines().count(), 3);
}

#[test]
fn import_json_streams_sections_in_any_order() {
    let e = env();
    // Files before tags and the header last: held until what they need has come.
    e.write(
        "odd.json",
        br#"{"files":[{"path":"/nowhere/a","tags":["x"]},{"path":"/nowhere/b","tags":[{"tag":"y","source":"api:phone"}]}],
        "pools":[{"title":"P","files":[1,0]}],"tags":[{"names":[{"name":"x"}]},{"names":[{"name":"y"}]}],
        "implications":[{"child":"y","parent":"x"}],"version":1,"format":"trove-export"}"#,
    );
    let r = report(&e.ok(["import", "json", "odd.json", "--json"]));
    assert_eq!(
        (r["files_missing"].as_u64(), r["links_added"].as_u64(), r["implications_added"].as_u64()),
        (Some(2), Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(lines(&e.ok(["find", "missing x"])), ["/nowhere/a", "/nowhere/b"]);
    e.write("badfile.json", br#"{"format":"trove-export","version":1,"tags":[],"files":[{"path":"/a"},{"nopath":1}]}"#);
    let err = String::from_utf8_lossy(&e.run(["import", "json", "badfile.json"]).stderr).into_owned();
    assert!(err.contains("badfile.json: files[1]: \"path\" must be a string"), "{err}");
}
