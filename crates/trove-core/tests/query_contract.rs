//! The query engine against the reference model (`tests/reference/`): random libraries on a
//! real disk and a real index, random queries from the README's grammar, and for each one
//! the same files in the same order and the same `--count` from both.
//!
//! Libraries hold hostile names (spaces, newlines, `*?[]%_`, a leading `-`, non-UTF-8
//! bytes, upper-case and missing extensions), namespaced and valued tags (numbers, decimals,
//! `nan`, `1e5`, dates), aliases, implication chains, links from several sources, pools,
//! and missing files. Queries use every term kind, nesting, every negation form, sort and
//! limit.
//!
//! Scale: `TROVE_QUERY_LIBS` libraries (default 20) × `TROVE_QUERY_QUERIES` queries
//! (default 500); `TROVE_QUERY_SEED` picks the first seed (a failure prints the seed and the
//! query, which replays it).

mod reference;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use reference::{Answer, File, Library, Meta, Op, Piece, Pool, Q, Query, SortKey};
use trove_core::meta::{Extractor, ExtractorRef};
use trove_core::ops::dupes::{self, Decision};
use trove_core::ops::find::Query as EngineQuery;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::ops::reconcile::{ReconcileOptions, reconcile};
use trove_core::ops::tagging::tag_ids;
use trove_core::ops::{NoProgress, pools, tags};
use trove_core::{Index, OpenMode, Source};
use unicode_normalization::UnicodeNormalization;

/// SplitMix64: small, seedable, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

// ---- the library ----

/// "Now" for ages: 2021-07-01T00:00:00Z. File times cluster around the anchors below.
const NOW: i64 = 1_625_097_600;
const ANCHOR_DAYS: &[&str] = &["2019-12-31", "2020-01-01", "2020-02-29", "2021-06-01", "2021-06-30"];

const DIRS: &[&[u8]] = &[b"music", b"pics", b"a b", b"-dash", b"x*y", b"2019", b"deep/er", b"%_", b"caf\xc3\xa9"];
const STEMS: &[&[u8]] = &[
    b"a",
    b"song",
    b"Cat",
    b"black and white",
    b"-lead",
    b"q?",
    b"[br]",
    b"star*",
    b"new\nline",
    b"bad\xff\xfebytes",
    b"lat\xc3\xa9",
    b"e\xcc\x81",
    b"%_x",
    b".hidden",
    b"back\\slash",
    b"quote\"d",
];
const EXTS: &[&[u8]] = &[b".txt", b".TXT", b".jpg", b".flac", b"", b".tar.gz", b".", b".J\xc3\x89"];

/// Tags: each entry is one tag's names (first primary, the rest aliases).
const TAGS: &[&[&str]] = &[
    &["cat", "chat"],
    &["animal:cat"],
    &["animal", "Tier"],
    &["living"],
    &["dog"],
    &["top*"],
    &["top"],
    &["topaz"],
    &["black and white"],
    &["a?c"],
    &["[x]"],
    &["year:2015", "jahr:2015"],
    &["year:2019"],
    &["year:unknown"],
    &["year:1e5"],
    &["year:-3"],
    &["year:2.5"],
    &["rating:4"],
    &["rating:10"],
    &["date:2019-05-01"],
    &["date:2020"],
    &["artist:nancy"],
    &["artist:infinity"],
    &["artist:Abba"],
    &["n:nan"],
    &["été", "summer"],
    &["size:large"],
    &["and"],
    &["-x"],
    &["ns: spaced"],
];
const SOURCES: &[&str] = &["manual", "import:hydrus", "rule:auto"];
const POOLS: &[&str] = &["Summer 2019", "best"];

struct Built {
    _dir: tempfile::TempDir,
    lib_dir: PathBuf,
    index: Index,
    model: Library,
}

fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Builds a random library on disk and in an index, and the same library as a model.
fn build(rng: &mut Rng) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let lib_dir = root.join("lib");
    let mut index = Index::open(&root.join("index.db"), OpenMode::Create).unwrap();
    // Durability is not under test here; speed is welcome.
    index.trade_durability_for_speed().unwrap();

    let mut model = Library {
        tags: TAGS.iter().map(|names| names.iter().map(|n| n.to_string()).collect()).collect(),
        ..Default::default()
    };
    let n_files = 40 + rng.below(40);
    let mut seen = BTreeSet::new();
    while model.files.len() < n_files {
        let mut rel = Vec::new();
        for _ in 0..rng.below(3) {
            rel.extend_from_slice(rng.pick(DIRS));
            rel.push(b'/');
        }
        rel.extend_from_slice(rng.pick(STEMS));
        if rng.chance(30) {
            rel.extend_from_slice(format!("{}", rng.below(20)).as_bytes());
        }
        rel.extend_from_slice(rng.pick(EXTS));
        if !seen.insert(rel.clone()) {
            continue;
        }
        let path = [lib_dir.as_os_str().as_bytes(), b"/", &rel].concat();
        let size = rng.pick(&[0u64, 1, 2, 3, 10, 100, 511, 512, 1023, 1024, 1025, 1536, 4096, 10_000, 65_536]);
        let mut body = format!("{}\n", model.files.len()).into_bytes();
        body.resize(size as usize, b'~');
        let mtime_ns = random_mtime(rng);
        let p = path_of(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &body).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_nanos(mtime_ns as u64)).unwrap();
        model.files.push(File {
            path,
            size,
            mtime_ns,
            content_hash: *blake3::hash(&body).as_bytes(),
            missing: false,
            links: Vec::new(),
            meta: rng.chance(75).then(|| random_meta(rng)),
            phash: None,
        });
    }
    // Perceptual hashes per content, drawn from values a few bits apart (around the default
    // distance of 10) so that similar, dissimilar and equal hashes all occur.
    let mut phash_of: std::collections::HashMap<[u8; 32], Option<u64>> = std::collections::HashMap::new();
    for f in &mut model.files {
        let p = *phash_of.entry(f.content_hash).or_insert_with(|| {
            rng.chance(85).then(|| {
                if rng.chance(70) {
                    rng.next()
                } else {
                    // 0 and 0x3ff are 10 bits apart (similar), 0x7ff << 53 is 11 from 0
                    rng.pick(&[0u64, 0x3ff, 0x7ff << 53, 0xffff_f000_0000_0000, 0xffff_f800_0000_0000])
                }
            })
        });
        f.phash = p;
    }
    // Metadata comes from a scripted extractor (the real ones have their own tests): the
    // model's metadata for each path, stored by the real include.
    let script: std::collections::HashMap<PathBuf, trove_core::meta::Meta> = model
        .files
        .iter()
        .map(|f| {
            let mut m = f.meta.as_ref().map(core_meta).unwrap_or_default();
            m.perceptual = f.phash.map(Ok);
            (path_of(&f.path), m)
        })
        .collect();
    let extractor = ExtractorRef(std::sync::Arc::new(Scripted(script)));
    let opts = IncludeOptions { recursive: true, extractor: Some(extractor), ..Default::default() };
    let r = include(&mut index, std::slice::from_ref(&lib_dir), &opts, &NoProgress).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.files.len(), model.files.len(), "include left files out");
    let id_of =
        |path: &[u8]| r.files.iter().find(|(p, _, _)| p.as_os_str().as_bytes() == path).and_then(|x| x.1).unwrap();

    // Names (aliases included) and implications: a random DAG over the tags, with chains.
    for names in TAGS {
        tags::create(&mut index, names[0]).unwrap();
        for alias in &names[1..] {
            tags::alias(&mut index, names[0], alias, None).unwrap();
        }
    }
    let mut order: Vec<usize> = (0..TAGS.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for _ in 0..8 {
        let (a, b) = (rng.below(order.len()), rng.below(order.len()));
        if a == b {
            continue;
        }
        let (child, parent) = (order[a.min(b)], order[a.max(b)]);
        tags::imply(&mut index, TAGS[child][0], TAGS[parent][0]).unwrap();
        model.implications.push((child, parent));
    }
    // Always one known chain: animal:cat ⇒ animal ⇒ living (unless the DAG made it a cycle).
    for (child, parent) in [(1, 2), (2, 3)] {
        if tags::imply(&mut index, TAGS[child][0], TAGS[parent][0]).is_ok() {
            model.implications.push((child, parent));
        }
    }

    // Links: a fifth of the files stay untagged, the others get a few tags, some of them
    // from a second or third source too.
    let tagged: Vec<bool> = model.files.iter().map(|_| rng.chance(80)).collect();
    for (source_i, source) in SOURCES.iter().enumerate() {
        let source: Source = source.parse().unwrap();
        for (t, names) in TAGS.iter().enumerate() {
            let mut ids = Vec::new();
            for (i, f) in model.files.iter_mut().enumerate() {
                let has = f.links.iter().any(|(x, _)| *x == t);
                let wants = tagged[i] && (rng.chance(4) || (source_i > 0 && has && rng.chance(40)));
                if wants {
                    f.links.push((t, source.to_string()));
                    ids.push(id_of(&f.path));
                }
            }
            if !ids.is_empty() {
                tag_ids(&mut index, &ids, &[names[0].to_string()], &source).unwrap();
            }
        }
    }

    for title in POOLS {
        pools::create(&mut index, title).unwrap();
        let mut members: Vec<usize> = (0..model.files.len()).filter(|_| rng.chance(20)).collect();
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        let paths: Vec<PathBuf> = members.iter().map(|&i| path_of(&model.files[i].path)).collect();
        pools::add(&mut index, title, &paths, false).unwrap();
        model.pools.push(Pool { title: title.to_string(), members });
    }

    // Decisions (`trove dupes mark`): now and then a file with every file close to it (equal
    // content, or perceptual hashes close), so that whole groups become decided, and a few
    // random pairs.
    let n = model.files.len();
    let close = |a: &File, b: &File| {
        a.content_hash == b.content_hash
            || matches!((a.phash, b.phash), (Some(x), Some(y)) if (x ^ y).count_ones() <= 12)
    };
    for _ in 0..rng.below(10) {
        let i = rng.below(n);
        let set: Vec<usize> = if rng.chance(70) {
            (0..n).filter(|&j| j == i || close(&model.files[i], &model.files[j])).collect()
        } else {
            vec![i, rng.below(n)]
        };
        if set.len() < 2 || set[0] == set[1] && set.len() == 2 {
            continue;
        }
        let d = rng.pick(&[Decision::Same, Decision::Alternate, Decision::NotDuplicate]);
        let ids: Vec<_> = set.iter().map(|&k| id_of(&model.files[k].path)).collect();
        dupes::mark(&mut index, &ids, Some(d)).unwrap();
        for (x, &a) in set.iter().enumerate() {
            for &b in &set[x + 1..] {
                if a != b {
                    model.decided.insert((a.min(b), a.max(b)));
                }
            }
        }
    }

    // Missing files: deleted from disk, noticed by reconcile.
    let mut lost = false;
    for f in &mut model.files {
        if rng.chance(12) {
            std::fs::remove_file(path_of(&f.path)).unwrap();
            f.missing = true;
            lost = true;
        }
    }
    if lost {
        let opts = ReconcileOptions { dry_run: false, scope: vec![lib_dir.clone()] };
        reconcile(&mut index, &opts, &NoProgress).unwrap();
    }
    Built { _dir: dir, lib_dir, index, model }
}

