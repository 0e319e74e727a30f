//! trove-rules: the tagging rules file (TOML) and its evaluation, behind trove-core's
//! [`Rule`] trait.
//!
//! A rules file holds named rules. A rule has conditions (`[rule.when]`: path globs, a
//! reverse path template, regexes over the path bytes with named captures, MIME type,
//! kind, extension, fields present, a trove query) and outputs (`[rule.tags] add`: tag
//! templates over captures and metadata, with fallbacks and filters). Evaluating a rule is
//! a pure function of the file's record and its stored metadata; core's `ops::rules` turns
//! the results into links with the source `rule:<name>`.
//!
//! Everything is checked when the file is read: TOML syntax, unknown keys, regexes,
//! globs, templates (variables, filters, maps), query syntax. Each problem names its line
//! and column, the rule and the field, and nothing is written while any remains.
//! No code runs from a rules file: templates and linear-time regexes only.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use trove_core::FileRecord;
use trove_core::meta::{KINDS, Meta};
pub use trove_core::ops::rules::Rule;

mod template;

use template::{MapEntry, Part, Template, Var, apply_filter, map_glob, resolve_var};

/// Tags one rule gives one file at most, unless the rule says `max_tags`.
pub const DEFAULT_MAX_TAGS: usize = 32;
/// Longest tag a rule makes (bytes); longer ones are cut at a character boundary.
pub const MAX_TAG_BYTES: usize = 255;

/// A problem in a rules file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line and column of the offending text.
    pub line: usize,
    pub column: usize,
    /// The rule's name (or `#N`, its position, when it has none yet).
    pub rule: Option<String>,
    /// The field, e.g. `when.name_regex` or `tags.add[2]`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(r) = &self.rule {
            write!(f, "rule {r:?}: ")?;
        }
        if let Some(x) = &self.field {
            write!(f, "{x}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a rules file could not be used.
#[derive(Debug)]
pub enum LoadError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid rules; every problem found.
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => {
                write!(f, "{}: {}", path.display(), trove_core::model::io_reason(source))
            }
            LoadError::Invalid { path, problems } => {
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}:{p}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A checked rules file.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<CompiledRule>,
    /// Things that are allowed but probably not meant (tags in a reserved namespace).
    pub warnings: Vec<String>,
}

impl RuleSet {
    /// Reads and checks a rules file. `home` expands a leading `~` in path patterns.
    pub fn load(path: &Path, home: Option<&Path>) -> Result<RuleSet, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io { path: path.to_path_buf(), source: e })?;
        RuleSet::parse(&text, home).map_err(|problems| LoadError::Invalid { path: path.to_path_buf(), problems })
    }

    /// Checks rules text; every problem found, or the rules.
    pub fn parse(text: &str, home: Option<&Path>) -> Result<RuleSet, Vec<Problem>> {
        let mut p = Parser { text, home, problems: Vec::new(), rule: None };
        let set = p.document();
        if p.problems.is_empty() {
            Ok(set)
        } else {
            p.problems.sort_by_key(|x| (x.line, x.column));
            Err(p.problems)
        }
    }

    pub fn get(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The rules as core's trait objects.
    pub fn as_dyn(&self) -> Vec<&dyn Rule> {
        self.rules.iter().map(|r| r as &dyn Rule).collect()
    }
}

/// One checked rule.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: String,
    /// Accepted for the research note's format; `trove include --rules` applies every rule.
    pub auto: bool,
    pub max_tags: usize,
    paths: Option<GlobSet>,
    path_pattern: Option<BytesRegex>,
    path_regex: Option<BytesRegex>,
    name_regex: Option<BytesRegex>,
    exts: Vec<String>,
    mimes: Vec<Regex>,
    kinds: Vec<String>,
    has: Vec<Var>,
    query: Option<String>,
    extract: Vec<(String, Var, Regex)>,
    add: Vec<Template>,
    reject: Vec<Regex>,
    maps: HashMap<String, Vec<MapEntry>>,
}

/// What a rule sees of one file while evaluating.
struct Facts<'a> {
    path: &'a Path,
    meta: Option<&'a Meta>,
    captures: HashMap<String, Vec<String>>,
}

