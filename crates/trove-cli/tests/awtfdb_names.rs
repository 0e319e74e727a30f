//! awtfdb's command names (`trove install-aliases DIR`): each runs its most common form
//! (shared/research/awtfdb.md §2) through the real binary, called by that name.

use std::process::{Command, Output};

use trove_testutil::TestEnv;

struct Names {
    e: TestEnv,
}

impl Names {
    fn new() -> Names {
        let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
        std::fs::create_dir_all(e.path("bin")).unwrap();
        e.ok(["install-aliases", "bin"]);
        Names { e }
    }

    fn run(&self, name: &str, args: &[&str]) -> Output {
        Command::new(self.e.path("bin").join(name))
            .args(args)
            .current_dir(self.e.root())
            .env("TROVE_INDEX", &self.e.index)
            .env("HOME", self.e.root())
            .env_remove("XDG_DATA_HOME")
            .output()
            .unwrap()
    }

    fn ok(&self, name: &str, args: &[&str]) -> String {
        let o = self.run(name, args);
        assert!(o.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    fn trove(&self, args: &[&str]) -> String {
        String::from_utf8(self.e.ok(args)).unwrap()
    }
}

#[test]
fn install_aliases_makes_every_name_and_leaves_other_files_alone() {
    let n = Names::new();
    for name in ["ainclude", "afind", "als", "atags", "arm", "amv"] {
        let target = std::fs::read_link(n.e.path("bin").join(name)).unwrap();
        assert_eq!(target.file_name().unwrap(), "trove", "{name}");
    }
    // Again: nothing to do. A foreign file of that name is kept unless --force.
    n.e.ok(["install-aliases", "bin"]);
    std::fs::create_dir_all(n.e.path("bin2")).unwrap();
    n.e.write("bin2/afind", b"#!/bin/sh\n");
    let o = n.e.run(["install-aliases", "bin2"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(n.e.path("bin2/afind")).unwrap(), b"#!/bin/sh\n");
    n.e.ok(["install-aliases", "--force", "bin2"]);
    assert!(std::fs::read_link(n.e.path("bin2/afind")).is_ok());
}

#[test]
fn ainclude_tags_and_walks_directories() {
    let n = Names::new();
    n.e.write("pics/a.jpg", b"a");
    n.e.write("pics/sub/b.jpg", b"b");
    n.ok("ainclude", &["-t", "photo", "--tag", "holiday", "pics"]);
    assert_eq!(n.trove(&["find", "photo holiday"]), "pics/a.jpg\npics/sub/b.jpg\n");
}

#[test]
fn afind_keeps_afinds_meaning() {
    let n = Names::new();
    n.e.write("a", b"a");
    n.e.write("b", b"b");
    n.e.write("c", b"c");
    n.e.write("untagged", b"u");
    n.trove(&["include", "-t", "cat", "a"]);
    n.trove(&["include", "-t", "cat", "-t", "cute", "b"]);
    n.trove(&["include", "-t", "dog", "c"]);
    n.trove(&["include", "untagged"]);
    assert_eq!(n.ok("afind", &["cat"]), "a\nb\n");
    assert_eq!(n.ok("afind", &["cat", "cute"]), "b\n", "words are joined: AND");
    assert_eq!(n.ok("afind", &["cat | dog"]), "a\nb\nc\n");
    // afind's universe is files with a tag: -cat is not the untagged file.
    assert_eq!(n.ok("afind", &["-cat"]), "c\n");
    let o = n.run("afind", &["-L", "cat"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("afind: -L is not supported by trove"));
}

#[test]
fn als_lists_tags_of_the_current_directory() {
    let n = Names::new();
    n.e.write("d/x.txt", b"x");
    n.trove(&["include", "-r", "-t", "note", "d"]);
    // Not recursive, as in awtfdb: the current directory shows d/.
    assert!(n.ok("als", &[]).starts_with("d/"));
    let out = n.ok("als", &["d"]);
    assert!(out.contains("d/x.txt\tnote"), "{out}");
    assert_eq!(n.ok("als", &["d/x.txt"]), "d/x.txt\tnote\n");
}

#[test]
fn atags_creates_searches_and_makes_parents() {
    let n = Names::new();
    n.ok("atags", &["create", "animal"]);
    n.ok("atags", &["create", "cat"]);
    assert!(n.ok("atags", &["search", "nim"]).contains("animal"));
    n.ok("atags", &["parent", "create", "cat", "animal"]);
    n.e.write("c.jpg", b"c");
    n.trove(&["include", "-t", "cat", "c.jpg"]);
    assert_eq!(n.trove(&["find", "animal"]), "c.jpg\n");
    n.ok("atags", &["pool", "create", "Best of"]);
    assert!(n.trove(&["pool", "list"]).contains("Best of"));
    let o = n.run("atags", &["create", "--core", "00", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn arm_forgets_files_or_removes_tags_without_asking() {
    let n = Names::new();
    for f in ["a", "b"] {
        n.e.write(f, f.as_bytes());
    }
    n.trove(&["include", "-t", "x", "-t", "y", "a", "b"]);
    n.ok("arm", &["-t", "y", "a"]);
    assert_eq!(n.trove(&["find", "y"]), "b\n");
    n.ok("arm", &["b"]);
    assert_eq!(n.trove(&["find", "x"]), "a\n");
    assert!(n.e.path("b").exists(), "arm never touches the disk");
}

#[test]
fn amv_moves_on_disk_and_in_the_index() {
    let n = Names::new();
    n.e.write("old.txt", b"o");
    std::fs::create_dir_all(n.e.path("dir")).unwrap();
    n.trove(&["include", "-t", "t", "old.txt"]);
    n.ok("amv", &["old.txt", "dir"]);
    assert!(n.e.path("dir/old.txt").exists());
    assert_eq!(n.trove(&["find", "t"]), "dir/old.txt\n");
}