/// Returns the metadata scripted for a path; files without any get an empty record (as a
/// file whose content gave nothing), which no metadata term matches either.
struct Scripted(std::collections::HashMap<PathBuf, trove_core::meta::Meta>);

impl Extractor for Scripted {
    fn extract(&self, path: &Path) -> trove_core::meta::Meta {
        self.0.get(path).cloned().unwrap_or_default()
    }
}

const MIMES: &[(&str, &str)] = &[
    ("image/jpeg", "image"),
    ("image/png", "image"),
    ("video/mp4", "video"),
    ("audio/x-flac", "audio"),
    ("audio/mpeg", "audio"),
    ("text/plain", "text"),
    ("application/pdf", "document"),
    ("application/zip", "archive"),
];
const FIELD_VALUES: &[(&str, &str)] = &[
    ("artist", "DJ Kuroneko"),
    ("artist", "dj kuroneko "),
    ("artist", "Abba"),
    ("artist", "caf\u{e9}"),
    ("artist", "cafe\u{301}"),
    ("albumartist", "Various"),
    ("camera", "Canon EOS 5D"),
    ("camera", "NIKON D90"),
    ("title", "a*b"),
    ("title", "Star [live]?"),
    ("png.parameters", "cat, dog"),
];

fn random_meta(rng: &mut Rng) -> Meta {
    let (mime, kind) = rng.pick(MIMES);
    let dims = [0u64, 1, 9, 16, 90, 160, 1080, 1920, 1921, 3840];
    let mut m = Meta {
        mime: rng.chance(90).then(|| mime.to_string()),
        kind: rng.chance(90).then(|| kind.to_string()),
        ..Default::default()
    };
    if rng.chance(60) {
        m.width = Some(rng.pick(&dims));
        m.height = Some(rng.pick(&dims));
    }
    if rng.chance(50) {
        m.duration_ms = Some(rng.pick(&[0u64, 999, 1000, 1500, 60_000, 179_999, 180_000, 180_001, 3_600_000]));
        m.has_audio = Some(rng.chance(60));
    }
    if rng.chance(40) {
        let day = reference::date_span(rng.pick(ANCHOR_DAYS)).0 / 1_000_000_000;
        m.taken = Some(day + rng.pick(&[0i64, 1, 59, 60, 3599, 43_200, 86_399, 86_400, -1]));
    }
    for _ in 0..rng.below(4) {
        let (k, v) = rng.pick(FIELD_VALUES);
        if !m.fields.iter().any(|(a, b)| a == k && *b == v.trim()) {
            m.fields.push((k.to_string(), v.trim().to_string()));
        }
    }
    m
}

fn core_meta(m: &Meta) -> trove_core::meta::Meta {
    trove_core::meta::Meta {
        mime: m.mime.clone(),
        kind: m.kind.clone(),
        width: m.width.map(|x| x as u32),
        height: m.height.map(|x| x as u32),
        duration_ms: m.duration_ms,
        has_audio: m.has_audio,
        taken: m.taken,
        fields: m.fields.clone(),
        ..Default::default()
    }
}

