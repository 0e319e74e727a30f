//! `trove-bench history --size S|M`: what the operation log costs (issue 14).
//!
//! 1. `trove tag` on 10 000 files (one operation of 10 000 new links), with the log on and
//!    off on the same index, alternating, 5 runs each; one-file tags (50 each), the fsync
//!    included as the CLI does it.
//! 2. Bytes per recorded link change: the log's pages (dbstat) over its rows.
//! 3. `find --at` for the report's query suite: after 200 user-sized operations (1–50 files
//!    each, tags added and removed), at the op 20 back and at the first of them, p50 / p95,
//!    next to the plain query.

use std::path::Path;
use std::time::Instant;

use trove_core::ops::find::Query;
use trove_core::ops::history::{self, At};
use trove_core::ops::tagging::{tag_ids, untag_ids};
use trove_core::{FileId, Index, OpenMode, Source};

use crate::Args;
use crate::library::{Rng, size};
use crate::report::{generate, ms, pct};

pub fn history_bench(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let dir = crate::scratch(a);
    let db = dir.path().join("index.db");
    let t = Instant::now();
    let (lib, files, links) = generate(s, a.seed, &db, Path::new("/bench/lib"));
    println!(
        "## Operation log at size {} ({files} files, {links} links; generated in {:.0} s)\n",
        s.name,
        t.elapsed().as_secs_f64()
    );
    let mut index = Index::open(&db, OpenMode::Existing).expect("open");
    let all: Vec<FileId> =
        Query::new(&index, "").expect("q").collect(&index, None).expect("all").into_iter().map(|r| r.id).collect();
    let ids: Vec<FileId> = all.iter().copied().step_by((all.len() / 10_000).max(1)).take(10_000).collect();

    // 1. tag latency with and without the log.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for run in 0..5 {
        for rec in [false, true] {
            index.record_history(rec);
            index.set_operation("bench", "tag 10 000");
            let name = format!("bench:{}{run}", if rec { "on" } else { "off" });
            let t = Instant::now();
            let n = tag_ids(&mut index, &ids, std::slice::from_ref(&name), &Source::Manual).expect("tag").links_added;
            assert_eq!(n, ids.len() as u64);
            (if rec { &mut on } else { &mut off }).push(ms(t.elapsed()));
        }
    }
    let (mut on1, mut off1) = (Vec::new(), Vec::new());
    for run in 0..50 {
        for rec in [false, true] {
            index.record_history(rec);
            index.set_operation("bench", "tag one");
            let name = format!("bench:one{}{run}", if rec { "on" } else { "off" });
            let t = Instant::now();
            tag_ids(&mut index, &ids[run..=run], std::slice::from_ref(&name), &Source::Manual).expect("tag");
            (if rec { &mut on1 } else { &mut off1 }).push(ms(t.elapsed()));
        }
    }
    index.record_history(true);
    println!("`trove tag` through `ops::tagging::tag_ids` (ms; p50 / p95; `synchronous = FULL` as the CLI):\n");
    println!("| write | without the log | with the log | overhead (p50) |");
    println!("|---|---|---|---|");
    let row = |label: &str, off: &mut Vec<f64>, on: &mut Vec<f64>| {
        let (o50, o95, n50, n95) = (pct(off, 0.5), pct(off, 0.95), pct(on, 0.5), pct(on, 0.95));
        println!("| {label} | {o50:.1} / {o95:.1} | {n50:.1} / {n95:.1} | {:+.0} % |", (n50 / o50 - 1.0) * 100.0);
    };
    row("one tag on 10 000 files (10 000 new links, one transaction; 5 runs)", &mut off, &mut on);
    row("one tag on one file (50 runs)", &mut off1, &mut on1);

    // 2. bytes per recorded change (the log holds only what this bench recorded).
    let sz = history::size(&index).expect("size");
    println!(
        "\nThe log after those runs: {} operations, {} recorded changes, {} bytes = **{:.1} bytes per recorded link change** \
         (row and its three index entries, pages as SQLite fills them).\n",
        sz.operations,
        sz.changes,
        sz.bytes,
        sz.bytes as f64 / sz.changes.max(1) as f64
    );

    // 3. find --at after a realistic history.
    let mut rng = Rng::new(a.seed ^ 0xa7);
    let mut ops = Vec::new();
    for i in 0..200 {
        let n = 1 + rng.below(50);
        let pick: Vec<FileId> = (0..n).map(|_| all[rng.below(all.len())]).collect();
        let tag = lib.name_of_rank(rng.below(50)).to_string();
        index.set_operation("bench", &format!("op {i}"));
        if rng.below(3) == 0 {
            untag_ids(&mut index, &pick, std::slice::from_ref(&tag), None).expect("untag");
        } else {
            tag_ids(&mut index, &pick, std::slice::from_ref(&tag), &Source::Manual).expect("tag");
        }
        if let Some(o) = index.current_operation() {
            ops.push(o);
        }
    }
    let recent = ops[ops.len() - 20];
    let first = ops[0];
    println!(
        "`find --at` for the report's query suite, after 200 operations of 1–50 files each (ms; p50 / p95 over 5 runs):\n"
    );
    println!("| query | plain find | --at 20 operations back | --at the first of the 200 |");
    println!("|---|---|---|---|");
    let queries = crate::report::query_suite(&lib, s);
    let (mut all_plain, mut all_recent, mut all_first) = (Vec::new(), Vec::new(), Vec::new());
    for (label, q) in &queries {
        let mut plain = Vec::new();
        let mut rec = Vec::new();
        let mut fst = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let n = Query::new(&index, q).expect("q").collect(&index, None).expect("find").len();
            plain.push(ms(t.elapsed()));
            let t = Instant::now();
            let r = history::find_at(&mut index, At::Op(recent), q, None).expect("at");
            rec.push(ms(t.elapsed()));
            let t = Instant::now();
            let r0 = history::find_at(&mut index, At::Op(first), q, None).expect("at");
            fst.push(ms(t.elapsed()));
            let _ = (n, r.files.len(), r0.files.len());
        }
        all_plain.extend(plain.iter().copied());
        all_recent.extend(rec.iter().copied());
        all_first.extend(fst.iter().copied());
        println!(
            "| {label} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
            pct(&mut plain, 0.5),
            pct(&mut plain, 0.95),
            pct(&mut rec, 0.5),
            pct(&mut rec, 0.95),
            pct(&mut fst, 0.5),
            pct(&mut fst, 0.95)
        );
    }
    println!(
        "| **all queries** | {:.1} / **{:.1}** | {:.1} / **{:.1}** | {:.1} / **{:.1}** |",
        pct(&mut all_plain, 0.5),
        pct(&mut all_plain, 0.95),
        pct(&mut all_recent, 0.5),
        pct(&mut all_recent, 0.95),
        pct(&mut all_first, 0.5),
        pct(&mut all_first, 0.95)
    );
    let (first_span, recent_span) = (ops.len(), 20);
    println!(
        "\n(`--at` 20 back reverts the changes of the last {recent_span} operations; `--at` the first reverts \
         {first_span} operations' changes plus nothing older: the cost follows the changes after the moment, not the \
         index size.)"
    );
    drop(index);
}
