//! `tag` and `untag`: put tags on files and take them off.
//!
//! Tagging a path that is not indexed includes it first (the report says so). Tagging a
//! record whose file is missing still works: the record is what carries tags. `untag`
//! removes a tag from every source unless one source is named, and says when a tag the user
//! tried to remove is only implied.

use std::path::PathBuf;

use crate::model::{FileId, Source, TagId, now_unix};
use crate::ops::include::{self, IncludeOptions, IncludeReport, check_tag_names, ensure_tags};
use crate::ops::{Progress, find::Query};
use crate::store::{files, links, tags};
use crate::{Error, Index, Result};

/// What tagging files by path did.
#[derive(Debug, Default)]
pub struct TagReport {
    /// Files that were not indexed and were included to carry the tags.
    pub included: Vec<PathBuf>,
    /// Files the tags now sit on.
    pub files: usize,
    /// New links (a tag the file already had from this source is not counted).
    pub links_added: u64,
    /// Tags that did not exist and were created.
    pub tags_created: Vec<String>,
    /// Paths that could not be tagged, each with its reason; the others were.
    pub failed: Vec<Error>,
}

/// Resolves `paths` (absolute) to records: exact paths, and with `recursive` everything
/// under a directory. Paths with no record are returned separately.
pub fn records_for(
    index: &Index,
    paths: &[PathBuf],
    recursive: bool,
) -> Result<(Vec<FileId>, Vec<PathBuf>, Vec<Error>)> {
    let c = index.conn();
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let here = files::all_at(c, p)?;
        let is_dir = std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false);
        if !here.is_empty() {
            ids.extend(here.iter().map(|r| r.id));
            continue;
        }
        let under = files::under(c, p)?;
        if under.is_empty() {
            unknown.push(p.clone());
        } else if recursive {
            ids.extend(under.iter().map(|r| r.id));
        } else if is_dir || !under.is_empty() {
            errors.push(Error::IsDirectory(p.clone()));
        }
    }
    ids.sort();
    ids.dedup();
    Ok((ids, unknown, errors))
}

/// Tags files by path; unindexed files on disk are included first.
pub fn tag_paths(
    index: &mut Index,
    paths: &[PathBuf],
    tag_names: &[String],
    recursive: bool,
    source: &Source,
    progress: &dyn Progress,
) -> Result<TagReport> {
    let names = check_tag_names(tag_names)?;
    let mut report = TagReport::default();
    // Files on disk go through include: it adds the unknown ones and tags everything, and
    // for known unchanged files it costs a stat.
    let mut on_disk = Vec::new();
    let mut records = Vec::new();
    for p in paths {
        if std::fs::symlink_metadata(p).is_ok() {
            on_disk.push(p.clone());
        } else {
            let (ids, unknown, errs) = records_for(index, std::slice::from_ref(p), recursive)?;
            records.extend(ids);
            report.failed.extend(errs);
            report.failed.extend(unknown.into_iter().map(Error::NoSuchFile));
        }
    }
    if !on_disk.is_empty() {
        let opts = IncludeOptions {
            recursive,
            tags: names.clone(),
            dry_run: false,
            source: source.clone(),
            add_roots: false,
            extractor: None,
        };
        let r: IncludeReport = include::include(index, &on_disk, &opts, progress)?;
        report.included = r.files.iter().filter(|f| f.2 == include::Outcome::Added).map(|f| f.0.clone()).collect();
        report.files += r.files.len();
        report.links_added += r.links_added;
        report.tags_created.extend(r.tags_created);
        report.failed.extend(r.failed);
    }
    if !records.is_empty() {
        let IdsTagged { links_added: added, tags_created: created } = tag_ids(index, &records, &names, source)?;
        report.files += records.len();
        report.links_added += added;
        report.tags_created.extend(created);
    }
    report.tags_created.sort();
    report.tags_created.dedup();
    Ok(report)
}

/// What [`tag_ids`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdsTagged {
    /// Links added (those that existed already are not counted).
    pub links_added: u64,
    /// The tags created because they did not exist yet.
    pub tags_created: Vec<String>,
}

