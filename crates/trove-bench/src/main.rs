//! `trove-bench`: figures for docs/performance.md.
//!
//! - `burst [--backend B] [--renames N]`: a live `trove watch` takes a burst of N renames
//!   (files and directories mixed) while a concurrent `trove tag` loop runs; prints events/s,
//!   the settle time after the burst, the daemon's peak RSS and the tag loop's failures.
//! - `reconcile [--files N]`: a no-change `trove reconcile` over N indexed files.
//! - `report --size S|M|L`: the query, printing and include report (report.rs).
//! - `queries --size S|M|L --index PATH`: the report's query tables alone, on an index made
//!   by `generate --size S|M|L --index PATH` (report.rs).
//! - `web --size S|M|L [--index PATH] [--clients N] [--duration SECS]`: `trove serve` over
//!   HTTP on loopback (web.rs).
//! - `mount --size S|M|L [--index PATH]`: `trove mount` listings next to `trove find` (mount.rs).
//! - `similar [--files N]`: the near-duplicate search at N hashes vs all pairs (similar.rs).
//!
//! All drive the real `trove` binary (`--trove PATH`, default target/release/trove).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod history;
mod library;
mod mount;
mod report;
mod similar;
mod web;

use trove_core::ops::NoProgress;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::{Index, OpenMode};

/// Figures for docs/performance.md, measured by driving the real `trove` binary.
#[derive(clap::Parser)]
#[command(
    name = "trove-bench",
    version,
    after_help = "Example: trove-bench report --size L --trove target/release/trove"
)]
pub(crate) struct Args {
    /// What to measure: burst (renames under a live watcher), reconcile (a no-change
    /// reconcile), report (queries, printing, include), generate (only build the library),
    /// queries (the report's query tables on an index made by generate), web (`trove serve`
    /// over HTTP), mount (`trove mount` listings), history (the op log's cost), similar (the
    /// near-duplicate search).
    #[arg(value_parser = ["burst", "reconcile", "report", "generate", "queries", "web", "mount", "history", "similar"])]
    cmd: String,
    /// The trove binary to drive.
    #[arg(long, default_value = "target/release/trove")]
    trove: PathBuf,
    /// The watcher's event backend for `burst`.
    #[arg(long, default_value = "inotify", value_parser = ["inotify", "fanotify"])]
    backend: String,
    /// How many renames `burst` makes.
    #[arg(long, default_value_t = 10_000)]
    renames: usize,
    /// How many files (or hashes, for `similar`).
    #[arg(long, default_value_t = 100_000)]
    files: usize,
    /// Where to build the test tree (default: a temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The generated library's size: S = 10k files, M = 100k, L = 1M.
    #[arg(long, default_value = "S", value_parser = ["S", "M", "L"])]
    size: String,
    /// The generator's seed (the library is deterministic from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// For `generate`: where to write the index. For `queries`, `web` and `mount`: reuse one made by
    /// `generate` (same --size and --seed) instead of building it.
    #[arg(long)]
    index: Option<PathBuf>,
    /// Concurrent HTTP clients for `web`'s load run.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds of `web`'s load run.
    #[arg(long, default_value_t = 30)]
    duration: u64,
}

fn parse_args() -> Args {
    let mut a = <Args as clap::Parser>::parse();
    if !a.trove.exists() && a.cmd != "similar" {
        eprintln!("trove-bench: {}: no trove binary (cargo build --release first, or pass --trove)", a.trove.display());
        std::process::exit(2);
    }
    if a.cmd != "similar" {
        a.trove = a.trove.canonicalize().expect("trove path");
    }
    a
}

pub(crate) fn trove(a: &Args, index: &Path) -> Command {
    let mut c = Command::new(&a.trove);
    c.env("TROVE_INDEX", index);
    c
}

/// A `kB` field of `/proc/<pid>/status` (`pid` may be `self`), e.g. `VmHWM:`.
pub(crate) fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

