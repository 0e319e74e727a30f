//! `trove serve` end to end: a real server on a loopback port over a library of real files,
//! driven with a real HTTP client (ureq) and raw sockets where a client would correct us.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trove_testutil::{TestEnv, have_tool};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

/// A running `trove serve`, killed on drop; its log is kept for inspection.
struct Server {
    child: Child,
    base: String,
    ui_url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(e: &TestEnv, extra: &[&str]) -> Server {
    serve_env(e, extra, &[])
}

/// [`serve`] with extra environment variables (e.g. a PATH without ffmpeg).
fn serve_env(e: &TestEnv, extra: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Server {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = e
        .cmd(&args)
        .envs(vars.iter().copied())
        .env("XDG_CACHE_HOME", e.path("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let ui_url = line.trim().to_string();
    assert!(ui_url.starts_with("http://127.0.0.1:"), "server did not start: {ui_url:?}");
    let base = ui_url.split("/?token=").next().unwrap().to_string();
    let log = trove_testutil::collect_output(child.stderr.take().unwrap(), String::new());
    Server { child, base, ui_url, log }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// (status, headers we look at, body)
fn get(url: &str, auth: Option<&str>, extra: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = agent().get(url);
    if let Some(k) = auth {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    for (h, v) in extra {
        req = req.header(*h, *v);
    }
    let mut r = req.call().unwrap();
    let headers =
        r.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    (r.status().as_u16(), headers, r.body_mut().read_to_vec().unwrap())
}

fn get_json(url: &str, key: &str) -> (u16, Value) {
    let (s, _, b) = get(url, Some(key), &[]);
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn post_json(url: &str, key: Option<&str>, extra: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    for (h, v) in extra {
        req = req.header(*h, *v);
    }
    let mut r = req.send(body).unwrap();
    let s = r.status().as_u16();
    (s, serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null))
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn key(e: &TestEnv, name: &str, scope: &str) -> String {
    String::from_utf8(e.ok(["keys", "add", name, scope])).unwrap().trim().to_string()
}

/// A JPEG 40 wide and 20 high whose EXIF orientation (6) says "rotate 90° clockwise to
/// show": shown upright it is 20 wide and 40 high.
fn rotated_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([(x * 6) as u8, 90, 200]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .unwrap();
    // APP1 "Exif\0\0" + little-endian TIFF header + one IFD entry: Orientation (0x0112),
    // SHORT, count 1, value 6.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&[1, 0]);
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn write_image(p: &Path, fmt: image::ImageFormat) {
    let img = image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([x as u8 * 4, y as u8 * 5, 120, 255]));
    let mut v = Vec::new();
    image::DynamicImage::ImageRgba8(img).write_to(&mut std::io::Cursor::new(&mut v), fmt).unwrap();
    std::fs::write(p, v).unwrap();
}

/// The library: pictures of every kind, text, a broken picture, 60 small files for paging.
fn library(e: &TestEnv) {
    std::fs::create_dir_all(e.path("lib/pics")).unwrap();
    std::fs::write(e.path("lib/pics/rotated.jpg"), rotated_jpeg()).unwrap();
    write_image(&e.path("lib/pics/plain.png"), image::ImageFormat::Png);
    write_image(&e.path("lib/pics/anim.gif"), image::ImageFormat::Gif);
    std::fs::write(e.path("lib/pics/broken.jpg"), b"\xff\xd8\xff\xe0 this is not really a jpeg").unwrap();
    e.write("lib/notes/readme.txt", b"0123456789abcdefghij");
    for i in 0..60 {
        e.write(format!("lib/many/f{i:02}.txt"), format!("file {i}").as_bytes());
    }
    if have_tool("ffmpeg", "-version") {
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", "-pix_fmt", "yuv420p"])
            .arg(e.path("lib/pics/clip.mp4"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    if have_tool("ffmpeg", "-version") {
        // An MP3 with its cover art attached (the PNG above).
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-i"])
            .arg(e.path("lib/pics/plain.png"))
            .args(["-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "png", "-id3v2_version", "3"])
            .args(["-disposition:v", "attached_pic"])
            .arg(e.path("lib/pics/song.mp3"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::fs::write(e.path("lib/pics/page.pdf"), tiny_pdf()).unwrap();
    e.ok(["include", "-r", "-t", "lib", "lib"]);
    e.ok(["tag", "-t", "page", "-r", "lib/many"]);
    e.ok(["tag", "-t", "animal:cat", "lib/pics/rotated.jpg"]);
    e.ok(["tags", "imply", "animal:cat", "animal"]);
}

/// A one-page PDF with a filled rectangle, written by hand with a correct xref table.
fn tiny_pdf() -> Vec<u8> {
    let content = b"0.2 0.4 0.8 rg 20 20 160 100 re f";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 140] /Contents 4 0 R >>".to_string(),
        format!("<< /Length {} >>\nstream\n{}\nendstream", content.len(), String::from_utf8_lossy(content)),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

fn id_of(base: &str, k: &str, query: &str) -> i64 {
    let (_, v) = get_json(&format!("{base}/api/v1/search?q={}", enc(query)), k);
    v["files"][0]["id"].as_i64().unwrap_or_else(|| panic!("{query}: {v}"))
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn api_search_pages_tags_ranges_and_thumbnails() {
    let e = env();
    library(&e);
    let k = key(&e, "script", "--tag");
    let s = serve(&e, &[]);
    let base = &s.base;

    // Search: the query language, implications, warnings, query errors with the byte.
    let (st, v) = get_json(&format!("{base}/api/v1/search?q=animal&count=1"), &k);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["count"], 1);
    assert!(v["files"][0]["path"].as_str().unwrap().ends_with("rotated.jpg"));
    let (st, v) = get_json(&format!("{base}/api/v1/search?q={}", enc("ext:png | ext:gif")), &k);
    assert_eq!((st, v["files"].as_array().unwrap().len()), (200, 2));
    let (_, v) = get_json(&format!("{base}/api/v1/search?q=nosuchtag"), &k);
    assert_eq!(v["warnings"][0], "nosuchtag: no such tag");
    let (st, v) = get_json(&format!("{base}/api/v1/search?q={}", enc("cat (dog")), &k);
    assert_eq!(st, 400);
    assert_eq!(v["position"], 8, "{v}");

    // Pages of 7 through 60 files while another process tags them: none skipped or repeated.
    let tagger = {
        let (bin, index, root) = (env!("CARGO_BIN_EXE_trove"), e.index.clone(), e.root().to_path_buf());
        std::thread::spawn(move || {
            for i in (0..60).step_by(3) {
                let st = Command::new(bin)
                    .args(["tag", "-t", "busy", &format!("lib/many/f{i:02}.txt")])
                    .env("TROVE_INDEX", &index)
                    .current_dir(&root)
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let (st, v) = get_json(&format!("{base}/api/v1/search?q=page&limit=7&cursor={}", enc(&cursor)), &k);
        assert_eq!(st, 200, "{v}");
        for f in v["files"].as_array().unwrap() {
            seen.push(f["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    tagger.join().unwrap();
    let want: Vec<String> = (0..60).map(|i| format!("f{i:02}.txt")).collect();
    assert_eq!(seen, want);
    // Other orders page too, and a bad cursor is a clear 400.
    let (_, v) = get_json(&format!("{base}/api/v1/search?q={}&limit=50", enc("page sort:-size")), &k);
    let c = v["next_cursor"].as_str().unwrap().to_string();
    let (_, v2) = get_json(&format!("{base}/api/v1/search?q={}&limit=50&cursor={c}", enc("page sort:-size")), &k);
    assert_eq!(v["files"].as_array().unwrap().len() + v2["files"].as_array().unwrap().len(), 60);
    let (st, _) = get_json(&format!("{base}/api/v1/search?q=page&cursor=zz"), &k);
    assert_eq!(st, 400);
    // sort:random is one page of distinct files.
    let (_, v) = get_json(&format!("{base}/api/v1/search?q={}", enc("sort:random limit:5")), &k);
    let mut ids: Vec<i64> = v["files"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), &v["next_cursor"]), (5, &Value::Null), "{v}");

    // File metadata with tags (implied marked, sources shown).
    let jpg = id_of(base, &k, "animal");
    let (st, v) = get_json(&format!("{base}/api/v1/files/{jpg}"), &k);
    assert_eq!(st, 200);
    let tags = v["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["name"] == "animal:cat" && t["sources"][0] == "manual" && t["implied"] == false));
    assert!(tags.iter().any(|t| t["name"] == "animal" && t["implied"] == true));

    // Tag edits through the API are visible to `trove find`, with the key's source.
    let (st, v) = post_json(
        &format!("{base}/api/v1/files/{jpg}/tags"),
        Some(&k),
        &[],
        r#"{"add":["favourite"],"remove":["lib"]}"#,
    );
    assert_eq!((st, &v["added"], &v["removed"]), (200, &json!(1), &json!(1)), "{v}");
    assert_eq!(e.find("favourite").0, ["lib/pics/rotated.jpg"]);
    let ls = String::from_utf8(e.ok(["ls", "--json", "lib/pics/rotated.jpg"])).unwrap();
    assert!(ls.contains("api:script"), "{ls}");
    // The edit is one operation by the key, which may undo it (the UI's undo button) and
    // redo it by undoing the undo; another tag-scoped key may not undo it.
    let op = v["op"].as_i64().expect("the answer names the operation");
    let log = String::from_utf8(e.ok(["log", "-n", "1"])).unwrap();
    assert!(log.contains(&format!("{op}")) && log.contains("api:script"), "{log}");
    let other = key(&e, "other", "--tag");
    let undo_url = format!("{base}/api/v1/undo");
    assert_eq!(post_json(&undo_url, Some(&other), &[], &format!(r#"{{"op":{op}}}"#)).0, 403);
    let (st, u) = post_json(&undo_url, Some(&k), &[], &format!(r#"{{"op":{op}}}"#));
    // The tag favourite, its name, its link; the link to lib back.
    assert_eq!((st, &u["undone"], &u["restored"]), (200, &json!(op), &json!(4)), "{u}");
    assert_eq!(e.find("favourite").1, 1);
    assert_eq!(post_json(&undo_url, Some(&k), &[], &format!(r#"{{"op":{op}}}"#)).0, 409, "already undone");
    let redo = u["op"].as_i64().unwrap();
    assert_eq!(post_json(&undo_url, Some(&k), &[], &format!(r#"{{"op":{redo}}}"#)).0, 200);
    assert_eq!(e.find("favourite").0, ["lib/pics/rotated.jpg"]);
    assert_eq!(post_json(&undo_url, Some(&k), &[], r#"{"op":99999}"#).0, 404);
    // Bad bodies: malformed, unknown fields, too big.
    assert_eq!(post_json(&format!("{base}/api/v1/files/{jpg}/tags"), Some(&k), &[], "{nope").0, 400);
    assert_eq!(post_json(&format!("{base}/api/v1/files/{jpg}/tags"), Some(&k), &[], r#"{"ad":["x"]}"#).0, 400);
    // A body over the limit is refused from its Content-Length, before it is read (a client
    // still writing it may see the connection close, so the request is sent by hand).
    let addr = base.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        sock,
        "POST /api/v1/files/{jpg}/tags HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {k}\r\n\
         Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{{\"add\":[\""
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(sock).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // Content with Range: 200, 206, 416; a missing file is a 404 and its record is kept.
    let txt = id_of(base, &k, "ext:txt path:*/notes/*");
    let (st, h, b) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[]);
    assert_eq!((st, b.as_slice()), (200, &b"0123456789abcdefghij"[..]));
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
    let (st, h, b) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[("Range", "bytes=2-5")]);
    assert_eq!((st, b.as_slice(), header(&h, "content-range")), (206, &b"2345"[..], Some("bytes 2-5/20")));
    let (st, _, b) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[("Range", "bytes=-3")]);
    assert_eq!((st, b.as_slice()), (206, &b"hij"[..]));
    let (st, h, _) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[("Range", "bytes=20-")]);
    assert_eq!((st, header(&h, "content-range")), (416, Some("bytes */20")));
    let (st, _, _) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[("Range", "bytes=9-3")]);
    assert_eq!(st, 416);
    std::fs::remove_file(e.path("lib/notes/readme.txt")).unwrap();
    let (st, _, b) = get(&format!("{base}/api/v1/files/{txt}/content"), Some(&k), &[]);
    assert_eq!(st, 404, "{}", String::from_utf8_lossy(&b));
    assert!(String::from_utf8_lossy(&b).contains("cannot be read now"), "{}", String::from_utf8_lossy(&b));
    assert_eq!(e.find("path:*/notes/*").0, ["lib/notes/readme.txt"], "a read changes no record");

    // Thumbnails: orientation applied; PNG, GIF; a broken picture and a text file get icons.
    let (st, h, b) = get(&format!("{base}/api/v1/files/{jpg}/thumbnail"), Some(&k), &[]);
    assert_eq!((st, header(&h, "content-type")), (200, Some("image/jpeg")));
    let thumb = image::load_from_memory(&b).unwrap();
    assert!(thumb.height() > thumb.width(), "EXIF orientation applied: {}x{}", thumb.width(), thumb.height());
    for q in ["ext:png", "ext:gif"] {
        let id = id_of(base, &k, q);
        let (st, h, b) = get(&format!("{base}/api/v1/files/{id}/thumbnail"), Some(&k), &[]);
        assert_eq!((st, header(&h, "content-type")), (200, Some("image/jpeg")), "{q}");
        assert!(image::load_from_memory(&b).is_ok(), "{q}");
    }
    for q in ["path:*broken.jpg", "path:*/f01.txt"] {
        let id = id_of(base, &k, q);
        let (st, h, b) = get(&format!("{base}/api/v1/files/{id}/thumbnail"), Some(&k), &[]);
        assert_eq!((st, header(&h, "content-type")), (200, Some("image/svg+xml")), "{q}");
        assert!(String::from_utf8_lossy(&b).starts_with("<svg"), "{q}");
    }
    // The log is read by another thread: give it a moment.
    let t = Instant::now();
    while !s.log.lock().unwrap().contains("showing its type icon") {
        assert!(t.elapsed() < Duration::from_secs(5), "the broken picture's reason is logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    if have_tool("ffmpeg", "-version") {
        let id = id_of(base, &k, "ext:mp4");
        let (st, h, b) = get(&format!("{base}/api/v1/files/{id}/thumbnail"), Some(&k), &[]);
        assert_eq!((st, header(&h, "content-type")), (200, Some("image/jpeg")));
        assert!(image::load_from_memory(&b).is_ok());
    }
    let mut made = vec!["ext:pdf"];
    if have_tool("ffmpeg", "-version") {
        made.push("ext:mp3");
    }
    for q in made {
        if q == "ext:pdf" && !have_tool("pdftoppm", "-version") {
            continue;
        }
        let id = id_of(base, &k, q);
        let (st, h, b) = get(&format!("{base}/api/v1/files/{id}/thumbnail"), Some(&k), &[]);
        assert_eq!((st, header(&h, "content-type")), (200, Some("image/jpeg")), "{q}: a real picture, not an icon");
        assert!(image::load_from_memory(&b).is_ok(), "{q}");
    }
    // The thumbnail is cached by content hash.
    let cached = walk(&e.path("cache/trove/thumbs"));
    assert!(cached.iter().any(|p| p.to_string_lossy().ends_with("-320.jpg")), "{cached:?}");

    // Pools: create, add by id in order, show; an unknown id names itself.
    let (st, _) = post_json(&format!("{base}/api/v1/pools"), Some(&k), &[], r#"{"title":"Best"}"#);
    assert_eq!(st, 201);
    let png = id_of(base, &k, "ext:png");
    let (st, v) =
        post_json(&format!("{base}/api/v1/pools/Best/files"), Some(&k), &[], &format!(r#"{{"add":[{png},{jpg}]}}"#));
    assert_eq!((st, &v["added"]), (200, &json!(2)), "{v}");
    let (_, v) = get_json(&format!("{base}/api/v1/pools/best"), &k);
    let order: Vec<i64> = v["files"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(order, [png, jpg]);
    let (st, v) = post_json(&format!("{base}/api/v1/pools/Best/files"), Some(&k), &[], r#"{"add":[987654]}"#);
    assert!(st == 400 && v["error"].as_str().unwrap().contains("987654"), "{st} {v}");
    // Tag management needs the `all` scope.
    let admin = key(&e, "admin", "--all");
    let (st, v) =
        post_json(&format!("{base}/api/v1/tags/alias"), Some(&admin), &[], r#"{"tag":"animal:cat","to":"kitty"}"#);
    assert_eq!(st, 200, "{v}");
    assert_eq!(e.find("kitty").0, ["lib/pics/rotated.jpg"]);
    let (st, _) = post_json(&format!("{base}/api/v1/tags/explode"), Some(&admin), &[], r#"{"tag":"a","to":"b"}"#);
    assert_eq!(st, 400);

    // Tag list and autocomplete.
    let (_, v) = get_json(&format!("{base}/api/v1/tags?q=ani"), &k);
    let names: Vec<&str> = v["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"animal") && names.contains(&"animal:cat"), "{names:?}");
    // An alias that starts with the prefix finds its tag and is listed with it.
    let (_, v) = get_json(&format!("{base}/api/v1/tags?q=kit"), &k);
    assert_eq!((&v["tags"][0]["name"], &v["tags"][0]["aliases"][0]), (&json!("animal:cat"), &json!("kitty")), "{v}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
    }
    out
}

/// A raw request, so the Host header is exactly what we say.
fn raw(base: &str, path: &str, host: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn api_access_is_guarded() {
    let e = env();
    library(&e);
    let read = key(&e, "reader", "--read");
    let writer = key(&e, "writer", "--tag");
    let s = serve(&e, &[]);
    let base = &s.base;
    let jpg = id_of(base, &read, "animal");

    // Every protected route without a key is 401, with an unknown key 403.
    let routes = [
        "/api/v1/search?q=x".to_string(),
        format!("/api/v1/files/{jpg}"),
        format!("/api/v1/files/{jpg}/content"),
        format!("/api/v1/files/{jpg}/thumbnail"),
        "/api/v1/tags".to_string(),
        "/api/v1/pools".to_string(),
    ];
    for r in &routes {
        assert_eq!(get(&format!("{base}{r}"), None, &[]).0, 401, "{r}");
        assert_eq!(get(&format!("{base}{r}"), Some(&"0".repeat(64)), &[]).0, 403, "{r}");
        assert_eq!(get(&format!("{base}{r}"), Some(&read), &[]).0, 200, "{r}");
    }
    // A media URL may carry the key.
    assert_eq!(get(&format!("{base}/api/v1/files/{jpg}/thumbnail?key={read}"), None, &[]).0, 200);
    // A read-only key cannot write; a tag key cannot manage tags.
    let tags_url = format!("{base}/api/v1/files/{jpg}/tags");
    assert_eq!(post_json(&tags_url, None, &[], r#"{"add":["x"]}"#).0, 401);
    assert_eq!(post_json(&tags_url, Some(&read), &[], r#"{"add":["x"]}"#).0, 403);
    assert_eq!(post_json(&tags_url, Some(&writer), &[], r#"{"add":["x"]}"#).0, 200);
    let (st, v) = post_json(&format!("{base}/api/v1/tags/rename"), Some(&writer), &[], r#"{"tag":"x","to":"y"}"#);
    assert_eq!(st, 403, "{v}");
    // Traversal and junk in ids: 404, never a file outside the index.
    for bad in ["..%2F..%2Fetc%2Fpasswd", "1%2F..", "-1", "0", "1e3", "99999999", "%00"] {
        let (st, _, _) = get(&format!("{base}/api/v1/files/{bad}/content"), Some(&read), &[]);
        assert_eq!(st, 404, "{bad}");
    }
    // Wrong Host (DNS rebinding) is refused; loopback names and IP literals are not.
    let port = base.rsplit(':').next().unwrap();
    assert_eq!(raw(base, "/api/v1/pools", &format!("evil.example:{port}")), 421);
    assert_eq!(raw(base, "/api/v1/pools", &format!("localhost:{port}")), 401);
    assert_eq!(raw(base, "/api/v1/pools", &format!("127.0.0.1:{port}")), 401);

    // The UI: no token, no page; the token URL sets a strict, HttpOnly cookie once.
    assert_eq!(get(&format!("{base}/"), None, &[]).0, 401);
    let (st, h, _) = get(&s.ui_url, None, &[]);
    assert_eq!(st, 303);
    let cookie = header(&h, "set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    assert_eq!(get(&s.ui_url, None, &[]).0, 403, "the token works once");
    let (st, _, page) = get(&format!("{base}/"), None, &[("Cookie", &session)]);
    assert_eq!(st, 200);
    let page = String::from_utf8(page).unwrap();
    let csrf = page.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // The session reads; its writes need the CSRF header.
    assert_eq!(get(&format!("{base}/api/v1/search?q=x"), None, &[("Cookie", &session)]).0, 200);
    assert_eq!(post_json(&tags_url, None, &[("Cookie", &session)], r#"{"add":["web"]}"#).0, 403);
    assert_eq!(
        post_json(&tags_url, None, &[("Cookie", &session), ("x-csrf-token", "nope")], r#"{"add":["web"]}"#).0,
        403
    );
    let (st, _) = post_json(&tags_url, None, &[("Cookie", &session), ("x-csrf-token", &csrf)], r#"{"add":["web"]}"#);
    assert_eq!(st, 200);
    assert_eq!(e.find("web").0, ["lib/pics/rotated.jpg"]);

    // Keys never reach the log.
    let log = s.log.lock().unwrap().clone();
    for k in [&read, &writer] {
        assert!(!log.contains(k.as_str()), "a key is in the log: {log}");
    }
}

#[test]
fn serve_refuses_to_listen_beyond_loopback_without_keys() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "a.txt"]);
    let o = e.run(["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refusing to listen beyond loopback"), "{err}");
    assert!(err.contains("trove keys add"), "{err}");
}

#[test]
fn serve_sees_changes_made_by_the_cli_without_a_restart() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "a.txt"]);
    let k = key(&e, "k", "--read");
    let s = serve(&e, &[]);
    let count = || get_json(&format!("{}/api/v1/search?q=later&count=1", s.base), &k).1["count"].clone();
    assert_eq!(count(), 0);
    e.ok(["tag", "-t", "later", "a.txt"]);
    let t = Instant::now();
    while count() != 1 {
        assert!(t.elapsed() < Duration::from_secs(5), "the server did not see the CLI's tag");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every command in docs/api.md's examples runs against a real server and succeeds
/// (`curl -f` fails on any HTTP error).
#[test]
fn api_md_examples_run() {
    if Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_err() {
        assert!(std::env::var_os("CI").is_none(), "curl must be installed under CI");
        eprintln!("skipped: curl is not installed");
        return;
    }
    let e = env();
    library(&e);
    let k = key(&e, "docs", "--tag");
    let s = serve(&e, &[]);
    let id = id_of(&s.base, &k, "animal");
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md")).unwrap();
    let examples = doc.split("## Examples").nth(1).expect("docs/api.md has an Examples section");
    let mut ran = 0;
    for block in examples.split("```sh").skip(1) {
        let code = block.split("```").next().unwrap();
        for line in code.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let o = Command::new("sh")
                .args(["-c", line])
                .env("TROVE", &s.base)
                .env("KEY", &k)
                .env("ID", id.to_string())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "docs/api.md example failed: {line}\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 10, "only {ran} examples found");
    assert_eq!(e.find("favourite").0, ["lib/pics/rotated.jpg"]);
}

/// A long writer in another process: requests wait for the busy timeout, then get 503 with
/// Retry-After, and the server keeps serving once the writer is done.
#[test]
fn a_locked_index_is_503_with_retry_after_then_served_again() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "a.txt"]);
    let k = key(&e, "k", "--tag");
    let s = serve(&e, &["--busy-timeout", "1s"]);
    let id = id_of(&s.base, &k, "");
    let writer = rusqlite::Connection::open(&e.index).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE; UPDATE files SET size = size WHERE id = 1;").unwrap();
    let url = format!("{}/api/v1/files/{id}/tags", s.base);
    let t = Instant::now();
    let mut req = agent().post(&url).header("Content-Type", "application/json");
    req = req.header("Authorization", &format!("Bearer {k}"));
    let r = req.send(r#"{"add":["x"]}"#).unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    assert!(t.elapsed() >= Duration::from_millis(900), "it waited for the writer first");
    // Reads go on meanwhile (WAL), and the write works once the writer commits.
    assert_eq!(get_json(&format!("{}/api/v1/files/{id}", s.base), &k).0, 200);
    writer.execute_batch("COMMIT").unwrap();
    assert_eq!(post_json(&url, Some(&k), &[], r#"{"add":["x"]}"#).0, 200);
    assert_eq!(e.find("x").0, ["a.txt"]);
}

/// A restore (`trove restore`) and a copy renamed over the index, both while the server
/// runs: it answers from the new content, its own writes land in the file now at the path,
/// and the index stays sound (see tests/restore.rs for why a replaced file is a hazard).
#[test]
fn serve_follows_a_restore_and_an_index_renamed_over_it() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "-t", "old", "a.txt"]);
    let k = key(&e, "k", "--tag");
    let backup = e.path("back.db");
    e.ok(["backup".as_ref(), backup.as_os_str()]);
    e.ok(["tag", "-t", "new", "a.txt"]);
    let s = serve(&e, &[]);
    let count =
        |q: &str| get_json(&format!("{}/api/v1/search?q={q}&count=1", s.base), &k).1["count"].as_i64().unwrap_or(-1);
    let id = id_of(&s.base, &k, "old");
    let integrity = || {
        let c = rusqlite::Connection::open(&e.index).unwrap();
        c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap()
    };
    assert_eq!(count("new"), 1);

    e.ok(["restore".as_ref(), backup.as_os_str(), "--keep".as_ref(), e.path("kept.db").as_os_str()]);
    assert_eq!(count("new"), 0, "the server answers from the restored index");
    let (st, _) = post_json(&format!("{}/api/v1/files/{id}/tags", s.base), Some(&k), &[], r#"{"add":["web1"]}"#);
    assert_eq!(st, 200);
    assert_eq!(e.find("web1").0, vec!["a.txt"]);

    // A copy renamed over the index while the server has connections open to it.
    let copy = e.path("copy.db");
    let c = rusqlite::Connection::open(&e.index).unwrap();
    c.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
    drop(c);
    std::fs::rename(&copy, &e.index).unwrap();
    e.ok(["tag", "-t", "cli", "a.txt"]);
    assert_eq!(count("cli"), 1, "the server reads the file now at the path");
    let (st, _) = post_json(&format!("{}/api/v1/files/{id}/tags", s.base), Some(&k), &[], r#"{"add":["web2"]}"#);
    assert_eq!(st, 200);
    assert_eq!(e.find("web2").0, vec!["a.txt"], "the server's write went to the file at the path");
    assert_eq!(e.find("cli").0, vec!["a.txt"]);
    assert_eq!(e.find("web1").0, vec!["a.txt"]);
    assert_eq!(integrity(), "ok", "{}", s.log.lock().unwrap());
}

/// An idle server lets go of an index file that a copy was renamed over within a second,
/// without waiting for a request: until it does, the `-shm` beside the index describes the
/// old file, and other commands wait for it (`Index::open`) rather than read the copy through
/// the old file's size ("database disk image is malformed").
#[test]
fn an_idle_server_lets_go_of_a_replaced_index_so_commands_read_the_copy() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "-t", "early", "a.txt"]);
    let k = key(&e, "k", "--read");
    let copy = e.path("copy.db");
    e.ok(["backup".as_ref(), copy.as_os_str()]);
    let s = serve(&e, &[]);
    let count =
        |q: &str| get_json(&format!("{}/api/v1/search?q={q}&count=1", s.base), &k).1["count"].as_i64().unwrap_or(-1);
    assert_eq!(count("early"), 1);
    for i in 0..1500 {
        e.write(format!("more/f{i:04}"), format!("content {i} {}", "x".repeat(200)).as_bytes());
    }
    e.ok(["include", "-r", "-t", "late", "more"]);
    assert!(std::fs::metadata(&e.index).unwrap().len() > 4 * std::fs::metadata(&copy).unwrap().len());
    assert_eq!(count("late"), 1500);
    std::fs::rename(&copy, &e.index).unwrap();
    let o = e.run(["find", "--count", "early or late"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}\nserver log:\n{}", s.log.lock().unwrap());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1", "the copy has one file: {err}");
    assert_eq!(count("late"), 0, "the server answers from the copy");
    assert_eq!(count("early"), 1);
}

/// Searches from many clients while commands write: the server's pool opens connections as
/// the load grows, and nothing in `Index::open` may open and close a descriptor of the index
/// or its `-shm` meanwhile (closing one drops every POSIX lock the process holds on that
/// file, SQLite's included, while SQLite believes it still holds them; a command could then
/// reset the `-shm` or truncate the log under the server: "disk I/O error", "malformed").
#[test]
fn searches_under_concurrent_writes_never_fail() {
    let e = env();
    for i in 0..300 {
        e.write(format!("lib/d{}/f{i:03}", i % 7), format!("file {i}").as_bytes());
    }
    e.ok(["include", "-r", "-t", "all", "lib"]);
    let k = key(&e, "k", "--read");
    let s = serve(&e, &[]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let failures = std::sync::Mutex::new(Vec::new());
    let searches = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        for t in 0..12 {
            let (stop, failures, searches, base, k) = (&stop, &failures, &searches, &s.base, &k);
            sc.spawn(move || {
                let ag = agent();
                let queries = ["all", "all%20-t1", "t0%20%7C%20t2", "path:*/d3/*"];
                let mut n = t;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let url = format!("{base}/api/v1/search?q={}&limit=50", queries[n % queries.len()]);
                    match ag.get(&url).header("Authorization", &format!("Bearer {k}")).call() {
                        Ok(mut r) if r.status().as_u16() != 200 => {
                            let body = r.body_mut().read_to_string().unwrap_or_default();
                            failures.lock().unwrap().push(format!("{} {body}", r.status()));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failures.lock().unwrap().push(format!("no answer: {e}"));
                            break;
                        }
                    }
                    searches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        let t0 = std::time::Instant::now();
        let mut round = 0;
        while t0.elapsed() < std::time::Duration::from_secs(6) {
            e.ok(["tag", "-t", &format!("t{}", round % 3), &format!("lib/d{}/f{:03}", round % 300 % 7, round % 300)]);
            round += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    assert!(searches.into_inner() > 100, "the clients searched");
    assert!(
        failures.is_empty(),
        "{} failed searches, e.g. {:?}; server log:\n{}",
        failures.len(),
        &failures[..failures.len().min(3)],
        s.log.lock().unwrap()
    );
}

/// Audio thumbnails are the embedded cover art, read without ffmpeg (the server runs with a
/// PATH where no ffmpeg is found; ffmpeg only makes the fixtures): MP3 (ID3v2 APIC) and FLAC
/// (PICTURE block); a song without a picture gets the audio icon.
#[test]
fn audio_cover_art_thumbnails_need_no_ffmpeg() {
    if !have_tool("ffmpeg", "-version") {
        return;
    }
    let e = env();
    std::fs::create_dir_all(e.path("lib")).unwrap();
    write_image(&e.path("cover.png"), image::ImageFormat::Png);
    for (name, codec) in [("song.mp3", "libmp3lame"), ("song.flac", "flac")] {
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-i"])
            .arg(e.path("cover.png"))
            .args(["-map", "0", "-map", "1", "-c:a", codec, "-c:v", "png", "-disposition:v", "attached_pic"])
            .arg(e.path(format!("lib/{name}")))
            .status()
            .unwrap();
        assert!(st.success(), "{name}");
    }
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=1", "-c:a", "libmp3lame"])
        .arg(e.path("lib/bare.mp3"))
        .status()
        .unwrap();
    assert!(st.success());
    e.ok(["include", "-r", "lib"]);
    let k = key(&e, "k", "--read");
    let empty = e.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let s = serve_env(&e, &[], &[("PATH", empty.as_os_str())]);
    for q in ["song.mp3", "song.flac"] {
        let id = id_of(&s.base, &k, &format!("path:*/{q}"));
        let (st, h, b) = get(&format!("{}/api/v1/files/{id}/thumbnail", s.base), Some(&k), &[]);
        assert_eq!((st, header(&h, "content-type")), (200, Some("image/jpeg")), "{q}: {}", s.log.lock().unwrap());
        let img = image::load_from_memory(&b).unwrap().to_rgb8();
        // The cover's blue channel is 120 everywhere (see write_image).
        let p = img.get_pixel(img.width() / 2, img.height() / 2);
        assert!((100..=140).contains(&p[2]), "{q}: the cover art, not something else: {p:?}");
    }
    let id = id_of(&s.base, &k, "path:*/bare.mp3");
    let (st, h, b) = get(&format!("{}/api/v1/files/{id}/thumbnail", s.base), Some(&k), &[]);
    assert_eq!(st, 200);
    assert!(header(&h, "content-type").is_some_and(|c| c.starts_with("image/svg")), "{h:?}");
    assert!(String::from_utf8_lossy(&b).contains("audio"), "the audio icon");
}

/// `GET /api/v1/files/ID/history`: the file's operations from the log, oldest first —
/// indexed with its tags, a tag added through the API (by the API's actor), a move by `trove
/// mv` — and the usual 401/404.
#[test]
fn file_history_over_the_api_lists_what_each_operation_did() {
    let e = env();
    e.write("a.txt", b"a");
    e.ok(["include", "-t", "old", "a.txt"]);
    let k = key(&e, "k", "--tag");
    let s = serve(&e, &[]);
    let id = id_of(&s.base, &k, "old");
    let (st, _) = post_json(&format!("{}/api/v1/files/{id}/tags", s.base), Some(&k), &[], r#"{"add":["web1"]}"#);
    assert_eq!(st, 200);
    e.ok(["mv", "a.txt", "b.txt"]);
    let (st, v) = get_json(&format!("{}/api/v1/files/{id}/history", s.base), &k);
    assert_eq!(st, 200, "{v}");
    let ev = v["events"].as_array().unwrap();
    assert_eq!(ev.len(), 3, "{v}");
    assert_eq!(ev[0]["record"], "created");
    assert_eq!(ev[0]["added"], json!(["old"]));
    assert_eq!(ev[1]["added"], json!(["web1 (api:k)"]), "{v}");
    assert!(ev[1]["actor"].as_str().unwrap().starts_with("api"), "{v}");
    assert_eq!(ev[1]["tags"], json!(["old", "web1"]));
    let moved = ev[2]["moved"].as_array().unwrap();
    assert!(moved[0].as_str().unwrap().ends_with("/a.txt") && moved[1].as_str().unwrap().ends_with("/b.txt"), "{v}");
    assert!(ev.windows(2).all(|w| w[0]["op"].as_i64() < w[1]["op"].as_i64()), "oldest first");
    assert_eq!(get_json(&format!("{}/api/v1/files/999999/history", s.base), &k).0, 404);
    assert_eq!(get(&format!("{}/api/v1/files/{id}/history", s.base), None, &[]).0, 401);
}

/// A picture-like image: a gradient with a few rectangles placed by `seed`.
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

/// Two exact copies (one tagged) and two similar pictures (one resized), plus an unrelated
/// picture.
fn dupes_library(e: &TestEnv) {
    e.write("lib/a/report.txt", b"the same bytes twice");
    e.write("lib/b/report.txt", b"the same bytes twice");
    std::fs::create_dir_all(e.path("lib/small")).unwrap();
    picture(1).save(e.path("lib/photo.png")).unwrap();
    image::DynamicImage::ImageRgb8(picture(1))
        .resize_exact(120, 90, image::imageops::FilterType::Triangle)
        .save(e.path("lib/small/photo.png"))
        .unwrap();
    picture(4).save(e.path("lib/other.png")).unwrap();
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "-t", "report", "lib/a/report.txt"]);
    e.ok(["tag", "-t", "animal:cat", "lib/photo.png"]);
}

#[test]
fn dupes_routes_list_compare_mark_and_merge_with_auth_csrf_and_404() {
    let e = env();
    dupes_library(&e);
    let read = key(&e, "reader", "--read");
    let writer = key(&e, "writer", "--tag");
    let s = serve(&e, &[]);
    let base = &s.base;

    // The list: one group of copies, one of similar pictures, both undecided.
    assert_eq!(get(&format!("{base}/api/v1/dupes"), None, &[]).0, 401);
    assert_eq!(get(&format!("{base}/api/v1/dupes"), Some(&"0".repeat(64)), &[]).0, 403);
    let (st, list) = get_json(&format!("{base}/api/v1/dupes"), &read);
    assert_eq!(st, 200, "{list}");
    assert_eq!((list["total"].as_u64(), list["exact"].as_u64(), list["similar"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!(list["undecided"], 2);
    let ids: Vec<String> =
        list["groups"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()).collect();
    let exact = ids.iter().find(|i| i.starts_with("exact-")).unwrap().clone();
    let similar = ids.iter().find(|i| i.starts_with("similar-")).unwrap().clone();
    // Pages.
    let (_, p1) = get_json(&format!("{base}/api/v1/dupes?limit=1"), &read);
    assert_eq!((p1["groups"].as_array().unwrap().len(), p1["next_offset"].as_u64()), (1, Some(1)));
    let (_, p2) = get_json(&format!("{base}/api/v1/dupes?limit=1&offset=1"), &read);
    assert_eq!((p2["groups"].as_array().unwrap().len(), &p2["next_offset"]), (1, &Value::Null));
    assert_ne!(p1["groups"][0]["id"], p2["groups"][0]["id"]);
    assert_eq!(get(&format!("{base}/api/v1/dupes?distance=99"), Some(&read), &[]).0, 400);

    // A group side by side: paths, dimensions, tags, exactly one kept.
    let (st, g) = get_json(&format!("{base}/api/v1/dupes/{similar}"), &read);
    assert_eq!(st, 200, "{g}");
    let members = g["members"].as_array().unwrap();
    let names: Vec<&str> = members.iter().map(|m| m["path"].as_str().unwrap()).collect();
    assert!(names[0].ends_with("lib/photo.png") && names[1].ends_with("lib/small/photo.png"), "{names:?}");
    assert_eq!((members[0]["width"].as_u64(), members[0]["height"].as_u64()), (Some(240), Some(180)));
    assert_eq!(members.iter().filter(|m| m["keep"] == true).count(), 1);
    assert_eq!(members[0]["keep"], true, "the largest resolution is kept");
    assert_eq!(members[0]["tags"][0]["name"], "animal:cat");
    assert_eq!((g["undecided"].as_u64(), &g["decision"]), (Some(1), &Value::Null));
    // Any member's id names its similar group.
    let second = members[1]["id"].as_i64().unwrap();
    let (st, again) = get_json(&format!("{base}/api/v1/dupes/similar-{second}"), &read);
    assert_eq!((st, &again["id"]), (200, &g["id"]));

    // Bad group ids are 404, never a 500; an unrelated file is in no group.
    let other = id_of(base, &read, "path:*other.png");
    let zeros = format!("exact-{}", "0".repeat(64));
    for bad in [
        "exact-zz",
        "similar-0",
        "similar--1",
        "..%2F..%2Fetc",
        "similar-99999999",
        &zeros,
        &format!("similar-{other}"),
    ] {
        assert_eq!(get(&format!("{base}/api/v1/dupes/{bad}"), Some(&read), &[]).0, 404, "{bad}");
        let (st, _) =
            post_json(&format!("{base}/api/v1/dupes/{bad}/mark"), Some(&writer), &[], r#"{"decision":"same"}"#);
        assert_eq!(st, 404, "{bad}");
    }

    // Marking: no key 401, a read key 403, the UI's session needs its CSRF token.
    let mark_url = format!("{base}/api/v1/dupes/{exact}/mark");
    assert_eq!(post_json(&mark_url, None, &[], r#"{"decision":"same"}"#).0, 401);
    assert_eq!(post_json(&mark_url, Some(&read), &[], r#"{"decision":"same"}"#).0, 403);
    let (_, h, _) = get(&s.ui_url, None, &[]);
    let session = header(&h, "set-cookie").unwrap().split(';').next().unwrap().to_string();
    let (_, _, page) = get(&format!("{base}/"), None, &[("Cookie", &session)]);
    let page = String::from_utf8(page).unwrap();
    let csrf = page.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(post_json(&mark_url, None, &[("Cookie", &session)], r#"{"decision":"same"}"#).0, 403);
    assert_eq!(
        post_json(&mark_url, None, &[("Cookie", &session), ("x-csrf-token", "nope")], r#"{"decision":"same"}"#).0,
        403
    );
    assert_eq!(e.find("dupe:undecided").0.len(), 4, "nothing stored by a refused request");
    // Bad bodies are named.
    let cs = [("Cookie", session.as_str()), ("x-csrf-token", csrf.as_str())];
    let (st, v) = post_json(&mark_url, None, &cs, r#"{"decision":"maybe"}"#);
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("\"maybe\": not a decision"), "{v}");
    // A file that is not (or no longer) in the group: the groups changed since it was shown.
    let (st, v) = post_json(&mark_url, None, &cs, r#"{"decision":"same","files":[999999]}"#);
    assert_eq!(st, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("file 999999 is not in this group now"), "{v}");
    assert_eq!(post_json(&mark_url, None, &cs, r#"{"decision":"same","extra":1}"#).0, 400);
    let (st, v) = post_json(&mark_url, None, &cs, r#"{"decision":"same"}"#);
    assert_eq!((st, &v["changed"], &v["decision"]), (200, &json!(1), &json!("same")), "{v}");
    assert_eq!(e.find("dupe:undecided").0, ["lib/photo.png", "lib/small/photo.png"]);
    let log = String::from_utf8(e.ok(["log"])).unwrap();
    assert!(log.contains("api:web") && log.contains("dupes mark"), "{log}");
    // Decided groups go after undecided ones; the decision shows.
    let (_, list) = get_json(&format!("{base}/api/v1/dupes"), &read);
    assert_eq!((&list["groups"][0]["id"], &list["groups"][1]["id"]), (&json!(similar), &json!(exact)));
    assert_eq!((&list["groups"][1]["decision"], &list["undecided"]), (&json!("same"), &json!(1)));
    // A key with the tag scope marks too, with its own source; `undecided` forgets.
    let url = format!("{base}/api/v1/dupes/{similar}/mark");
    assert_eq!(post_json(&url, Some(&writer), &[], r#"{"decision":"alternate"}"#).0, 200);
    assert!(e.find("dupe:undecided").0.is_empty());
    assert_eq!(post_json(&url, Some(&writer), &[], r#"{"decision":"undecided"}"#).0, 200);
    assert_eq!(e.find("dupe:undecided").0.len(), 2);

    // Merge tags: every member gets the tags of all, through the same operation as the CLI.
    let url = format!("{base}/api/v1/dupes/{exact}/merge-tags");
    assert_eq!(post_json(&url, Some(&read), &[], "{}").0, 403);
    assert_eq!(post_json(&url, None, &[("Cookie", &session)], "{}").0, 403);
    let (st, v) = post_json(&url, Some(&writer), &[], "");
    assert_eq!((st, &v["added"]), (200, &json!(1)), "{v}");
    assert_eq!(e.find("report").0, ["lib/a/report.txt", "lib/b/report.txt"]);
}
