//! Tagging rules end to end with the real binary: the five example rules of the research
//! note (music folders, photo EXIF, papers, Stable Diffusion prompts, MIME type) over a
//! library of real files made by ffmpeg and exiftool; preview, apply, a second apply that
//! changes nothing, revert that removes exactly the rule's links while a manual copy of
//! the same tag survives; and rules files that are refused before anything is written.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use serde_json::Value;
use trove_testutil::{TestEnv, ffmpeg, have_tool, run_tool};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    let mut k = kind.to_vec();
    k.extend_from_slice(data);
    v.extend_from_slice(&crc32(&k).to_be_bytes());
    v
}

/// A PNG as AUTOMATIC1111 writes it: a tEXt `parameters` chunk before the image data.
fn sd_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut v = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png).unwrap();
    let idat = v.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let mut out = v[..idat].to_vec();
    out.extend(chunk(
        b"tEXt",
        b"parameters\0a cat, (masterpiece:1.2), [blue sky]\nNegative prompt: dog\nSteps: 20, Model: SDXL Base, Seed: 1",
    ));
    out.extend_from_slice(&v[idat..]);
    out
}

/// A minimal PDF with an Info dictionary.
fn pdf(title: &str, author: &str, created: &str) -> Vec<u8> {
    let info = format!("<< /Title ({title}) /Author ({author}) /CreationDate ({created}) >>");
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_string(),
        info,
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offs = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offs.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).bytes());
    for o in offs {
        out.extend(format!("{o:010} 00000 n \n").bytes());
    }
    out.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).bytes(),
    );
    out
}

/// The five example rules of docs research part A4, as written there except where noted
/// in docs/rules.md ("The research note's examples"): rule 5 maps before `toplevel`.
const RULES: &str = r#"
schema = 1

# 1. Music library by folder structure:  ~/Music/Artist/2019 - Album/01 Title.flac
[[rule]]
name = "music-folders"
auto = true
[rule.when]
path = ["~/Music/**/*.{flac,mp3,ogg,opus,m4a,wav}"]
path_pattern = "~/Music/{artist}/{year:int4} - {album}/{track:int} {title}.{ext}"
[rule.tags]
add = [
  "artist:{audio.albumartist ?? audio.artist ?? artist|lower}",
  "album:{audio.album ?? album|lower}",
  "year:{audio.date|year ?? year}",
  "track:{audio.track ?? track|int}",
  "title:{audio.title ?? title}",
  "genre:{audio.genre|split:;|trim|lower}",
  "type:music",
]

# 2. Photos by EXIF date and camera
[[rule]]
name = "photo-exif"
auto = true
[rule.when]
mime = ["image/jpeg", "image/heic", "image/heif", "image/avif", "image/tiff", "image/x-*"]
has  = ["exif.date_taken"]
[rule.tags]
add = [
  "year:{exif.date_taken|year}",
  "month:{exif.date_taken|date:%Y-%m}",
  "camera:{exif.model|dedupe_prefix:exif.make|trim|lower}",
  "lens:{exif.lens_model|trim|lower}",
  "type:photo",
]

# 3. Papers by file name
[[rule]]
name = "papers"
[rule.when]
path = ["~/Papers/**/*.pdf"]
name_regex = '^(?:(?P<author>[^-]+?) - (?P<year>(?:19|20)\d{2}) - (?P<title>.+)|(?P<arxiv>\d{4}\.\d{4,5})(?:v\d+)?)\.pdf$'
[rule.tags]
add = [
  "author:{author ?? pdf.author|split:;|trim|lower}",
  "year:{year ?? pdf.creation_date|year}",
  "title:{title ?? pdf.title}",
  "arxiv:{arxiv}",
  "type:paper",
]
reject = ['^(?i)(untitled|microsoft word - .*|.*\.docx?)$']

