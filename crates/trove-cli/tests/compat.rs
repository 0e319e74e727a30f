//! The compatibility listeners driven by the real clients people use, from PyPI: the
//! `hydrus-api` package (5.3.0) against `trove serve --hydrus-port`. The Python scripts in
//! `tests/compat/` hold the checks; this file builds the library, makes the keys, starts the
//! server and runs them in a venv kept under the target directory (made once, with pip).
//! Under CI=true a missing python3-venv or an unreachable PyPI fails the test; elsewhere the
//! test says why it did not run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use trove_testutil::TestEnv;

const PINS: &[&str] = &["hydrus-api==5.3.0", "szurubooru-client==0.6.2"];

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
    szuru: String,
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
    let (mut hydrus, mut szuru) = (String::new(), String::new());
    let mut seen = String::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(at) = line.trim().strip_prefix("trove serve: Hydrus Client API on ") {
            hydrus = at.trim_end_matches('/').to_string();
        }
        if let Some(at) = line.trim().strip_prefix("trove serve: szurubooru API on ") {
            szuru = at.trim_end_matches('/').to_string();
        }
        if line.contains("trove serve: listening on") {
            break;
        }
    }
    assert!(
        hydrus.starts_with("http://127.0.0.1:") || szuru.starts_with("http://127.0.0.1:"),
        "no compatibility listener announced: {seen}"
    );
    let log = trove_testutil::collect_output(err, seen);
    Server { child, hydrus, szuru, log }
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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// (status, parsed body) of a request to the Hydrus listener.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, serde_json::Value) {
    let a = agent();
    let mut r = match (method, body) {
        ("GET", _) => {
            let mut q = a.get(url);
            for (h, v) in headers {
                q = q.header(*h, *v);
            }
            q.call().unwrap()
        }
        ("OPTIONS", _) => {
            let mut q = a.options(url);
            for (h, v) in headers {
                q = q.header(*h, *v);
            }
            q.call().unwrap()
        }
        (_, b) => {
            let mut q = a.post(url);
            for (h, v) in headers {
                q = q.header(*h, *v);
            }
            q.send(b.unwrap_or("")).unwrap()
        }
    };
    let status = r.status().as_u16();
    let bytes = r.body_mut().read_to_vec().unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// (method, path and query, headers, body, expected status)
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Option<String>, u16);

