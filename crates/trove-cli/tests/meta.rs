//! Metadata read from real files at include: a fixture library made by the real tools
//! (ffmpeg for FLAC/MP3/OGG/video, exiftool for EXIF orientations), hand-built PNG text
//! chunks and PDFs, and hostile files that must be recorded as errors within their limits
//! while the include finishes.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use trove_testutil::{TestEnv, ffmpeg, have_tool, run_tool};

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

/// `trove show --json FILE`'s `meta` object.
fn meta(e: &TestEnv, rel: &str) -> Value {
    let out = e.ok(["show", "--json", rel]);
    let v: Value = serde_json::from_slice(&out).expect("json");
    v["meta"].clone()
}

fn field<'a>(m: &'a Value, k: &str) -> Option<&'a str> {
    m["fields"][k][0].as_str()
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

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A real PNG with text chunks: tEXt `parameters` before the image data, zTXt `comment`
/// and iTXt `prompt` after it (where a naive reader stops looking).
fn png_with_text() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut v = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png).unwrap();
    let iend = v.len() - 12;
    let idat = v.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let mut out = v[..idat].to_vec();
    out.extend(chunk(b"tEXt", b"parameters\0a cat, (masterpiece:1.2)\nNegative prompt: dog\nSteps: 20, Model: sdxl"));
    out.extend_from_slice(&v[idat..iend]);
    let mut z = b"comment\0\0".to_vec();
    z.extend(zlib(b"compressed words"));
    out.extend(chunk(b"zTXt", &z));
    out.extend(chunk(b"iTXt", "prompt\0\0\0en\0\0{\"text\": \"ünïcode\"}".as_bytes()));
    out.extend_from_slice(&v[iend..]);
    out
}

/// A minimal PDF with an Info dictionary and two pages (xref offsets computed).
fn pdf() -> Vec<u8> {
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        "<< /Title (Attention Is All You Need) /Author (Vaswani; Shazeer) /CreationDate (D:20170612000000Z) >>",
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
        format!("trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).bytes(),
    );
    out
}

