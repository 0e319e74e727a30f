//! `trove-bench report`: the whole report for one size, printed as markdown tables.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trove_core::meta::Meta;
use trove_core::model::{Hash, Observation, Stat};
use trove_core::ops::NoProgress;
use trove_core::ops::bulk::{BulkFile, BulkLoad};
use trove_core::ops::find::Query;
use trove_core::{Index, OpenMode, Source};

use crate::library::{Library, Rng, Size, path_of, size};
use crate::{Args, scratch, status_kib, trove};

/// Fills `index` with a synthetic library through the bulk path. Returns (files, links).
pub fn generate(size: Size, seed: u64, index: &Path, root: &Path) -> (Library, u64, u64) {
    let lib = Library::new(size, seed, root);
    let mut idx = Index::open(index, OpenMode::Create).expect("index");
    // A generated library is a benchmark artifact, not something a user did: no history
    // (the figures of docs/performance.md stay comparable with those before the log).
    idx.record_history(false);
    let mut load = BulkLoad::new(&mut idx, &Source::Import("trove-bench".into()), 1024).expect("bulk");
    load.tags(&lib.tag_names, &NoProgress).expect("tags");
    load.implications(&lib.implications).expect("implications");
    let mut rng = Rng::new(seed ^ 0x5eed);
    // Metadata from its own generator, so the paths and tags stay those of earlier runs.
    let mut mrng = Rng::new(seed ^ 0x3e7a);
    let artists: Vec<String> = (0..5_000).map(|_| crate::library::word(&mut mrng, 4, 14)).collect();
    let mut tags: Vec<u32> = Vec::with_capacity(64);
    for i in 0..size.files {
        let path = path_of(root, i, &mut rng);
        let k = rng.below(2 * size.mean_links + 1);
        tags.clear();
        while tags.len() < k {
            let t = lib.draw(&mut rng);
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let h = blake3::hash(&(i as u64).to_le_bytes());
        let o = Observation {
            stat: Stat {
                size: 4096 + (rng.next() % (50 << 20)),
                mtime_ns: 946_684_800_000_000_000 + (rng.next() % 790_000_000) as i64 * 1_000_000_000,
                device: 1,
                inode: i as u64 + 1,
            },
            hash: Hash(*h.as_bytes()),
            fingerprint: i64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")),
            sha256: Some(*h.as_bytes()),
        };
        let m = made_up_meta(&mut mrng, &artists);
        load.add_with_meta(BulkFile { path: &path, observation: o, tags: &tags }, m).expect("add");
    }
    let (files, links) = load.finish(true).expect("finish");
    (lib, files, links)
}

/// Metadata for a generated file: 60 % images (common sizes, 70 % with a date taken and a
/// camera), 10 % videos (sizes, durations), 20 % audio (duration, one of 5 000 artists,
/// album), 5 % documents, 5 % text.
fn made_up_meta(rng: &mut Rng, artists: &[String]) -> Meta {
    const SIZES: &[(u32, u32)] =
        &[(640, 480), (1280, 720), (1920, 1080), (2560, 1440), (3840, 2160), (4000, 3000), (1080, 1920), (6000, 4000)];
    let mut m = Meta::default();
    let r = rng.below(100);
    let (mime, kind) = match r {
        0..60 => (["image/jpeg", "image/png", "image/webp"][rng.below(3)], "image"),
        60..70 => (["video/mp4", "video/x-matroska"][rng.below(2)], "video"),
        70..90 => (["audio/flac", "audio/mpeg", "audio/ogg"][rng.below(3)], "audio"),
        90..95 => ("application/pdf", "document"),
        _ => ("text/plain", "text"),
    };
    m.mime = Some(mime.into());
    m.kind = Some(kind.into());
    if kind == "image" || kind == "video" {
        let (w, h) = SIZES[rng.below(SIZES.len())];
        m.width = Some(w);
        m.height = Some(h);
    }
    if kind == "video" || kind == "audio" {
        m.duration_ms = Some(5_000 + rng.next() % 600_000);
        m.has_audio = Some(true);
    }
    if kind == "image" && rng.below(10) < 7 {
        m.taken = Some(946_684_800 + (rng.next() % 820_000_000) as i64);
        m.push("camera", ["canon eos 5d", "nikon d750", "pixel 7", "iphone 13"][rng.below(4)]);
    }
    if kind == "audio" {
        m.push("artist", &artists[rng.below(artists.len())]);
        m.push("album", &crate::library::word(rng, 4, 20));
    }
    m
}

pub fn generate_cmd(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let index = a.index.clone().expect("--index PATH");
    let t = Instant::now();
    let (_, files, links) = generate(s, a.seed, &index, Path::new("/bench/lib"));
    println!("{files} files, {links} links in {:.1} s -> {}", t.elapsed().as_secs_f64(), index.display());
}

fn file_bytes(index: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suf| {
            let mut p = index.as_os_str().to_owned();
            p.push(suf);
            std::fs::metadata(PathBuf::from(p)).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

pub(crate) fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut v: Vec<f64> = (0..runs).map(|_| f()).collect();
    pct(&mut v, 0.5)
}

fn time_cmd(c: &mut Command) -> f64 {
    let t = Instant::now();
    let st = c.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("run");
    assert!(st.success() || st.code() == Some(1), "{c:?} failed");
    t.elapsed().as_secs_f64()
}

/// `trove` under GNU time, which writes the process's peak RSS (KiB) to `rss_file`; the
/// parent's own `getrusage` would count pages it shared with the child before exec.
fn measured(a: &Args, index: &Path, rss_file: &Path) -> Command {
    if Path::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(rss_file).arg(&a.trove).env("TROVE_INDEX", index);
        c
    } else {
        trove(a, index)
    }
}

fn peak_of(rss_file: &Path, peak: &mut u64) {
    if let Some(k) = std::fs::read_to_string(rss_file).ok().and_then(|s| s.trim().lines().last()?.trim().parse().ok()) {
        *peak = (*peak).max(k);
    }
}

/// The query suite of the report (and of `trove-bench web`): (label, query text).
pub(crate) fn query_suite(lib: &Library, s: Size) -> Vec<(&'static str, String)> {
    let pop = |r: usize| format!("\"{}\"", lib.name_of_rank(r));
    let ns = lib
        .tag_names
        .iter()
        .find(|n| n.starts_with("genre:"))
        .map(|n| n.split(':').next().unwrap_or("genre").to_string())
        .unwrap_or_else(|| "genre".into());
    vec![
        ("one popular tag", pop(0)),
        ("one rare tag", pop(s.tags / 2)),
        ("a b -c (popular)", format!("{} {} -{}", pop(1), pop(2), pop(3))),
        ("OR of five tags", format!("{} | {} | {} | {} | {}", pop(10), pop(11), pop(12), pop(13), pop(14))),
        ("parenthesised mix", format!("({} | {}) ({} | -{}) -{}", pop(5), pop(6), pop(7), pop(8), pop(9))),
        ("ns:*", format!("{ns}:*")),
        ("year>2015", "year>2015".into()),
        ("ns comparison (text)", format!("{ns}>m")),
        ("tags:0", "tags:0".into()),
        ("path: glob", "path:*/inbox/*7*".into()),
        ("sort:random limit:50", "sort:random limit:50".into()),
        ("width>1920", "width>1920".into()),
        ("type:video", "type:video".into()),
        ("meta.artist:*a*", "meta.artist:*a*".into()),
        ("sort:taken limit:100", "sort:taken limit:100".into()),
        ("sort:-added limit:100", "sort:-added limit:100".into()),
        ("popular tag, newest first", format!("{} sort:-added", pop(0))),
    ]
}

pub fn report(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let tmp = scratch(a);
    let index = tmp.path().join("index.db");
    let root = PathBuf::from("/bench/lib");
    println!(
        "## Size {} — {} files, {} tags, ~{} links (seed {})\n",
        s.name,
        s.files,
        s.tags,
        s.files * s.mean_links,
        a.seed
    );
    let t = Instant::now();
    let (lib, files, links) = generate(s, a.seed, &index, &root);
    let build = t.elapsed();
    let bytes = file_bytes(&index);
    println!("| build (bulk path) | files | links | index on disk | bytes per link |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.1} s | {files} | {links} | {:.1} MiB | {:.1} |\n",
        build.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / links.max(1) as f64
    );

    let idx = Index::open(&index, OpenMode::Existing).expect("open");
    let queries = query_suite(&lib, s);
    let runs = runs_for(s);
    let plans = time_queries(&idx, &queries, runs);
    drop(idx);
    whole_process(a, &index, &queries, runs, &tmp.path().join("rss"));
    report_rest(a, s, &lib, &index, tmp.path(), plans);
}

fn runs_for(s: Size) -> usize {
    match s.name {
        "L" => 9,
        "M" => 15,
        _ => 25,
    }
}

/// `trove-bench queries --size X --index PATH`: the query suite's in-process table and the
/// whole-process counts on an index made by `trove-bench generate` with the same size and
/// seed (for working on the engine without building the library each time).
pub fn queries_cmd(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let index = a.index.clone().expect("--index PATH");
    let lib = Library::new(s, a.seed, Path::new("/bench/lib"));
    let queries = query_suite(&lib, s);
    let idx = Index::open(&index, OpenMode::Existing).expect("open");
    let runs = runs_for(s);
    let plans = time_queries(&idx, &queries, runs);
    drop(idx);
    let tmp = scratch(a);
    whole_process(a, &index, &queries, runs, &tmp.path().join("rss"));
    for (label, q, steps, _) in plans {
        println!("- {label} `{q}`: {steps}");
    }
}

type Plans = Vec<(String, String, String, Vec<String>)>;

fn time_queries(idx: &Index, queries: &[(&'static str, String)], runs: usize) -> Plans {
    println!("Query latency over {runs} runs each (ms; p50 / p95). *count*: `--count`; *first 100*: the first");
    println!("100 paths in order; *all*: every matching record read (path, size, hash…), not printed.\n");
    println!("| query | matches | count p50 / p95 | first 100 p50 / p95 | all p50 / p95 |");
    println!("|---|---|---|---|---|");
    let mut plans = Vec::new();
    for (label, q) in queries {
        let (mut c, mut f, mut all) = (Vec::new(), Vec::new(), Vec::new());
        let mut n = 0u64;
        for _ in 0..runs {
            let t = Instant::now();
            let qq = Query::new(idx, q).expect("query");
            n = qq.count(idx).expect("count");
            c.push(ms(t.elapsed()));
            let t = Instant::now();
            let qq = Query::new(idx, q).expect("query");
            qq.for_each(idx, Some(100), |_| Ok(true)).expect("first");
            f.push(ms(t.elapsed()));
            let t = Instant::now();
            let qq = Query::new(idx, q).expect("query");
            let mut k = 0;
            qq.for_each(idx, None, |_| {
                k += 1;
                Ok(true)
            })
            .expect("all");
            all.push(ms(t.elapsed()));
        }
        println!(
            "| {label} `{q}` | {n} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
            pct(&mut c, 0.5),
            pct(&mut c, 0.95),
            pct(&mut f, 0.5),
            pct(&mut f, 0.95),
            pct(&mut all, 0.5),
            pct(&mut all, 0.95)
        );
        let qq = Query::new(idx, q).expect("query");
        plans.push((label.to_string(), q.clone(), qq.steps(), qq.explain(idx).unwrap_or_default()));
    }
    plans
}

/// The same queries as whole processes: `trove find --count`, as a user types it.
fn whole_process(a: &Args, index: &Path, queries: &[(&'static str, String)], runs: usize, rss_file: &Path) {
    println!("\nWhole process `trove find --count QUERY` ({runs} runs each, ms; p50 / p95; peak RSS):\n");
    println!("| query | count p50 / p95 | peak RSS |");
    println!("|---|---|---|");
    for (label, q) in queries {
        let mut peak = 0u64;
        let mut v: Vec<f64> = (0..runs)
            .map(|_| {
                let t = time_cmd(measured(a, index, rss_file).args(["find", "--count", q]));
                peak_of(rss_file, &mut peak);
                t * 1000.0
            })
            .collect();
        println!("| {label} | {:.1} / {:.1} | {:.1} MiB |", pct(&mut v, 0.5), pct(&mut v, 0.95), peak as f64 / 1024.0);
    }
}

fn report_rest(a: &Args, s: Size, lib: &Library, index: &Path, tmp: &Path, plans: Plans) {
    let rss_file = tmp.join("rss");

    // The real binary: printing paths and `ls` on the 10 000-file directory.
    let print_n = s.files.min(100_000);
    let mut peak_child = 0u64;
    let print = median_of(3, || {
        let t =
            time_cmd(measured(a, index, &rss_file).args(["find", "--absolute", "--limit", &print_n.to_string(), ""]));
        peak_of(&rss_file, &mut peak_child);
        t
    });
    let ls = median_of(3, || {
        let t = time_cmd(measured(a, index, &rss_file).arg("ls").arg(&lib.big_dir));
        peak_of(&rss_file, &mut peak_child);
        t
    });
    println!("\n| `trove find` printing {print_n} paths | `trove ls` on a 10 000-file directory |");
    println!("|---|---|");
    println!("| {print:.3} s | {ls:.3} s |\n");

    // Include throughput on real files, against b3sum on the same files.
    let (small_n, big_n, big_mib) = match s.name {
        "S" => (5_000, 4, 64),
        _ => (20_000, 4, 256),
    };
    let files_dir = tmp.join("real");
    let small = files_dir.join("small");
    let big = files_dir.join("big");
    let mut rng = Rng::new(a.seed ^ 0xf11e);
    let mut block = vec![0u8; 1 << 20];
    for i in 0..small_n {
        let d = small.join(format!("{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d).expect("mkdir");
        }
        for b in block[..4096].chunks_mut(8) {
            b.copy_from_slice(&rng.next().to_le_bytes());
        }
        std::fs::write(d.join(format!("f{i:06}")), &block[..4096]).expect("write");
    }
    std::fs::create_dir_all(&big).expect("mkdir");
    for i in 0..big_n {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.join(format!("big{i}.bin"))).expect("create"));
        for _ in 0..big_mib {
            for b in block.chunks_mut(8) {
                b.copy_from_slice(&rng.next().to_le_bytes());
            }
            f.write_all(&block).expect("write");
        }
    }
    let b3 =
        Command::new("b3sum").arg("--version").stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
    println!("Include on real files (page cache warm; b3sum on the same files in the same run):\n");
    println!("| set | data | `trove include -r` | MiB/s | b3sum | MiB/s | trove / b3sum |");
    println!("|---|---|---|---|---|---|---|");
    for (label, dir, mib) in [
        (format!("{small_n} × 4 KiB"), &small, small_n as f64 * 4.0 / 1024.0),
        (format!("{big_n} × {big_mib} MiB"), &big, (big_n * big_mib) as f64),
    ] {
        // warm the cache
        let _ = Command::new("cat").arg("/dev/null").status();
        for e in walk_files(dir) {
            let _ = std::fs::read(&e);
        }
        let b3_s = if b3 {
            let list = walk_files(dir);
            let t = Instant::now();
            for chunk in list.chunks(2000) {
                let st = Command::new("b3sum").args(chunk).stdout(Stdio::null()).status().expect("b3sum");
                assert!(st.success());
            }
            Some(t.elapsed().as_secs_f64())
        } else {
            None
        };
        let inc_index = tmp.join(format!("inc-{}.db", label.len()));
        let t = Instant::now();
        let st = measured(a, &inc_index, &rss_file)
            .args(["include", "-r"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .expect("include");
        assert!(st.success());
        let tr = t.elapsed().as_secs_f64();
        peak_of(&rss_file, &mut peak_child);
        match b3_s {
            Some(b) => println!(
                "| {label} | {mib:.0} MiB | {tr:.2} s | {:.0} | {b:.2} s | {:.0} | {:.0} % |",
                mib / tr,
                mib / b,
                100.0 * (mib / tr) / (mib / b)
            ),
            None => println!("| {label} | {mib:.0} MiB | {tr:.2} s | {:.0} | (b3sum not installed) | | |", mib / tr),
        }
    }
    println!(
        "\nPeak memory (RSS): the report process {:.0} MiB (generator with a 1 GiB page cache, then the queries \
         in-process); the largest `trove` command run above {:.0} MiB (`include` maps big files to hash them, \
         and mapped pages count as RSS).\n",
        status_kib("self", "VmHWM:") as f64 / 1024.0,
        peak_child as f64 / 1024.0
    );
    println!(
        "Set algebra over the posting lists, then (indented) EXPLAIN QUERY PLAN of the plain-SQL form\n(used only when the posting lists cannot answer):\n"
    );
    for (label, q, steps, plan) in plans {
        println!("- {label} `{q}`: {steps}");
        for line in plan {
            println!("  - `{line}`");
        }
    }
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}