/// Every endpoint's error answers: missing parameters, bad hashes, unknown ids, wrong
/// permissions, malformed JSON — each a Hydrus error object with the right status, never
/// a 500.
#[test]
fn hydrus_endpoints_answer_errors_in_hydrus_shape() {
    let e = env();
    std::fs::create_dir_all(e.path("lib")).unwrap();
    e.write("lib/a.txt", b"some text");
    e.ok(["include", "-r", "lib"]);
    let all = key(&e, "tester", "--all");
    let read = key(&e, "reader", "--read");
    let server = serve(&e, &["--hydrus-port", "0"]);
    let base = server.hydrus.clone();
    let hk = "Hydrus-Client-API-Access-Key";
    let json = ("Content-Type", "application/json");
    let zeros = "00".repeat(32);
    let short = "abcd";
    let my = "6c6f63616c2074616773";
    let cases: Vec<Case> = vec![
        // access
        ("GET", "/verify_access_key".into(), vec![], None, 401),
        ("GET", "/verify_access_key".into(), vec![(hk, "not hex at all")], None, 400),
        ("GET", "/verify_access_key".into(), vec![(hk, "ab")], None, 403),
        ("GET", "/session_key".into(), vec![], None, 401),
        ("GET", "/session_key".into(), vec![("Hydrus-Client-API-Session-Key", "cd")], None, 419),
        ("GET", "/request_new_permissions".into(), vec![], None, 400),
        ("GET", format!("/request_new_permissions?name=x&basic_permissions={}", enc("[3,")), vec![], None, 400),
        ("GET", format!("/request_new_permissions?name=x&basic_permissions={}", enc("[99]")), vec![], None, 400),
        ("GET", "/get_services".into(), vec![], None, 401),
        ("GET", "/get_service".into(), vec![(hk, &all)], None, 400),
        ("GET", "/get_service?service_name=nope".into(), vec![(hk, &all)], None, 404),
        ("GET", "/get_service?service_key=abcd".into(), vec![(hk, &all)], None, 404),
        // search
        ("GET", "/get_files/search_files".into(), vec![], None, 401),
        ("GET", format!("/get_files/search_files?tags={}", enc("[\"a\"")), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/search_files?tags={}", enc("\"a\"")), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/search_files?tags={}", enc("[[[\"a\"]]]")), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/search_files?tags={}", enc("[\"system:width > 5\"]")), vec![(hk, &all)], None, 400),
        (
            "GET",
            format!("/get_files/search_files?tags={}", enc("[\"system:hash = abcd\"]")),
            vec![(hk, &all)],
            None,
            400,
        ),
        ("GET", format!("/get_files/search_files?tags={}", enc("[\"   \"]")), vec![(hk, &all)], None, 400),
        (
            "GET",
            format!("/get_files/search_files?tags={}&file_sort_type=99", enc("[\"a\"]")),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            format!("/get_files/search_files?tags={}&file_sort_asc=True", enc("[\"a\"]")),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            format!("/get_files/search_files?tags={}&file_service_key=abcd", enc("[\"a\"]")),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            format!("/get_files/search_files?tags={}&tag_service_key=abcd", enc("[\"a\"]")),
            vec![(hk, &all)],
            None,
            400,
        ),
        // metadata
        ("GET", "/get_files/file_metadata".into(), vec![(hk, &all)], None, 400),
        (
            "GET",
            format!("/get_files/file_metadata?hashes={}", enc(&format!("[\"{short}\"]"))),
            vec![(hk, &all)],
            None,
            400,
        ),
        ("GET", format!("/get_files/file_metadata?file_ids={}", enc("[1,")), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/file_metadata?file_ids={}", enc("[999999]")), vec![(hk, &all)], None, 404),
        ("GET", format!("/get_files/file_metadata?file_ids={}", enc("[-1]")), vec![(hk, &all)], None, 400),
        ("GET", "/get_files/file_metadata?file_id=1".into(), vec![], None, 401),
        // file, thumbnail, paths
        ("GET", "/get_files/file".into(), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/file?file_id=1&hash={zeros}"), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/file?hash={short}"), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/file?hash={zeros}"), vec![(hk, &all)], None, 404),
        ("GET", "/get_files/file?file_id=999999".into(), vec![(hk, &all)], None, 404),
        ("GET", "/get_files/file?file_id=..%2F1".into(), vec![(hk, &all)], None, 400),
        ("GET", "/get_files/thumbnail".into(), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/thumbnail?hash={short}"), vec![(hk, &all)], None, 400),
        ("GET", "/get_files/thumbnail?file_id=999999".into(), vec![(hk, &all)], None, 404),
        ("GET", "/get_files/file_path?file_id=999999".into(), vec![(hk, &all)], None, 404),
        ("GET", "/get_files/file_path".into(), vec![(hk, &all)], None, 400),
        ("GET", "/get_files/thumbnail_path?file_id=999999".into(), vec![(hk, &all)], None, 404),
        ("GET", "/get_files/file_hashes".into(), vec![(hk, &all)], None, 400),
        ("GET", format!("/get_files/file_hashes?hash={zeros}&desired_hash_type=md5"), vec![(hk, &all)], None, 400),
        // tag edits
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![json],
            Some(format!("{{\"file_id\": 1, \"service_keys_to_tags\": {{\"{my}\": [\"x\"]}}}}")),
            401,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &read), json],
            Some(format!("{{\"file_id\": 1, \"service_keys_to_tags\": {{\"{my}\": [\"x\"]}}}}")),
            403,
        ),
        ("POST", "/add_tags/add_tags".into(), vec![(hk, &all), json], Some("{\"file_id\": 1,".into()), 400),
        ("POST", "/add_tags/add_tags".into(), vec![(hk, &all), json], Some("[1, 2]".into()), 400),
        ("POST", "/add_tags/add_tags".into(), vec![(hk, &all), ("Content-Type", "text/plain")], Some("{}".into()), 400),
        ("POST", "/add_tags/add_tags".into(), vec![(hk, &all), json], Some("{\"file_id\": 1}".into()), 400),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some(format!("{{\"service_keys_to_tags\": {{\"{my}\": [\"x\"]}}}}")),
            400,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some(format!("{{\"file_id\": 999999, \"service_keys_to_tags\": {{\"{my}\": [\"x\"]}}}}")),
            404,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some(format!("{{\"hash\": \"{short}\", \"service_keys_to_tags\": {{\"{my}\": [\"x\"]}}}}")),
            400,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some("{\"file_id\": 1, \"service_keys_to_tags\": {\"abcd\": [\"x\"]}}".into()),
            400,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some("{\"file_id\": 1, \"service_keys_to_tags\": {\"616c6c206b6e6f776e2074616773\": [\"x\"]}}".into()),
            400,
        ),
        (
            "POST",
            "/add_tags/add_tags".into(),
            vec![(hk, &all), json],
            Some(format!("{{\"file_id\": 1, \"service_keys_to_actions_to_tags\": {{\"{my}\": {{\"2\": [\"x\"]}}}}}}")),
            400,
        ),
        ("GET", "/add_tags/add_tags".into(), vec![(hk, &all)], None, 405),
        ("GET", "/add_tags/clean_tags".into(), vec![(hk, &all)], None, 400),
        ("GET", format!("/add_tags/clean_tags?tags={}", enc("[\"a\",")), vec![(hk, &all)], None, 400),
        ("GET", format!("/add_tags/clean_tags?tags={}", enc("[1]")), vec![(hk, &all)], None, 400),
        ("GET", "/add_tags/search_tags".into(), vec![(hk, &all)], None, 400),
        ("GET", "/add_tags/search_tags?search=a&tag_display_type=sideways".into(), vec![(hk, &all)], None, 400),
        ("GET", "/add_tags/search_tags?search=a&tag_service_key=abcd".into(), vec![(hk, &all)], None, 400),
        ("GET", "/add_tags/search_tags?search=a".into(), vec![], None, 401),
        ("GET", "/add_tags/get_siblings_and_parents".into(), vec![(hk, &all)], None, 400),
        ("GET", format!("/add_tags/get_siblings_and_parents?tags={}", enc("{")), vec![(hk, &all)], None, 400),
        // the rest
        ("GET", "/add_files/add_file".into(), vec![(hk, &all)], None, 404),
        ("GET", "/manage_database/lock_on".into(), vec![(hk, &all)], None, 404),
        // duplicates (permission 8: a key of scope all)
        ("GET", "/manage_file_relationships/get_potentials_count".into(), vec![], None, 401),
        ("GET", "/manage_file_relationships/get_potentials_count".into(), vec![(hk, &read)], None, 403),
        (
            "GET",
            "/manage_file_relationships/get_potentials_count?max_hamming_distance=99".into(),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            "/manage_file_relationships/get_potentials_count?potentials_search_type=5".into(),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            "/manage_file_relationships/get_potentials_count?potentials_search_type=2".into(),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            "/manage_file_relationships/get_potentials_count?pixel_duplicates=7".into(),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            format!("/manage_file_relationships/get_potentials_count?tags_1={}", enc("[\"a\"")),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "GET",
            "/manage_file_relationships/get_potentials_count?file_service_key=abcd".into(),
            vec![(hk, &all)],
            None,
            400,
        ),
        ("GET", "/manage_file_relationships/get_potential_pairs".into(), vec![(hk, &read)], None, 403),
        ("GET", "/manage_file_relationships/get_potential_pairs?max_num_pairs=0".into(), vec![(hk, &all)], None, 400),
        (
            "GET",
            format!("/manage_file_relationships/get_potential_pairs?tags_1={}", enc("\"a\"")),
            vec![(hk, &all)],
            None,
            400,
        ),
        ("GET", "/manage_file_relationships/get_file_relationships".into(), vec![(hk, &all)], None, 400),
        ("GET", "/manage_file_relationships/get_file_relationships?file_id=1".into(), vec![(hk, &read)], None, 403),
        ("GET", format!("/manage_file_relationships/get_file_relationships?hash={short}"), vec![(hk, &all)], None, 400),
        ("GET", format!("/manage_file_relationships/get_file_relationships?hash={zeros}"), vec![(hk, &all)], None, 404),
        ("GET", "/manage_file_relationships/get_file_relationships?file_id=999999".into(), vec![(hk, &all)], None, 404),
        (
            "GET",
            format!("/manage_file_relationships/get_file_relationships?file_ids={}", enc("[1,")),
            vec![(hk, &all)],
            None,
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &read), json],
            Some("{\"relationships\": []}".into()),
            403,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some("{}".into()),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some("{\"relationships\": [".into()),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some("{\"relationships\": 3}".into()),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some(format!(
                "{{\"relationships\": [{{\"hash_a\": \"{short}\", \"hash_b\": \"{zeros}\", \"relationship\": 1}}]}}"
            )),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some(format!("{{\"relationships\": [{{\"hash_a\": \"{zeros}\", \"relationship\": 1}}]}}")),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some(format!(
                "{{\"relationships\": [{{\"hash_a\": \"{zeros}\", \"hash_b\": \"{}\", \"relationship\": 1}}]}}",
                "11".repeat(32)
            )),
            404,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some(format!(
                "{{\"relationships\": [{{\"hash_a\": \"{zeros}\", \"hash_b\": \"{}\", \"relationship\": 9}}]}}",
                "11".repeat(32)
            )),
            400,
        ),
        (
            "POST",
            "/manage_file_relationships/set_file_relationships".into(),
            vec![(hk, &all), json],
            Some(format!(
                "{{\"relationships\": [{{\"hash_a\": \"{zeros}\", \"hash_b\": \"{}\", \"relationship\": 2, \"delete_b\": true}}]}}",
                "11".repeat(32)
            )),
            400,
        ),
        ("GET", "/get_services?cbor=1".into(), vec![(hk, &all)], None, 406),
        ("GET", "/get_services".into(), vec![(hk, &all), ("Accept", "application/cbor")], None, 406),
        ("OPTIONS", "/get_services".into(), vec![("Origin", "http://example.test")], None, 401),
    ];
    for (method, path, headers, body, want) in &cases {
        let (got, v) = call(method, &format!("{base}{path}"), headers, body.as_deref());
        assert_eq!(got, *want, "{method} {path}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|s| !s.is_empty())
                && v["status_code"] == *want
                && v["exception_type"].is_string()
                && v["version"] == 95
                && v["hydrus_version"] == 682,
            "{method} {path}: not a Hydrus error object: {v}"
        );
    }
    // Requests for keys wait for approval, at most 16 at once; then 409.
    let ask = format!("{base}/request_new_permissions?name=spam&basic_permissions={}", enc("[3]"));
    for _ in 0..16 {
        assert_eq!(call("GET", &ask, &[], None).0, 200);
    }
    let (got, v) = call("GET", &ask, &[], None);
    assert!(got == 409 && v["status_code"] == 409 && v["error"].is_string(), "{got} {v}");
    // The refused writes changed nothing.
    let (found, _) = e.find("x");
    assert!(found.is_empty(), "{found:?}");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains(&all) && !log.contains(&read), "{log}");
}

