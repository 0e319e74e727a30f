//! Roots as watched folders, against the real binary: auto-include and its switch, ignore
//! files, trove's own files, pseudo filesystems, symlinks named on the command line, a
//! watcher whose index or root goes away, and temp files left by a killed `trove mv`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trove_testutil::{TestEnv, wait_for};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every indexed path (present or missing), relative to the env's directory.
fn indexed(e: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> =
        String::from_utf8_lossy(&e.ok(["find", "path:* | missing"])).lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn reconcile_indexes_new_files_under_a_root_untagged() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    e.write("lib/sub/b", b"b");
    let o = e.ok(["reconcile"]);
    assert!(String::from_utf8_lossy(&o).contains("added     lib/sub/b"), "{}", String::from_utf8_lossy(&o));
    assert_eq!(e.find("tags:0"), (vec!["lib/sub/b".to_string()], 0));
    assert_eq!(e.find("old"), (vec!["lib/a".to_string()], 0));
}

#[test]
fn auto_include_off_leaves_new_files_out() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "lib"]);
    e.ok(["roots", "set", "--auto-include", "off", "lib"]);
    let list = String::from_utf8_lossy(&e.ok(["roots", "list"])).into_owned();
    assert!(list.contains("auto-include off"), "{list}");
    e.write("lib/b", b"b");
    e.ok(["reconcile"]);
    assert_eq!(indexed(&e), vec!["lib/a"]);
    e.ok(["roots", "set", "--auto-include", "on", "lib"]);
    e.ok(["reconcile"]);
    assert_eq!(indexed(&e), vec!["lib/a", "lib/b"]);
    let o = e.run(["roots", "set", "--auto-include", "off", "elsewhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("elsewhere: not a root"), "{}", stderr_of(&o));
}

#[test]
fn include_r_honours_troveignore_files_and_the_global_list() {
    let e = env();
    e.write("lib/.troveignore", b"*.tmp\nbuild/\n");
    e.write("lib/sub/.troveignore", b"!keep.tmp\n");
    e.write("lib/a.tmp", b"1");
    e.write("lib/sub/keep.tmp", b"2");
    e.write("lib/build/out", b"3");
    e.write("lib/song.flac", b"4");
    e.write("lib/old.bak", b"5");
    e.ok(["roots", "ignore", "*.bak"]);
    assert_eq!(e.ok(["roots", "ignore"]), b"*.bak\n");
    let o = e.run(["include", "-r", "lib"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("3 ignored"), "{}", stderr_of(&o));
    assert_eq!(indexed(&e), vec!["lib/.troveignore", "lib/song.flac", "lib/sub/.troveignore", "lib/sub/keep.tmp"]);
    // Named explicitly, an ignored file is still included.
    e.ok(["include", "lib/a.tmp"]);
    assert!(indexed(&e).contains(&"lib/a.tmp".to_string()));
    e.ok(["roots", "ignore", "--rm", "*.bak"]);
    assert_eq!(e.ok(["roots", "ignore"]), b"");
    e.ok(["reconcile"]);
    assert!(indexed(&e).contains(&"lib/old.bak".to_string()), "reconcile picks it up once it is not ignored");
}

#[test]
fn reconcile_keeps_tracking_files_indexed_before_their_directory_was_ignored() {
    let e = env();
    e.write("lib/build/out", b"3");
    e.ok(["include", "-r", "-t", "t", "lib"]);
    e.write("lib/.troveignore", b"build/\n");
    e.write("lib/build/new", b"4");
    e.ok(["reconcile"]);
    assert_eq!(e.find("t"), (vec!["lib/build/out".to_string()], 0), "not made missing by the ignore");
    assert!(!indexed(&e).contains(&"lib/build/new".to_string()));
}

#[test]
fn own_index_files_are_never_indexed_even_inside_a_root() {
    let e = env();
    e.write("a", b"a");
    // The env's directory holds the index: make it a root.
    e.ok(["include", "-r", "."]);
    e.write("b", b"b");
    e.ok(["reconcile"]);
    assert_eq!(indexed(&e), vec!["a", "b"], "no index.db, -wal, -shm, .watch.lock");
    let o = e.run(["include", "index.db"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("index.db: trove's own index file"), "{}", stderr_of(&o));
    let child = e.watch("inotify");
    e.write("c", b"c");
    wait_for("the new file is indexed", || indexed(&e).contains(&"c".to_string()));
    // Commits by the daemon and by CLI writers touch the index files all the time.
    for i in 0..5 {
        e.ok(["tag", "-t", &format!("t{i}"), "a"]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(indexed(&e), vec!["a", "b", "c"]);
    let log = child.stop();
    assert!(!log.contains("index.db"), "{log}");
}

#[test]
fn include_refuses_pseudo_filesystems() {
    let e = env();
    let t = Instant::now();
    let o = e.run(["include", "-r", "/proc/self"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("pseudo filesystem (proc)"), "{}", stderr_of(&o));
    assert!(t.elapsed() < Duration::from_secs(10), "refused at once");
    let o = e.run(["roots", "add", "/sys/kernel"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("pseudo filesystem (sysfs)"), "{}", stderr_of(&o));
}

#[test]
#[ignore = "needs root: run as root with `cargo test -- --ignored`"]
fn include_r_skips_a_pseudo_filesystem_mounted_inside_the_tree() {
    assert!(is_root(), "mounting proc needs root");
    let e = env();
    e.write("lib/a", b"a");
    let p = e.path("lib/p");
    std::fs::create_dir_all(&p).unwrap();
    assert!(Command::new("mount").args(["-t", "proc", "proc"]).arg(&p).status().unwrap().success());
    let o = e.run(["include", "-r", "lib"]);
    let _ = Command::new("umount").arg("-l").arg(&p).status();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("lib/p: skipped, a pseudo filesystem (proc)"), "{}", stderr_of(&o));
    assert_eq!(indexed(&e), vec!["lib/a"]);
}

#[test]
fn include_r_through_a_symlink_says_where_it_leads_and_roots_the_target() {
    let e = env();
    e.write("real/a", b"a");
    std::os::unix::fs::symlink(e.path("real"), e.path("link")).unwrap();
    let o = e.run(["include", "-r", "link"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let real = e.root().canonicalize().unwrap().join("real");
    let err = stderr_of(&o);
    assert!(err.contains(&format!("link → {}", real.display())), "{err}");
    assert!(err.contains("now a root"), "{err}");
    assert_eq!(e.ok(["roots", "list"]), format!("{}\n", real.display()).into_bytes());
    assert_eq!(indexed(&e), vec!["real/a"]);
}

#[test]
fn include_r_through_a_link_to_slash_refuses_proc_below_it() {
    // Only the announcement is checked here: walking all of / is not a unit test. The walk
    // itself is the same code as for any link, which skips pseudo filesystems.
    let e = env();
    std::os::unix::fs::symlink("/", e.path("all")).unwrap();
    let o = e.run(["include", "-r", "--dry-run", "all/proc/self"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("pseudo filesystem (proc)"), "{}", stderr_of(&o));
}

#[test]
fn watcher_stops_with_a_message_when_its_index_is_deleted() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "lib"]);
    let mut child = e.watch("inotify");
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", e.index.display()));
    }
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.child().try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(8), "the watcher kept running on a deleted index");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(2));
    let err = child.log();
    assert!(err.contains("the index file was deleted; stopping"), "{err}");
}

#[test]
fn watcher_reopens_an_index_replaced_under_it() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "-t", "t", "lib"]);
    let mut child = e.watch("inotify");
    // A restored copy renamed over the index (as a backup restore does).
    let copy = e.path("copy.db");
    let c = rusqlite::Connection::open(&e.index).unwrap();
    c.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
    drop(c);
    std::fs::rename(&copy, &e.index).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::rename(e.path("lib/a"), e.path("lib/b")).unwrap();
    child.wait_for("the rename is recorded in the new index", || e.find("t").0 == vec!["lib/b".to_string()]);
    let log = child.stop();
    assert!(log.contains("the index file was replaced; reopening it"), "{log}");
}

