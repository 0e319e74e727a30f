//! Moving a library out: the index (or the files a query selects) as a [`Library`], in a
//! canonical order that depends only on the content, never on row ids — so exporting,
//! importing into an empty index and exporting again gives the same description.
//!
//! Order: tags by universal id, names primary first then by folded name; implications by
//! (child, parent) position; files by path bytes, then by the rest of their record and
//! links (missing records may share a path); links by tag position then source; pools by
//! folded title, members in pool order.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{FileId, FileRecord, TagId, fold};
use crate::ops::find::Query;
use crate::ops::import::{LibFile, LibLink, LibPool, LibRecord, LibTag, Library};
use crate::store::{links::Labeler, portable};
use crate::{Index, Result};

/// The whole index, or with `query` only the files it finds, the tags they carry (and the
/// tags those imply), the implications among those tags and the pools' entries among
/// those files.
pub fn library(index: &Index, query: Option<&str>) -> Result<Library> {
    let c = index.conn();
    let mut records: Vec<FileRecord> = Vec::new();
    match query {
        Some(q) => {
            records = Query::new(index, q)?.collect(index, None)?;
        }
        None => portable::all_files(c, |r| {
            records.push(r);
            Ok(())
        })?,
    }
    let selected: HashSet<FileId> = records.iter().map(|r| r.id).collect();

    let mut links: HashMap<FileId, Vec<(TagId, crate::Source, i64)>> = HashMap::new();
    portable::all_links(c, |f, t, s, at| {
        if selected.contains(&f) {
            links.entry(f).or_default().push((t, s, at));
        }
    })?;

    let all_tags = portable::all_tags(c)?;
    let implications = portable::all_implications(c)?;
    let keep: Option<BTreeSet<TagId>> = query.map(|_| {
        let used: Vec<TagId> = links.values().flatten().map(|l| l.0).collect();
        let lab = Labeler::new(c);
        let mut keep: BTreeSet<TagId> = used.iter().copied().collect();
        if let Ok(lab) = lab {
            keep.extend(lab.ancestors(&used));
        }
        keep
    });
    let mut tags: Vec<&portable::TagRow> =
        all_tags.iter().filter(|t| keep.as_ref().is_none_or(|k| k.contains(&t.id))).collect();
    tags.sort_by_key(|t| t.uid);
    let tag_pos: HashMap<TagId, usize> = tags.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let lib_tags: Vec<LibTag> = tags
        .iter()
        .map(|t| LibTag { uid: Some(t.uid), names: t.names.clone(), created_at: Some(t.created_at) })
        .collect();
    let mut lib_impl: Vec<(usize, usize)> =
        implications.iter().filter_map(|(ch, p)| Some((*tag_pos.get(ch)?, *tag_pos.get(p)?))).collect();
    lib_impl.sort_unstable();

    let mut files: Vec<(FileId, LibFile)> = records
        .into_iter()
        .map(|r| -> Result<(FileId, LibFile)> {
            let mut ls: Vec<LibLink> = links
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(t, s, at)| Some(LibLink { tag: *tag_pos.get(&t)?, source: s, added_at: Some(at) }))
                .collect();
            ls.sort_by_key(|l| (l.tag, l.source.to_string()));
            let rec = LibRecord {
                size: r.stat.size,
                mtime_ns: r.stat.mtime_ns,
                hash: r.hash,
                fingerprint: r.fingerprint,
                sha256: crate::store::files::sha256_of(c, r.id)?,
                state: r.state,
                verified_at: r.verified_at,
            };
            let f = LibFile { path: r.path.clone(), record: Some(rec), added_at: Some(r.added_at), links: ls };
            Ok((r.id, f))
        })
        .collect::<Result<_>>()?;
    files.sort_by(|(_, a), (_, b)| file_key(a).cmp(&file_key(b)));
    let file_pos: HashMap<FileId, usize> = files.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();

    let mut lib_pools: Vec<(String, LibPool)> = Vec::new();
    for (_, title, created, members) in portable::all_pools(c)? {
        let m: Vec<usize> = members.iter().filter_map(|f| file_pos.get(f).copied()).collect();
        if query.is_some() && m.is_empty() {
            continue;
        }
        lib_pools.push((fold(&title), LibPool { title, created_at: Some(created), files: m }));
    }
    lib_pools.sort_by(|a, b| a.0.cmp(&b.0));

    Ok(Library {
        tags: lib_tags,
        implications: lib_impl,
        files: files.into_iter().map(|(_, f)| f).collect(),
        pools: lib_pools.into_iter().map(|(_, p)| p).collect(),
    })
}

/// Sort key of a file: path bytes first, then everything else it holds.
#[allow(clippy::type_complexity)]
fn file_key(
    f: &LibFile,
) -> (&[u8], Option<(i64, [u8; 32], i64, i64, u64, i64)>, Option<i64>, Vec<(usize, String, i64)>) {
    use std::os::unix::ffi::OsStrExt;
    let rec = f.record.as_ref().map(|r| (r.state.code(), r.hash.0, r.verified_at, r.mtime_ns, r.size, r.fingerprint));
    let links = f.links.iter().map(|l| (l.tag, l.source.to_string(), l.added_at.unwrap_or(0))).collect();
    (f.path.as_os_str().as_bytes(), rec, f.added_at, links)
}
