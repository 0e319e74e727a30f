//! Tagging rules: named, re-runnable functions from what is known about a file (its path,
//! its record, its extracted metadata) to tags. Every link a rule makes carries the source
//! `rule:<name>`.
//!
//! Policy:
//! - A rule only ever adds and removes links whose source is its own `rule:<name>`. A tag
//!   the file has from any other source (manual, an import, another rule) is never touched;
//!   when a rule wants a tag the file already has by hand, the rule's own link is added
//!   beside it, so reverting the rule leaves the manual one.
//! - Applying is idempotent: per file, `want` (what the rule gives now) is compared with
//!   `have` (the rule's links); `want − have` is linked and `have − want` unlinked. A second
//!   apply with the same inputs changes nothing.
//! - A rule never deletes a tag, only its own links (a tag left with no files stays).
//! - Missing records are left alone (their links are kept: the file may come back).
//! - The rules themselves (file format, patterns, templates) live outside core (crate
//!   `trove-rules`); core only sees the [`Rule`] trait.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::meta::Meta;
use crate::model::{FileId, FileRecord, FileState, Source, TagId, fold, normalize_tag_name, now_unix};
use crate::ops::find::Query;
use crate::ops::include::ensure_tags;
use crate::ops::{Phase, Progress, Unit};
use crate::store::{files, links, meta, tags};
use crate::{Index, Result};

/// Files whose changes one write transaction stores.
const BATCH: usize = 2_000;

/// The phase label of an apply.
pub const APPLYING: Phase = Phase { label: "applying rules", unit: Unit::Files };

/// One rule, as core needs it.
pub trait Rule: Send + Sync {
    /// The rule's name; its links carry the source `rule:<name>`.
    fn name(&self) -> &str;
    /// A query (trove's query language) a file must match for the rule to give it tags.
    fn query(&self) -> Option<&str> {
        None
    }
    /// The tags the rule gives this file now (empty when its conditions do not hold).
    /// Names that are not valid tag names are left out by the caller.
    fn tags(&self, file: &FileRecord, meta: Option<&Meta>) -> Vec<String>;
}

/// Which files a preview or an apply looks at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every record that is not missing.
    All,
    /// These records (missing ones are skipped).
    Files(&'a [FileId]),
}

/// What a rule changes on one file.
#[derive(Debug, Clone)]
pub struct Change {
    /// The file.
    pub file: FileRecord,
    /// Tag names the rule would link (new tags included).
    pub add: Vec<String>,
    /// The rule's links it would remove: (tag, its primary name).
    pub remove: Vec<(TagId, String)>,
    /// The rule's links that stay as they are.
    pub kept: usize,
}

/// One rule's preview or apply.
#[derive(Debug, Clone, Default)]
pub struct RuleReport {
    /// The rule's name (its links carry the source `rule:NAME`).
    pub rule: String,
    /// Files looked at.
    pub files_seen: u64,
    /// Files the rule gives at least one tag.
    pub files_matched: u64,
    /// Files with something to add or remove (only those), in path order.
    pub changes: Vec<Change>,
    /// Links added by an apply (0 in a preview: see `changes`).
    pub links_added: u64,
    /// The rule's links an apply removed because the rule no longer gives that tag (0 in a
    /// preview).
    pub links_removed: u64,
    /// The rule's links that were already right.
    pub links_kept: u64,
    /// Tags that did not exist (created by an apply).
    pub tags_created: Vec<String>,
    /// Names the rule produced that are not valid tag names, with why (one of each).
    pub bad_names: Vec<(String, String)>,
    /// Warnings from the rule's query (unknown tags).
    pub warnings: Vec<String>,
}

/// What each rule would change, without writing.
pub fn preview(index: &Index, rules: &[&dyn Rule], scope: Scope<'_>) -> Result<Vec<RuleReport>> {
    let records = records_in(index, scope)?;
    rules.iter().map(|r| plan(index, *r, &records)).collect()
}

/// Applies each rule to the files in `scope`: links what it gives, unlinks what it no
/// longer gives (its own links only). Batches of files per transaction.
pub fn apply(
    index: &mut Index,
    rules: &[&dyn Rule],
    scope: Scope<'_>,
    progress: &dyn Progress,
) -> Result<Vec<RuleReport>> {
    let records = records_in(index, scope)?;
    let mut out = Vec::new();
    progress.begin(APPLYING, Some((records.len() * rules.len()) as u64));
    for rule in rules {
        // Each rule's writes are one operation in the history, by `rule:NAME` (one
        // `trove undo` takes a rule's run back).
        index.set_operation(&format!("rule:{}", rule.name()), &format!("rules apply {}", rule.name()));
        let mut rep = plan(index, *rule, &records)?;
        let source = Source::Rule(rule.name().to_string());
        let mut created = BTreeSet::new();
        for chunk in rep.changes.chunks(BATCH) {
            let now = now_unix();
            let (added, removed, new) = index.write(|tx| {
                let src = links::source_id(tx, &source)?;
                let (mut added, mut removed, mut new) = (0u64, 0u64, Vec::new());
                for ch in chunk {
                    let (ids, made) = ensure_tags(tx, &ch.add, now)?;
                    new.extend(made);
                    for t in ids {
                        added += u64::from(links::link(tx, ch.file.id, t, src, now)?);
                    }
                    for (t, _) in &ch.remove {
                        removed += links::unlink(tx, ch.file.id, *t, Some(src))? as u64;
                    }
                }
                Ok((added, removed, new))
            })?;
            rep.links_added += added;
            rep.links_removed += removed;
            created.extend(new);
        }
        progress.advance(records.len() as u64);
        rep.tags_created = created.into_iter().collect();
        out.push(rep);
    }
    progress.finish();
    Ok(out)
}

