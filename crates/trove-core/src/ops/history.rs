//! The operation log: `trove log`, `undo`, `history FILE`, `find --at`, `log --prune`.
//!
//! Every write through [`Index::write`] is an operation recorded in the same transaction
//! (migration 0010's triggers); the writes made between two [`Index::set_operation`] calls
//! are one group, which is what these functions call an operation and number (its first
//! op's id). See docs/history.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::model::{FileRecord, fold, now_unix};
use crate::store::find::compile;
use crate::store::history::{self as h, Key, Net, Val};
use crate::store::postings;
use crate::{Error, Index, Result};

/// What an operation changed, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tag links put on files.
    pub links_added: u64,
    /// Tag links taken off files.
    pub links_removed: u64,
    /// Tag names and aliases added (a new tag's primary name counts).
    pub names_added: u64,
    /// Tag names and aliases removed.
    pub names_removed: u64,
    /// Tags created.
    pub tags_added: u64,
    /// Tags deleted.
    pub tags_removed: u64,
    /// Implications declared.
    pub implications_added: u64,
    /// Implications removed.
    pub implications_removed: u64,
    /// Pools created.
    pub pools_added: u64,
    /// Pools deleted.
    pub pools_removed: u64,
    /// Files placed in a pool.
    pub members_added: u64,
    /// Files taken out of a pool.
    pub members_removed: u64,
    /// File records created.
    pub files_added: u64,
    /// File records forgotten.
    pub files_removed: u64,
    /// Records whose path changed.
    pub moves: u64,
    /// Link sources (`rule:NAME`, `import:TOOL`, …) seen for the first time.
    pub sources_added: u64,
}

impl Counts {
    fn from_kinds(k: &[u64; 18]) -> Counts {
        Counts {
            links_added: k[1],
            links_removed: k[2],
            names_added: k[3],
            names_removed: k[4],
            tags_added: k[5],
            tags_removed: k[6],
            implications_added: k[7],
            implications_removed: k[8],
            pools_added: k[9],
            pools_removed: k[10],
            members_added: k[11],
            members_removed: k[12],
            files_added: k[13],
            files_removed: k[14],
            moves: k[15],
            sources_added: k[17],
        }
    }

    /// "+3 links, -1 link, 2 moves" style text; empty parts left out.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        let mut part = |n: u64, sign: &str, one: &str, many: &str| {
            if n > 0 {
                v.push(format!("{sign}{n} {}", if n == 1 { one } else { many }));
            }
        };
        part(self.links_added, "+", "link", "links");
        part(self.links_removed, "-", "link", "links");
        part(self.tags_added, "+", "tag", "tags");
        part(self.tags_removed, "-", "tag", "tags");
        part(self.names_added, "+", "name", "names");
        part(self.names_removed, "-", "name", "names");
        part(self.implications_added, "+", "implication", "implications");
        part(self.implications_removed, "-", "implication", "implications");
        part(self.pools_added, "+", "pool", "pools");
        part(self.pools_removed, "-", "pool", "pools");
        part(self.members_added, "+", "pool entry", "pool entries");
        part(self.members_removed, "-", "pool entry", "pool entries");
        part(self.files_added, "+", "file", "files");
        part(self.files_removed, "-", "file", "files");
        part(self.moves, "", "move", "moves");
        v.join(", ")
    }
}

/// One operation of the log (a group of one or more transactions).
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its number (`trove undo N`, `find --at N`).
    pub id: i64,
    /// Unix seconds of its first transaction.
    pub at: i64,
    /// Who made it: `cli`, `watch`, `api:<key>`, `import:<tool>`, `rule:<name>`.
    pub actor: String,
    /// What it was, e.g. the command line that ran it.
    pub summary: String,
    /// The operation this one undid.
    pub undoes: Option<i64>,
    /// How many transactions it took.
    pub transactions: u64,
    /// What it changed.
    pub counts: Counts,
}

