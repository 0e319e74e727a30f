//! Reading the index as folders: what `trove mount` (FUSE) and `trove view` (plain symlink
//! folders) show. Set-level reads (most used tags, tags co-occurring with a set, namespaces),
//! and the pure naming rules both views share: how a tag name becomes a directory name and
//! how identical basenames in one listing are told apart.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

use crate::model::{FileId, FileRecord, TagId, normalize_tag_name};
use crate::ops::find::Query;
use crate::query::{Expr, NamePattern};
use crate::store::{tags as st, views as sv};
use crate::{Index, Result};

/// SQLite's `data_version` for this connection: it changes when another process (the CLI,
/// the watcher, the web server) commits. Cheap enough to ask on every request.
pub fn data_version(index: &Index) -> Result<i64> {
    sv::data_version(index.conn())
}

/// A tag with a number of files, as the set-level reads below give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    /// The tag.
    pub id: TagId,
    /// Its primary name (for [`ns_values`], the value after the namespace, as written).
    pub name: String,
    /// How many files: carrying it directly ([`top_tags`], [`ns_values`]) or among the
    /// query's files ([`cooccurring`]).
    pub files: u64,
}

/// A namespace with its number of tags, as [`namespaces`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceCount {
    /// The namespace, folded.
    pub namespace: String,
    /// How many tags are in it.
    pub tags: u64,
}

fn counts(rows: Vec<(TagId, String, u64)>) -> Vec<TagCount> {
    rows.into_iter().map(|(id, name, files)| TagCount { id, name, files }).collect()
}

/// The `limit` most used tags, with the files carrying each directly.
pub fn top_tags(index: &Index, limit: u64) -> Result<Vec<TagCount>> {
    Ok(counts(sv::top_tags(index.conn(), limit)?))
}

/// The tags carried by `q`'s files, most common first, leaving out `exclude`.
pub fn cooccurring(index: &Index, q: &Query, exclude: &[TagId], limit: u64) -> Result<Vec<TagCount>> {
    Ok(counts(sv::cooccurring(index.conn(), &q.compiled, exclude, limit)?))
}

/// Every tag's number of files, read once from the posting lists for several listings
/// ([`TagSizes::top`], [`TagSizes::cooccurring`]); true until the index changes. When the
/// posting lists cannot answer (an interrupted bulk load), both fall back to [`top_tags`]
/// and [`cooccurring`].
#[derive(Debug, Clone)]
pub struct TagSizes(Option<Vec<(TagId, u64)>>);

impl TagSizes {
    /// Reads the sizes (one pass over the posting lists' chunk headers).
    pub fn read(index: &Index) -> Result<TagSizes> {
        Ok(TagSizes(sv::tag_sizes(index.conn())?))
    }

    /// As [`top_tags`].
    pub fn top(&self, index: &Index, limit: u64) -> Result<Vec<TagCount>> {
        match &self.0 {
            Some(sizes) => Ok(counts(sv::top_tags_of(index.conn(), sizes, limit)?)),
            None => top_tags(index, limit),
        }
    }

    /// As [`cooccurring`]: the query's matches as a set from the posting lists, then each
    /// tag's count by intersecting sets (the biggest tags first, stopping when no smaller
    /// tag can make the list) or, for a small set, by grouping its files' links.
    pub fn cooccurring(&self, index: &Index, q: &Query, exclude: &[TagId], limit: u64) -> Result<Vec<TagCount>> {
        if let Some(sizes) = &self.0
            && q.compiled.limit.is_none()
            && let Some(set) = q.compiled.matching_set(index.conn())?
        {
            return Ok(counts(sv::cooccurring_in(index.conn(), &set, sizes, exclude, limit, None)?));
        }
        cooccurring(index, q, exclude, limit)
    }
}

/// Streams (file, path, mtime in ns) of every file `q` finds, for a folder listing. Without
/// `limit:` in no particular order (read by id from the posting lists' set: no sort, no
/// other column), with one in the query's order (the limit keeps the first N of it).
pub fn for_each_listed(index: &Index, q: &Query, mut f: impl FnMut(FileId, &[u8], i64)) -> Result<()> {
    q.compiled.for_each_listed(index.conn(), |id, path, mtime| f(FileId(id), path, mtime))
}

