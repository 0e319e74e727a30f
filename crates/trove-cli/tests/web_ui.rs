//! The browser UI of `trove serve`, driven in a real headless Chromium through chromedriver's
//! WebDriver HTTP protocol (spoken with ureq): open the token URL, search, scroll until the
//! second page loads, open a file, add a tag through autocomplete, see it in `trove find`,
//! and the keyboard. Screenshots go to target/web-screenshots/ (listed in docs/web.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trove_testutil::TestEnv;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver key under which an element reference travels.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium and chromedriver, or a printed reason to skip; under CI a missing one fails.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let (chromium, driver) = (PathBuf::from(CHROMIUM), PathBuf::from(CHROMEDRIVER));
    let missing: Vec<&str> = [(&chromium, "chromium"), (&driver, "chromium-driver")]
        .iter()
        .filter(|(p, _)| !p.exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Some((chromium, driver));
    }
    let why = format!("{} not installed (apt-get install {})", missing.join(" and "), missing.join(" "));
    assert!(std::env::var_os("CI").is_none(), "{why}: .ci/run installs them and the UI test needs them under CI");
    eprintln!("skipping the browser UI test: {why}");
    None
}

/// A running `trove serve`, killed on drop.
struct Server {
    child: Child,
    ui_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(e: &TestEnv) -> Server {
    let mut child = e
        .cmd(["serve", "--listen", "127.0.0.1:0"])
        .env("XDG_CACHE_HOME", e.path("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ui_url = line.trim().to_string();
    assert!(ui_url.starts_with("http://127.0.0.1:") && ui_url.contains("/?token="), "server did not start: {ui_url:?}");
    Server { child, ui_url }
}

/// chromedriver on a free loopback port with one Chromium session; both end on drop.
struct Browser {
    driver: Child,
    agent: ureq::Agent,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.session).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path, width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        loop {
            if let Ok(mut r) = agent.get(&format!("{base}/status")).call() {
                let v: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null);
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(t.elapsed() < Duration::from_secs(10), "chromedriver did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--window-size={width},{height}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut r = agent.post(&format!("{base}/session")).send(caps.to_string()).unwrap();
        let v: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        let id = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {v}"));
        let session = format!("{base}/session/{id}");
        Browser { driver, agent, session, _profile: profile }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let mut r = self.agent.post(&url).send(body.to_string()).unwrap();
        let ok = r.status().is_success();
        let v: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null);
        assert!(ok, "POST {path}: {v}");
        v["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let mut r = self.agent.get(&format!("{}{path}", self.session)).call().unwrap();
        let ok = r.status().is_success();
        let v: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null);
        assert!(ok, "GET {path}: {v}");
        v["value"].clone()
    }

    fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    fn element(&self, css: &str) -> String {
        let v = self.post("/element", json!({ "using": "css selector", "value": css }));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_string()
    }

    fn click(&self, css: &str) {
        let el = self.element(css);
        self.post(&format!("/element/{el}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css);
        self.post(&format!("/element/{el}/value"), json!({ "text": text }));
    }

    /// Presses keys on whatever has the focus, as a person would.
    fn press(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.post("/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}));
    }

    /// Polls a JavaScript expression until it is truthy; fails with its last value and the
    /// page's status line.
    fn wait(&self, what: &str, expr: &str) -> Value {
        let t = Instant::now();
        loop {
            let v = self.js(&format!("return {expr};"));
            if !(v.is_null() || v == false || v == 0 || v == "") {
                return v;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let status = self.js("return document.getElementById('status').textContent;");
                panic!("timed out waiting for {what}: {expr} = {v}; status line: {status}");
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Waits until the pictures on screen have loaded, then writes a PNG screenshot.
    fn screenshot(&self, path: &Path) -> image::DynamicImage {
        self.wait(
            "pictures on screen",
            "[...document.images].filter(i => { const r = i.getBoundingClientRect(); \
             return r.width && r.bottom > 0 && r.top < innerHeight; }).every(i => i.complete && i.naturalWidth > 0)",
        );
        let png = base64(self.get("/screenshot").as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        image::load_from_memory(&png).unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()))
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Where the screenshots go: target/web-screenshots/.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("web-screenshots")
}

/// 72 real PNG pictures (more than the UI's page of 60), a few tagged with animals.
fn library(e: &TestEnv) {
    std::fs::create_dir_all(e.path("lib/photos")).unwrap();
    for i in 0..72u32 {
        let (r, g, b) = ((i * 37 % 256) as u8, (i * 91 % 256) as u8, (255 - i * 3) as u8);
        let img = image::RgbImage::from_fn(96, 72, |x, y| {
            let f = |c: u8, d: u32| (c as u32 * (96 + d) / 192) as u8;
            image::Rgb([f(r, x), f(g, y * 2), f(b, (x + y) / 2)])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        std::fs::write(e.path(format!("lib/photos/p{i:02}.png")), png).unwrap();
    }
    e.write("lib/notes.txt", b"not a photo");
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "-t", "photo", "-r", "lib/photos"]);
    e.ok(["tag", "-t", "animal:cat", "lib/photos/p00.png", "lib/photos/p01.png"]);
    e.ok(["tag", "-t", "colour:blue", "lib/photos/p05.png"]);
    e.ok(["tags", "imply", "animal:cat", "animal"]);
}

const CARDS: &str = "document.querySelectorAll('#grid .card').length";
const SELECTED: &str = "[...document.querySelectorAll('#grid .card.selected')].map(c => +c.dataset.index)";

#[test]
fn ui_search_scroll_open_tag_with_autocomplete_and_keys_in_headless_chromium() {
    let Some((chromium, chromedriver)) = browser_tools() else { return };
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    library(&e);
    let server = serve(&e);
    let shots = screenshot_dir();
    let b = Browser::start(&chromium, &chromedriver, 1280, 800);

    // The token URL trades the token for the session cookie and lands on the grid.
    b.open(&server.ui_url);
    let base = server.ui_url.split("/?token=").next().unwrap();
    assert_eq!(b.get("/url"), format!("{base}/"), "the token is not left in the address bar");
    b.wait("the first grid", &format!("{CARDS} > 0"));

    // `/` focuses the search box; a query is typed and submitted.
    b.press(&["/"]);
    assert_eq!(b.js("return document.activeElement.id;"), "q");
    b.type_into("#q", "photo\u{E007}");
    b.wait("the first page of 60", "document.getElementById('status').textContent === '60 file(s) so far'");
    assert_eq!(b.js(&format!("return {CARDS};")), 60, "one page of 60, not all 72");
    let names = b.js("return [...document.querySelectorAll('#grid .card .name')].map(n => n.textContent);");
    let names: Vec<&str> = names.as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(names.iter().all(|n| n.starts_with('p') && n.ends_with(".png")), "only photos: {names:?}");
    b.screenshot(&shots.join("web-grid.png"));

    // Scrolling to the end loads the second page.
    b.js("window.scrollTo(0, document.body.scrollHeight);");
    b.wait("the second page", &format!("{CARDS} === 72"));
    b.wait("the end of the results", "document.getElementById('status').textContent === '72 file(s)'");
    b.js("window.scrollTo(0, 0);");

    // Arrow keys move the selection: right, right, down one row, left.
    b.press(&["\u{E00C}"]); // Escape leaves the search box
    assert_ne!(b.js("return document.activeElement.id;"), "q");
    assert_eq!(b.js("return document.getElementById('q').value;"), "photo", "Esc keeps the query");
    let columns = b.js("const c = document.querySelectorAll('#grid .card'); \
                        let n = 0; while (c[n].offsetTop === c[0].offsetTop) n++; return n;");
    let columns = columns.as_i64().unwrap();
    assert!(columns > 1, "a grid, not a list: {columns}");
    b.press(&["\u{E014}"]);
    assert_eq!(b.js(&format!("return {SELECTED};")), json!([0]));
    b.press(&["\u{E014}", "\u{E015}", "\u{E012}"]);
    assert_eq!(b.js(&format!("return {SELECTED};")), json!([columns]));

    // Clicking a card opens the file page; arrows step through files there.
    b.click("#grid .card[data-index='5']");
    b.wait("the viewer", "!document.getElementById('viewer').hidden");
    b.wait("p05.png in the viewer", "document.getElementById('viewer-name').textContent === 'p05.png'");
    assert!(
        b.js("return document.getElementById('viewer-path').textContent;")
            .as_str()
            .unwrap()
            .ends_with("lib/photos/p05.png")
    );
    b.press(&["\u{E014}"]);
    b.wait("the next file", "document.getElementById('viewer-name').textContent === 'p06.png'");
    b.press(&["\u{E012}"]);
    b.wait("back to p05.png", "document.getElementById('viewer-name').textContent === 'p05.png'");

    // `t` focuses the tag input; typing a prefix offers the existing tag; it is added.
    b.press(&["t"]);
    assert_eq!(b.js("return document.activeElement.id;"), "tag-input");
    b.type_into("#tag-input", "ani");
    let offered = b.wait(
        "autocomplete for 'ani'",
        "[...document.querySelectorAll('#tag-suggestions option')].map(o => o.value).find(v => v === 'animal:cat')",
    );
    assert_eq!(offered, "animal:cat");
    b.type_into("#tag-input", "mal:cat\u{E007}");
    b.wait(
        "the new tag on the file page",
        "[...document.querySelectorAll('#viewer-tags .tag')].some(t => t.firstChild.textContent === 'animal:cat')",
    );
    b.wait("the implied tag", "[...document.querySelectorAll('#viewer-tags .tag.implied')].length === 1");
    assert_eq!(b.js("return document.getElementById('tag-input').value;"), "");

    // The history panel: the tag just added is the newest line, by the UI's session.
    b.click("#viewer-history summary");
    b.wait(
        "the file's history",
        "[...document.querySelectorAll('#viewer-history li')].length >= 2 && \
         document.querySelector('#viewer-history li').textContent.includes('+animal:cat')",
    );
    // Pools: the open file goes into a new pool, shown with its place, and out again.
    b.type_into("#pool-input", "Best of\u{E007}");
    b.wait(
        "the pool on the file page",
        "[...document.querySelectorAll('#viewer-pools .pool')].some(p => p.firstChild.textContent === 'Best of #1')",
    );
    let shown = String::from_utf8(e.ok(["pool", "show", "Best of"])).unwrap();
    assert!(shown.contains("lib/photos/p05.png"), "{shown}");
    b.click("#viewer-pools .pool button");
    b.wait("the pool gone from the file page", "document.querySelectorAll('#viewer-pools .pool').length === 0");
    let shown = String::from_utf8(e.ok(["pool", "show", "Best of"])).unwrap();
    assert!(!shown.contains("p05.png"), "taken out of the pool: {shown}");
    b.type_into("#pool-input", "Best of\u{E007}");
    b.wait("back in the pool", "document.querySelectorAll('#viewer-pools .pool').length === 1");
    b.screenshot(&shots.join("web-file.png"));

    // The real `trove find` sees it, with the UI's source.
    let (found, code) = e.find("animal:cat");
    assert_eq!(
        (found, code),
        (vec!["lib/photos/p00.png".into(), "lib/photos/p01.png".into(), "lib/photos/p05.png".into()], 0)
    );
    let ls = String::from_utf8(e.ok(["ls", "--json", "lib/photos/p05.png"])).unwrap();
    assert!(ls.contains("\"api:web\""), "the UI session's source: {ls}");

    // Escape closes the viewer; the selection is on the file that was open, and only there.
    b.press(&["\u{E00C}"]);
    b.wait("the viewer to close", "document.getElementById('viewer').hidden");
    assert_eq!(b.js(&format!("return {SELECTED};")), json!([5]));

    // A phone-sized window: the grid and the file page still fit.
    b.post("/window/rect", json!({"width": 390, "height": 844}));
    b.wait("the narrow layout", "innerWidth <= 400");
    let overflow = "document.documentElement.scrollWidth <= innerWidth";
    assert_eq!(b.js(&format!("return {overflow};")), true, "nothing wider than the phone");
    b.screenshot(&shots.join("web-phone-grid.png"));
    b.press(&["\u{E007}"]);
    b.wait("the viewer on a phone", "!document.getElementById('viewer').hidden");
    assert_eq!(b.js(&format!("return {overflow};")), true, "nothing wider than the phone");
    b.screenshot(&shots.join("web-phone.png"));

    // `/` on the file page closes it and focuses the search box.
    b.press(&["/"]);
    assert_eq!(
        b.js("return [document.getElementById('viewer').hidden, document.activeElement.id];"),
        json!([true, "q"])
    );
}

/// A picture-like image: a gradient with a few rectangles placed by `seed`.
fn picture(seed: u32) -> image::RgbImage {
    let mut img = image::RgbImage::from_fn(480, 360, |x, y| {
        image::Rgb([(x / 2 + seed * 40) as u8, (y + seed * 90) as u8, ((x + y) / 4 + seed * 10) as u8])
    });
    for k in 0..5u32 {
        let (x0, y0) = ((seed * 106 + k * 82) % 400, (seed * 62 + k * 134) % 280);
        let c = image::Rgb([(seed * 70 + k * 50) as u8, (k * 90) as u8, (seed * 20 + 200) as u8]);
        for y in y0..y0 + 60 {
            for x in x0..x0 + 70 {
                img.put_pixel(x, y, c);
            }
        }
    }
    img
}

#[test]
fn ui_duplicates_page_compares_a_group_and_marks_it_in_headless_chromium() {
    let Some((chromium, chromedriver)) = browser_tools() else { return };
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    // A picture, a smaller copy of it and a low-quality JPEG of it; two copies of a file.
    std::fs::create_dir_all(e.path("lib/small")).unwrap();
    picture(2).save(e.path("lib/beach.png")).unwrap();
    image::DynamicImage::ImageRgb8(picture(2))
        .resize_exact(240, 180, image::imageops::FilterType::Triangle)
        .save(e.path("lib/small/beach.png"))
        .unwrap();
    let f = std::fs::File::create(e.path("lib/beach-q30.jpg")).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, 30).encode_image(&picture(2)).unwrap();
    picture(5).save(e.path("lib/forest.png")).unwrap();
    e.write("lib/a/notes.txt", b"written twice");
    e.write("lib/b/notes.txt", b"written twice");
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "-t", "place:beach", "lib/beach.png"]);
    e.ok(["tag", "-t", "holiday", "lib/small/beach.png"]);
    let beaches = ["lib/beach-q30.jpg", "lib/beach.png", "lib/small/beach.png"];
    let undecided = |e: &TestEnv| e.find("dupe:undecided").0;
    assert_eq!(
        undecided(&e),
        ["lib/a/notes.txt", "lib/b/notes.txt", "lib/beach-q30.jpg", "lib/beach.png", "lib/small/beach.png"]
    );

    let server = serve(&e);
    let shots = screenshot_dir();
    let b = Browser::start(&chromium, &chromedriver, 1280, 800);
    b.open(&server.ui_url);
    b.wait("the first grid", &format!("{CARDS} > 0"));

    // The nav link opens the list: two groups, both undecided, the similar one with three files.
    b.click("#nav-dupes");
    b.wait("the list of groups", "document.querySelectorAll('#dupes-page .dupe-row').length === 2");
    let heading = b.js("return document.querySelector('#dupes-page p').textContent;");
    assert_eq!(heading, "2 group(s): 1 of identical files, 1 of similar images; 2 with undecided pairs");
    b.screenshot(&shots.join("web-dupes-list.png"));
    let group = b.js("return [...document.querySelectorAll('#dupes-page .dupe-row')]\
           .filter(r => r.textContent.includes('3 similar images')).map(r => r.dataset.group);");
    let group = group[0].as_str().unwrap_or_else(|| panic!("the similar group is listed: {group}")).to_string();

    // The group side by side: each picture at screen size, its resolution, path and tags; the
    // keep rule's choice marked.
    b.click(&format!("#dupes-page .dupe-row[data-group='{group}']"));
    b.wait("the compare view", "document.querySelectorAll('#dupe-members .dupe-member').length === 3");
    let shown = b.js("return [...document.querySelectorAll('#dupe-members .dupe-member')].map(m => [\
           m.querySelector('.path').textContent.split('/lib/')[1], \
           m.querySelector('dd').textContent, m.classList.contains('keep'), \
           [...m.querySelectorAll('.tag')].map(t => t.textContent).join(' '), \
           m.querySelector('img').getAttribute('src').endsWith('/content')]);");
    assert_eq!(
        shown,
        json!([
            ["beach-q30.jpg", "480 × 360", false, "", true],
            ["beach.png", "480 × 360", true, "place:beach", true],
            ["small/beach.png", "240 × 180", false, "holiday", true],
        ]),
        "the PNG of the largest resolution and size is kept"
    );
    b.wait("the undecided badge", "document.getElementById('dupe-decision').textContent === 'undecided'");
    assert_eq!(b.js("return getComputedStyle(document.getElementById('grid')).display;"), "none", "one page at a time");
    b.screenshot(&shots.join("web-dupes.png"));

    // A click on a decision stores it for every pair, as `trove dupes mark` does.
    b.click("#dupe-alternate");
    b.wait("the decision shown", "document.getElementById('dupe-decision').textContent === 'alternate'");
    assert_eq!(undecided(&e), ["lib/a/notes.txt", "lib/b/notes.txt"]);
    let json = String::from_utf8(e.ok(["dupes", "--similar", "--json"])).unwrap();
    let g: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!((&g["decision"], &g["undecided"]), (&json!("alternate"), &json!(0)), "{g}");
    let log = String::from_utf8(e.ok(["log"])).unwrap();
    assert!(log.contains("api:web"), "the UI session's source: {log}");
    // `m` merges the tags onto every picture of the group.
    b.press(&["m"]);
    b.wait(
        "the merged tags",
        "[...document.querySelectorAll('#dupe-members .dupe-member')].every(m => m.querySelectorAll('.tag').length === 2)",
    );
    assert_eq!(e.find("holiday place:beach").0, beaches);

    // Keyboard: the previous group in the list (the copies come first), `n` marks them not
    // duplicates; Esc back to the list.
    b.press(&["\u{E012}"]);
    b.wait("the copies", "document.querySelectorAll('#dupe-members .dupe-member').length === 2");
    b.press(&["n"]);
    b.wait("the decision shown", "document.getElementById('dupe-decision').textContent === 'not-duplicate'");
    assert!(undecided(&e).is_empty(), "every pair decided");
    let json = String::from_utf8(e.ok(["dupes", "--json"])).unwrap();
    assert!(json.contains("\"decision\":\"not-duplicate\""), "{json}");
    // On a phone-sized screen the members stack and nothing is wider than the screen.
    b.post("/window/rect", json!({"width": 390, "height": 844}));
    b.wait("the narrow layout", "innerWidth <= 400");
    assert_eq!(
        b.js("return document.documentElement.scrollWidth <= innerWidth;"),
        true,
        "nothing wider than the phone"
    );
    let stacked = b.js(
        "const m = document.querySelectorAll('#dupe-members .dupe-member'); return m[1].offsetTop > m[0].offsetTop;",
    );
    assert_eq!(stacked, true, "the members stack on a phone");
    b.screenshot(&shots.join("web-dupes-phone.png"));
    b.press(&["\u{E00C}"]);
    b.wait("the list again", "!document.getElementById('dupes-page').hidden");
    b.wait("both groups decided", "document.querySelectorAll('#dupes-page .badge.decided').length === 2");
    // Nothing on disk changed: the files are where they were.
    for p in beaches {
        assert!(e.path(p).is_file(), "{p}");
    }
}
