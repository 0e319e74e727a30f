//! Query tree → SQL: the WHERE clause, its parameters, the ORDER BY and the fast count.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::Compiled;
use super::sets::Plan;
use crate::Result;
use crate::model::fold;
use crate::query::QueryMeaning;
use crate::query::{CmpOp, DupeKind, Expr, Modifier, NamePart, NamePattern, Predicate, SortKey};
use crate::store::tags::{Toward, closure};

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
            "f.id IN (SELECT ft.file_id FROM file_tags ft WHERE ft.tag_id IN ({}))",
            closure(&base, Toward::Implying)
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
                return Err(QueryMeaning::NestedModifier { modifier: m.to_string() }.into());
            }
        })
    }

    fn pred(&mut self, p: &Predicate) -> Result<String> {
        Ok(match p {
            Predicate::Path(g) => {
                let pat = path_pattern(g);
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
            // Metadata: each term is the set of files whose metadata row passes, so `-P` is
            // its complement (files without metadata included) and every term two-valued.
            Predicate::Mime(m) => {
                let b = self.bind(glob_for_names(m));
                meta_set(&format!("m.mime GLOB {b}"))
            }
            Predicate::Type(t) => {
                let b = self.bind(t.clone());
                meta_set(&format!("m.kind = {b}"))
            }
            Predicate::Width(op, n) => self.meta_cmp("m.width", *op, *n),
            Predicate::Height(op, n) => self.meta_cmp("m.height", *op, *n),
            Predicate::Length(op, ms) => self.meta_cmp("m.duration_ms", *op, *ms),
            Predicate::Ratio(op, r) => {
                // width/height OP num/den, in integers: width*den OP height*num.
                let (n, d) = (self.bind(r.num as i64), self.bind(r.den as i64));
                meta_set(&format!("m.height > 0 AND m.width * {d} {} m.height * {n}", op.sql()))
            }
            Predicate::Has(x) if x == "audio" => meta_set("m.has_audio = 1"),
            Predicate::Has(x) if x == "duration" => meta_set("m.duration_ms IS NOT NULL"),
            Predicate::Has(x) if x == "taken" => meta_set("m.taken IS NOT NULL"),
            Predicate::Has(x) if x == "error" => meta_set("m.error IS NOT NULL"),
            Predicate::Has(x) => {
                let b = self.bind(x.clone());
                format!("f.id IN (SELECT mf.file_id FROM meta_fields mf WHERE mf.key = {b})")
            }
            Predicate::Meta { field, value } => {
                let k = self.bind(field.clone());
                let cond = if value.has_wildcard() {
                    format!("mf.folded GLOB {}", self.bind(pattern_glob(value)))
                } else {
                    format!("mf.folded = {}", self.bind(fold(&value.display())))
                };
                format!("f.id IN (SELECT mf.file_id FROM meta_fields mf WHERE mf.key = {k} AND {cond})")
            }
            Predicate::Taken(op, d) => {
                // As `mtime` dates: the text names a span [start, end).
                let (start, end) = (d.unix, d.unix.saturating_add(d.span_seconds()));
                let cond = match op {
                    CmpOp::Eq => {
                        let (s, e) = (self.bind(start), self.bind(end));
                        format!("m.taken >= {s} AND m.taken < {e}")
                    }
                    CmpOp::Gt => format!("m.taken >= {}", self.bind(end)),
                    CmpOp::Ge => format!("m.taken >= {}", self.bind(start)),
                    CmpOp::Lt => format!("m.taken < {}", self.bind(start)),
                    CmpOp::Le => format!("m.taken < {}", self.bind(end)),
                };
                meta_set(&cond)
            }
            Predicate::Dupe(DupeKind::Exact) => {
                // The hash index holds the first 8 bytes; empty files all share one hash and
                // waste nothing, so they are not copies (as in `trove dupes`).
                "(f.state <> 1 AND f.size > 0 AND EXISTS (SELECT 1 FROM files g
                   WHERE substr(g.hash, 1, 8) = substr(f.hash, 1, 8) AND g.hash = f.hash
                     AND g.id <> f.id AND g.state <> 1 AND g.size > 0))"
                    .to_string()
            }
            Predicate::Dupe(kind) => {
                // Similarity is not a row condition: the pairs are found over every hash at
                // once (`similar::pairs`), here, and the ids come in as one JSON parameter.
                let d = crate::similar::DEFAULT_DISTANCE;
                let ids = match kind {
                    DupeKind::Similar => crate::store::dupes::similar_ids(self.conn, d)?,
                    _ => crate::store::dupes::undecided_ids(self.conn, d)?,
                };
                let json = format!("[{}]", ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(","));
                format!("f.id IN (SELECT value FROM json_each({}))", self.bind(json))
            }
        })
    }

    fn meta_cmp(&mut self, col: &str, op: CmpOp, n: u64) -> String {
        let b = self.bind(i64::try_from(n).unwrap_or(i64::MAX));
        meta_set(&format!("{col} {} {b}", op.sql()))
    }
}

