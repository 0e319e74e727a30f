//! `trove mount` against the real binary and the real kernel's FUSE: listings, nested AND,
//! namespaces, queries with OR and NOT, pools in order, collisions (both names resolve),
//! real programs through the symlinks, a CLI change seen without remounting, the read-only
//! proofs, the writable gestures, and a clean unmount on SIGTERM.
//!
//! Needs /dev/fuse and fusermount3 (Debian package fuse3, installed by .ci/run). Without them
//! the tests say so and pass, except under CI=true, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

/// Whether FUSE can be used here; under CI=true a missing piece fails the test.
fn fuse_ready() -> bool {
    let dev = Path::new("/dev/fuse").exists();
    let helper = Command::new("fusermount3").arg("-V").output().is_ok_and(|o| o.status.success());
    if dev && helper {
        return true;
    }
    let what = if dev { "fusermount3 (package fuse3) is not installed" } else { "/dev/fuse is missing" };
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but FUSE is unavailable: {what}");
    eprintln!("skipping: {what}");
    false
}

fn mounted(dir: &Path) -> bool {
    let info = std::fs::read("/proc/self/mountinfo").unwrap_or_default();
    let needle = format!(" {} ", dir.display());
    info.split(|&b| b == b'\n').any(|l| String::from_utf8_lossy(l).contains(&needle))
}

/// A running `trove mount`; dropping it sends SIGTERM and waits for a clean unmount.
struct Mount {
    child: Option<Child>,
    dir: PathBuf,
}

