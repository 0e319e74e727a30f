//! Query tree → set algebra over the posting lists ([`crate::store::postings`]).
//!
//! A [`Plan`] mirrors the query: tag terms (a tag, a wildcard, a namespace comparison, each
//! with the tags implying them) are unions of stored bitmaps, `untagged` is the live files
//! minus the tagged ones, `missing` the files in that state, AND/OR/NOT are intersection,
//! union and difference from the universe (the live files, or every file when the query
//! mentions `missing`). Terms about the file row itself (path, size, mtime, ext, hash, pool,
//! `tags:N`) stay SQL conditions: inside an AND whose other terms already narrowed the set,
//! only those ids are read (`rarray`); otherwise one pass over the files.

use std::rc::Rc;

use roaring::{MultiOps, RoaringBitmap};
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::Result;
use crate::store::postings;

/// A query as set operations.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Every file of the universe (a query of modifiers only).
    All,
    /// The union of the sets of the tag ids this SQL returns (`label` for [`Plan::describe`]).
    Tags {
        sql: String,
        params: Vec<Value>,
        label: String,
    },
    /// A namespace wildcard (`genre:*`): the namespace's stored set, plus the union of the
    /// sets of the tag ids `sql` returns (tags implying one in the namespace, and a tag named
    /// `genre:` itself, which has no namespace).
    Namespace {
        ns: String,
        sql: String,
        params: Vec<Value>,
        label: String,
    },
    /// The file ids this `SELECT` returns (from an index of another table: metadata, pools).
    Ids {
        sql: String,
        params: Vec<Value>,
        label: String,
    },
    /// Files whose row satisfies this condition on `files f`.
    Rows {
        cond: String,
        params: Vec<Value>,
        label: String,
    },
    /// A path glob: the files whose path has every one of `trigrams` (from the trigram
    /// index), of which those whose row satisfies `cond` (the byte glob).
    Glob {
        cond: String,
        params: Vec<Value>,
        trigrams: Vec<u32>,
        label: String,
    },
    /// Files in the missing state.
    Missing,
    /// Files without any link.
    Untagged,
    And(Vec<Plan>),
    Or(Vec<Plan>),
    Not(Box<Plan>),
}

impl Plan {
    /// The set operations as text, for the performance notes (`trove find --explain`).
    pub(crate) fn describe(&self) -> String {
        let join = |v: &[Plan], op: &str| v.iter().map(Plan::describe).collect::<Vec<_>>().join(op);
        match self {
            Plan::All => "all".into(),
            Plan::Tags { label, .. } => format!("⋃bitmaps({label})"),
            Plan::Namespace { ns, label, .. } => format!("(bitmap(namespace {ns}) ∪ ⋃bitmaps(implying {label}))"),
            Plan::Rows { label, .. } => format!("rows({label})"),
            Plan::Glob { label, trigrams, .. } => format!("rows({label} within ⋂{} trigram sets)", trigrams.len()),
            Plan::Ids { label, .. } => format!("ids({label})"),
            Plan::Missing => "missing".into(),
            Plan::Untagged => "live∖tagged".into(),
            Plan::And(v) => format!("({})", join(v, " ∩ ")),
            Plan::Or(v) => format!("({})", join(v, " ∪ ")),
            Plan::Not(x) => format!("universe∖{}", x.describe()),
        }
    }
}

/// Evaluates plans against one connection's posting lists.
pub(crate) struct Eval<'c> {
    conn: &'c Connection,
    pub(crate) universe: RoaringBitmap,
    tagged: Option<RoaringBitmap>,
}

/// Files in the missing state.
fn missing(conn: &Connection) -> Result<RoaringBitmap> {
    let mut st = conn.prepare_cached("SELECT id FROM files WHERE state = 1")?;
    let ids = st.query_map([], |r| r.get::<_, i64>(0))?;
    let mut b = RoaringBitmap::new();
    for id in ids {
        if let Ok(id) = u32::try_from(id?) {
            b.insert(id);
        }
    }
    Ok(b)
}

impl<'c> Eval<'c> {
    /// `all_files`: the universe includes missing files (the query mentions `missing`).
    pub(crate) fn new(conn: &'c Connection, all_files: bool) -> Result<Self> {
        let mut universe = postings::load(conn, postings::LIVE)?;
        if all_files {
            universe |= missing(conn)?;
        }
        Ok(Eval { conn, universe, tagged: None })
    }

    /// The plan's files, within the universe.
    pub(crate) fn run(&mut self, p: &Plan) -> Result<RoaringBitmap> {
        let mut s = self.eval(p)?;
        s &= &self.universe;
        Ok(s)
    }

