//! The query parser: text → [`Expr`].
//!
//! Grammar (precedence NOT > AND > OR):
//! ```text
//! query   := or?
//! or      := and (("|" | "or") and)*
//! and     := unary (("and")? unary)*
//! unary   := ("-" | "not") unary | "(" or ")" | word
//! word    := run of bare characters and "quoted \"strings\"" with no space between
//! ```
//! A word is then classified: a predicate or modifier when it begins with an unquoted
//! reserved keyword (`size>10M`, `sort:-mtime`, `missing`), a namespace comparison when it
//! holds an unquoted `<`, `>`, `<=` or `>=` (`year>2015`), otherwise a tag name in which a
//! bare `*` is a wildcard. A word that begins with a quote is always a tag name, so
//! `"sort:x"` and `tag:"sort:x"` both name the tag `sort:x`.
//!
//! Errors carry the byte offset of the offending input so the CLI can draw a caret.
//!
//! Size limits: parentheses and negations nest at most [`MAX_DEPTH`] levels and a query holds
//! at most [`MAX_TERMS`] terms, so that neither this recursive parser nor the SQL it compiles
//! to (SQLite refuses expression trees deeper than 1 000) can fail for a query's size; a
//! wildcard pattern is at most [`MAX_PATTERN_BYTES`] long (SQLite's GLOB refuses patterns over
//! 50 000 bytes, and escaping can triple a literal). Each limit is a query error at the byte
//! that crosses it.

use super::ast::{CmpOp, DateSpec, DupeKind, Expr, Modifier, NamePart, NamePattern, Predicate, Ratio, SortKey};
use super::values::{looks_like_date, parse_date, parse_duration, parse_size};

/// A query that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {position}")]
pub struct ParseError {
    /// What is wrong, lowercase, often with the expected form.
    pub message: String,
    /// Byte offset into the query text.
    pub position: usize,
}

impl ParseError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        ParseError { message: message.into(), position }
    }

    /// The query with a caret under the offending byte, for terminals.
    pub fn render(&self, query: &str) -> String {
        // Column counted in characters so the caret lines up under multi-byte text.
        let col = query.get(..self.position.min(query.len())).map_or(self.position, |p| p.chars().count());
        format!("{query}\n{}^ {}", " ".repeat(col), self.message)
    }
}

/// How deep parentheses and negations may nest: far beyond any query typed by hand, and far
/// below what the parser's stack and SQLite's expression depth (1 000) can take.
pub const MAX_DEPTH: usize = 100;

/// How many terms (tags, comparisons, predicates, modifiers) a query may hold. SQLite runs
/// a statement with one subquery per tag term in time that grows faster than the number of
/// terms (0.3 s at 1 000 terms, 1 s at 2 000 on the test machine); past this a query is
/// surely generated, and the caller should split it.
pub const MAX_TERMS: usize = 1_000;

/// The longest wildcard pattern (`*cat*`), in bytes of its text.
pub const MAX_PATTERN_BYTES: usize = 10_000;

#[derive(Debug, Clone)]
struct Segment {
    text: String,
    quoted: bool,
    /// Byte offset of the segment's first character (the quote, if quoted).
    pos: usize,
}

#[derive(Debug, Clone)]
enum Tok {
    LParen,
    RParen,
    Pipe,
    Minus,
    And,
    Or,
    Not,
    Word(Vec<Segment>),
}

fn is_delim(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '|')
}