fn random_mtime(rng: &mut Rng) -> i64 {
    let day = reference::date_span(rng.pick(ANCHOR_DAYS)).0;
    let offset_s: i64 = rng.pick(&[0, 0, 1, 59, 60, 3599, 43_200, 86_399, 86_400, -1, -86_400]);
    let ns: i64 = rng.pick(&[0, 0, 1, 500_000_000, 999_999_999]);
    day + offset_s * 1_000_000_000 + ns
}

// ---- random queries, and how they are written ----

fn is_plain_word(s: &str) -> bool {
    let reserved = [
        "path", "ext", "size", "mtime", "tags", "hash", "pool", "missing", "sort", "limit", "tag", "and", "or", "not",
        "mime", "type", "width", "height", "ratio", "duration", "has", "taken", "meta",
    ];
    let lead: String = s.chars().take_while(char::is_ascii_alphabetic).collect();
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.')
        && !reserved.contains(&lead.to_ascii_lowercase().as_str())
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn random_case(rng: &mut Rng, s: &str) -> String {
    s.chars().map(|c| if rng.chance(30) { c.to_uppercase().collect::<String>() } else { c.to_string() }).collect()
}

fn render(q: &Q, rng: &mut Rng) -> String {
    match q {
        Q::And(v) => {
            let parts: Vec<String> = v.iter().map(|x| group(x, rng)).collect();
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(rng.pick(&[" ", " ", " and ", " AND "]));
                }
                out.push_str(p);
            }
            out
        }
        Q::Or(v) => {
            let parts: Vec<String> = v.iter().map(|x| group(x, rng)).collect();
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(rng.pick(&[" | ", "|", " or ", " OR "]));
                }
                out.push_str(p);
            }
            out
        }
        Q::Not(x) => {
            let inner = group(x, rng);
            match rng.below(3) {
                0 => format!("-{inner}"),
                1 => format!("not {inner}"),
                _ => format!("-({})", render(x, rng)),
            }
        }
        Q::Tag(name) => {
            let typed = random_case(rng, name);
            if is_plain_word(&typed) && rng.chance(70) {
                typed
            } else if rng.chance(50) {
                format!("tag:{}", quoted(&typed))
            } else {
                quoted(&typed)
            }
        }
        Q::Wild(pieces) => {
            let mut out = String::new();
            for (i, p) in pieces.iter().enumerate() {
                match p {
                    Piece::Star => out.push('*'),
                    Piece::Text(t) => {
                        let bare = t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) && i > 0;
                        out.push_str(&if bare { t.clone() } else { quoted(t) });
                    }
                }
            }
            out
        }
        Q::Cmp { ns, op, value } => {
            let v = if value.chars().all(|c| c.is_ascii_alphanumeric() || "-.+".contains(c)) {
                value.clone()
            } else {
                quoted(value)
            };
            format!("{}{}{v}", random_case(rng, ns), op.text())
        }
        Q::Path(g) => format!("path:{}", quoted(g)),
        Q::Ext(e) => format!("{}:{e}", random_case(rng, "ext")),
        Q::Size(op, amount, unit) => format!("size{}{amount}{unit}", op.text()),
        Q::MtimeAt(op, text) if text.contains(' ') => format!("mtime{}{}", op.text(), quoted(text)),
        Q::MtimeAt(op, text) => format!("mtime{}{text}", op.text()),
        Q::MtimeAge(op, n, unit) => format!("mtime{}{n}{unit}", op.text()),
        Q::TagCount(op, n) => format!("tags{}{n}", op.text()),
        Q::Hash(h) => format!("hash:{h}"),
        Q::Pool(t) => format!("pool:{}", quoted(t)),
        Q::Missing => random_case(rng, "missing"),
        Q::Mime(m) => format!("{}:{m}", random_case(rng, "mime")),
        Q::Type(t) => format!("type:{}", random_case(rng, t)),
        Q::Width(op, n) => format!("width{}{n}", op.text()),
        Q::Height(op, n) => format!("{}{}{n}", random_case(rng, "height"), op.text()),
        Q::Ratio(op, a, b) if *b == 1 && rng.chance(50) => format!("ratio{}{a}", op.text()),
        Q::Ratio(op, a, b) => format!("ratio{}{a}:{b}", op.text()),
        Q::Duration(op, ms) => match ms {
            ms if ms % 60_000 == 0 && rng.chance(50) => format!("duration{}{}m", op.text(), ms / 60_000),
            ms if ms % 1000 == 0 && rng.chance(50) => format!("duration{}{}", op.text(), ms / 1000),
            ms if ms % 100 == 0 && rng.chance(50) => format!("duration{}{}.{}s", op.text(), ms / 1000, ms % 1000 / 100),
            ms => format!("duration{}{ms}ms", op.text()),
        },
        Q::Has(x) => format!("has:{x}"),
        Q::MetaField(field, pieces) => {
            let mut out = format!("meta.{field}:");
            for p in pieces {
                match p {
                    Piece::Star => out.push('*'),
                    Piece::Text(t) => out.push_str(&quoted(t)),
                }
            }
            out
        }
        Q::Taken(op, text) if text.contains(' ') => format!("taken{}{}", op.text(), quoted(text)),
        Q::Taken(op, text) => format!("taken{}{text}", op.text()),
        Q::Dupe(kind) => format!("{}:{}", random_case(rng, "dupe"), random_case(rng, kind)),
    }
}

