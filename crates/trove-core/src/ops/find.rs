//! `find` and friends: parse a query, compile it, stream the matches.

use crate::model::{FileRecord, now_unix};
use crate::query::{self, Expr};
use crate::store::find::{After, Compiled, compile};
use crate::{Index, Result};

/// A parsed and compiled query with its warnings.
pub struct Query {
    /// The parsed query.
    pub expr: Expr,
    pub(crate) compiled: Compiled,
}

impl Query {
    /// Parses and compiles `text` against this index.
    pub fn new(index: &Index, text: &str) -> Result<Query> {
        Query::at(index, text, now_unix())
    }

    /// As [`Query::new`], with ages like `mtime<30d` counted back from `now` (seconds since
    /// the epoch) instead of from the clock.
    pub fn at(index: &Index, text: &str, now: i64) -> Result<Query> {
        let expr = query::parse(text)?;
        let compiled = compile(index.conn(), &expr, now)?;
        Ok(Query { expr, compiled })
    }

    /// SQLite's plan for this query (`EXPLAIN QUERY PLAN`), one line per step, for the
    /// benchmark report.
    pub fn explain(&self, index: &Index) -> Result<Vec<String>> {
        self.compiled.explain(index.conn())
    }

    /// Compiles a syntax tree built by code (no parsing, so no name needs quoting).
    pub fn from_expr(index: &Index, expr: Expr) -> Result<Query> {
        let compiled = compile(index.conn(), &expr, now_unix())?;
        Ok(Query { expr, compiled })
    }

    /// Evaluates with plain SQL only from now on, never the posting lists: the reference
    /// the property tests compare the set algebra with.
    pub fn plain_sql(mut self) -> Query {
        self.compiled.plain_sql();
        self
    }

    /// Whether the posting lists answer this query now (they always do outside a write
    /// transaction, unless a bulk load was interrupted).
    pub fn uses_posting_lists(&self, index: &Index) -> Result<bool> {
        self.compiled.uses_posting_lists(index.conn())
    }

    /// The set operations the query takes over the posting lists, as text.
    pub fn steps(&self) -> String {
        self.compiled.steps()
    }

    /// Things worth telling the user about the query that do not stop it, e.g. a tag or
    /// namespace that no tag has.
    pub fn warnings(&self) -> &[String] {
        &self.compiled.warnings
    }

    /// Streams matches; `f` returns false to stop.
    pub fn for_each(&self, index: &Index, limit: Option<u64>, f: impl FnMut(FileRecord) -> Result<bool>) -> Result<()> {
        self.compiled.for_each(index.conn(), limit, f)
    }

    /// Every match (at most `limit`), in the query's order.
    pub fn collect(&self, index: &Index, limit: Option<u64>) -> Result<Vec<FileRecord>> {
        let mut v = Vec::new();
        self.for_each(index, limit, |r| {
            v.push(r);
            Ok(true)
        })?;
        Ok(v)
    }

    /// How many files match (no more than the query's `limit:`).
    pub fn count(&self, index: &Index) -> Result<u64> {
        self.compiled.count(index.conn())
    }

    /// One page of at most `n` matches, starting after `cursor` (an opaque string from a
    /// previous page's `next`). Pages in path, mtime or size order never skip or repeat a
    /// file while others change the index; `sort:random` is a single page.
    pub fn page(&self, index: &Index, cursor: Option<&str>, n: u64) -> Result<Page> {
        // `sort:random limit:N` alone draws random ids instead of ordering every row by
        // random(); it is one page either way.
        if cursor.is_none() && self.compiled.sampled() {
            return Ok(Page { files: self.collect(index, Some(n))?, next: None });
        }
        let after = cursor.map(decode_cursor).transpose()?;
        let (files, next) = self.compiled.page_after(index.conn(), after.as_ref(), n)?;
        Ok(Page { files, next: next.as_ref().map(encode_cursor) })
    }
}

/// A page of results and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    /// This page's matches, in the query's order.
    pub files: Vec<FileRecord>,
    /// Pass to [`Query::page`] for the next page; `None` after the last.
    pub next: Option<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn encode_cursor(a: &After) -> String {
    match a {
        After::Path(p) => format!("p.{}", hex(p)),
        After::Value(v, p) => format!("v.{v}.{}", hex(p)),
        After::Added(v, id) => format!("a.{v}.{id}"),
        After::Offset(o) => format!("o.{o}"),
    }
}

fn decode_cursor(s: &str) -> Result<After> {
    let bad = || crate::Error::from(crate::query::QueryMeaning::BadCursor { cursor: s.to_string() });
    let mut parts = s.splitn(3, '.');
    let a = match (parts.next(), parts.next(), parts.next()) {
        (Some("p"), Some(h), None) => After::Path(unhex(h).ok_or_else(bad)?),
        (Some("v"), Some(v), Some(h)) => After::Value(v.parse().map_err(|_| bad())?, unhex(h).ok_or_else(bad)?),
        (Some("o"), Some(o), None) => After::Offset(o.parse().map_err(|_| bad())?),
        (Some("a"), Some(v), Some(id)) => After::Added(v.parse().map_err(|_| bad())?, id.parse().map_err(|_| bad())?),
        _ => return Err(bad()),
    };
    Ok(a)
}

/// Parses, compiles and collects in one call (tests and small callers).
pub fn find(index: &Index, text: &str) -> Result<Vec<FileRecord>> {
    Query::new(index, text)?.collect(index, None)
}
