//! Compiles a query tree to one SQL statement with bound parameters only.
//!
//! Shape: `SELECT … FROM files f WHERE <universe> AND <expr> ORDER BY … LIMIT …`. Each tag
//! term becomes `f.id IN (files linked to any tag in T)`, where T is the tag (or every tag
//! matching a wildcard, or every tag in a namespace passing a comparison) plus, by a
//! recursive CTE, every tag that implies one of them — implications are evaluated here, at
//! query time, never copied into links. Untagged files are part of the universe, so `-foo`
//! matches them; missing files are left out unless the query mentions `missing`.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use crate::model::{FileRecord, fold};
use crate::query::{CmpOp, Expr, Modifier, NamePart, NamePattern, Predicate, SortKey};
use crate::{Error, Result};

/// A compiled query, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Compiled {
    where_sql: String,
    /// The WHERE clause's parameters first, then any the ORDER BY binds.
    params: Vec<Value>,
    /// How many of `params` the WHERE clause uses: a count has no ORDER BY, and SQLite
    /// refuses a parameter the statement does not have (`sort:pool` once bound one).
    where_params: usize,
    order: String,
    /// `limit:N` from the query.
    pub limit: Option<u64>,
    /// Things worth telling the user (unknown tags, unknown pools); not errors.
    pub warnings: Vec<String>,
    /// For a query that is one tag term: count straight from the links, without visiting
    /// each file row (`count(DISTINCT file_id)` over the tag's slice of the primary key,
    /// minus the few missing files).
    fast_count: Option<(String, Vec<Value>)>,
    /// `sort:random limit:N` and nothing else: draw N random ids instead of shuffling every
    /// row (ids are dense, so a few extra draws cover the gaps).
    sample: Option<u64>,
    /// The order, for pages that continue after a row (`page_after`).
    sort: (SortKey, bool),
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
    /// After this many rows.
    Offset(u64),
}

/// Escapes a user pattern where only `*` is special into an SQLite GLOB pattern.
pub(crate) fn glob_for_names(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// A wildcard pattern as an SQLite GLOB over folded names: only the pattern's own wildcards
/// are special; every character of a literal part (a quoted `*` included) stands for itself.
fn pattern_glob(p: &NamePattern) -> String {
    let mut s = String::new();
    for part in &p.parts {
        match part {
            NamePart::Star => s.push('*'),
            NamePart::Literal(l) => {
                for c in fold(l).chars() {
                    match c {
                        '*' => s.push_str("[*]"),
                        '?' => s.push_str("[?]"),
                        '[' => s.push_str("[[]"),
                        c => s.push(c),
                    }
                }
            }
        }
    }
    s
}

/// Joins SQL conditions with `AND` / `OR` as a balanced tree of parentheses. SQLite builds
/// `a AND b AND c …` as a chain as deep as it is long and refuses chains deeper than 1 000;
/// balanced, a query's 1 000 terms are 10 levels.
fn balanced(parts: &[String], op: &str) -> String {
    match parts {
        [] => unreachable!("callers handle empty operand lists"),
        [one] => one.clone(),
        _ => {
            let (a, b) = parts.split_at(parts.len() / 2);
            format!("({} {op} {})", balanced(a, op), balanced(b, op))
        }
    }
}

const DESCEND: &str = "UNION SELECT i.child FROM implications i JOIN d ON i.parent = d.id";

struct Compiler<'c> {
    conn: &'c Connection,
    params: Vec<Value>,
    warnings: Vec<String>,
    now: i64,
    /// The base tag selection of the last tag term compiled (for the fast count).
    last_base: Option<String>,
}

