//! The query syntax tree and its canonical printer.
//!
//! The printer is the inverse of the parser: `parse(print(q)) == q` for every tree the
//! parser can produce (a property test pins this). Printing therefore quotes any name that
//! the parser would otherwise read as a keyword, an operator or a predicate.

use std::fmt;

/// A boolean query over files.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every operand holds. An empty `And` matches every file.
    And(Vec<Expr>),
    /// At least one operand holds.
    Or(Vec<Expr>),
    /// The operand does not hold (`-term` or `not term`).
    Not(Box<Expr>),
    /// A tag (or, with wildcards, every tag whose name matches), implications expanded.
    Tag(NamePattern),
    /// `ns>value`: a tag in namespace `ns` whose value compares so.
    Compare {
        /// The namespace before the operator (`year` in `year>2000`).
        ns: String,
        /// How the tag's value compares with `value`.
        op: CmpOp,
        /// The value as typed: a decimal number compares with the namespace's decimal values
        /// only, anything else compares as text.
        value: String,
    },
    /// A condition on the file record itself (path, size, dates, metadata).
    Pred(Predicate),
    /// `sort:` or `limit:`, which shape the result rather than select files; top level only.
    Modifier(Modifier),
}

/// A tag name that may contain `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    /// Literal runs and wildcards in order; normalised (no empty or adjacent literals).
    pub parts: Vec<NamePart>,
}

/// One piece of a [`NamePattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePart {
    /// Characters matched as they are.
    Literal(String),
    /// `*`: any run of characters, including none.
    Star,
}

impl NamePattern {
    /// A pattern matching exactly the name `s` (a `*` in it is a literal star).
    pub fn literal(s: impl Into<String>) -> Self {
        NamePattern { parts: vec![NamePart::Literal(s.into())] }
    }

    /// Whether the pattern contains a `*`, so it may match several tags.
    pub fn has_wildcard(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, NamePart::Star))
    }

    /// The pattern with literal parts joined, `*` kept as `*` (for messages).
    pub fn display(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                NamePart::Literal(s) => s.as_str(),
                NamePart::Star => "*",
            })
            .collect()
    }

    /// Merges adjacent literals and drops empty ones, so equal patterns compare equal.
    pub(crate) fn normalized(parts: Vec<NamePart>) -> Self {
        let mut out: Vec<NamePart> = Vec::new();
        for p in parts {
            match (out.last_mut(), p) {
                (_, NamePart::Literal(s)) if s.is_empty() => {}
                (Some(NamePart::Literal(prev)), NamePart::Literal(s)) => prev.push_str(&s),
                (Some(NamePart::Star), NamePart::Star) => {}
                (_, p) => out.push(p),
            }
        }
        NamePattern { parts: out }
    }
}

/// A comparison operator in `ns>value`, `size>10M`, `mtime<30d`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `:`, equality (for dates: within the moment's span).
    Eq,
}

impl CmpOp {
    /// The operator as the query language writes it (`:` for equality).
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => ":",
        }
    }

    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "=",
        }
    }
}

/// A predicate on the file record rather than on its tags.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `path:GLOB`
    Path(String),
    /// `ext:flac`, case-insensitive
    Ext(String),
    /// `size>10M` (bytes)
    Size(CmpOp, u64),
    /// `mtime>2024-01-01`: compares the modification time with a moment
    MtimeAt(CmpOp, DateSpec),
    /// `mtime<30d`: compares the file's *age*; `mtime<30d` = modified within 30 days
    MtimeAge(CmpOp, Duration),
    /// `tags:0`, `tags>5`: number of distinct tags linked directly
    TagCount(CmpOp, u64),
    /// `hash:HEXPREFIX`, at least 8 hex digits, lower case
    Hash(String),
    /// `pool:TITLE`
    Pool(String),
    /// `missing`: the file is gone from disk (its record and tags are kept)
    Missing,
    /// `mime:image/*`: the MIME type sniffed from the content; lower case, `*` a wildcard
    Mime(String),
    /// `type:video`: the broad kind (image, video, audio, text, document, archive, other)
    Type(String),
    /// `width>1920` (pixels, as displayed)
    Width(CmpOp, u64),
    /// `height<=1080`
    Height(CmpOp, u64),
    /// `ratio:16:9`, `ratio>1`: width/height compared with `num/den` (exactly, in integers)
    Ratio(CmpOp, Ratio),
    /// `duration>3m`: the playing time, in milliseconds
    Length(CmpOp, u64),
    /// `has:audio` (an audio stream), `has:FIELD` (a text field such as `artist` is present)
    Has(String),
    /// `meta.FIELD:VALUE`: a text field's value, case-insensitive, `*` a wildcard
    Meta {
        /// The text field's key (`artist`, `png.parameters`), lower case.
        field: String,
        /// The value to match, with `*` wildcards.
        value: NamePattern,
    },
    /// `taken>2020-01-01`: the date a photo was taken, compared as `mtime` dates are
    Taken(CmpOp, DateSpec),
    /// `dupe:exact`, `dupe:similar`, `dupe:undecided` (docs/dupes.md)
    Dupe(DupeKind),
}

