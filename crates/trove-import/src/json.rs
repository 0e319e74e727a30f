//! trove's own export format (docs/export-format.md): one JSON document, one record per
//! line, keys in alphabetical order, records in the canonical order of
//! `ops::export::library`. Written by `trove export json`, read by `trove import json`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use trove_core::model::{FileState, Hash, Source, TagName};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibPool, LibRecord, LibTag, Library, Read, hex, invalid, unhex};

/// The `format` field.
pub const FORMAT: &str = "trove-export";
/// The version this build writes and the newest it reads.
pub const VERSION: u64 = 1;

fn state_str(s: FileState) -> &'static str {
    s.as_str()
}

fn path_fields(m: &mut Map<String, Value>, p: &Path) {
    let b = p.as_os_str().as_bytes();
    m.insert("path".into(), Value::String(String::from_utf8_lossy(b).into_owned()));
    if std::str::from_utf8(b).is_err() {
        m.insert("path_hex".into(), Value::String(hex(b)));
    }
}

fn opt_i64(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// Writes `lib` in the export format.
pub fn write(lib: &Library, out: &mut impl Write) -> std::io::Result<()> {
    let uid_of = |i: usize| lib.tags.get(i).and_then(|t| t.uid).map(|u| hex(&u)).unwrap_or_default();
    writeln!(out, "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},")?;
    let section = |out: &mut dyn Write, name: &str, items: &mut dyn Iterator<Item = Value>, last: bool| {
        write!(out, "\"{name}\":[")?;
        let mut first = true;
        for v in items {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            serde_json::to_writer(&mut *out, &v)?;
        }
        if !first {
            out.write_all(b"\n")?;
        }
        writeln!(out, "]{}", if last { "}" } else { "," })
    };
    section(
        out,
        "tags",
        &mut lib.tags.iter().map(|t| {
            let names: Vec<Value> =
                t.names.iter().map(|n| json!({"name": n.name, "lang": n.lang, "primary": n.primary})).collect();
            json!({"uid": t.uid.map(|u| hex(&u)), "names": names, "created_at": opt_i64(t.created_at)})
        }),
        false,
    )?;
    section(
        out,
        "implications",
        &mut lib.implications.iter().map(|(c, p)| json!({"child": uid_of(*c), "parent": uid_of(*p)})),
        false,
    )?;
    section(
        out,
        "files",
        &mut lib.files.iter().map(|f| {
            let mut m = Map::new();
            path_fields(&mut m, &f.path);
            m.insert("added_at".into(), opt_i64(f.added_at));
            if let Some(r) = &f.record {
                m.insert("size".into(), json!(r.size));
                m.insert("mtime_ns".into(), json!(r.mtime_ns));
                m.insert("hash".into(), json!(r.hash.to_hex()));
                m.insert("fingerprint".into(), json!(r.fingerprint));
                if let Some(h) = &r.sha256 {
                    m.insert("sha256".into(), json!(hex(h)));
                }
                m.insert("state".into(), json!(state_str(r.state)));
                m.insert("verified_at".into(), json!(r.verified_at));
            }
            let links: Vec<Value> = f
                .links
                .iter()
                .map(|l| json!({"tag": uid_of(l.tag), "source": l.source.to_string(), "added_at": opt_i64(l.added_at)}))
                .collect();
            m.insert("tags".into(), Value::Array(links));
            Value::Object(m)
        }),
        false,
    )?;
    section(
        out,
        "pools",
        &mut lib.pools.iter().map(|p| json!({"title": p.title, "created_at": opt_i64(p.created_at), "files": p.files})),
        true,
    )?;
    Ok(())
}

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, at: &str, what: impl std::fmt::Display) -> Error {
        invalid(self.file, format!("{at}: {what}"))
    }

    fn str<'v>(&self, v: &'v Map<String, Value>, at: &str, key: &str) -> Result<&'v str> {
        v.get(key).and_then(Value::as_str).ok_or_else(|| self.err(at, format!("\"{key}\" must be a string")))
    }

    fn opt_int(&self, v: &Map<String, Value>, at: &str, key: &str) -> Result<Option<i64>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_i64().map(Some).ok_or_else(|| self.err(at, format!("\"{key}\" must be an integer"))),
        }
    }

    fn int(&self, v: &Map<String, Value>, at: &str, key: &str) -> Result<i64> {
        self.opt_int(v, at, key)?.ok_or_else(|| self.err(at, format!("\"{key}\" is missing")))
    }

    fn uid(&self, s: &str, at: &str) -> Result<[u8; 32]> {
        let v =
            unhex(s).filter(|v| v.len() == 32).ok_or_else(|| self.err(at, format!("{s:?} is not 64 hex digits")))?;
        let mut u = [0u8; 32];
        u.copy_from_slice(&v);
        Ok(u)
    }
}