/// A compound operand in parentheses, anything else as it is.
fn group(q: &Q, rng: &mut Rng) -> String {
    match q {
        Q::And(_) | Q::Or(_) => format!("({})", render(q, rng)),
        _ => render(q, rng),
    }
}

fn render_query(q: &Query, rng: &mut Rng) -> String {
    let mut out = match &q.expr {
        None => String::new(),
        Some(e @ Q::Or(_)) if q.sort.is_some() || q.limit.is_some() => group(e, rng),
        Some(e) => render(e, rng),
    };
    if let Some((key, reverse)) = q.sort {
        let key = match key {
            SortKey::Path => "path",
            SortKey::Mtime => "mtime",
            SortKey::Size => "size",
            SortKey::Random => "random",
            SortKey::Pool => "pool",
            SortKey::Taken => "taken",
            SortKey::Duration => "duration",
            SortKey::Width => "width",
            SortKey::Height => "height",
        };
        out.push_str(&format!(" sort:{}{}", if reverse { "-" } else { "" }, random_case(rng, key)));
    }
    if let Some(n) = q.limit {
        out.push_str(&format!(" limit:{n}"));
    }
    out
}

fn any_op(rng: &mut Rng) -> Op {
    rng.pick(&[Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq])
}

fn cmp_op(rng: &mut Rng) -> Op {
    rng.pick(&[Op::Lt, Op::Le, Op::Gt, Op::Ge])
}

