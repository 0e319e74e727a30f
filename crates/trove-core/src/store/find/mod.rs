//! Queries: a query tree becomes one SQL statement with bound parameters only
//! ([`compile`]), which then runs as a page, a stream or a count ([`run`]); path globs are
//! matched byte-wise by [`glob`].
//!
//! Shape: `SELECT … FROM files f WHERE <universe> AND <expr> ORDER BY … LIMIT …`. Each tag
//! term becomes `f.id IN (files linked to any tag in T)`, where T is the tag (or every tag
//! matching a wildcard, or every tag in a namespace passing a comparison) plus, by a
//! recursive CTE, every tag that implies one of them — implications are evaluated here, at
//! query time, never copied into links. Untagged files are part of the universe, so `-foo`
//! matches them; missing files are left out unless the query mentions `missing`.

use rusqlite::types::Value;

use crate::query::SortKey;

mod compile;
mod glob;
mod run;
mod sets;

pub use compile::compile;
pub(crate) use compile::glob_for_names;
pub use glob::glob_match;
pub(crate) use glob::register_functions;

/// A compiled query, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(super) where_sql: String,
    /// The WHERE clause's parameters first, then any the ORDER BY binds.
    pub(super) params: Vec<Value>,
    /// How many of `params` the WHERE clause uses: a count has no ORDER BY, and SQLite
    /// refuses a parameter the statement does not have (`sort:pool` once bound one).
    pub(super) where_params: usize,
    pub(super) order: String,
    /// `limit:N` from the query.
    pub limit: Option<u64>,
    /// Things worth telling the user (unknown tags, unknown pools); not errors.
    pub warnings: Vec<String>,
    /// For a query that is one tag term: count straight from the links, without visiting
    /// each file row (`count(DISTINCT file_id)` over the tag's slice of the primary key,
    /// minus the few missing files).
    pub(super) fast_count: Option<(String, Vec<Value>)>,
    /// `sort:random limit:N` and nothing else: draw N random ids instead of shuffling every
    /// row (ids are dense, so a few extra draws cover the gaps).
    pub(super) sample: Option<u64>,
    /// The order, for pages that continue after a row (`page_after`).
    pub(super) sort: (SortKey, bool),
    /// The same query as set operations over the posting lists.
    pub(super) plan: sets::Plan,
    /// The universe is every file, missing ones too (the query mentions `missing`).
    pub(super) all_files: bool,
    /// Evaluate with the SQL statement only, never the posting lists (the reference the
    /// property tests compare the set algebra with).
    pub(super) plain_sql: bool,
}

/// Where a page of results starts: after this row in the query's order. Keyset pages never
/// skip or repeat a file when others are added or removed meanwhile; the orders that have
/// no stable key (random, a pool's positions) continue by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// After this path (`sort:path`).
    Path(Vec<u8>),
    /// After this (value, path): `sort:mtime` (mtime in ns) or `sort:size`.
    Value(i64, Vec<u8>),
    /// After this (added_at, record id): `sort:added`, ties by id in the same direction.
    Added(i64, i64),
    /// After this many rows.
    Offset(u64),
}