fn obj<'v>(cx: &Ctx<'_>, v: &'v Value, at: &str) -> Result<&'v Map<String, Value>> {
    v.as_object().ok_or_else(|| cx.err(at, "must be an object"))
}

fn arr<'v>(cx: &Ctx<'_>, v: Option<&'v Value>, at: &str) -> Result<&'v [Value]> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(cx.err(at, "must be an array")),
    }
}

/// Tag references (`uid` hex, or a name case-folded) to positions in "tags".
#[derive(Default)]
struct Refs(HashMap<String, usize>);

impl Refs {
    fn add(&mut self, i: usize, t: &LibTag) {
        if let Some(u) = t.uid {
            self.0.insert(hex(&u), i);
        }
        for n in &t.names {
            self.0.entry(trove_core::model::fold(&n.name)).or_insert(i);
        }
    }

    fn get(&self, cx: &Ctx<'_>, s: &str, at: &str) -> Result<usize> {
        self.0
            .get(s)
            .or_else(|| self.0.get(&trove_core::model::fold(s)))
            .copied()
            .ok_or_else(|| cx.err(at, format!("{s:?} is not the uid or a name of a tag in \"tags\"")))
    }
}

fn check_header(cx: &Ctx<'_>, format: Option<&Value>, version: Option<&Value>) -> Result<()> {
    if format.and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(cx.file, format!("not a trove export (\"format\" is not \"{FORMAT}\")")));
    }
    let version = version.and_then(Value::as_u64).ok_or_else(|| cx.err("version", "must be a number"))?;
    if version > VERSION || version == 0 {
        return Err(invalid(
            cx.file,
            format!("export format version {version}; this trove reads versions 1 to {VERSION}"),
        ));
    }
    Ok(())
}

fn parse_tag(cx: &Ctx<'_>, i: usize, t: &Value) -> Result<LibTag> {
    let at = format!("tags[{i}]");
    let t = obj(cx, t, &at)?;
    let uid = match t.get("uid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(cx.uid(s, &at)?),
        Some(_) => return Err(cx.err(&at, "\"uid\" must be a string")),
    };
    let mut names = Vec::new();
    for (j, n) in arr(cx, t.get("names"), &at)?.iter().enumerate() {
        let nat = format!("{at}.names[{j}]");
        let n = obj(cx, n, &nat)?;
        let lang = match n.get("lang") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(cx.err(&nat, "\"lang\" must be a string or null")),
        };
        let primary = n.get("primary").and_then(Value::as_bool).unwrap_or(j == 0);
        names.push(TagName { name: cx.str(n, &nat, "name")?.to_string(), lang, primary });
    }
    if names.is_empty() {
        return Err(cx.err(&at, "a tag needs at least one name"));
    }
    Ok(LibTag { uid, names, created_at: cx.opt_int(t, &at, "created_at")? })
}

fn parse_implication(cx: &Ctx<'_>, refs: &Refs, i: usize, v: &Value) -> Result<(usize, usize)> {
    let at = format!("implications[{i}]");
    let v = obj(cx, v, &at)?;
    Ok((refs.get(cx, cx.str(v, &at, "child")?, &at)?, refs.get(cx, cx.str(v, &at, "parent")?, &at)?))
}

