//! Every command that prints survives a reader that goes away (`| head`, `| true`) and a
//! full disk (`> /dev/full`): a broken pipe is a quiet exit, a full disk a clear error with
//! exit status 2, and never a panic (exit 101) or an abort (134).

use std::process::{Output, Stdio};

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    e.write("lib/a.txt", b"a");
    e.write("lib/sub/b.txt", b"b");
    e.write("lib/sub/a-copy.txt", b"a");
    e.ok(["include", "-r", "-t", "x", "lib"]);
    e.ok(["pool", "create", "P"]);
    e.ok(["pool", "add", "P", "lib/a.txt"]);
    e
}

/// Every subcommand (and form) whose standard output carries results.
const PRINTING: &[&[&str]] = &[
    &["find"],
    &["find", "-c"],
    &["find", "--json"],
    &["find", "-0", "x"],
    &["ls", "-r", "lib"],
    &["ls", "--json", "-r", "lib"],
    &["tags"],
    &["tags", "list"],
    &["tags", "show", "x"],
    &["pool", "list"],
    &["pool", "show", "P"],
    &["roots", "list"],
    &["check"],
    &["reconcile", "--dry-run"],
    &["dupes"],
    &["dupes", "--json"],
    &["dupes", "--print-redundant"],
    &["stats"],
    &["status"],
    &["watch", "--status"],
    &["completions", "bash"],
    &["completions", "zsh"],
    &["completions", "fish"],
    &["--help"],
    &["--version"],
    &["find", "--help"],
];

fn assert_no_crash(args: &[&str], how: &str, o: &Output) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code();
    assert!(code.is_some(), "trove {args:?} {how}: killed by a signal ({:?})\n{stderr}", o.status);
    assert!(!matches!(code, Some(101 | 134)), "trove {args:?} {how}: crashed with {code:?}\n{stderr}");
    assert!(!stderr.contains("panicked"), "trove {args:?} {how}: panicked\n{stderr}");
}

#[test]
fn broken_pipe_is_a_quiet_exit_for_every_command() {
    let e = env();
    for args in PRINTING {
        // The read end is closed before the child starts, so its first write gets EPIPE.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let o = e.cmd(*args).stdout(Stdio::from(writer)).stderr(Stdio::piped()).output().expect("run trove");
        assert_no_crash(args, "| closed pipe", &o);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("pipe"), "trove {args:?}: a broken pipe should be quiet, got\n{stderr}");
    }
}

#[test]
fn full_disk_is_a_clear_error_for_every_command() {
    let e = env();
    for args in PRINTING {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let o = e.cmd(*args).stdout(Stdio::from(full)).output().expect("run trove");
        assert_no_crash(args, "> /dev/full", &o);
        // What the command prints with a working stdout: if anything, /dev/full must fail it.
        let printed = e.run(*args).stdout;
        if !printed.is_empty() {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "trove {args:?} > /dev/full: exit status\n{stderr}");
            assert!(
                stderr.contains("cannot write the output: no space left on device"),
                "trove {args:?} > /dev/full: message\n{stderr}"
            );
        }
    }
}
