//! Generates an awtfdb library for benchmarks: `awtfdb_gen DIR FILES LINKS [SEED]` writes
//! FILES small files under DIR/files (1 % of them left off the disk, as files awtfdb still
//! lists after they were deleted) and DIR/awtf.db with FILES/20 tag cores (a tenth with a
//! second name, some in another language), LINKS tag links (0–20 per file, popular tags
//! more likely), implications on 3 % of the cores with the rows awtfdb copies from them,
//! and 50 pools of 20 files. Prints what it made.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use trove_import::awtfdb::Builder;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: awtfdb_gen DIR FILES LINKS [SEED]");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&a[1]);
    let files: usize = a[2].parse().expect("FILES");
    let links: usize = a[3].parse().expect("LINKS");
    let seed: u64 = a.get(4).map_or(1, |s| s.parse().expect("SEED"));
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(dir.join("files")).unwrap();
    let db = dir.join("awtf.db");
    let _ = std::fs::remove_file(&db);
    let mut w = Builder::create(&db, seed).unwrap();
    w.conn.execute_batch("PRAGMA synchronous = OFF; BEGIN").unwrap();
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let ncores = (files / 20).max(10);
    let langs = ["en", "en", "en", "pt", "de", "ja"];
    let mut cores = Vec::with_capacity(ncores);
    for i in 0..ncores {
        let name = format!("tag{i}");
        let alias = format!("alias{i}");
        let lang = langs[i % langs.len()];
        let id = if i % 10 == 0 { w.tag(&[(&name, "en"), (&alias, lang)]) } else { w.tag(&[(&name, "en")]) };
        cores.push(id.unwrap());
    }
    // Implications: 3 % of the cores imply a more popular one (lower index).
    let mut parents: Vec<Option<(usize, i64)>> = vec![None; ncores];
    for (i, p) in parents.iter_mut().enumerate().skip(10) {
        if next() % 100 < 3 {
            let j = (next() as usize) % (i / 2).max(1);
            *p = Some((j, w.imply(&cores[i], &cores[j]).unwrap()));
        }
    }
    // Files and links: popular tags (low index) more likely.
    let per_file = (links as f64 / files as f64).max(0.0);
    let mut contents = Vec::with_capacity(files);
    let mut made_links = 0usize;
    for f in 0..files {
        let path = dir.join("files").join(format!("d{:03}", f % 200)).join(format!("file-{f:07}.dat"));
        let content = format!("content of file {f} seed {seed}\n");
        if f % 100 != 99 {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        }
        let h = w.file(path.as_os_str().as_bytes(), content.as_bytes()).unwrap();
        let want = ((next() % 1000) as f64 / 1000.0 * 2.0 * per_file).round() as usize;
        let mut on = std::collections::BTreeSet::new();
        for _ in 0..want.min(20) {
            let r = (next() % 1_000_000) as f64 / 1_000_000.0;
            on.insert(((r * r * r) * ncores as f64) as usize % ncores);
        }
        for &t in &on {
            w.link(&h, &cores[t], (0, 0), None).unwrap();
            made_links += 1;
            // awtfdb copies the parent onto the file (source "tag parenting").
            if let Some((p, rowid)) = parents[t]
                && !on.contains(&p)
                && w.link(&h, &cores[p], (0, 1), Some(rowid)).is_ok()
            {
                made_links += 1;
            }
        }
        contents.push(h);
    }
    for p in 0..50 {
        let members: Vec<&str> = (0..20).map(|k| contents[(p * 997 + k * 31) % files].as_str()).collect();
        let mut m = members.clone();
        m.sort_unstable();
        m.dedup();
        if m.len() == members.len() {
            w.pool(&format!("pool {p}"), &members).unwrap();
        }
    }
    w.conn.execute_batch("COMMIT").unwrap();
    drop(w);
    println!(
        "{}: {files} files ({} on disk), {ncores} tag cores, {made_links} links, in {:.1} s",
        db.display(),
        files - files / 100,
        t0.elapsed().as_secs_f64()
    );
}
