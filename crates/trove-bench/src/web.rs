//! `trove-bench web`: `trove serve` measured over HTTP on loopback, on a generated library
//! (size S, M or L) plus real media files made here (JPEG, PNG, video via ffmpeg, PDF).
//!
//! 1. `/api/v1/search` first page (limit=100) for the report's query suite, with the same
//!    query's first page in-process (`Query::page`) for comparison;
//! 2. thumbnail generation per type (`trove thumbs` per type into an empty cache);
//! 3. a 100-thumbnail grid served from the cache;
//! 4. a load run: `--clients` threads (keep-alive, closed loop) for `--duration` seconds
//!    against search and thumbnail URLs while `trove tag` runs in a loop and `trove watch`
//!    takes renames in the media directory.
//!
//! The server is the real `trove serve --listen 127.0.0.1:0` (the release binary).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trove_core::ops::find::Query;
use trove_core::{Index, OpenMode};

use crate::library::{Library, Rng, size};
use crate::report::{generate, ms, pct, query_suite};
use crate::{Args, scratch, start_daemon, status_kib, trove};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// One GET: (status, content type, body length), or the transport error.
fn get(agent: &ureq::Agent, url: &str, auth: &str) -> Result<(u16, String, usize), String> {
    let mut r = agent.get(url).header("Authorization", auth).call().map_err(|e| e.to_string())?;
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = r.body_mut().read_to_vec().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    if status >= 400 {
        // The answer's message says why (the load run lists the first ones).
        return Err(format!("{status} {}", String::from_utf8_lossy(&body[..body.len().min(300)])));
    }
    Ok((status, ct, body.len()))
}

fn get_json(agent: &ureq::Agent, url: &str, auth: &str) -> serde_json::Value {
    let mut r = agent.get(url).header("Authorization", auth).call().expect("request");
    let st = r.status().as_u16();
    let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().expect("body")).expect("json");
    assert_eq!(st, 200, "{url}: {v}");
    v
}

/// A running `trove serve`; killed on drop. Its log goes to a file.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(a: &Args, index: &Path, cache: &Path, log: &Path) -> Server {
    let mut child = trove(a, index)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start trove serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the UI URL");
    let url = line.trim();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "trove serve did not start ({url:?}): {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let base = url.split("/?token=").next().expect("base").to_string();
    Server { child, base }
}

/// A picture 1280×960 that is not trivially compressible: gradients, rings and a pattern
/// that depends on `i` (so every file has its own content hash).
fn picture(i: usize) -> image::RgbImage {
    let (w, h) = (1280u32, 960u32);
    let k = i as u32;
    image::RgbImage::from_fn(w, h, |x, y| {
        let dx = x as i64 - (w / 2 + k * 7 % 300) as i64;
        let dy = y as i64 - (h / 2) as i64;
        let r2 = ((dx * dx + dy * dy) as f64).sqrt();
        let ring = ((r2 / (6.0 + (k % 13) as f64)).sin() * 60.0 + 60.0) as u8;
        let noise = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ k.wrapping_mul(97)) >> 11) as u8 & 15;
        image::Rgb([
            ((x * 255 / w) as u8).wrapping_add(ring / 2).wrapping_add(noise),
            ((y * 255 / h) as u8).wrapping_add((k * 37) as u8),
            ring.wrapping_add(noise),
        ])
    })
}

/// A one-page PDF (A4) with text and filled shapes; `i` makes every file different.
fn pdf(i: usize) -> Vec<u8> {
    let content = format!(
        "0.{r} 0.4 0.8 rg 72 200 450 400 re f 0.9 0.{g} 0.2 rg 150 300 200 150 re f \
         BT /F1 28 Tf 72 760 Td (trove bench page {i}) Tj ET BT /F1 12 Tf 72 700 Td \
         (The quick brown fox jumps over the lazy dog, {i} times.) Tj ET",
        r = i % 10,
        g = (i * 3) % 10
    );
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", n + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).as_bytes(),
    );
    out
}

