//! The operation log (migration 0010): the operation row each write opens, reading the
//! recorded changes back, and putting rows into a wanted state (undo, `find --at`, replay).
//!
//! A change is read as a row of some table (a [`Key`]) going from one state to another
//! (`None` = absent). An operation's effect is, per key, the state before its first change
//! and after its last ([`Net`]); undoing it puts every key back to its state before, as long
//! as the key is still in the state the operation left it in.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use super::WriteTx;
use crate::Result;

/// Who the next writes are, and whether they form one group.
#[derive(Debug, Clone)]
pub struct Label {
    actor: String,
    summary: String,
    grouped: bool,
    head: Option<i64>,
}

impl Default for Label {
    fn default() -> Self {
        Label { actor: "trove".into(), summary: String::new(), grouped: false, head: None }
    }
}

impl Label {
    pub fn new(actor: &str, summary: &str) -> Label {
        Label { actor: actor.into(), summary: summary.into(), grouped: true, head: None }
    }
    pub fn ungrouped(actor: &str) -> Label {
        Label { actor: actor.into(), summary: String::new(), grouped: false, head: None }
    }
    pub fn committed(&mut self, op: i64) {
        if self.grouped && self.head.is_none() {
            self.head = Some(op);
        }
    }
    /// The same actor and summary for writes to another file (a reopened or restored
    /// index), where the group's first operation does not exist.
    pub fn restarted(&self) -> Label {
        Label { head: None, ..self.clone() }
    }
    pub fn group(&self) -> Option<i64> {
        if self.grouped { self.head } else { None }
    }
}

/// Opens the operation row of a write; the triggers stamp every change with its id.
pub fn begin(c: &WriteTx<'_>, l: &Label) -> Result<i64> {
    let id: i64 = c
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(id) FROM ops), 0),
                        coalesce((SELECT pruned_upto FROM op_history WHERE id = 1), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    let grp = if l.grouped { l.head.unwrap_or(id) } else { id };
    c.prepare_cached("INSERT INTO ops (id, at, actor, summary, grp) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![
        id,
        crate::model::now_unix(),
        l.actor,
        l.summary,
        grp
    ])?;
    c.prepare_cached("INSERT INTO op_recording (op) VALUES (?1)")?.execute([id])?;
    Ok(id)
}

/// Closes the operation row; an operation that changed nothing is removed. True when kept.
pub fn end(c: &WriteTx<'_>, op: i64) -> Result<bool> {
    c.prepare_cached("DELETE FROM op_recording")?.execute([])?;
    let any: bool =
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM op_changes WHERE op = ?1)")?.query_row([op], |r| r.get(0))?;
    if !any {
        c.prepare_cached("DELETE FROM ops WHERE id = ?1")?.execute([op])?;
    }
    Ok(any)
}

/// The operation being recorded in this transaction.
pub fn recording(c: &WriteTx<'_>) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT op FROM op_recording")?.query_row([], |r| r.get(0)).optional()?)
}

/// Marks the operation being recorded as the undo of group `grp`.
pub fn mark_undo(c: &WriteTx<'_>, grp: i64) -> Result<()> {
    c.prepare_cached("UPDATE ops SET undoes = ?1 WHERE id IN (SELECT op FROM op_recording)")?.execute([grp])?;
    Ok(())
}

/// A row of a table the log follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Source(i64),
    Tag(i64),
    Pool(i64),
    File(i64),
    /// By folded name.
    Name(String),
    /// (child, parent)
    Implication(i64, i64),
    /// (pool, position)
    Member(i64, i64),
    /// (tag, file, source)
    Link(i64, i64, i64),
    /// A duplicate decision about files (a, b), a < b.
    Decision(i64, i64),
}

/// A row's content (what the key does not say).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Source {
        kind: String,
        name: String,
    },
    Tag {
        uid: Vec<u8>,
        created_at: i64,
    },
    Pool {
        title: String,
        folded: String,
        created_at: i64,
    },
    /// `row`: the other columns as JSON, when known (needed to create the record again).
    File {
        path: Vec<u8>,
        state: i64,
        row: Option<String>,
    },
    /// `attrs`: JSON of name, lang, ns, val, num.
    Name {
        tag: i64,
        primary: bool,
        attrs: String,
    },
    Implication,
    Member {
        file: i64,
    },
    Link {
        added_at: i64,
    },
    /// 1 same, 2 alternate, 3 not-duplicate.
    Decision {
        decision: i64,
        decided_at: i64,
    },
}