/// What `dupe:` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DupeKind {
    /// A live copy of the same non-empty content exists elsewhere.
    Exact,
    /// A live file of other content looks the same (perceptual hashes within the default
    /// distance).
    Similar,
    /// An exact or similar partner about which no decision (`trove dupes mark`) is stored.
    Undecided,
}

impl DupeKind {
    /// The keyword after `dupe:`.
    pub fn as_str(self) -> &'static str {
        match self {
            DupeKind::Exact => "exact",
            DupeKind::Similar => "similar",
            DupeKind::Undecided => "undecided",
        }
    }
}

/// An aspect ratio as typed: `16:9` or a decimal `1.5` (kept as 15/10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ratio {
    /// The ratio as typed, for printing the query back.
    pub text: String,
    /// The numerator (width side).
    pub num: u64,
    /// The denominator (height side), never zero.
    pub den: u64,
}

/// A calendar date or date-time as typed: `2024-01-01`, `2024-01-01T10:00:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateSpec {
    /// The date as typed, for printing back and for [`DateSpec::span_seconds`].
    pub text: String,
    /// Seconds since the epoch, UTC.
    pub unix: i64,
}

impl DateSpec {
    /// How long the moment named by the text lasts: a date is a whole day, `THH:MM` a
    /// minute, `THH:MM:SS` a second. `mtime:D` is that span, `mtime>D` after it, `mtime<D`
    /// before it.
    pub fn span_seconds(&self) -> i64 {
        match self.text.len() {
            10 => 86_400,
            16 => 60,
            _ => 1,
        }
    }
}

/// A span typed with a unit: `30d`, `2w`, `6h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    /// How many units.
    pub amount: u64,
    /// `s`, `m` (minutes), `h`, `d`, `w` or `y` (365 days).
    pub unit: char,
}

impl Duration {
    /// The span in seconds, saturating at `i64::MAX`.
    pub fn seconds(self) -> i64 {
        let per: u64 = match self.unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            'y' => 365 * 86_400,
            _ => 1,
        };
        i64::try_from(self.amount.saturating_mul(per)).unwrap_or(i64::MAX)
    }
}

/// A term that shapes the result list instead of selecting files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `sort:KEY` or `sort:-KEY`.
    Sort {
        /// What to order by.
        key: SortKey,
        /// Whether a leading `-` reversed the order.
        reverse: bool,
    },
    /// `limit:N`: at most N files.
    Limit(u64),
}

/// What `sort:` orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// The path's bytes (the default order).
    Path,
    /// Modification time.
    Mtime,
    /// Size in bytes.
    Size,
    /// A shuffled order, different on each run.
    Random,
    /// The order of the pool named by the query's one `pool:` term.
    Pool,
    /// Metadata orders: files without the value come last in either direction.
    Taken,
    /// Playing time.
    Duration,
    /// Width in pixels.
    Width,
    /// Height in pixels.
    Height,
    /// When the file was added to the index (`added_at`), ties by record id: `sort:-added`
    /// is newest first.
    Added,
}

impl SortKey {
    /// The key as written after `sort:`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Path => "path",
            SortKey::Mtime => "mtime",
            SortKey::Size => "size",
            SortKey::Random => "random",
            SortKey::Pool => "pool",
            SortKey::Taken => "taken",
            SortKey::Duration => "duration",
            SortKey::Width => "width",
            SortKey::Height => "height",
            SortKey::Added => "added",
        }
    }
}

/// Words that start a predicate or modifier. A tag with such a name is written
/// `tag:NAME` or quoted as a whole.
pub const RESERVED: &[&str] = &[
    "path", "ext", "size", "mtime", "tags", "hash", "pool", "missing", "sort", "limit", "tag", "mime", "type", "width",
    "height", "ratio", "duration", "has", "taken", "dupe",
];