/// What `trove log` lists.
#[derive(Debug, Clone, Copy)]
pub enum LogFilter<'a> {
    /// Every operation.
    All,
    /// Operations that touched this file (its links, record, path, pool places).
    File(&'a Path),
    /// Operations that touched this tag (links, names, implications).
    Tag(&'a str),
}

/// Operations newest first, at most `limit`.
pub fn log(index: &Index, filter: LogFilter<'_>, limit: u64) -> Result<Vec<Operation>> {
    let c = index.conn();
    let (file, tag) = match filter {
        LogFilter::All => (None, None),
        LogFilter::File(p) => (Some(file_id(index, p)?), None),
        LogFilter::Tag(t) => (None, Some(tag_id(index, t)?)),
    };
    let rows = h::groups(c, file, tag, limit)?;
    Ok(rows
        .into_iter()
        .map(|r| Operation {
            id: r.grp,
            at: r.at,
            actor: r.actor,
            summary: r.summary,
            undoes: r.undoes,
            transactions: (r.last - r.first + 1).max(1) as u64,
            counts: Counts::from_kinds(&r.counts),
        })
        .collect())
}

/// Who made operation `op` (`cli`, `api:phone`, …); `None` when there is no such operation.
pub fn actor_of(index: &Index, op: i64) -> Result<Option<String>> {
    h::group_actor(index.conn(), op)
}

/// The record id a path names now, or named in the log.
fn file_id(index: &Index, p: &Path) -> Result<i64> {
    let c = index.conn();
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str());
    let id: Option<i64> = c
        .prepare_cached(
            "SELECT id FROM (
               SELECT id, 0 AS o FROM files WHERE path = ?1
               UNION ALL SELECT file, 1 FROM op_changes WHERE kind IN (13, 14, 15) AND (v = ?1 OR w = ?1)
             ) ORDER BY o LIMIT 1",
        )?
        .query_row([bytes], |r| r.get(0))
        .ok();
    id.ok_or_else(|| Error::NotIndexed(p.to_path_buf()))
}

/// The tag a name names now, or named in the log.
fn tag_id(index: &Index, name: &str) -> Result<i64> {
    let c = index.conn();
    if let Some(t) = crate::store::tags::by_name(c, name)? {
        return Ok(t.0);
    }
    let id: Option<i64> = c
        .prepare_cached("SELECT tag FROM op_changes WHERE kind IN (3, 4) AND v = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([fold(name)], |r| r.get(0))
        .ok();
    id.ok_or_else(|| Error::UnknownTag(name.to_string()))
}

/// A row that `undo` could not put back, and the later operations that changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The row, in words (`link cat on /a/b.jpg (manual)`).
    pub what: String,
    /// Why it was left alone.
    pub reason: String,
    /// Later operations that changed it.
    pub later: Vec<i64>,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)?;
        if !self.later.is_empty() {
            let ops: Vec<String> = self.later.iter().map(|o| o.to_string()).collect();
            write!(f, " (by op {})", ops.join(", "))?;
        }
        Ok(())
    }
}

/// What `undo` did.
#[derive(Debug, Clone)]
pub struct UndoReport {
    /// The operation undone.
    pub undone: i64,
    /// The new operation that undid it (None when nothing could be changed).
    pub op: Option<i64>,
    /// Rows put back.
    pub restored: u64,
    /// Rows left alone (only with `force`).
    pub skipped: Vec<Conflict>,
}

fn describe(c: &rusqlite::Connection, k: &Key) -> Result<String> {
    let path = |id: i64| -> Result<String> {
        Ok(h::file_path(c, id)?.map_or_else(|| format!("file #{id}"), |p| String::from_utf8_lossy(&p).into_owned()))
    };
    Ok(match k {
        Key::Link(t, f, s) => format!("tag {} on {} ({})", h::tag_label(c, *t)?, path(*f)?, h::source_label(c, *s)?),
        Key::Name(n) => format!("tag name {n}"),
        Key::Tag(t) => format!("tag {}", h::tag_label(c, *t)?),
        Key::Implication(a, b) => format!("{} ⇒ {}", h::tag_label(c, *a)?, h::tag_label(c, *b)?),
        Key::Pool(p) => format!("pool {}", h::pool_title(c, *p)?),
        Key::Member(p, pos) => format!("place {pos} of pool {}", h::pool_title(c, *p)?),
        Key::File(f) => format!("record of {}", path(*f)?),
        Key::Source(s) => format!("source {}", h::source_label(c, *s)?),
        Key::Decision(a, b) => format!("duplicate decision about {} and {}", path(*a)?, path(*b)?),
    })
}