impl Mount {
    fn new(e: &TestEnv, extra: &[&str]) -> Mount {
        let dir = e.path("mnt");
        std::fs::create_dir_all(&dir).unwrap();
        let dir = std::fs::canonicalize(dir).unwrap();
        let mut args = vec!["mount".to_string(), dir.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = e.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let t = Instant::now();
        while !mounted(&dir) {
            if let Some(st) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("trove mount exited with {st}: {err}");
            }
            assert!(t.elapsed() < Duration::from_secs(10), "not mounted within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mount { child: Some(child), dir }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let t = Instant::now();
        let st = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = Command::new("fusermount3").arg("-uz").arg(&self.dir).status();
                panic!("trove mount did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (st, err)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// Directory entries, sorted (names as lossy strings).
fn ls(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(5), "{what}: not within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sh(cmd: &str, dir: &Path) -> std::process::Output {
    Command::new("sh").arg("-c").arg(cmd).current_dir(dir).output().unwrap()
}

/// A small library: two `song.flac` in different folders (a collision), tags with
/// namespaces, a tag with a slash, and a pool.
fn library(e: &TestEnv) {
    e.write("lib/a/song.flac", b"song a");
    e.write("lib/b/song.flac", b"song b");
    e.write("lib/a/live.flac", b"live");
    e.write("lib/c/notes.txt", b"hello notes\n");
    e.ok(["include", "-t", "techno", "-t", "year:2019", "lib/a/song.flac", "lib/b/song.flac"]);
    e.ok(["include", "-t", "techno", "-t", "live", "-t", "year:2020", "lib/a/live.flac"]);
    e.ok(["include", "-t", "rock/pop", "-t", "artist:Röyksopp", "lib/c/notes.txt"]);
    e.ok(["pool", "create", "mix"]);
    e.ok(["pool", "add", "mix", "lib/c/notes.txt", "lib/b/song.flac", "lib/a/song.flac"]);
}

fn id_of(e: &TestEnv, rel: &str) -> String {
    let out = e.ok(["ls", "--json", rel]);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    v["id"].to_string()
}

#[test]
fn a_mount_lists_tags_and_and_sets_and_shows_files_as_symlinks() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    let a = id_of(&e, "lib/a/song.flac");
    let b = id_of(&e, "lib/b/song.flac");
    let m = Mount::new(&e, &[]);
    assert_eq!(ls(&m.dir), ["by-id", "ns", "pools", "query", "tags"]);
    // The most used first; a slash in a name is %2F.
    assert_eq!(ls(&m.p("tags")), ["artist:Röyksopp", "live", "rock%2Fpop", "techno", "year:2019", "year:2020"]);
    assert_eq!(ls(&m.p("tags/techno")), ["@files", "live", "year:2019", "year:2020"]);
    // Collisions: every member gets ~id; both forms resolve.
    let files = ls(&m.p("tags/techno/@files"));
    assert_eq!(files, vec!["live.flac".to_string(), format!("song~{a}.flac"), format!("song~{b}.flac")]);
    assert_eq!(std::fs::read(m.p(&format!("tags/techno/@files/song~{b}.flac"))).unwrap(), b"song b");
    // Nested AND; a unique basename is plain, and its ~id form resolves too.
    assert_eq!(ls(&m.p("tags/techno/live/@files")), ["live.flac"]);
    let live = id_of(&e, "lib/a/live.flac");
    assert_eq!(std::fs::read(m.p(&format!("tags/techno/live/@files/live~{live}.flac"))).unwrap(), b"live");
    assert_eq!(ls(&m.p("tags/year:2019/techno/@files")).len(), 2);
    // A tag not listed still resolves by name, in any case; an unknown one does not.
    assert_eq!(ls(&m.p("tags/TECHNO/LIVE/@files")), ["live.flac"]);
    assert!(!m.p("tags/nope").exists());
    assert_eq!(ls(&m.p("tags/rock%2Fpop/@files")), ["notes.txt"]);
    // The link points at the real file.
    let target = std::fs::read_link(m.p("tags/rock%2Fpop/@files/notes.txt")).unwrap();
    assert_eq!(target, std::fs::canonicalize(e.path("lib/c/notes.txt")).unwrap());
    // Namespaces.
    assert_eq!(ls(&m.p("ns")), ["artist", "year"]);
    assert_eq!(ls(&m.p("ns/year")), ["2019", "2020"]);
    assert_eq!(ls(&m.p("ns/year/2020/@files")), ["live.flac"]);
    assert_eq!(ls(&m.p("ns/artist/Röyksopp/@files")), ["notes.txt"]);
    // Queries with OR and NOT, evaluated on lookup; a bad one is ENOENT.
    assert_eq!(ls(&m.p("query/techno -live")), vec![format!("song~{a}.flac"), format!("song~{b}.flac")]);
    assert_eq!(ls(&m.p("query/live | rock%2Fpop")), ["live.flac", "notes.txt"]);
    assert!(!m.p("query/techno (").exists());
    assert!(!m.p("query/techno -nosuchtag").exists(), "an unknown tag is ENOENT, not an empty folder");
    assert!(ls(&m.p("query")).is_empty(), "nothing is stored by a lookup");
    // Pools in pool order, numbered.
    assert_eq!(ls(&m.p("pools")), ["mix"]);
    let pool: Vec<String> = ls(&m.p("pools/mix"));
    assert_eq!(pool, ["0001 notes.txt", "0002 song.flac", "0003 song.flac"]);
    assert_eq!(std::fs::read(m.p("pools/mix/0002 song.flac")).unwrap(), b"song b");
    // by-id.
    assert_eq!(std::fs::read(m.p(&format!("by-id/{a}"))).unwrap(), b"song a");
    assert!(!m.p("by-id/999999").exists());
    // Real programs through the links.
    let o = sh("cat tags/rock%2Fpop/@files/notes.txt && file -L tags/rock%2Fpop/@files/notes.txt", &m.dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.starts_with("hello notes\n") && out.contains("text"), "{out}");
    let o = sh("find -L tags/techno/@files -type f | sort", &m.dir);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("tags/techno/@files/live.flac\ntags/techno/@files/song~{a}.flac\ntags/techno/@files/song~{b}.flac\n")
    );
    // Inodes derive from ids: the same file has the same inode in every folder.
    use std::os::unix::fs::MetadataExt;
    let i1 = std::fs::symlink_metadata(m.p(&format!("tags/techno/@files/song~{b}.flac"))).unwrap().ino();
    let i2 = std::fs::symlink_metadata(m.p("pools/mix/0002 song.flac")).unwrap().ino();
    assert_eq!(i1, i2);
}

#[test]
fn a_tag_change_from_the_cli_shows_in_the_mount_without_remounting() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    let m = Mount::new(&e, &[]);
    assert_eq!(ls(&m.p("tags/live/@files")), ["live.flac"]);
    let _ = std::fs::metadata(m.p("tags/live/@files/live.flac")).unwrap();
    e.ok(["tag", "-t", "live", "lib/c/notes.txt"]);
    wait_for("a new link listed", || ls(&m.p("tags/live/@files")) == ["live.flac", "notes.txt"]);
    e.ok(["untag", "-t", "live", "lib/a/live.flac"]);
    wait_for("a removed link gone", || ls(&m.p("tags/live/@files")) == ["notes.txt"]);
    wait_for("its entry gone", || !m.p("tags/live/@files/live.flac").exists());
    // A new tag appears in tags/ and resolves.
    e.ok(["tag", "-t", "brand-new", "lib/a/song.flac"]);
    wait_for("a new tag listed", || ls(&m.p("tags")).contains(&"brand-new".to_string()));
    assert_eq!(ls(&m.p("tags/brand-new/@files")), ["song.flac"]);
    // And among the tags co-occurring with the file's others (the counts are read again).
    wait_for("a new co-occurring tag", || ls(&m.p("tags/techno")).contains(&"brand-new".to_string()));
    assert_eq!(ls(&m.p("tags/brand-new")), ["@files", "techno", "year:2019"]);
}

/// A listed link is kept by the kernel for long (its folder is invalidated when the index
/// changes); a file moved by the CLI to a path of the same length, while its link sits in two
/// folders and `by-id/` (which keeps the kernel's inode alive), must show the new target.
#[test]
fn a_moved_file_shows_its_new_target_in_every_folder_without_remounting() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    e.write("lib/e/.keep", b"");
    let m = Mount::new(&e, &[]);
    let in_tag = m.p("tags/rock%2Fpop/@files/notes.txt");
    let in_pool = m.p("pools/mix/0001 notes.txt");
    let old = std::fs::canonicalize(e.path("lib/c/notes.txt")).unwrap();
    // Listed and followed (the kernel caches the entries and the link).
    assert_eq!(ls(&m.p("tags/rock%2Fpop/@files")), ["notes.txt"]);
    assert_eq!(ls(&m.p("pools/mix")).len(), 3);
    assert_eq!(std::fs::read_link(&in_tag).unwrap(), old);
    assert_eq!(std::fs::read(&in_pool).unwrap(), b"hello notes\n");
    let by_id = m.p(&format!("by-id/{}", id_of(&e, "lib/c/notes.txt")));
    assert_eq!(std::fs::read_link(&by_id).unwrap(), old);
    let o = sh("find -L tags/rock%2Fpop/@files pools/mix -type f | wc -l", &m.dir);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "4");
    e.ok(["mv", "lib/c/notes.txt", "lib/e/notes.txt"]);
    let new = std::fs::canonicalize(e.path("lib/e/notes.txt")).unwrap();
    assert_eq!(new.as_os_str().len(), old.as_os_str().len());
    wait_for("the new target in the tag folder", || std::fs::read_link(&in_tag).ok().as_ref() == Some(&new));
    wait_for("the new target in the pool", || std::fs::read_link(&in_pool).ok().as_ref() == Some(&new));
    wait_for("the new target by id", || std::fs::read_link(&by_id).ok().as_ref() == Some(&new));
    assert_eq!(std::fs::read(&in_tag).unwrap(), b"hello notes\n");
}