impl Facts<'_> {
    fn lookup(&self, v: &Var) -> Vec<String> {
        let m = self.meta;
        let one = |s: Option<String>| s.into_iter().collect::<Vec<_>>();
        let name = self.path.file_name().map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned());
        match v {
            Var::Capture(n) => self.captures.get(n).cloned().unwrap_or_default(),
            Var::Field(k) => m
                .map(|m| m.fields.iter().filter(|(key, _)| key == k).map(|(_, v)| v.clone()).collect())
                .unwrap_or_default(),
            Var::Mime => one(m.and_then(|m| m.mime.clone())),
            Var::Kind => one(m.and_then(|m| m.kind.clone())),
            Var::Width => one(m.and_then(|m| m.width).map(|x| x.to_string())),
            Var::Height => one(m.and_then(|m| m.height).map(|x| x.to_string())),
            Var::Duration => one(m.and_then(|m| m.duration_ms).map(|x| (x / 1000).to_string())),
            Var::Fps => one(m.and_then(|m| m.fps).map(|x| format!("{}", x.round()))),
            Var::Taken => one(m.and_then(|m| m.field("taken").map(str::to_string))),
            Var::Audio => one(m.and_then(|m| m.has_audio).filter(|h| *h).map(|_| "audio".to_string())),
            Var::FileName => one(name),
            Var::FileStem => one(name.map(|n| match n.rfind('.') {
                Some(i) if i > 0 => n[..i].to_string(),
                _ => n,
            })),
            Var::FileExt => one(name.and_then(|n| match n.rfind('.') {
                Some(i) if i > 0 && i + 1 < n.len() => Some(n[i + 1..].to_lowercase()),
                _ => None,
            })),
            Var::FileParent => one(self
                .path
                .parent()
                .and_then(Path::file_name)
                .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())),
            Var::FilePath => one(Some(String::from_utf8_lossy(self.path.as_os_str().as_bytes()).into_owned())),
            Var::Dir(i) => {
                let dirs: Vec<_> = self.path.parent().map(|p| p.iter().skip(1).collect()).unwrap_or_default();
                let at = if *i < 0 { dirs.len() as i64 + i } else { *i };
                one(usize::try_from(at)
                    .ok()
                    .and_then(|a| dirs.get(a))
                    .map(|d| String::from_utf8_lossy(d.as_bytes()).into_owned()))
            }
        }
    }
}

impl CompiledRule {
    /// Whether the conditions hold; the captures of its patterns when they do.
    fn matches<'a>(&self, file: &'a FileRecord, meta: Option<&'a Meta>) -> Option<Facts<'a>> {
        let path = file.path.as_path();
        let bytes = path.as_os_str().as_bytes();
        if let Some(g) = &self.paths
            && !g.is_match(path)
        {
            return None;
        }
        if !self.exts.is_empty() {
            let e = Facts { path, meta, captures: HashMap::new() }.lookup(&Var::FileExt);
            if !e.first().is_some_and(|e| self.exts.contains(e)) {
                return None;
            }
        }
        if !self.mimes.is_empty() {
            let mime = meta.and_then(|m| m.mime.as_deref())?;
            if !self.mimes.iter().any(|r| r.is_match(mime)) {
                return None;
            }
        }
        if !self.kinds.is_empty() {
            let kind = meta.and_then(|m| m.kind.as_deref())?;
            if !self.kinds.iter().any(|k| k == kind) {
                return None;
            }
        }
        let mut facts = Facts { path, meta, captures: HashMap::new() };
        if !self.has.iter().all(|v| !facts.lookup(v).is_empty()) {
            return None;
        }
        let name = path.file_name().map_or(&b""[..], |n| n.as_bytes());
        for (re, hay) in [(&self.path_pattern, bytes), (&self.path_regex, bytes), (&self.name_regex, name)] {
            if let Some(re) = re {
                let c = re.captures(hay)?;
                for n in re.capture_names().flatten() {
                    if let Some(m) = c.name(n) {
                        let v = String::from_utf8_lossy(m.as_bytes()).into_owned();
                        if !v.is_empty() {
                            facts.captures.insert(n.to_string(), vec![v]);
                        }
                    }
                }
            }
        }
        for (name, from, re) in &self.extract {
            let mut got = Vec::new();
            for v in facts.lookup(from) {
                for c in re.captures_iter(&v) {
                    let m = c.name("v").or_else(|| c.get(0));
                    if let Some(m) = m.filter(|m| !m.as_str().is_empty()) {
                        got.push(m.as_str().to_string());
                    }
                }
            }
            if !got.is_empty() {
                facts.captures.insert(name.clone(), got);
            }
        }
        Some(facts)
    }