    fn rows(&self, cond: &str, params: &[Value], within: Option<&RoaringBitmap>) -> Result<RoaringBitmap> {
        let mut b = RoaringBitmap::new();
        let mut push = |id: i64| {
            if let Ok(id) = u32::try_from(id) {
                b.insert(id);
            }
        };
        match within {
            Some(w) => {
                let ids: Rc<Vec<Value>> = Rc::new(w.iter().map(|i| Value::Integer(i64::from(i))).collect());
                let sql = format!("SELECT f.id FROM files f WHERE f.id IN rarray(?{}) AND ({cond})", params.len() + 1);
                let mut st = self.conn.prepare_cached(&sql)?;
                let mut all: Vec<&dyn rusqlite::ToSql> = params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
                all.push(&ids);
                let mut rows = st.query(all.as_slice())?;
                while let Some(r) = rows.next()? {
                    push(r.get(0)?);
                }
            }
            None => {
                let sql = format!("SELECT f.id FROM files f WHERE {cond}");
                let mut st = self.conn.prepare_cached(&sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(r) = rows.next()? {
                    push(r.get(0)?);
                }
            }
        }
        Ok(b)
    }

    /// The files whose path has every trigram and satisfies `cond`, within `within` when
    /// given: the candidates' rows are read by id when they are few, else every row once.
    fn glob(
        &self,
        cond: &str,
        params: &[Value],
        trigrams: &[u32],
        within: Option<&RoaringBitmap>,
    ) -> Result<RoaringBitmap> {
        let mut cand = crate::store::trigrams::candidates(self.conn, trigrams)?;
        if let Some(w) = within {
            cand &= w;
        }
        if cand.is_empty() {
            return Ok(cand);
        }
        // A row read by id costs about three read in path order.
        if cand.len().saturating_mul(3) < self.universe.len() {
            return self.rows(cond, params, Some(&cand));
        }
        let mut s = self.rows(cond, params, None)?;
        s &= cand;
        Ok(s)
    }

    fn eval(&mut self, p: &Plan) -> Result<RoaringBitmap> {
        Ok(match p {
            Plan::All => self.universe.clone(),
            Plan::Tags { sql, params, .. } => postings::load_union(self.conn, sql, params)?,
            Plan::Namespace { ns, sql, params, .. } => {
                let mut s = match postings::ns_key(self.conn, ns)? {
                    Some(k) => postings::load(self.conn, k)?,
                    None => RoaringBitmap::new(),
                };
                s |= postings::load_union(self.conn, sql, params)?;
                s
            }
            Plan::Rows { cond, params, .. } => self.rows(cond, params, None)?,
            Plan::Glob { cond, params, trigrams, .. } => self.glob(cond, params, trigrams, None)?,
            Plan::Ids { sql, params, .. } => {
                let mut st = self.conn.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                let mut ids: Vec<u32> = Vec::new();
                while let Some(r) = rows.next()? {
                    if let Ok(id) = u32::try_from(r.get::<_, i64>(0)?) {
                        ids.push(id);
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                RoaringBitmap::from_sorted_iter(ids).expect("sorted and deduplicated")
            }
            Plan::Missing => missing(self.conn)?,
            Plan::Untagged => {
                if self.tagged.is_none() {
                    self.tagged = Some(postings::load(self.conn, postings::TAGGED)?);
                }
                let tagged = self.tagged.as_ref().expect("just loaded");
                &self.universe - tagged
            }
            Plan::Or(v) => v.iter().map(|x| self.eval(x)).collect::<Result<Vec<_>>>()?.union(),
            Plan::Not(x) => {
                let inner = self.eval(x)?;
                &self.universe - inner
            }
            Plan::And(v) => {
                // Set terms first; row conditions then read only what is left, when that is
                // a small part of the universe.
                let (rows, sets): (Vec<&Plan>, Vec<&Plan>) =
                    v.iter().partition(|x| matches!(x, Plan::Rows { .. } | Plan::Glob { .. }));
                let mut acc: Option<RoaringBitmap> = None;
                for x in sets {
                    let s = self.eval(x)?;
                    acc = Some(match acc {
                        None => s,
                        Some(mut a) => {
                            a &= s;
                            a
                        }
                    });
                    if acc.as_ref().is_some_and(RoaringBitmap::is_empty) {
                        return Ok(RoaringBitmap::new());
                    }
                }
                for x in rows {
                    if let Plan::Glob { cond, params, trigrams, .. } = x {
                        let s = self.glob(cond, params, trigrams, acc.as_ref())?;
                        acc = Some(s);
                        continue;
                    }
                    let Plan::Rows { cond, params, .. } = x else { unreachable!("partitioned") };
                    let s = match &acc {
                        Some(a) if a.len().saturating_mul(8) < self.universe.len() => {
                            self.rows(cond, params, Some(a))?
                        }
                        _ => self.rows(cond, params, None)?,
                    };
                    acc = Some(match acc {
                        None => s,
                        Some(mut a) => {
                            a &= s;
                            a
                        }
                    });
                }
                acc.unwrap_or_else(|| self.universe.clone())
            }
        })
    }
}