fn parse_file(cx: &Ctx<'_>, refs: &Refs, i: usize, v: &Value) -> Result<LibFile> {
    let at = format!("files[{i}]");
    let v = obj(cx, v, &at)?;
    let path = match v.get("path_hex") {
        Some(Value::String(h)) => {
            PathBuf::from(std::ffi::OsString::from_vec(unhex(h).ok_or_else(|| cx.err(&at, "\"path_hex\" is not hex"))?))
        }
        Some(_) => return Err(cx.err(&at, "\"path_hex\" must be a string")),
        None => PathBuf::from(cx.str(v, &at, "path")?),
    };
    let record = match v.get("hash") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let h = cx.uid(cx.str(v, &at, "hash")?, &at)?;
            let state = match v.get("state").and_then(Value::as_str).unwrap_or("present") {
                "present" => FileState::Present,
                "missing" => FileState::Missing,
                "offline" => FileState::Offline,
                s => return Err(cx.err(&at, format!("\"state\" {s:?} is not present, missing or offline"))),
            };
            let size = cx.int(v, &at, "size")?;
            Some(LibRecord {
                size: u64::try_from(size).map_err(|_| cx.err(&at, "\"size\" cannot be negative"))?,
                mtime_ns: cx.int(v, &at, "mtime_ns")?,
                hash: Hash(h),
                fingerprint: cx.opt_int(v, &at, "fingerprint")?.unwrap_or(0),
                sha256: match v.get("sha256") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(cx.uid(cx.str(v, &at, "sha256")?, &at)?),
                },
                state,
                verified_at: cx.opt_int(v, &at, "verified_at")?.unwrap_or(0),
            })
        }
    };
    let mut links = Vec::new();
    for (j, l) in arr(cx, v.get("tags"), &at)?.iter().enumerate() {
        let lat = format!("{at}.tags[{j}]");
        let (tag, source, added_at) = match l {
            Value::String(s) => (refs.get(cx, s, &lat)?, Source::Import("json".into()), None),
            Value::Object(o) => {
                let source = match o.get("source") {
                    None | Some(Value::Null) => Source::Import("json".into()),
                    Some(Value::String(s)) => s.parse::<Source>().map_err(|e| cx.err(&lat, e))?,
                    Some(_) => return Err(cx.err(&lat, "\"source\" must be a string")),
                };
                (refs.get(cx, cx.str(o, &lat, "tag")?, &lat)?, source, cx.opt_int(o, &lat, "added_at")?)
            }
            _ => return Err(cx.err(&lat, "must be a tag reference or an object")),
        };
        links.push(LibLink { tag, source, added_at });
    }
    Ok(LibFile { path, record, added_at: cx.opt_int(v, &at, "added_at")?, links })
}

fn parse_pool(cx: &Ctx<'_>, nfiles: usize, i: usize, v: &Value) -> Result<LibPool> {
    let at = format!("pools[{i}]");
    let v = obj(cx, v, &at)?;
    let mut members = Vec::new();
    for m in arr(cx, v.get("files"), &at)? {
        let k =
            m.as_u64().and_then(|k| usize::try_from(k).ok()).filter(|k| *k < nfiles).ok_or_else(|| {
                cx.err(&at, format!("{m} is not a position in \"files\" (0 to {})", nfiles.max(1) - 1))
            })?;
        members.push(k);
    }
    Ok(LibPool {
        title: cx.str(v, &at, "title")?.to_string(),
        created_at: cx.opt_int(v, &at, "created_at")?,
        files: members,
    })
}

/// Reads an export file whole. Links without a source come in as `import:json`.
/// ([`import`] streams it instead.)
pub fn read(file: &Path) -> Result<Read> {
    let f = std::fs::File::open(file).map_err(|e| Error::Io { path: file.to_path_buf(), source: e })?;
    let doc: Value = serde_json::from_reader(std::io::BufReader::new(f))
        .map_err(|e| invalid(file, format!("not valid JSON ({e})")))?;
    parse(file, &doc)
}

/// Reads an export document already parsed.
pub fn parse(file: &Path, doc: &Value) -> Result<Read> {
    let cx = Ctx { file };
    let top = obj(&cx, doc, "the document")?;
    check_header(&cx, top.get("format"), top.get("version"))?;
    let mut lib = Library::default();
    let mut refs = Refs::default();
    for (i, t) in arr(&cx, top.get("tags"), "tags")?.iter().enumerate() {
        let t = parse_tag(&cx, i, t)?;
        refs.add(i, &t);
        lib.tags.push(t);
    }
    for (i, v) in arr(&cx, top.get("implications"), "implications")?.iter().enumerate() {
        lib.implications.push(parse_implication(&cx, &refs, i, v)?);
    }
    for (i, v) in arr(&cx, top.get("files"), "files")?.iter().enumerate() {
        lib.files.push(parse_file(&cx, &refs, i, v)?);
    }
    let nfiles = lib.files.len();
    for (i, v) in arr(&cx, top.get("pools"), "pools")?.iter().enumerate() {
        lib.pools.push(parse_pool(&cx, nfiles, i, v)?);
    }
    Ok(Read { library: lib, notes: Vec::new() })
}

/// How many files go to the sink at a time.
const STREAM_BATCH: usize = 2000;

/// Streams an export file into `sink`: the document is read once, each file record is
/// parsed alone and handed over in batches, so memory holds the tags and one batch, not
/// the document. A document in the canonical order (as `trove export json` writes it:
/// format, version, tags, implications, files, pools) streams; sections in another order
/// are held until what they need has come.
pub fn import(file: &Path, sink: &mut dyn trove_core::ops::import::Sink) -> Result<()> {
    use serde::de::DeserializeSeed;
    let f = std::fs::File::open(file).map_err(|e| Error::Io { path: file.to_path_buf(), source: e })?;
    let mut st = StreamState {
        cx: Ctx { file },
        sink,
        format: None,
        version: None,
        header_ok: false,
        refs: Refs::default(),
        tags: None,
        tags_sent: false,
        implications: None,
        files: Vec::new(),
        held_files: None,
        nfiles: 0,
        pools: None,
        failed: None,
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, f));
    let r = Top(&mut st).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = st.failed.take() {
        return Err(e);
    }
    r.map_err(|e| invalid(file, format!("not valid JSON ({e})")))?;
    st.finish()
}

