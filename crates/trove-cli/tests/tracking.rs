//! Rename tracking, one scenario suite run three ways: a live `trove watch` with fanotify
//! (root only), a live `trove watch --backend inotify`, and no daemon followed by
//! `trove reconcile`. After every case the index is checked against what the disk now holds;
//! in daemon modes the check is retried until the daemon settles (5 s at most).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trove_core::ops::find::find;
use trove_core::{FileState, Index, OpenMode};
use trove_testutil::{TestEnv, hostile_names};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fanotify,
    Inotify,
    Reconcile,
}

struct Harness {
    env: TestEnv,
    base: PathBuf,
    mode: Mode,
    daemon: Option<Child>,
    mounts: Vec<PathBuf>,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

fn sh(args: &[&OsString]) {
    let st = Command::new(args[0]).args(&args[1..]).status().expect("run");
    assert!(st.success(), "{args:?} failed");
}

fn os(s: impl AsRef<std::ffi::OsStr>) -> OsString {
    s.as_ref().to_os_string()
}

impl Harness {
    fn new(mode: Mode) -> Harness {
        let env = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
        let base = env.root().canonicalize().unwrap().join("lib");
        std::fs::create_dir_all(&base).unwrap();
        Harness { env, base, mode, daemon: None, mounts: Vec::new() }
    }

    fn p(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.base.join(rel)
    }

    fn write(&self, rel: impl AsRef<Path>, content: &[u8]) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn include(&self, args: &[OsString]) {
        let mut a = vec![os("include")];
        a.extend_from_slice(args);
        self.env.ok(&a);
    }

    fn tmpfs(&mut self, rel: &str) -> Option<PathBuf> {
        let dir = self.p(rel);
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"]).arg(&dir).status().ok()?;
        if !st.success() {
            return None;
        }
        self.mounts.push(dir.clone());
        Some(dir)
    }

