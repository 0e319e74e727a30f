//! Tags kept next to or inside files by other tools: the freedesktop/KDE extended attribute
//! `user.xdg.tags`, XMP keywords (embedded packets and `.xmp` sidecars) and TagSpaces
//! (tags in the file name, `.ts/<name>.json` sidecars). Reading them never writes; the
//! two writers ([`write_xattrs`], [`write_sidecars`]) add tags next to files for tools
//! that read them and never touch a file's content.
//!
//! Reference: shared/research/import-and-szurubooru.md §1.5–1.7.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde_json::Value;
use trove_core::model::{FileState, Source, TagName, fold};
use trove_core::{Error, Result};

use crate::{LibFile, LibLink, LibTag, Library, Read};

/// The freedesktop/KDE tag attribute (tags joined by `,`).
pub const XDG_TAGS: &str = "user.xdg.tags";
/// Marks the `.xmp` sidecars trove writes (it rewrites only those).
pub const CREATOR_TOOL: &str = "trove";

/// Tags and files being gathered.
#[derive(Default)]
struct Gather {
    lib: Library,
    by_fold: HashMap<String, usize>,
    notes: Vec<String>,
}

impl Gather {
    fn tag(&mut self, name: &str) -> Option<usize> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return None;
        }
        let k = fold(name);
        if let Some(&i) = self.by_fold.get(&k) {
            return Some(i);
        }
        let i = self.lib.tags.len();
        self.lib.tags.push(LibTag {
            uid: None,
            names: vec![TagName { name: name.to_string(), lang: None, primary: true }],
            created_at: None,
        });
        self.by_fold.insert(k, i);
        Some(i)
    }

    fn imply(&mut self, child: usize, parent: usize) {
        if child != parent && !self.lib.implications.contains(&(child, parent)) {
            self.lib.implications.push((child, parent));
        }
    }

    fn file(&mut self, path: &Path, tags: &[usize], source: &Source) {
        if tags.is_empty() {
            return;
        }
        let mut links: Vec<LibLink> = Vec::new();
        for &t in tags {
            if !links.iter().any(|l| l.tag == t) {
                links.push(LibLink { tag: t, source: source.clone(), added_at: None });
            }
        }
        self.lib.files.push(LibFile { path: path.to_path_buf(), record: None, added_at: None, links });
    }

    fn done(self) -> Read {
        Read { library: self.lib, notes: self.notes }
    }
}

