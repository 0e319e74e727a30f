//! `trove dupes` on real temp trees: groups of identical content with hostile names, the
//! space they waste, hard links, queries, missing files, and the keep rule behind
//! `--print-redundant`. Nothing on disk changes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use trove_testutil::{TestEnv, hostile_names};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn groups(e: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["dupes", "--json"];
    a.extend_from_slice(args);
    let o = e.run(&a);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json"))
        .collect()
}

/// A JSON file entry's exact path bytes.
fn path_of(f: &Value) -> Vec<u8> {
    match f["path_hex"].as_str() {
        Some(h) => (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect(),
        None => f["path"].as_str().unwrap().as_bytes().to_vec(),
    }
}

fn set_mtime(p: &Path, secs_ago: u64) {
    let f = std::fs::File::options().write(true).open(p).expect("open");
    f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago)).expect("set mtime");
}

/// Every file under `dir` with its bytes and mtime.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).unwrap() {
            let p = ent.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else {
                m.insert(p.clone(), (std::fs::read(&p).unwrap(), md.modified().unwrap()));
            }
        }
    }
    m
}

#[test]
fn dupes_groups_identical_content_under_hostile_names_and_keeps_the_oldest() {
    let e = env();
    let names = hostile_names();
    for (i, n) in names.iter().enumerate() {
        let content = format!("content number {i}\n").repeat(i + 1);
        let a = e.path("lib/a").join(n);
        let b = e.path("lib/b").join(n);
        e.write(&a, content.as_bytes());
        e.write(&b, content.as_bytes());
        // The copy under b/ is older: the keep rule keeps it.
        set_mtime(&a, 10);
        set_mtime(&b, 1000);
    }
    e.write("lib/unique-1", b"one");
    e.write("lib/unique-2", b"two");
    e.write("lib/empty-1", b"");
    e.write("lib/empty-2", b"");
    e.ok(["include", "-r", "lib"]);
    let before = snapshot(&e.path("lib"));

    let gs = groups(&e, &[]);
    assert_eq!(gs.len(), names.len(), "one group per hostile name, empty files left out: {gs:#?}");
    // Biggest waste first: content i is (i + 1) times longer.
    let wasted: Vec<u64> = gs.iter().map(|g| g["wasted"].as_u64().unwrap()).collect();
    assert!(wasted.windows(2).all(|w| w[0] >= w[1]), "{wasted:?}");
    for g in &gs {
        assert_eq!(g["copies"], 2);
        assert_eq!(g["wasted"], g["size"]);
        let files = g["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        let (pa, pb) = (path_of(&files[0]), path_of(&files[1]));
        let name_a = Path::new(OsStr::from_bytes(&pa)).strip_prefix(e.path("lib/a")).unwrap().to_path_buf();
        let name_b = Path::new(OsStr::from_bytes(&pb)).strip_prefix(e.path("lib/b")).unwrap().to_path_buf();
        assert_eq!(name_a, name_b, "a group holds one name's two copies");
        assert_eq!((files[0]["keep"].as_bool(), files[1]["keep"].as_bool()), (Some(false), Some(true)));
    }

    // --print-redundant -0: exactly the newer copies, byte for byte.
    let out = e.ok(["dupes", "--print-redundant", "-0", "--absolute"]);
    let mut printed: Vec<Vec<u8>> = out.split(|&b| b == 0).filter(|p| !p.is_empty()).map(<[u8]>::to_vec).collect();
    printed.sort();
    let mut want: Vec<Vec<u8>> =
        names.iter().map(|n| e.path("lib/a").join(n).as_os_str().as_bytes().to_vec()).collect();
    want.sort();
    assert_eq!(printed, want);

    // Empty files group only when asked for.
    let all = groups(&e, &["--min-size", "0"]);
    assert_eq!(all.len(), names.len() + 1);
    assert_eq!(all.last().unwrap()["wasted"], 0);

    assert_eq!(snapshot(&e.path("lib")), before, "dupes changed files on disk");
}

#[test]
fn dupes_counts_hard_links_as_one_copy() {
    let e = env();
    let a = e.write("lib/a", &[7u8; 4096]);
    std::fs::hard_link(&a, e.path("lib/a-link")).unwrap();
    e.ok(["include", "-r", "lib"]);
    let gs = groups(&e, &[]);
    assert_eq!(gs.len(), 1);
    assert_eq!((gs[0]["copies"].as_u64(), gs[0]["wasted"].as_u64()), (Some(1), Some(0)));
    e.write("lib/b", &[7u8; 4096]);
    e.ok(["include", "lib/b"]);
    let gs = groups(&e, &[]);
    assert_eq!((gs[0]["copies"].as_u64(), gs[0]["wasted"].as_u64()), (Some(2), Some(4096)));
    assert_eq!(gs[0]["files"].as_array().unwrap().len(), 3);
}

#[test]
fn dupes_min_size_query_and_missing_files_narrow_the_groups() {
    let e = env();
    e.write("lib/photos/x.jpg", &[1u8; 2048]);
    e.write("lib/backup/x.jpg", &[1u8; 2048]);
    e.write("lib/photos/small.txt", b"tiny");
    e.write("lib/backup/small.txt", b"tiny");
    e.write("lib/photos/y.jpg", &[2u8; 3000]);
    e.write("lib/photos/y-copy.jpg", &[2u8; 3000]);
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "-t", "keepme", "lib/photos/x.jpg", "lib/backup/x.jpg"]);

    assert_eq!(groups(&e, &[]).len(), 3);
    assert_eq!(groups(&e, &["--min-size", "1k"]).len(), 2);
    assert_eq!(groups(&e, &["--min-size", "2049"]).len(), 1);
    // A query selects which files are grouped.
    let gs = groups(&e, &["keepme"]);
    assert_eq!(gs.len(), 1);
    assert_eq!(gs[0]["size"], 2048);
    assert_eq!(groups(&e, &["path:*/photos/*"]).len(), 1, "only y and y-copy are both in photos/");

    let bad = e.run(["dupes", "--min-size", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"lots\" is not a size"));

    // A missing record is not a copy.
    std::fs::remove_file(e.path("lib/photos/y-copy.jpg")).unwrap();
    e.ok(["reconcile"]);
    assert_eq!(groups(&e, &[]).len(), 2);

    // Nothing left: exit status 1, like find.
    let o = e.run(["dupes", "--min-size", "1G"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}

#[test]
fn dupes_text_output_marks_the_kept_copy_and_sums_the_waste() {
    let e = env();
    e.write("lib/one", b"same bytes");
    e.write("lib/two", b"same bytes");
    e.write("lib/three", b"same bytes");
    set_mtime(&e.path("lib/two"), 5000);
    e.ok(["include", "-r", "lib"]);
    let o = e.run(["dupes"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    let hash = &blake3::hash(b"same bytes").to_hex()[..12];
    assert_eq!(
        out,
        format!(
            "3 copies of 10 bytes, 20 bytes wasted  hash:{hash}\n        lib/one\n        lib/three\n  keep  lib/two\n"
        )
    );
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("1 group(s), 3 file(s), 20 bytes wasted"), "{err}");
}

fn found(e: &TestEnv, q: &str) -> Vec<String> {
    let (mut v, _) = e.find(q);
    v.sort();
    v
}

#[test]
fn dupes_mark_stores_decisions_that_dupe_undecided_sees() {
    let e = env();
    e.write("lib/a", b"copy me");
    e.write("lib/b", b"copy me");
    e.write("lib/c", b"copy me");
    e.write("lib/-odd name", b"other");
    e.write("lib/-odd copy", b"other");
    e.write("lib/alone", b"alone");
    e.ok(["include", "-r", "lib"]);
    let before = snapshot(&e.path("lib"));
    let five = ["lib/-odd copy", "lib/-odd name", "lib/a", "lib/b", "lib/c"];
    assert_eq!(found(&e, "dupe:exact"), five);
    assert_eq!(found(&e, "dupe:undecided"), five);
    assert_eq!(found(&e, "-dupe:exact"), ["lib/alone"]);

    // A group by its hash: every pair in it decided.
    let hash = blake3::hash(b"copy me").to_hex();
    e.ok(["dupes", "mark", &format!("hash:{}", &hash[..10]), "same"]);
    assert_eq!(found(&e, "dupe:undecided"), ["lib/-odd copy", "lib/-odd name"]);
    // Files by path (a leading '-' is a name, not a flag, after `mark`).
    e.ok(["dupes", "mark", "lib/-odd name", "lib/-odd copy", "not-duplicate"]);
    assert!(found(&e, "dupe:undecided").is_empty());
    // Forgetting one pair's decision makes both files undecided again.
    e.ok(["dupes", "mark", "lib/a", "lib/b", "undecided"]);
    assert_eq!(found(&e, "dupe:undecided"), ["lib/a", "lib/b"]);

    // Wrong input is named.
    let o = e.run(["dupes", "mark", "lib/a", "lib/b", "maybe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("maybe: not a decision"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = e.run(["dupes", "mark", "lib/a", "same"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs 2 files or more; 1 given"));
    let o = e.run(["dupes", "mark", "lib/a", "lib/nope", "same"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("lib/nope: not in the index"));
    let o = e.run(["dupes", "mark", "hash:00000000", "same"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("hash:00000000: no live file has this content"));
    assert_eq!(snapshot(&e.path("lib")), before, "dupes mark changed files on disk");
}

#[test]
fn dupes_merge_tags_unions_tags_with_their_sources_and_touches_no_file() {
    let e = env();
    e.write("lib/x.jpg", b"pixels");
    e.write("lib/copy/x.jpg", b"pixels");
    e.write("lib/other.jpg", b"else");
    e.ok(["include", "-r", "lib"]);
    e.ok(["tag", "-t", "cat", "lib/x.jpg"]);
    e.ok(["tag", "-t", "cute", "--source", "import:hydrus", "lib/copy/x.jpg"]);
    let before = snapshot(&e.path("lib"));
    let hash = blake3::hash(b"pixels").to_hex();
    e.ok(["dupes", "merge-tags", &format!("hash:{}", &hash[..8])]);
    assert_eq!(found(&e, "cat cute"), ["lib/copy/x.jpg", "lib/x.jpg"]);
    let ls = String::from_utf8(e.ok(["ls", "--json", "lib/copy/x.jpg"])).unwrap();
    assert!(ls.contains("manual") && ls.contains("import:hydrus"), "sources kept: {ls}");
    assert!(found(&e, "other.jpg").is_empty() && found(&e, "cat").len() == 2);
    // Paths too; a second run adds nothing.
    let o = e.run(["dupes", "merge-tags", "lib/x.jpg", "lib/copy/x.jpg"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 link(s) added"));
    assert_eq!(snapshot(&e.path("lib")), before, "merge-tags changed files on disk");
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

#[test]
fn dupes_scan_then_similar_groups_resized_and_recompressed_copies() {
    let e = env();
    let orig = picture(1);
    std::fs::create_dir_all(e.path("lib/again")).unwrap();
    orig.save(e.path("lib/photo.png")).unwrap();
    std::fs::create_dir_all(e.path("lib/small")).unwrap();
    image::DynamicImage::ImageRgb8(orig.clone())
        .resize_exact(120, 90, image::imageops::FilterType::Triangle)
        .save(e.path("lib/small/photo.png"))
        .unwrap();
    let f = std::fs::File::create(e.path("lib/photo-q30.jpg")).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, 30).encode_image(&orig).unwrap();
    picture(4).save(e.path("lib/other.png")).unwrap();
    e.write("lib/notes.txt", b"not an image");
    // Indexed without reading contents: no perceptual hash yet.
    e.ok(["include", "-r", "--no-meta", "lib"]);
    let before = snapshot(&e.path("lib"));
    assert_eq!(e.run(["dupes", "--similar"]).status.code(), Some(1), "nothing hashed yet");

    let o = e.run(["dupes", "--scan"]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("perceptual hashes computed for 4 content(s)")
            && err.contains("1 file(s) are not images or videos"),
        "{err}"
    );

    let gs = groups(&e, &["--similar"]);
    assert_eq!(gs.len(), 1, "{gs:#?}");
    let root = format!("{}/", e.root().display());
    let mut names: Vec<String> = gs[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().trim_start_matches(&root).to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["lib/photo-q30.jpg", "lib/photo.png", "lib/small/photo.png"]);
    let mut found = found(&e, "dupe:similar");
    found.sort();
    assert_eq!(found, names);
    assert!(e.find("dupe:similar path:*other*").0.is_empty());
    // Decided as a group, they are no longer undecided.
    assert_eq!(self::found(&e, "dupe:undecided"), names);
    e.ok(["dupes", "mark", "lib/photo.png", "lib/small/photo.png", "lib/photo-q30.jpg", "alternate"]);
    assert!(self::found(&e, "dupe:undecided").is_empty());
    // At distance 0 only identical hashes group.
    assert!(groups(&e, &["--similar", "--distance", "0"]).len() <= 1);
    let bad = e.run(["dupes", "--similar", "--distance", "65"]);
    assert_eq!(bad.status.code(), Some(2));
    // Hashes are also computed at include, with the metadata.
    picture(1).save(e.path("lib/again/photo.png")).unwrap();
    e.ok(["include", "lib/again/photo.png"]);
    assert!(self::found(&e, "dupe:exact").contains(&"lib/again/photo.png".to_string()));
    let mut before = before;
    before.extend(snapshot(&e.path("lib/again")));
    assert_eq!(snapshot(&e.path("lib")), before, "dupes changed files on disk");
}

/// No code behind `trove dupes` can delete, move or change a user's file: the sources of the
/// command, its operations, its SQL, the similarity search and the perceptual hasher call
/// none of the filesystem functions that could (the tests above also compare every file's
/// bytes and mtime before and after each dupes command).
#[test]
fn no_dupes_code_path_deletes_or_modifies_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = [
        "crates/trove-cli/src/commands/dupes.rs",
        "crates/trove-core/src/ops/dupes.rs",
        "crates/trove-core/src/store/dupes.rs",
        "crates/trove-core/src/similar.rs",
        "crates/trove-meta/src/phash.rs",
    ];
    let forbidden = [
        "remove_file",
        "remove_dir",
        "fs::rename",
        "renameat",
        "fs::write",
        "fs::copy",
        "File::create",
        "OpenOptions",
        ".write(true)",
        ".append(true)",
        "set_len",
        "set_permissions",
        "set_modified",
        "set_times",
        "unlink",
        "truncate",
        "hard_link",
        "symlink(",
        "Command::new",
        "ops::remove",
        "ops::mv",
    ];
    for s in sources {
        let text = std::fs::read_to_string(root.join(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
        // Only the code, not the tests at the bottom (which make fixtures).
        let code = text.split("#[cfg(test)]").next().unwrap();
        for f in forbidden {
            assert!(!code.contains(f), "{s} calls {f}");
        }
    }
    // Keyframes: the only program run is ffmpeg (or ffprobe), reading the video and writing
    // raw grey pixels to its stdout ("-"), never a file.
    let kf = std::fs::read_to_string(root.join("crates/trove-meta/src/keyframes.rs")).unwrap();
    for f in forbidden.iter().filter(|f| **f != "Command::new") {
        assert!(!kf.contains(f), "keyframes.rs calls {f}");
    }
    assert_eq!(kf.matches("Command::new(").count(), 2, "ffmpeg and ffprobe only");
    assert!(kf.contains(r#".args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])"#) && kf.contains("\"-nostdin\""));
    // The hasher opens files the way the metadata reader does: read-only.
    let meta = std::fs::read_to_string(root.join("crates/trove-meta/src/lib.rs")).unwrap();
    let open = &meta[meta.find("fn open_regular").unwrap()..];
    let open = &open[..open.find("\n}\n").unwrap()];
    assert!(open.contains(".read(true)") && !open.contains(".write(") && !open.contains(".create("), "{open}");
}

/// A decision is a change like any other: `trove log` lists the mark, `trove undo` reverts
/// it (the earlier decision comes back), and undoing again redoes it.
#[test]
fn dupes_mark_is_in_the_history_and_trove_undo_reverts_it() {
    let e = env();
    e.write("lib/a.bin", b"the same bytes");
    e.write("lib/b.bin", b"the same bytes");
    e.ok(["include", "-r", "lib"]);
    let both = vec!["lib/a.bin".to_string(), "lib/b.bin".to_string()];
    assert_eq!(found(&e, "dupe:undecided"), both);
    e.ok(["dupes", "mark", "lib/a.bin", "lib/b.bin", "alternate"]);
    assert!(found(&e, "dupe:undecided").is_empty());
    e.ok(["dupes", "mark", "lib/a.bin", "lib/b.bin", "undecided"]);
    assert_eq!(found(&e, "dupe:undecided"), both);
    let log = String::from_utf8(e.ok(["log"])).unwrap();
    assert!(log.contains("dupes mark"), "{log}");
    // Undo the forgetting: decided again.
    e.ok(["undo"]);
    assert!(found(&e, "dupe:undecided").is_empty());
    // Undo the undo (redo): undecided again.
    e.ok(["undo"]);
    assert_eq!(found(&e, "dupe:undecided"), both);
}

/// Runs ffmpeg quietly with `args`, writing `out`.
fn ffmpeg(args: &[&str], out: &Path) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let st = std::process::Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).arg(out).status().unwrap();
    assert!(st.success(), "ffmpeg {args:?}");
}

#[test]
fn dupes_similar_finds_a_reencoded_and_a_resized_video_by_keyframes_not_unrelated_ones() {
    if !trove_testutil::have_tool("ffmpeg", "-version") {
        assert!(
            std::env::var_os("CI").is_none(),
            "ffmpeg is not installed: .ci/run installs it and this test needs it"
        );
        eprintln!("skipping the video keyframe test: ffmpeg is not installed");
        return;
    }
    let e = env();
    let orig = e.path("lib/orig.mp4");
    let mandelbrot = ["-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=10", "-t", "5", "-pix_fmt", "yuv420p"];
    ffmpeg(&[&mandelbrot[..], &["-c:v", "libx264", "-crf", "18"]].concat(), &orig);
    let o = orig.to_str().unwrap();
    // A re-encode at low quality and a resized copy of it; two unrelated videos.
    ffmpeg(&["-i", o, "-c:v", "libx264", "-crf", "45"], &e.path("lib/low-quality.mp4"));
    ffmpeg(&["-i", o, "-vf", "scale=160:120", "-c:v", "libx264"], &e.path("lib/small/orig.mp4"));
    ffmpeg(
        &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=5", "-pix_fmt", "yuv420p"],
        &e.path("lib/bars.mp4"),
    );
    ffmpeg(
        &["-f", "lavfi", "-i", "life=size=320x240:rate=10:mold=10:ratio=0.5", "-t", "5", "-pix_fmt", "yuv420p"],
        &e.path("lib/life.mp4"),
    );
    e.ok(["include", "-r", "--no-meta", "lib"]);
    let before = snapshot(&e.path("lib"));

    // Without ffmpeg a scan says so once (not per video) and stores nothing.
    let o = e.cmd(["dupes", "--scan"]).env("PATH", "/nonexistent").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("ffmpeg is not installed").count(), 1, "{err}");
    assert_eq!(e.run(["dupes", "--similar"]).status.code(), Some(1), "nothing hashed");

    // With ffmpeg: five keyframes per video; the copies group, the others do not.
    let o = e.run(["dupes", "--scan"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("keyframe hashes for 5 video(s)") && !err.contains("ffmpeg is not installed"), "{err}");
    let gs = groups(&e, &["--similar"]);
    assert_eq!(gs.len(), 1, "{gs:#?}");
    let root = format!("{}/", e.root().display());
    let names = |g: &Value| -> Vec<(String, bool)> {
        g["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap().trim_start_matches(&root).to_string(), f["keep"] == true))
            .collect()
    };
    assert_eq!(
        names(&gs[0]),
        [("lib/low-quality.mp4".into(), false), ("lib/orig.mp4".into(), true), ("lib/small/orig.mp4".into(), false)]
    );
    assert_eq!(found(&e, "dupe:similar"), ["lib/low-quality.mp4", "lib/orig.mp4", "lib/small/orig.mp4"]);
    assert_eq!(found(&e, "dupe:undecided"), ["lib/low-quality.mp4", "lib/orig.mp4", "lib/small/orig.mp4"]);

    // At include (with metadata) the keyframes are hashed too.
    ffmpeg(
        &["-i", o_path(&orig), "-vf", "scale=240:180", "-c:v", "libx264", "-crf", "30"],
        &e.path("later/medium.mp4"),
    );
    e.ok(["include", "later/medium.mp4"]);
    let gs = groups(&e, &["--similar"]);
    assert_eq!(gs.len(), 1);
    assert_eq!(gs[0]["similar"], 4, "{gs:#?}");
    assert_eq!(snapshot(&e.path("lib")), before, "dupes changed files on disk");
}

fn o_path(p: &Path) -> &str {
    p.to_str().unwrap()
}
