//! Putting a backup back, against the real binary and the real watcher: `trove restore`,
//! a copy restored by `cp` over a closed index, and a copy renamed over an index that a
//! watcher has open — none of which may ever leave a damaged index or a mix of two.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wal_of(e: &TestEnv) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}-wal", e.index.display()))
}

/// SQLite's own verdict on the index file, read with a fresh connection.
fn integrity(e: &TestEnv) -> String {
    let c = rusqlite::Connection::open(&e.index).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

#[test]
fn restore_puts_a_backup_back_and_keeps_the_index_as_it_was() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    // A name with every awkward byte, as backups get named.
    let backup = e.root().join(OsStr::from_bytes(b"-back \xff%_*.db"));
    e.ok(["backup".as_ref(), backup.as_os_str()]);
    e.ok(["tag", "-t", "new", "lib/a"]);
    e.ok(["tags", "imply", "new", "newer"]);

    let kept = e.path("kept.db");
    let o = e.run(["restore".as_ref(), backup.as_os_str(), "--keep".as_ref(), kept.as_os_str()]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(err.contains("restored from"), "{err}");
    assert!(err.contains("kept.db"), "says where the old index is: {err}");
    assert!(err.contains("trove reconcile"), "{err}");
    assert_eq!(e.find("old").0, vec!["lib/a"]);
    assert_eq!(e.find("new").1, 1, "the tag added after the backup is gone from the index");
    assert_eq!(e.find("newer").1, 1);
    assert_eq!(integrity(&e), "ok");

    // The index as it was is whole in the kept file, and restoring it undoes the restore.
    let o = e.cmd(["find", "newer"]).env("TROVE_INDEX", &kept).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "lib/a\n");
    e.ok(["restore".as_ref(), kept.as_os_str(), "--keep".as_ref(), e.path("kept2.db").as_os_str()]);
    assert_eq!(e.find("newer").0, vec!["lib/a"]);

    // Without --keep the old index goes beside the index, under a new name.
    e.ok(["restore".as_ref(), backup.as_os_str()]);
    let beside: Vec<_> = std::fs::read_dir(e.root())
        .unwrap()
        .filter_map(|d| d.ok())
        .filter(|d| d.file_name().as_bytes().starts_with(b"index.db.before-restore-"))
        .collect();
    assert_eq!(beside.len(), 1, "one kept copy beside the index");
    assert_eq!(e.find("new").1, 1);
}

#[test]
fn restore_refuses_what_is_not_a_sound_index_and_changes_nothing() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    let backup = e.path("back.db");
    e.ok(["backup".as_ref(), backup.as_os_str()]);
    e.ok(["tag", "-t", "new", "lib/a"]);

    let text = e.write("notes.txt", b"not a database at all, but long enough to look like a header........");
    let mut damaged = std::fs::read(&backup).unwrap();
    damaged.truncate(damaged.len() / 2);
    let damaged_path = e.write("damaged.db", &damaged);
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (text, "notes.txt"),
        (damaged_path, "damaged.db"),
        (e.path("absent.db"), "absent.db"),
        (e.path("lib"), "not a regular file"),
        (e.index.clone(), "the index itself"),
    ];
    for (src, says) in cases {
        let o = e.run(["restore".as_ref(), src.as_os_str(), "--keep".as_ref(), e.path("k.db").as_os_str()]);
        assert_eq!(o.status.code(), Some(2), "{}: {}", src.display(), stderr_of(&o));
        assert!(stderr_of(&o).contains(says), "{}: {}", src.display(), stderr_of(&o));
        assert!(!e.path("k.db").exists(), "nothing kept when nothing was restored");
        assert_eq!(e.find("new").0, vec!["lib/a"], "the index is unchanged");
    }
    // A keep file that exists is never overwritten.
    e.write("taken.db", b"mine");
    let o = e.run(["restore".as_ref(), backup.as_os_str(), "--keep".as_ref(), e.path("taken.db").as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("taken.db: already exists"), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("--keep"), "{}", stderr_of(&o));
    assert_eq!(std::fs::read(e.path("taken.db")).unwrap(), b"mine");
    assert_eq!(e.find("new").0, vec!["lib/a"]);
    assert_eq!(integrity(&e), "ok");
}