    fn hole(&self, alts: &[template::Alt], facts: &Facts<'_>) -> Vec<String> {
        for alt in alts {
            let mut vals = facts.lookup(&alt.var);
            for f in &alt.filters {
                vals = apply_filter(f, vals, &self.maps, &|v| facts.lookup(v));
                if vals.is_empty() {
                    break;
                }
            }
            vals.retain(|v| !v.trim().is_empty() && !self.reject.iter().any(|r| r.is_match(v.trim())));
            if !vals.is_empty() {
                return vals;
            }
        }
        Vec::new()
    }
}

impl Rule for CompiledRule {
    fn name(&self) -> &str {
        &self.name
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    fn tags(&self, file: &FileRecord, meta: Option<&Meta>) -> Vec<String> {
        let Some(facts) = self.matches(file, meta) else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        'templates: for t in &self.add {
            let mut acc = vec![String::new()];
            for part in &t.parts {
                match part {
                    Part::Text(s) => acc.iter_mut().for_each(|a| a.push_str(s)),
                    Part::Hole(alts) => {
                        let vals = self.hole(alts, &facts);
                        if vals.is_empty() {
                            continue 'templates;
                        }
                        let mut next = Vec::new();
                        'product: for a in &acc {
                            for v in &vals {
                                next.push(format!("{a}{v}"));
                                if next.len() >= self.max_tags {
                                    break 'product;
                                }
                            }
                        }
                        acc = next;
                    }
                }
            }
            for tag in acc {
                let tag = tidy(&tag);
                if !tag.is_empty() && !out.iter().any(|o| o.to_lowercase() == tag.to_lowercase()) {
                    out.push(tag);
                }
                if out.len() >= self.max_tags {
                    break 'templates;
                }
            }
        }
        out
    }
}

/// Control characters become spaces, runs of white space one space, ends trimmed, length
/// capped; a value with nothing after its `ns:` is dropped.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.len() > MAX_TAG_BYTES {
        let mut end = MAX_TAG_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out = out.trim_end().to_string();
    }
    if out.ends_with(':') {
        return String::new();
    }
    out
}

