//! `trove status` shows what the watcher saw under the roots, not the rest of the
//! filesystem that a whole-filesystem fanotify mark also reports.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trove_testutil::TestEnv;

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

#[test]
#[ignore = "needs root: run as root with `cargo test -- --ignored`"]
fn status_ignores_events_outside_every_root() {
    assert!(is_root(), "fanotify filesystem marks need root");
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    e.write("lib/a", b"a");
    e.write("elsewhere/x", b"x");
    e.ok(["include", "-r", "lib"]);
    let mut child = e.cmd(["watch", "--backend", "fanotify", "--interval", "0"]).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while !e.run(["status"]).status.success() {
        assert!(t.elapsed() < Duration::from_secs(20), "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::rename(e.path("lib/a"), e.path("lib/b")).unwrap();
    let t = Instant::now();
    let status = || String::from_utf8(e.run(["status"]).stdout).unwrap();
    while !status().contains("lib/b") {
        assert!(t.elapsed() < Duration::from_secs(5), "the rename under the root was not reported: {}", status());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Busy work outside the root, on the same filesystem.
    for i in 0..20 {
        std::fs::write(e.path(format!("elsewhere/y{i}")), b"y").unwrap();
        std::fs::rename(e.path(format!("elsewhere/y{i}")), e.path(format!("elsewhere/z{i}"))).unwrap();
    }
    std::thread::sleep(Duration::from_millis(700));
    let s = status();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(s.contains("last event: rename") && s.contains("lib/b"), "{s}");
    assert!(!s.contains("elsewhere"), "{s}");
    assert!(s.contains("events:     1\n"), "only the rename under the root counts: {s}");
}
