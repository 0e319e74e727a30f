//! The compatibility listeners driven by the real clients people use, from PyPI: the
//! `hydrus-api` package (5.3.0) against `trove serve --hydrus-port`. The Python scripts in
//! `tests/compat/` hold the checks; this file builds the library, makes the keys, starts the
//! server and runs them in a venv kept under the target directory (made once, with pip).
//! Under CI=true a missing python3-venv or an unreachable PyPI fails the test; elsewhere the
//! test says why it did not run.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use trove_testutil::TestEnv;

const PINS: &[&str] = &["hydrus-api==5.3.0"];

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The venv's python with the pinned clients installed, made once per target directory.
fn python() -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let made = VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat-venv");
        let py = dir.join("bin/python");
        let stamp = dir.join("trove-pins.txt");
        let want = PINS.join("\n");
        if py.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
            return Ok(py);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("python3").args(["-m", "venv"]).arg(&dir).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&o.stderr))),
            Err(e) => return Err(format!("python3 is not installed: {e}")),
        }
        let o = Command::new(dir.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(PINS)
            .output()
            .map_err(|e| format!("pip: {e}"))?;
        if !o.status.success() {
            return Err(format!("pip install {PINS:?} failed: {}", String::from_utf8_lossy(&o.stderr)));
        }
        std::fs::write(&stamp, want).map_err(|e| e.to_string())?;
        Ok(py)
    });
    match made {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            assert!(!under_ci(), "{why} (.ci/run installs python3-venv; CI needs PyPI)");
            eprintln!("compat test NOT RUN: {why}");
            None
        }
    }
}

/// A running `trove serve`, killed on drop.
struct Server {
    child: Child,
    hydrus: String,
    log: std::sync::Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(e: &TestEnv, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = e
        .cmd(&args)
        .env("XDG_CACHE_HOME", e.path("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut hydrus = String::new();
    let mut seen = String::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(at) = line.trim().strip_prefix("trove serve: Hydrus Client API on ") {
            hydrus = at.trim_end_matches('/').to_string();
            break;
        }
    }
    assert!(hydrus.starts_with("http://127.0.0.1:"), "no Hydrus listener announced: {seen}");
    let log = std::sync::Arc::new(Mutex::new(seen));
    let l2 = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            l2.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    Server { child, hydrus, log }
}

fn key(e: &TestEnv, name: &str, scope: &str) -> String {
    String::from_utf8(e.ok(["keys", "add", name, scope])).unwrap().trim().to_string()
}

fn write_image(p: &Path, w: u32, h: u32, fmt: image::ImageFormat) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 20) as u8, (y * 10) as u8, 120]));
    let mut v = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut v), fmt).unwrap();
    std::fs::write(p, v).unwrap();
}

fn run_script(py: &Path, script: &str, cfg: &serde_json::Value, server: &Server) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat").join(script);
    let out = Command::new(py).arg(&script).arg(cfg.to_string()).current_dir(py.parent().unwrap()).output().unwrap();
    let (so, se) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{} failed:\n{so}\n{se}\nserver log:\n{}",
        script.display(),
        server.log.lock().unwrap()
    );
    eprintln!("{so}");
}

#[test]
fn hydrus_api_client_drives_a_real_session() {
    let Some(py) = python() else { return };
    let e = env();
    std::fs::create_dir_all(e.path("lib")).unwrap();
    write_image(&e.path("lib/a.png"), 10, 20, image::ImageFormat::Png);
    write_image(&e.path("lib/b.jpg"), 64, 48, image::ImageFormat::Jpeg);
    e.write("lib/c.txt", b"a text file");
    e.ok(["include", "-r", "lib"]);
    let all = key(&e, "tester", "--all");
    let read = key(&e, "reader", "--read");
    let server = serve(&e, &["--hydrus-port", "0", "--cors"]);
    let lib = std::fs::canonicalize(e.path("lib")).unwrap();
    let file = |n: &str| lib.join(n).to_string_lossy().into_owned();
    let cfg = serde_json::json!({
        "url": server.hydrus, "key": all, "read_key": read,
        "trove": env!("CARGO_BIN_EXE_trove"), "index": e.path("index.db"),
        "files": {"a.png": file("a.png"), "b.jpg": file("b.jpg"), "c.txt": file("c.txt")},
    });
    run_script(&py, "hydrus_client.py", &cfg, &server);
    // Keys never reach the log.
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains(&all) && !log.contains(&read), "{log}");
}