/// Namespaces (folded) with their number of tags, the largest first.
pub fn namespaces(index: &Index, limit: u64) -> Result<Vec<NamespaceCount>> {
    Ok(sv::namespaces(index.conn(), limit)?
        .into_iter()
        .map(|(namespace, tags)| NamespaceCount { namespace, tags })
        .collect())
}

/// The values of a namespace (value as written, files carrying it), the most used first.
pub fn ns_values(index: &Index, ns: &str, limit: u64) -> Result<Vec<TagCount>> {
    Ok(counts(sv::ns_values(index.conn(), &crate::model::fold(ns), limit)?))
}

/// The tag a name (primary or alias, any case) names, with its primary name; `None` when no
/// tag has it or the text cannot be a tag name.
pub fn tag(index: &Index, name: &str) -> Result<Option<(TagId, String)>> {
    let Ok(n) = normalize_tag_name(name) else { return Ok(None) };
    match st::by_name(index.conn(), &n)? {
        Some(t) => Ok(Some((t, st::primary_name(index.conn(), t)?))),
        None => Ok(None),
    }
}

/// The query "every one of these tags" (implications applied, as in `find`), built as a
/// syntax tree so no name needs quoting.
pub fn all_of(index: &Index, tags: &[TagId]) -> Result<Query> {
    let mut terms = Vec::with_capacity(tags.len());
    for t in tags {
        terms.push(Expr::Tag(NamePattern::literal(st::primary_name(index.conn(), *t)?)));
    }
    Query::from_expr(index, Expr::And(terms))
}