fn random_term(rng: &mut Rng, b: &Built) -> Q {
    let lib = &b.model;
    match rng.below(25) {
        0 | 1 => {
            let names: Vec<&str> = TAGS.iter().flat_map(|n| n.iter().copied()).collect();
            let name = if rng.chance(10) { "nosuchtag" } else { rng.pick(&names) };
            let name = match rng.below(10) {
                0 => format!(" {name} "),
                // typed decomposed (`e` + U+0301): names match NFC-normalised
                1 => name.nfd().collect(),
                _ => name.to_string(),
            };
            Q::Tag(name)
        }
        2 => {
            let names: Vec<&str> = TAGS.iter().flat_map(|n| n.iter().copied()).collect();
            let name: Vec<char> = rng.pick(&names).chars().collect();
            let (a, z) = (rng.below(name.len() + 1), rng.below(name.len() + 1));
            let (a, z) = (a.min(z), a.max(z));
            let mid: String = name[a..z].iter().collect();
            let pieces = match rng.below(6) {
                0 => vec![Piece::Text(name[..a].iter().collect()), Piece::Star],
                1 => vec![Piece::Star, Piece::Text(mid), Piece::Star],
                2 => vec![Piece::Star, Piece::Text(name[z..].iter().collect())],
                3 => {
                    vec![Piece::Text(name[..a].iter().collect()), Piece::Star, Piece::Text(name[z..].iter().collect())]
                }
                4 => vec![
                    Piece::Star,
                    Piece::Text(rng.pick(&[" and ", "*", "?", "[", " ", ":", "p*"]).to_string()),
                    Piece::Star,
                ],
                _ => vec![Piece::Text(rng.pick(&["top*", "top", "\"", "a?"]).to_string()), Piece::Star],
            };
            let pieces: Vec<Piece> = pieces.into_iter().filter(|p| *p != Piece::Text(String::new())).collect();
            if pieces.iter().all(|p| *p == Piece::Star) { Q::Wild(vec![Piece::Star]) } else { Q::Wild(pieces) }
        }
        3 => {
            let ns = rng.pick(&["year", "rating", "date", "artist", "n", "jahr", "none", "ns"]);
            let value = rng
                .pick(&[
                    "2015",
                    "2000",
                    "2019",
                    "-3",
                    "2.5",
                    "0",
                    "10",
                    "4",
                    "1e5",
                    "1e4",
                    "nan",
                    "inf",
                    "Infinity",
                    "unknown",
                    "2019-05-01",
                    "2020",
                    "2019",
                    "abba",
                    "Nancy",
                    "m",
                    "3.0",
                    "-0.5",
                    "spaced",
                    " spaced",
                ])
                .to_string();
            Q::Cmp { ns: ns.to_string(), op: cmp_op(rng), value }
        }
        4 => Q::Path(random_glob(rng, b)),
        5 => {
            let e = rng.pick(&["txt", "TXT", ".txt", "jpg", "flac", "gz", "tar.gz", "none", "j\u{c9}", "J\u{e9}"]);
            Q::Ext(e.to_string())
        }
        6 => {
            let (amount, unit) = rng.pick(&[
                ("0", ""),
                ("1", ""),
                ("3", "b"),
                ("100", ""),
                ("512", ""),
                ("1", "k"),
                ("1", "K"),
                ("1", "KiB"),
                ("1", "kb"),
                ("0.5", "k"),
                ("1.5", "k"),
                ("10000", ""),
                ("64", "k"),
                ("1", "M"),
                ("1", "g"),
            ]);
            Q::Size(any_op(rng), amount.to_string(), unit.to_string())
        }
        7 => {
            let day = rng.pick(ANCHOR_DAYS);
            let text = match rng.below(5) {
                0 | 1 => day.to_string(),
                2 => format!("{day}T{}", rng.pick(&["00:00", "00:01", "12:00", "23:59", "00:00:01"])),
                3 => format!("{day}T{}", rng.pick(&["00:00:00", "00:00:01", "00:01:00", "12:00:00", "23:59:59"])),
                _ => format!("{day} {}", rng.pick(&["00:00", "12:00:00"])),
            };
            Q::MtimeAt(any_op(rng), text)
        }
        8 => {
            let (n, unit) = rng.pick(&[(30, 'd'), (1, 'y'), (2, 'y'), (400, 'd'), (10_000, 'h'), (100, 'w'), (1, 's')]);
            Q::MtimeAge(any_op(rng), n, unit)
        }
        9 => Q::TagCount(any_op(rng), rng.below(5) as u64),
        10 => {
            let f = &lib.files[rng.below(lib.files.len())];
            let full = reference::hex(&f.content_hash);
            let len = 8 + rng.below(9);
            let prefix = if rng.chance(80) { full[..len].to_string() } else { "0123abcd".to_string() };
            Q::Hash(random_case(rng, &prefix))
        }
        11 => {
            let t = if rng.chance(80) { rng.pick(POOLS).to_string() } else { "nope".to_string() };
            Q::Pool(random_case(rng, &t))
        }
        12 => Q::Missing,
        13 => Q::Mime(
            rng.pick(&["image/*", "image/png", "IMAGE/JPEG", "*/*", "audio/*flac", "video/mp4", "x/y"]).to_string(),
        ),
        14 => Q::Type(rng.pick(&["image", "video", "audio", "text", "document", "archive", "other"]).to_string()),
        15 => Q::Width(any_op(rng), rng.pick(&[0u64, 1, 16, 1080, 1920, 1921])),
        16 => Q::Height(any_op(rng), rng.pick(&[0u64, 9, 90, 1080])),
        17 => {
            let (a, b) = rng.pick(&[(16u64, 9u64), (1, 1), (4, 3), (9, 16), (2, 1), (3, 1)]);
            Q::Ratio(any_op(rng), a, b)
        }
        18 => Q::Duration(any_op(rng), rng.pick(&[0u64, 1000, 1500, 180_000, 60_000, 3_600_000, 999])),
        19 => {
            Q::Has(rng.pick(&["audio", "duration", "taken", "artist", "camera", "png.parameters", "none"]).to_string())
        }
        20 => {
            let field = rng.pick(&["artist", "camera", "title", "albumartist", "none"]).to_string();
            let pieces = match rng.below(6) {
                0 => vec![Piece::Text(
                    rng.pick(&["dj kuroneko", "DJ KURONEKO", " abba ", "caf\u{e9}", "a*b"]).to_string(),
                )],
                1 => vec![
                    Piece::Star,
                    Piece::Text(rng.pick(&["canon", "a", "[live]", "?", "*", "e\u{301}"]).to_string()),
                    Piece::Star,
                ],
                2 => vec![Piece::Text(rng.pick(&["dj", "nikon", "star"]).to_string()), Piece::Star],
                3 => vec![Piece::Star],
                4 => vec![Piece::Star, Piece::Text("5d".to_string())],
                _ => vec![Piece::Text("caf".to_string()), Piece::Star, Piece::Text("\u{e9}".to_string())],
            };
            Q::MetaField(field, pieces)
        }
        21 => {
            let day = rng.pick(ANCHOR_DAYS);
            let text = match rng.below(3) {
                0 | 1 => day.to_string(),
                _ => format!("{day}T{}", rng.pick(&["00:00", "12:00:00", "23:59:59"])),
            };
            Q::Taken(any_op(rng), text)
        }
        22 | 23 => Q::Dupe(rng.pick(&["exact", "similar", "undecided"]).to_string()),
        _ => Q::Tag(rng.pick(&["cat", "animal", "living", "chat", "Tier"]).to_string()),
    }
}