/// Tags records by id, in one transaction.
pub fn tag_ids(index: &mut Index, ids: &[FileId], names: &[String], source: &Source) -> Result<IdsTagged> {
    // Nothing to tag: create no tag either (`tag -q` that matches nothing).
    if ids.is_empty() {
        check_tag_names(names)?;
        return Ok(IdsTagged::default());
    }
    let names = check_tag_names(names)?;
    let now = now_unix();
    index.write(|tx| {
        let (tids, created) = ensure_tags(tx, &names, now)?;
        let src = links::source_id(tx, source)?;
        let mut added = 0;
        for id in ids {
            for t in &tids {
                added += u64::from(links::link(tx, *id, *t, src, now)?);
            }
        }
        Ok(IdsTagged { links_added: added, tags_created: created })
    })
}

/// Tags every file matching `query`.
pub fn tag_query(
    index: &mut Index,
    query: &str,
    names: &[String],
    source: &Source,
) -> Result<(usize, u64, Vec<String>, Vec<String>)> {
    let q = Query::new(index, query)?;
    let ids: Vec<FileId> = q.collect(index, None)?.into_iter().map(|r| r.id).collect();
    let IdsTagged { links_added: added, tags_created: created } = tag_ids(index, &ids, names, source)?;
    Ok((ids.len(), added, created, q.warnings().to_vec()))
}

/// What removing tags from files did.
#[derive(Debug, Default)]
pub struct UntagReport {
    /// Files asked about (records found).
    pub files: usize,
    /// Links removed.
    pub links_removed: u64,
    /// Paths with no record.
    pub not_indexed: Vec<PathBuf>,
    /// Tag names that do not exist.
    pub unknown_tags: Vec<String>,
    /// (tag, file count): the tag was not on these files directly but implied there.
    pub only_implied: Vec<(String, usize)>,
    /// Paths that could not be resolved, each with its reason.
    pub failed: Vec<Error>,
    /// Query warnings (unknown tags in the query), for `untag_query`.
    pub warnings: Vec<String>,
}

/// Removes tags from files by path (from every source, or from `source` only).
pub fn untag_paths(
    index: &mut Index,
    paths: &[PathBuf],
    tag_names: &[String],
    recursive: bool,
    source: Option<&Source>,
) -> Result<UntagReport> {
    check_tag_names(tag_names)?;
    let (ids, unknown, errors) = records_for(index, paths, recursive)?;
    let mut report = untag_ids(index, &ids, tag_names, source)?;
    report.not_indexed = unknown;
    report.failed = errors;
    Ok(report)
}

/// Removes tags from every file a query matches (from every source, or `source` only).
pub fn untag_query(
    index: &mut Index,
    query: &str,
    tag_names: &[String],
    source: Option<&Source>,
) -> Result<UntagReport> {
    check_tag_names(tag_names)?;
    let q = Query::new(index, query)?;
    let ids: Vec<FileId> = q.collect(index, None)?.into_iter().map(|r| r.id).collect();
    let mut report = untag_ids(index, &ids, tag_names, source)?;
    report.warnings = q.warnings().to_vec();
    Ok(report)
}

/// Removes tags from the records `ids` (from every source, or from `source` only); a tag
/// that is only implied on a file is reported in `only_implied`, not removed.
pub fn untag_ids(
    index: &mut Index,
    ids: &[FileId],
    tag_names: &[String],
    source: Option<&Source>,
) -> Result<UntagReport> {
    let names = check_tag_names(tag_names)?;
    let mut report = UntagReport { files: ids.len(), ..UntagReport::default() };
    let mut tids: Vec<(String, TagId)> = Vec::new();
    for n in &names {
        match tags::by_name(index.conn(), n)? {
            Some(t) => tids.push((n.clone(), t)),
            None => report.unknown_tags.push(n.clone()),
        }
    }
    let (removed, implied) = index.write(|tx| {
        let src = match source {
            Some(s) => Some(links::source_id(tx, s)?),
            None => None,
        };
        let mut removed = 0;
        let mut implied: Vec<(String, usize)> = Vec::new();
        let mut labeler = links::Labeler::new(tx)?;
        for (name, t) in &tids {
            let mut implied_here = 0;
            for id in ids {
                let n = links::unlink(tx, *id, *t, src)? as u64;
                removed += n;
                if n == 0 && labeler.of_file(*id)?.iter().any(|f| f.implied && f.tag == *t) {
                    implied_here += 1;
                }
            }
            if implied_here > 0 {
                implied.push((name.clone(), implied_here));
            }
        }
        Ok((removed, implied))
    })?;
    report.links_removed = removed;
    report.only_implied = implied;
    Ok(report)
}