    fn start(&mut self) {
        let backend = match self.mode {
            Mode::Fanotify => "fanotify",
            Mode::Inotify => "inotify",
            Mode::Reconcile => return,
        };
        let child =
            self.env.cmd(["watch", "--backend", backend, "--interval", "0"]).stderr(Stdio::piped()).spawn().unwrap();
        self.daemon = Some(child);
        let t = Instant::now();
        loop {
            if self.env.run(["status"]).status.success() {
                // The start-up reconcile has run once status reports events can be taken.
                std::thread::sleep(Duration::from_millis(300));
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "the daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn index(&self) -> Index {
        Index::open(&self.env.index, OpenMode::Existing).unwrap()
    }

    /// Paths (relative to the library) of the files a query finds.
    fn q(&self, query: &str) -> Vec<PathBuf> {
        let index = self.index();
        let mut v: Vec<PathBuf> = find(&index, query)
            .unwrap()
            .into_iter()
            .map(|r| r.path.strip_prefix(&self.base).unwrap().to_path_buf())
            .collect();
        v.sort();
        v
    }

    /// Waits for the index to settle (daemon) or reconciles (no daemon), then checks.
    fn settle(&self, what: &str, check: impl Fn(&Harness) -> Result<(), String>) {
        if self.mode == Mode::Reconcile {
            let o = self.env.run(["reconcile"]);
            assert!(o.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&o.stderr));
            if let Err(e) = check(self) {
                panic!("{:?} / {what}: {e}", self.mode);
            }
            return;
        }
        let t = Instant::now();
        loop {
            match check(self) {
                Ok(()) => return,
                Err(e) if t.elapsed() > Duration::from_secs(5) => {
                    panic!("{:?} / {what}: not settled after 5 s: {e}", self.mode)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in self.mounts.drain(..).rev() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

fn expect(got: Vec<PathBuf>, want: &[&str]) -> Result<(), String> {
    let want: Vec<PathBuf> = want.iter().map(PathBuf::from).collect();
    if got == want { Ok(()) } else { Err(format!("got {got:?}, want {want:?}")) }
}

fn suite(mode: Mode) {
    let mut h = Harness::new(mode);
    let mounts = is_root();
    // ---- setup: everything indexed before the daemon starts ----
    h.write("r/f", b"c1");
    h.write("m1/f", b"c2");
    std::fs::create_dir_all(h.p("m2")).unwrap();
    for i in 0..10_000 {
        h.write(format!("big/d/{:02}/{i:05}", i % 50), format!("big {i}").as_bytes());
    }
    for i in 0..3 {
        h.write(format!("nd/src/{i}"), format!("c4 {i}").as_bytes());
    }
    h.write("pr/a/f", b"c5");
    h.write("del/f", b"c6");
    h.write("as/f", b"c7 v1");
    h.write("ro/x", b"c8 x");
    h.write("ro/y", b"c8 y");
    h.write("sw/a", b"c9 a");
    h.write("sw/b", b"c9 b");
    h.write("xf/f", b"c10 crossing");
    let names = hostile_names();
    for (i, n) in names.iter().enumerate() {
        h.write(PathBuf::from("hn").join(n), format!("c11 {i}").as_bytes());
    }
    let long = PathBuf::from("lp").join("a".repeat(100)).join("b".repeat(100)).join("c".repeat(100));
    h.write(long.join("f"), b"c12");
    h.write("mod/f", b"c13");
    let lib = h.base.clone().into_os_string();
    h.include(&[os("-r"), os("-t"), os("all"), lib.clone()]);
    let tag = |t: &str, rel: &str| {
        h.env.ok([os("tag"), os("-t"), os(t), os("--"), h.p(rel).into_os_string()]);
    };
    tag("c1", "r/f");
    tag("c2", "m1/f");
    h.env.ok([os("tag"), os("-r"), os("-t"), os("c3"), h.p("big").into_os_string()]);
    h.env.ok([os("tag"), os("-r"), os("-t"), os("c4"), h.p("nd/src").into_os_string()]);
    tag("c5", "pr/a/f");
    tag("c6", "del/f");
    tag("c7", "as/f");
    tag("c8x", "ro/x");
    tag("c8y", "ro/y");
    tag("c9a", "sw/a");
    tag("c9b", "sw/b");
    tag("c10", "xf/f");
    for (i, n) in names.iter().enumerate() {
        let mut p = h.p("hn").into_os_string();
        p.push("/");
        p.push(n);
        h.env.ok([os("tag"), os("-t"), os(format!("c11-{i}")), os("--"), p]);
    }
    tag("c12", long.join("f").to_str().unwrap());
    tag("c13", "mod/f");
    // A second root on another filesystem (tmpfs), for cross-filesystem moves, and a third
    // to unmount.
    let tm = if mounts { h.tmpfs("tm") } else { None };
    let um = if mounts { h.tmpfs("um") } else { None };
    if let (Some(tm), Some(um)) = (&tm, &um) {
        std::fs::write(um.join("f"), b"c14").unwrap();
        h.include(&[os("-r"), os("-t"), os("c14"), um.clone().into_os_string()]);
        h.env.ok([os("roots"), os("add"), tm.clone().into_os_string()]);
    } else {
        eprintln!("not root: cross-filesystem and unmount cases skipped");
    }
    let id_of = |h: &Harness, q: &str| find(&h.index(), q).unwrap()[0].id;
    let as_id = id_of(&h, "c7");

    h.start();
    let mv = |a: &str, b: &str| sh(&[&os("mv"), &os("--"), &h.p(a).into_os_string(), &h.p(b).into_os_string()]);

    mv("r/f", "r/g");
    h.settle("rename a file", |h| expect(h.q("c1"), &["r/g"]));

    mv("m1/f", "m2/f");
    h.settle("move a file to another directory", |h| expect(h.q("c2"), &["m2/f"]));

    mv("big/d", "big/e");
    h.settle("rename a directory holding 10 000 files", |h| {
        let got = h.q("c3");
        let under = got.iter().filter(|p| p.starts_with("big/e")).count();
        if got.len() == 10_000 && under == 10_000 {
            Ok(())
        } else {
            Err(format!("{} found, {under} under big/e", got.len()))
        }
    });

    std::fs::create_dir(h.p("nd/new")).unwrap();
    mv("nd/src", "nd/new/src");
    h.settle("move a directory into a directory created a moment earlier", |h| {
        expect(h.q("c4"), &["nd/new/src/0", "nd/new/src/1", "nd/new/src/2"])
    });

    mv("pr/a", "pr/b");
    mv("pr/b/f", "pr/b/g");
    h.settle("rename a file right after its parent directory was renamed", |h| expect(h.q("c5"), &["pr/b/g"]));

    std::fs::remove_file(h.p("del/f")).unwrap();
    h.settle("delete a file", |h| {
        expect(h.q("c6"), &[])?;
        expect(h.q("c6 missing"), &["del/f"])
    });

    h.write("as/.f.swp", b"c7 v2, saved by an editor");
    mv("as/.f.swp", "as/f");
    h.settle("atomic save over an indexed file", |h| {
        let r = find(&h.index(), "c7").unwrap();
        let ok = r.len() == 1
            && r[0].id == as_id
            && r[0].hash == trove_core::hash::hash_bytes(b"c7 v2, saved by an editor")
            && r[0].path == h.p("as/f");
        if ok { Ok(()) } else { Err(format!("{r:?}")) }
    });

    mv("ro/x", "ro/y");
    h.settle("rename onto an indexed path", |h| {
        expect(h.q("c8x"), &["ro/y"])?;
        expect(h.q("c8y missing"), &["ro/y"])?;
        expect(h.q("c8y"), &[])
    });

    mv("sw/a", "sw/tmp");
    mv("sw/b", "sw/a");
    mv("sw/tmp", "sw/b");
    h.settle("swap two files through a temp name", |h| {
        expect(h.q("c9a"), &["sw/b"])?;
        expect(h.q("c9b"), &["sw/a"])
    });

    if tm.is_some() {
        mv("xf/f", "tm/f");
        h.settle("move across filesystems (ext4 to tmpfs)", |h| expect(h.q("c10"), &["tm/f"]));
    }

    let renamed = |n: &OsString| {
        let mut t = b"r-".to_vec();
        t.extend_from_slice(n.as_bytes());
        t.truncate(255);
        PathBuf::from("hn").join(OsString::from_vec(t))
    };
    for n in &names {
        let from = PathBuf::from("hn").join(n);
        sh(&[&os("mv"), &os("--"), &h.p(&from).into_os_string(), &h.p(renamed(n)).into_os_string()]);
    }
    h.settle("hostile names", |h| {
        for (i, n) in names.iter().enumerate() {
            let got = h.q(&format!("c11-{i}"));
            if got != [renamed(n)] {
                return Err(format!("{n:?}: got {got:?}"));
            }
        }
        Ok(())
    });

    let long_from = long.join("f");
    let long_to = long.join("g");
    assert!(h.p(&long_to).as_os_str().len() > 300);
    mv(long_from.to_str().unwrap(), long_to.to_str().unwrap());
    h.settle("a path longer than 300 bytes", |h| expect(h.q("c12"), &[long_to.to_str().unwrap()]));

    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(h.p("mod/f")).unwrap();
        f.write_all(b" and more").unwrap();
    }
    h.settle("a file modified in place", |h| {
        let r = find(&h.index(), "c13").unwrap();
        if r.len() == 1 && r[0].hash == trove_core::hash::hash_bytes(b"c13 and more") {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    });

    if let Some(um) = &um {
        let st = Command::new("umount").arg(um).status().unwrap();
        assert!(st.success(), "umount failed");
        h.mounts.retain(|m| m != um);
        h.settle("an unmounted root", |h| {
            let r = find(&h.index(), "c14").unwrap();
            if r.len() == 1 && r[0].state == FileState::Offline { Ok(()) } else { Err(format!("{r:?}")) }
        });
        expect(h.q("c14 missing"), &[]).unwrap();
    }

    // Zero tags lost anywhere: every file still carries `all`, nothing was forgotten.
    let stats = h.index().stats().unwrap();
    let expected = 10_000 + 3 + 12 + names.len() + usize::from(um.is_some());
    assert_eq!(stats.files as usize, expected, "no record was lost or duplicated");
    let all = find(&h.index(), "all | missing").unwrap().len();
    assert_eq!(all + usize::from(um.is_some()), expected, "every record still tagged `all`");
}

#[test]
fn tracking_with_reconcile_and_no_daemon() {
    suite(Mode::Reconcile);
}

#[test]
fn tracking_with_inotify_daemon() {
    suite(Mode::Inotify);
}

#[test]
fn tracking_with_fanotify_daemon() {
    if !is_root() {
        eprintln!("skipped: fanotify filesystem marks need root");
        return;
    }
    suite(Mode::Fanotify);
}

#[test]
fn watch_without_root_falls_back_to_inotify_and_says_so_once() {
    if !is_root() {
        eprintln!("skipped: needs root to drop to an unprivileged user");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().canonicalize().unwrap();
    std::fs::create_dir(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/f"), b"x").unwrap();
    sh(&[&os("chmod"), &os("-R"), &os("a+rwX"), &dir.clone().into_os_string()]);
    let nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"])
            .arg(env!("CARGO_BIN_EXE_trove"))
            .args(args)
            .env("TROVE_INDEX", dir.join("index.db"))
            .env("HOME", &dir)
            .current_dir(&dir);
        c
    };
    let st = nobody(&["include", "-r", "-t", "t", "lib"]).stderr(Stdio::null()).status().unwrap();
    assert!(st.success());
    let mut child = nobody(&["watch"]).stderr(Stdio::piped()).spawn().unwrap();
    let t = Instant::now();
    while !nobody(&["status"]).stdout(Stdio::null()).status().unwrap().success() {
        assert!(t.elapsed() < Duration::from_secs(20), "the unprivileged daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::rename(dir.join("lib/f"), dir.join("lib/g")).unwrap();
    let t = Instant::now();
    loop {
        let o = nobody(&["find", "t"]).output().unwrap();
        if o.stdout == b"lib/g\n" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "rename not followed: {:?}", String::from_utf8_lossy(&o.stdout));
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = String::from_utf8(nobody(&["status"]).output().unwrap().stdout).unwrap();
    assert!(status.contains("inotify"), "{status}");
    child.kill().unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("using inotify").count(), 1, "says so exactly once: {err}");
    assert!(err.contains("CAP_SYS_ADMIN"), "{err}");
}