/// A glob built from a real path: a name, a directory, an absolute prefix, with `?`,
/// classes and escapes mixed in.
fn random_glob(rng: &mut Rng, b: &Built) -> String {
    let f = &b.model.files[rng.below(b.model.files.len())];
    let lib = b.lib_dir.to_string_lossy().into_owned();
    let rel = String::from_utf8_lossy(&f.path[lib.len() + 1..]).into_owned();
    let comps: Vec<&str> = rel.split('/').collect();
    let name = *comps.last().unwrap();
    let glob_escape = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            if "*?[\\".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    match rng.below(9) {
        0 => format!("*{}*", glob_escape(&name.chars().take(3).collect::<String>())),
        1 => format!("{}/*", glob_escape(comps[0])),
        2 => format!("{lib}/{}", glob_escape(&rel)),
        3 => format!("{lib}/*"),
        4 => {
            // one character replaced by `?`
            let chars: Vec<char> = rel.chars().collect();
            let at = rng.below(chars.len());
            let mut out = format!("{lib}/");
            for (i, c) in chars.iter().enumerate() {
                out.push_str(&if i == at { "?".to_string() } else { glob_escape(&c.to_string()) });
            }
            out
        }
        5 => format!("*{}", rng.pick(&["[a-m]*", "[!a-m]", "[]x]*", "[0-9]*", "[^.]", "?", "??", "[é]*", "[-a]*"])),
        6 => format!("*{}*", rng.pick(&["\\*", "\\?", "\\[", "%", "_", " ", "\n", "-", "\\\\"])),
        7 => {
            rng.pick(&["*.txt", "*.TXT", "music/*", "*/deep/*", "a b/*", "*/-dash/*", "2019/*", "[", "*["]).to_string()
        }
        _ => format!("*{}", glob_escape(name)),
    }
}

fn random_expr(rng: &mut Rng, b: &Built, depth: usize) -> Q {
    let roll = rng.below(100);
    if depth >= 4 || roll < 45 {
        return random_term(rng, b);
    }
    match roll {
        45..=64 => Q::And((0..2 + rng.below(3)).map(|_| random_expr(rng, b, depth + 1)).collect()),
        65..=84 => Q::Or((0..2 + rng.below(3)).map(|_| random_expr(rng, b, depth + 1)).collect()),
        _ => Q::Not(Box::new(random_expr(rng, b, depth + 1))),
    }
}

fn random_query(rng: &mut Rng, b: &Built) -> Query {
    let mut expr = if rng.chance(3) { None } else { Some(random_expr(rng, b, 0)) };
    let sort = rng.chance(35).then(|| {
        let key = rng.pick(&[
            SortKey::Path,
            SortKey::Mtime,
            SortKey::Size,
            SortKey::Random,
            SortKey::Pool,
            SortKey::Taken,
            SortKey::Duration,
            SortKey::Width,
            SortKey::Height,
        ]);
        (key, rng.chance(50))
    });
    if let Some((SortKey::Pool, _)) = sort {
        // exactly one pool: term, ANDed at the top level
        let title = rng.pick(POOLS);
        let title = random_case(rng, title);
        let mut terms = vec![Q::Pool(title)];
        if let Some(e) = expr.filter(|e| !contains_pool(e)) {
            terms.push(e);
        }
        expr = Some(Q::And(terms));
    }
    let limit = rng.chance(25).then(|| rng.pick(&[0u64, 1, 3, 10, 1000]));
    Query { expr, sort, limit }
}

fn contains_pool(q: &Q) -> bool {
    match q {
        Q::And(v) | Q::Or(v) => v.iter().any(contains_pool),
        Q::Not(x) => contains_pool(x),
        Q::Pool(_) => true,
        _ => false,
    }
}

// ---- the comparison ----

struct Mismatch {
    seed: u64,
    text: String,
    detail: String,
}

fn rel_names(b: &Built, files: &[usize]) -> Vec<String> {
    let cut = b.lib_dir.as_os_str().len() + 1;
    files.iter().map(|&i| String::from_utf8_lossy(&b.model.files[i].path[cut..]).into_owned()).collect()
}

