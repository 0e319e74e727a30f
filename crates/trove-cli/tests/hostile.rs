//! Hostile paths go through include, tag, find, ls, mv and rm byte for byte; a FIFO in a
//! recursive include is skipped without blocking.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use trove_testutil::{TestEnv, hostile_names, mkfifo};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn rel(dir: &str, name: &OsString) -> PathBuf {
    PathBuf::from(dir).join(name)
}

#[test]
fn hostile_names_survive_every_command() {
    let e = env();
    let names = hostile_names();
    for (i, n) in names.iter().enumerate() {
        e.write(rel("h", n), format!("content {i}").as_bytes());
    }
    // A directory with hostile characters too, and a sibling that shares its prefix.
    e.write("h%_dir/inner", b"inner");
    e.write("h%_dirx/other", b"other");
    e.ok(["include", "-r", "-t", "hostile", "h"]);
    e.ok(["include", "-r", "h%_dir", "h%_dirx"]);

    for (i, n) in names.iter().enumerate() {
        let p = rel("h", n);
        let tag = format!("n{i}");
        let mut args: Vec<OsString> = vec!["tag".into(), "-t".into(), tag.clone().into(), "--".into()];
        args.push(p.clone().into_os_string());
        e.ok(&args);
        let out = e.ok(["find", "-0", &tag]);
        let mut want = p.as_os_str().as_bytes().to_vec();
        want.push(0);
        assert_eq!(out, want, "find -0 must print the exact bytes of {p:?}");
    }
    // Every file is found, every path exactly once, NUL-separated.
    let out = e.ok(["find", "-0", "hostile"]);
    let mut got: Vec<Vec<u8>> = out.split(|&b| b == 0).filter(|s| !s.is_empty()).map(<[u8]>::to_vec).collect();
    let mut want: Vec<Vec<u8>> = names.iter().map(|n| rel("h", n).as_os_str().as_bytes().to_vec()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // ls shows every file with its tag, raw bytes kept.
    let ls = e.ok(["ls", "h"]);
    for (i, n) in names.iter().enumerate() {
        let mut line = rel("h", n).as_os_str().as_bytes().to_vec();
        line.extend_from_slice(format!("\thostile, n{i}\n").as_bytes());
        assert!(ls.windows(line.len()).any(|w| w == line.as_slice()), "ls lacks {:?}", String::from_utf8_lossy(&line));
    }
    // --json carries the exact bytes as hex for non-UTF-8 names.
    let js = String::from_utf8(e.ok(["ls", "--json", "h"])).unwrap();
    assert!(js.contains("2f682f636166e92d6c6174696e312e747874\""), "{js}");

    // The prefix sibling is not "under" the hostile dir.
    let ls = String::from_utf8_lossy(&e.ok(["ls", "-r", "h%_dir"])).into_owned();
    assert!(ls.contains("h%_dir/inner") && !ls.contains("other"), "{ls}");

    // mv each hostile file to another hostile name; tags follow.
    std::fs::create_dir(e.path("moved")).unwrap();
    for (i, n) in names.iter().enumerate() {
        let mut to = b"m-".to_vec();
        to.extend_from_slice(&n.as_bytes()[..n.len().min(200)]);
        let to = PathBuf::from("moved").join(OsString::from_vec(to));
        e.ok([OsString::from("mv"), "--".into(), rel("h", n).into_os_string(), to.clone().into_os_string()]);
        let out = e.ok(["find", "-0", &format!("n{i}")]);
        let mut want = to.as_os_str().as_bytes().to_vec();
        want.push(0);
        assert_eq!(out, want);
        assert!(e.path(&to).exists());
    }
    // A directory with hostile names moves with its records.
    e.ok(["mv", "h%_dir", "moved/d*ir [x]"]);
    let out = String::from_utf8_lossy(&e.ok(["find", "path:*/d\\*ir*"])).into_owned();
    assert_eq!(out, "moved/d*ir [x]/inner\n");
    let out = String::from_utf8_lossy(&e.ok(["ls", "-r", "h%_dirx"])).into_owned();
    assert!(out.contains("h%_dirx/other"), "the sibling keeps its path: {out}");

    // rm forgets them all and leaves the disk alone.
    e.ok(["rm", "-r", "moved"]);
    let o = e.run(["find", "hostile"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(e.path("moved")).unwrap().count(), names.len() + 1);
}

#[test]
fn fifo_in_recursive_include_is_skipped_without_blocking() {
    let e = env();
    e.write("d/a.txt", b"a");
    mkfifo(&e.path("d/pipe"));
    std::os::unix::fs::symlink(e.path("d/a.txt"), e.path("d/link")).unwrap();
    let start = Instant::now();
    let mut child = e.cmd(["include", "-r", "d"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "include blocked on a FIFO");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 added") && err.contains("skipped 1 symlink(s) and 1 special file(s)"), "{err}");
    assert_eq!(e.ok(["find", ""]), b"d/a.txt\n");
    // Named explicitly, a FIFO is refused (not opened) and the run says so.
    let o = e.run(["include", "d/pipe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a regular file (fifo)"));
}

#[test]
fn one_bad_file_does_not_stop_the_run() {
    let e = env();
    e.write("ok1", b"1");
    e.write("ok2", b"2");
    let o = e.run(["include", "ok1", "does-not-exist", "ok2"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does-not-exist: No such file"), "{err}");
    assert_eq!(e.find("").0, ["ok1", "ok2"]);
}

#[test]
fn tagging_an_unindexed_path_includes_it_and_says_so() {
    let e = env();
    e.write("new.txt", b"n");
    let o = e.run(["tag", "-t", "fresh", "new.txt"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("included new.txt"));
    assert_eq!(e.find("fresh").0, ["new.txt"]);
    // tag --query tags every match
    e.write("other.txt", b"o");
    e.ok(["include", "other.txt"]);
    e.ok(["tag", "--query", "tags:0", "-t", "was-untagged"]);
    assert_eq!(e.find("was-untagged").0, ["other.txt"]);
}

#[test]
fn mv_refuses_to_overwrite_without_force_and_keeps_both_records_tags() {
    let e = env();
    e.write("a", b"a");
    e.write("b", b"b");
    e.ok(["include", "-t", "ta", "a"]);
    e.ok(["include", "-t", "tb", "b"]);
    let o = e.run(["mv", "a", "b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    e.ok(["mv", "-f", "a", "b"]);
    assert_eq!(e.find("ta").0, ["b"]);
    assert_eq!(e.find("tb missing").0, ["b"], "the replaced file's record is missing, tags kept");
    assert_eq!(std::fs::read(e.path("b")).unwrap(), b"a");
    // several sources into a directory
    e.write("c", b"c");
    e.write("d", b"d");
    e.ok(["include", "-t", "cd", "c", "d"]);
    std::fs::create_dir(e.path("dir")).unwrap();
    e.ok(["mv", "c", "d", "dir"]);
    assert_eq!(e.find("cd").0, ["dir/c", "dir/d"]);
    let o = e.run(["mv", "dir", "dir/sub"]);
    assert_eq!(o.status.code(), Some(2));
}