# 4. Stable Diffusion prompt text embedded in PNG
[[rule]]
name = "sd-prompt"
[rule.when]
mime = ["image/png"]
has  = ["png.text.parameters"]
[rule.extract]
positive = { from = "png.text.parameters", regex = '(?s)^(?P<v>.*?)(?:\nNegative prompt:|\nSteps:|$)' }
model    = { from = "png.text.parameters", regex = 'Model: (?P<v>[^,\n]+)' }
[rule.tags]
add = [
  "ai:generated",
  "sd-model:{model|trim|lower}",
  "prompt:{positive|split:,|strip_weights|trim|lower}",
]
max_tags = 40

# 5. Top-level MIME type as type:image / type:audio / …
[[rule]]
name = "mime-type"
auto = true
[rule.when]
mime = ["*/*"]
[rule.tags]
add = ["type:{mime|map:doc-kinds|toplevel}"]
[rule.map.doc-kinds]
"application/pdf" = "document"
"application/epub+zip" = "ebook"
"application/*" = ""
"#;

/// Builds the library under the test's HOME; returns false when the tools are missing.
fn library(e: &TestEnv) -> bool {
    if !have_tool("ffmpeg", "-version") || !have_tool("exiftool", "-ver") {
        return false;
    }
    // Embedded tags win: this album has its own tags.
    let album = e.path("Music/Boards/1998 - Music Has The Right/");
    std::fs::create_dir_all(&album).unwrap();
    ffmpeg(
        &album,
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-metadata",
            "artist=Boards of Canada",
            "-metadata",
            "album=Music Has the Right to Children",
            "-metadata",
            "title=Roygbiv",
            "-metadata",
            "track=3",
            "-metadata",
            "date=1998-04-20",
            "-metadata",
            "genre=IDM; Ambient",
            "03 Roygbiv.flac",
        ],
    );
    // The folder fills the gaps: no tags at all.
    let bare = e.path("Music/Aphex Twin/2001 - Drukqs/05 Vordhosbn.flac");
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    ffmpeg(
        bare.parent().unwrap(),
        &["-f", "lavfi", "-i", "sine=duration=1", "-map_metadata", "-1", "05 Vordhosbn.flac"],
    );

    let pics = e.path("Pictures");
    std::fs::create_dir_all(&pics).unwrap();
    let img = image::RgbImage::from_fn(32, 16, |x, y| image::Rgb([x as u8, y as u8, 9]));
    img.save(pics.join("beach.jpg")).unwrap();
    run_tool(
        Command::new("exiftool")
            .args([
                "-q",
                "-overwrite_original",
                "-Make=Canon",
                "-Model=Canon EOS 5D Mark II",
                "-LensModel=EF50mm f/1.8 II ",
                "-DateTimeOriginal=2021:07:04 10:30:00",
            ])
            .arg(pics.join("beach.jpg")),
    );

    e.write("Papers/Smith, J - 2019 - Attention is all you need.pdf", &pdf("x", "y", "D:20180101"));
    e.write("Papers/arxiv/2101.00001v2.pdf", &pdf("Switch Transformers", "Fedus; Zoph ", "D:20210111093000Z"));
    e.write("Papers/2001.00002.pdf", &pdf("Microsoft Word - notes.docx", "Someone", "D:20200101"));
    e.write("ai/00001-seed.png", &sd_png());
    e.write("rules.toml", RULES.as_bytes());
    e.ok(["include", "-r", "Music", "Pictures", "Papers", "ai"]);
    true
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

/// (rule, path relative to HOME) → the tags it would add, from `preview --json` or `apply --json`.
fn adds(e: &TestEnv, v: &Value, rule: &str, rel: &str) -> BTreeSet<String> {
    let want = e.path(rel);
    let r = v["rules"].as_array().unwrap().iter().find(|r| r["rule"] == rule).unwrap_or_else(|| panic!("no {rule}"));
    r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str() == want.to_str())
        .flat_map(|c| c["add"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()))
        .collect()
}

fn set(tags: &[&str]) -> BTreeSet<String> {
    tags.iter().map(|s| s.to_string()).collect()
}