#[test]
fn fixture_library_gives_the_expected_fields() {
    if !have_tool("ffmpeg", "-version") || !have_tool("exiftool", "-ver") {
        return;
    }
    let e = env();
    let lib = e.path("lib");
    std::fs::create_dir_all(&lib).unwrap();
    // Cover art for the audio files.
    std::fs::write(lib.join("cover.png"), png_with_text()).unwrap();
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-i",
            "cover.png",
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
            "-metadata",
            "artist=DJ Kuroneko",
            "-metadata",
            "album_artist=Various",
            "-metadata",
            "album=Night Drive",
            "-metadata",
            "title=First Light",
            "-metadata",
            "track=3",
            "-metadata",
            "disc=1",
            "-metadata",
            "date=2019-04-01",
            "-metadata",
            "genre=Techno",
            "song.flac",
        ],
    );
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-i",
            "cover.png",
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "copy",
            "-id3v2_version",
            "3",
            "-metadata",
            "artist=Band",
            "-metadata",
            "album=Loud",
            "-metadata",
            "title=Two",
            "-metadata",
            "track=7/12",
            "-metadata",
            "date=2005",
            "song.mp3",
        ],
    );
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1.5",
            "-c:a",
            "libvorbis",
            "-metadata",
            "ARTIST=Ogger",
            "-metadata",
            "TITLE=Vorbis",
            "song.ogg",
        ],
    );
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-shortest",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "clip.mp4",
        ],
    );
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=10:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "silent.mp4",
        ],
    );
    // JPEGs 64×32 with each EXIF orientation; 5–8 are displayed 32×64.
    ffmpeg(&lib, &["-f", "lavfi", "-i", "testsrc=size=64x32:duration=1", "-frames:v", "1", "base.jpg"]);
    for o in 1..=8 {
        let name = format!("o{o}.jpg");
        std::fs::copy(lib.join("base.jpg"), lib.join(&name)).unwrap();
        run_tool(Command::new("exiftool").current_dir(&lib).args([
            "-q",
            "-overwrite_original",
            "-Make=Canon",
            "-Model=Canon EOS 5D",
            "-LensModel=EF 50mm f/1.8",
            "-DateTimeOriginal=2021:05:06 07:08:09",
            "-OffsetTimeOriginal=+02:00",
            "-ISO=400",
            "-GPSLatitude=48.8566",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.3522",
            "-GPSLongitudeRef=W",
            &format!("-Orientation#={o}"),
            &name,
        ]));
    }
    std::fs::write(lib.join("paper.pdf"), pdf()).unwrap();
    std::fs::write(lib.join("notes.md"), "# notes\nplain text, ünïcode\n").unwrap();
    // Content decides, not the name: a PNG called .mp3.
    std::fs::write(lib.join("disguised.mp3"), png_with_text()).unwrap();

    let o = e.run(["include", "-r", "lib"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let m = meta(&e, "lib/song.flac");
    assert_eq!(m["mime"], "audio/x-flac");
    assert_eq!(m["type"], "audio");
    assert_eq!(m["duration_ms"], 2000);
    assert_eq!(m["has_audio"], true);
    assert_eq!(field(&m, "artist"), Some("DJ Kuroneko"));
    assert_eq!(field(&m, "albumartist"), Some("Various"));
    assert_eq!(field(&m, "album"), Some("Night Drive"));
    assert_eq!(field(&m, "title"), Some("First Light"));
    assert_eq!(field(&m, "track"), Some("3"));
    assert_eq!(field(&m, "disc"), Some("1"));
    assert_eq!(field(&m, "year"), Some("2019"));
    assert_eq!(field(&m, "genre"), Some("Techno"));
    assert!(m.get("error").is_none(), "{m}");

    let m = meta(&e, "lib/song.mp3");
    assert_eq!(m["mime"], "audio/mpeg");
    assert_eq!(field(&m, "artist"), Some("Band"));
    assert_eq!(field(&m, "album"), Some("Loud"));
    assert_eq!(field(&m, "track"), Some("7"));
    assert_eq!(field(&m, "year"), Some("2005"));
    let d = m["duration_ms"].as_u64().unwrap();
    assert!((1000..1100).contains(&d), "mp3 duration {d}");

    let m = meta(&e, "lib/song.ogg");
    assert_eq!(m["type"], "audio");
    assert_eq!(field(&m, "artist"), Some("Ogger"));
    assert_eq!(m["duration_ms"], 1500);

    if have_tool("ffprobe", "-version") {
        let m = meta(&e, "lib/clip.mp4");
        assert_eq!(m["type"], "video");
        assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(320), Some(240)));
        assert_eq!(m["fps"], 25.0);
        assert_eq!(m["has_audio"], true);
        assert_eq!(m["duration_ms"], 1000);
        assert_eq!(field(&m, "codec"), Some("h264"));
        let m = meta(&e, "lib/silent.mp4");
        assert_eq!(m["has_audio"], false);
        assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(160), Some(90)));
    }

    for o in 1..=8 {
        let m = meta(&e, &format!("lib/o{o}.jpg"));
        let dims = (m["width"].as_u64().unwrap(), m["height"].as_u64().unwrap());
        assert_eq!(dims, if o >= 5 { (32, 64) } else { (64, 32) }, "orientation {o}");
        assert_eq!(field(&m, "orientation"), Some(o.to_string().as_str()));
        assert_eq!(field(&m, "camera"), Some("Canon EOS 5D"), "make is not repeated");
        assert_eq!(field(&m, "lens"), Some("EF 50mm f/1.8"));
        assert_eq!(field(&m, "iso"), Some("400"));
        // 07:08:09 at +02:00 is 05:08:09 UTC.
        assert_eq!(m["taken"], 1_620_277_689, "orientation {o}");
        assert_eq!(field(&m, "gps"), Some("48.856600,-2.352200"));
    }

    let m = meta(&e, "lib/cover.png");
    assert_eq!(m["mime"], "image/png");
    assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(40), Some(30)));
    assert!(field(&m, "png.parameters").unwrap().starts_with("a cat, (masterpiece:1.2)\nNegative prompt: dog"));
    assert_eq!(field(&m, "png.comment"), Some("compressed words"));
    assert_eq!(field(&m, "png.prompt"), Some("{\"text\": \"ünïcode\"}"));

    let m = meta(&e, "lib/disguised.mp3");
    assert_eq!(m["mime"], "image/png", "sniffed from the content, not the name");

    let m = meta(&e, "lib/paper.pdf");
    assert_eq!(m["mime"], "application/pdf");
    assert_eq!(m["type"], "document");
    assert_eq!(field(&m, "title"), Some("Attention Is All You Need"));
    assert_eq!(field(&m, "author"), Some("Vaswani; Shazeer"));
    assert_eq!(field(&m, "pages"), Some("2"));

    let m = meta(&e, "lib/notes.md");
    assert_eq!(m["mime"], "text/markdown");
    assert_eq!(m["type"], "text");

    // The human form shows the same, and `ls --json` carries it too.
    let text = String::from_utf8(e.ok(["show", "lib/song.flac"])).unwrap();
    assert!(text.contains("artist: DJ Kuroneko") && text.contains("duration: 0:02.000"), "{text}");
    let ls: Value = serde_json::from_slice(&e.ok(["ls", "--json", "lib/o6.jpg"])).unwrap();
    assert_eq!(ls["meta"]["width"], 32);

    // The same fields through the query language, on the real binary.
    let names = |q: &str| -> Vec<String> {
        let out = String::from_utf8(e.ok(["find", q])).unwrap();
        out.lines().map(|l| l.rsplit('/').next().unwrap().to_string()).collect()
    };
    assert_eq!(names("type:audio"), ["song.flac", "song.mp3", "song.ogg"]);
    assert_eq!(names(r#"meta.artist:"dj kuroneko""#), ["song.flac"]);
    assert_eq!(names("meta.artist:*KURO*"), ["song.flac"]);
    assert_eq!(names("duration>1.2s type:audio sort:-duration"), ["song.flac", "song.ogg"]);
    assert_eq!(names("mime:image/* ratio<1"), ["o5.jpg", "o6.jpg", "o7.jpg", "o8.jpg"]);
    assert_eq!(names("meta.camera:*canon* taken:2021-05-06 width:64 -path:*o1.jpg"), ["o2.jpg", "o3.jpg", "o4.jpg"]);
    assert_eq!(names("has:png.parameters"), ["cover.png", "disguised.mp3"]);
    assert_eq!(names("type:document"), ["paper.pdf"]);
    if have_tool("ffprobe", "-version") {
        assert_eq!(names("type:video has:audio"), ["clip.mp4"]);
        assert_eq!(names("type:video sort:-width limit:1"), ["clip.mp4"]);
    }
}

/// A header that claims a 65535×65535 JPEG with nothing behind it.
fn huge_jpeg() -> Vec<u8> {
    let mut v = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0x03];
    v.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v
}