/// Everything a user (or a file manager) might try on the mount, each refused with EROFS;
/// the real files and the index are exactly as before.
#[test]
fn nothing_in_a_read_only_mount_can_delete_or_modify_a_file() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    let before_find = e.ok(["find", "-l", "path:*"]);
    let m = Mount::new(&e, &[]);
    let attempts = [
        "rm tags/techno/@files/live.flac",
        "rm -rf tags/techno",
        "rm -rf tags",
        "rmdir tags/techno",
        "unlink pools/mix/'0001 notes.txt'",
        "mv tags/techno/@files/live.flac tags/techno/@files/x.flac",
        "mv tags/techno tags/t2",
        "touch tags/techno/@files/new",
        "mkdir tags/newtag",
        "ln -s /etc/hostname tags/techno/",
        "cp ../lib-copy tags/techno/@files/",
        "ln tags/techno/@files/live.flac tags/hard",
        "chown -h 12345 tags/techno/@files/live.flac",
        "touch -h tags/techno/@files/live.flac",
        "chmod 000 tags/techno",
        "mkdir pools/newpool",
        "mkdir query/nosuchtag",
        "find tags/techno -delete",
    ];
    std::fs::write(m.dir.parent().unwrap().join("lib-copy"), b"x").unwrap();
    for cmd in attempts {
        let o = sh(&format!("cd '{}' && {cmd}", m.dir.display()), &m.dir);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{cmd}: succeeded");
        assert!(err.contains("Read-only file system") || err.contains("Operation not permitted"), "{cmd}: {err}");
    }
    assert_eq!(std::fs::read(e.path("lib/a/live.flac")).unwrap(), b"live");
    assert_eq!(std::fs::read(e.path("lib/a/song.flac")).unwrap(), b"song a");
    assert_eq!(std::fs::read(e.path("lib/c/notes.txt")).unwrap(), b"hello notes\n");
    assert_eq!(e.ok(["find", "-l", "path:*"]), before_find, "the index is unchanged");
    assert_eq!(ls(&m.p("tags/techno/@files")).len(), 3);
}