#[test]
fn szurubooru_client_lists_and_reads_posts() {
    let Some(py) = python() else { return };
    let e = env();
    std::fs::create_dir_all(e.path("lib")).unwrap();
    write_image(&e.path("lib/cat1.png"), 12, 10, image::ImageFormat::Png);
    write_image(&e.path("lib/cat2.png"), 14, 10, image::ImageFormat::Png);
    write_image(&e.path("lib/dog.jpg"), 16, 10, image::ImageFormat::Jpeg);
    e.write("lib/song.mp3", b"ID3 not really an mp3");
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "lib/cat1.png", "lib/cat2.png", "-t", "animal:cat"]);
    e.ok(["tag", "lib/dog.jpg", "-t", "animal:dog"]);
    e.ok(["tags", "alias", "animal:cat", "kitty"]);
    e.ok(["tags", "imply", "animal:cat", "animal"]);
    e.ok(["tags", "imply", "animal:dog", "animal"]);
    e.ok(["pool", "create", "best cats"]);
    e.ok(["pool", "add", "best cats", "lib/cat2.png", "lib/cat1.png"]);
    let k = key(&e, "szuru", "--read");
    let server = serve(&e, &["--szuru-port", "0"]);
    let lib = std::fs::canonicalize(e.path("lib")).unwrap();
    let names = ["cat1.png", "cat2.png", "dog.jpg", "song.mp3"];
    let files: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|n| (n.to_string(), lib.join(n).to_string_lossy().into_owned().into())).collect();
    let id_of = |n: &str| -> i64 {
        let out = String::from_utf8(e.ok(["find", "--json", &format!("path:*/{n}")])).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["id"].as_i64().unwrap()
    };
    let name_of: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|n| (id_of(n).to_string(), (*n).into())).collect();
    let cfg = serde_json::json!({
        "url": server.szuru, "key": k, "files": files, "name_of": name_of,
        "pool_ids": [id_of("cat2.png"), id_of("cat1.png")],
    });
    run_script(&py, "szuru_client.py", &cfg, &server);
}