impl Compiler<'_> {
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.params.push(v.into());
        format!("?{}", self.params.len())
    }

    fn tag_set(&mut self, base: String) -> String {
        self.last_base = Some(base.clone());
        format!(
            "f.id IN (SELECT ft.file_id FROM file_tags ft WHERE ft.tag_id IN \
             (WITH RECURSIVE d(id) AS ({base} {DESCEND}) SELECT id FROM d))"
        )
    }

    fn any_row(&self, sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<bool> {
        Ok(self.conn.prepare_cached(sql)?.query_row(p, |_| Ok(())).optional()?.is_some())
    }

    fn expr(&mut self, e: &Expr, top: bool) -> Result<String> {
        Ok(match e {
            Expr::And(v) if v.is_empty() => "1".to_string(),
            Expr::Or(v) if v.is_empty() => "0".to_string(),
            Expr::And(v) => {
                let mut parts = Vec::new();
                for x in v {
                    if top && matches!(x, Expr::Modifier(_)) {
                        continue;
                    }
                    parts.push(self.expr(x, false)?);
                }
                if parts.is_empty() { "1".to_string() } else { balanced(&parts, "AND") }
            }
            Expr::Or(v) => {
                let parts = v.iter().map(|x| self.expr(x, false)).collect::<Result<Vec<_>>>()?;
                balanced(&parts, "OR")
            }
            Expr::Not(x) => format!("NOT {}", self.expr(x, false)?),
            Expr::Tag(p) if !p.has_wildcard() => {
                let name = crate::model::normalize_name_lossy(&p.display());
                let folded = fold(&name);
                if !self.any_row("SELECT 1 FROM tag_names WHERE folded = ?1", &[&folded])? {
                    self.warnings.push(format!("{name}: no such tag"));
                }
                let b = self.bind(folded);
                self.tag_set(format!("SELECT tag_id FROM tag_names WHERE folded = {b}"))
            }
            Expr::Tag(p) => {
                let g = pattern_glob(p);
                if !self.any_row("SELECT 1 FROM tag_names WHERE folded GLOB ?1 LIMIT 1", &[&g])? {
                    self.warnings.push(format!("{}: no tag matches", p.display()));
                }
                let b = self.bind(g);
                self.tag_set(format!("SELECT tag_id FROM tag_names WHERE folded GLOB {b}"))
            }
            Expr::Compare { ns, op, value } => {
                let ns_f = fold(ns);
                if !self.any_row("SELECT 1 FROM tag_names WHERE ns = ?1 LIMIT 1", &[&ns_f])? {
                    self.warnings.push(format!("{ns}: no tag in this namespace"));
                }
                let nsb = self.bind(ns_f);
                // A decimal operand compares with the namespace's decimal values only; any other
                // operand compares as text with every value (see the README's query table).
                let cond = if let Some(n) = crate::model::decimal_number(value) {
                    let vb = self.bind(n);
                    format!("num {} {vb}", op.sql())
                } else {
                    let vb = self.bind(fold(value));
                    format!("val {} {vb}", op.sql())
                };
                self.tag_set(format!("SELECT tag_id FROM tag_names WHERE ns = {nsb} AND {cond}"))
            }
            Expr::Pred(p) => self.pred(p)?,
            Expr::Modifier(m) => {
                return Err(Error::QueryMeaning(format!(
                    "{m}: sort: and limit: apply to the whole query; put them at the top level, outside parentheses, '|' and '-'"
                )));
            }
        })
    }

    fn pred(&mut self, p: &Predicate) -> Result<String> {
        Ok(match p {
            Predicate::Path(g) => {
                let mut pat = g.clone();
                if !pat.starts_with('/') && !pat.starts_with('*') {
                    pat.insert_str(0, "*/");
                }
                let lit: Vec<u8> = pat.bytes().take_while(|b| !matches!(b, b'*' | b'?' | b'[' | b'\\')).collect();
                let inner = longest_literal(pat.as_bytes());
                let pb = self.bind(pat.into_bytes());
                let mut sql = format!("trove_glob({pb}, f.path)");
                // Every match contains the pattern's longest literal run verbatim: SQLite's
                // native instr() rejects most paths before the glob function is called.
                if inner.len() >= 3 && inner.len() > lit.len() {
                    let ib = self.bind(inner);
                    sql = format!("(instr(f.path, {ib}) > 0 AND {sql})");
                }
                if !lit.is_empty()
                    && let Some(hi) = next_prefix(&lit)
                {
                    let lo = self.bind(lit);
                    let hib = self.bind(hi);
                    sql = format!("(f.path >= {lo} AND f.path < {hib} AND {sql})");
                }
                sql
            }
            Predicate::Ext(e) => {
                let b = self.bind(e.clone());
                // IS, not =: a file without an extension has a NULL ext, and `NOT (NULL = x)`
                // is NULL, which would drop it from `-ext:x`.
                format!("f.ext IS {b}")
            }
            Predicate::Size(op, n) => {
                let b = self.bind(i64::try_from(*n).unwrap_or(i64::MAX));
                format!("f.size {} {b}", op.sql())
            }
            Predicate::MtimeAt(op, d) => {
                // The text names a span [start, end): a day, a minute or a second. `:` is in
                // it, `>` after it, `>=` in or after, `<` before, `<=` before or in; so `>`
                // and `<=` (and `<` and `>=`) split every file in two.
                let start = d.unix.saturating_mul(1_000_000_000);
                let end = d.unix.saturating_add(d.span_seconds()).saturating_mul(1_000_000_000);
                match op {
                    CmpOp::Eq => {
                        let (s, e) = (self.bind(start), self.bind(end));
                        format!("(f.mtime_ns >= {s} AND f.mtime_ns < {e})")
                    }
                    CmpOp::Gt => format!("f.mtime_ns >= {}", self.bind(end)),
                    CmpOp::Ge => format!("f.mtime_ns >= {}", self.bind(start)),
                    CmpOp::Lt => format!("f.mtime_ns < {}", self.bind(start)),
                    CmpOp::Le => format!("f.mtime_ns < {}", self.bind(end)),
                }
            }
            Predicate::MtimeAge(op, d) => {
                let cutoff = (self.now - d.seconds()).saturating_mul(1_000_000_000);
                let b = self.bind(cutoff);
                // younger than the age = modified after the cutoff
                let sql_op = match op {
                    CmpOp::Lt | CmpOp::Eq => ">",
                    CmpOp::Le => ">=",
                    CmpOp::Gt => "<",
                    CmpOp::Ge => "<=",
                };
                format!("f.mtime_ns {sql_op} {b}")
            }
            Predicate::TagCount(op, n) => {
                let none = matches!((op, n), (CmpOp::Eq, 0) | (CmpOp::Lt, 1) | (CmpOp::Le, 0));
                if none {
                    "NOT EXISTS (SELECT 1 FROM file_tags z WHERE z.file_id = f.id)".to_string()
                } else {
                    let b = self.bind(i64::try_from(*n).unwrap_or(i64::MAX));
                    format!(
                        "(SELECT count(DISTINCT z.tag_id) FROM file_tags z WHERE z.file_id = f.id) {} {b}",
                        op.sql()
                    )
                }
            }
            Predicate::Hash(hex) => {
                let (lo, hi) = hash_range(hex);
                let (l8, h8) = (self.bind(lo[..8].to_vec()), self.bind(hi[..8].to_vec()));
                let (l, h) = (self.bind(lo), self.bind(hi));
                // The index holds the first 8 bytes; the full comparison settles the rest.
                format!(
                    "(substr(f.hash, 1, 8) >= {l8} AND substr(f.hash, 1, 8) <= {h8} AND f.hash >= {l} AND f.hash <= {h})"
                )
            }
            Predicate::Pool(t) => {
                let folded = fold(t);
                if !self.any_row("SELECT 1 FROM pools WHERE folded = ?1", &[&folded])? {
                    self.warnings.push(format!("{t}: no such pool"));
                }
                let b = self.bind(folded);
                format!(
                    "f.id IN (SELECT pf.file_id FROM pool_files pf JOIN pools p ON p.id = pf.pool_id WHERE p.folded = {b})"
                )
            }
            // The unary + keeps the planner from using the state for an index: with the
            // partial index on missing files' sizes, SQLite 3.53 fails to plan queries like
            // `(size:1 | missing) size:1 (cute | missing)` when no column outside its indexes
            // is read ("internal query planner error", seen with --count).
            Predicate::Missing => "+f.state = 1".to_string(),
        })
    }
}

