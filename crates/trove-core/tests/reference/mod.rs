//! A reference model of the query language: the README's rules, evaluated plainly over an
//! in-memory library.
//!
//! This is the contract any query engine must keep (today's SQL compiler, tomorrow's posting
//! lists). It is written from the README's query table and its "rules the table leaves
//! implicit", not from the engine: it shares no code with `trove_core` beyond the BLAKE3 and
//! NFC crates, and it has its own query tree ([`Q`]) that the property test renders to text,
//! so the parser is held to the grammar too. Everything here favours being obviously right
//! over being fast: every term scans every file and every tag name.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;

/// A library: files, tags with their names, implications, pools.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub files: Vec<File>,
    /// Each tag's names; the first is its primary name. Names are unique case-insensitively.
    pub tags: Vec<Vec<String>>,
    /// `(child, parent)`: every file carrying `child` also counts as carrying `parent`.
    pub implications: Vec<(usize, usize)>,
    pub pools: Vec<Pool>,
    /// Pairs of files (`a < b`) the user decided about (`trove dupes mark`), whatever the
    /// decision.
    pub decided: BTreeSet<(usize, usize)>,
    /// Derived once, on first use: every tag's names as matched, and for every tag the
    /// tags that imply it. (Build the library fully before asking it anything.)
    pub derived: std::cell::OnceCell<Derived>,
}

#[derive(Debug, Clone, Default)]
pub struct Derived {
    keys: Vec<Vec<String>>,
    implying: Vec<BTreeSet<usize>>,
}

#[derive(Debug, Clone)]
pub struct File {
    /// Absolute path, raw bytes.
    pub path: Vec<u8>,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: [u8; 32],
    /// Gone from disk; its record and tags are kept.
    pub missing: bool,
    /// Direct links: (tag, source). The same tag may come from several sources.
    pub links: Vec<(usize, String)>,
    /// Metadata read from the content, if any was.
    pub meta: Option<Meta>,
    /// The perceptual hash of the content, if one was computed.
    pub phash: Option<u64>,
}

/// A file's metadata as the README's metadata terms see it.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub mime: Option<String>,
    pub kind: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub duration_ms: Option<u64>,
    pub has_audio: Option<bool>,
    /// Seconds since the epoch.
    pub taken: Option<i64>,
    /// Text fields (a key may repeat).
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub title: String,
    pub members: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    /// `:`
    Eq,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => ":",
        }
    }

    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
        }
    }
}

/// A piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Star,
    Text(String),
}

/// A query, as the README describes its terms. The property test renders it to text.
#[derive(Debug, Clone)]
pub enum Q {
    And(Vec<Q>),
    Or(Vec<Q>),
    Not(Box<Q>),
    /// A tag by one of its names.
    Tag(String),
    /// A wildcard pattern over tag names.
    Wild(Vec<Piece>),
    /// `ns>value`, `ns<=value`, …
    Cmp {
        ns: String,
        op: Op,
        value: String,
    },
    /// `path:GLOB`
    Path(String),
    /// `ext:X` as typed (maybe with a leading dot, any case)
    Ext(String),
    /// `size>10k`: amount as typed (maybe with a fraction) and unit as typed
    Size(Op, String, String),
    /// `mtime>2020-01-01`, `mtime<=2020-01-01T12:00`, …: the date text as typed
    MtimeAt(Op, String),
    /// `mtime<30d`
    MtimeAge(Op, u64, char),
    /// `tags>2`
    TagCount(Op, u64),
    /// `hash:PREFIX` as typed (any case)
    Hash(String),
    /// `pool:TITLE`
    Pool(String),
    Missing,
    /// `mime:image/*` as typed
    Mime(String),
    /// `type:video`
    Type(String),
    Width(Op, u64),
    Height(Op, u64),
    /// `ratio OP num:den`
    Ratio(Op, u64, u64),
    /// `duration OP n` in milliseconds
    Duration(Op, u64),
    /// `has:audio`, `has:FIELD`
    Has(String),
    /// `meta.FIELD:PATTERN`
    MetaField(String, Vec<Piece>),
    /// `taken>2020-01-01`: the date text as typed
    Taken(Op, String),
    /// `dupe:exact`, `dupe:similar`, `dupe:undecided`
    Dupe(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Path,
    Mtime,
    Size,
    Random,
    /// The pool's own order; the query must AND exactly one `pool:` term at its top level.
    Pool,
    /// Metadata orders: files without the value last in either direction, ties by path.
    Taken,
    Duration,
    Width,
    Height,
}

/// A whole query: the boolean part plus the top-level modifiers.
#[derive(Debug, Clone)]
pub struct Query {
    /// `None` is the empty query: every file.
    pub expr: Option<Q>,
    pub sort: Option<(SortKey, bool)>,
    pub limit: Option<u64>,
}

/// What a query answers: the files in order (for `sort:random`, in any order) and the
/// `--count` figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub files: Vec<usize>,
    pub count: u64,
    pub random: bool,
}