#[test]
fn watcher_says_when_a_root_disappears_and_comes_back() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "lib"]);
    let child = e.watch("inotify");
    // Deleted (a rename would be followed: see the tracking suite), then restored.
    std::fs::remove_dir_all(e.path("lib")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    e.write("lib/a", b"a");
    std::thread::sleep(Duration::from_millis(1500));
    let log = child.stop();
    assert!(log.contains("lib: the root is gone"), "{log}");
    assert!(log.contains("lib: the root is back"), "{log}");
}

const LEFTOVER: &str = ".trove-mv-4194999-song.flac";

#[test]
fn check_reports_and_repairs_a_temp_file_left_by_a_killed_mv() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "lib"]);
    e.write(format!("lib/sub/{LEFTOVER}"), b"half a copy");
    let o = e.run(["check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("lib/sub/{LEFTOVER}: temporary copy left by a killed `trove mv`")), "{out}");
    assert!(!indexed(&e).iter().any(|p| p.contains(".trove-mv-")), "never indexed either");
    let o = e.run(["check", "--repair"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("— removed"));
    assert!(!e.path(format!("lib/sub/{LEFTOVER}")).exists());
    assert_eq!(e.run(["check"]).status.code(), Some(0));
}

#[test]
fn mv_cleans_up_a_temp_file_left_by_a_killed_mv() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "lib"]);
    e.write(format!("lib/dst/{LEFTOVER}"), b"half a copy");
    let o = e.run(["mv", "lib/a", "lib/dst/a"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("removed a temporary copy left by a killed `trove mv`"), "{}", stderr_of(&o));
    assert!(!e.path(format!("lib/dst/{LEFTOVER}")).exists());
    // A live mv's copy is not touched: the pid of this test is alive.
    let mine = format!(".trove-mv-{}-x", std::process::id());
    e.write(format!("lib/dst/{mine}"), b"in flight");
    e.ok(["mv", "lib/dst/a", "lib/dst/b"]);
    assert!(e.path(format!("lib/dst/{mine}")).exists());
}

