//! Running a compiled query: a keyset page, a stream in order, a count, the plan.

use std::rc::Rc;

use roaring::RoaringBitmap;
use rusqlite::Connection;
use rusqlite::types::Value;

use super::sets::Eval;
use super::{After, Compiled};
use crate::Result;
use crate::model::FileRecord;
use crate::query::SortKey;
use crate::store::postings;

fn cols() -> String {
    crate::store::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
}

/// One read snapshot for a whole query (the bitmaps, then the rows), unless the caller is
/// already inside a transaction: a writer committing between the two cannot mix them.
struct Snapshot<'c>(Option<&'c Connection>);

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN DEFERRED")?;
            Ok(Snapshot(Some(conn)))
        } else {
            Ok(Snapshot(None))
        }
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            // A read transaction: nothing to keep, so rolling back is the same as ending it.
            let _ = c.execute_batch("ROLLBACK");
        }
    }
}

/// The metadata column an order walks, for the orders that have one.
fn meta_sort_column(key: SortKey) -> Option<&'static str> {
    match key {
        SortKey::Taken => Some("taken"),
        SortKey::Duration => Some("duration_ms"),
        SortKey::Width => Some("width"),
        SortKey::Height => Some("height"),
        _ => None,
    }
}

/// Runs `sql` (rows of `files f`, the id first, with `params`) and passes on the rows whose
/// id is in `set`, at most `take`; stops early when `f` returns false.
fn walk(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    set: &RoaringBitmap,
    take: u64,
    mut f: impl FnMut(FileRecord) -> Result<bool>,
) -> Result<()> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
    let mut sent = 0u64;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if u32::try_from(id).is_ok_and(|i| set.contains(i)) {
            sent += 1;
            if !f(crate::store::files::from_row(r)?)? || sent >= take {
                break;
            }
        }
    }
    Ok(())
}

/// The matching set and the universe's size, from the posting lists.
struct Matches {
    set: RoaringBitmap,
    universe: u64,
}

impl Matches {
    /// Whether walking the live files in path order and skipping non-matches reads fewer
    /// rows than fetching every match and sorting: a walk reads about `take × universe / |set|`
    /// rows, a fetch `|set|`.
    fn dense(&self, take: u64) -> bool {
        let n = u128::from(self.set.len());
        n * n > u128::from(take) * u128::from(self.universe) || n * 4 > u128::from(self.universe)
    }
}

impl Compiled {
    /// Evaluates with plain SQL only, never the posting lists: the reference the property
    /// tests compare the set algebra with.
    pub fn plain_sql(&mut self) {
        self.plain_sql = true;
    }

    /// The set operations this query takes over the posting lists, as text.
    pub fn steps(&self) -> String {
        let u = if self.all_files { "all files" } else { "live" };
        format!("{} ∩ {u}", self.plan.describe())
    }

    /// Whether the posting lists answer this query now.
    pub fn uses_posting_lists(&self, conn: &Connection) -> Result<bool> {
        Ok(!self.plain_sql && postings::usable(conn)?)
    }

    /// The matches from the posting lists; `None` when they cannot answer now (plain SQL
    /// asked for, or writes in this transaction not yet settled into them).
    fn matches(&self, conn: &Connection) -> Result<Option<Matches>> {
        if self.plain_sql || !postings::usable(conn)? {
            return Ok(None);
        }
        let mut ev = Eval::new(conn, self.all_files)?;
        let set = ev.run(&self.plan)?;
        Ok(Some(Matches { set, universe: ev.universe.len() }))
    }