#[test]
fn a_copy_restored_by_cp_over_a_closed_index_is_exactly_that_copy() {
    let e = env();
    e.write("lib/a", b"a");
    e.write("lib/b", b"b");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    let copy = e.path("copy.db");
    std::fs::copy(&e.index, &copy).unwrap();
    // Writes after the copy, by separate commands; each closes the index.
    e.ok(["tag", "-t", "new", "lib/a"]);
    e.ok(["untag", "-t", "old", "lib/b"]);
    assert!(!wal_of(&e).exists(), "a closed index is one file: no WAL to pair with a restored copy");
    std::fs::copy(&copy, &e.index).unwrap();
    assert_eq!(integrity(&e), "ok");
    assert_eq!(e.find("old").0, vec!["lib/a", "lib/b"], "exactly the copy: nothing undone or mixed");
    assert_eq!(e.find("new").1, 1);
}

#[test]
fn restore_while_the_watcher_runs_is_seen_by_it() {
    let e = env();
    e.write("lib/a", b"a");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    let backup = e.path("back.db");
    e.ok(["backup".as_ref(), backup.as_os_str()]);
    e.ok(["tag", "-t", "new", "lib/a"]);
    let mut child = e.watch("inotify");
    e.ok(["restore".as_ref(), backup.as_os_str(), "--keep".as_ref(), e.path("k.db").as_os_str()]);
    assert_eq!(e.find("new").1, 1);
    std::fs::rename(e.path("lib/a"), e.path("lib/b")).unwrap();
    child.wait_for("the watcher records the rename in the restored index", || e.find("old").0 == vec!["lib/b"]);
    let log = child.stop();
    assert_eq!(integrity(&e), "ok", "{log}");
    assert_eq!(e.find("new").1, 1, "the restore stands");
}

/// The hazard behind `trove restore`: a copy renamed over an index a watcher has open
/// shares the old file's `-wal` and `-shm`. The watcher empties its log after each write,
/// never writes or checkpoints through a replaced file, and closes its old connection before
/// opening the new file (SQLite's locks on `-shm` are the process's: closing the old handle
/// later dropped the new one's locks, and a command's tag was lost); the commands run
/// meanwhile write the new file. The index must stay sound and keep every change. One window
/// stays, which SQLite cannot close: a rename in the milliseconds of one of the watcher's
/// commits (its frames then sit in the log the new file reads); without the pause between
/// rounds this test runs into it about once in twenty runs. `trove restore` has no window.
#[test]
fn a_copy_renamed_over_the_index_under_a_watcher_is_never_damaged() {
    let e = env();
    e.write("lib/a", b"a");
    e.write("lib/b", b"b");
    e.ok(["include", "-r", "-t", "old", "lib"]);
    let mut child = e.watch("inotify");
    for round in 0..4 {
        // The watcher settles the rename of the round before (see the doc comment).
        std::thread::sleep(Duration::from_millis(400));
        let copy = e.path("copy.db");
        let _ = std::fs::remove_file(&copy);
        let c = rusqlite::Connection::open(&e.index).unwrap();
        c.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
        drop(c);
        // The replaced file stays linked under another name, so its inode number is not
        // freed and handed to the next round's copy. With the number reused, a commit by the
        // watcher could stay invisible to other processes until the watcher exited (seen
        // about once in three runs under load; suspected: SQLite's per-process state keyed
        // by device and inode). That hazard is not fixed yet: see the closing note of the
        // session that found it; `trove restore` does not have it.
        std::fs::hard_link(&e.index, e.path(format!("replaced-{round}.db"))).unwrap();
        std::fs::rename(&copy, &e.index).unwrap();
        // A command at once, before the watcher notices (within its 1 s heartbeat).
        let tag = format!("round{round}");
        e.ok(["tag", "-t", &tag, "lib/b"]);
        assert_eq!(integrity(&e), "ok", "round {round}, right after the command");
        let (from, to) = if round % 2 == 0 { ("lib/a", "lib/c") } else { ("lib/c", "lib/a") };
        std::fs::rename(e.path(from), e.path(to)).unwrap();
        child.wait_for("the rename is recorded in the new index", || e.find("old").0.contains(&to.to_string()));
        assert_eq!(integrity(&e), "ok", "round {round}");
        if e.find(&tag).0 != vec!["lib/b"] {
            let log = child.stop();
            panic!("round {round}: the command's tag is lost; the watcher's log:\n{log}");
        }
    }
    let log = child.stop();
    assert!(log.contains("the index file was replaced; reopening it"), "{log}");
    assert_eq!(integrity(&e), "ok");
    for round in 0..4 {
        assert_eq!(e.find(&format!("round{round}")).0, vec!["lib/b"]);
    }
}