// ---- names ----

/// Tag names match case-insensitively after NFC normalisation and trimming.
pub fn name_key(s: &str) -> String {
    s.nfc().collect::<String>().trim().to_lowercase()
}

/// `ns:value` split at the first colon, both sides non-empty.
fn namespace_of(name: &str) -> Option<(&str, &str)> {
    let (ns, value) = name.split_once(':')?;
    if ns.is_empty() || value.is_empty() { None } else { Some((ns, value)) }
}

/// A plain decimal: an optional minus, digits, and optionally a dot followed by digits.
/// Only such text is a number (and only when it fits a double).
pub fn as_decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut parts = body.split('.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `*` in a tag pattern matches any run of characters; everything else matches itself.
fn wildcard_matches(pattern: &[Piece], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((Piece::Star, rest)) => (0..=name.len()).any(|skip| wildcard_matches(rest, &name[skip..])),
        Some((Piece::Text(t), rest)) => {
            let t: Vec<char> = t.chars().collect();
            name.starts_with(&t) && wildcard_matches(rest, &name[t.len()..])
        }
    }
}

// ---- paths ----

/// One "character" for `?`: a valid UTF-8 sequence, or else one byte.
fn char_len(s: &[u8]) -> usize {
    for n in 1..=4.min(s.len()) {
        if std::str::from_utf8(&s[..n]).is_ok() {
            return n;
        }
    }
    1
}

/// The README's path glob, byte for byte: `*` any run of bytes, `?` one character,
/// `[set]` / `[!set]` one byte (ranges `a-z`; a `]` first in the set is literal; an unclosed
/// `[` is a literal `[`), `\x` the byte x.
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let Some((&p0, prest)) = pat.split_first() else { return s.is_empty() };
    match p0 {
        b'*' => (0..=s.len()).any(|skip| glob(prest, &s[skip..])),
        b'?' => !s.is_empty() && glob(prest, &s[char_len(s)..]),
        b'\\' if !prest.is_empty() => s.first() == Some(&prest[0]) && glob(&prest[1..], &s[1..]),
        b'[' => match parse_class(prest) {
            Some((set, negated, after)) => {
                let Some((&c, srest)) = s.split_first() else { return false };
                (set.contains(&c) != negated) && glob(after, srest)
            }
            None => s.first() == Some(&b'[') && glob(prest, &s[1..]),
        },
        c => s.first() == Some(&c) && glob(prest, &s[1..]),
    }
}

/// Reads a class body after `[`: its bytes, whether it is negated, and what follows `]`.
fn parse_class(p: &[u8]) -> Option<(BTreeSet<u8>, bool, &[u8])> {
    let (negated, mut p) = match p.first() {
        Some(b'!' | b'^') => (true, &p[1..]),
        _ => (false, p),
    };
    let mut set = BTreeSet::new();
    let mut first = true;
    loop {
        match p {
            [] => return None,
            [b']', rest @ ..] if !first => return Some((set, negated, rest)),
            [a, b'-', z, rest @ ..] if *z != b']' => {
                set.extend(*a..=*z);
                p = rest;
            }
            [c, rest @ ..] => {
                set.insert(*c);
                p = rest;
            }
        }
        first = false;
    }
}