/// Escapes a tag name (or query text) into one directory name: `%` → `%25`, `/` → `%2F`,
/// and the names `.`, `..` and `@files` get their first byte escaped. [`unescape`] inverts it.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, ch) in name.char_indices() {
        match ch {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '.' if i == 0 && (name == "." || name == "..") => out.push_str("%2E"),
            '@' if i == 0 && name == "@files" => out.push_str("%40"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes `%XX` escapes in a directory name; `None` when the result is not UTF-8.
pub fn unescape(name: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        if name[i] == b'%'
            && i + 2 < name.len()
            && let Some(b) = std::str::from_utf8(&name[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(name[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Longest file name most filesystems take.
const NAME_MAX: usize = 255;

/// `stem~<id>.ext`: the name a file gets when its basename is not unique in a listing. The
/// stem is shortened (at a character boundary when it is UTF-8) so the name fits 255 bytes.
pub fn tagged_name(basename: &[u8], id: FileId) -> Vec<u8> {
    let dot = basename.iter().rposition(|&b| b == b'.').filter(|&d| d > 0);
    let (stem, ext) = match dot {
        Some(d) => (&basename[..d], &basename[d..]),
        None => (basename, &b""[..]),
    };
    let suffix = format!("~{}", id.0);
    let mut ext = ext;
    if ext.len() + suffix.len() + 1 > NAME_MAX {
        ext = &ext[..0];
    }
    let room = NAME_MAX - suffix.len() - ext.len();
    let mut stem = &stem[..stem.len().min(room)];
    while std::str::from_utf8(stem).is_err_and(|e| e.error_len().is_none() && e.valid_up_to() > 0) {
        stem = &stem[..stem.len() - 1];
    }
    let mut out = stem.to_vec();
    out.extend_from_slice(suffix.as_bytes());
    out.extend_from_slice(ext);
    out
}

/// The file id in a `stem~<id>.ext` name, if it has that shape.
pub fn id_in_name(name: &[u8]) -> Option<FileId> {
    let tilde = name.iter().rposition(|&b| b == b'~')?;
    let rest = &name[tilde + 1..];
    let end = rest.iter().position(|&b| b == b'.').unwrap_or(rest.len());
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return None;
    }
    let id: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(FileId(id))
}

/// The last component of a record's path.
pub fn basename(r: &FileRecord) -> &[u8] {
    basename_of(r.path_bytes())
}

/// The last component of a path given as bytes.
pub fn basename_of(path: &[u8]) -> &[u8] {
    std::path::Path::new(std::ffi::OsStr::from_bytes(path)).file_name().map_or(path, |n| n.as_bytes())
}

/// Names for the entries of one listing: each file's basename when no other file in the
/// listing has it, else `stem~<id>.ext` for every member of the collision. The result is
/// deterministic and has no duplicates, even when a real basename looks like a generated one.
pub fn entry_names(files: &[(FileId, &[u8])]) -> Vec<Vec<u8>> {
    let mut count: HashMap<&[u8], u32> = HashMap::with_capacity(files.len());
    for (_, b) in files {
        *count.entry(b).or_default() += 1;
    }
    let collided = count.values().any(|&n| n > 1);
    let mut names: Vec<Vec<u8>> =
        files.iter().map(|(id, b)| if count[b] > 1 { tagged_name(b, *id) } else { b.to_vec() }).collect();
    drop(count);
    // A real basename equal to a generated name: the plain one takes its own `~id` too.
    // Generated names embed distinct ids, so this settles in a round or two. (No collision:
    // the names are distinct basenames, nothing to check.)
    for _ in 0..if collided { 4 } else { 0 } {
        let clash: Vec<usize> = {
            let mut seen: HashMap<&[u8], u32> = HashMap::with_capacity(names.len());
            for n in &names {
                *seen.entry(n.as_slice()).or_default() += 1;
            }
            if seen.values().all(|&n| n == 1) {
                break;
            }
            (0..files.len()).filter(|&i| seen[names[i].as_slice()] > 1 && names[i].as_slice() == files[i].1).collect()
        };
        for i in clash {
            names[i] = tagged_name(files[i].1, files[i].0);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_basenames_stay_plain_and_every_member_of_a_collision_gets_its_id() {
        let f = [(FileId(1), &b"a.flac"[..]), (FileId(2), b"b.flac"), (FileId(7), b"a.flac")];
        let n = entry_names(&f);
        assert_eq!(n, vec![b"a~1.flac".to_vec(), b"b.flac".to_vec(), b"a~7.flac".to_vec()]);
        assert_eq!(id_in_name(b"a~7.flac"), Some(FileId(7)));
        assert_eq!(id_in_name(b"a.flac"), None);
        assert_eq!(id_in_name(b"x~07.txt"), None);
    }

    #[test]
    fn names_without_extension_dotfiles_and_long_names() {
        assert_eq!(tagged_name(b"README", FileId(3)), b"README~3");
        assert_eq!(tagged_name(b".bashrc", FileId(3)), b".bashrc~3");
        assert_eq!(tagged_name(b"a.tar.gz", FileId(3)), b"a.tar~3.gz");
        let long = vec![b'n'; 255];
        let t = tagged_name(&long, FileId(12345));
        assert_eq!(t.len(), 255);
        assert_eq!(id_in_name(&t), Some(FileId(12345)));
        // A UTF-8 stem is cut at a character boundary.
        let mut u = "é".repeat(127).into_bytes();
        u.extend_from_slice(b".txt");
        let t = tagged_name(&u, FileId(9));
        assert!(t.len() <= 255 && std::str::from_utf8(&t).is_ok(), "{t:?}");
    }

    #[test]
    fn a_real_name_that_looks_generated_does_not_collide() {
        let f = [(FileId(5), &b"a.txt"[..]), (FileId(6), b"a.txt"), (FileId(9), b"a~5.txt")];
        let n = entry_names(&f);
        let mut s = n.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 3, "{n:?}");
        assert_eq!(n[2], b"a~5~9.txt");
    }

    #[test]
    fn escaping_round_trips() {
        for t in ["rock/pop", "100%", ".", "..", "@files", "a:b", "é/ü%2F"] {
            let e = escape(t);
            assert!(!e.contains('/') && e != "." && e != ".." && e != "@files", "{e}");
            assert_eq!(unescape(e.as_bytes()).as_deref(), Some(t));
        }
    }
}