/// Every regular file under `paths` (files as given, folders recursively), sorted, skipping
/// the folders other tools keep their metadata in.
fn walk(paths: &[PathBuf], skip: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let m = std::fs::symlink_metadata(p).map_err(|e| Error::Io { path: p.clone(), source: e })?;
        if m.is_file() {
            out.push(p.clone());
            continue;
        }
        let it = walkdir::WalkDir::new(p)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| !(e.file_type().is_dir() && e.depth() > 0 && e.file_name().as_bytes() == b".ts"));
        for e in it.flatten() {
            if e.file_type().is_file() && !skip(e.path()) {
                out.push(e.into_path());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn read_xattr(path: &Path, name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 64 * 1024];
    match rustix::fs::getxattr(path, name, &mut buf[..]) {
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(rustix::io::Errno::NODATA) => Ok(None),
        Err(rustix::io::Errno::OPNOTSUPP) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// KDE's split: on `,`, each part trimmed, empty parts dropped.
pub fn split_xdg_tags(v: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(v).split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// `user.xdg.tags` of every file under `paths`.
pub fn read_xattrs(paths: &[PathBuf]) -> Result<Read> {
    let mut g = Gather::default();
    let source = Source::Import("xattr".into());
    let mut unreadable = 0u64;
    for f in walk(paths, &|_| false)? {
        match read_xattr(&f, XDG_TAGS) {
            Ok(Some(v)) => {
                let tags: Vec<usize> = split_xdg_tags(&v).iter().filter_map(|t| g.tag(t)).collect();
                g.file(&f, &tags, &source);
            }
            Ok(None) => {}
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        g.notes.push(format!("{unreadable} file(s) whose extended attributes could not be read; left out"));
    }
    Ok(g.done())
}

/// The text of XML character data with the five entities and numeric references decoded.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16).ok().and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `rdf:li` items of the property `prop` (e.g. `dc:subject`) in an XMP packet.
fn xmp_items(xml: &str, prop: &str) -> Vec<String> {
    let mut out = Vec::new();
    let open = format!("<{prop}");
    let close = format!("</{prop}>");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        // `<dc:subjectX` is another property.
        if !after.starts_with(['>', ' ', '\t', '\n', '\r', '/']) {
            rest = after;
            continue;
        }
        let Some(end) = after.find(&close) else { break };
        let body = &after[..end];
        let mut b = body;
        while let Some(j) = b.find("<rdf:li") {
            let li = &b[j + 7..];
            let Some(gt) = li.find('>') else { break };
            if li[..gt].ends_with('/') {
                b = &li[gt + 1..];
                continue;
            }
            let content = &li[gt + 1..];
            let Some(stop) = content.find("</rdf:li>") else { break };
            out.push(unescape(content[..stop].trim()));
            b = &content[stop..];
        }
        rest = &after[end..];
    }
    out
}

/// Keywords of an XMP packet: flat (`dc:subject`) and hierarchical
/// (`lr:hierarchicalSubject` with `|`, `digiKam:TagsList` with `/`), as paths root first.
pub fn xmp_keywords(xml: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut push = |p: Vec<String>| {
        let p: Vec<String> = p.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    };
    for k in xmp_items(xml, "dc:subject") {
        push(vec![k]);
    }
    for k in xmp_items(xml, "lr:hierarchicalSubject") {
        push(k.split('|').map(String::from).collect());
    }
    for k in xmp_items(xml, "digiKam:TagsList") {
        push(k.split('/').map(String::from).collect());
    }
    out
}

/// The XMP packet embedded in a file's bytes (JPEG APP1, PNG iTXt, TIFF, WebP, … all keep
/// it as a scannable `<x:xmpmeta>` packet). Files over 32 MiB are scanned in their first
/// 4 MiB.
fn embedded_xmp(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let limit = if len > 32 << 20 { 4 << 20 } else { len };
    let mut buf = Vec::with_capacity(limit as usize);
    f.take(limit).read_to_end(&mut buf)?;
    let Some(start) = find(&buf, b"<x:xmpmeta") else { return Ok(None) };
    let Some(end) = find(&buf[start..], b"</x:xmpmeta>") else { return Ok(None) };
    Ok(Some(String::from_utf8_lossy(&buf[start..start + end + 12]).into_owned()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn is_xmp(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xmp"))
}

/// The sidecars of a file: `file.ext.xmp` (darktable, digiKam, trove) and `file.xmp`
/// (Lightroom), those that exist.
fn sidecars_of(f: &Path) -> Vec<PathBuf> {
    let mut v = vec![with_suffix(f, ".xmp")];
    if f.extension().is_some() {
        v.push(f.with_extension("xmp"));
    }
    v.into_iter().filter(|p| p.is_file()).collect()
}

/// XMP keywords of every file under `paths`, embedded and from sidecars; a hierarchical
/// keyword `a|b|c` is the tag `c` with the implications `c ⇒ b ⇒ a`.
pub fn read_xmp(paths: &[PathBuf]) -> Result<Read> {
    let mut g = Gather::default();
    let source = Source::Import("xmp".into());
    let files = walk(paths, &|_| false)?;
    let mut unreadable = 0u64;
    let mut used_sidecars = std::collections::HashSet::new();
    for f in files.iter().filter(|f| !is_xmp(f)) {
        let mut packets = Vec::new();
        match embedded_xmp(f) {
            Ok(Some(x)) => packets.push(x),
            Ok(None) => {}
            Err(_) => unreadable += 1,
        }
        for s in sidecars_of(f) {
            match std::fs::read(&s) {
                Ok(b) => packets.push(String::from_utf8_lossy(&b).into_owned()),
                Err(_) => unreadable += 1,
            }
            used_sidecars.insert(s);
        }
        let mut tags = Vec::new();
        for p in &packets {
            for path in xmp_keywords(p) {
                let ids: Vec<Option<usize>> = path.iter().map(|k| g.tag(k)).collect();
                for w in ids.windows(2) {
                    if let [Some(parent), Some(child)] = w {
                        g.imply(*child, *parent);
                    }
                }
                if let Some(Some(leaf)) = ids.last() {
                    tags.push(*leaf);
                }
            }
        }
        g.file(f, &tags, &source);
    }
    let orphans = files.iter().filter(|f| is_xmp(f) && !used_sidecars.contains(*f)).count();
    if orphans > 0 {
        g.notes.push(format!("{orphans} .xmp sidecar(s) belong to no file here; left out"));
    }
    if unreadable > 0 {
        g.notes.push(format!("{unreadable} file(s) or sidecar(s) could not be read; left out"));
    }
    Ok(g.done())
}

/// TagSpaces' tags in a file name: between the first `[` and the first `]` after it, split
/// on `delimiter`.
pub fn tagspaces_name_tags(name: &[u8], delimiter: &str) -> Vec<String> {
    let name = String::from_utf8_lossy(name);
    let (Some(a), Some(b)) = (name.find('['), name.find(']')) else { return Vec::new() };
    if a > b {
        return Vec::new();
    }
    name[a + 1..b].split(delimiter).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn ts_sidecar_tags(p: &Path) -> std::result::Result<Vec<String>, String> {
    let b = std::fs::read(p).map_err(|e| e.to_string())?;
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&b);
    let v: Value = serde_json::from_slice(b).map_err(|e| format!("not valid JSON ({e})"))?;
    Ok(v.get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("title").and_then(Value::as_str).map(String::from))
        .collect())
}

/// TagSpaces tags of every file under `paths`: in the name and in `.ts/<name>.json`.
pub fn read_tagspaces(paths: &[PathBuf], delimiter: &str) -> Result<Read> {
    let mut g = Gather::default();
    let source = Source::Import("tagspaces".into());
    let files = walk(paths, &|_| false)?;
    let mut dirs = std::collections::BTreeSet::new();
    for f in &files {
        let name = f.file_name().map(OsStrExt::as_bytes).unwrap_or_default();
        let mut tags: Vec<usize> = tagspaces_name_tags(name, delimiter).iter().filter_map(|t| g.tag(t)).collect();
        if let Some(dir) = f.parent() {
            dirs.insert(dir.to_path_buf());
            let mut side = OsString::from_vec(name.to_vec());
            side.push(".json");
            let side = dir.join(".ts").join(side);
            if side.is_file() {
                match ts_sidecar_tags(&side) {
                    Ok(ts) => tags.extend(ts.iter().filter_map(|t| g.tag(t))),
                    Err(e) => g.notes.push(format!("{}: {e}; left out", side.display())),
                }
            }
        }
        g.file(f, &tags, &source);
    }
    for d in dirs {
        let meta = d.join(".ts").join("tsm.json");
        if let Ok(ts) = ts_sidecar_tags(&meta)
            && !ts.is_empty()
        {
            g.notes.push(format!("{}: folder tags {} not imported (trove tags files)", d.display(), ts.join(", ")));
        }
    }
    Ok(g.done())
}

/// What an export next to files did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub written: u64,
    pub unchanged: u64,
    pub problems: Vec<String>,
}

/// The tag names of each present file of an exported library.
fn file_tags(lib: &Library) -> impl Iterator<Item = (&Path, Vec<&str>)> {
    lib.files.iter().filter(|f| f.record.is_none_or(|r| r.state == FileState::Present)).map(|f| {
        let mut names: Vec<&str> = Vec::new();
        for l in &f.links {
            if let Some(t) = lib.tags.get(l.tag) {
                let n = t.names.iter().find(|n| n.primary).or(t.names.first()).map_or("", |n| n.name.as_str());
                if !n.is_empty() && !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names.sort_unstable();
        (f.path.as_path(), names)
    })
}

/// Adds each file's tags to its `user.xdg.tags` (what is there stays). Tags holding `,`
/// cannot be written (KDE has no escape) and are reported.
pub fn write_xattrs(lib: &Library, dry_run: bool) -> Written {
    let mut w = Written::default();
    for (path, names) in file_tags(lib) {
        if names.is_empty() {
            continue;
        }
        let old = match read_xattr(path, XDG_TAGS) {
            Ok(v) => v.map(|v| split_xdg_tags(&v)).unwrap_or_default(),
            Err(e) => {
                w.problems.push(format!("{}: {e}; not written", path.display()));
                continue;
            }
        };
        let mut all = old.clone();
        for n in names {
            if n.contains(',') {
                w.problems.push(format!("{}: the tag {n:?} holds a `,`, which user.xdg.tags cannot", path.display()));
                continue;
            }
            if !all.iter().any(|o| fold(o) == fold(n)) {
                all.push(n.to_string());
            }
        }
        if all == old {
            w.unchanged += 1;
            continue;
        }
        if !dry_run
            && let Err(e) =
                rustix::fs::setxattr(path, XDG_TAGS, all.join(",").as_bytes(), rustix::fs::XattrFlags::empty())
        {
            w.problems.push(format!("{}: {}; not written", path.display(), std::io::Error::from(e)));
            continue;
        }
        w.written += 1;
    }
    w
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The XMP sidecar trove writes: `dc:subject` with the tags, marked as trove's.
pub fn sidecar_xmp(tags: &[&str]) -> String {
    let mut s = String::from(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
         <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:CreatorTool=\"",
    );
    s.push_str(CREATOR_TOOL);
    s.push_str("\">\n   <dc:subject>\n    <rdf:Bag>\n");
    for t in tags {
        s.push_str(&format!("     <rdf:li>{}</rdf:li>\n", escape(t)));
    }
    s.push_str(
        "    </rdf:Bag>\n   </dc:subject>\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>\n",
    );
    s
}

/// Writes `file.ext.xmp` next to each tagged file. A sidecar another tool wrote (darktable
/// keeps its edit history in it) is left alone and reported; trove's own are rewritten.
pub fn write_sidecars(lib: &Library, dry_run: bool) -> Written {
    let mut w = Written::default();
    for (path, names) in file_tags(lib) {
        if names.is_empty() {
            continue;
        }
        let side = with_suffix(path, ".xmp");
        let want = sidecar_xmp(&names);
        match std::fs::read(&side) {
            Ok(old) if old == want.as_bytes() => {
                w.unchanged += 1;
                continue;
            }
            Ok(old) if !String::from_utf8_lossy(&old).contains(&format!("xmp:CreatorTool=\"{CREATOR_TOOL}\"")) => {
                w.problems.push(format!("{}: written by another tool; left alone", side.display()));
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                w.problems.push(format!("{}: {e}; not written", side.display()));
                continue;
            }
        }
        if !dry_run {
            let tmp = with_suffix(&side, ".trove-tmp");
            let r = std::fs::write(&tmp, want.as_bytes()).and_then(|()| std::fs::rename(&tmp, &side));
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                w.problems.push(format!("{}: {e}; not written", side.display()));
                continue;
            }
        }
        w.written += 1;
    }
    w
}
