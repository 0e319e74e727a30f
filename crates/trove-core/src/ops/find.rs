//! `find` and friends: parse a query, compile it, stream the matches.

use crate::model::{FileRecord, now_unix};
use crate::query::{self, Expr};
use crate::store::find::{Compiled, compile};
use crate::{Index, Result};

/// A parsed and compiled query with its warnings.
pub struct Query {
    pub expr: Expr,
    pub compiled: Compiled,
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

    pub fn warnings(&self) -> &[String] {
        &self.compiled.warnings
    }

    /// Streams matches; `f` returns false to stop.
    pub fn for_each(&self, index: &Index, limit: Option<u64>, f: impl FnMut(FileRecord) -> Result<bool>) -> Result<()> {
        self.compiled.for_each(index.conn(), limit, f)
    }

    pub fn collect(&self, index: &Index, limit: Option<u64>) -> Result<Vec<FileRecord>> {
        let mut v = Vec::new();
        self.for_each(index, limit, |r| {
            v.push(r);
            Ok(true)
        })?;
        Ok(v)
    }

    pub fn count(&self, index: &Index) -> Result<u64> {
        self.compiled.count(index.conn())
    }
}

/// Parses, compiles and collects in one call (tests and small callers).
pub fn find(index: &Index, text: &str) -> Result<Vec<FileRecord>> {
    Query::new(index, text)?.collect(index, None)
}