/// The longest run of plain bytes in a glob pattern: outside `[...]` classes, not touching
/// an escape, so every path the pattern matches contains it.
fn longest_literal(pat: &[u8]) -> Vec<u8> {
    let (mut best_from, mut best_to) = (0usize, 0usize);
    let mut i = 0;
    let mut start = 0;
    let mut consider = |from: usize, to: usize| {
        if to > from && to - from > best_to - best_from {
            (best_from, best_to) = (from, to);
        }
    };
    while i < pat.len() {
        match pat[i] {
            b'*' | b'?' => {
                consider(start, i);
                i += 1;
                start = i;
            }
            b'\\' => {
                consider(start, i);
                i += 2;
                start = i.min(pat.len());
            }
            b'[' => {
                consider(start, i);
                // skip the class (an unclosed '[' is a literal; not counting it loses nothing)
                let mut j = i + 1;
                if matches!(pat.get(j), Some(b'!' | b'^')) {
                    j += 1;
                }
                j += 1;
                while j < pat.len() && pat[j] != b']' {
                    j += 1;
                }
                i = (j + 1).min(pat.len());
                start = i;
            }
            _ => i += 1,
        }
    }
    consider(start, pat.len());
    pat[best_from..best_to].to_vec()
}

/// The smallest byte string greater than every string starting with `p`.
fn next_prefix(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// The inclusive range of 32-byte hashes starting with the hex prefix.
fn hash_range(hex: &str) -> (Vec<u8>, Vec<u8>) {
    let nib = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let mut lo = [0u8; 32];
    let mut hi = [0xffu8; 32];
    for (i, c) in hex.bytes().take(64).enumerate() {
        let n = nib(c);
        let (byte, high) = (i / 2, i % 2 == 0);
        if high {
            lo[byte] = n << 4;
            hi[byte] = (n << 4) | 0x0f;
        } else {
            lo[byte] |= n;
            hi[byte] = (hi[byte] & 0xf0) | n;
        }
    }
    (lo.to_vec(), hi.to_vec())
}

fn mentions_missing(e: &Expr) -> bool {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().any(mentions_missing),
        Expr::Not(x) => mentions_missing(x),
        Expr::Pred(Predicate::Missing) => true,
        _ => false,
    }
}

