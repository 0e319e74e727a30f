//! The acceptance scenario of the core issue, run against the real binary, step by step.

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn acceptance_scenario() {
    let e = env();
    e.write("lib/music/a.flac", b"a\n");
    e.write("lib/music/b.flac", b"b\n");
    e.write("lib/pics/cat.jpg", b"c\n");
    e.write("lib/pics/dog.jpg", b"d\n");
    e.write("lib/pics/x.txt", b"e\n");
    e.ok(["include", "-t", "genre:techno", "lib/music/a.flac"]);
    e.ok(["include", "-t", "genre:house", "-t", "year:2019", "lib/music/b.flac"]);
    e.ok(["include", "-r", "-t", "photo", "lib/pics"]);
    e.ok(["tag", "-t", "animal:cat", "-t", "cute", "lib/pics/cat.jpg"]);
    e.ok(["tag", "-t", "animal:dog", "lib/pics/dog.jpg"]);
    e.ok(["tags", "imply", "animal:cat", "animal"]);
    e.ok(["tags", "imply", "animal:dog", "animal"]);

    assert_eq!(e.find("animal"), (lines(&["lib/pics/cat.jpg", "lib/pics/dog.jpg"]), 0));
    assert_eq!(e.find("photo -animal"), (lines(&["lib/pics/x.txt"]), 0));
    assert_eq!(e.find("(genre:techno | genre:house) year>2015"), (lines(&["lib/music/b.flac"]), 0));
    assert_eq!(e.find("animal:* -cute"), (lines(&["lib/pics/dog.jpg"]), 0));
    assert_eq!(e.find("tags:0"), (vec![], 1));

    e.ok(["untag", "-t", "photo", "lib/pics/x.txt"]);
    assert_eq!(e.find("tags:0"), (lines(&["lib/pics/x.txt"]), 0));

    e.ok(["tags", "rename", "cute", "adorable"]);
    assert_eq!(e.find("adorable"), (lines(&["lib/pics/cat.jpg"]), 0));

    e.ok(["tags", "merge", "animal:dog", "animal:cat"]);
    assert_eq!(e.find("animal:cat"), (lines(&["lib/pics/cat.jpg", "lib/pics/dog.jpg"]), 0));

    e.ok(["mv", "lib/pics/cat.jpg", "lib/pics/kitty.jpg"]);
    assert_eq!(e.find("adorable"), (lines(&["lib/pics/kitty.jpg"]), 0));
    assert!(e.path("lib/pics/kitty.jpg").is_file() && !e.path("lib/pics/cat.jpg").exists());

    std::fs::write(e.path("lib/music/a.flac"), b"a\nmore\n").unwrap();
    let o = e.run(["check"]);
    assert_ne!(o.status.code(), Some(0), "check must fail while a.flac is changed");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("lib/music/a.flac") && out.contains("changed"), "{out}");

    e.ok(["check", "--repair"]);
    assert_eq!(e.find("genre:techno"), (lines(&["lib/music/a.flac"]), 0));
    e.ok(["check"]);
    let hash = blake3::hash(b"a\nmore\n").to_hex().to_string();
    assert_eq!(e.find(&format!("hash:{}", &hash[..12])), (lines(&["lib/music/a.flac"]), 0));

    e.ok(["rm", "-r", "lib/pics"]);
    assert_eq!(e.find("photo"), (vec![], 1));
    let mut left: Vec<_> = std::fs::read_dir(e.path("lib/pics")).unwrap().map(|d| d.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["dog.jpg", "kitty.jpg", "x.txt"]);
}

#[test]
fn find_reports_syntax_errors_with_a_caret() {
    let e = env();
    e.write("f", b"x");
    e.ok(["include", "f"]);
    let o = e.run(["find", "a (b | c"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at byte 8"), "{err}");
    assert!(err.contains("a (b | c\n") && err.contains("        ^"), "{err}");
}

#[test]
fn unknown_tag_is_a_warning_not_an_error() {
    let e = env();
    e.write("f", b"x");
    e.ok(["include", "-t", "a", "f"]);
    let o = e.run(["find", "-nosuchtag"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "f\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nosuchtag: no such tag"));
}

#[test]
fn read_commands_on_a_missing_index_say_so() {
    let e = env();
    let o = e.run(["find", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no index here yet") && err.contains("hint:"), "{err}");
    assert!(!e.index.exists(), "a read command must not create the index");
}

#[test]
fn broken_pipe_exits_quietly() {
    let e = env();
    for i in 0..3000 {
        e.write(format!("d/{i:05}"), b"x");
    }
    e.ok(["include", "-r", "d"]);
    let mut child =
        e.cmd(["find", ""]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Read one byte and hang up.
    use std::io::Read;
    let mut out = child.stdout.take().unwrap();
    let mut b = [0u8; 1];
    out.read_exact(&mut b).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
}