fn tokenize(input: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let mut toks = Vec::new();
    let mut it = input.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        match c {
            '(' => {
                it.next();
                toks.push((Tok::LParen, i));
                continue;
            }
            ')' => {
                it.next();
                toks.push((Tok::RParen, i));
                continue;
            }
            '|' => {
                it.next();
                toks.push((Tok::Pipe, i));
                continue;
            }
            '-' => {
                it.next();
                match it.peek() {
                    Some(&(_, n)) if !n.is_whitespace() && n != ')' && n != '|' => {
                        toks.push((Tok::Minus, i));
                        continue;
                    }
                    _ => return Err(ParseError::new(i, "expected a term right after '-'")),
                }
            }
            _ => {}
        }
        // A word: bare runs and quoted strings glued together.
        let start = i;
        let mut segs: Vec<Segment> = Vec::new();
        while let Some(&(j, c)) = it.peek() {
            if is_delim(c) {
                break;
            }
            if c == '"' {
                it.next();
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, c)) = it.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match it.next() {
                            Some((_, e)) => text.push(e),
                            None => break,
                        },
                        c => text.push(c),
                    }
                }
                if !closed {
                    return Err(ParseError::new(j, "unclosed quote"));
                }
                segs.push(Segment { text, quoted: true, pos: j });
            } else {
                it.next();
                match segs.last_mut() {
                    Some(s) if !s.quoted => s.text.push(c),
                    _ => segs.push(Segment { text: c.to_string(), quoted: false, pos: j }),
                }
            }
        }
        let tok = match segs.as_slice() {
            [s] if !s.quoted && s.text.eq_ignore_ascii_case("and") => Tok::And,
            [s] if !s.quoted && s.text.eq_ignore_ascii_case("or") => Tok::Or,
            [s] if !s.quoted && s.text.eq_ignore_ascii_case("not") => Tok::Not,
            _ => Tok::Word(segs),
        };
        toks.push((tok, start));
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    len: usize,
    /// Open parentheses and negations around the current token.
    depth: usize,
    terms: usize,
}

/// Parses a query.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let toks = tokenize(input)?;
    let mut p = Parser { toks, at: 0, len: input.len(), depth: 0, terms: 0 };
    if p.toks.is_empty() {
        return Ok(Expr::And(Vec::new()));
    }
    let e = p.or()?;
    if let Some((tok, pos)) = p.toks.get(p.at) {
        let what = match tok {
            Tok::RParen => "unmatched ')'",
            _ => "unexpected input",
        };
        return Err(ParseError::new(*pos, what));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.len, |(_, p)| *p)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        while matches!(self.peek(), Some(Tok::Pipe | Tok::Or)) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Expr::And(vec![])) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.at += 1;
                    items.push(self.unary()?);
                }
                Some(Tok::Minus | Tok::Not | Tok::LParen | Tok::Word(_)) => {
                    items.push(self.unary()?);
                }
                _ => break,
            }
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Expr::And(vec![])) } else { Expr::And(items) })
    }

    /// Enters one more level of nesting at `pos` (a '(' , '-' or 'not').
    fn descend(&mut self, pos: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(pos, format!("query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        match self.toks.get(self.at).map(|(t, _)| t.clone()) {
            Some(Tok::Minus | Tok::Not) => {
                self.descend(pos)?;
                self.at += 1;
                let e = Expr::Not(Box::new(self.unary()?));
                self.depth -= 1;
                Ok(e)
            }
            Some(Tok::LParen) => {
                self.descend(pos)?;
                self.at += 1;
                if matches!(self.peek(), Some(Tok::RParen)) {
                    return Err(ParseError::new(self.pos(), "empty parentheses"));
                }
                let e = self.or()?;
                self.depth -= 1;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.at += 1;
                        Ok(e)
                    }
                    _ => Err(ParseError::new(self.pos(), format!("expected ')' to close the '(' at byte {pos}"))),
                }
            }
            Some(Tok::Word(segs)) => {
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return Err(ParseError::new(pos, format!("query holds more than {MAX_TERMS} terms")));
                }
                self.at += 1;
                classify(&segs, pos)
            }
            Some(Tok::RParen) => Err(ParseError::new(pos, "unmatched ')'")),
            Some(Tok::Pipe | Tok::Or) => Err(ParseError::new(pos, "expected a term before 'or'")),
            Some(Tok::And) => Err(ParseError::new(pos, "expected a term before 'and'")),
            None => Err(ParseError::new(pos, "expected a term")),
        }
    }
}