#[test]
fn check_status_and_include_say_when_files_are_outside_every_root() {
    let e = env();
    e.write("lib/a", b"a");
    e.write("loose/b", b"b");
    e.ok(["include", "-r", "lib"]);
    e.ok(["include", "loose/b"]);
    let o = e.run(["check"]);
    assert!(stderr_of(&o).contains("1 file(s) indexed outside every root"), "{}", stderr_of(&o));
    let o = e.run(["status"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("untracked:  1 file(s) indexed outside every root"));
    let o = e.run(["include", "loose/b"]);
    assert!(stderr_of(&o).contains("hint: `trove roots add loose`"), "{}", stderr_of(&o));
}

/// Every tagged record's prefix: how many lie under `a`, how many under `b`.
fn prefixes(e: &TestEnv, a: &str, b: &str) -> (usize, usize) {
    let index = trove_core::Index::open(&e.index, trove_core::OpenMode::Existing).unwrap();
    assert_eq!(index.integrity_problems().unwrap(), None);
    let root = e.root().canonicalize().unwrap();
    let recs = trove_core::ops::find::find(&index, "t | missing").unwrap();
    let n = |d: &str| recs.iter().filter(|r| r.path.starts_with(root.join(d))).count();
    (n(a), n(b))
}

#[test]
fn roots_mv_moves_the_root_and_every_record_and_round_trips() {
    let e = env();
    e.write("A/x", b"x");
    e.write("A/sub/y", b"y");
    e.ok(["include", "-r", "-t", "t", "A"]);
    std::fs::rename(e.path("A"), e.path("B")).unwrap();
    let o = e.run(["roots", "mv", "A", "B"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("A -> B: root moved, 2 record(s) followed"), "{}", stderr_of(&o));
    assert_eq!(e.find("t").0, ["B/sub/y", "B/x"]);
    let root = e.root().canonicalize().unwrap();
    assert_eq!(e.ok(["roots", "list"]), format!("{}\n", root.join("B").display()).into_bytes());
    std::fs::rename(e.path("B"), e.path("A")).unwrap();
    e.ok(["roots", "mv", "B", "A"]);
    assert_eq!(e.find("t").0, ["A/sub/y", "A/x"]);
    let o = e.run(["roots", "mv", "nowhere", "A"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("nowhere: not a root"), "{}", stderr_of(&o));
}

#[test]
fn roots_mv_killed_mid_way_leaves_the_old_prefix_or_the_new_never_a_mix() {
    let e = env();
    for i in 0..3000 {
        e.write(format!("A/d{:02}/f{i:04}", i % 20), format!("file {i}").as_bytes());
    }
    e.ok(["include", "-r", "-t", "t", "A"]);
    let mut seed: u64 = 0x5eed_7007;
    let mut rand = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let (mut old, mut new) = ("A", "B");
    // One uninterrupted move, timed: the kills below land within that time (a loaded
    // machine is slower, and the window with it).
    std::fs::rename(e.path("A"), e.path("B")).unwrap();
    let t = Instant::now();
    e.ok(["roots", "mv", "A", "B"]);
    let full = (t.elapsed().as_millis() as u64).max(20);
    std::fs::rename(e.path("B"), e.path("A")).unwrap();
    e.ok(["roots", "mv", "B", "A"]);
    std::fs::rename(e.path(old), e.path(new)).unwrap();
    let (mut killed, mut done) = (0, 0);
    for trial in 0..40 {
        if trial >= 16 && killed >= 3 && done >= 3 {
            break;
        }
        let mut child = e.cmd(["roots", "mv", old, new]).stderr(Stdio::null()).spawn().unwrap();
        // The window widens while no move has finished (a loaded machine is slower than the
        // timed run was).
        let widen = if done == 0 { 1 + trial as u64 / 8 } else { 1 };
        std::thread::sleep(Duration::from_millis(rand(full * 3 / 2 * widen)));
        let _ = child.kill();
        let st = child.wait().unwrap();
        let (n_old, n_new) = prefixes(&e, old, new);
        assert!((n_old, n_new) == (3000, 0) || (n_old, n_new) == (0, 3000), "trial {trial}: {n_old} old, {n_new} new");
        let roots = String::from_utf8(e.ok(["roots", "list"])).unwrap();
        let root = e.root().canonicalize().unwrap();
        let expect = if n_new == 3000 { new } else { old };
        let listed = roots.split('\t').next().unwrap().trim_end();
        assert_eq!(listed, root.join(expect).to_str().unwrap(), "trial {trial}: root and records agree");
        if expect == old {
            assert!(roots.contains("gone: deleted or renamed"), "{roots}");
        }
        if st.success() {
            assert_eq!(n_new, 3000);
        } else {
            killed += 1;
        }
        if n_new == 3000 {
            done += 1;
            // Round trip: rename it back on disk and move the root back next.
            std::fs::rename(e.path(new), e.path(old)).unwrap();
            std::mem::swap(&mut old, &mut new);
        }
    }
    assert!(killed >= 3, "the kills should land mid-way ({killed} did)");
    assert!(done >= 3, "some moves should finish ({done} did)");
}
