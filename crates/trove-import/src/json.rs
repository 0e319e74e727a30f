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

/// Reads an export file. Links without a source come in as `import:json`.
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
    if top.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(file, format!("not a trove export (\"format\" is not \"{FORMAT}\")")));
    }
    let version = top.get("version").and_then(Value::as_u64).ok_or_else(|| cx.err("version", "must be a number"))?;
    if version > VERSION || version == 0 {
        return Err(invalid(
            file,
            format!("export format version {version}; this trove reads versions 1 to {VERSION}"),
        ));
    }
    let mut lib = Library::default();
    let mut by_ref: HashMap<String, usize> = HashMap::new();
    for (i, t) in arr(&cx, top.get("tags"), "tags")?.iter().enumerate() {
        let at = format!("tags[{i}]");
        let t = obj(&cx, t, &at)?;
        let uid = match t.get("uid") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(cx.uid(s, &at)?),
            Some(_) => return Err(cx.err(&at, "\"uid\" must be a string")),
        };
        let mut names = Vec::new();
        for (j, n) in arr(&cx, t.get("names"), &at)?.iter().enumerate() {
            let nat = format!("{at}.names[{j}]");
            let n = obj(&cx, n, &nat)?;
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
        if let Some(u) = uid {
            by_ref.insert(hex(&u), i);
        }
        for n in &names {
            by_ref.entry(trove_core::model::fold(&n.name)).or_insert(i);
        }
        lib.tags.push(LibTag { uid, names, created_at: cx.opt_int(t, &at, "created_at")? });
    }
    let tag_ref = |s: &str, at: &str| -> Result<usize> {
        by_ref
            .get(s)
            .or_else(|| by_ref.get(&trove_core::model::fold(s)))
            .copied()
            .ok_or_else(|| cx.err(at, format!("{s:?} is not the uid or a name of a tag in \"tags\"")))
    };
    for (i, v) in arr(&cx, top.get("implications"), "implications")?.iter().enumerate() {
        let at = format!("implications[{i}]");
        let v = obj(&cx, v, &at)?;
        lib.implications.push((tag_ref(cx.str(v, &at, "child")?, &at)?, tag_ref(cx.str(v, &at, "parent")?, &at)?));
    }
    for (i, v) in arr(&cx, top.get("files"), "files")?.iter().enumerate() {
        let at = format!("files[{i}]");
        let v = obj(&cx, v, &at)?;
        let path = match v.get("path_hex") {
            Some(Value::String(h)) => PathBuf::from(std::ffi::OsString::from_vec(
                unhex(h).ok_or_else(|| cx.err(&at, "\"path_hex\" is not hex"))?,
            )),
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
        for (j, l) in arr(&cx, v.get("tags"), &at)?.iter().enumerate() {
            let lat = format!("{at}.tags[{j}]");
            let (tag, source, added_at) = match l {
                Value::String(s) => (tag_ref(s, &lat)?, Source::Import("json".into()), None),
                Value::Object(o) => {
                    let source = match o.get("source") {
                        None | Some(Value::Null) => Source::Import("json".into()),
                        Some(Value::String(s)) => s.parse::<Source>().map_err(|e| cx.err(&lat, e))?,
                        Some(_) => return Err(cx.err(&lat, "\"source\" must be a string")),
                    };
                    (tag_ref(cx.str(o, &lat, "tag")?, &lat)?, source, cx.opt_int(o, &lat, "added_at")?)
                }
                _ => return Err(cx.err(&lat, "must be a tag reference or an object")),
            };
            links.push(LibLink { tag, source, added_at });
        }
        lib.files.push(LibFile { path, record, added_at: cx.opt_int(v, &at, "added_at")?, links });
    }
    let nfiles = lib.files.len();
    for (i, v) in arr(&cx, top.get("pools"), "pools")?.iter().enumerate() {
        let at = format!("pools[{i}]");
        let v = obj(&cx, v, &at)?;
        let mut members = Vec::new();
        for m in arr(&cx, v.get("files"), &at)? {
            let k = m.as_u64().and_then(|k| usize::try_from(k).ok()).filter(|k| *k < nfiles).ok_or_else(|| {
                cx.err(&at, format!("{m} is not a position in \"files\" (0 to {})", nfiles.max(1) - 1))
            })?;
            members.push(k);
        }
        lib.pools.push(LibPool {
            title: cx.str(v, &at, "title")?.to_string(),
            created_at: cx.opt_int(v, &at, "created_at")?,
            files: members,
        });
    }
    Ok(Read { library: lib, notes: Vec::new() })
}