/// Compiles `e`. `now` (seconds since the epoch) anchors ages like `mtime<30d`.
pub fn compile(conn: &Connection, e: &Expr, now: i64) -> Result<Compiled> {
    let mut c = Compiler { conn, params: Vec::new(), warnings: Vec::new(), now, last_base: None };
    let top: &[Expr] = match e {
        Expr::And(v) => v,
        other => std::slice::from_ref(other),
    };
    let mut sort = (SortKey::Path, false);
    let mut limit = None;
    for x in top {
        match x {
            Expr::Modifier(Modifier::Sort { key, reverse }) => sort = (*key, *reverse),
            Expr::Modifier(Modifier::Limit(n)) => limit = Some(*n),
            _ => {}
        }
    }
    let body = match e {
        Expr::Modifier(_) => "1".to_string(),
        e => c.expr(e, true)?,
    };
    let universe = if mentions_missing(e) { "1" } else { "f.state <> 1" };
    let single_term = {
        let terms: Vec<&Expr> = top.iter().filter(|x| !matches!(x, Expr::Modifier(_))).collect();
        terms.len() == 1 && matches!(terms[0], Expr::Tag(_) | Expr::Compare { .. })
    };
    // The fast count first resolves the term to its tag ids (the tag plus every tag
    // implying it); see `Compiled::count`.
    let fast_count = match (&c.last_base, single_term && !mentions_missing(e)) {
        (Some(base), true) => {
            Some((format!("WITH RECURSIVE d(id) AS ({base} {DESCEND}) SELECT id FROM d"), c.params.clone()))
        }
        _ => None,
    };
    let where_params = c.params.len();
    let dir = if sort.1 { "DESC" } else { "ASC" };
    let order = match sort.0 {
        SortKey::Path => format!("f.path {dir}"),
        SortKey::Mtime => format!("f.mtime_ns {dir}, f.path"),
        SortKey::Size => format!("f.size {dir}, f.path"),
        SortKey::Random => "random()".to_string(),
        SortKey::Pool => {
            // The pool's own order needs to know which pool: the one `pool:` term ANDed in.
            let pools: Vec<&str> = top
                .iter()
                .filter_map(|x| if let Expr::Pred(Predicate::Pool(t)) = x { Some(t.as_str()) } else { None })
                .collect();
            let [title] = pools.as_slice() else {
                return Err(Error::QueryMeaning(
                    "sort:pool needs exactly one pool:TITLE term joined to the query by AND".into(),
                ));
            };
            // The pool's id is looked up now and written into the ORDER BY as a number: a bound
            // parameter there would not exist in the count's SQL, which has no ORDER BY.
            let id: Option<i64> =
                conn.query_row("SELECT id FROM pools WHERE folded = ?1", [fold(title)], |r| r.get(0)).optional()?;
            let id = id.map_or_else(|| "NULL".to_string(), |i| i.to_string());
            format!(
                "(SELECT pf.position FROM pool_files pf WHERE pf.pool_id = {id} AND pf.file_id = f.id) {dir}, f.path"
            )
        }
    };
    let no_terms = top.iter().all(|x| matches!(x, Expr::Modifier(_)));
    let sample = match (no_terms && !mentions_missing(e), sort.0, limit) {
        (true, SortKey::Random, Some(n)) if n > 0 && n <= 10_000 => Some(n),
        _ => None,
    };
    Ok(Compiled {
        sample,
        where_sql: format!("{universe} AND {body}"),
        params: c.params,
        where_params,
        order,
        limit,
        warnings: c.warnings,
        fast_count,
        sort,
    })
}