pub(crate) fn start_daemon(a: &Args, index: &Path) -> Child {
    let child = trove(a, index)
        .args(["watch", "--backend", &a.backend, "--interval", "0"])
        // TROVE_BENCH_LOG=1 shows the daemon's log
        .stderr(if std::env::var_os("TROVE_BENCH_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("start trove watch");
    let t = Instant::now();
    while !trove(a, index).arg("status").stdout(Stdio::null()).status().expect("status").success() {
        assert!(t.elapsed() < Duration::from_secs(60), "daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// A temp directory for one run, under `--dir` when given.
pub(crate) fn scratch(a: &Args) -> tempfile::TempDir {
    match &a.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temp dir")
}

fn burst(a: &Args) {
    let tmp = scratch(a);
    let root = tmp.path().canonicalize().unwrap().join("lib");
    let index = tmp.path().join("index.db");
    // 200 directories × 50 files.
    let (ndirs, per) = (200usize, 50usize);
    let mut files: Vec<PathBuf> = Vec::new();
    for d in 0..ndirs {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..per {
            let p = dir.join(format!("f{f:02}"));
            std::fs::write(&p, format!("file {d} {f}")).unwrap();
            files.push(p);
        }
    }
    let mut idx = Index::open(&index, OpenMode::Create).unwrap();
    let opts = IncludeOptions { recursive: true, tags: vec!["bench".into()], ..Default::default() };
    include(&mut idx, std::slice::from_ref(&root), &opts, &NoProgress).unwrap();
    drop(idx);

    let mut daemon = start_daemon(a, &index);
    let pid = daemon.id();

    // Concurrent writer: tag one file over and over while the burst runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (runs, fails) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loop_thread = {
        let (stop, runs, fails) = (stop.clone(), runs.clone(), fails.clone());
        let a_trove = a.trove.clone();
        let index = index.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // tag --query picks indexed files by query, so it never races a path being renamed
                let st = Command::new(&a_trove)
                    .env("TROVE_INDEX", &index)
                    .args(["tag", "--query", "bench sort:random limit:20", "-t", &format!("loop{}", i % 10)])
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

    // The burst: file renames, moves between directories, and directory renames, mixed.
    let mut rng = library::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut dirs: Vec<PathBuf> = (0..ndirs).map(|d| root.join(format!("d{d:03}"))).collect();
    let mut dir_of: Vec<usize> = files.iter().map(|p| dirs.iter().position(|d| p.starts_with(d)).unwrap()).collect();
    let mut name_of: Vec<String> =
        files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let t0 = Instant::now();
    let (mut nfile, mut nmove, mut ndir) = (0, 0, 0);
    for i in 0..a.renames {
        let k = rng.below(100);
        if k < 10 {
            let d = rng.below(dirs.len());
            let new = root.join(format!("r{i}-d{d}"));
            std::fs::rename(&dirs[d], &new).unwrap();
            dirs[d] = new;
            ndir += 1;
        } else {
            let f = rng.below(files.len());
            let from = dirs[dir_of[f]].join(&name_of[f]);
            let to_dir = if k < 40 { rng.below(dirs.len()) } else { dir_of[f] };
            let new_name = format!("f{f}-{i}");
            std::fs::rename(&from, dirs[to_dir].join(&new_name)).unwrap();
            if to_dir == dir_of[f] {
                nfile += 1;
            } else {
                nmove += 1;
            }
            dir_of[f] = to_dir;
            name_of[f] = new_name;
        }
    }
    let burst = t0.elapsed();
    // Settled: every file on disk has a present record at exactly its path with its content.
    let expected: HashMap<PathBuf, trove_core::Hash> = (0..files.len())
        .map(|f| {
            let p = dirs[dir_of[f]].join(&name_of[f]);
            let h = trove_core::hash::hash_file(&p).unwrap().hash;
            (p, h)
        })
        .collect();
    let t1 = Instant::now();
    let settle = loop {
        let idx = Index::open(&index, OpenMode::Existing).unwrap();
        let mut ok = 0;
        trove_core::ops::files::for_each(&idx, |r| {
            if r.state == trove_core::FileState::Present && expected.get(&r.path) == Some(&r.hash) {
                ok += 1;
            }
            Ok(())
        })
        .unwrap();
        if ok == expected.len() {
            break t1.elapsed();
        }
        if t1.elapsed() > Duration::from_secs(120) {
            eprintln!("not settled after 120 s: {ok} of {} right", expected.len());
            break t1.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    loop_thread.join().unwrap();
    let hwm = status_kib(&pid.to_string(), "VmHWM:");
    let rss = status_kib(&pid.to_string(), "VmRSS:");
    let _ = daemon.kill();
    let _ = daemon.wait();
    let total = burst + settle;
    println!("backend            {}", a.backend);
    println!("files / dirs       {} / {}", files.len(), ndirs);
    println!("renames            {} ({nfile} file renames, {nmove} moves between dirs, {ndir} dir renames)", a.renames);
    println!(
        "burst duration     {:.2} s ({:.0} renames/s issued)",
        burst.as_secs_f64(),
        a.renames as f64 / burst.as_secs_f64()
    );
    println!("settle after burst {:.3} s", settle.as_secs_f64());
    println!("events/s handled   {:.0} (renames / (burst + settle))", a.renames as f64 / total.as_secs_f64());
    println!("daemon RSS         {:.1} MiB now, {:.1} MiB peak", rss as f64 / 1024.0, hwm as f64 / 1024.0);
    println!("tag loop           {} runs, {} failed", runs.load(Ordering::Relaxed), fails.load(Ordering::Relaxed));
}

fn reconcile_bench(a: &Args) {
    let tmp = scratch(a);
    let root = tmp.path().canonicalize().unwrap().join("lib");
    let index = tmp.path().join("index.db");
    let per = 500;
    for i in 0..a.files {
        let d = root.join(format!("a{:03}/b{:03}", i / (per * 20), (i / per) % 20));
        if i % per == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("file-{i:07}.dat")), format!("{i}")).unwrap();
    }
    let t = Instant::now();
    let mut idx = Index::open(&index, OpenMode::Create).unwrap();
    let opts = IncludeOptions { recursive: true, ..Default::default() };
    let r = include(&mut idx, std::slice::from_ref(&root), &opts, &NoProgress).unwrap();
    assert_eq!(r.files.len(), a.files, "{:?}", r.failed);
    drop(idx);
    let include_s = t.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let o = trove(a, &index).args(["reconcile"]).output().expect("reconcile");
        runs.push(t.elapsed().as_secs_f64());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{} unchanged, 0 change(s)", a.files)), "{err}");
    }
    runs.sort_by(f64::total_cmp);
    println!("files              {}", a.files);
    println!("include (library)  {include_s:.1} s");
    println!("no-change reconcile {:.2} s median of 3 (min {:.2}, max {:.2})", runs[1], runs[0], runs[2]);
}

fn main() {
    let a = parse_args();
    match a.cmd.as_str() {
        "burst" => burst(&a),
        "reconcile" => reconcile_bench(&a),
        "report" => report::report(&a),
        "generate" => report::generate_cmd(&a),
        "queries" => report::queries_cmd(&a),
        "web" => web::web(&a),
        "mount" => mount::mount_bench(&a),
        "history" => history::history_bench(&a),
        "similar" => similar::similar_bench(&a),
        other => unreachable!("clap accepts only the listed commands, not {other}"),
    }
}