/// Where the first unquoted comparison operator sits: (segment, byte in segment, op, op len).
fn find_op(segs: &[Segment]) -> Option<(usize, usize, CmpOp, usize)> {
    for (si, s) in segs.iter().enumerate() {
        if s.quoted {
            continue;
        }
        let b = s.text.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            let eq = b.get(i + 1) == Some(&b'=');
            match c {
                b'<' => return Some((si, i, if eq { CmpOp::Le } else { CmpOp::Lt }, 1 + usize::from(eq))),
                b'>' => return Some((si, i, if eq { CmpOp::Ge } else { CmpOp::Gt }, 1 + usize::from(eq))),
                _ => {}
            }
        }
    }
    None
}

fn join(segs: &[Segment]) -> String {
    segs.iter().map(|s| s.text.as_str()).collect()
}

/// Splits the segments at byte `at` of segment `si`, dropping `skip` bytes there.
fn split_segs(segs: &[Segment], si: usize, at: usize, skip: usize) -> (Vec<Segment>, Vec<Segment>) {
    let mut left: Vec<Segment> = segs[..si].to_vec();
    let mut right: Vec<Segment> = Vec::new();
    let s = &segs[si];
    if at > 0 {
        left.push(Segment { text: s.text[..at].to_string(), quoted: false, pos: s.pos });
    }
    if at + skip < s.text.len() {
        right.push(Segment { text: s.text[at + skip..].to_string(), quoted: false, pos: s.pos + at + skip });
    }
    right.extend_from_slice(&segs[si + 1..]);
    (left, right)
}

/// The tag name or wildcard pattern a word spells: a bare `*` is a wildcard, a quoted one a
/// literal star. Like stored names, the pattern is NFC-normalised and trimmed at its two
/// ends only: spaces next to a `*` are part of the name (`*" and "*`).
fn pattern(segs: &[Segment]) -> NamePattern {
    use unicode_normalization::UnicodeNormalization;
    let mut parts = Vec::new();
    for s in segs {
        if s.quoted {
            parts.push(NamePart::Literal(s.text.clone()));
        } else {
            for (i, piece) in s.text.split('*').enumerate() {
                if i > 0 {
                    parts.push(NamePart::Star);
                }
                parts.push(NamePart::Literal(piece.to_string()));
            }
        }
    }
    let mut p = NamePattern::normalized(parts);
    for part in &mut p.parts {
        if let NamePart::Literal(l) = part {
            *l = l.nfc().collect();
        }
    }
    if let Some(NamePart::Literal(l)) = p.parts.first_mut() {
        *l = l.trim_start().to_string();
    }
    if let Some(NamePart::Literal(l)) = p.parts.last_mut() {
        *l = l.trim_end().to_string();
    }
    NamePattern::normalized(p.parts)
}