/// The rules file reader: walks the TOML tree with its spans.
struct Parser<'a> {
    text: &'a str,
    home: Option<&'a Path>,
    problems: Vec<Problem>,
    /// The rule being read, for messages.
    rule: Option<String>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl<'a> Parser<'a> {
    fn at(&mut self, offset: usize, field: Option<&str>, message: impl Into<String>) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.problems.push(Problem {
            line,
            column,
            rule: self.rule.clone(),
            field: field.map(str::to_string),
            message: message.into(),
        });
    }

    fn document(&mut self) -> RuleSet {
        let mut set = RuleSet { rules: Vec::new(), warnings: Vec::new() };
        let doc = match DeTable::parse(self.text) {
            Ok(d) => d,
            Err(e) => {
                let off = e.span().map_or(0, |s| s.start);
                let msg = e.message().trim().replace('\n', "; ");
                self.at(off, None, format!("not valid TOML: {msg}"));
                return set;
            }
        };
        let doc = doc.into_inner();
        let mut rules: Option<&Val<'_>> = None;
        for (k, v) in doc.iter() {
            match k.get_ref().as_ref() {
                "schema" => match v.get_ref() {
                    DeValue::Integer(i) if i.as_str() == "1" => {}
                    _ => self.at(v.span().start, Some("schema"), "this trove reads rules files of schema 1"),
                },
                "rule" => rules = Some(v),
                other => self.at(
                    k.span().start,
                    None,
                    format!("unknown key `{other}`; a rules file holds `schema = 1` and [[rule]] tables"),
                ),
            }
        }
        let Some(rules) = rules else { return set };
        let DeValue::Array(arr) = rules.get_ref() else {
            self.at(rules.span().start, Some("rule"), "write each rule as a [[rule]] table");
            return set;
        };
        for (i, r) in arr.iter().enumerate() {
            self.rule = Some(format!("#{}", i + 1));
            let DeValue::Table(t) = r.get_ref() else {
                self.at(r.span().start, None, "a rule is a table ([[rule]])");
                continue;
            };
            if let Some(rule) = self.rule_table(t, r.span().start, &mut set.warnings) {
                if set.rules.iter().any(|x| x.name == rule.name) {
                    self.at(
                        r.span().start,
                        Some("name"),
                        format!("a second rule named {:?}; names are unique", rule.name),
                    );
                } else {
                    set.rules.push(rule);
                }
            }
        }
        self.rule = None;
        set
    }

    fn string(&mut self, v: &Val<'_>, field: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.at(v.span().start, Some(field), "expected a string");
                None
            }
        }
    }

    /// A string or an array of strings, each with its offset.
    fn strings(&mut self, v: &Val<'_>, field: &str) -> Vec<(String, usize)> {
        match v.get_ref() {
            DeValue::String(s) => vec![(s.to_string(), v.span().start)],
            DeValue::Array(a) => {
                let mut out = Vec::new();
                for x in a.iter() {
                    if let Some(s) = self.string(x, field) {
                        out.push((s, x.span().start));
                    }
                }
                out
            }
            _ => {
                self.at(v.span().start, Some(field), "expected a string or a list of strings");
                Vec::new()
            }
        }
    }

    fn regex(&mut self, s: &str, off: usize, field: &str) -> Option<Regex> {
        match regex::RegexBuilder::new(s).size_limit(1 << 20).build() {
            Ok(r) => Some(r),
            Err(e) => {
                self.at(off, Some(field), format!("bad regex: {}", one_line(&e.to_string())));
                None
            }
        }
    }

    fn bytes_regex(&mut self, s: &str, off: usize, field: &str) -> Option<BytesRegex> {
        match regex::bytes::RegexBuilder::new(s).size_limit(1 << 20).build() {
            Ok(r) => Some(r),
            Err(e) => {
                self.at(off, Some(field), format!("bad regex: {}", one_line(&e.to_string())));
                None
            }
        }
    }

    fn expand_home(&mut self, s: &str, off: usize, field: &str) -> Option<String> {
        if s == "~" || s.starts_with("~/") {
            match self.home {
                Some(h) => Some(format!("{}{}", h.display(), &s[1..])),
                None => {
                    self.at(off, Some(field), "`~` needs a home directory (HOME is not set)");
                    None
                }
            }
        } else {
            Some(s.to_string())
        }
    }

    fn rule_table(&mut self, t: &DeTable<'_>, start: usize, warnings: &mut Vec<String>) -> Option<CompiledRule> {
        // The name first, so every later message can say which rule.
        let name = match t.get("name") {
            Some(v) => {
                let n = self.string(v, "name")?;
                if n.trim().is_empty() || n.trim() != n || n.chars().any(char::is_control) {
                    self.at(
                        v.span().start,
                        Some("name"),
                        "a rule name is not empty, has no spaces at its ends and no control characters",
                    );
                    return None;
                }
                n
            }
            None => {
                self.at(start, Some("name"), "a rule needs a name (it becomes the source rule:NAME of its links)");
                return None;
            }
        };
        self.rule = Some(name.clone());
        let before = self.problems.len();
        let mut rule = CompiledRule {
            name,
            auto: false,
            max_tags: DEFAULT_MAX_TAGS,
            paths: None,
            path_pattern: None,
            path_regex: None,
            name_regex: None,
            exts: Vec::new(),
            mimes: Vec::new(),
            kinds: Vec::new(),
            has: Vec::new(),
            query: None,
            extract: Vec::new(),
            add: Vec::new(),
            reject: Vec::new(),
            maps: HashMap::new(),
        };
        // Captures come from the patterns and `extract`; templates may name them, so the
        // conditions are read before the templates.
        let mut captures: Vec<String> = Vec::new();
        let mut templates: Vec<(String, usize, String)> = Vec::new();
        let mut extract: Vec<(String, String, usize, String, usize)> = Vec::new();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            match key {
                "name" => {}
                "description" => {
                    self.string(v, "description");
                }
                "auto" => match v.get_ref() {
                    DeValue::Boolean(b) => rule.auto = *b,
                    _ => self.at(v.span().start, Some("auto"), "expected true or false"),
                },
                "max_tags" | "reject" => self.tags_key(key, v, "", &mut rule, &mut templates),
                "when" => match v.get_ref() {
                    DeValue::Table(w) => self.when(w, &mut rule, &mut captures),
                    _ => self.at(v.span().start, Some("when"), "expected a table ([rule.when])"),
                },
                "extract" => match v.get_ref() {
                    DeValue::Table(x) => {
                        for (ek, ev) in x.iter() {
                            let field = format!("extract.{}", ek.get_ref());
                            let DeValue::Table(e) = ev.get_ref() else {
                                self.at(
                                    ev.span().start,
                                    Some(&field),
                                    "expected { from = \"FIELD\", regex = '…(?P<v>…)…' }",
                                );
                                continue;
                            };
                            let (mut from, mut re) = (None, None);
                            for (fk, fv) in e.iter() {
                                match fk.get_ref().as_ref() {
                                    "from" => from = self.string(fv, &field).map(|s| (s, fv.span().start)),
                                    "regex" => re = self.string(fv, &field).map(|s| (s, fv.span().start)),
                                    o => self.at(
                                        fk.span().start,
                                        Some(&field),
                                        format!("unknown key `{o}`; an extract entry has `from` and `regex`"),
                                    ),
                                }
                            }
                            match (from, re) {
                                (Some((f, fo)), Some((r, ro))) => {
                                    captures.push(ek.get_ref().to_string());
                                    extract.push((ek.get_ref().to_string(), f, fo, r, ro));
                                }
                                _ => self.at(ev.span().start, Some(&field), "needs both `from` and `regex`"),
                            }
                        }
                    }
                    _ => self.at(v.span().start, Some("extract"), "expected a table ([rule.extract])"),
                },
                "tags" => match v.get_ref() {
                    DeValue::Table(x) => {
                        for (tk, tv) in x.iter() {
                            let tk = tk.get_ref().to_string();
                            self.tags_key(&tk, tv, "tags.", &mut rule, &mut templates);
                        }
                    }
                    DeValue::Array(_) => self.tags_key("add", v, "tags", &mut rule, &mut templates),
                    _ => self.at(v.span().start, Some("tags"), "expected a table ([rule.tags] with add = [...])"),
                },
                "map" => match v.get_ref() {
                    DeValue::Table(x) => {
                        for (mk, mv) in x.iter() {
                            self.map_table(mk.get_ref(), mv, &mut rule);
                        }
                    }
                    _ => self.at(v.span().start, Some("map"), "expected tables ([rule.map.NAME])"),
                },
                other => self.at(
                    k.span().start,
                    None,
                    format!("unknown key `{other}`; a rule has name, auto, when, extract, tags, map, reject, max_tags"),
                ),
            }
        }
        for (name, from, fo, re, ro) in extract {
            let field = format!("extract.{name}");
            let var = match resolve_var(&from, &captures) {
                Ok(v) => v,
                Err(e) => {
                    self.at(fo, Some(&field), e);
                    continue;
                }
            };
            if let Some(r) = self.regex(&re, ro, &field) {
                rule.extract.push((name, var, r));
            }
        }
        if templates.is_empty() && self.problems.len() == before {
            self.at(start, Some("tags.add"), "the rule makes no tags: add [rule.tags] add = [\"ns:{capture}\", …]");
        }
        // A broken pattern defines no captures: its templates would only echo that.
        let captures_known = self.problems.len() == before;
        for (text, off, field) in templates.into_iter().filter(|_| captures_known) {
            match Template::parse(&text, &captures, &rule.maps) {
                Ok(t) => {
                    let prefix = t.literal_prefix();
                    if let Some((ns, _)) = prefix.split_once(':')
                        && trove_core::query::RESERVED.iter().any(|w| w.eq_ignore_ascii_case(ns.trim()))
                    {
                        warnings.push(format!(
                            "rule {:?}, {field}: `{ns}:` is also a query word, so `{ns}:x` in a query means the \
                             predicate; find these tags with tag:\"{ns}:x\"",
                            rule.name
                        ));
                    }
                    rule.add.push(t);
                }
                Err(e) => self.at(off, Some(&field), e),
            }
        }
        (self.problems.len() == before).then_some(rule)
    }

    fn tags_key(
        &mut self,
        key: &str,
        v: &Val<'_>,
        prefix: &str,
        rule: &mut CompiledRule,
        templates: &mut Vec<(String, usize, String)>,
    ) {
        let field = if prefix == "tags" { "tags".to_string() } else { format!("{prefix}{key}") };
        match key {
            "add" => {
                for (i, (s, off)) in self.strings(v, &field).into_iter().enumerate() {
                    templates.push((s, off, format!("{field}[{}]", i + 1)));
                }
            }
            "reject" => {
                for (s, off) in self.strings(v, &field) {
                    if let Some(r) = self.regex(&s, off, &field) {
                        rule.reject.push(r);
                    }
                }
            }
            "max_tags" => match v.get_ref() {
                DeValue::Integer(i) if i.as_str().parse::<usize>().is_ok_and(|n| (1..=1000).contains(&n)) => {
                    rule.max_tags = i.as_str().parse().unwrap_or(DEFAULT_MAX_TAGS);
                }
                _ => self.at(v.span().start, Some(&field), "expected a whole number from 1 to 1000"),
            },
            other => self.at(
                v.span().start,
                Some(&field),
                format!("unknown key `{other}`; [rule.tags] has add, reject, max_tags"),
            ),
        }
    }

    fn map_table(&mut self, name: &str, v: &Val<'_>, rule: &mut CompiledRule) {
        let field = format!("map.{name}");
        let DeValue::Table(t) = v.get_ref() else {
            self.at(
                v.span().start,
                Some(&field),
                "expected a table of \"value\" = \"tag value\" (or [\"a\", \"b\"], or \"\" to drop)",
            );
            return;
        };
        let mut entries = Vec::new();
        for (k, x) in t.iter() {
            let to: Vec<String> = self.strings(x, &field).into_iter().map(|s| s.0).filter(|s| !s.is_empty()).collect();
            let key = k.get_ref().to_string();
            entries.push(MapEntry { glob: map_glob(&key), key, to });
        }
        rule.maps.insert(name.to_string(), entries);
    }

    fn when(&mut self, w: &DeTable<'_>, rule: &mut CompiledRule, captures: &mut Vec<String>) {
        for (k, v) in w.iter() {
            let key = k.get_ref().as_ref();
            let field = format!("when.{key}");
            match key {
                "path" => {
                    let mut b = GlobSetBuilder::new();
                    let mut ok = true;
                    for (s, off) in self.strings(v, &field) {
                        let Some(s) = self.expand_home(&s, off, &field) else {
                            ok = false;
                            continue;
                        };
                        let s = if s.starts_with('/') || s.starts_with("**") { s } else { format!("**/{s}") };
                        match GlobBuilder::new(&s).literal_separator(true).backslash_escape(true).build() {
                            Ok(g) => {
                                b.add(g);
                            }
                            Err(e) => {
                                ok = false;
                                self.at(off, Some(&field), format!("bad glob: {}", one_line(&e.to_string())));
                            }
                        }
                    }
                    if ok {
                        match b.build() {
                            Ok(g) => rule.paths = Some(g),
                            Err(e) => self.at(v.span().start, Some(&field), format!("bad glob: {e}")),
                        }
                    }
                }
                "path_pattern" => {
                    let Some(s) = self.string(v, &field) else { continue };
                    let off = v.span().start;
                    let Some(s) = self.expand_home(&s, off, &field) else { continue };
                    match reverse_template(&s) {
                        Ok((re, names)) => {
                            if let Some(r) = self.bytes_regex(&re, off, &field) {
                                captures.extend(names);
                                rule.path_pattern = Some(r);
                            }
                        }
                        Err(e) => self.at(off, Some(&field), e),
                    }
                }
                "path_regex" | "name_regex" => {
                    let Some(s) = self.string(v, &field) else { continue };
                    if let Some(r) = self.bytes_regex(&s, v.span().start, &field) {
                        captures.extend(r.capture_names().flatten().map(str::to_string));
                        if key == "path_regex" {
                            rule.path_regex = Some(r);
                        } else {
                            rule.name_regex = Some(r);
                        }
                    }
                }
                "ext" => {
                    rule.exts = self
                        .strings(v, &field)
                        .into_iter()
                        .map(|(s, _)| s.trim_start_matches('.').to_lowercase())
                        .collect();
                }
                "mime" => {
                    for (s, off) in self.strings(v, &field) {
                        match map_glob(&s).map_or_else(|| Regex::new(&format!("(?i)^{}$", regex::escape(&s))), Ok) {
                            Ok(r) => rule.mimes.push(r),
                            Err(e) => self.at(off, Some(&field), format!("bad MIME pattern: {e}")),
                        }
                    }
                }
                "type" | "kind" => {
                    for (s, off) in self.strings(v, &field) {
                        let s = s.to_lowercase();
                        if KINDS.contains(&s.as_str()) {
                            rule.kinds.push(s);
                        } else {
                            self.at(off, Some(&field), format!("unknown type `{s}`; types: {}", KINDS.join(", ")));
                        }
                    }
                }
                "has" => {
                    for (s, off) in self.strings(v, &field) {
                        // A bare word that is no variable is a field name, as in `has:artist`.
                        let var = resolve_var(&s, captures)
                            .or_else(|e| if s.contains('.') { Err(e) } else { Ok(Var::Field(s.to_lowercase())) });
                        match var {
                            Ok(v) => rule.has.push(v),
                            Err(e) => self.at(off, Some(&field), e),
                        }
                    }
                }
                "query" => {
                    let Some(q) = self.string(v, &field) else { continue };
                    if let Err(e) = trove_core::query::parse(&q) {
                        self.at(v.span().start, Some(&field), format!("bad query at byte {}: {}", e.position, e.message));
                    } else {
                        rule.query = Some(q);
                    }
                }
                other => self.at(
                    k.span().start,
                    None,
                    format!(
                        "unknown condition `{other}`; conditions: path, path_pattern, path_regex, name_regex, ext, mime, type, has, query"
                    ),
                ),
            }
        }
    }
}