/// Reverts operation `op` (the latest when `None`) as a new operation, so an undo can be
/// undone in turn. Each row the operation changed goes back to its state before, when it
/// is still in the state the operation left it in. When a later operation changed one of
/// them, nothing is done and [`Error::UndoConflict`] names the rows and the operations;
/// with `force` the other rows are put back and the rest reported.
pub fn undo(index: &mut Index, op: Option<i64>, force: bool) -> Result<UndoReport> {
    let out = index.write(|tx| {
        let grp = match op {
            Some(g) => g,
            None => {
                let me = h::recording(tx)?.unwrap_or(0);
                tx.prepare_cached("SELECT grp FROM ops WHERE id <> ?1 AND grp <> ?1 ORDER BY id DESC LIMIT 1")?
                    .query_row([me], |r| r.get(0))
                    .map_err(|_| Error::NothingToUndo)?
            }
        };
        let Some((_first, last, _)) = h::group_span(tx, grp)? else {
            return Err(Error::UnknownOp(grp));
        };
        let changes = h::changes_of_group(tx, grp)?;
        let net = Net::of(&changes);
        let mut conflicts = Vec::new();
        let mut plan = Vec::new();
        for k in &net.order {
            // Sources are never removed (a source is a name links point at, not a change).
            if matches!(k, Key::Source(_)) {
                continue;
            }
            let (before, after) = &net.map[k];
            let now = h::current(tx, k)?;
            if h::same(&now, after) {
                plan.push((k.clone(), before.clone()));
            } else {
                conflicts.push(Conflict {
                    what: describe(tx, k)?,
                    reason: "changed since".into(),
                    later: h::later_groups(tx, last, k)?,
                });
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(Error::UndoConflict { op: grp, conflicts });
        }
        let blocked = h::apply(tx, &plan)?;
        for b in &blocked {
            conflicts.push(Conflict {
                what: describe(tx, &b.key)?,
                reason: b.reason.into(),
                later: h::later_groups(tx, last, &b.key)?,
            });
        }
        if !blocked.is_empty() && !force {
            return Err(Error::UndoConflict { op: grp, conflicts });
        }
        h::mark_undo(tx, grp)?;
        let restored = (plan.len() - blocked.len()) as u64;
        Ok((grp, restored, conflicts, h::recording(tx)?))
    })?;
    let (undone, restored, skipped, me) = out;
    let op = match me {
        Some(me) => h::group_of(index.conn(), me)?,
        None => None,
    };
    Ok(UndoReport { undone, op, restored, skipped })
}

/// One step of a file's history.
#[derive(Debug, Clone)]
pub struct FileEvent {
    /// The operation's number.
    pub op: i64,
    /// Unix seconds of the operation's first transaction.
    pub at: i64,
    /// Who made the operation ([`Operation::actor`]).
    pub actor: String,
    /// What the operation was ([`Operation::summary`]).
    pub summary: String,
    /// Tags (with their source when not manual: `cat (rule:x)`) linked by this operation.
    pub added: Vec<String>,
    /// Tags unlinked by this operation, written as in `added`.
    pub removed: Vec<String>,
    /// The record was created (true) or forgotten (false) by this operation.
    pub record: Option<bool>,
    /// Its path before and after, when it moved.
    pub moved: Option<(PathBuf, PathBuf)>,
    /// It went missing (true) or came back (false).
    pub missing: Option<bool>,
    /// The file's tag names after this operation, sorted.
    pub tags: Vec<String>,
}

/// A file's tag sets and paths over time.
#[derive(Debug, Clone)]
pub struct FileHistory {
    /// The file record's id (kept in the log after the record is forgotten).
    pub id: i64,
    /// Its path now, or the path asked about when the record is gone.
    pub path: PathBuf,
    /// Oldest first.
    pub events: Vec<FileEvent>,
}

/// The history of the file at `path` (now, or once: a forgotten record is found by the
/// paths the log saw).
pub fn history(index: &Index, path: &Path) -> Result<FileHistory> {
    let id = file_id(index, path)?;
    let c = index.conn();
    let changes = h::changes_of_file(c, id)?;
    // Current links of the file: (tag, source).
    let mut links: BTreeSet<(i64, i64)> = BTreeSet::new();
    {
        let mut st = c.prepare_cached("SELECT tag_id, source_id FROM file_tags WHERE file_id = ?1")?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            links.insert(r?);
        }
    }
    // Group the changes by operation group, keeping order.
    let mut by_op: BTreeMap<i64, Vec<&h::Change>> = BTreeMap::new();
    let mut grp_of = c.prepare_cached("SELECT grp, at, actor, summary FROM ops WHERE id = ?1")?;
    let mut meta: BTreeMap<i64, (i64, String, String)> = BTreeMap::new();
    for ch in &changes {
        let (g, at, actor, summary): (i64, i64, String, String) =
            grp_of.query_row([ch.op], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        meta.entry(g).or_insert((at, actor, summary));
        by_op.entry(g).or_default().push(ch);
    }
    let label = |t: i64, s: i64| -> Result<String> {
        let name = h::tag_label(c, t)?;
        let src = h::source_label(c, s)?;
        Ok(if src == "manual" { name } else { format!("{name} ({src})") })
    };
    let tagset = |links: &BTreeSet<(i64, i64)>| -> Result<Vec<String>> {
        let tags: BTreeSet<i64> = links.iter().map(|(t, _)| *t).collect();
        let mut v = tags.into_iter().map(|t| h::tag_label(c, t)).collect::<Result<Vec<_>>>()?;
        v.sort();
        Ok(v)
    };
    // Walk back from now: the set after the newest event is today's.
    let mut events = Vec::new();
    for (g, chs) in by_op.iter().rev() {
        let (at, actor, summary) = meta[g].clone();
        let mut ev = FileEvent {
            op: *g,
            at,
            actor,
            summary,
            added: Vec::new(),
            removed: Vec::new(),
            record: None,
            moved: None,
            missing: None,
            tags: tagset(&links)?,
        };
        let mut first_path: Option<Vec<u8>> = None;
        let mut last_path: Option<Vec<u8>> = None;
        for ch in chs.iter().rev() {
            match (&ch.key, &ch.before, &ch.after) {
                (Key::Link(t, _, s), None, Some(_)) => {
                    links.remove(&(*t, *s));
                    ev.added.push(label(*t, *s)?);
                }
                (Key::Link(t, _, s), Some(_), None) => {
                    links.insert((*t, *s));
                    ev.removed.push(label(*t, *s)?);
                }
                (Key::File(_), None, Some(_)) => ev.record = Some(true),
                (Key::File(_), Some(_), None) => ev.record = Some(false),
                (
                    Key::File(_),
                    Some(Val::File { path: p0, state: s0, .. }),
                    Some(Val::File { path: p1, state: s1, .. }),
                ) => {
                    first_path = Some(p0.clone());
                    if last_path.is_none() {
                        last_path = Some(p1.clone());
                    }
                    if (*s0 == 1) != (*s1 == 1) && ev.missing.is_none() {
                        ev.missing = Some(*s1 == 1);
                    }
                }
                _ => {}
            }
        }
        if let (Some(a), Some(b)) = (first_path, last_path)
            && a != b
        {
            ev.moved = Some((crate::paths::from_bytes(&a), crate::paths::from_bytes(&b)));
        }
        ev.added.sort();
        ev.added.dedup();
        ev.removed.sort();
        ev.removed.dedup();
        events.push(ev);
    }
    events.reverse();
    let path = h::file_path(c, id)?.map_or_else(|| path.to_path_buf(), |p| crate::paths::from_bytes(&p));
    Ok(FileHistory { id, path, events })
}

/// A moment in the log: after operation N, or at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Right after this operation (group).
    Op(i64),
    /// The state at this moment (unix seconds).
    Time(i64),
}