/// A picture with a few coloured blocks, different for each seed.
fn picture(seed: u32) -> image::RgbImage {
    let mut img = image::RgbImage::from_fn(240, 180, |x, y| {
        image::Rgb([(x + seed * 40) as u8, (y * 2 + seed * 90) as u8, ((x + y) / 2 + seed * 10) as u8])
    });
    for k in 0..5u32 {
        let (x0, y0) = ((seed * 53 + k * 41) % 200, (seed * 31 + k * 67) % 140);
        let c = image::Rgb([(seed * 70 + k * 50) as u8, (k * 90) as u8, (seed * 20 + 200) as u8]);
        for y in y0..y0 + 30 {
            for x in x0..x0 + 35 {
                img.put_pixel(x, y, c);
            }
        }
    }
    img
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(p).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The duplicate endpoints over a real library: a picture and its resized copy are one
/// potential pair (an unrelated picture is in none), the relationships a client sets land
/// as trove decisions (`dupe:undecided` follows), 0 makes the pair potential again, and a
/// duplicate relationship with the default content merge unions the tags. Files untouched.
#[test]
fn hydrus_duplicate_endpoints_serve_trove_pairs_and_store_decisions() {
    let e = env();
    std::fs::create_dir_all(e.path("lib/small")).unwrap();
    let orig = picture(1);
    orig.save(e.path("lib/photo.png")).unwrap();
    image::DynamicImage::ImageRgb8(orig)
        .resize_exact(120, 90, image::imageops::FilterType::Triangle)
        .save(e.path("lib/small/photo.png"))
        .unwrap();
    picture(4).save(e.path("lib/other.png")).unwrap();
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "--tag", "cat", "lib/photo.png"]);
    let (big, small, other) = (
        sha256_hex(&e.path("lib/photo.png")),
        sha256_hex(&e.path("lib/small/photo.png")),
        sha256_hex(&e.path("lib/other.png")),
    );
    let bytes_before: Vec<Vec<u8>> = ["lib/photo.png", "lib/small/photo.png", "lib/other.png"]
        .iter()
        .map(|p| std::fs::read(e.path(p)).unwrap())
        .collect();
    let all = key(&e, "dedup", "--all");
    let server = serve(&e, &["--hydrus-port", "0"]);
    let base = server.hydrus.clone();
    let hk = "Hydrus-Client-API-Access-Key";
    let get = |path: &str| {
        let (s, v) = call("GET", &format!("{base}{path}"), &[(hk, &all)], None);
        assert_eq!(s, 200, "{path}: {v}");
        v
    };
    let set = |rel: u32, merge: bool| {
        let body = json!({"relationships": [{"hash_a": small, "hash_b": big, "relationship": rel, "do_default_content_merge": merge}]});
        let (s, v) = call(
            "POST",
            &format!("{base}/manage_file_relationships/set_file_relationships"),
            &[(hk, &all), ("Content-Type", "application/json")],
            Some(&body.to_string()),
        );
        assert_eq!(s, 200, "{v}");
    };
    let count = || get("/manage_file_relationships/get_potentials_count")["potential_duplicates_count"].clone();
    assert_eq!(count(), 1);
    let v = get(&format!(
        "/manage_file_relationships/get_potential_pairs?max_num_pairs=10&file_service_keys={}",
        enc("[\"616c6c206c6f63616c2066696c6573\"]")
    ));
    let mut pair: Vec<String> =
        v["potential_duplicate_pairs"][0].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
    pair.sort();
    let mut want = vec![big.clone(), small.clone()];
    want.sort();
    assert_eq!(pair, want, "{v}");
    assert_eq!(v["potential_duplicate_pairs"].as_array().unwrap().len(), 1);
    // trove cannot tell pixel duplicates: "must be" is perceptual distance 0, where a
    // resized copy's gradient hash lands; "must not be" is above 0.
    let px = |p: u32| {
        get(&format!("/manage_file_relationships/get_potentials_count?pixel_duplicates={p}"))["potential_duplicates_count"]
            .clone()
    };
    assert_eq!((px(0), px(2)), (json!(1), json!(0)));
    // A search narrows the pairs: one file must carry `cat`, then both.
    let q = |t: u32| {
        format!(
            "/manage_file_relationships/get_potentials_count?tags_1={}&potentials_search_type={t}",
            enc("[\"cat\"]")
        )
    };
    assert_eq!(get(&q(0))["potential_duplicates_count"], 1);
    assert_eq!(get(&q(1))["potential_duplicates_count"], 0);
    let rel = get(&format!(
        "/manage_file_relationships/get_file_relationships?hashes={}",
        enc(&format!("[\"{big}\", \"{other}\"]"))
    ));
    let r = &rel["file_relationships"][&big];
    assert_eq!(r["0"], json!([small]), "{rel}");
    assert_eq!(
        (r["1"].as_array().unwrap().len(), r["3"].as_array().unwrap().len(), r["8"].as_array().unwrap().len()),
        (0, 0, 0)
    );
    assert_eq!((r["is_king"].clone(), r["king"].clone()), (json!(true), json!(big)));
    assert_eq!(rel["file_relationships"][&other]["0"], json!([]));

    // Alternates: decided, so no longer potential, and trove sees the decision.
    set(3, false);
    assert_eq!(count(), 0);
    assert!(e.find("dupe:undecided").0.is_empty());
    let rel = get(&format!("/manage_file_relationships/get_file_relationships?hash={small}"));
    assert_eq!(rel["file_relationships"][&small]["3"], json!([big]), "{rel}");
    // 0: potential again.
    set(0, false);
    assert_eq!(count(), 1);
    assert_eq!(e.find("dupe:undecided").0.len(), 2);
    // Same quality with the default merge: the tags are unioned; the larger image is king.
    set(2, true);
    assert_eq!(count(), 0);
    let (tagged, _) = e.find("cat");
    assert_eq!(tagged.len(), 2, "{tagged:?}");
    let rel = get(&format!("/manage_file_relationships/get_file_relationships?hash={small}"));
    let r = &rel["file_relationships"][&small];
    assert_eq!(
        (r["8"].clone(), r["is_king"].clone(), r["king"].clone()),
        (json!([big]), json!(false), json!(big)),
        "{rel}"
    );
    let bytes_after: Vec<Vec<u8>> = ["lib/photo.png", "lib/small/photo.png", "lib/other.png"]
        .iter()
        .map(|p| std::fs::read(e.path(p)).unwrap())
        .collect();
    assert_eq!(bytes_before, bytes_after, "a relationship changed a file");
}