fn one_line(s: &str) -> String {
    // regex's syntax errors draw the pattern with a caret; keep the sentence.
    if let Some(l) = s.lines().find_map(|l| l.trim().strip_prefix("error: ")) {
        return l.to_string();
    }
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Compiles a reverse path template (`/music/{artist}/{year:int4} - {album}/{track:int} {title}.{ext}`)
/// into a byte regex and its capture names. `{name}` is one or more bytes other than `/`
/// (as few as possible), `{name:int}` digits, `{name:int2}`/`{name:int4}` exactly that many,
/// `{name:any}` any bytes, `/` included; `{_}` matches without capturing. A template that
/// starts with `/` matches whole paths, others the end of a path at a `/` boundary.
fn reverse_template(t: &str) -> Result<(String, Vec<String>), String> {
    let mut re = String::from(if t.starts_with('/') { "(?s-u)^" } else { "(?s-u)(?:^|/)" });
    let mut names: Vec<String> = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..i]));
        let after = &rest[i + 1..];
        let end = after.find('}').ok_or_else(|| format!("`{{` at byte {} is not closed", t.len() - rest.len() + i))?;
        let hole = &after[..end];
        let (name, kind) = hole.split_once(':').unwrap_or((hole, ""));
        let name = name.trim();
        let body = match kind.trim() {
            "" => "[^/]+?",
            "int" => "[0-9]+",
            "int2" => "[0-9]{2}",
            "int4" => "[0-9]{4}",
            "any" => ".+?",
            k => return Err(format!("`{{{hole}}}`: unknown hole type `{k}`; types: int, int2, int4, any")),
        };
        if name == "_" {
            re.push_str(&format!("(?:{body})"));
        } else {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "`{{{hole}}}`: a hole is named with letters, digits and `_` ({{artist}}, {{year:int4}})"
                ));
            }
            if names.iter().any(|n| n == name) {
                return Err(format!("`{{{name}}}` appears twice"));
            }
            re.push_str(&format!("(?P<{name}>{body})"));
            names.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    Ok((re, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_core::{FileId, FileState, Hash, Stat};

    fn rec(path: &str) -> FileRecord {
        FileRecord {
            id: FileId(1),
            path: PathBuf::from(path),
            stat: Stat { size: 1, mtime_ns: 0, device: 0, inode: 0 },
            hash: Hash([0; 32]),
            state: FileState::Present,
            fingerprint: 0,
            added_at: 0,
            verified_at: 0,
        }
    }

    #[test]
    fn reverse_template_captures_folder_parts() {
        let set = RuleSet::parse(
            r#"
[[rule]]
name = "m"
[rule.when]
path_pattern = "~/Music/{artist}/{year:int4} - {album}/{track:int} {title}.{ext}"
[rule.tags]
add = ["artist:{artist|lower}", "year:{year}", "track:{track|int}", "title:{title}", "album:{album}"]
"#,
            Some(Path::new("/home/u")),
        )
        .unwrap();
        let r = &set.rules[0];
        let tags = r.tags(&rec("/home/u/Music/Boards of Canada/1998 - Music Has/03 Roygbiv.flac"), None);
        assert_eq!(tags, ["artist:boards of canada", "year:1998", "track:3", "title:Roygbiv", "album:Music Has"]);
        assert!(r.tags(&rec("/home/u/Music/x/no year/03 a.flac"), None).is_empty());
    }

    #[test]
    fn problems_name_line_column_rule_and_field() {
        let text = "[[rule]]\nname = \"papers\"\n[rule.when]\nname_regex = '(?P<x>['\n[rule.tags]\nadd = [\"a:{x}\"]\n";
        let e = RuleSet::parse(text, None).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!((e[0].line, e[0].column), (4, 14));
        assert_eq!(e[0].rule.as_deref(), Some("papers"));
        assert_eq!(e[0].field.as_deref(), Some("when.name_regex"));
        assert!(e[0].message.starts_with("bad regex"), "{}", e[0].message);
        let e = RuleSet::parse("[[rule]\nname = 1\n", None).unwrap_err();
        assert_eq!(e[0].line, 1);
        assert!(e[0].message.starts_with("not valid TOML"), "{}", e[0].message);
        let e = RuleSet::parse("[[rule]]\nname = \"q\"\nwhen.query = \"cat (dog\"\ntags.add = [\"x\"]\n", None)
            .unwrap_err();
        assert_eq!(e[0].field.as_deref(), Some("when.query"));
        assert!(e[0].message.contains("bad query at byte 8"), "{}", e[0].message);
        let e = RuleSet::parse("[[rule]]\nname = \"q\"\nwhen.pth = \"x\"\ntags.add = [\"x\"]\n", None).unwrap_err();
        assert!(e[0].message.contains("unknown condition `pth`"), "{}", e[0].message);
    }

    #[test]
    fn reserved_namespace_is_a_warning() {
        let set = RuleSet::parse("[[rule]]\nname = \"t\"\ntags.add = [\"type:music\"]\n", None).unwrap();
        assert_eq!(set.warnings.len(), 1);
        assert!(set.warnings[0].contains("tag:\"type:x\""), "{}", set.warnings[0]);
    }

    #[test]
    fn missing_variables_make_no_tag_and_fallbacks_fill_in() {
        let set = RuleSet::parse(
            "[[rule]]\nname = \"t\"\nwhen.name_regex = '^(?P<a>x)?.*$'\ntags.add = [\"a:{a}\", \"b:{meta.artist ?? file.stem|upper}\", \"c:{meta.album}\"]\n",
            None,
        )
        .unwrap();
        let m = Meta { fields: vec![("artist".into(), "Z".into())], ..Meta::default() };
        assert_eq!(set.rules[0].tags(&rec("/d/song.mp3"), None), ["b:SONG"]);
        assert_eq!(set.rules[0].tags(&rec("/d/xsong.mp3"), Some(&m)), ["a:x", "b:Z"]);
    }
}