/// Words that are operators when they stand alone.
pub const OPERATOR_WORDS: &[&str] = &["and", "or", "not"];

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with('-')
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\\' | '(' | ')' | '|' | '<' | '>' | '=' | ':' | '*'))
        || OPERATOR_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        || RESERVED.iter().any(|w| s.eq_ignore_ascii_case(w))
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn word(s: &str) -> String {
    if needs_quotes(s) { quote(s) } else { s.to_string() }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts.as_slice() {
            // A whole quoted word is always a tag name, never a keyword.
            [] => f.write_str("\"\""),
            [NamePart::Literal(s)] => f.write_str(&word(s)),
            parts => {
                // With wildcards the word must not begin like a keyword or operator:
                // quote the first literal whenever it is not plain.
                for (i, p) in parts.iter().enumerate() {
                    match p {
                        NamePart::Star => f.write_str("*")?,
                        NamePart::Literal(s) => {
                            let plain = !needs_quotes(s);
                            if plain && i > 0 {
                                f.write_str(s)?;
                            } else {
                                f.write_str(&quote(s))?;
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Path(g) => write!(f, "path:{}", quote(g)),
            Predicate::Ext(e) => write!(f, "ext:{}", quote(e)),
            Predicate::Size(op, n) => write!(f, "size{}{n}", op.as_str()),
            // `2024-01-01 10:00` (a space instead of the T) is one word only when quoted.
            Predicate::MtimeAt(op, d) if d.text.contains(' ') => write!(f, "mtime{}{}", op.as_str(), quote(&d.text)),
            Predicate::MtimeAt(op, d) => write!(f, "mtime{}{}", op.as_str(), d.text),
            Predicate::MtimeAge(op, d) => write!(f, "mtime{}{}{}", op.as_str(), d.amount, d.unit),
            Predicate::TagCount(op, n) => write!(f, "tags{}{n}", op.as_str()),
            Predicate::Hash(h) => write!(f, "hash:{h}"),
            Predicate::Pool(p) => write!(f, "pool:{}", quote(p)),
            Predicate::Missing => f.write_str("missing"),
            Predicate::Mime(m) => write!(f, "mime:{}", quote(m)),
            Predicate::Type(t) => write!(f, "type:{t}"),
            Predicate::Width(op, n) => write!(f, "width{}{n}", op.as_str()),
            Predicate::Height(op, n) => write!(f, "height{}{n}", op.as_str()),
            Predicate::Ratio(op, r) => write!(f, "ratio{}{}", op.as_str(), r.text),
            Predicate::Length(op, ms) => write!(f, "duration{}{ms}ms", op.as_str()),
            Predicate::Has(x) => write!(f, "has:{x}"),
            Predicate::Meta { field, value } => write!(f, "meta.{field}:{}", meta_value(value)),
            Predicate::Taken(op, d) if d.text.contains(' ') => write!(f, "taken{}{}", op.as_str(), quote(&d.text)),
            Predicate::Taken(op, d) => write!(f, "taken{}{}", op.as_str(), d.text),
            Predicate::Dupe(k) => write!(f, "dupe:{}", k.as_str()),
        }
    }
}

/// A `meta.` value: every literal quoted (the parser reads a bare `*` as the wildcard).
fn meta_value(p: &NamePattern) -> String {
    if p.parts.is_empty() {
        return "\"\"".into();
    }
    p.parts
        .iter()
        .map(|x| match x {
            NamePart::Star => "*".to_string(),
            NamePart::Literal(s) => quote(s),
        })
        .collect()
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Modifier::Sort { key, reverse } => {
                write!(f, "sort:{}{}", if *reverse { "-" } else { "" }, key.as_str())
            }
            Modifier::Limit(n) => write!(f, "limit:{n}"),
        }
    }
}

impl Expr {
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(v) if v.len() > 1 => 0,
            Expr::And(v) if v.len() > 1 => 1,
            _ => 2,
        }
    }

    fn fmt_at(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let paren = self.precedence() < min;
        if paren {
            f.write_str("(")?;
        }
        match self {
            Expr::And(v) if v.is_empty() => f.write_str("()")?,
            Expr::Or(v) if v.is_empty() => f.write_str("()")?,
            Expr::And(v) | Expr::Or(v) if v.len() == 1 => v[0].fmt_at(f, min)?,
            Expr::And(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    e.fmt_at(f, 2)?;
                }
            }
            Expr::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    e.fmt_at(f, 1)?;
                }
            }
            Expr::Not(e) => {
                f.write_str("-")?;
                e.fmt_at(f, 2)?;
            }
            Expr::Tag(p) => write!(f, "{p}")?,
            Expr::Compare { ns, op, value } => {
                write!(f, "{}{}{}", word(ns), op.as_str(), word(value))?;
            }
            Expr::Pred(p) => write!(f, "{p}")?,
            Expr::Modifier(m) => write!(f, "{m}")?,
        }
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(v) if v.is_empty() => Ok(()),
            e => e.fmt_at(f, 0),
        }
    }
}