/// Removes every link the rule `name` made (whether or not the rule still exists), in one
/// transaction; how many. Tags are kept, and so are the same tags from other sources.
pub fn revert(index: &mut Index, name: &str) -> Result<u64> {
    let source = Source::Rule(name.to_string());
    index.set_operation(&format!("rule:{name}"), &format!("rules revert {name}"));
    index.write(|tx| Ok(links::unlink_source(tx, &source)? as u64))
}

/// How many links the rule `name` has in the index.
pub fn link_count(index: &Index, name: &str) -> Result<u64> {
    Ok(links::by_source(index.conn(), &Source::Rule(name.to_string()))?.len() as u64)
}

fn records_in(index: &Index, scope: Scope<'_>) -> Result<Vec<FileRecord>> {
    let c = index.conn();
    let mut out = Vec::new();
    match scope {
        Scope::All => files::for_each(c, |r| {
            if r.state != FileState::Missing {
                out.push(r);
            }
            Ok(())
        })?,
        Scope::Files(ids) => {
            let mut seen = HashSet::new();
            for id in ids {
                if seen.insert(*id)
                    && let Some(r) = files::by_id(c, *id)?
                    && r.state != FileState::Missing
                {
                    out.push(r);
                }
            }
            out.sort_by(|a, b| a.path.cmp(&b.path).then(a.id.cmp(&b.id)));
        }
    }
    Ok(out)
}

fn plan(index: &Index, rule: &dyn Rule, records: &[FileRecord]) -> Result<RuleReport> {
    let c = index.conn();
    let mut rep = RuleReport { rule: rule.name().to_string(), ..RuleReport::default() };
    let mut have: HashMap<FileId, BTreeSet<TagId>> = HashMap::new();
    for (f, t) in links::by_source(c, &Source::Rule(rule.name().to_string()))? {
        have.entry(f).or_default().insert(t);
    }
    let allowed: Option<HashSet<FileId>> = match rule.query() {
        Some(q) => {
            let q = Query::new(index, q)?;
            rep.warnings = q.warnings().to_vec();
            Some(q.collect(index, None)?.into_iter().map(|r| r.id).collect())
        }
        None => None,
    };
    let mut ids_by_name: HashMap<String, Option<TagId>> = HashMap::new();
    let mut names: HashMap<TagId, String> = HashMap::new();
    let mut bad: BTreeMap<String, String> = BTreeMap::new();
    for r in records {
        rep.files_seen += 1;
        let wanted = if allowed.as_ref().is_none_or(|a| a.contains(&r.id)) {
            let m = meta::get(c, r.id)?;
            rule.tags(r, m.as_ref().map(|s| &s.meta))
        } else {
            Vec::new()
        };
        // Resolve to tags: by any name, case-insensitively (an alias counts).
        let mut want_ids: BTreeSet<TagId> = BTreeSet::new();
        let mut new_names: BTreeMap<String, String> = BTreeMap::new();
        for w in wanted {
            let n = match normalize_tag_name(&w) {
                Ok(n) => n,
                Err(e) => {
                    if bad.len() < 100 {
                        bad.entry(w).or_insert_with(|| e.to_string());
                    }
                    continue;
                }
            };
            let key = fold(&n);
            let id = match ids_by_name.get(&key) {
                Some(id) => *id,
                None => {
                    let id = tags::by_name(c, &n)?;
                    ids_by_name.insert(key.clone(), id);
                    id
                }
            };
            match id {
                Some(id) => {
                    want_ids.insert(id);
                }
                None => {
                    new_names.entry(key).or_insert(n);
                }
            }
        }
        if !want_ids.is_empty() || !new_names.is_empty() {
            rep.files_matched += 1;
        }
        let had = have.remove(&r.id).unwrap_or_default();
        let mut add: Vec<String> = Vec::new();
        for t in want_ids.difference(&had) {
            add.push(name_of(c, &mut names, *t)?);
        }
        add.extend(new_names.into_values());
        let mut remove = Vec::new();
        for t in had.difference(&want_ids) {
            remove.push((*t, name_of(c, &mut names, *t)?));
        }
        let kept = had.intersection(&want_ids).count();
        rep.links_kept += kept as u64;
        if !add.is_empty() || !remove.is_empty() {
            add.sort_by_key(|a| fold(a));
            rep.changes.push(Change { file: r.clone(), add, remove, kept });
        }
    }
    rep.bad_names = bad.into_iter().collect();
    Ok(rep)
}

fn name_of(c: &rusqlite::Connection, cache: &mut HashMap<TagId, String>, t: TagId) -> Result<String> {
    if let Some(n) = cache.get(&t) {
        return Ok(n.clone());
    }
    let n = tags::primary_name(c, t)?;
    cache.insert(t, n.clone());
    Ok(n)
}

/// Would-be link counts of a preview: (added, removed).
pub fn totals(rep: &RuleReport) -> (u64, u64) {
    rep.changes.iter().fold((0, 0), |(a, r), ch| (a + ch.add.len() as u64, r + ch.remove.len() as u64))
}