/// The glob a `path:` term matches whole paths with: a pattern that starts with neither `/`
/// nor `*` matches at the start of any path component.
fn path_pattern(g: &str) -> String {
    let mut pat = g.to_string();
    if !pat.starts_with('/') && !pat.starts_with('*') {
        pat.insert_str(0, "*/");
    }
    pat
}

/// The trigrams every path the glob matches contains: those of its literal runs of 3 bytes
/// or more (empty when it has none, and the term is a scan).
fn path_trigrams(pat: &[u8]) -> Vec<u32> {
    let mut t: Vec<u32> = super::glob::literal_runs(pat).iter().flat_map(|r| crate::store::trigrams::of(r)).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// Files whose metadata row (`m`) passes `cond`.
fn meta_set(cond: &str) -> String {
    format!("f.id IN (SELECT m.file_id FROM file_meta m WHERE {cond})")
}

/// A metadata column for ORDER BY, read per row.
fn meta_col(col: &str) -> String {
    format!("(SELECT m.{col} FROM file_meta m WHERE m.file_id = f.id)")
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

/// The namespace `ns` (folded) when the pattern is exactly `ns:*`: the names it matches are
/// those whose namespace is `ns` (`model::split_namespace` splits at the first `:`), plus
/// the bare name `ns:`.
fn namespace_wildcard(p: &NamePattern) -> Option<String> {
    let [NamePart::Literal(l), NamePart::Star] = p.parts.as_slice() else { return None };
    let f = fold(l);
    let ns = f.strip_suffix(':')?;
    (!ns.is_empty() && !ns.contains(':')).then(|| ns.to_string())
}

/// The set operations for `e` (see [`super::sets`]): each leaf compiled on its own, so its
/// SQL and parameters stand alone. `top`: modifiers at this level are skipped.
fn plan(conn: &Connection, e: &Expr, now: i64, top: bool) -> Result<Plan> {
    let leaf = || Compiler { conn, params: Vec::new(), warnings: Vec::new(), now, last_base: None };
    Ok(match e {
        Expr::And(v) => Plan::And(
            v.iter()
                .filter(|x| !(top && matches!(x, Expr::Modifier(_))))
                .map(|x| plan(conn, x, now, false))
                .collect::<Result<_>>()?,
        ),
        Expr::Or(v) => Plan::Or(v.iter().map(|x| plan(conn, x, now, false)).collect::<Result<_>>()?),
        Expr::Not(x) => match plan(conn, x, now, false)? {
            // NOT stays in SQL for a row condition: SQL's NOT of a NULL is no match either.
            Plan::Rows { cond, params, label } => {
                Plan::Rows { cond: format!("NOT ({cond})"), params, label: format!("-{label}") }
            }
            p => Plan::Not(Box::new(p)),
        },
        Expr::Tag(p) if namespace_wildcard(p).is_some() => {
            let ns = namespace_wildcard(p).expect("just checked");
            // Tags implying one in the namespace (transitively), and a tag named `ns:` (no
            // namespace: its value is empty), which the wildcard matches too.
            let base = "SELECT i.child FROM implications i JOIN tag_names n ON n.tag_id = i.parent WHERE n.ns = ?1 \
                        UNION SELECT tag_id FROM tag_names WHERE folded = ?2";
            let params = vec![Value::Text(ns.clone()), Value::Text(format!("{ns}:"))];
            Plan::Namespace { ns, sql: closure(base, Toward::Implying), params, label: e.to_string() }
        }
        Expr::Tag(_) | Expr::Compare { .. } => {
            let mut c = leaf();
            c.expr(e, false)?;
            let base = c.last_base.take().expect("a tag term sets its base");
            Plan::Tags { sql: closure(&base, Toward::Implying), params: c.params, label: e.to_string() }
        }
        Expr::Pred(Predicate::Missing) => Plan::Missing,
        // Terms about metadata and pools are sets of file ids read from their own tables'
        // indexes (`f.id IN (SELECT … )`): the ids come straight from the index, no file row
        // is read.
        Expr::Pred(
            p @ (Predicate::Mime(_)
            | Predicate::Type(_)
            | Predicate::Width(..)
            | Predicate::Height(..)
            | Predicate::Length(..)
            | Predicate::Ratio(..)
            | Predicate::Has(_)
            | Predicate::Meta { .. }
            | Predicate::Taken(..)
            | Predicate::Pool(_)),
        ) => {
            let mut c = leaf();
            let cond = c.pred(p)?;
            match cond.strip_prefix("f.id IN (").and_then(|s| s.strip_suffix(')')) {
                Some(ids) => Plan::Ids { sql: ids.to_string(), params: c.params, label: e.to_string() },
                None => Plan::Rows { cond, params: c.params, label: e.to_string() },
            }
        }
        // A path glob: its literal runs' trigrams give the candidates from the trigram index,
        // whose real paths the byte glob then checks.
        Expr::Pred(p @ Predicate::Path(g)) if !path_trigrams(path_pattern(g).as_bytes()).is_empty() => {
            let mut c = leaf();
            let cond = c.pred(p)?;
            Plan::Glob {
                cond,
                params: c.params,
                trigrams: path_trigrams(path_pattern(g).as_bytes()),
                label: e.to_string(),
            }
        }
        Expr::Pred(Predicate::TagCount(op, n))
            if matches!((op, n), (CmpOp::Eq, 0) | (CmpOp::Lt, 1) | (CmpOp::Le, 0)) =>
        {
            Plan::Untagged
        }
        other => {
            let mut c = leaf();
            let cond = c.expr(other, false)?;
            Plan::Rows { cond, params: c.params, label: other.to_string() }
        }
    })
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
        (Some(base), true) => Some((closure(base, Toward::Implying), c.params.clone())),
        _ => None,
    };
    let where_params = c.params.len();
    let dir = if sort.1 { "DESC" } else { "ASC" };
    let order = match sort.0 {
        SortKey::Path => format!("f.path {dir}"),
        SortKey::Mtime => format!("f.mtime_ns {dir}, f.path"),
        SortKey::Size => format!("f.size {dir}, f.path"),
        SortKey::Random => "random()".to_string(),
        // The index on added_at in either direction; equal dates by record id, same direction.
        SortKey::Added => format!("f.added_at {dir}, f.id {dir}"),
        // Files without the value last in either direction, ties in path order.
        SortKey::Taken | SortKey::Duration | SortKey::Width | SortKey::Height => {
            let col = meta_col(match sort.0 {
                SortKey::Taken => "taken",
                SortKey::Duration => "duration_ms",
                SortKey::Width => "width",
                _ => "height",
            });
            format!("{col} IS NULL, {col} {dir}, f.path")
        }
        SortKey::Pool => {
            // The pool's own order needs to know which pool: the one `pool:` term ANDed in.
            let pools: Vec<&str> = top
                .iter()
                .filter_map(|x| if let Expr::Pred(Predicate::Pool(t)) = x { Some(t.as_str()) } else { None })
                .collect();
            let [title] = pools.as_slice() else {
                return Err(QueryMeaning::SortPoolNeedsOnePool.into());
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
    let plan = match e {
        Expr::Modifier(_) => Plan::All,
        e => plan(conn, e, now, true)?,
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
        plan,
        all_files: mentions_missing(e),
        plain_sql: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::find::glob_match;

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