fn check(b: &Built, seed: u64, text: &str, q: &Query) -> Option<Mismatch> {
    let fail = |detail: String| Some(Mismatch { seed, text: text.to_string(), detail });
    let want: Answer = b.model.answer(q, NOW);
    let query = match EngineQuery::at(&b.index, text, NOW) {
        Ok(q) => q,
        Err(e) => return fail(format!("engine refused it: {e}")),
    };
    // The engine under test is the set algebra over the posting lists.
    if !query.uses_posting_lists(&b.index).unwrap_or(false) {
        return fail("the posting lists do not answer it".into());
    }
    let records = match query.collect(&b.index, None) {
        Ok(r) => r,
        Err(e) => return fail(format!("engine failed: {e}")),
    };
    let count = match query.count(&b.index) {
        Ok(n) => n,
        Err(e) => return fail(format!("--count failed: {e}")),
    };
    let by_path = |p: &Path| b.model.files.iter().position(|f| f.path == p.as_os_str().as_bytes()).unwrap();
    let got: Vec<usize> = records.iter().map(|r| by_path(&r.path)).collect();
    if count != want.count {
        return fail(format!("--count {count}, model {}", want.count));
    }
    if want.random {
        // Any `limit` of the matches, in any order, each once.
        let all: BTreeSet<usize> = want.files.iter().copied().collect();
        let got_set: BTreeSet<usize> = got.iter().copied().collect();
        if got.len() as u64 != want.count || got_set.len() != got.len() || !got_set.is_subset(&all) {
            return fail(format!("random: got {:?}, model set {:?}", rel_names(b, &got), rel_names(b, &want.files)));
        }
    } else if got != want.files {
        let (g, w): (BTreeSet<usize>, BTreeSet<usize>) =
            (got.iter().copied().collect(), want.files.iter().copied().collect());
        return fail(format!(
            "engine only: {:?}; model only: {:?}; order engine {:?} model {:?}",
            rel_names(b, &g.difference(&w).copied().collect::<Vec<_>>()),
            rel_names(b, &w.difference(&g).copied().collect::<Vec<_>>()),
            rel_names(b, &got),
            rel_names(b, &want.files),
        ));
    }
    None
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `libs` libraries from `first_seed` on, `queries` queries each; returns how many
/// queries ran and the first mismatches.
fn run(first_seed: u64, libs: u64, queries: u64) -> (u64, Vec<Mismatch>) {
    let mut ran = 0;
    let mut bad = Vec::new();
    for seed in first_seed..first_seed + libs {
        let mut rng = Rng(seed);
        let built = build(&mut rng);
        for _ in 0..queries {
            let q = random_query(&mut rng, &built);
            let text = render_query(&q, &mut rng);
            ran += 1;
            if let Some(m) = check(&built, seed, &text, &q) {
                bad.push(m);
                if bad.len() >= 10 {
                    return (ran, bad);
                }
            }
        }
    }
    (ran, bad)
}

fn report(ran: u64, bad: &[Mismatch]) {
    if bad.is_empty() {
        return;
    }
    let mut msg = format!("{} of {ran} queries disagree with the reference model:\n", bad.len());
    for m in bad {
        msg.push_str(&format!("  seed {} query {:?}\n    {}\n", m.seed, m.text, m.detail));
    }
    panic!("{msg}");
}

fn quarter(k: u64) {
    let (libs, queries) = (env_or("TROVE_QUERY_LIBS", 20), env_or("TROVE_QUERY_QUERIES", 500));
    let seed = env_or("TROVE_QUERY_SEED", 1);
    let (from, to) = (seed + libs * k / 4, seed + libs * (k + 1) / 4);
    let (ran, bad) = run(from, to - from, queries);
    report(ran, &bad);
    assert_eq!(ran, (to - from) * queries);
}

// Four quarters, so that the test threads share the work; together 20 libraries and 10 000
// queries by default.
#[test]
fn engine_matches_the_reference_model_1() {
    quarter(0);
}

#[test]
fn engine_matches_the_reference_model_2() {
    quarter(1);
}

#[test]
fn engine_matches_the_reference_model_3() {
    quarter(2);
}

#[test]
fn engine_matches_the_reference_model_4() {
    quarter(3);
}

/// The model itself, on cases worked out by hand from the README.
#[test]
fn reference_model_follows_the_readme() {
    assert!(reference::glob(b"*/music/*", b"/home/u/music/a.flac"));
    assert!(!reference::glob(b"*/?.txt", b"/x/ab.txt"));
    assert!(reference::glob(b"*/?.txt", "/x/é.txt".as_bytes()));
    assert!(reference::glob(b"*/?.txt", b"/x/\xff.txt"));
    assert!(reference::glob(b"*[!0-9].txt", b"/x/f.txt"));
    assert!(reference::glob(b"*[]x]", b"/x/]"));
    assert!(reference::glob(b"*[", b"/x/["));
    assert!(reference::glob(b"*\\*", b"/x/a*"));
    assert!(!reference::glob(b"*\\*", b"/x/a"));
    assert_eq!(reference::as_decimal("2.5"), Some(2.5));
    for text in ["nan", "inf", "1e5", "+5", ".5", "5.", "-", "1.2.3", ""] {
        assert_eq!(reference::as_decimal(text), None, "{text}");
    }
    assert_eq!(reference::size_bytes("1.5", "k"), 1536);
    assert_eq!(reference::size_bytes("2", "KiB"), 2048);
    assert_eq!(reference::civil_seconds(2024, 1, 1), 1_704_067_200);
    assert_eq!(reference::civil_seconds(2024, 2, 29) + 12 * 3600 + 30 * 60, 1_709_209_800);
    let (s, e) = reference::date_span("2020-01-01T12:00");
    assert_eq!(e - s, 60_000_000_000);
}