/// A pair a client states as potential (relationship 0) that trove's own search does not
/// find (two unrelated pictures here, a video pair of hydrusvideodeduplicator in life) is
/// kept: listed as potential, undecided for `dupe:undecided`, until a relationship is set
/// or `remove_potentials` forgets it. `set_kings` is refused, naming why.
#[test]
fn hydrus_potential_pairs_a_client_states_are_kept_until_removed_and_set_kings_is_refused() {
    let e = env();
    std::fs::create_dir_all(e.path("lib")).unwrap();
    picture(1).save(e.path("lib/photo.png")).unwrap();
    picture(4).save(e.path("lib/other.png")).unwrap();
    e.ok(["include", "-r", "lib"]);
    let (photo, other) = (sha256_hex(&e.path("lib/photo.png")), sha256_hex(&e.path("lib/other.png")));
    let all = key(&e, "dedup", "--all");
    let server = serve(&e, &["--hydrus-port", "0"]);
    let base = server.hydrus.clone();
    let hk = "Hydrus-Client-API-Access-Key";
    let post = |path: &str, body: serde_json::Value| {
        call(
            "POST",
            &format!("{base}/manage_file_relationships/{path}"),
            &[(hk, &all), ("Content-Type", "application/json")],
            Some(&body.to_string()),
        )
    };
    let count = || {
        let (s, v) =
            call("GET", &format!("{base}/manage_file_relationships/get_potentials_count"), &[(hk, &all)], None);
        assert_eq!(s, 200, "{v}");
        v["potential_duplicates_count"].as_u64().unwrap()
    };
    let set = |rel: u32| {
        let (s, v) = post(
            "set_file_relationships",
            json!({"relationships": [{"hash_a": photo, "hash_b": other, "relationship": rel}]}),
        );
        assert_eq!(s, 200, "{v}");
    };
    assert_eq!(count(), 0, "trove does not pair unrelated pictures");
    assert!(e.find("dupe:undecided").0.is_empty());

    // Stated potential: kept, listed, undecided.
    set(0);
    assert_eq!(count(), 1);
    let (_, v) = call("GET", &format!("{base}/manage_file_relationships/get_potential_pairs"), &[(hk, &all)], None);
    let mut pair: Vec<&str> =
        v["potential_duplicate_pairs"][0].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    pair.sort();
    let mut want = vec![photo.as_str(), other.as_str()];
    want.sort();
    assert_eq!(pair, want, "{v}");
    assert_eq!(e.find("dupe:undecided").0, ["lib/other.png", "lib/photo.png"]);
    let (_, rel) = call(
        "GET",
        &format!("{base}/manage_file_relationships/get_file_relationships?hash={photo}"),
        &[(hk, &all)],
        None,
    );
    assert_eq!(rel["file_relationships"][&photo]["0"], json!([other]), "{rel}");
    // A relationship decides it; 0 makes it potential again.
    set(1);
    assert_eq!(count(), 0);
    set(0);
    assert_eq!(count(), 1);

    // remove_potentials forgets it; unknown files and missing arguments are named.
    let (s, v) = post("remove_potentials", json!({"hashes": ["00".repeat(32)]}));
    assert_eq!(s, 404, "{v}");
    assert_eq!(count(), 1, "nothing removed by a refused request");
    let (s, v) = post("remove_potentials", json!({}));
    assert_eq!(s, 400, "{v}");
    let (s, v) = post("remove_potentials", json!({"hash": photo}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(count(), 0);
    assert!(e.find("dupe:undecided").0.is_empty());

    // set_kings: trove's king is its keep rule's choice; refused with the reason.
    let (s, v) = post("set_kings", json!({"hashes": [photo]}));
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].as_str().unwrap_or_default().contains("trove does not store kings"), "{v}");
}