/// The last op id included by `at`.
fn resolve(c: &rusqlite::Connection, at: At) -> Result<i64> {
    let (started, pruned) = h::horizon(c)?;
    let upto = match at {
        At::Op(g) => match h::group_span(c, g)? {
            Some((_, last, _)) => last,
            None if g <= pruned => return Err(Error::HistoryPruned { op: g, pruned }),
            None => return Err(Error::UnknownOp(g)),
        },
        At::Time(t) => {
            if t < started {
                return Err(Error::HistoryStartsLater { at: t, started });
            }
            h::last_op_at(c, t)?
        }
    };
    if upto < pruned {
        return Err(Error::HistoryPruned { op: upto, pruned });
    }
    Ok(upto)
}

/// The result of a query evaluated as of a moment.
#[derive(Debug, Clone)]
pub struct AtResult {
    /// The last op whose changes are included.
    pub upto: i64,
    /// Matching files as they were (their paths then).
    pub files: Vec<FileRecord>,
    /// The query's warnings ([`crate::ops::find::Query::warnings`]).
    pub warnings: Vec<String>,
}

/// Evaluates `text` against the index as it was at `at`: every change made after it is
/// reverted inside a transaction that is rolled back, and the ordinary query engine runs
/// on that state. Takes the write lock for the duration (it writes, then throws it away).
pub fn find_at(index: &mut Index, at: At, text: &str, limit: Option<u64>) -> Result<AtResult> {
    let expr = crate::query::parse(text)?;
    let now = now_unix();
    index.dry_run(|tx| {
        let upto = resolve(tx, at)?;
        rewind(tx, upto)?;
        postings::flush(tx, false)?;
        let compiled = compile(tx, &expr, now)?;
        let mut files = Vec::new();
        compiled.for_each(tx, limit, |r| {
            files.push(r);
            Ok(true)
        })?;
        Ok(AtResult { upto, files, warnings: compiled.warnings.clone() })
    })
}