fn have(tool: &str) -> bool {
    ["-version", "-v"].iter().any(|flag| {
        Command::new(tool).arg(flag).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

/// The real media: (type label, tag, number of files, what they are).
fn make_media(dir: &Path) -> Vec<(&'static str, &'static str, usize, String)> {
    let mut kinds = Vec::new();
    for (label, tag, fmt, ext) in
        [("JPEG", "bench:jpeg", image::ImageFormat::Jpeg, "jpg"), ("PNG", "bench:png", image::ImageFormat::Png, "png")]
    {
        let d = dir.join(ext);
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut bytes = 0;
        for i in 0..50 {
            let idx = if ext == "png" { i + 50 } else { i };
            let p = d.join(format!("pic-{idx:03}.{ext}"));
            image::DynamicImage::ImageRgb8(picture(idx)).save_with_format(&p, fmt).expect("write picture");
            bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
        kinds.push((label, tag, 50, format!("1280×960, {} KiB on average", bytes / 50 / 1024)));
    }
    if have("ffmpeg") {
        let d = dir.join("video");
        std::fs::create_dir_all(&d).expect("mkdir");
        let n = 8;
        for i in 0..n {
            let st = Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size=1280x720:rate=25:duration={}", 6 + i))
                .args(["-pix_fmt", "yuv420p"])
                .arg(d.join(format!("clip-{i}.mp4")))
                .status()
                .expect("ffmpeg");
            assert!(st.success(), "ffmpeg could not make a test clip");
        }
        kinds.push(("video (ffmpeg)", "bench:video", n, "MP4 1280×720 25 fps, 6–13 s".into()));
    } else {
        eprintln!("trove-bench: ffmpeg not installed: no video thumbnails measured");
    }
    if have("pdftoppm") {
        let d = dir.join("pdf");
        std::fs::create_dir_all(&d).expect("mkdir");
        let n = 20;
        for i in 0..n {
            std::fs::write(d.join(format!("doc-{i:02}.pdf")), pdf(i)).expect("write pdf");
        }
        kinds.push(("PDF (pdftoppm)", "bench:pdf", n, "one A4 page, text and shapes".into()));
    } else {
        eprintln!("trove-bench: pdftoppm not installed: no PDF thumbnails measured");
    }
    // Files the watcher sees renamed during the load run.
    let d = dir.join("churn");
    std::fs::create_dir_all(&d).expect("mkdir");
    for i in 0..20 {
        std::fs::write(d.join(format!("c{i:02}.txt")), format!("churn {i}")).expect("write");
    }
    kinds
}

fn run_ok(c: &mut Command) -> String {
    let o = c.output().expect("run trove");
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[derive(Default)]
struct Tally {
    search: Vec<f64>,
    thumb: Vec<f64>,
    errors: u64,
    first_errors: Vec<String>,
}

pub fn web(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let tmp = scratch(a);
    let index = tmp.path().join("index.db");
    let root = PathBuf::from("/bench/lib");
    let t = Instant::now();
    let lib = match &a.index {
        Some(given) => {
            // A library made by `trove-bench generate --size X --seed N` (same size and seed):
            // copied, so the media and keys added here do not change it.
            std::fs::copy(given, &index).expect("copy --index");
            Library::new(s, a.seed, &root)
        }
        None => generate(s, a.seed, &index, &root).0,
    };
    let build = t.elapsed();
    let cache = tmp.path().join("cache");
    let media = tmp.path().canonicalize().expect("tmp").join("media");
    let kinds = make_media(&media);
    for (_, tag, _, _) in &kinds {
        let sub = match *tag {
            "bench:jpeg" => "jpg",
            "bench:png" => "png",
            "bench:video" => "video",
            _ => "pdf",
        };
        run_ok(trove(a, &index).args(["include", "-r", "-t", tag]).arg(media.join(sub)));
    }
    run_ok(trove(a, &index).args(["include", "-r", "-t", "bench:churn"]).arg(media.join("churn")));
    run_ok(trove(a, &index).args(["tag", "-t", "bench:grid", "-r"]).arg(media.join("jpg")).arg(media.join("png")));
    let key = run_ok(trove(a, &index).args(["keys", "add", "bench", "--all"])).lines().next().unwrap_or("").to_string();
    assert_eq!(key.len(), 64, "trove keys add printed {key:?}");
    let auth = format!("Bearer {key}");

    println!(
        "## trove serve at size {} — {} files, {} tags (seed {}; library {} in {:.1} s; load average {})\n",
        s.name,
        s.files,
        s.tags,
        a.seed,
        if a.index.is_some() { "copied" } else { "generated" },
        build.as_secs_f64(),
        loadavg()
    );

    // Thumbnail generation per type, into the server's (empty) cache.
    println!("Thumbnail generation, `trove thumbs TAG` per type into an empty cache (wall time / files;");
    println!("includes one process start and the query):\n");
    println!("| type | files | what | ms per file |");
    println!("|---|---|---|---|");
    for (label, tag, n, what) in &kinds {
        let t = Instant::now();
        let out = run_ok(trove(a, &index).arg("thumbs").arg(tag).env("XDG_CACHE_HOME", &cache));
        let per = ms(t.elapsed()) / *n as f64;
        assert!(out.contains(&format!("{n} thumbnail(s) made")), "{tag}: {out}");
        println!("| {label} | {n} | {what} | {per:.1} |");
    }
    println!();

    let log = tmp.path().join("serve.log");
    let server = serve(a, &index, &cache, &log);
    let base = server.base.clone();
    let ag = agent();

    // Search: first page over HTTP, and in-process for comparison.
    let queries = query_suite(&lib, s);
    let runs = match s.name {
        "L" => 15,
        "M" => 30,
        _ => 50,
    };
    let idx = Index::open(&index, OpenMode::Existing).expect("open");
    println!("`GET /api/v1/search?q=…&limit=100` (first page, JSON) over {runs} runs each after one warm-up,");
    println!("one client, keep-alive; *in-process*: `Query::new` + `Query::page(100)` on the same index (ms):\n");
    println!("| query | files on page | HTTP p50 / p95 | in-process p50 / p95 |");
    println!("|---|---|---|---|");
    let mut worst = 0.0f64;
    for (label, q) in &queries {
        let url = format!("{base}/api/v1/search?q={}&limit=100", enc(q));
        let v = get_json(&ag, &url, &auth);
        let n = v["files"].as_array().map_or(0, Vec::len);
        let (mut h, mut p) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let (st, _, _) = get(&ag, &url, &auth).expect("search");
            h.push(ms(t.elapsed()));
            assert_eq!(st, 200, "{url}");
            let t = Instant::now();
            let qq = Query::new(&idx, q).expect("query");
            qq.page(&idx, None, 100).expect("page");
            p.push(ms(t.elapsed()));
        }
        let p95 = pct(&mut h, 0.95);
        worst = worst.max(p95);
        println!(
            "| {label} `{q}` | {n} | {:.1} / {p95:.1} | {:.1} / {:.1} |",
            pct(&mut h, 0.5),
            pct(&mut p, 0.5),
            pct(&mut p, 0.95)
        );
    }
    drop(idx);
    println!("\nWorst search p95 over the suite: {worst:.1} ms.\n");

    // The grid: 100 cached thumbnails.
    let v = get_json(&ag, &format!("{base}/api/v1/search?q=bench%3Agrid&limit=100"), &auth);
    let ids: Vec<i64> = v["files"].as_array().expect("files").iter().filter_map(|f| f["id"].as_i64()).collect();
    assert_eq!(ids.len(), 100, "grid: {v}");
    let thumb_urls: Vec<String> = ids.iter().map(|id| format!("{base}/api/v1/files/{id}/thumbnail")).collect();
    let rounds = 20;
    let mut per_thumb = Vec::new();
    let mut grid_seq = Vec::new();
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let g = Instant::now();
        for u in &thumb_urls {
            let t = Instant::now();
            let (st, ct, n) = get(&ag, u, &auth).expect("thumbnail");
            per_thumb.push(ms(t.elapsed()));
            assert_eq!((st, ct.as_str()), (200, "image/jpeg"), "{u}");
            bytes += n;
        }
        grid_seq.push(ms(g.elapsed()));
    }
    // The same grid fetched the way a browser does: 6 connections at once.
    let mut grid_par = Vec::new();
    for _ in 0..rounds {
        let g = Instant::now();
        std::thread::scope(|sc| {
            for c in 0..6 {
                let (urls, auth) = (&thumb_urls, &auth);
                sc.spawn(move || {
                    let ag = agent();
                    for u in urls.iter().skip(c).step_by(6) {
                        let (st, _, _) = get(&ag, u, auth).expect("thumbnail");
                        assert_eq!(st, 200);
                    }
                });
            }
        });
        grid_par.push(ms(g.elapsed()));
    }
    println!(
        "A 100-thumbnail grid served from the cache ({rounds} rounds; thumbnails {} KiB on average):\n",
        bytes / (rounds * 100) / 1024
    );
    println!(
        "| per thumbnail p50 / p95 / max | whole grid, 1 connection, p50 / p95 | whole grid, 6 connections, p50 / p95 |"
    );
    println!("|---|---|---|");
    let mx = per_thumb.iter().copied().fold(0.0, f64::max);
    println!(
        "| {:.2} / {:.2} / {mx:.1} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms |\n",
        pct(&mut per_thumb, 0.5),
        pct(&mut per_thumb, 0.95),
        pct(&mut grid_seq, 0.5),
        pct(&mut grid_seq, 0.95),
        pct(&mut grid_par, 0.5),
        pct(&mut grid_par, 0.95)
    );

    load(a, &index, &server, &auth, &queries, &thumb_urls, &lib, &media);
    let pid = server.child.id().to_string();
    println!("\n`trove serve` peak RSS over the whole run: {:.0} MiB.", status_kib(&pid, "VmHWM:") as f64 / 1024.0);
    drop(server);
    let errs: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("open http://") && !l.contains(": listening on "))
        .map(str::to_string)
        .collect();
    if !errs.is_empty() {
        println!("\nThe server's log ({} lines), first lines:", errs.len());
        for l in errs.iter().take(10) {
            println!("    {l}");
        }
    }
}

/// The 1, 5 and 15 minute load averages (the machine is shared).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[allow(clippy::too_many_arguments)]
fn load(
    a: &Args,
    index: &Path,
    server: &Server,
    auth: &str,
    queries: &[(&'static str, String)],
    thumb_urls: &[String],
    lib: &Library,
    media: &Path,
) {
    let search_urls: Vec<String> =
        queries.iter().map(|(_, q)| format!("{}/api/v1/search?q={}&limit=100", server.base, enc(q))).collect();
    let stop = Arc::new(AtomicBool::new(false));

    // Writers: the watcher with renames in the media directory, and `trove tag` in a loop.
    let mut daemon = start_daemon(a, index);
    let renames = Arc::new(AtomicU64::new(0));
    let renamer = {
        let (stop, renames, dir) = (stop.clone(), renames.clone(), media.join("churn"));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let k = i % 20;
                let (from, to) = if (i / 20).is_multiple_of(2) {
                    (dir.join(format!("c{k:02}.txt")), dir.join(format!("c{k:02}-moved.txt")))
                } else {
                    (dir.join(format!("c{k:02}-moved.txt")), dir.join(format!("c{k:02}.txt")))
                };
                if std::fs::rename(from, to).is_ok() {
                    renames.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let (tag_runs, tag_fails) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tagger = {
        let (stop, runs, fails) = (stop.clone(), tag_runs.clone(), tag_fails.clone());
        let (bin, index) = (a.trove.clone(), index.to_path_buf());
        let popular = format!("\"{}\" sort:random limit:20", lib.name_of_rank(0));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let q = if i.is_multiple_of(2) { "bench:grid sort:random limit:20" } else { popular.as_str() };
                let st = Command::new(&bin)
                    .env("TROVE_INDEX", &index)
                    .args(["tag", "--query", q, "-t", &format!("loop{}", i % 10)])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("tag");
                runs.fetch_add(1, Ordering::Relaxed);
                if !st.success() {
                    fails.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let dur = Duration::from_secs(a.duration);
    let t0 = Instant::now();
    std::thread::scope(|sc| {
        for c in 0..a.clients {
            let (tally, search_urls, auth) = (tally.clone(), &search_urls, auth);
            sc.spawn(move || {
                let ag = agent();
                let mut rng = Rng::new(c as u64 + 1);
                let mut mine = Tally::default();
                while t0.elapsed() < dur {
                    // One search for every four thumbnails: a grid page's worth of requests.
                    let search = rng.below(5) == 0;
                    let url =
                        if search { &search_urls[rng.below(search_urls.len())] } else { &thumb_urls[rng.below(100)] };
                    let t = Instant::now();
                    let r = get(&ag, url, auth);
                    let took = ms(t.elapsed());
                    match r {
                        Ok((200, _, _)) => {
                            if search {
                                mine.search.push(took);
                            } else {
                                mine.thumb.push(took);
                            }
                        }
                        other => {
                            mine.errors += 1;
                            if mine.first_errors.len() < 3 {
                                mine.first_errors.push(format!("{url}: {other:?}"));
                            }
                        }
                    }
                }
                let mut all = tally.lock().expect("tally");
                all.search.append(&mut mine.search);
                all.thumb.append(&mut mine.thumb);
                all.errors += mine.errors;
                all.first_errors.append(&mut mine.first_errors);
            });
        }
    });
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    tagger.join().expect("tagger");
    renamer.join().expect("renamer");
    let _ = daemon.kill();
    let _ = daemon.wait();

    let mut t = tally.lock().expect("tally");
    let n = t.search.len() + t.thumb.len();
    let mut all: Vec<f64> = t.search.iter().chain(&t.thumb).copied().collect();
    println!(
        "Load: {} clients (threads, keep-alive, each sends its next request when the last one is answered) for {:.0} s;",
        a.clients, elapsed
    );
    println!("one search (the suite above, limit=100) for every four cached thumbnails; meanwhile `trove tag --query`");
    println!("runs in a loop and `trove watch` takes a rename every 100 ms:\n");
    println!("| requests | requests/s | p50 / p99 all | search p50 / p99 | thumbnail p50 / p99 | errors |");
    println!("|---|---|---|---|---|---|");
    let (sp50, sp99) = (pct(&mut t.search, 0.5), pct(&mut t.search, 0.99));
    let (tp50, tp99) = (pct(&mut t.thumb, 0.5), pct(&mut t.thumb, 0.99));
    println!(
        "| {} ({} search, {} thumbnail) | {:.0} | {:.1} / {:.1} ms | {sp50:.1} / {sp99:.1} ms | {tp50:.1} / {tp99:.1} ms | {} |",
        n + t.errors as usize,
        t.search.len(),
        t.thumb.len(),
        n as f64 / elapsed,
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        t.errors
    );
    println!(
        "\nWriters during the load: `trove tag` {} runs, {} failed; {} renames in the watched directory.",
        tag_runs.load(Ordering::Relaxed),
        tag_fails.load(Ordering::Relaxed),
        renames.load(Ordering::Relaxed)
    );
    println!("Load average at the end: {}.", loadavg());
    for e in &t.first_errors {
        println!("    error: {e}");
    }
}