    /// Streams the rows of `m.set` in the query's order, after the cursor condition `cond`
    /// (whose parameters are `cparams`, numbered from 1), skipping `offset`, at most `take`.
    fn stream_set(
        &self,
        conn: &Connection,
        m: &Matches,
        (cond, cparams): (&str, &[Value]),
        offset: u64,
        take: u64,
        mut f: impl FnMut(FileRecord) -> Result<bool>,
    ) -> Result<()> {
        let cols = cols();
        if take == 0 || m.set.is_empty() {
            return Ok(());
        }
        if self.sort.0 == SortKey::Path && !self.all_files && offset == 0 && m.dense(take) {
            // The live-path index in order, filtered by the set: stops after `take` matches.
            let dir = if self.sort.1 { "DESC" } else { "ASC" };
            let sql = format!("SELECT {cols} FROM files f WHERE f.state <> 1{cond} ORDER BY f.path {dir}");
            let mut st = conn.prepare_cached(&sql)?;
            let mut rows = st.query(rusqlite::params_from_iter(cparams.iter()))?;
            let mut sent = 0u64;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                if u32::try_from(id).is_ok_and(|i| m.set.contains(i)) {
                    sent += 1;
                    if !f(crate::store::files::from_row(r)?)? || sent >= take {
                        break;
                    }
                }
            }
            return Ok(());
        }
        if self.sort.0 == SortKey::Added && !self.all_files && offset == 0 && m.dense(take) {
            // The index on added_at in order (either way), filtered by the set.
            let dir = if self.sort.1 { "DESC" } else { "ASC" };
            let sql =
                format!("SELECT {cols} FROM files f WHERE f.state <> 1{cond} ORDER BY f.added_at {dir}, f.id {dir}");
            return walk(conn, &sql, cparams, &m.set, take, f);
        }
        if let Some(col) = meta_sort_column(self.sort.0)
            && !self.all_files
            && m.dense(offset.saturating_add(take))
        {
            // The metadata column's index in order, filtered by the set (SQLite sorts only
            // the runs of equal values by path), then the files without a value in path order.
            let dir = if self.sort.1 { "DESC" } else { "ASC" };
            let with = format!(
                "SELECT {cols} FROM file_meta m CROSS JOIN files f ON f.id = m.file_id \
                 WHERE m.{col} IS NOT NULL AND f.state <> 1 ORDER BY m.{col} {dir}, f.path"
            );
            let without = format!(
                "SELECT {cols} FROM files f WHERE f.state <> 1 AND NOT EXISTS \
                 (SELECT 1 FROM file_meta m WHERE m.file_id = f.id AND m.{col} IS NOT NULL) ORDER BY f.path"
            );
            let (mut skip, mut left) = (offset, take);
            for sql in [with, without] {
                let mut stop = false;
                walk(conn, &sql, &[], &m.set, u64::MAX, |r| {
                    if skip > 0 {
                        skip -= 1;
                        return Ok(true);
                    }
                    left -= 1;
                    if !f(r)? {
                        stop = true;
                        return Ok(false);
                    }
                    Ok(left > 0)
                })?;
                if stop || left == 0 {
                    break;
                }
            }
            return Ok(());
        }
        // Few matches: read exactly those rows and let SQLite sort them.
        let ids: Rc<Vec<Value>> = Rc::new(m.set.iter().map(|i| Value::Integer(i64::from(i))).collect());
        let limit = if take == u64::MAX { String::new() } else { format!(" LIMIT {take} OFFSET {offset}") };
        let limit = if limit.is_empty() && offset > 0 { format!(" LIMIT -1 OFFSET {offset}") } else { limit };
        let sql = format!(
            "SELECT {cols} FROM files f WHERE f.id IN rarray(?{}){cond} ORDER BY {}{limit}",
            cparams.len() + 1,
            self.order
        );
        let mut st = conn.prepare_cached(&sql)?;
        let mut all: Vec<&dyn rusqlite::ToSql> = cparams.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        all.push(&ids);
        let mut rows = st.query(all.as_slice())?;
        while let Some(r) = rows.next()? {
            if !f(crate::store::files::from_row(r)?)? {
                break;
            }
        }
        Ok(())
    }

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
        let keyset = matches!(key, SortKey::Path | SortKey::Mtime | SortKey::Size | SortKey::Added);
        let _snapshot = Snapshot::begin(conn)?;
        let m = self.matches(conn)?;
        // The cursor's condition binds after the WHERE clause's own parameters (none when
        // the posting lists answer).
        let mut params = if m.is_some() { Vec::new() } else { self.params.clone() };
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
            (Some(After::Added(v, id)), true) if key == SortKey::Added => {
                params.push(Value::Integer(*v));
                let vi = params.len();
                params.push(Value::Integer(*id));
                let ii = params.len();
                // Ties by id in the order's own direction (see `compile`).
                let op = if reverse { "<" } else { ">" };
                cond = format!(" AND (f.added_at {op} ?{vi} OR (f.added_at = ?{vi} AND f.id {op} ?{ii}))");
            }
            (Some(After::Value(v, p)), true) if matches!(key, SortKey::Mtime | SortKey::Size) => {
                let col = if key == SortKey::Mtime { "f.mtime_ns" } else { "f.size" };
                params.push(Value::Integer(*v));
                let vi = params.len();
                params.push(Value::Blob(p.clone()));
                let pi = params.len();
                // Ties are always in ascending path order (see `compile`).
                let op = if reverse { "<" } else { ">" };
                cond = format!(" AND ({col} {op} ?{vi} OR ({col} = ?{vi} AND f.path > ?{pi}))");
            }
            (Some(_), _) => return Err(crate::query::QueryMeaning::CursorForAnotherOrder.into()),
        }
        let mut take = n;
        if !keyset && let Some(l) = self.limit {
            take = take.min(l.saturating_sub(offset));
        }
        let mut rows: Vec<FileRecord> = Vec::new();
        if let Some(m) = &m {
            self.stream_set(conn, m, (&cond, &params), offset, take.saturating_add(1), |r| {
                rows.push(r);
                Ok(true)
            })?;
        } else {
            let sql = format!(
                "SELECT {} FROM files f WHERE {}{cond} ORDER BY {} LIMIT {} OFFSET {offset}",
                cols(),
                self.where_sql,
                self.order,
                take.saturating_add(1)
            );
            let mut st = conn.prepare(&sql)?;
            rows = st
                .query_map(rusqlite::params_from_iter(params.iter()), crate::store::files::from_row)?
                .collect::<rusqlite::Result<_>>()?;
        }
        let more = rows.len() as u64 > take;
        rows.truncate(take as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(match key {
                SortKey::Path => After::Path(last.path_bytes().to_vec()),
                SortKey::Mtime => After::Value(last.stat.mtime_ns, last.path_bytes().to_vec()),
                SortKey::Size => After::Value(last.stat.size as i64, last.path_bytes().to_vec()),
                SortKey::Added => After::Added(last.added_at, last.id.0),
                SortKey::Pool | SortKey::Taken | SortKey::Duration | SortKey::Width | SortKey::Height => {
                    After::Offset(offset + rows.len() as u64)
                }
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

    /// `SELECT f.id FROM files f WHERE …` for the matching files (`limit:` honoured, order
    /// ignored) and its parameters: a subquery for set-level reads over a query's files
    /// (`store::views`).
    pub fn id_subquery(&self) -> (String, &[Value]) {
        let mut sql = format!("SELECT f.id FROM files f WHERE {}", self.where_sql);
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        (sql, &self.params[..self.where_params])
    }

    /// The full `SELECT` (for `EXPLAIN QUERY PLAN` and the performance notes).
    pub fn select_sql(&self, extra_limit: Option<u64>) -> String {
        let cols = crate::store::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
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
            let cols = crate::store::files::COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "WITH RECURSIVE r(k, id) AS (SELECT 0, NULL UNION ALL \
                   SELECT k + 1, abs(random()) % (SELECT max(id) FROM files) + 1 FROM r WHERE k < ?1) \
                 SELECT {cols} FROM files f WHERE f.id IN (SELECT id FROM r WHERE id IS NOT NULL) AND f.state <> 1 \
                 ORDER BY random() LIMIT ?2"
            );
            let mut st = conn.prepare(&sql)?;
            let rows: Vec<FileRecord> = st
                .query_map(rusqlite::params![(n * 4 + 64) as i64, n as i64], crate::store::files::from_row)?
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
        let _snapshot = Snapshot::begin(conn)?;
        if let Some(m) = self.matches(conn)? {
            let take = self.effective_limit(extra_limit).unwrap_or(u64::MAX);
            return self.stream_set(conn, &m, ("", &[]), 0, take, f);
        }
        let mut st = conn.prepare(&self.select_sql(extra_limit))?;
        let mut rows = st.query(rusqlite::params_from_iter(self.params.iter()))?;
        while let Some(r) = rows.next()? {
            if !f(crate::store::files::from_row(r)?)? {
                break;
            }
        }
        Ok(())
    }

    /// The matching files as a set of ids, from the posting lists (`limit:` and the order
    /// ignored); `None` when the posting lists cannot answer now (then use plain SQL).
    pub(crate) fn matching_set(&self, conn: &Connection) -> Result<Option<RoaringBitmap>> {
        let _snapshot = Snapshot::begin(conn)?;
        Ok(self.matches(conn)?.map(|m| m.set))
    }

    /// Streams (id, path, mtime in ns) of every match, for a folder listing. Without
    /// `limit:` the order makes no difference to what is listed, so the rows are read by id
    /// from the posting lists' set, in id order, with no sort and no other column; with a
    /// limit (or the posting lists unusable now) in the query's order, as [`Self::for_each`].
    pub fn for_each_listed(&self, conn: &Connection, mut f: impl FnMut(i64, &[u8], i64)) -> Result<()> {
        if self.limit.is_none() && self.sample.is_none() {
            let _snapshot = Snapshot::begin(conn)?;
            if let Some(m) = self.matches(conn)? {
                let ids: Rc<Vec<Value>> = Rc::new(m.set.iter().map(|i| Value::Integer(i64::from(i))).collect());
                let mut st =
                    conn.prepare_cached("SELECT f.id, f.path, f.mtime_ns FROM files f WHERE f.id IN rarray(?1)")?;
                let mut rows = st.query([&ids])?;
                while let Some(r) = rows.next()? {
                    let path = match r.get_ref(1)? {
                        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                        _ => &[],
                    };
                    f(r.get(0)?, path, r.get(2)?);
                }
                return Ok(());
            }
        }
        self.for_each(conn, None, |r| {
            f(r.id.0, r.path_bytes(), r.stat.mtime_ns);
            Ok(true)
        })
    }

    /// How many files match (honouring `limit:`).
    pub fn count(&self, conn: &Connection) -> Result<u64> {
        let _snapshot = Snapshot::begin(conn)?;
        if let Some(m) = self.matches(conn)? {
            let n = m.set.len();
            return Ok(self.limit.map_or(n, |l| n.min(l)));
        }
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
