//! Test environments for trove: a temp directory tree, a temp index, the real `trove`
//! binary, and the hostile file names every path-handling test should survive.

#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp directory holding a file tree and an index, plus the binary under test.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub index: PathBuf,
    bin: PathBuf,
}

impl TestEnv {
    /// `bin` is the `trove` binary (`env!("CARGO_BIN_EXE_trove")` in CLI tests).
    pub fn new(bin: impl Into<PathBuf>) -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = dir.path().join("index.db");
        TestEnv { dir, index, bin: bin.into() }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: impl AsRef<Path>, content: &[u8]) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    /// The binary with the working directory and `TROVE_INDEX` set, HOME pointing into the
    /// temp dir so nothing leaks into the real user's data.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(self.root())
            .env("TROVE_INDEX", &self.index)
            .env("HOME", self.root())
            .env_remove("XDG_DATA_HOME");
        c
    }

    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).output().expect("run trove")
    }

    /// Runs and asserts exit status 0; returns stdout as bytes.
    pub fn ok<I, S>(&self, args: I) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        let o = self.run(&args);
        assert!(
            o.status.success(),
            "trove {:?} failed with {:?}\nstdout: {}\nstderr: {}",
            args,
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    /// Runs `find` and returns the printed lines, sorted, plus the exit code.
    pub fn find(&self, query: &str) -> (Vec<String>, i32) {
        let o = self.run(["find", query]);
        let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect();
        lines.sort();
        (lines, o.status.code().unwrap_or(-1))
    }
}

/// File names that break naive path handling: non-UTF-8 bytes, a newline, spaces, SQL
/// wildcards, glob characters, a leading dash, and a 255-byte name.
pub fn hostile_names() -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        OsString::from_vec(b"caf\xe9-latin1.txt".to_vec()),
        OsString::from_vec(b"\xff\xfe raw".to_vec()),
        "line\nbreak.txt".into(),
        "with space .txt".into(),
        "100%_done.txt".into(),
        "star*.txt".into(),
        "[bracket].txt".into(),
        "-leading-dash.txt".into(),
        "quote\"and'apostrophe.txt".into(),
        "back\\slash.txt".into(),
    ];
    v.push(OsString::from_vec(vec![b'n'; 255]));
    v
}

/// Makes a FIFO with the system's `mkfifo`.
pub fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success(), "mkfifo failed");
}

pub fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}