/// Reverts every change made after op `upto` (inside the caller's transaction).
fn rewind(tx: &crate::store::WriteTx<'_>, upto: i64) -> Result<()> {
    let changes = h::changes_between(tx, upto + 1, i64::MAX)?;
    let net = Net::of(&changes);
    let plan: Vec<(Key, Option<Val>)> = net.order.iter().map(|k| (k.clone(), net.map[k].0.clone())).collect();
    h::apply(tx, &plan)?;
    Ok(())
}

/// Builds, in `dest` (a fresh index), the state the log of `src` describes right after
/// operation (group) `upto`, by playing every recorded change forward. The reference
/// `find --at` is tested against. Returns how many rows could not be written.
pub fn replay_into(src: &Index, upto: i64, dest: &mut Index) -> Result<u64> {
    let last = resolve(src.conn(), At::Op(upto))?;
    let changes = h::changes_between(src.conn(), 0, last)?;
    let net = Net::of(&changes);
    let plan: Vec<(Key, Option<Val>)> = net.order.iter().map(|k| (k.clone(), net.map[k].1.clone())).collect();
    let blocked = dest.write(|tx| h::apply(tx, &plan))?;
    Ok(blocked.len() as u64)
}

/// Whether the log and the index agree: every row the log followed is in the state its
/// last recorded change left it in, and nothing is being recorded outside a write. With
/// `complete` (an index whose history starts at its creation and was never pruned), also
/// every link in the index is one the log saw added. Returns the disagreements.
pub fn verify(index: &Index, complete: bool) -> Result<Vec<String>> {
    let c = index.conn();
    let mut problems = Vec::new();
    let open: i64 = c.query_row("SELECT count(*) FROM op_recording", [], |r| r.get(0))?;
    if open > 0 {
        problems.push(format!("{open} operation(s) still marked as recording"));
    }
    let changes = h::changes_between(c, 0, i64::MAX)?;
    let net = Net::of(&changes);
    let mut links = 0u64;
    for k in &net.order {
        let after = &net.map[k].1;
        if matches!(k, Key::Link(..)) && after.is_some() {
            links += 1;
        }
        let now = h::current(c, k)?;
        if !h::same(&now, after) {
            problems.push(format!("{}: the log says {after:?}, the index has {now:?}", describe(c, k)?));
        }
    }
    if complete {
        let n: i64 = c.query_row("SELECT count(*) FROM file_tags", [], |r| r.get(0))?;
        if n as u64 != links {
            problems.push(format!("{n} link(s) in the index, {links} in the log"));
        }
    }
    Ok(problems)
}

/// How big the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Transactions recorded (rows of `ops`; one operation may span several).
    pub operations: u64,
    /// Row changes recorded (rows of `op_changes`).
    pub changes: u64,
    /// Pages of its tables and indexes, in bytes.
    pub bytes: u64,
}

/// The log's size (reads every page of its tables: for reports, not for every command).
pub fn size(index: &Index) -> Result<Size> {
    let (operations, changes, bytes) = h::size(index.conn())?;
    Ok(Size { operations, changes, bytes })
}

/// What `trove log --prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Operations removed.
    pub ops: u64,
    /// Logged row changes removed with them.
    pub changes: u64,
}

/// Forgets the operations made before `before` (unix seconds), whole groups only. They can
/// no longer be undone, listed or looked at with `--at`; the index itself is unchanged.
pub fn prune(index: &mut Index, before: i64) -> Result<Pruned> {
    let (ops, changes) = index.write(|tx| h::prune(tx, before))?;
    Ok(Pruned { ops, changes })
}
