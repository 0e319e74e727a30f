//! What a new user meets in the first hour (issue 7): flags after the query, bulk removal
//! without a question, silent commands, dry runs that list everything, unclear messages
//! about the index file. One test per behaviour, named after it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two tagged files and an untagged one.
fn small() -> TestEnv {
    let e = env();
    e.write("lib/a.txt", b"aaaa");
    e.write("lib/b.txt", b"bb");
    e.write("lib/c.txt", b"c");
    e.ok(["include", "-t", "x", "lib/a.txt", "lib/b.txt"]);
    e.ok(["include", "lib/c.txt"]);
    e
}

#[test]
fn flags_after_the_query_are_flags() {
    let e = small();
    assert_eq!(stdout(&e.run(["find", "x", "-c"])), "2\n");
    assert_eq!(stdout(&e.run(["find", "x", "--count"])), "2\n");
    let o = e.run(["find", "sort:-size", "limit:5", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no such tag"), "{}", stderr(&o));
    let lines: Vec<_> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with('{') && lines[0].contains("a.txt"), "{lines:?}");
    assert_eq!(stdout(&e.run(["find", "x", "--limit", "1", "-c"])), "1\n");
    assert_eq!(stdout(&e.run(["find", "x", "--limit=1"])).lines().count(), 1);
    // A term spelled like a flag goes after `--` (or inside one quoted query).
    let o = e.run(["find", "-c", "--", "-c"]);
    assert_eq!(stdout(&o), "3\n", "{}", stderr(&o));
    assert!(stderr(&o).contains("c: no such tag"));
    assert_eq!(stdout(&e.run(["find", "-c", "x -c"])), "2\n");
    // Terms that are no flag stay terms wherever they stand.
    assert_eq!(stdout(&e.run(["find", "-x", "-c"])), "1\n");
    // `--help` is a flag after the query too.
    let o = e.run(["find", "x", "--help"]);
    assert!(stdout(&o).contains("Query language"));
}

#[test]
fn find_help_explains_flags_versus_terms() {
    let e = env();
    let help = stdout(&e.run(["find", "--help"]));
    assert!(help.contains("after `--`"), "{help}");
}

#[test]
fn tag_and_untag_take_a_query_that_starts_with_a_dash() {
    let e = small();
    let o = e.run(["tag", "-t", "loose", "-q", "-x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.find("loose").0, ["lib/c.txt"]);
    let o = e.run(["untag", "-t", "x", "-q", "x sort:path limit:1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 tag link(s) removed from 1 file(s)"), "{}", stderr(&o));
    assert_eq!(e.find("x").0, ["lib/b.txt"]);
}

#[test]
fn rm_of_many_files_needs_a_confirmation() {
    let e = env();
    for i in 0..25 {
        e.write(format!("big/{i}.txt"), format!("{i}").as_bytes());
    }
    e.ok(["include", "-r", "-t", "keep", "big"]);
    // Not a terminal and no --yes: refused, nothing forgotten.
    let o = e.run(["rm", "-r", "big"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("would forget 25 file(s) and their 25 tag link(s)"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    assert_eq!(e.find("keep").0.len(), 25);
    // A dry run says the same and changes nothing.
    let o = e.run(["rm", "-r", "--dry-run", "big"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("would forget 25 file(s)"), "{}", stderr(&o));
    assert_eq!(e.find("keep").0.len(), 25);
    // A few files need no question.
    let o = e.run(["rm", "big/0.txt"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.run(["rm", "-r", "--yes", "big"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("24 file(s) forgotten with 24 tag link(s)"), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be restored"), "{}", stderr(&o));
    assert_eq!(e.find("keep").1, 1);
}

#[test]
fn ls_of_a_directory_with_only_subdirectories_lists_them() {
    let e = env();
    e.write("top/s1/a", b"a");
    e.write("top/s2/b", b"b");
    e.write("top/s2/deep/c", b"c");
    e.ok(["include", "-r", "top"]);
    let out = String::from_utf8(e.ok(["ls", "top"])).unwrap();
    assert_eq!(out, "top/s1/\t1 file(s) inside (ls -r lists them)\ntop/s2/\t2 file(s) inside (ls -r lists them)\n");
    let out = String::from_utf8(e.ok(["ls", "top/s2"])).unwrap();
    assert!(out.starts_with("top/s2/b\n"), "{out}");
    assert!(out.contains("top/s2/deep/\t1 file(s)"), "{out}");
    assert_eq!(String::from_utf8(e.ok(["ls", "-r", "top"])).unwrap().lines().count(), 3);
}

#[test]
fn include_dry_run_lists_only_what_would_change() {
    let e = small();
    e.write("lib/new.txt", b"new");
    let o = e.run(["include", "-n", "-t", "fresh", "lib/a.txt", "lib/b.txt", "lib/c.txt", "lib/new.txt"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("add lib/new.txt"), "{err}");
    assert!(!err.contains("keep"), "{err}");
    assert!(err.contains("1 would be added, 0 would be updated, 3 unchanged"), "{err}");
    assert!(err.contains("would create tag(s): fresh"), "{err}");
    assert!(!err.contains("new tag(s)"), "{err}");
    // Nothing was written.
    assert_eq!(e.find("fresh").1, 1);
    assert!(!String::from_utf8(e.ok(["tags"])).unwrap().contains("fresh"));
}

#[test]
fn commands_that_change_something_say_what_happened() {
    let e = small();
    let said = |args: &[&str], want: &str| {
        let o = e.run(args);
        assert!(o.status.success(), "trove {args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "trove {args:?} should say {want:?}, said {:?}", stderr(&o));
    };
    said(&["tags", "imply", "x", "letter"], "x ⇒ letter");
    said(&["tags", "unimply", "x", "letter"], "x no longer implies letter");
    said(&["tags", "alias", "x", "ex"], "ex is now another name for x");
    said(&["tags", "unalias", "ex"], "ex is no longer a name");
    said(&["pool", "create", "Best"], "pool Best created");
    said(&["pool", "add", "Best", "lib/a.txt"], "1 file(s) added to Best");
    said(&["pool", "delete", "Best"], "pool Best deleted; its 1 file(s) stay indexed");
    said(&["mv", "lib/a.txt", "lib/a2.txt"], "moved lib/a.txt to lib/a2.txt (1 record(s) updated)");
    e.write("lib/loose", b"not indexed");
    said(&["mv", "lib/loose", "lib/loose2"], "moved lib/loose to lib/loose2 on disk only: it is not in the index");
}

#[test]
fn pool_add_of_a_directory_needs_r() {
    let e = small();
    e.ok(["pool", "create", "P"]);
    let o = e.run(["pool", "add", "P", "lib"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("lib: is a directory (use -r)"), "{}", stderr(&o));
    assert!(e.run(["pool", "show", "P"]).stdout.is_empty());
    let o = e.run(["pool", "add", "-r", "P", "lib"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&e.run(["pool", "show", "P"])).lines().count(), 3);
}

#[test]
fn tags_alone_lists_tags_with_implied_counts() {
    let e = small();
    e.ok(["tags", "imply", "x", "letter"]);
    let out = String::from_utf8(e.ok(["tags"])).unwrap();
    assert_eq!(out, "       0  letter (2 with implied)\n       2  x\n");
    assert_eq!(out, String::from_utf8(e.ok(["tags", "list"])).unwrap());
    let json = String::from_utf8(e.ok(["tags", "list", "--json"])).unwrap();
    assert!(json.contains(r#""files":0"#) && json.contains(r#""with_implied":2"#), "{json}");
    let show = String::from_utf8(e.ok(["tags", "show", "letter"])).unwrap();
    assert!(show.contains("files:    0 (2 with implied)"), "{show}");
    // Sorting by count sorts the first column: direct links.
    e.ok(["tag", "-t", "y", "lib/c.txt"]);
    let out = String::from_utf8(e.ok(["tags", "list", "--sort", "count"])).unwrap();
    assert_eq!(out, "       2  x\n       1  y\n       0  letter (2 with implied)\n");
}

#[test]
fn tags_alias_help_explains_its_arguments() {
    let e = env();
    let help = stdout(&e.run(["tags", "alias", "--help"]));
    assert!(help.contains("The tag (any of its names)") && help.contains("The new name"), "{help}");
}

#[test]
fn tagging_a_file_that_does_not_exist_says_no_such_file() {
    let e = small();
    let o = e.run(["tag", "-t", "x", "nope.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.txt: no such file"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("entity"), "{}", stderr(&o));
}

#[test]
fn an_index_path_that_is_a_directory_is_named_as_such() {
    let e = small();
    let o = e.cmd(["find", "x"]).env("TROVE_INDEX", e.root()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used as the index: it is a directory"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("disk I/O"), "{}", stderr(&o));
}

/// Runs trove as the unprivileged user `nobody` (needs root to switch: the tests that call
/// it are `#[ignore]`d and run by `.ci/run`'s root run).
fn as_nobody(e: &TestEnv, args: &[&str], index: &std::path::Path) -> std::process::Output {
    assert!(unsafe_is_root(), "switching to another user needs root");
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_trove")])
        .args(args)
        .current_dir(e.root())
        .env("TROVE_INDEX", index)
        .env("HOME", e.root());
    c.output().expect("setpriv")
}

fn unsafe_is_root() -> bool {
    String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0"
}

#[test]
#[ignore = "needs root: run as root with `cargo test -- --ignored`"]
fn a_read_only_index_can_be_read_and_says_why_it_cannot_be_written() {
    let e = small();
    // The index in a directory nobody may write, the file itself read-only.
    let ro = e.path("ro");
    std::fs::create_dir(&ro).unwrap();
    let index = ro.join("index.db");
    e.ok(["backup".as_ref(), index.as_os_str()]);
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(e.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = as_nobody(&e, &["find", "x"], &index);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "lib/a.txt\nlib/b.txt\n");
    let o = as_nobody(&e, &["tag", "-t", "y", "lib/a.txt"], &index);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the index is read-only for this user"), "{}", stderr(&o));
    // An index this user may not even read.
    let secret = e.path("secret.db");
    std::fs::copy(&e.index, &secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = as_nobody(&e, &["find", "x"], &secret);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used as the index: cannot be read (permission denied)"), "{}", stderr(&o));
}

#[test]
fn stats_shows_human_sizes() {
    let e = env();
    e.write("big.bin", &vec![7u8; 3 * 1024 * 1024]);
    e.ok(["include", "big.bin"]);
    let out = String::from_utf8(e.ok(["stats"])).unwrap();
    assert!(out.contains("3.0M (3145728 bytes) on disk"), "{out}");
    assert!(out.contains("index size:   ") && out.contains("k ("), "{out}");
}

#[test]
fn concurrent_includes_on_a_fresh_index_wait_instead_of_failing() {
    for round in 0..6 {
        let e = env();
        e.write("one/a", b"a");
        e.write("two/b", b"b");
        let run = |t: &str| e.cmd(["include", "-r", "-t", t, t]).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let (a, b) = (run("one"), run("two"));
        for (name, child) in [("one", a), ("two", b)] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}, include {name}: {:?} {}", o.status, stderr(&o));
        }
        assert_eq!(e.find("one | two").0, ["one/a", "two/b"]);
    }
}

#[test]
fn sort_pool_gives_a_pools_own_order() {
    let e = small();
    e.ok(["pool", "create", "Mix"]);
    e.ok(["pool", "add", "Mix", "lib/c.txt", "lib/a.txt", "lib/b.txt"]);
    let lines = |q: &str| String::from_utf8(e.ok(["find", q])).unwrap();
    assert_eq!(lines("pool:mix"), "lib/a.txt\nlib/b.txt\nlib/c.txt\n");
    assert_eq!(lines("pool:Mix sort:pool"), "lib/c.txt\nlib/a.txt\nlib/b.txt\n");
    assert_eq!(lines("pool:Mix sort:-pool"), "lib/b.txt\nlib/a.txt\nlib/c.txt\n");
    assert_eq!(lines("pool:Mix x sort:pool"), "lib/a.txt\nlib/b.txt\n");
    let o = e.run(["find", "x sort:pool"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sort:pool needs exactly one pool:TITLE term"), "{}", stderr(&o));
}

#[test]
fn sort_pool_with_count_counts() {
    let e = small();
    e.ok(["pool", "create", "Q"]);
    e.ok(["pool", "add", "Q", "lib/b.txt", "lib/a.txt"]);
    assert_eq!(stdout(&e.run(["find", "pool:Q sort:pool", "-c"])), "2\n");
    assert_eq!(stdout(&e.run(["find", "pool:Q x sort:-pool limit:1", "-c"])), "1\n");
    assert_eq!(stdout(&e.run(["find", "pool:nothere sort:pool", "-c"])), "0\n");
}

#[test]
fn ls_of_the_root_directory_keeps_child_names_whole() {
    let e = small();
    let out = String::from_utf8(e.ok(["ls", "/"])).unwrap();
    let first =
        e.root().canonicalize().unwrap().components().nth(1).unwrap().as_os_str().to_string_lossy().into_owned();
    assert!(out.starts_with(&format!("/{first}/\t")), "{out}");
}

#[test]
fn version_flags_and_mistyped_long_flags_in_find_are_not_swallowed() {
    let e = small();
    let o = e.run(["find", "x", "-V"]);
    assert!(!stderr(&o).contains("-V --"), "{}", stderr(&o));
    // -V is no flag of find: a term ("without V"), as any other unknown short word.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2);
    let o = e.run(["find", "x", "--jso"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--jso"), "{}", stderr(&o));
    // After `--` it is a term.
    let o = e.run(["find", "-c", "--", "x", "--x"]);
    assert_eq!(stdout(&o), "2\n", "{}", stderr(&o));
}

#[test]
fn include_dry_run_counts_the_links_it_would_add() {
    let e = small();
    let o = e.run(["include", "-n", "-t", "x", "-t", "fresh", "lib/a.txt", "lib/c.txt"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // a.txt has x already: fresh only; c.txt gets both.
    assert!(stderr(&o).contains("3 tag link(s) would be added"), "{}", stderr(&o));
}

#[test]
fn a_read_command_does_not_turn_an_empty_file_into_an_index() {
    let e = env();
    std::fs::write(&e.index, b"").unwrap();
    let o = e.run(["find"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no index here yet"), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&e.index).unwrap().len(), 0);
}

#[test]
fn odd_index_paths_get_clear_messages() {
    let e = small();
    let o = e.cmd(["find", "x"]).env("TROVE_INDEX", "/dev/null").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/dev/null: cannot be used as the index: it is not a regular file"), "{}", stderr(&o));
    // An empty TROVE_INDEX is unset: the default index under HOME (none yet).
    let o = e.cmd(["find", "x"]).env("TROVE_INDEX", "").output().unwrap();
    assert!(stderr(&o).contains("no index here yet"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("a value is required"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs root: run as root with `cargo test -- --ignored`"]
fn a_read_by_another_user_leaves_the_owner_able_to_write() {
    let e = small();
    // The index in a world-writable sticky directory, readable by everyone.
    let shared = e.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(e.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let index = shared.join("index.db");
    e.ok(["backup".as_ref(), index.as_os_str()]);
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = as_nobody(&e, &["find", "-c", "x"], &index);
    assert_eq!(stdout(&o), "2\n", "{}", stderr(&o));
    for side in ["index.db-wal", "index.db-shm"] {
        assert!(!shared.join(side).exists(), "a reader left {side} behind");
    }
    let o = e.cmd(["tag", "-t", "y", "lib/a.txt"]).env("TROVE_INDEX", &index).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
#[ignore = "needs root: run as root with `cargo test -- --ignored`"]
fn check_repair_on_a_read_only_index_fails_once_up_front() {
    let e = small();
    std::fs::write(e.path("lib/a.txt"), b"changed content").unwrap();
    let ro = e.path("ro");
    std::fs::create_dir(&ro).unwrap();
    let index = ro.join("index.db");
    e.ok(["backup".as_ref(), index.as_os_str()]);
    for (p, m) in [(&index, 0o444), (&ro, 0o755), (&e.root().to_path_buf(), 0o755)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let o = as_nobody(&e, &["check", "--repair"], &index);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("read-only").count(), 1, "{}", stderr(&o));
}

#[test]
fn failures_are_errors_without_a_zero_summary_first() {
    let e = small();
    let o = e.run(["rm", "lib"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("forgotten"), "{}", stderr(&o));
    assert!(stderr(&o).contains("lib: is a directory (use -r)"), "{}", stderr(&o));
    let o = e.run(["untag", "-t", "x", "nope.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("trove: nope.txt: not in the index"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning: nope.txt"), "{}", stderr(&o));
    e.ok(["pool", "create", "P"]);
    let o = e.run(["pool", "add", "P", "lib"]);
    assert!(!stderr(&o).contains("0 file(s) added"), "{}", stderr(&o));
}

#[test]
fn small_surprises_of_the_review() {
    let e = small();
    // A tag cannot imply itself, and the message says so.
    let o = e.run(["tags", "imply", "x", "X"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot imply itself"), "{}", stderr(&o));
    // Unimplying what was never declared changes nothing and is no failure.
    e.ok(["tags", "create", "letter"]);
    let o = e.run(["tags", "unimply", "x", "letter"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // tag -q that matches nothing creates no tag.
    e.ok(["tag", "-t", "ghost", "-q", "nothing-has-this"]);
    assert!(!String::from_utf8(e.ok(["tags"])).unwrap().contains("ghost"));
    // `trove tags` takes the list options.
    assert!(e.run(["tags", "--sort", "count", "--json"]).status.success());
    // Moving several unindexed files says they were moved on disk only.
    e.write("u1", b"1");
    e.write("u2", b"2");
    std::fs::create_dir(e.path("tgt")).unwrap();
    let o = e.run(["mv", "u1", "u2", "tgt"]);
    assert!(stderr(&o).contains("on disk only"), "{}", stderr(&o));
    // A huge query error shows a window, not the whole query.
    let q = format!("{} (", "word ".repeat(2_000));
    let o = e.run(["find", &q]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).len() < 1_000, "{} bytes of error", stderr(&o).len());
    assert!(stderr(&o).contains('…'), "{}", stderr(&o));
}

#[test]
fn ls_says_which_files_are_outside_every_root() {
    let e = env();
    e.write("lib/in.txt", b"in");
    e.write("loose/out.txt", b"out");
    e.ok(["include", "-r", "lib"]);
    e.ok(["include", "loose/out.txt"]);
    let o = e.run(["ls", "-r", "lib", "loose"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "lib/in.txt\nloose/out.txt [outside every root]\n");
    assert!(stderr(&o).contains("1 file(s) above are outside every root"), "{}", stderr(&o));
    let json = String::from_utf8(e.ok(["ls", "--json", "loose/out.txt"])).unwrap();
    assert!(json.contains(r#""tracked":false"#), "{json}");
}

#[test]
fn backup_writes_a_complete_copy_and_never_overwrites() {
    use std::os::unix::ffi::OsStrExt;
    let e = small();
    e.ok(["tag", "-t", "fresh", "lib/a.txt"]);
    // A closed index is one file: no WAL is left behind to pair with a restored copy.
    let wal = std::path::PathBuf::from(format!("{}-wal", e.index.display()));
    assert!(!wal.exists(), "a closed index leaves no WAL");
    let dest = e.root().join(std::ffi::OsStr::from_bytes(b"-copy \xff%_*.db"));
    e.ok(["backup".as_ref(), dest.as_os_str()]);
    let o = e.cmd(["find", "fresh"]).env("TROVE_INDEX", &dest).output().unwrap();
    assert_eq!(stdout(&o), "lib/a.txt\n", "{}", stderr(&o));
    let o = e.cmd(["find", "-c", ""]).env("TROVE_INDEX", &dest).output().unwrap();
    assert_eq!(stdout(&o), "3\n", "{}", stderr(&o));
    // An existing file is never overwritten.
    let before = std::fs::read(&dest).unwrap();
    let o = e.run(["backup".as_ref(), dest.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists; a backup goes to a new file"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&dest).unwrap(), before);
    // A directory that does not exist is named.
    let o = e.run(["backup", "no/such/dir/copy.db"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));
}