/// A pattern that starts with neither `/` nor `*` matches at any depth.
fn anchored(pattern: &str) -> Vec<u8> {
    if pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.as_bytes().to_vec()
    } else {
        [b"*/".as_slice(), pattern.as_bytes()].concat()
    }
}

/// The extension: what follows the last `.` of the file name, unless that dot begins the
/// name or ends it; lower-cased.
fn extension(path: &[u8]) -> Option<String> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let dot = name.iter().rposition(|&b| b == b'.')?;
    if dot == 0 || dot + 1 == name.len() {
        return None;
    }
    Some(String::from_utf8_lossy(&name[dot + 1..]).to_lowercase())
}

// ---- sizes and times ----

/// `10`, `10k`, `1.5M`, `2KiB`, `3kb`: powers of 1024, any case; a fraction is truncated to
/// whole bytes.
pub fn size_bytes(amount: &str, unit: &str) -> u64 {
    let unit = unit.to_lowercase();
    let power = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        other => panic!("the generator wrote a size unit the README does not have: {other}"),
    };
    let mult = 1024u64.pow(power);
    match amount.split_once('.') {
        None => amount.parse::<u64>().unwrap() * mult,
        Some((int, frac)) => {
            // exact: int * mult + frac * mult / 10^len, truncated
            let int: u64 = int.parse().unwrap();
            let scale = 10u64.pow(frac.len() as u32);
            let frac: u64 = frac.parse().unwrap();
            int * mult + frac * mult / scale
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Seconds since the epoch at the start of a UTC civil date (years 1970 and later).
pub fn civil_seconds(y: i64, m: i64, d: i64) -> i64 {
    let mut days = 0;
    for year in 1970..y {
        days += if is_leap(year) { 366 } else { 365 };
    }
    let month_days = [31, if is_leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    days += month_days[..(m - 1) as usize].iter().sum::<i64>();
    days += d - 1;
    days * 86_400
}

/// The span `[start, end)` in nanoseconds that a date names: `YYYY-MM-DD` a day,
/// `YYYY-MM-DDTHH:MM` a minute, `YYYY-MM-DDTHH:MM:SS` a second (`T` or a space).
pub fn date_span(text: &str) -> (i64, i64) {
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let day = civil_seconds(n(0..4), n(5..7), n(8..10));
    let (start, len) = match text.len() {
        10 => (day, 86_400),
        16 => (day + n(11..13) * 3600 + n(14..16) * 60, 60),
        19 => (day + n(11..13) * 3600 + n(14..16) * 60 + n(17..19), 1),
        _ => panic!("the generator wrote a date the README does not have: {text}"),
    };
    (start * 1_000_000_000, (start + len) * 1_000_000_000)
}

fn age_seconds(amount: u64, unit: char) -> i64 {
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'y' => 365 * 86_400,
        other => panic!("not an age unit: {other}"),
    };
    amount as i64 * per
}

// ---- evaluation ----

impl Library {
    /// Tags that count as carrying `t`: `t` itself and every tag that implies it, through
    /// any chain of implications.
    fn implying(&self, t: usize) -> BTreeSet<usize> {
        let mut set = BTreeSet::from([t]);
        loop {
            let more: Vec<usize> = self
                .implications
                .iter()
                .filter(|(child, parent)| set.contains(parent) && !set.contains(child))
                .map(|(child, _)| *child)
                .collect();
            if more.is_empty() {
                return set;
            }
            set.extend(more);
        }
    }

    fn derived(&self) -> &Derived {
        self.derived.get_or_init(|| Derived {
            keys: self.tags.iter().map(|names| names.iter().map(|n| name_key(n)).collect()).collect(),
            implying: (0..self.tags.len()).map(|t| self.implying(t)).collect(),
        })
    }

    /// Files carrying any tag in `tags`, directly or through an implication.
    fn carrying(&self, tags: &BTreeSet<usize>) -> Vec<bool> {
        let expanded: BTreeSet<usize> = tags.iter().flat_map(|&t| self.derived().implying[t].clone()).collect();
        self.files.iter().map(|f| f.links.iter().any(|(t, _)| expanded.contains(t))).collect()
    }

    /// Tags with at least one name passing `pred` (aliases included); `pred` sees the name
    /// as matched (NFC, trimmed, lower case).
    fn tags_named(&self, pred: impl Fn(&str) -> bool) -> BTreeSet<usize> {
        let keys = &self.derived().keys;
        (0..self.tags.len()).filter(|&t| keys[t].iter().any(|n| pred(n))).collect()
    }

    /// Files passing a test of the file alone.
    fn each(&self, pred: impl Fn(usize, &File) -> bool) -> Vec<bool> {
        self.files.iter().enumerate().map(|(i, f)| pred(i, f)).collect()
    }

    /// Which files match `q`, one flag per file (missing ones included).
    fn matching(&self, q: &Q, now: i64) -> Vec<bool> {
        match q {
            Q::And(v) => v.iter().fold(self.each(|_, _| true), |acc, x| {
                acc.iter().zip(self.matching(x, now)).map(|(a, b)| *a && b).collect()
            }),
            Q::Or(v) => v.iter().fold(self.each(|_, _| false), |acc, x| {
                acc.iter().zip(self.matching(x, now)).map(|(a, b)| *a || b).collect()
            }),
            Q::Not(x) => self.matching(x, now).iter().map(|m| !m).collect(),
            Q::Tag(name) => {
                let key = name_key(name);
                self.carrying(&self.tags_named(|n| n == key))
            }
            Q::Wild(pieces) => {
                let pattern = wildcard_pattern(pieces);
                self.carrying(&self.tags_named(|n| {
                    let chars: Vec<char> = n.chars().collect();
                    wildcard_matches(&pattern, &chars)
                }))
            }
            Q::Cmp { ns, op, value } => {
                let (ns, value) = (name_key(ns), name_key(value));
                self.carrying(&self.tags_named(|n| match namespace_of(n) {
                    Some((tag_ns, tag_value)) if tag_ns == ns => match as_decimal(&value) {
                        Some(number) => as_decimal(tag_value).is_some_and(|v| op.holds(v, number)),
                        None => op.holds(tag_value.as_bytes(), value.as_bytes()),
                    },
                    _ => false,
                }))
            }
            Q::Path(g) => {
                let pattern = anchored(g);
                self.each(|_, f| glob(&pattern, &f.path))
            }
            Q::Ext(e) => {
                let want = e.trim_start_matches('.').to_lowercase();
                self.each(|_, f| extension(&f.path).as_ref() == Some(&want))
            }
            Q::Size(op, amount, unit) => {
                let bytes = size_bytes(amount, unit);
                self.each(|_, f| op.holds(f.size, bytes))
            }
            Q::MtimeAt(op, text) => {
                let (start, end) = date_span(text);
                self.each(|_, f| {
                    let m = f.mtime_ns;
                    match op {
                        Op::Eq => start <= m && m < end,
                        Op::Gt => m >= end,
                        Op::Ge => m >= start,
                        Op::Lt => m < start,
                        Op::Le => m < end,
                    }
                })
            }
            Q::MtimeAge(op, amount, unit) => {
                // the age in nanoseconds against the span; `mtime:30d` means `mtime<30d`
                let limit = i128::from(age_seconds(*amount, *unit)) * 1_000_000_000;
                let op = if *op == Op::Eq { Op::Lt } else { *op };
                self.each(|_, f| op.holds(i128::from(now) * 1_000_000_000 - i128::from(f.mtime_ns), limit))
            }
            Q::TagCount(op, n) => self.each(|_, f| {
                let distinct: BTreeSet<usize> = f.links.iter().map(|(t, _)| *t).collect();
                op.holds(distinct.len() as u64, *n)
            }),
            Q::Hash(prefix) => {
                let prefix = prefix.to_lowercase();
                self.each(|_, f| hex(&f.content_hash).starts_with(&prefix))
            }
            Q::Pool(title) => {
                let pools: Vec<&Pool> = self.pools.iter().filter(|p| name_key(&p.title) == name_key(title)).collect();
                self.each(|i, _| pools.iter().any(|p| p.members.contains(&i)))
            }
            Q::Missing => self.each(|_, f| f.missing),
            Q::Mime(m) => {
                let pattern: Vec<Piece> = wildcard_pattern(&split_stars(&m.to_lowercase()));
                self.each(|_, f| {
                    meta_of(f).and_then(|x| x.mime.as_ref()).is_some_and(|mime| {
                        let chars: Vec<char> = mime.chars().collect();
                        wildcard_matches(&pattern, &chars)
                    })
                })
            }
            Q::Type(t) => {
                let t = t.to_lowercase();
                self.each(|_, f| meta_of(f).and_then(|x| x.kind.as_ref()) == Some(&t))
            }
            Q::Width(op, n) => self.each(|_, f| meta_of(f).and_then(|x| x.width).is_some_and(|w| op.holds(w, *n))),
            Q::Height(op, n) => self.each(|_, f| meta_of(f).and_then(|x| x.height).is_some_and(|h| op.holds(h, *n))),
            Q::Duration(op, n) => {
                self.each(|_, f| meta_of(f).and_then(|x| x.duration_ms).is_some_and(|d| op.holds(d, *n)))
            }
            Q::Ratio(op, num, den) => self.each(|_, f| match meta_of(f).map(|x| (x.width, x.height)) {
                // width/height OP num/den, exactly: width*den OP height*num
                Some((Some(w), Some(h))) if h > 0 => {
                    op.holds(u128::from(w) * u128::from(*den), u128::from(h) * u128::from(*num))
                }
                _ => false,
            }),
            Q::Has(what) => {
                let what = what.to_lowercase();
                self.each(|_, f| {
                    meta_of(f).is_some_and(|x| match what.as_str() {
                        "audio" => x.has_audio == Some(true),
                        "duration" => x.duration_ms.is_some(),
                        "taken" => x.taken.is_some(),
                        field => x.fields.iter().any(|(k, _)| k == field),
                    })
                })
            }
            Q::MetaField(field, pieces) => {
                let pattern = wildcard_pattern(pieces);
                let field = field.to_lowercase();
                self.each(|_, f| {
                    meta_of(f).is_some_and(|x| {
                        x.fields.iter().any(|(k, v)| {
                            let v: Vec<char> = v.nfc().collect::<String>().to_lowercase().chars().collect();
                            *k == field && wildcard_matches(&pattern, &v)
                        })
                    })
                })
            }
            Q::Dupe(kind) => {
                // docs/dupes.md: among live files, an exact partner has the same non-empty
                // content; a similar one other content whose perceptual hash differs in at
                // most 10 bits (the default distance); undecided: a partner of either kind
                // with no decision about the pair.
                let live = |i: usize| !self.files[i].missing;
                let exact = |i: usize, j: usize| {
                    let (a, b) = (&self.files[i], &self.files[j]);
                    a.size > 0 && b.size > 0 && a.content_hash == b.content_hash
                };
                let similar = |i: usize, j: usize| {
                    let (a, b) = (&self.files[i], &self.files[j]);
                    a.content_hash != b.content_hash
                        && matches!((a.phash, b.phash), (Some(x), Some(y)) if (x ^ y).count_ones() <= 10)
                };
                let n = self.files.len();
                let kind = kind.to_lowercase();
                self.each(|i, _| {
                    live(i)
                        && (0..n).any(|j| {
                            j != i
                                && live(j)
                                && match kind.as_str() {
                                    "exact" => exact(i, j),
                                    "similar" => similar(i, j),
                                    _ => {
                                        (exact(i, j) || similar(i, j)) && !self.decided.contains(&(i.min(j), i.max(j)))
                                    }
                                }
                        })
                })
            }
            Q::Taken(op, text) => {
                let (start, end) = date_span(text);
                let (start, end) = (start / 1_000_000_000, end / 1_000_000_000);
                self.each(|_, f| {
                    meta_of(f).and_then(|x| x.taken).is_some_and(|t| match op {
                        Op::Eq => start <= t && t < end,
                        Op::Gt => t >= end,
                        Op::Ge => t >= start,
                        Op::Lt => t < start,
                        Op::Le => t < end,
                    })
                })
            }
        }
    }

    /// The answer to `query`, with ages counted back from `now` (seconds since the epoch).
    pub fn answer(&self, query: &Query, now: i64) -> Answer {
        // Missing files are hidden unless the query mentions `missing`.
        let universe_all = query.expr.as_ref().is_some_and(mentions_missing);
        let matched = match &query.expr {
            Some(q) => self.matching(q, now),
            None => self.each(|_, _| true),
        };
        let mut files: Vec<usize> =
            (0..self.files.len()).filter(|&i| matched[i] && (universe_all || !self.files[i].missing)).collect();
        let (key, reverse) = query.sort.unwrap_or((SortKey::Path, false));
        let by_path = |a: &usize, b: &usize| self.files[*a].path.cmp(&self.files[*b].path);
        let directed = |o: Ordering| if reverse { o.reverse() } else { o };
        match key {
            SortKey::Path => files.sort_by(|a, b| directed(by_path(a, b))),
            SortKey::Mtime => files.sort_by(|a, b| {
                directed(self.files[*a].mtime_ns.cmp(&self.files[*b].mtime_ns)).then_with(|| by_path(a, b))
            }),
            SortKey::Size => files
                .sort_by(|a, b| directed(self.files[*a].size.cmp(&self.files[*b].size)).then_with(|| by_path(a, b))),
            SortKey::Pool => {
                let title = match &query.expr {
                    Some(Q::And(v)) => v.iter().find_map(|x| if let Q::Pool(t) = x { Some(t) } else { None }),
                    Some(Q::Pool(t)) => Some(t),
                    _ => None,
                };
                let title = name_key(title.expect("sort:pool without a top-level pool: term"));
                let pool = self.pools.iter().find(|p| name_key(&p.title) == title);
                let position = |i: &usize| pool.and_then(|p| p.members.iter().position(|m| m == i));
                files.sort_by(|a, b| directed(position(a).cmp(&position(b))).then_with(|| by_path(a, b)));
            }
            SortKey::Random => {}
            SortKey::Taken | SortKey::Duration | SortKey::Width | SortKey::Height => {
                let value = |i: &usize| -> Option<i64> {
                    let m = meta_of(&self.files[*i])?;
                    match key {
                        SortKey::Taken => m.taken,
                        SortKey::Duration => m.duration_ms.map(|d| d as i64),
                        SortKey::Width => m.width.map(|d| d as i64),
                        _ => m.height.map(|d| d as i64),
                    }
                };
                files.sort_by(|a, b| match (value(a), value(b)) {
                    (Some(x), Some(y)) => directed(x.cmp(&y)).then_with(|| by_path(a, b)),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => by_path(a, b),
                });
            }
        }
        let total = files.len() as u64;
        let count = query.limit.map_or(total, |l| total.min(l));
        if key != SortKey::Random {
            files.truncate(count as usize);
        }
        Answer { files, count, random: key == SortKey::Random }
    }
}

/// Pattern pieces as matched: lower-cased and NFC-normalised, the pattern's two ends trimmed.
fn wildcard_pattern(pieces: &[Piece]) -> Vec<Piece> {
    let mut out: Vec<Piece> = pieces
        .iter()
        .map(|p| match p {
            Piece::Star => Piece::Star,
            Piece::Text(t) => Piece::Text(t.nfc().collect::<String>().to_lowercase()),
        })
        .collect();
    if let Some(Piece::Text(t)) = out.first_mut() {
        *t = t.trim_start().to_string();
    }
    if let Some(Piece::Text(t)) = out.last_mut() {
        *t = t.trim_end().to_string();
    }
    out
}

fn mentions_missing(q: &Q) -> bool {
    match q {
        Q::And(v) | Q::Or(v) => v.iter().any(mentions_missing),
        Q::Not(x) => mentions_missing(x),
        Q::Missing => true,
        _ => false,
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn meta_of(f: &File) -> Option<&Meta> {
    f.meta.as_ref()
}

/// A typed pattern where `*` is the wildcard.
fn split_stars(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, part) in s.split('*').enumerate() {
        if i > 0 {
            out.push(Piece::Star);
        }
        if !part.is_empty() {
            out.push(Piece::Text(part.to_string()));
        }
    }
    out
}
