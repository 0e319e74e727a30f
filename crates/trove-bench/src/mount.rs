//! `trove-bench mount --size S|M|L [--index PATH]`: `trove mount` (FUSE) next to `trove find`
//! for the same sets, on a generated library.
//!
//! 1. `ls` of `tags/` and of `tags/<popular tag>` (co-occurring tags);
//! 2. `ls` of `tags/<popular>/@files` and of a 10 000-result `query/` folder: the first
//!    listing after mounting, then the p50/p95 of 20 repeated listings;
//! 3. `find -L MOUNT/tags/<popular>/@files | wc -l`;
//!
//! each next to `trove find` printing the same set, and `find -L` over the same links as
//! plain symlinks in an ext4 folder made by `trove view` (the physical floor); then the mount
//! process's peak RSS. The library's files do not exist on disk
//! (`/bench/lib/...`), so the links dangle: `ls` and `find -L` list them all the same, and
//! no time goes to the disk.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::library::size;
use crate::report::{generate, ms, pct};
use crate::{Args, scratch, trove};

fn timed(c: &mut Command) -> (f64, Vec<u8>) {
    let t = Instant::now();
    let o = c.stderr(Stdio::null()).output().expect("run");
    let dt = ms(t.elapsed());
    assert!(o.status.success() || o.status.code() == Some(1), "{c:?} failed: {:?}", o.status);
    (dt, o.stdout)
}

fn lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// First run, then p50 and p95 of `n` more.
fn first_and_repeated(n: usize, mut f: impl FnMut() -> (f64, usize)) -> (f64, f64, f64, usize) {
    let (first, count) = f();
    let mut v: Vec<f64> = (0..n).map(|_| f().0).collect();
    (first, pct(&mut v, 0.5), pct(&mut v, 0.95), count)
}

fn mounted(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.contains(&format!(" {} ", dir.display()))
}

pub fn mount_bench(a: &Args) {
    let s = size(&a.size).unwrap_or_else(|| panic!("--size S, M or L"));
    let tmp = scratch(a);
    let index = tmp.path().join("index.db");
    let t = Instant::now();
    let lib = match &a.index {
        Some(given) => {
            std::fs::copy(given, &index).expect("copy --index");
            crate::library::Library::new(s, a.seed, Path::new("/bench/lib"))
        }
        None => generate(s, a.seed, &index, Path::new("/bench/lib")).0,
    };
    eprintln!("library {} ready in {:.0} s", s.name, t.elapsed().as_secs_f64());
    let popular = lib.name_of_rank(0).to_string();
    let q10k = format!(
        "(\"{}\" | \"{}\" | \"{}\") limit:10000",
        lib.name_of_rank(0),
        lib.name_of_rank(1),
        lib.name_of_rank(2)
    );

    let mnt = tmp.path().canonicalize().unwrap().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let child = trove(a, &index).arg("mount").arg(&mnt).stderr(Stdio::null()).spawn().expect("trove mount");
    // Unmounted (SIGTERM) however this function ends, a panic included.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
            let _ = self.0.wait();
        }
    }
    let mount_pid = child.id().to_string();
    let _stop = Stop(child);
    let t = Instant::now();
    while !mounted(&mnt) {
        assert!(t.elapsed() < Duration::from_secs(30), "not mounted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ls = |rel: &str| {
        let dir = mnt.join(rel);
        move || {
            let (dt, out) = timed(Command::new("ls").arg(&dir));
            (dt, lines(&out))
        }
    };
    let find = |q: &str| {
        let q = q.to_string();
        let index = index.clone();
        move || {
            let (dt, out) = timed(trove(a, &index).args(["find", "--", &q]));
            (dt, lines(&out))
        }
    };
    let n = 20;
    println!("## trove mount at {} ({} files, seed {})\n", s.name, s.files, a.seed);
    println!("| listing | entries | first (ms) | repeated p50 (ms) | repeated p95 (ms) |");
    println!("|---|---|---|---|---|");
    let row = |label: &str, r: (f64, f64, f64, usize)| {
        println!("| {label} | {} | {:.1} | {:.1} | {:.1} |", r.3, r.0, r.1, r.2);
    };
    row("`ls tags/` (top 1000 tags)", first_and_repeated(n, ls("tags")));
    row(&format!("`ls tags/{popular}/` (co-occurring tags)"), first_and_repeated(n, ls(&format!("tags/{popular}"))));
    row(&format!("`ls tags/{popular}/@files`"), first_and_repeated(n, ls(&format!("tags/{popular}/@files"))));
    row(&format!("`trove find {popular}`"), first_and_repeated(n, find(&popular)));
    row("`ls query/<10k results>/`", first_and_repeated(n, ls(&format!("query/{q10k}"))));
    row("`trove find '<same query>'`", first_and_repeated(n, find(&q10k)));
    let find_l = || {
        let (dt, out) = timed(
            Command::new("sh")
                .arg("-c")
                .arg("find -L \"$1\" | wc -l")
                .arg("sh")
                .arg(mnt.join(format!("tags/{popular}/@files"))),
        );
        (dt, String::from_utf8_lossy(&out).trim().parse().unwrap_or(0))
    };
    row(&format!("`find -L tags/{popular}/@files | wc -l`"), first_and_repeated(5, find_l));
    let find_wc = || {
        let (dt, out) = timed(
            Command::new("sh")
                .arg("-c")
                .arg("\"$1\" find -- \"$2\" | wc -l")
                .arg("sh")
                .arg(&a.trove)
                .arg(&popular)
                .env("TROVE_INDEX", &index),
        );
        (dt, String::from_utf8_lossy(&out).trim().parse().unwrap_or(0))
    };
    row(&format!("`trove find {popular} | wc -l`"), first_and_repeated(5, find_wc));
    // The physical floor: the same set as plain symlinks in an ext4 folder (`trove view`,
    // the links dangle as the mount's do), walked the same way; "first" right after it was
    // made (the kernel holds its dentries, as it holds the mount's after the listings above).
    let view = tmp.path().join("view");
    let t = Instant::now();
    let (_, _) = timed(trove(a, &index).args(["view", "--", &popular]).arg(&view));
    let made = ms(t.elapsed());
    let find_view = || {
        let (dt, out) = timed(Command::new("sh").arg("-c").arg("find -L \"$1\" | wc -l").arg("sh").arg(&view));
        (dt, String::from_utf8_lossy(&out).trim().parse().unwrap_or(0))
    };
    row("`find -L <trove view folder> | wc -l` (ext4)", first_and_repeated(5, find_view));
    // And with the kernel's dentry and inode caches dropped first (`drop_caches` 2; root).
    let cold = std::fs::write("/proc/sys/vm/drop_caches", "2").is_ok();
    if cold {
        let (dt, n) = find_view();
        println!(
            "| `find -L <trove view folder> | wc -l` (ext4), dentries and inodes dropped first | {n} | {dt:.1} | | |"
        );
    }
    println!("\n`trove view` made the {popular} folder in {made:.0} ms");
    println!("\nquery: `{q10k}`; repeated = {n} runs (5 for the find rows); each `ls` and `find` is a new process");
    println!(
        "peak RSS of the `trove mount` process after all of the above: {} MiB (now: {} MiB its own, {} MiB of the \
         index file mapped)",
        crate::status_kib(&mount_pid, "VmHWM:") / 1024,
        crate::status_kib(&mount_pid, "RssAnon:") / 1024,
        crate::status_kib(&mount_pid, "RssFile:") / 1024
    );
}