fn classify(segs: &[Segment], pos: usize) -> Result<Expr, ParseError> {
    let first = &segs[0];
    if !first.quoted {
        // keyword: an unquoted leading run of letters followed by ':' / op / end
        let kw_len = first.text.bytes().take_while(u8::is_ascii_alphabetic).count();
        let kw = first.text[..kw_len].to_ascii_lowercase();
        let rest_first = &first.text[kw_len..];
        let after = rest_first.chars().next();
        let whole = kw_len == first.text.len() && segs.len() == 1;
        if kw == "missing" && whole {
            return Ok(Expr::Pred(Predicate::Missing));
        }
        // `meta.FIELD:VALUE`: a text field of the file's metadata.
        if kw == "meta"
            && after == Some('.')
            && let Some(colon) = first.text.find(':')
        {
            let field = first.text[kw_len + 1..colon].to_ascii_lowercase();
            if !is_field_name(&field) {
                return Err(ParseError::new(
                    pos + kw_len + 1,
                    "meta. takes a field name of letters, digits, '.', '_' or '-', like meta.artist:NAME",
                ));
            }
            let (_, arg) = split_segs(segs, 0, colon, 1);
            let value = pattern(&arg);
            if value.parts.is_empty() {
                return Err(ParseError::new(pos + colon + 1, format!("expected a value after 'meta.{field}:'")));
            }
            check_name(&value, pos + colon + 1)?;
            return Ok(Expr::Pred(Predicate::Meta { field, value }));
        }
        if super::ast::RESERVED.contains(&kw.as_str()) && kw != "missing" {
            let op = match (after, rest_first.as_bytes().get(1)) {
                (Some(':'), _) => Some((CmpOp::Eq, 1)),
                (Some('<'), Some(b'=')) => Some((CmpOp::Le, 2)),
                (Some('>'), Some(b'=')) => Some((CmpOp::Ge, 2)),
                (Some('<'), _) => Some((CmpOp::Lt, 1)),
                (Some('>'), _) => Some((CmpOp::Gt, 1)),
                _ => None,
            };
            if let Some((op, skip)) = op {
                let (_, arg) = split_segs(segs, 0, kw_len, skip);
                let arg_pos = pos + kw_len + skip;
                return keyword(&kw, op, &arg, arg_pos, pos);
            }
        }
    }
    if let Some((si, at, op, len)) = find_op(segs) {
        let (left, right) = split_segs(segs, si, at, len);
        let ns = normalize(&join(&left));
        let value = normalize(&join(&right));
        if ns.is_empty() {
            return Err(ParseError::new(pos, format!("expected a namespace before '{}'", op.as_str())));
        }
        if value.is_empty() {
            return Err(ParseError::new(segs[si].pos + at, format!("expected a value after '{}'", op.as_str())));
        }
        if let Some((si2, at2, _, _)) = find_op(&right) {
            return Err(ParseError::new(right[si2].pos + at2, "a second comparison operator; quote the value"));
        }
        return Ok(Expr::Compare { ns, op, value });
    }
    let pat = pattern(segs);
    check_name(&pat, pos)?;
    Ok(Expr::Tag(pat))
}

/// Tag names are matched NFC-normalised and trimmed, exactly as they are stored.
fn normalize(s: &str) -> String {
    crate::model::normalize_name_lossy(s)
}

fn check_name(p: &NamePattern, pos: usize) -> Result<(), ParseError> {
    if p.parts.is_empty() {
        return Err(ParseError::new(pos, "empty tag name"));
    }
    if p.has_wildcard() && p.display().len() > MAX_PATTERN_BYTES {
        return Err(ParseError::new(pos, format!("a wildcard pattern longer than {MAX_PATTERN_BYTES} bytes")));
    }
    for part in &p.parts {
        if let NamePart::Literal(s) = part
            && s.chars().any(char::is_control)
        {
            return Err(ParseError::new(pos, "control character in a tag name"));
        }
    }
    Ok(())
}

/// A metadata field name: `artist`, `png.parameters`, `album-artist`.
fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// `16:9`, `4:3`, `1`, `1.5` (kept exactly as 15/10).
fn parse_ratio(s: &str) -> Option<Ratio> {
    let whole = |t: &str| -> Option<u64> {
        if t.is_empty() || t.len() > 9 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (num, den) = match s.split_once(':') {
        Some((a, b)) => (whole(a)?, whole(b)?),
        None => match s.split_once('.') {
            Some((i, f)) if f.len() <= 6 => {
                let scale = 10u64.pow(f.len() as u32);
                (whole(i)?.checked_mul(scale)?.checked_add(whole(f)?)?, scale)
            }
            Some(_) => return None,
            None => (whole(s)?, 1),
        },
    };
    (num > 0 && den > 0).then(|| Ratio { text: s.to_string(), num, den })
}

/// `90` (seconds), `90s`, `3m`, `1h`, `1.5s`, `500ms` → milliseconds.
fn parse_media_duration(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (amount, unit) = s.split_at(split);
    let per: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    let (int, frac) = match amount.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit()) => (i, f),
        Some(_) => return None,
        None => (amount, ""),
    };
    if int.is_empty() || int.len() > 12 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u64 = int.parse().ok()?;
    let frac_ms = if frac.is_empty() {
        0
    } else {
        let scale = 10u64.pow(frac.len() as u32);
        frac.parse::<u64>().ok()? * per / scale
    };
    int.checked_mul(per)?.checked_add(frac_ms)
}