struct StreamState<'a, 's> {
    cx: Ctx<'a>,
    sink: &'s mut dyn trove_core::ops::import::Sink,
    format: Option<Value>,
    version: Option<Value>,
    header_ok: bool,
    refs: Refs,
    tags: Option<Vec<Value>>,
    tags_sent: bool,
    implications: Option<Vec<Value>>,
    /// The batch being filled.
    files: Vec<LibFile>,
    /// Files that came before what they need (held as JSON).
    held_files: Option<Vec<Value>>,
    nfiles: usize,
    pools: Option<Vec<Value>>,
    /// The first error of trove's own (the JSON parser then only stops).
    failed: Option<Error>,
}

impl StreamState<'_, '_> {
    /// Sends the header checks, tags and implications once all have come.
    fn ready(&mut self) -> Result<bool> {
        if !self.header_ok {
            if self.format.is_none() || self.version.is_none() {
                return Ok(false);
            }
            check_header(&self.cx, self.format.as_ref(), self.version.as_ref())?;
            self.header_ok = true;
        }
        if !self.tags_sent {
            let Some(tags) = self.tags.take() else { return Ok(false) };
            let mut parsed = Vec::with_capacity(tags.len());
            for (i, t) in tags.iter().enumerate() {
                let t = parse_tag(&self.cx, i, t)?;
                self.refs.add(i, &t);
                parsed.push(t);
            }
            self.sink.tags(&parsed)?;
            self.tags_sent = true;
        }
        if let Some(imps) = self.implications.take() {
            let mut parsed = Vec::with_capacity(imps.len());
            for (i, v) in imps.iter().enumerate() {
                parsed.push(parse_implication(&self.cx, &self.refs, i, v)?);
            }
            self.sink.implications(&parsed)?;
        }
        Ok(true)
    }

    fn file(&mut self, v: &Value) -> Result<()> {
        let f = parse_file(&self.cx, &self.refs, self.nfiles, v)?;
        self.nfiles += 1;
        self.files.push(f);
        if self.files.len() >= STREAM_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.files.is_empty() {
            self.sink.files(&self.files)?;
            self.files.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if self.format.is_none() {
            return Err(invalid(self.cx.file, format!("not a trove export (\"format\" is not \"{FORMAT}\")")));
        }
        if self.tags.is_none() && !self.tags_sent {
            self.tags = Some(Vec::new());
        }
        if !self.ready()? {
            return Err(self.cx.err("version", "must be a number"));
        }
        if let Some(held) = self.held_files.take() {
            for v in &held {
                self.file(v)?;
            }
        }
        self.flush()?;
        if let Some(pools) = self.pools.take() {
            let mut parsed = Vec::with_capacity(pools.len());
            for (i, v) in pools.iter().enumerate() {
                parsed.push(parse_pool(&self.cx, self.nfiles, i, v)?);
            }
            self.sink.pools(&parsed)?;
        }
        Ok(())
    }
}

/// The top-level object, read key by key.
struct Top<'x, 'a, 's>(&'x mut StreamState<'a, 's>);

impl<'de> serde::de::DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a trove export (a JSON object)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        use serde::de::Error as _;
        let st = self.0;
        let fail = |st: &mut StreamState<'_, '_>, e: Error| {
            st.failed = Some(e);
            A::Error::custom("stopped")
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => st.format = Some(map.next_value()?),
                "version" => st.version = Some(map.next_value()?),
                "tags" => st.tags = Some(map.next_value()?),
                "implications" => st.implications = Some(map.next_value()?),
                "pools" => st.pools = Some(map.next_value()?),
                "files" => {
                    let ready = match st.ready() {
                        Ok(r) => r,
                        Err(e) => return Err(fail(st, e)),
                    };
                    if ready {
                        map.next_value_seed(Files(&mut *st))?;
                    } else {
                        st.held_files = Some(map.next_value()?);
                    }
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The "files" array, one record at a time.
struct Files<'x, 'a, 's>(&'x mut StreamState<'a, 's>);

impl<'de> serde::de::DeserializeSeed<'de> for Files<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Files<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of file records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        use serde::de::Error as _;
        let st = self.0;
        while let Some(v) = seq.next_element::<Value>()? {
            if let Err(e) = st.file(&v) {
                st.failed = Some(e);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}
