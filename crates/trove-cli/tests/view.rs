//! `trove view` against the real binary: a folder of symlinks made, refreshed by difference
//! after tag changes, a foreign folder refused, collisions named as in `trove mount`, layouts.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

/// Every entry under `dir` (relative, sorted), links shown as `name -> target`.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push(format!("{rel} -> {}", std::fs::read_link(&p).unwrap().display()));
            } else if m.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn id_of(e: &TestEnv, rel: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&e.ok(["ls", "--json", rel])).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    v["id"].to_string()
}

fn library(e: &TestEnv) -> std::path::PathBuf {
    e.write("lib/a/song.flac", b"song a");
    e.write("lib/b/song.flac", b"song b");
    e.write("lib/a/live.flac", b"live");
    e.write("lib/c/notes.txt", b"notes");
    e.ok(["include", "-t", "techno", "-t", "year:2019", "lib/a/song.flac", "lib/b/song.flac"]);
    e.ok(["include", "-t", "techno", "-t", "live", "-t", "year:2020", "lib/a/live.flac"]);
    e.ok(["include", "-t", "rock", "lib/c/notes.txt"]);
    std::fs::canonicalize(e.path("lib")).unwrap()
}

#[test]
fn a_view_is_made_then_refreshed_by_difference_after_tag_changes() {
    let e = env();
    let lib = library(&e);
    let (a, b) = (id_of(&e, "lib/a/song.flac"), id_of(&e, "lib/b/song.flac"));
    let out = e.ok(["view", "techno -live", "v"]);
    assert!(String::from_utf8_lossy(&out).contains("2 link(s): 2 added, 0 removed, 0 unchanged"), "{out:?}");
    let v = e.path("v");
    // The same collision rule as the mount: every member gets ~id.
    assert_eq!(
        tree(&v),
        [
            ".trove-view".to_string(),
            format!("song~{a}.flac -> {}/a/song.flac", lib.display()),
            format!("song~{b}.flac -> {}/b/song.flac", lib.display()),
        ]
    );
    assert_eq!(std::fs::read(v.join(format!("song~{b}.flac"))).unwrap(), b"song b");
    let kept_ino = std::fs::symlink_metadata(v.join(format!("song~{a}.flac"))).unwrap().ino();
    // A user's own file in the view is never touched.
    std::fs::write(v.join("my-notes.txt"), b"mine").unwrap();

    // Tag changes: one file leaves (the collision goes, so the other becomes plain), one joins.
    e.ok(["untag", "-t", "techno", "lib/b/song.flac"]);
    e.ok(["tag", "-t", "techno", "lib/c/notes.txt"]);
    let out = e.ok(["view", "techno -live", "v"]);
    assert!(String::from_utf8_lossy(&out).contains("2 link(s): 2 added, 2 removed, 0 unchanged"), "{out:?}");
    assert_eq!(
        tree(&v),
        [
            ".trove-view".to_string(),
            "my-notes.txt".to_string(),
            format!("notes.txt -> {}/c/notes.txt", lib.display()),
            format!("song.flac -> {}/a/song.flac", lib.display()),
        ]
    );
    // Run again with nothing changed: nothing is rewritten.
    let ino = std::fs::symlink_metadata(v.join("notes.txt")).unwrap().ino();
    let out = e.ok(["view", "techno -live", "v"]);
    assert!(String::from_utf8_lossy(&out).contains("2 link(s): 0 added, 0 removed, 2 unchanged"), "{out:?}");
    assert_eq!(std::fs::symlink_metadata(v.join("notes.txt")).unwrap().ino(), ino);
    let _ = kept_ino;
    assert_eq!(std::fs::read(v.join("my-notes.txt")).unwrap(), b"mine");
    // The real files are untouched.
    assert_eq!(std::fs::read(e.path("lib/b/song.flac")).unwrap(), b"song b");
}

#[test]
fn a_view_refuses_a_folder_it_did_not_make() {
    let e = env();
    library(&e);
    e.write("mine/keep.txt", b"keep");
    let o = e.run(["view", "techno", "mine"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a trove view") && err.contains("mine"), "{err}");
    assert_eq!(tree(&e.path("mine")), ["keep.txt"]);
    // A file is refused too; an empty folder is adopted.
    e.write("afile", b"x");
    assert_eq!(e.run(["view", "techno", "afile"]).status.code(), Some(2));
    std::fs::create_dir(e.path("empty")).unwrap();
    e.ok(["view", "techno", "empty"]);
    assert!(e.path("empty/.trove-view").exists());
    // A marker that is not ours is not trusted.
    e.write("fake/.trove-view", b"{}");
    e.write("fake/data", b"d");
    assert_eq!(e.run(["view", "techno", "fake"]).status.code(), Some(2));
    assert_eq!(tree(&e.path("fake")), [".trove-view", "data"]);
}

#[test]
fn a_layout_nests_links_by_namespace_with_unknown_for_files_without_one() {
    let e = env();
    let lib = library(&e);
    e.ok(["tag", "-t", "year:2019", "lib/a/live.flac"]);
    e.ok(["view", "techno | rock", "v", "--layout", "{tag:year}/{name}"]);
    let (a, b) = (id_of(&e, "lib/a/song.flac"), id_of(&e, "lib/b/song.flac"));
    assert_eq!(
        tree(&e.path("v")),
        [
            ".trove-view".to_string(),
            "2019/".to_string(),
            format!("2019/live.flac -> {}/a/live.flac", lib.display()),
            format!("2019/song~{a}.flac -> {}/a/song.flac", lib.display()),
            format!("2019/song~{b}.flac -> {}/b/song.flac", lib.display()),
            "2020/".to_string(),
            format!("2020/live.flac -> {}/a/live.flac", lib.display()),
            "_unknown/".to_string(),
            format!("_unknown/notes.txt -> {}/c/notes.txt", lib.display()),
        ]
    );
    // A folder emptied by a refresh goes away.
    e.ok(["untag", "-t", "year:2020", "lib/a/live.flac"]);
    e.ok(["view", "techno | rock", "v", "--layout", "{tag:year}/{name}"]);
    assert!(!e.path("v/2020").exists());
    // A bad layout is an error naming it.
    let o = e.run(["view", "techno", "w", "--layout", "{artist}"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--layout"), "{o:?}");
    assert!(!e.path("w").exists());
}