/// A FLAC whose picture block says its picture is 2 GB (the file is a few bytes).
fn flac_with_huge_picture() -> Vec<u8> {
    let mut v = b"fLaC".to_vec();
    // STREAMINFO (34 bytes): 44.1 kHz, 2 channels, 16 bit, 0 samples.
    v.extend_from_slice(&[0x00, 0x00, 0x00, 34]);
    let mut si = vec![0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0];
    si.extend_from_slice(&[0x0a, 0xc4, 0x42, 0xf0, 0, 0, 0, 0]);
    si.extend_from_slice(&[0; 16]);
    v.extend_from_slice(&si);
    // PICTURE, last block, block length at the 24-bit maximum.
    v.extend_from_slice(&[0x86, 0xff, 0xff, 0xff]);
    v.extend_from_slice(&3u32.to_be_bytes()); // front cover
    v.extend_from_slice(&9u32.to_be_bytes());
    v.extend_from_slice(b"image/png");
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&[0; 16]);
    v.extend_from_slice(&0x7fff_ffffu32.to_be_bytes()); // picture data: 2 GB
    v.extend_from_slice(&[0x89, b'P', b'N', b'G']);
    v
}

/// A PNG whose zTXt chunk inflates to 512 MiB of zeros (a zip bomb inside a .png), and a
/// zip archive renamed .png.
fn png_bomb() -> Vec<u8> {
    // Deflate of 512 MiB of zeros: about 500 KiB, made in 1 MiB steps.
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let mib = vec![0u8; 1 << 20];
    for _ in 0..512 {
        enc.write_all(&mib).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let mut v = png_with_text();
    let iend = v.len() - 12;
    let mut z = b"bomb\0\0".to_vec();
    z.extend_from_slice(&bomb);
    let tail = v.split_off(iend);
    v.extend(chunk(b"zTXt", &z));
    v.extend(tail);
    v
}

const LOOP_PDF: &[u8] = b"%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Pages /Kids [2 0 R] /Parent 3 0 R /Count 1 >> endobj
4 0 obj << /Title 4 0 R /Author 5 0 R >> endobj
5 0 obj 5 0 R endobj
trailer << /Root 1 0 R /Info 4 0 R /Size 6 >>
%%EOF
";

#[test]
fn hostile_files_are_recorded_and_the_include_finishes() {
    let e = env();
    e.write("bad/huge.jpg", &huge_jpeg());
    e.write("bad/truncated.jpg", &[0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, b'E', b'x', b'i', b'f', 0, 0, b'M', b'M']);
    e.write("bad/picture.flac", &flac_with_huge_picture());
    e.write("bad/bomb.png", &png_bomb());
    // A zip bomb renamed .png: sniffed as an archive, never inflated.
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0x14, 0, 0, 0, 8, 0]);
    zip.extend(std::iter::repeat_n(0u8, 64));
    e.write("bad/zipbomb.png", &zip);
    e.write("bad/loop.pdf", LOOP_PDF);
    e.write("bad/not-really.pdf", b"%PDF-1.7\n1 0 obj << /Ti");
    e.write("bad/fine.txt", b"a plain file next to the hostile ones\n");

    let t = Instant::now();
    let o = e.run(["include", "-r", "bad"]);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "the include finishes: {err}");
    assert!(err.contains("8 added"), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // The JPEG's claimed size is stored (nothing is decoded, so it costs nothing).
    let m = meta(&e, "bad/huge.jpg");
    assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(65535), Some(65535)));
    // Each broken one carries its error, and `trove check` lists them without failing.
    for f in ["picture.flac", "not-really.pdf", "truncated.jpg"] {
        let m = meta(&e, &format!("bad/{f}"));
        assert!(m["error"].is_string(), "{f}: {m}");
    }
    // The reference loop is followed no further than once: no title, no hang.
    let m = meta(&e, "bad/loop.pdf");
    assert!(field(&m, "title").is_none() && field(&m, "author").is_none(), "{m}");
    let m = meta(&e, "bad/bomb.png");
    let inflated = field(&m, "png.bomb").map_or(0, str::len);
    assert!(inflated <= 256 * 1024, "the bomb is inflated only up to the cap ({inflated} bytes)");
    assert_eq!(meta(&e, "bad/zipbomb.png")["type"], "archive");
    assert_eq!(meta(&e, "bad/fine.txt")["type"], "text");
    assert!(err.contains("included without metadata"), "{err}");

    let c = e.run(["check"]);
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(out.contains("bad/not-really.pdf: metadata not read: pdf:"), "{out}");
    assert!(out.contains("bad/picture.flac: metadata not read: audio:"), "{out}");
    assert_eq!(c.status.code(), Some(0), "metadata failures are not index problems");
}

