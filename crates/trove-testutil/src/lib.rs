//! Test environments for trove: a temp directory tree, a temp index, the real `trove`
//! binary, and the hostile file names every path-handling test should survive.

#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// A `trove watch` running on a [`TestEnv`]'s index ([`TestEnv::watch`]). Its log goes to a
/// file (a pipe nobody reads would fill and stall the daemon); it is killed when dropped.
pub struct Watcher {
    child: Option<Child>,
    /// Outside the env's tree, so the daemon never indexes its own log.
    log: tempfile::NamedTempFile,
}

impl TestEnv {
    /// Starts `trove watch --backend BACKEND --interval 0` and waits until `trove status`
    /// sees it (20 s at most), then a little more for its watches to be in place.
    pub fn watch(&self, backend: &str) -> Watcher {
        self.watch_with(&["--backend", backend])
    }

    /// [`TestEnv::watch`] with other arguments (`--interval 0` is added).
    pub fn watch_with(&self, args: &[&str]) -> Watcher {
        let log = tempfile::NamedTempFile::new().expect("watch log");
        let file = log.reopen().expect("watch log");
        let child = self
            .cmd(["watch", "--interval", "0"].iter().chain(args))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn trove watch");
        let mut w = Watcher { child: Some(child), log };
        let t = Instant::now();
        while !self.run(["status"]).status.success() {
            if let Some(st) = w.child().try_wait().expect("wait") {
                panic!("the watcher exited ({st}) before it started:\n{}", w.log());
            }
            assert!(t.elapsed() < Duration::from_secs(20), "the watcher did not start:\n{}", w.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        w
    }
}

impl Watcher {
    /// The daemon's process.
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("watcher already stopped")
    }

    /// What the daemon has written to its log so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log.path()).unwrap_or_default()).into_owned()
    }

    /// Kills the daemon and returns its log.
    pub fn stop(mut self) -> String {
        self.kill();
        self.log()
    }

    /// Waits up to 20 s for `f` (a loaded CI machine runs many watchers at once; a pass
    /// takes well under a second); on a timeout stops the daemon and fails with its log.
    pub fn wait_for(&mut self, what: &str, f: impl FnMut() -> bool) {
        if !poll(Duration::from_secs(20), f) {
            self.kill();
            panic!("{what}: not within 20 s; the watcher's log:\n{}", self.log());
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Calls `f` every 50 ms until it is true or `limit` has passed; whether it became true.
pub fn poll(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Waits up to 8 s for `f`, failing the test with `what` if it does not become true.
pub fn wait_for(what: &str, f: impl FnMut() -> bool) {
    assert!(poll(Duration::from_secs(8), f), "{what}: not within 8 s");
}

/// Whether an external program (ffmpeg, exiftool, …) runs (`tool ARG` starts at all).
/// Under `CI` a missing tool fails the test: `.ci/run` installs every tool the tests use,
/// so a test that needs one never passes silently without it.
pub fn have_tool(tool: &str, arg: &str) -> bool {
    let found = Command::new(tool).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(found || std::env::var_os("CI").is_none(), "{tool} must be installed under CI (.ci/run installs it)");
    found
}

/// Runs an external program to make a fixture, failing the test with its stderr if it fails.
pub fn run_tool(cmd: &mut Command) {
    let o = cmd.stdin(Stdio::null()).output().expect("run tool");
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// `ffmpeg -v error -y ARGS` in `dir` (fixtures: audio, video, pictures).
pub fn ffmpeg(dir: &Path, args: &[&str]) {
    let mut c = Command::new("ffmpeg");
    c.current_dir(dir).args(["-v", "error", "-y"]).args(args);
    run_tool(&mut c);
}

/// Reads `from` to its end on a thread of its own, collecting what it says (a server's
/// stderr), so the pipe never fills; the string grows as the output comes.
pub fn collect_output(
    mut from: impl std::io::Read + Send + 'static,
    start: String,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(start));
    let l2 = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            l2.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}