#[test]
fn writable_mount_tags_by_gesture_untags_one_link_and_refuses_rm_r() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    e.write("lib/d/new.ogg", b"never indexed");
    let m = Mount::new(&e, &["--writable"]);
    // mkdir creates a tag.
    std::fs::create_dir(m.p("tags/chill")).unwrap();
    let o = e.ok(["tags", "list"]);
    assert!(String::from_utf8_lossy(&o).contains("chill"));
    // ln -s tags a file (including it when it was not indexed), with source `mount`.
    let real = std::fs::canonicalize(e.path("lib/c/notes.txt")).unwrap();
    std::os::unix::fs::symlink(&real, m.p("tags/chill/notes.txt")).unwrap();
    let fresh = std::fs::canonicalize(e.path("lib/d/new.ogg")).unwrap();
    let o = sh(&format!("ln -s '{}' tags/chill/", fresh.display()), &m.dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(e.find("chill").0, ["lib/c/notes.txt", "lib/d/new.ogg"]);
    let o = String::from_utf8_lossy(&e.ok(["ls", "--json", "lib/d/new.ogg"])).into_owned();
    assert!(o.contains("mount"), "source mount: {o}");
    wait_for("listed", || ls(&m.p("tags/chill/@files")).contains(&"new.ogg".to_string()));
    // A nested path tags with every tag on it.
    std::os::unix::fs::symlink(&real, m.p("tags/techno/year:2019/notes.txt")).unwrap();
    assert_eq!(e.find("techno year:2019 rock/pop").0, ["lib/c/notes.txt"]);
    // rm of a link removes the directory's last tag from that one file only.
    std::fs::remove_file(m.p("tags/techno/year:2019/@files/notes.txt")).unwrap();
    assert_eq!(e.find("year:2019").0, ["lib/a/song.flac", "lib/b/song.flac"]);
    assert_eq!(e.find("techno").0, ["lib/a/live.flac", "lib/a/song.flac", "lib/b/song.flac", "lib/c/notes.txt"]);
    // rm -r of a tag directory: refused, and not one file loses a tag.
    let before = e.find("techno").0;
    for cmd in ["rm -rf tags/techno", "rm -r tags/techno/@files", "find tags/techno/@files -delete", "rmdir tags/chill"]
    {
        let o = sh(cmd, &m.dir);
        assert!(!o.status.success(), "{cmd}: succeeded");
        assert_eq!(e.find("techno").0, before, "{cmd} untagged files");
    }
    // Nothing touches a real file: rename, create, hard link are refused.
    for cmd in [
        "mv tags/techno/@files/live.flac tags/techno/@files/x.flac",
        "touch tags/techno/@files/new",
        "ln tags/techno/@files/live.flac tags/h",
    ] {
        assert!(!sh(cmd, &m.dir).status.success(), "{cmd}: succeeded");
    }
    assert_eq!(std::fs::read(e.path("lib/a/live.flac")).unwrap(), b"live");
    assert_eq!(std::fs::read(e.path("lib/d/new.ogg")).unwrap(), b"never indexed");
    assert!(e.path("lib/c/notes.txt").exists());
}

#[test]
fn sigterm_unmounts_cleanly() {
    if !fuse_ready() {
        return;
    }
    let e = env();
    library(&e);
    let mut m = Mount::new(&e, &[]);
    assert!(m.p("tags/techno").exists());
    let (st, err) = m.stop();
    assert!(st.success(), "{st}: {err}");
    assert!(err.contains("unmounted"), "{err}");
    assert!(!mounted(&m.dir));
    assert!(ls(&m.dir).is_empty());
}

#[test]
fn without_fusermount3_the_error_names_the_package_and_trove_view() {
    let e = env();
    library(&e);
    std::fs::create_dir(e.path("mnt")).unwrap();
    let o = e.cmd(["mount", "mnt"]).env("PATH", e.path("no-bin")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fusermount3") && err.contains("fuse3") && err.contains("trove view"), "{err}");
}