/// The other half of that hazard: until the watcher reopens, the `-shm` beside the index
/// still gives the old file's size in pages, and SQLite trusts it when the log is empty. A
/// command started in that window read the new file through the old size: "database disk
/// image is malformed" when the copy is smaller, or pages of the copy cut off. It now waits
/// until the watcher has reopened (the `-shm` matches the file again).
#[test]
fn a_command_right_after_an_older_copy_is_renamed_over_a_watched_index_reads_the_copy() {
    let e = env();
    e.write("lib/first", b"first");
    e.ok(["include", "-r", "-t", "early", "lib"]);
    let copy = e.path("copy.db");
    e.ok(["backup".as_ref(), copy.as_os_str()]);
    let mut child = e.watch("inotify");
    // The library grows well past the copy's size while the watcher holds the index.
    for i in 0..1500 {
        e.write(format!("lib/more/f{i:04}"), format!("content {i} {}", "x".repeat(200)).as_bytes());
    }
    e.ok(["include", "-r", "-t", "late", "lib/more"]);
    child.wait_for("the watcher has written since the copy", || {
        std::fs::metadata(&e.index).map(|m| m.len()).unwrap_or(0) > 4 * std::fs::metadata(&copy).unwrap().len()
    });
    // A write by the watcher, so its `-shm` describes the large file.
    std::fs::rename(e.path("lib/first"), e.path("lib/moved")).unwrap();
    child.wait_for("the rename is recorded", || e.find("early").0 == vec!["lib/moved"]);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::hard_link(&e.index, e.path("replaced.db")).unwrap();
    std::fs::rename(&copy, &e.index).unwrap();
    // At once, before the watcher notices.
    let o = e.run(["find", "--count", "early or late"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1", "the copy has one file: {}", stderr_of(&o));
    assert_eq!(e.find("early").0, vec!["lib/first"], "as it was when copied");
    let log = child.stop();
    assert!(log.contains("the index file was replaced; reopening it"), "{log}");
    assert_eq!(integrity(&e), "ok");
}

/// The wait above is only for a `-shm` some process is attached to: after a watcher killed
/// with SIGKILL, its `-shm` (describing the old file) is left behind, and SQLite's next
/// connection resets it. A copy renamed over the index then opens at once.
#[test]
fn a_copy_renamed_over_an_index_whose_watcher_was_killed_opens_at_once() {
    let e = env();
    e.write("lib/first", b"first");
    e.ok(["include", "-r", "-t", "early", "lib"]);
    let copy = e.path("copy.db");
    e.ok(["backup".as_ref(), copy.as_os_str()]);
    let mut child = e.watch("inotify");
    for i in 0..1500 {
        e.write(format!("lib/more/f{i:04}"), format!("content {i} {}", "x".repeat(200)).as_bytes());
    }
    e.ok(["include", "-r", "-t", "late", "lib/more"]);
    std::fs::rename(e.path("lib/first"), e.path("lib/moved")).unwrap();
    child.wait_for("the rename is recorded", || e.find("early").0 == vec!["lib/moved"]);
    // Killed with its log empty: a log left with frames of the old file would be replayed
    // into the copy by SQLite itself (a hazard of renaming over an index that was not
    // closed; `trove restore` has none).
    child.wait_for("the watcher has emptied its log", || std::fs::metadata(wal_of(&e)).map_or(true, |m| m.len() == 0));
    child.child().kill().unwrap();
    child.child().wait().unwrap();
    let shm = std::path::PathBuf::from(format!("{}-shm", e.index.display()));
    assert!(shm.exists(), "a killed watcher leaves its -shm behind");
    std::fs::rename(&copy, &e.index).unwrap();
    let o = e.run(["find", "--count", "early or late"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1", "{}", stderr_of(&o));
    assert_eq!(integrity(&e), "ok");
}