/// Tag names on a file with their sources, from `ls --json`.
fn links(e: &TestEnv, rel: &str) -> BTreeSet<(String, String)> {
    let v = json(&e.ok(["ls", "--json", rel]));
    let mut out = BTreeSet::new();
    for t in v["tags"].as_array().unwrap() {
        for s in t["sources"].as_array().unwrap() {
            out.insert((t["name"].as_str().unwrap().to_string(), s.as_str().unwrap().to_string()));
        }
    }
    out
}

fn rule_totals(v: &Value) -> Vec<(String, u64, u64)> {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["links_added"].as_u64().unwrap(),
                r["links_removed"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_five_example_rules_preview_apply_reapply_and_revert() {
    let e = env();
    if !library(&e) {
        return;
    }
    let flac = "Music/Boards/1998 - Music Has The Right/03 Roygbiv.flac";
    let bare = "Music/Aphex Twin/2001 - Drukqs/05 Vordhosbn.flac";
    // A manual copy of a tag rule 1 makes, put on before any rule runs.
    e.ok(["tag", "-t", "type:music", flac]);

    let check = e.run(["rules", "--rules", "rules.toml", "check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains("5 rule(s), no problems"), "{err}");
    // `type:` is a query word: the rules may make such tags, and check says how to find them.
    assert!(err.contains("tag:\"type:x\""), "{err}");

    // Preview: the diff, nothing written.
    let p = json(&e.ok(["rules", "--rules", "rules.toml", "preview", "--json"]));
    assert_eq!(
        adds(&e, &p, "music-folders", flac),
        set(&[
            "album:Music Has the Right to Children",
            "artist:Boards of Canada",
            "genre:ambient",
            "genre:idm",
            "title:Roygbiv",
            "track:3",
            "type:music",
            "year:1998"
        ])
    );
    assert_eq!(
        adds(&e, &p, "music-folders", bare),
        set(&["album:drukqs", "artist:aphex twin", "title:Vordhosbn", "track:5", "type:music", "year:2001"])
    );
    assert_eq!(
        adds(&e, &p, "photo-exif", "Pictures/beach.jpg"),
        set(&["camera:eos 5d mark ii", "lens:ef50mm f/1.8 ii", "month:2021-07", "type:photo", "year:2021"])
    );
    assert_eq!(
        adds(&e, &p, "papers", "Papers/Smith, J - 2019 - Attention is all you need.pdf"),
        set(&["author:Smith, J", "title:Attention is all you need", "type:paper", "year:2019"])
    );
    assert_eq!(
        adds(&e, &p, "papers", "Papers/arxiv/2101.00001v2.pdf"),
        set(&[
            "arxiv:2101.00001",
            "author:fedus",
            "author:zoph",
            "title:Switch Transformers",
            "type:paper",
            "year:2021"
        ])
    );
    // The junk title is rejected; the rest of the rule still applies.
    assert_eq!(
        adds(&e, &p, "papers", "Papers/2001.00002.pdf"),
        set(&["arxiv:2001.00002", "author:someone", "type:paper", "year:2020"])
    );
    assert_eq!(
        adds(&e, &p, "sd-prompt", "ai/00001-seed.png"),
        set(&["ai:generated", "prompt:a cat", "prompt:blue sky", "prompt:masterpiece", "sd-model:sdxl base"])
    );
    assert_eq!(adds(&e, &p, "mime-type", flac), set(&["type:audio"]));
    assert_eq!(adds(&e, &p, "mime-type", "Pictures/beach.jpg"), set(&["type:image"]));
    assert_eq!(adds(&e, &p, "mime-type", "Papers/2001.00002.pdf"), set(&["type:document"]));
    let text = String::from_utf8_lossy(&e.ok(["rules", "--rules", "rules.toml", "preview", "papers"])).into_owned();
    assert!(text.contains("rule \"papers\": 3 file(s) matched, +14 -0 link(s)"), "{text}");
    assert!(text.contains("  Papers/2001.00002.pdf\n    + arxiv:2001.00002\n    + author:someone\n"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert_eq!(e.find("tag:\"type:paper\"").0.len(), 0, "preview wrote nothing");

    // Apply.
    let a = json(&e.ok(["rules", "--rules", "rules.toml", "apply", "--json"]));
    let totals = rule_totals(&a);
    assert_eq!(totals.iter().map(|t| t.2).sum::<u64>(), 0);
    let added: u64 = totals.iter().map(|t| t.1).sum();
    assert!(added >= 40, "{totals:?}");
    assert_eq!(e.find("tag:\"type:paper\"").0.len(), 3);
    assert_eq!(e.find("artist:\"aphex twin\" year:2001").0.len(), 1);
    assert_eq!(e.find("prompt:masterpiece").0.len(), 1);
    let on_flac = links(&e, flac);
    assert!(on_flac.contains(&("type:music".into(), "manual".into())), "{on_flac:?}");
    assert!(on_flac.contains(&("type:music".into(), "rule:music-folders".into())), "{on_flac:?}");
    assert!(on_flac.contains(&("type:audio".into(), "rule:mime-type".into())), "{on_flac:?}");

    // A second apply changes nothing; neither does a preview.
    let again = json(&e.ok(["rules", "--rules", "rules.toml", "apply", "--json"]));
    assert!(rule_totals(&again).iter().all(|t| t.1 == 0 && t.2 == 0), "{again}");
    let p2 = json(&e.ok(["rules", "--rules", "rules.toml", "preview", "--json"]));
    assert!(p2["rules"].as_array().unwrap().iter().all(|r| r["changes"].as_array().unwrap().is_empty()), "{p2}");

    // Revert removes exactly the rule's links: the manual copy and other rules' links stay.
    let music_links = totals.iter().find(|t| t.0 == "music-folders").unwrap().1;
    let out = e.run(["rules", "revert", "music-folders"]);
    assert!(out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains(&format!("removed {music_links} link(s)")), "{msg}");
    let after = links(&e, flac);
    let expect: BTreeSet<(String, String)> =
        on_flac.iter().filter(|(_, s)| s != "rule:music-folders").cloned().collect();
    assert_eq!(after, expect);
    assert_eq!(e.find("tag:\"type:music\"").0.len(), 1, "only the manual copy is left");
    assert_eq!(e.find("artist:\"aphex twin\"").0.len(), 0);
    assert_eq!(e.find("prompt:masterpiece").0.len(), 1, "other rules keep their links");
    // The tags themselves stay (a rule never deletes a tag).
    let tags = String::from_utf8_lossy(&e.ok(["tags", "list"])).into_owned();
    assert!(tags.contains("artist:aphex twin"), "{tags}");
}

#[test]
fn a_changed_rule_removes_only_the_links_it_no_longer_gives() {
    let e = env();
    e.write("Music/A/2010 - B/01 C.txt", b"x");
    e.write("Music/D/2011 - E/02 F.txt", b"y");
    let rules = |extra: &str| {
        format!(
            "[[rule]]\nname = \"m\"\nwhen.path_pattern = \"~/Music/{{artist}}/{{year:int4}} - {{album}}/{{track:int}} {{title}}.{{ext}}\"\ntags.add = [\"artist:{{artist}}\"{extra}]\n"
        )
    };
    e.write("rules.toml", rules(", \"year:{year}\"").as_bytes());
    e.ok(["include", "-r", "Music"]);
    // The same tag by hand on one file, and a manual tag the rule never makes.
    e.ok(["tag", "-t", "year:2010", "-t", "keep", "Music/A/2010 - B/01 C.txt"]);
    e.ok(["rules", "--rules", "rules.toml", "apply"]);
    assert_eq!(e.find("year>2000").0.len(), 2);
    // The run is one operation in the history, by the rule.
    let log = String::from_utf8_lossy(&e.ok(["log"])).into_owned();
    assert!(log.contains("rule:m") && log.contains("rules apply m"), "{log}");
    e.write("rules.toml", rules("").as_bytes());
    let out = e.run(["rules", "--rules", "rules.toml", "apply"]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("rule \"m\": 2 file(s) matched, 0 link(s) added, 2 removed, 2 unchanged"), "{msg}");
    assert_eq!(e.find("year>2000").0.len(), 1, "the manual year:2010 stays");
    assert_eq!(e.find("keep").0.len(), 1);
    assert_eq!(e.find("artist:*").0.len(), 2);
    // A file that stops matching loses the rule's links.
    std::fs::rename(e.path("Music/D/2011 - E/02 F.txt"), e.path("Music/D/F.txt")).unwrap();
    e.ok(["reconcile"]);
    e.ok(["rules", "--rules", "rules.toml", "apply"]);
    assert_eq!(e.find("artist:*").0.len(), 1);
}

#[test]
fn include_with_rules_tags_what_it_includes_and_a_bad_rules_file_writes_nothing() {
    let e = env();
    e.write("docs/2019 - report.txt", b"r");
    e.write("other/2018 - old.txt", b"o");
    e.write(
        "good.toml",
        b"[[rule]]\nname = \"years\"\nwhen.name_regex = '^(?P<y>\\d{4}) - '\ntags.add = [\"year:{y}\"]\n",
    );
    // Line 4, column 20: the regex; nothing is written, not even the index.
    e.write(
        "bad.toml",
        b"[[rule]]\nname = \"years\"\n[rule.when]\nname_regex = '^(?P<y>\\d{4} - '\ntags.add = [\"year:{y}\"]\n",
    );
    let out = e.run(["include", "-r", "--rules=bad.toml", "docs"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("bad.toml:4:14: rule \"years\": when.name_regex: bad regex: unclosed group"), "{msg}");
    assert!(!e.index.exists(), "a refused rules file writes nothing");
    let out = e.run(["rules", "--rules", "bad.toml", "check"]);
    assert_eq!(out.status.code(), Some(2));

    e.ok(["include", "-r", "other"]);
    let out = e.run(["include", "-r", "--rules=good.toml", "docs"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule \"years\": 1 link(s) added"));
    assert_eq!(e.find("year:2019").0.len(), 1);
    assert_eq!(e.find("year:2018").0.len(), 0, "only the included files");
    let ls = links(&e, "docs/2019 - report.txt");
    assert!(ls.contains(&("year:2019".into(), "rule:years".into())), "{ls:?}");

    // The default rules file: $XDG_CONFIG_HOME/trove/rules.toml.
    let cfg = e.path("cfg");
    std::fs::create_dir_all(cfg.join("trove")).unwrap();
    std::fs::copy(e.path("good.toml"), cfg.join("trove/rules.toml")).unwrap();
    let out = e.cmd(["rules", "apply"]).env("XDG_CONFIG_HOME", &cfg).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(e.find("year:2018").0.len(), 1);
    let out = e.cmd(["rules", "check"]).env("XDG_CONFIG_HOME", e.path("nowhere")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("nowhere/trove/rules.toml: no rules file") && msg.contains("hint:"), "{msg}");
}

#[test]
fn rules_check_lists_every_problem_with_line_column_rule_and_field() {
    let e = env();
    let mut f = std::fs::File::create(e.path("r.toml")).unwrap();
    f.write_all(
        br#"[[rule]]
name = "a"
when.query = "cat (dog"
tags.add = ["x:{nope}"]

[[rule]]
name = "b"
when.path_pattern = "/m/{artist}/{artist}.flac"
tags.add = ["y"]

[[rule]]
name = "c"
tags.add = ["t:{file.stem|shout}"]
"#,
    )
    .unwrap();
    let out = e.run(["rules", "--rules", "r.toml", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("r.toml:3:14: rule \"a\": when.query: bad query at byte 8: expected ')'"), "{msg}");
    assert!(msg.contains("r.toml:8:21: rule \"b\": when.path_pattern: `{artist}` appears twice"), "{msg}");
    assert!(msg.contains("r.toml:13:13: rule \"c\": tags.add[1]: unknown filter `shout`"), "{msg}");
    assert!(msg.contains("hint: nothing was written"), "{msg}");
}

#[test]
fn rules_see_raw_path_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let e = env();
    let name = std::ffi::OsStr::from_bytes(b"2020 - caf\xe9 -x%_*.txt");
    let dir = e.path("d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), b"z").unwrap();
    e.write("r.toml", b"[[rule]]\nname = \"y\"\nwhen.path = ['d/*.txt']\nwhen.name_regex = '^(?P<y>\\d{4}) - '\ntags.add = [\"year:{y}\", \"seen\"]\n");
    e.ok(["include", "-r", "d"]);
    e.ok(["rules", "--rules", "r.toml", "apply"]);
    assert_eq!(e.find("year:2020 seen").0.len(), 1);
}

#[test]
fn watch_with_rules_tags_new_files_under_a_root_and_leaves_manual_links_alone() {
    let e = env();
    e.write("lib/old.txt", b"old");
    e.ok(["include", "-r", "lib"]);
    // A manual copy of the tag a rule gives, on a file indexed before the watcher started.
    e.ok(["tag", "-t", "kind:text", "lib/old.txt"]);
    e.write(
        "rules.toml",
        b"[[rule]]\nname = \"years\"\nwhen.name_regex = '^(?P<y>\\d{4}) - '\ntags.add = [\"year:{y}\"]\n\n\
          [[rule]]\nname = \"texts\"\nwhen.type = [\"text\"]\ntags.add = [\"kind:text\"]\n",
    );
    e.write("bad.toml", b"[[rule]]\nname = \"years\"\nwhen.name_regex = '^(?P<y>\\d{4} - '\ntags.add = [\"y\"]\n");

    // A bad rules file: refused before the daemon starts (it never ran on this index).
    let out = e.run(["watch", "--interval", "0", "--rules=bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("bad.toml:3:") && msg.contains("bad regex"), "{msg}");
    let status = String::from_utf8_lossy(&e.run(["watch", "--status"]).stdout).into_owned();
    assert!(status.contains("never ran"), "{status}");

    // The real watcher on the real directory.
    let mut w = e.watch_with(&["--rules=rules.toml"]);
    let mut wait_for = |rel: &str, want: &[(&str, &str)]| {
        let want: BTreeSet<(String, String)> = want.iter().map(|(t, s)| (t.to_string(), s.to_string())).collect();
        // Not indexed yet: `ls` fails.
        w.wait_for(&format!("{rel}: {want:?}"), || {
            e.run(["ls", "--json", rel]).status.success() && links(&e, rel) == want
        });
    };
    e.write("lib/2019 - report.txt", b"the report\n");
    wait_for("lib/2019 - report.txt", &[("year:2019", "rule:years"), ("kind:text", "rule:texts")]);
    // A manual link on the new file, then another new file: the rules run again, on it only.
    e.ok(["tag", "-t", "kind:text", "lib/2019 - report.txt"]);
    e.write("lib/sub/2021 - notes.txt", b"notes\n");
    wait_for("lib/sub/2021 - notes.txt", &[("year:2021", "rule:years"), ("kind:text", "rule:texts")]);
    wait_for(
        "lib/2019 - report.txt",
        &[("year:2019", "rule:years"), ("kind:text", "rule:texts"), ("kind:text", "manual")],
    );
    // The file indexed before keeps its manual link and gets nothing from the watcher.
    wait_for("lib/old.txt", &[("kind:text", "manual")]);
    let log = w.stop();
    assert!(log.contains("applying 2 rule(s) to new files: years, texts"), "{log}");
    assert!(log.contains("rule \"years\": 1 link(s) added"), "{log}");
}