impl Compiled {
    /// Whether the first page can be drawn as random ids (`sort:random limit:N` alone):
    /// see [`Compiled::for_each`].
    pub fn sampled(&self) -> bool {
        self.sample.is_some()
    }

    /// Up to `n` matches after `after` (from the start when `None`), in order, and where the
    /// next page starts (`None` when this page is the last). `limit:` in the query caps the
    /// whole sequence of pages for offset orders only; keyset pages ignore it.
    pub fn page_after(
        &self,
        conn: &Connection,
        after: Option<&After>,
        n: u64,
    ) -> Result<(Vec<FileRecord>, Option<After>)> {
        let (key, reverse) = self.sort;
        let keyset = matches!(key, SortKey::Path | SortKey::Mtime | SortKey::Size);
        let mut params = self.params.clone();
        let mut cond = String::new();
        let mut offset = 0u64;
        match (after, keyset) {
            (None, _) => {}
            (Some(After::Offset(o)), false) => offset = *o,
            (Some(After::Path(p)), true) if key == SortKey::Path => {
                params.push(Value::Blob(p.clone()));
                let op = if reverse { "<" } else { ">" };
                cond = format!(" AND f.path {op} ?{}", params.len());
            }
            (Some(After::Value(v, p)), true) if key != SortKey::Path => {
                let col = if key == SortKey::Mtime { "f.mtime_ns" } else { "f.size" };
                params.push(Value::Integer(*v));
                let vi = params.len();
                params.push(Value::Blob(p.clone()));
                let pi = params.len();
                // Ties are always in ascending path order (see `compile`).
                let op = if reverse { "<" } else { ">" };
                cond = format!(" AND ({col} {op} ?{vi} OR ({col} = ?{vi} AND f.path > ?{pi}))");
            }
            (Some(_), _) => return Err(Error::QueryMeaning("the cursor does not belong to this query's order".into())),
        }
        let cols = super::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
        let mut take = n;
        if !keyset && let Some(l) = self.limit {
            take = take.min(l.saturating_sub(offset));
        }
        let sql = format!(
            "SELECT {cols} FROM files f WHERE {}{cond} ORDER BY {} LIMIT {} OFFSET {offset}",
            self.where_sql,
            self.order,
            take.saturating_add(1)
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows: Vec<FileRecord> = st
            .query_map(rusqlite::params_from_iter(params.iter()), super::files::from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let more = rows.len() as u64 > take;
        rows.truncate(take as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(match key {
                SortKey::Path => After::Path(last.path_bytes().to_vec()),
                SortKey::Mtime => After::Value(last.stat.mtime_ns, last.path_bytes().to_vec()),
                SortKey::Size => After::Value(last.stat.size as i64, last.path_bytes().to_vec()),
                SortKey::Pool => After::Offset(offset + rows.len() as u64),
                // A new shuffle per page would repeat files: random order is one page.
                SortKey::Random => return Ok((rows, None)),
            }),
            _ => None,
        };
        Ok((rows, next))
    }

    fn effective_limit(&self, extra: Option<u64>) -> Option<u64> {
        match (self.limit, extra) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The full `SELECT` (for `EXPLAIN QUERY PLAN` and the performance notes).
    pub fn select_sql(&self, extra_limit: Option<u64>) -> String {
        let cols = super::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
        let mut sql = format!("SELECT {cols} FROM files f WHERE {} ORDER BY {}", self.where_sql, self.order);
        if let Some(n) = self.effective_limit(extra_limit) {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }

    /// Streams matches in order; `f` returns false to stop early.
    pub fn for_each(
        &self,
        conn: &Connection,
        extra_limit: Option<u64>,
        mut f: impl FnMut(FileRecord) -> Result<bool>,
    ) -> Result<()> {
        if let Some(n) = self.sample {
            let n = extra_limit.map_or(n, |e| e.min(n));
            let cols = super::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "WITH RECURSIVE r(k, id) AS (SELECT 0, NULL UNION ALL \
                   SELECT k + 1, abs(random()) % (SELECT max(id) FROM files) + 1 FROM r WHERE k < ?1) \
                 SELECT {cols} FROM files f WHERE f.id IN (SELECT id FROM r WHERE id IS NOT NULL) AND f.state <> 1 \
                 ORDER BY random() LIMIT ?2"
            );
            let mut st = conn.prepare(&sql)?;
            let rows: Vec<FileRecord> = st
                .query_map(rusqlite::params![(n * 4 + 64) as i64, n as i64], super::files::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            // Too few live rows among the draws (a small or gappy table): shuffle them all.
            if rows.len() as u64 == n {
                for r in rows {
                    if !f(r)? {
                        break;
                    }
                }
                return Ok(());
            }
        }
        let mut st = conn.prepare(&self.select_sql(extra_limit))?;
        let mut rows = st.query(rusqlite::params_from_iter(self.params.iter()))?;
        while let Some(r) = rows.next()? {
            if !f(super::files::from_row(r)?)? {
                break;
            }
        }
        Ok(())
    }

    /// How many files match (honouring `limit:`).
    pub fn count(&self, conn: &Connection) -> Result<u64> {
        if let Some((tags_sql, params)) = &self.fast_count {
            let mut st = conn.prepare_cached(tags_sql)?;
            let tags: Vec<i64> = st
                .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let n = match tags.as_slice() {
                [] => 0,
                // One tag: its slice of the (tag_id, file_id) key is already in file order, so
                // DISTINCT streams without a temporary B-tree.
                [one] => conn
                    .prepare_cached(
                        "SELECT count(*) FROM (SELECT DISTINCT ft.file_id FROM file_tags ft WHERE ft.tag_id = ?1 \
                         AND ft.file_id NOT IN (SELECT m.id FROM files m WHERE m.state = 1))",
                    )?
                    .query_row([one], |r| r.get::<_, i64>(0))? as u64,
                // Past SQLite's limit on bound parameters: take the general path below.
                many if many.len() > 20_000 => u64::MAX,
                many => {
                    let marks = vec!["?"; many.len()].join(",");
                    conn.query_row(
                        &format!(
                            "SELECT count(DISTINCT ft.file_id) FROM file_tags ft WHERE ft.tag_id IN ({marks}) \
                             AND ft.file_id NOT IN (SELECT m.id FROM files m WHERE m.state = 1)"
                        ),
                        rusqlite::params_from_iter(many.iter()),
                        |r| r.get::<_, i64>(0),
                    )? as u64
                }
            };
            if n != u64::MAX {
                return Ok(self.limit.map_or(n, |l| n.min(l)));
            }
        }
        let mut sql = format!("SELECT count(*) FROM (SELECT 1 FROM files f WHERE {}", self.where_sql);
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql.push(')');
        let params = &self.params[..self.where_params];
        Ok(conn.query_row(&sql, rusqlite::params_from_iter(params.iter()), |r| r.get::<_, i64>(0))? as u64)
    }

    /// `EXPLAIN QUERY PLAN` lines for the select.
    pub fn explain(&self, conn: &Connection) -> Result<Vec<String>> {
        let sql = format!("EXPLAIN QUERY PLAN {}", self.select_sql(None));
        let mut st = conn.prepare(&sql)?;
        let v = st
            .query_map(rusqlite::params_from_iter(self.params.iter()), |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }
}

/// Byte-wise glob: `*` any run (slashes included), `?` one character, `[abc]`, `[a-z]`,
/// `[!x]`, `\x` a literal x.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star_p, mut star_i) = (usize::MAX, 0usize);
    // `?` takes one character: a valid UTF-8 sequence, or else a single byte.
    let char_len = |rest: &[u8]| match std::str::from_utf8(&rest[..rest.len().min(4)]) {
        Ok(t) => t.chars().next().map_or(1, char::len_utf8),
        Err(e) if e.valid_up_to() > 0 => {
            std::str::from_utf8(&rest[..e.valid_up_to()]).ok().and_then(|t| t.chars().next()).map_or(1, char::len_utf8)
        }
        Err(_) => 1,
    };
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star_p = p;
                    star_i = i;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += char_len(&s[i..]);
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pat, p, s[i]) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    } else if s[i] == b'[' {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        if star_p != usize::MAX {
            p = star_p + 1;
            star_i += 1;
            i = star_i;
            continue;
        }
        return false;
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// Matches one byte against the class starting at `pat[p] == '['`: (matched, index after).
fn class(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = matches!(pat.get(j), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while j < pat.len() {
        if pat[j] == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if j + 2 < pat.len() && pat[j + 1] == b'-' && pat[j + 2] != b']' {
            if pat[j] <= c && c <= pat[j + 2] {
                matched = true;
            }
            j += 3;
        } else {
            if pat[j] == c {
                matched = true;
            }
            j += 1;
        }
    }
    None
}

/// Registers `trove_glob(pattern, path)` on a connection.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "trove_glob",
        2,
        FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_UTF8,
        |ctx| {
            let pat = ctx.get_raw(0);
            let s = ctx.get_raw(1);
            let (Some(pat), Some(s)) = (raw_bytes(pat), raw_bytes(s)) else { return Ok(false) };
            Ok(glob_match(pat, s))
        },
    )
}

fn raw_bytes(v: rusqlite::types::ValueRef<'_>) -> Option<&[u8]> {
    match v {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(glob_match(b"*/music/*", b"/home/u/music/a.flac"));
        assert!(glob_match(b"/a/*.jpg", b"/a/b/c.jpg"));
        assert!(!glob_match(b"/a/*.jpg", b"/a/b/c.png"));
        assert!(glob_match(b"*[0-9].txt", b"/x/f7.txt"));
        assert!(!glob_match(b"*[!0-9].txt", b"/x/f7.txt"));
        assert!(glob_match(b"*/?.txt", "/x/é.txt".as_bytes()));
        assert!(glob_match(b"*\\*", b"/x/a*"));
        assert!(!glob_match(b"*\\*", b"/x/a"));
        assert!(glob_match(b"*/b_%*", b"/x/b_%1"));
        assert!(glob_match(b"*[", b"/x/["));
    }

    #[test]
    fn hash_ranges_cover_odd_prefixes() {
        let (lo, hi) = hash_range("abcdef012");
        assert_eq!(&lo[..5], &[0xab, 0xcd, 0xef, 0x01, 0x20]);
        assert_eq!(&hi[..5], &[0xab, 0xcd, 0xef, 0x01, 0x2f]);
        assert_eq!(hi[5], 0xff);
    }

    #[test]
    fn longest_literal_runs() {
        assert_eq!(longest_literal(b"*/inbox/*7*"), b"/inbox/");
        assert_eq!(longest_literal(b"*/a[xyz]bcdef?g"), b"bcdef");
        assert_eq!(longest_literal(b"*\\*star*"), b"star");
        assert_eq!(longest_literal(b"**"), b"");
        for (pat, path) in [(&b"*/inbox/*7*"[..], &b"/l/inbox/a7"[..]), (b"*/a[xyz]bcdef?g", b"/a/aybcdefqg")] {
            assert!(glob_match(pat, path));
            let lit = longest_literal(pat);
            assert!(path.windows(lit.len()).any(|w| w == lit.as_slice()));
        }
    }

    #[test]
    fn next_prefix_carries() {
        assert_eq!(next_prefix(b"/a"), Some(b"/b".to_vec()));
        assert_eq!(next_prefix(&[b'/', 0xff]), Some(vec![b'0']));
    }
}