fn keyword(kw: &str, op: CmpOp, arg: &[Segment], arg_pos: usize, pos: usize) -> Result<Expr, ParseError> {
    let text = join(arg);
    let eq_only = |what: &str| -> Result<(), ParseError> {
        if op == CmpOp::Eq {
            Ok(())
        } else {
            Err(ParseError::new(pos, format!("{what} takes ':', not '{}'", op.as_str())))
        }
    };
    let need_arg = |what: &str| -> Result<(), ParseError> {
        if text.is_empty() { Err(ParseError::new(arg_pos, format!("expected a value after '{what}'"))) } else { Ok(()) }
    };
    match kw {
        "tag" => {
            eq_only("tag")?;
            let pat = pattern(arg);
            check_name(&pat, arg_pos)?;
            Ok(Expr::Tag(pat))
        }
        "path" => {
            eq_only("path")?;
            need_arg("path:")?;
            Ok(Expr::Pred(Predicate::Path(text)))
        }
        "ext" => {
            eq_only("ext")?;
            need_arg("ext:")?;
            let e = text.trim_start_matches('.').to_lowercase();
            if e.is_empty() {
                return Err(ParseError::new(arg_pos, "ext: takes an extension, like ext:flac"));
            }
            Ok(Expr::Pred(Predicate::Ext(e)))
        }
        "pool" => {
            eq_only("pool")?;
            need_arg("pool:")?;
            Ok(Expr::Pred(Predicate::Pool(normalize(&text))))
        }
        "hash" => {
            eq_only("hash")?;
            let h = text.to_ascii_lowercase();
            if h.len() < 8 || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseError::new(arg_pos, "hash: takes 8 to 64 hex digits"));
            }
            Ok(Expr::Pred(Predicate::Hash(h)))
        }
        "size" => {
            need_arg("size")?;
            Ok(Expr::Pred(Predicate::Size(
                op,
                parse_size(&text).ok_or_else(|| {
                    ParseError::new(arg_pos, "size takes a number with an optional unit: 10M, 512k, 2G, 100")
                })?,
            )))
        }
        "tags" => {
            need_arg("tags")?;
            let n: u64 =
                text.parse().map_err(|_| ParseError::new(arg_pos, "tags takes a whole number: tags:0, tags>5"))?;
            Ok(Expr::Pred(Predicate::TagCount(op, n)))
        }
        "mtime" => {
            need_arg("mtime")?;
            if let Some(d) = parse_duration(&text) {
                return Ok(Expr::Pred(Predicate::MtimeAge(op, d)));
            }
            match parse_date(&text) {
                Some(unix) => Ok(Expr::Pred(Predicate::MtimeAt(op, DateSpec { text, unix }))),
                None if looks_like_date(&text) => Err(ParseError::new(
                    arg_pos,
                    format!(
                        "{text}: no such date or time (the day must exist in its month, the time be 00:00 to 23:59)"
                    ),
                )),
                None => Err(ParseError::new(
                    arg_pos,
                    "mtime takes a date (2024-01-31, 2024-01-31T12:00:00) or an age (30d, 12h, 2w, 1y)",
                )),
            }
        }
        "mime" => {
            eq_only("mime")?;
            need_arg("mime:")?;
            let m = text.to_ascii_lowercase();
            if m.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ParseError::new(arg_pos, "mime: takes a MIME type like image/png or image/*"));
            }
            Ok(Expr::Pred(Predicate::Mime(m)))
        }
        "type" => {
            eq_only("type")?;
            let t = text.to_ascii_lowercase();
            if !crate::meta::KINDS.contains(&t.as_str()) {
                return Err(ParseError::new(
                    arg_pos,
                    format!(
                        "type takes {} (a tag named type:{text} is written tag:\"type:{text}\")",
                        crate::meta::KINDS.join(", ")
                    ),
                ));
            }
            Ok(Expr::Pred(Predicate::Type(t)))
        }
        "width" | "height" => {
            need_arg(kw)?;
            let n: u64 = text
                .parse()
                .map_err(|_| ParseError::new(arg_pos, format!("{kw} takes a whole number of pixels: {kw}>1920")))?;
            Ok(Expr::Pred(if kw == "width" { Predicate::Width(op, n) } else { Predicate::Height(op, n) }))
        }
        "ratio" => {
            need_arg("ratio")?;
            let r = parse_ratio(&text).ok_or_else(|| {
                ParseError::new(arg_pos, "ratio takes W:H or a number: ratio:16:9, ratio>1 (landscape), ratio<1")
            })?;
            Ok(Expr::Pred(Predicate::Ratio(op, r)))
        }
        "duration" => {
            need_arg("duration")?;
            let ms = parse_media_duration(&text).ok_or_else(|| {
                ParseError::new(arg_pos, "duration takes a length: 90 or 90s (seconds), 3m, 1h, 1.5s, 500ms")
            })?;
            Ok(Expr::Pred(Predicate::Length(op, ms)))
        }
        "has" => {
            eq_only("has")?;
            let f = text.to_ascii_lowercase();
            if !is_field_name(&f) {
                return Err(ParseError::new(arg_pos, "has: takes audio or a metadata field name, like has:artist"));
            }
            Ok(Expr::Pred(Predicate::Has(f)))
        }
        "taken" => {
            need_arg("taken")?;
            match parse_date(&text) {
                Some(unix) => Ok(Expr::Pred(Predicate::Taken(op, DateSpec { text, unix }))),
                None => Err(ParseError::new(
                    arg_pos,
                    format!("{text}: taken takes a date that exists (2020-01-31, 2020-01-31T12:00:00)"),
                )),
            }
        }
        "dupe" => {
            eq_only("dupe")?;
            let k = match text.to_ascii_lowercase().as_str() {
                "exact" => DupeKind::Exact,
                "similar" => DupeKind::Similar,
                "undecided" => DupeKind::Undecided,
                _ => {
                    return Err(ParseError::new(
                        arg_pos,
                        "dupe takes exact, similar or undecided (a tag named dupe:x is written tag:\"dupe:x\")",
                    ));
                }
            };
            Ok(Expr::Pred(Predicate::Dupe(k)))
        }
        "sort" => {
            eq_only("sort")?;
            let (reverse, key) = match text.strip_prefix('-') {
                Some(k) => (true, k),
                None => (false, text.as_str()),
            };
            let key = match key.to_ascii_lowercase().as_str() {
                "path" => SortKey::Path,
                "mtime" => SortKey::Mtime,
                "size" => SortKey::Size,
                "random" => SortKey::Random,
                "pool" => SortKey::Pool,
                "taken" => SortKey::Taken,
                "duration" => SortKey::Duration,
                "width" => SortKey::Width,
                "height" => SortKey::Height,
                "added" => SortKey::Added,
                _ => {
                    return Err(ParseError::new(
                        arg_pos,
                        "sort takes path, mtime, size, random, pool, taken, duration, width, height or added (a leading '-' reverses)",
                    ));
                }
            };
            Ok(Expr::Modifier(Modifier::Sort { key, reverse }))
        }
        "limit" => {
            eq_only("limit")?;
            let n: u64 = text.parse().map_err(|_| ParseError::new(arg_pos, "limit takes a whole number"))?;
            Ok(Expr::Modifier(Modifier::Limit(n)))
        }
        _ => Err(ParseError::new(pos, format!("unknown keyword {kw}"))),
    }
}