/// One recorded change.
#[derive(Debug, Clone)]
pub struct Change {
    pub op: i64,
    pub key: Key,
    pub before: Option<Val>,
    pub after: Option<Val>,
}

fn text(v: Value) -> String {
    match v {
        Value::Text(s) => s,
        Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Null => String::new(),
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::Integer(i) => i,
        Value::Text(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn bytes(v: Value) -> Vec<u8> {
    match v {
        Value::Blob(b) => b,
        Value::Text(s) => s.into_bytes(),
        _ => Vec::new(),
    }
}

fn json_state(row: &str) -> i64 {
    // `"state":N` as json_object writes it.
    row.split("\"state\":").nth(1).and_then(|s| s.split([',', '}']).next()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

const CHANGE_COLS: &str = "op, kind, tag, file, x, y, v, w";

fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Change>> {
    let op: i64 = r.get(0)?;
    let kind: i64 = r.get(1)?;
    let tag: Option<i64> = r.get(2)?;
    let file: Option<i64> = r.get(3)?;
    let x: Option<i64> = r.get(4)?;
    let y: Option<i64> = r.get(5)?;
    let v: Value = r.get(6)?;
    let w: Value = r.get(7)?;
    let (tag, file, x, y) = (tag.unwrap_or(0), file.unwrap_or(0), x.unwrap_or(0), y.unwrap_or(0));
    let added = kind % 2 == 1;
    let (key, val) = match kind {
        1 | 2 => (Key::Link(tag, file, x), Val::Link { added_at: y }),
        3 | 4 => (Key::Name(text(v)), Val::Name { tag, primary: x == 1, attrs: text(w) }),
        5 | 6 => (Key::Tag(tag), Val::Tag { uid: bytes(v), created_at: y }),
        7 | 8 => (Key::Implication(tag, x), Val::Implication),
        9 | 10 => (Key::Pool(x), Val::Pool { title: text(v), folded: text(w), created_at: y }),
        11 | 12 => (Key::Member(x, y), Val::Member { file }),
        13 | 14 => {
            let row = text(w);
            (Key::File(file), Val::File { path: bytes(v), state: json_state(&row), row: Some(row) })
        }
        15 => {
            let before = Val::File { path: bytes(v), state: x, row: None };
            let after = Val::File { path: bytes(w), state: y, row: None };
            return Ok(Some(Change { op, key: Key::File(file), before: Some(before), after: Some(after) }));
        }
        17 => (Key::Source(x), Val::Source { kind: text(v), name: text(w) }),
        19 | 20 => (Key::Decision(x, y), Val::Decision { decision: int(v), decided_at: int(w) }),
        _ => return Ok(None),
    };
    let (before, after) = if added { (None, Some(val)) } else { (Some(val), None) };
    Ok(Some(Change { op, key, before, after }))
}

/// The changes of ops `from..=to` (by op id), in the order they were made.
pub fn changes_between(c: &Connection, from: i64, to: i64) -> Result<Vec<Change>> {
    let sql = format!("SELECT {CHANGE_COLS} FROM op_changes WHERE op BETWEEN ?1 AND ?2 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let mut out = Vec::new();
    let mut rows = st.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        out.extend(change_from_row(r)?);
    }
    Ok(out)
}

/// The changes of the ops of group `grp`, in order.
pub fn changes_of_group(c: &Connection, grp: i64) -> Result<Vec<Change>> {
    let sql =
        format!("SELECT {CHANGE_COLS} FROM op_changes WHERE op IN (SELECT id FROM ops WHERE grp = ?1) ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let mut out = Vec::new();
    let mut rows = st.query([grp])?;
    while let Some(r) = rows.next()? {
        out.extend(change_from_row(r)?);
    }
    Ok(out)
}

/// Changes that touched a file (its links, record, path, pool places), in order.
pub fn changes_of_file(c: &Connection, file: i64) -> Result<Vec<Change>> {
    let sql = format!("SELECT {CHANGE_COLS} FROM op_changes WHERE file = ?1 ORDER BY id");
    let mut st = c.prepare_cached(&sql)?;
    let mut out = Vec::new();
    let mut rows = st.query([file])?;
    while let Some(r) = rows.next()? {
        out.extend(change_from_row(r)?);
    }
    Ok(out)
}

/// The per-key effect of a sequence of changes: state before the first, after the last.
#[derive(Debug, Default)]
pub struct Net {
    pub order: Vec<Key>,
    pub map: HashMap<Key, (Option<Val>, Option<Val>)>,
}

fn fill_row(into: &mut Option<Val>, from: &Option<Val>) {
    if let (Some(Val::File { row: r @ None, .. }), Some(Val::File { row: Some(src), .. })) = (into, from) {
        *r = Some(src.clone());
    }
}

impl Net {
    pub fn of(changes: &[Change]) -> Net {
        let mut n = Net::default();
        for ch in changes {
            match n.map.get_mut(&ch.key) {
                Some((before, after)) => {
                    let prev_after = std::mem::replace(after, ch.after.clone());
                    fill_row(after, &prev_after);
                    fill_row(after, &ch.before);
                    fill_row(before, &ch.before);
                    fill_row(before, &ch.after);
                }
                None => {
                    let mut before = ch.before.clone();
                    fill_row(&mut before, &ch.after);
                    n.order.push(ch.key.clone());
                    n.map.insert(ch.key.clone(), (before, ch.after.clone()));
                }
            }
        }
        n
    }
}

/// The row's state now.
pub fn current(c: &Connection, k: &Key) -> Result<Option<Val>> {
    let v = match k {
        Key::Source(id) => c
            .prepare_cached("SELECT kind, name FROM sources WHERE id = ?1")?
            .query_row([id], |r| Ok(Val::Source { kind: r.get(0)?, name: r.get(1)? }))
            .optional()?,
        Key::Tag(id) => c
            .prepare_cached("SELECT uid, created_at FROM tags WHERE id = ?1")?
            .query_row([id], |r| Ok(Val::Tag { uid: r.get(0)?, created_at: r.get(1)? }))
            .optional()?,
        Key::Pool(id) => c
            .prepare_cached("SELECT title, folded, created_at FROM pools WHERE id = ?1")?
            .query_row([id], |r| Ok(Val::Pool { title: r.get(0)?, folded: r.get(1)?, created_at: r.get(2)? }))
            .optional()?,
        Key::File(id) => c
            .prepare_cached("SELECT path, state FROM files WHERE id = ?1")?
            .query_row([id], |r| Ok(Val::File { path: r.get(0)?, state: r.get(1)?, row: None }))
            .optional()?,
        Key::Name(folded) => c
            .prepare_cached(
                "SELECT tag_id, is_primary, json_object('name', name, 'lang', lang, 'ns', ns, 'val', val, 'num', num)
                 FROM tag_names WHERE folded = ?1",
            )?
            .query_row([folded], |r| {
                Ok(Val::Name { tag: r.get(0)?, primary: r.get::<_, i64>(1)? == 1, attrs: r.get(2)? })
            })
            .optional()?,
        Key::Implication(ch, pa) => c
            .prepare_cached("SELECT 1 FROM implications WHERE child = ?1 AND parent = ?2")?
            .query_row([ch, pa], |_| Ok(Val::Implication))
            .optional()?,
        Key::Decision(a, b) => c
            .prepare_cached("SELECT decision, decided_at FROM dupe_decisions WHERE a = ?1 AND b = ?2")?
            .query_row([a, b], |r| Ok(Val::Decision { decision: r.get(0)?, decided_at: r.get(1)? }))
            .optional()?,
        Key::Member(p, pos) => c
            .prepare_cached("SELECT file_id FROM pool_files WHERE pool_id = ?1 AND position = ?2")?
            .query_row([p, pos], |r| Ok(Val::Member { file: r.get(0)? }))
            .optional()?,
        Key::Link(t, f, s) => c
            .prepare_cached("SELECT added_at FROM file_tags WHERE tag_id = ?1 AND file_id = ?2 AND source_id = ?3")?
            .query_row([t, f, s], |r| Ok(Val::Link { added_at: r.get(0)? }))
            .optional()?,
    };
    Ok(v)
}

/// Whether a row's state is the one wanted, for history's purposes: a file by its path and
/// whether it is missing (its hash and times are not history), a link by its presence.
pub fn same(a: &Option<Val>, b: &Option<Val>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Val::File { path: p1, state: s1, .. }), Some(Val::File { path: p2, state: s2, .. })) => {
            p1 == p2 && (*s1 == 1) == (*s2 == 1)
        }
        (Some(Val::Link { .. }), Some(Val::Link { .. })) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Why a row could not be put into the wanted state.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub key: Key,
    pub reason: &'static str,
}

fn is_child(k: &Key) -> bool {
    matches!(k, Key::Link(..) | Key::Name(_) | Key::Implication(..) | Key::Member(..) | Key::Decision(..))
}

fn has_children(c: &Connection, k: &Key) -> Result<bool> {
    let (sql, id) = match k {
        Key::Tag(id) => (
            "SELECT EXISTS (SELECT 1 FROM file_tags WHERE tag_id = ?1) OR EXISTS (SELECT 1 FROM tag_names WHERE tag_id = ?1)
             OR EXISTS (SELECT 1 FROM implications WHERE child = ?1) OR EXISTS (SELECT 1 FROM implications WHERE parent = ?1)",
            id,
        ),
        Key::File(id) => (
            "SELECT EXISTS (SELECT 1 FROM file_tags INDEXED BY file_tags_file WHERE file_id = ?1)
             OR EXISTS (SELECT 1 FROM pool_files WHERE file_id = ?1)",
            id,
        ),
        Key::Pool(id) => ("SELECT EXISTS (SELECT 1 FROM pool_files WHERE pool_id = ?1)", id),
        _ => return Ok(false),
    };
    Ok(c.prepare_cached(sql)?.query_row([id], |r| r.get(0))?)
}

fn exists(c: &Connection, sql: &str, id: i64) -> Result<bool> {
    Ok(c.prepare_cached(sql)?.query_row([id], |_| Ok(())).optional()?.is_some())
}

fn parents_present(c: &Connection, k: &Key, v: &Val) -> Result<bool> {
    let tag = |id| exists(c, "SELECT 1 FROM tags WHERE id = ?1", id);
    let file = |id| exists(c, "SELECT 1 FROM files WHERE id = ?1", id);
    Ok(match (k, v) {
        (Key::Link(t, f, s), _) => tag(*t)? && file(*f)? && exists(c, "SELECT 1 FROM sources WHERE id = ?1", *s)?,
        (Key::Name(_), Val::Name { tag: t, .. }) => tag(*t)?,
        (Key::Implication(a, b), _) => tag(*a)? && tag(*b)?,
        (Key::Decision(a, b), _) => file(*a)? && file(*b)?,
        (Key::Member(p, _), Val::Member { file: f }) => {
            exists(c, "SELECT 1 FROM pools WHERE id = ?1", *p)? && file(*f)?
        }
        _ => true,
    })
}

fn constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

fn ext_of(path: &[u8]) -> Option<String> {
    crate::model::extension_of(&crate::paths::from_bytes(path))
}

fn delete(c: &WriteTx<'_>, k: &Key) -> Result<()> {
    match k {
        Key::Source(_) => {}
        Key::Tag(id) => {
            c.prepare_cached("DELETE FROM tags WHERE id = ?1")?.execute([id])?;
        }
        Key::Pool(id) => {
            c.prepare_cached("DELETE FROM pools WHERE id = ?1")?.execute([id])?;
        }
        Key::File(id) => {
            c.prepare_cached("DELETE FROM files WHERE id = ?1")?.execute([id])?;
        }
        Key::Name(f) => {
            c.prepare_cached("DELETE FROM tag_names WHERE folded = ?1")?.execute([f])?;
        }
        Key::Implication(a, b) => {
            c.prepare_cached("DELETE FROM implications WHERE child = ?1 AND parent = ?2")?.execute([a, b])?;
        }
        Key::Member(p, pos) => {
            c.prepare_cached("DELETE FROM pool_files WHERE pool_id = ?1 AND position = ?2")?.execute([p, pos])?;
        }
        Key::Decision(a, b) => {
            c.prepare_cached("DELETE FROM dupe_decisions WHERE a = ?1 AND b = ?2")?.execute([a, b])?;
        }
        Key::Link(t, f, s) => {
            c.prepare_cached("DELETE FROM file_tags WHERE tag_id = ?1 AND file_id = ?2 AND source_id = ?3")?
                .execute([t, f, s])?;
        }
    }
    Ok(())
}

/// Creates (or, for a file, moves) the row; `Ok(false)` when a constraint refused it.
fn put(c: &WriteTx<'_>, k: &Key, v: &Val, present: bool) -> Result<bool> {
    let r = match (k, v) {
        (Key::Source(id), Val::Source { kind, name }) => c
            .prepare_cached("INSERT OR IGNORE INTO sources (id, kind, name) VALUES (?1, ?2, ?3)")?
            .execute(params![id, kind, name]),
        (Key::Tag(id), Val::Tag { uid, created_at }) => c
            .prepare_cached("INSERT INTO tags (id, uid, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![id, uid, created_at]),
        (Key::Pool(id), Val::Pool { title, folded, created_at }) if present => c
            .prepare_cached("UPDATE pools SET title = ?2, folded = ?3 WHERE id = ?1")?
            .execute(params![id, title, folded, created_at]),
        (Key::Pool(id), Val::Pool { title, folded, created_at }) => c
            .prepare_cached("INSERT INTO pools (id, title, folded, created_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![id, title, folded, created_at]),
        (Key::File(id), Val::File { path, state, .. }) if present => c
            .prepare_cached("UPDATE files SET path = ?2, ext = ?3, state = ?4 WHERE id = ?1")?
            .execute(params![id, path, ext_of(path), state]),
        (Key::File(id), Val::File { path, state, row: Some(row) }) => c
            .prepare_cached(
                "INSERT INTO files (id, path, ext, size, mtime_ns, device, inode, hash, fingerprint, state, added_at,
                                    verified_at, sha256)
                 VALUES (?1, ?2, ?3, json_extract(?5, '$.size'), json_extract(?5, '$.mtime_ns'),
                         json_extract(?5, '$.device'), json_extract(?5, '$.inode'), unhex(json_extract(?5, '$.hash')),
                         json_extract(?5, '$.fingerprint'), ?4, json_extract(?5, '$.added_at'),
                         json_extract(?5, '$.verified_at'), nullif(unhex(json_extract(?5, '$.sha256')), x''))",
            )?
            .execute(params![id, path, ext_of(path), state, row]),
        (Key::File(_), Val::File { row: None, .. }) => return Ok(false),
        (Key::Name(folded), Val::Name { tag, primary, attrs }) => c
            .prepare_cached(
                "INSERT INTO tag_names (name, folded, tag_id, lang, is_primary, ns, val, num)
                 VALUES (json_extract(?4, '$.name'), ?1, ?2, json_extract(?4, '$.lang'), ?3, json_extract(?4, '$.ns'),
                         json_extract(?4, '$.val'), json_extract(?4, '$.num'))",
            )?
            .execute(params![folded, tag, *primary as i64, attrs]),
        (Key::Implication(a, b), _) => {
            c.prepare_cached("INSERT INTO implications (child, parent) VALUES (?1, ?2)")?.execute([a, b])
        }
        (Key::Member(p, pos), Val::Member { file }) => c
            .prepare_cached("INSERT INTO pool_files (pool_id, position, file_id) VALUES (?1, ?2, ?3)")?
            .execute([p, pos, file]),
        (Key::Link(t, f, s), Val::Link { added_at }) => c
            .prepare_cached("INSERT INTO file_tags (tag_id, file_id, source_id, added_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute([t, f, s, added_at]),
        (Key::Decision(a, b), Val::Decision { decision, decided_at }) => c
            .prepare_cached("INSERT INTO dupe_decisions (a, b, decision, decided_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute([a, b, decision, decided_at]),
        _ => return Ok(false),
    };
    match r {
        Ok(_) => Ok(true),
        Err(e) if constraint(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Puts each key into its wanted state, children removed first and added last, so parents
/// exist whenever a child is written. A key that cannot be put (its parent is gone, a
/// parent still has children not in the plan, a unique name or path is taken) is left as it
/// is and returned. Keys already in their wanted state are not written.
pub fn apply(c: &WriteTx<'_>, plan: &[(Key, Option<Val>)]) -> Result<Vec<Blocked>> {
    let mut blocked = Vec::new();
    let mut todo: Vec<(&Key, &Option<Val>, Option<Val>)> = Vec::new();
    for (k, want) in plan {
        let now = current(c, k)?;
        if same(&now, want) {
            continue;
        }
        todo.push((k, want, now));
    }
    // 1. children that must go (or change)
    for (k, _, now) in &todo {
        if is_child(k) && now.is_some() {
            delete(c, k)?;
        }
    }
    // 2. parents that must go, unless something not in the plan still hangs off them
    for (k, want, now) in &todo {
        if !is_child(k) && want.is_none() && now.is_some() {
            if has_children(c, k)? {
                blocked.push(Blocked { key: (*k).clone(), reason: "still in use" });
            } else {
                delete(c, k)?;
            }
        }
    }
    // 3. parents that must be there; files that move are parked first so records trading
    //    paths never collide
    for (k, want, now) in &todo {
        if let (Key::File(id), Some(_), Some(_)) = (k, want, now) {
            let mut tmp = b"\0trove-parked\0".to_vec();
            tmp.extend_from_slice(id.to_string().as_bytes());
            c.prepare_cached("UPDATE files SET path = ?2 WHERE id = ?1")?.execute(params![id, tmp])?;
        }
    }
    for (k, want, now) in &todo {
        if let (false, Some(v)) = (is_child(k), want)
            && !put(c, k, v, now.is_some())?
        {
            blocked.push(Blocked { key: (*k).clone(), reason: "its place is taken" });
            if let (Key::File(id), Some(Val::File { path, .. })) = (k, now) {
                c.prepare_cached("UPDATE files SET path = ?2 WHERE id = ?1")?.execute(params![id, path])?;
            }
        }
    }
    // 4. children that must be there
    for (k, want, _) in &todo {
        if let (true, Some(v)) = (is_child(k), want) {
            if !parents_present(c, k, v)? {
                blocked.push(Blocked { key: (*k).clone(), reason: "what it belongs to is gone" });
                continue;
            }
            if !put(c, k, v, false)? {
                blocked.push(Blocked { key: (*k).clone(), reason: "its place is taken" });
            }
        }
    }
    Ok(blocked)
}

/// The groups after op `after` that changed `k`.
pub fn later_groups(c: &Connection, after: i64, k: &Key) -> Result<Vec<i64>> {
    let (cond, p): (&str, Vec<Value>) = match k {
        Key::Link(t, f, s) => {
            ("file = ?2 AND kind IN (1, 2) AND tag = ?3 AND x = ?4", vec![(*f).into(), (*t).into(), (*s).into()])
        }
        Key::Name(f) => ("kind IN (3, 4) AND v = ?2", vec![f.clone().into()]),
        Key::Tag(t) => ("(tag = ?2 OR (kind IN (7, 8) AND x = ?2))", vec![(*t).into()]),
        Key::Implication(a, b) => ("tag = ?2 AND kind IN (7, 8) AND x = ?3", vec![(*a).into(), (*b).into()]),
        Key::Pool(id) => ("kind IN (9, 10, 11, 12) AND x = ?2", vec![(*id).into()]),
        Key::Member(id, pos) => ("kind IN (11, 12) AND x = ?2 AND y = ?3", vec![(*id).into(), (*pos).into()]),
        Key::File(f) => ("file = ?2", vec![(*f).into()]),
        Key::Source(id) => ("kind = 17 AND x = ?2", vec![(*id).into()]),
        Key::Decision(a, b) => ("kind IN (19, 20) AND x = ?2 AND y = ?3", vec![(*a).into(), (*b).into()]),
    };
    let sql = format!(
        "SELECT DISTINCT o.grp FROM op_changes c JOIN ops o ON o.id = c.op WHERE c.op > ?1 AND {cond} ORDER BY o.grp"
    );
    let mut st = c.prepare_cached(&sql)?;
    let mut params: Vec<Value> = vec![after.into()];
    params.extend(p);
    let v = st.query_map(rusqlite::params_from_iter(params), |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// One row of `ops`, with its group's change counts by kind.
#[derive(Debug, Clone)]
pub struct OpRow {
    pub grp: i64,
    pub first: i64,
    pub last: i64,
    pub at: i64,
    pub actor: String,
    pub summary: String,
    pub undoes: Option<i64>,
    pub counts: [u64; 18],
}

/// Groups newest first; `filter` restricts to groups that touched a file or tag.
pub fn groups(c: &Connection, file: Option<i64>, tag: Option<i64>, limit: u64) -> Result<Vec<OpRow>> {
    let cond = match (file, tag) {
        (Some(_), _) => "WHERE grp IN (SELECT o.grp FROM op_changes c JOIN ops o ON o.id = c.op WHERE c.file = ?2)",
        (_, Some(_)) => {
            "WHERE grp IN (SELECT o.grp FROM op_changes c JOIN ops o ON o.id = c.op
                           WHERE c.tag = ?2 OR (c.kind IN (7, 8) AND c.x = ?2))"
        }
        _ => "WHERE ?2 IS NULL",
    };
    let sql = format!(
        "SELECT grp, min(id), max(id), min(at), actor, summary, max(undoes) FROM ops {cond}
         GROUP BY grp ORDER BY grp DESC LIMIT ?1"
    );
    let mut st = c.prepare(&sql)?;
    let key = file.or(tag);
    let mut rows: Vec<OpRow> = st
        .query_map(params![limit as i64, key], |r| {
            Ok(OpRow {
                grp: r.get(0)?,
                first: r.get(1)?,
                last: r.get(2)?,
                at: r.get(3)?,
                actor: r.get(4)?,
                summary: r.get(5)?,
                undoes: r.get(6)?,
                counts: [0; 18],
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut cnt = c.prepare_cached(
        // A move counts files moved (a record parked on the way is moved twice).
        "SELECT kind, CASE kind WHEN 15 THEN count(DISTINCT file) ELSE count(*) END FROM op_changes
         WHERE op IN (SELECT id FROM ops WHERE grp = ?1) GROUP BY kind",
    )?;
    for row in &mut rows {
        let mut q = cnt.query([row.grp])?;
        while let Some(r) = q.next()? {
            let k: i64 = r.get(0)?;
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| row.counts.get_mut(k)) {
                *slot = r.get::<_, i64>(1)? as u64;
            }
        }
    }
    Ok(rows)
}

/// The op ids and time of a group: (first, last, at), if it exists.
pub fn group_span(c: &Connection, grp: i64) -> Result<Option<(i64, i64, i64)>> {
    Ok(c.prepare_cached("SELECT min(id), max(id), min(at) FROM ops WHERE grp = ?1 HAVING count(*) > 0")?
        .query_row([grp], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// The group of op `op`, if it was kept.
pub fn group_of(c: &Connection, op: i64) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT grp FROM ops WHERE id = ?1")?.query_row([op], |r| r.get(0)).optional()?)
}

/// The last op at or before `at` (unix seconds); 0 when none.
pub fn last_op_at(c: &Connection, at: i64) -> Result<i64> {
    Ok(c.prepare_cached("SELECT coalesce(max(id), 0) FROM ops WHERE at <= ?1")?.query_row([at], |r| r.get(0))?)
}

/// (started_at, pruned_upto)
pub fn horizon(c: &Connection) -> Result<(i64, i64)> {
    Ok(c.prepare_cached("SELECT started_at, pruned_upto FROM op_history WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Removes the ops (whole groups) made before `before` (unix seconds): (ops, changes).
pub fn prune(c: &WriteTx<'_>, before: i64) -> Result<(u64, u64)> {
    // A group is removed whole or not at all: its last op must be older than the cut.
    let upto: i64 = c.query_row(
        "SELECT coalesce(max(id), 0) FROM ops WHERE grp IN
           (SELECT grp FROM ops GROUP BY grp HAVING max(at) < ?1)
         AND id < coalesce((SELECT min(id) FROM ops WHERE grp IN
           (SELECT grp FROM ops GROUP BY grp HAVING max(at) >= ?1)), 9223372036854775807)",
        [before],
        |r| r.get(0),
    )?;
    if upto == 0 {
        return Ok((0, 0));
    }
    let changes = c.execute("DELETE FROM op_changes WHERE op <= ?1", [upto])? as u64;
    let ops = c.execute("DELETE FROM ops WHERE id <= ?1", [upto])? as u64;
    c.execute("UPDATE op_history SET pruned_upto = max(pruned_upto, ?1) WHERE id = 1", [upto])?;
    Ok((ops, changes))
}

/// A tag's name for messages: its primary name now, else the last primary name the log
/// saw, else `#id`.
pub fn tag_label(c: &Connection, id: i64) -> Result<String> {
    if let Some(n) = c
        .prepare_cached("SELECT name FROM tag_names WHERE tag_id = ?1 AND is_primary = 1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
    {
        return Ok(n);
    }
    let old: Option<String> = c
        .prepare_cached(
            "SELECT json_extract(w, '$.name') FROM op_changes WHERE tag = ?1 AND kind IN (3, 4) ORDER BY x DESC, id DESC LIMIT 1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(old.unwrap_or_else(|| format!("#{id}")))
}

/// A source's text (`manual`, `rule:x`, …).
pub fn source_label(c: &Connection, id: i64) -> Result<String> {
    let r: Option<(String, String)> = c
        .prepare_cached("SELECT kind, name FROM sources WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match r {
        Some((k, n)) if n.is_empty() => k,
        Some((k, n)) => format!("{k}:{n}"),
        None => format!("#{id}"),
    })
}

/// A file's path for messages: now, else the last the log saw.
pub fn file_path(c: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    if let Some(p) =
        c.prepare_cached("SELECT path FROM files WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?
    {
        return Ok(Some(p));
    }
    Ok(c.prepare_cached(
        "SELECT CASE kind WHEN 15 THEN w ELSE v END FROM op_changes WHERE file = ?1 AND kind IN (13, 14, 15)
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row([id], |r| r.get(0))
    .optional()?)
}

/// A pool's title for messages.
pub fn pool_title(c: &Connection, id: i64) -> Result<String> {
    if let Some(t) =
        c.prepare_cached("SELECT title FROM pools WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?
    {
        return Ok(t);
    }
    let old: Option<String> = c
        .prepare_cached("SELECT v FROM op_changes WHERE kind IN (9, 10) AND x = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(old.unwrap_or_else(|| format!("#{id}")))
}

/// (operations, recorded changes, bytes the log takes on disk: its tables and indexes).
pub fn size(c: &Connection) -> Result<(u64, u64, u64)> {
    let ops: i64 = c.query_row("SELECT count(*) FROM ops", [], |r| r.get(0))?;
    let changes: i64 = c.query_row("SELECT count(*) FROM op_changes", [], |r| r.get(0))?;
    let bytes: i64 = c.query_row(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat
         WHERE name IN ('ops', 'ops_grp', 'ops_at', 'op_changes', 'op_changes_op', 'op_changes_file', 'op_changes_tag')",
        [],
        |r| r.get(0),
    )?;
    Ok((ops as u64, changes as u64, bytes as u64))
}

/// Who made group `grp`.
pub fn group_actor(c: &Connection, grp: i64) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT actor FROM ops WHERE grp = ?1 LIMIT 1")?.query_row([grp], |r| r.get(0)).optional()?)
}