#[test]
fn include_without_meta_reads_none_and_refresh_fills_it_in() {
    let e = env();
    e.write("lib/a.txt", b"hello\n");
    e.write("lib/b.pdf", &pdf());
    e.ok(["include", "-r", "--no-meta", "lib"]);
    assert_eq!(meta(&e, "lib/b.pdf"), Value::Null);
    let text = String::from_utf8(e.ok(["show", "lib/b.pdf"])).unwrap();
    assert!(text.contains("metadata: not read yet"), "{text}");
    let o = e.run(["meta", "refresh", "--missing"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("metadata read for 2 file(s)"));
    assert_eq!(field(&meta(&e, "lib/b.pdf"), "pages"), Some("2"));
    // Nothing left to read.
    let o = e.run(["meta", "refresh", "--missing"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("metadata read for 0 file(s)"));
    // A changed file is read again by include.
    std::fs::write(e.path("lib/a.txt"), pdf()).unwrap();
    e.ok(["include", "lib/a.txt"]);
    assert_eq!(meta(&e, "lib/a.txt")["type"], "document");
    // An unchanged file with no metadata gets it at the next include too.
    e.write("lib/c.txt", b"c\n");
    e.ok(["include", "--no-meta", "lib/c.txt"]);
    e.ok(["include", "lib/c.txt"]);
    assert_eq!(meta(&e, "lib/c.txt")["type"], "text");
}

#[test]
fn videos_without_ffprobe_are_noted_once() {
    if !have_tool("ffmpeg", "-version") {
        return;
    }
    let e = env();
    let lib = e.path("lib");
    std::fs::create_dir_all(&lib).unwrap();
    ffmpeg(
        &lib,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=32x32:rate=5:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "a.mp4",
        ],
    );
    std::fs::copy(lib.join("a.mp4"), lib.join("b.mp4")).unwrap();
    // A PATH without ffprobe (the trove binary needs nothing from PATH).
    let o = e.cmd(["include", "-r", "lib"]).env("PATH", "/nonexistent").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("ffprobe is not installed").count(), 1, "{err}");
    let m = meta(&e, "lib/a.mp4");
    assert_eq!(m["type"], "video");
    assert!(m.get("error").is_none() && m.get("duration_ms").is_none(), "{m}");
}
