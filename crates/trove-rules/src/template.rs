//! Tag templates: `"artist:{meta.albumartist ?? meta.artist ?? artist|lower}"`.
//!
//! A template is text with holes. A hole is one or more alternatives separated by `??`;
//! the first alternative that gives a value wins. An alternative is a variable followed by
//! filters, each `|name` or `|name:arg`; filters belong to their alternative. `{{` and `}}`
//! are literal braces. A hole gives zero or more values (a repeated field, `split:`); the
//! template gives one tag per combination of its holes' values, and none when a hole is
//! empty.

use std::collections::HashMap;

use regex::Regex;

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Text(String),
    Hole(Vec<Alt>),
}

#[derive(Debug, Clone)]
pub(crate) struct Alt {
    pub(crate) var: Var,
    pub(crate) filters: Vec<Filter>,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Var {
    /// A named capture of the rule's patterns, or an `extract` entry.
    Capture(String),
    /// A text field of the file's metadata (`meta.artist`).
    Field(String),
    Mime,
    Kind,
    Width,
    Height,
    /// Whole seconds.
    Duration,
    Fps,
    /// `YYYY-MM-DD HH:MM:SS` (UTC or as recorded).
    Taken,
    FileName,
    FileStem,
    FileExt,
    FileParent,
    FilePath,
    /// A directory component of the path: 0 the first under `/`, -1 the file's parent.
    Dir(i64),
    /// Has an audio stream (`has` only).
    Audio,
}

#[derive(Debug, Clone)]
pub(crate) enum Filter {
    Lower,
    Upper,
    Trim,
    Int,
    Year,
    Date(String),
    Split(String),
    Replace(String, String),
    StripWeights,
    TopLevel,
    Map(String),
    DedupePrefix(Var),
    First,
}

/// What a variable name can be, for messages.
pub const VARIABLES: &str = "a capture of the rule's patterns, an `extract` name, meta.FIELD, mime, type, width, \
     height, duration, fps, taken, file.name, file.stem, file.ext, file.parent, file.path, dir[N]";

/// Filter names, for messages.
pub const FILTERS: &str = "lower upper trim int year date:FORMAT split:SEP replace:FROM=TO strip_weights toplevel map:NAME dedupe_prefix:VAR first";

/// Resolves a variable name: captures first, then fields and built-ins, then the
/// research note's dotted names (`audio.artist`, `exif.date_taken`, `pdf.title`,
/// `png.text.parameters`) as aliases of trove's fields.
pub(crate) fn resolve_var(name: &str, captures: &[String]) -> Result<Var, String> {
    let n = name.trim();
    if captures.iter().any(|c| c == n) {
        return Ok(Var::Capture(n.to_string()));
    }
    if let Some(f) = n.strip_prefix("meta.") {
        if f.is_empty() {
            return Err("`meta.` needs a field name (meta.artist)".into());
        }
        return Ok(Var::Field(f.to_lowercase()));
    }
    let v = match n {
        "mime" => Var::Mime,
        "type" | "kind" => Var::Kind,
        "width" => Var::Width,
        "height" => Var::Height,
        "duration" => Var::Duration,
        "fps" => Var::Fps,
        "taken" | "exif.date_taken" => Var::Taken,
        "file.name" => Var::FileName,
        "file.stem" => Var::FileStem,
        "file.ext" => Var::FileExt,
        "file.parent" => Var::FileParent,
        "file.path" => Var::FilePath,
        "audio" => Var::Audio,
        "exif.make" => Var::Field("make".into()),
        "exif.model" => Var::Field("model".into()),
        "exif.lens_model" | "exif.lens" => Var::Field("lens".into()),
        "exif.iso" => Var::Field("iso".into()),
        "exif.camera" => Var::Field("camera".into()),
        "exif.gps" => Var::Field("gps".into()),
        "pdf.creation_date" | "pdf.created" => Var::Field("pdf.created".into()),
        _ => {
            if let Some(i) = n.strip_prefix("dir[").and_then(|r| r.strip_suffix(']')) {
                return i
                    .trim()
                    .parse::<i64>()
                    .map(Var::Dir)
                    .map_err(|_| format!("`{n}`: dir[N] needs a whole number"));
            }
            if let Some(k) = n.strip_prefix("png.text.") {
                return Ok(Var::Field(format!("png.{}", k.to_lowercase())));
            }
            for p in ["audio.", "pdf."] {
                if let Some(f) = n.strip_prefix(p)
                    && !f.is_empty()
                {
                    return Ok(Var::Field(f.to_lowercase()));
                }
            }
            let mut msg = format!("unknown variable `{n}`; a variable is {VARIABLES}");
            if !captures.is_empty() {
                msg.push_str(&format!(" (this rule's captures: {})", captures.join(", ")));
            }
            return Err(msg);
        }
    };
    Ok(v)
}

impl Template {
    /// Compiles `text`; `captures` are the names the rule's patterns define, `maps` the
    /// rule's map tables.
    pub(crate) fn parse(
        text: &str,
        captures: &[String],
        maps: &HashMap<String, Vec<MapEntry>>,
    ) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            let (before, at) = rest.split_at(i);
            lit.push_str(before);
            if let Some(r) = at.strip_prefix("{{") {
                lit.push('{');
                rest = r;
                continue;
            }
            if let Some(r) = at.strip_prefix("}}") {
                lit.push('}');
                rest = r;
                continue;
            }
            if at.starts_with('}') {
                return Err(format!(
                    "unmatched `}}` at byte {} (write `}}}}` for a literal brace)",
                    text.len() - at.len()
                ));
            }
            let Some(end) = at.find('}') else {
                return Err(format!(
                    "`{{` at byte {} is not closed (write `{{{{` for a literal brace)",
                    text.len() - at.len()
                ));
            };
            let inner = &at[1..end];
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Hole(parse_hole(inner, captures, maps)?));
            rest = &at[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template { parts })
    }

    /// The literal text before the first hole.
    pub(crate) fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(t)) => t,
            _ => "",
        }
    }
}

fn parse_hole(inner: &str, captures: &[String], maps: &HashMap<String, Vec<MapEntry>>) -> Result<Vec<Alt>, String> {
    if inner.trim().is_empty() {
        return Err("`{}` names no variable".into());
    }
    let mut alts = Vec::new();
    for alt in inner.split("??") {
        let alt = alt.trim();
        if alt.is_empty() {
            return Err(format!("`{{{inner}}}`: an empty alternative around `??`"));
        }
        let mut pieces = alt.split('|');
        let var = resolve_var(pieces.next().unwrap_or(""), captures)?;
        let mut filters = Vec::new();
        for f in pieces {
            let (name, arg) = match f.split_once(':') {
                Some((n, a)) => (n.trim(), Some(a)),
                None => (f.trim(), None),
            };
            let need =
                |what: &str| arg.filter(|a| !a.is_empty()).ok_or_else(|| format!("filter `{name}` needs {what}"));
            let filter = match name {
                "lower" => Filter::Lower,
                "upper" => Filter::Upper,
                "trim" => Filter::Trim,
                "int" => Filter::Int,
                "year" => Filter::Year,
                "first" => Filter::First,
                "strip_weights" => Filter::StripWeights,
                "toplevel" => Filter::TopLevel,
                "date" => Filter::Date(need("a format (date:%Y-%m)")?.to_string()),
                "split" => Filter::Split(need("a separator (split:;)")?.to_string()),
                "replace" => {
                    let a = need("FROM=TO (replace:_= )")?;
                    let (from, to) = a.split_once('=').ok_or_else(|| format!("filter `replace:{a}` needs FROM=TO"))?;
                    if from.is_empty() {
                        return Err(format!("filter `replace:{a}`: nothing to replace"));
                    }
                    Filter::Replace(from.to_string(), to.to_string())
                }
                "map" => {
                    let m = need("a map name (map:kinds, with a [rule.map.kinds] table)")?.trim();
                    if !maps.contains_key(m) {
                        return Err(format!("filter `map:{m}`: the rule has no table [rule.map.{m}]"));
                    }
                    Filter::Map(m.to_string())
                }
                "dedupe_prefix" => {
                    Filter::DedupePrefix(resolve_var(need("a variable (dedupe_prefix:meta.make)")?, captures)?)
                }
                "" => return Err(format!("`{{{inner}}}`: an empty filter after `|`")),
                other => return Err(format!("unknown filter `{other}`; filters: {FILTERS}")),
            };
            filters.push(filter);
        }
        alts.push(Alt { var, filters });
    }
    Ok(alts)
}

/// One entry of a `[rule.map.NAME]` table: a key (exact, or a glob with `*`), and what it
/// becomes (nothing, one value, several).
#[derive(Debug, Clone)]
pub(crate) struct MapEntry {
    pub(crate) key: String,
    pub(crate) glob: Option<Regex>,
    pub(crate) to: Vec<String>,
}

pub(crate) fn map_glob(key: &str) -> Option<Regex> {
    if !key.contains('*') {
        return None;
    }
    let re = key.split('*').map(regex::escape).collect::<Vec<_>>().join(".*");
    Regex::new(&format!("(?is)^{re}$")).ok()
}

/// Applies a filter to one value; an empty result drops the value.
pub(crate) fn apply_filter(
    f: &Filter,
    values: Vec<String>,
    maps: &HashMap<String, Vec<MapEntry>>,
    lookup: &dyn Fn(&Var) -> Vec<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Filter::First = f {
        return values.into_iter().take(1).collect();
    }
    for v in values {
        match f {
            Filter::Lower => out.push(v.to_lowercase()),
            Filter::Upper => out.push(v.to_uppercase()),
            Filter::Trim => out.push(v.trim().to_string()),
            Filter::Int => out.extend(int_of(&v)),
            Filter::Year => out.extend(year_of(&v)),
            Filter::Date(fmt) => out.extend(date_of(&v, fmt)),
            Filter::Split(sep) => out.extend(v.split(sep.as_str()).map(str::to_string)),
            Filter::Replace(from, to) => out.push(v.replace(from.as_str(), to)),
            Filter::StripWeights => out.push(strip_weights(&v)),
            Filter::TopLevel => out.push(v.split('/').next().unwrap_or("").to_string()),
            Filter::Map(name) => {
                let entries = maps.get(name).map(Vec::as_slice).unwrap_or(&[]);
                let hit = entries
                    .iter()
                    .find(|e| e.glob.is_none() && e.key.to_lowercase() == v.to_lowercase())
                    .or_else(|| entries.iter().find(|e| e.glob.as_ref().is_some_and(|g| g.is_match(&v))));
                match hit {
                    Some(e) => out.extend(e.to.iter().cloned()),
                    None => out.push(v),
                }
            }
            Filter::DedupePrefix(var) => {
                let prefix = lookup(var).into_iter().next().unwrap_or_default();
                let p = prefix.trim();
                let cut = (!p.is_empty()
                    && v.len() > p.len()
                    && v.is_char_boundary(p.len())
                    && v[..p.len()].eq_ignore_ascii_case(p)
                    && v[p.len()..].starts_with(char::is_whitespace))
                .then(|| v[p.len()..].trim_start().to_string());
                out.push(cut.unwrap_or(v));
            }
            Filter::First => unreachable!("handled above"),
        }
    }
    out.retain(|v| !v.trim().is_empty());
    out
}

/// The leading whole number of a value, without leading zeros ("03/12" → "3").
fn int_of(v: &str) -> Option<String> {
    let d: String = v.trim().chars().take_while(char::is_ascii_digit).collect();
    if d.is_empty() {
        return None;
    }
    let t = d.trim_start_matches('0');
    Some(if t.is_empty() { "0".into() } else { t.to_string() })
}

/// The first four-digit run that starts with 1 or 2 and is not part of a longer number
/// unless a date follows ("2019-05-01", "D:20190501…", "May 2019").
fn year_of(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let run = &v[start..i];
            if (run.len() == 4 || run.len() == 8 || run.len() == 14) && matches!(b[start], b'1' | b'2') {
                return Some(run[..4].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Year, month and day from `YYYY-MM-DD`, `YYYY:MM:DD`, `YYYY/MM/DD`, `YYYYMMDD` (PDF
/// `D:` dates) or `YYYY-MM`.
fn ymd(v: &str) -> Option<(String, Option<String>, Option<String>)> {
    let re = date_re();
    let c = re.captures(v)?;
    if let Some(d8) = c.name("compact") {
        let s = d8.as_str();
        return Some((s[..4].into(), Some(s[4..6].into()), Some(s[6..8].into())));
    }
    Some((c["y"].to_string(), c.name("m").map(|m| m.as_str().to_string()), c.name("d").map(|m| m.as_str().to_string())))
}

fn date_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|\D)(?:(?P<compact>[12]\d{3}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))|(?P<y>[12]\d{3})(?:[-:/](?P<m>0[1-9]|1[0-2])(?:[-:/](?P<d>0[1-9]|[12]\d|3[01]))?)?)(?:\D|$)")
            .expect("the date pattern compiles")
    })
}

/// Formats a date value: `%Y`, `%m`, `%d`, `%%`; a value without the parts the format
/// needs gives nothing.
fn date_of(v: &str, fmt: &str) -> Option<String> {
    let (y, m, d) = ymd(v)?;
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y),
            Some('m') => out.push_str(m.as_deref()?),
            Some('d') => out.push_str(d.as_deref()?),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    Some(out)
}

/// Prompt weights off a Stable Diffusion prompt word: "(cat:1.2)" → "cat", "[[dog]]" → "dog".
fn strip_weights(v: &str) -> String {
    let s: String = v.chars().filter(|c| !matches!(c, '(' | ')' | '[' | ']' | '{' | '}')).collect();
    let s = s.trim();
    match s.rsplit_once(':') {
        Some((word, w)) if !w.trim().is_empty() && w.trim().parse::<f64>().is_ok() => word.trim().to_string(),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_on_dates_numbers_and_prompts() {
        assert_eq!(int_of("03/12").as_deref(), Some("3"));
        assert_eq!(int_of("00").as_deref(), Some("0"));
        assert_eq!(int_of("x1"), None);
        assert_eq!(year_of("2019-05-01").as_deref(), Some("2019"));
        assert_eq!(year_of("D:20190501120000+01'00'").as_deref(), Some("2019"));
        assert_eq!(year_of("track 12345"), None);
        assert_eq!(date_of("2019:05:01 12:00:00", "%Y-%m").as_deref(), Some("2019-05"));
        assert_eq!(date_of("D:20190501", "%Y/%m/%d").as_deref(), Some("2019/05/01"));
        assert_eq!(date_of("2019", "%Y-%m"), None);
        assert_eq!(strip_weights("(cat:1.2)"), "cat");
        assert_eq!(strip_weights(" [[dog]] "), "dog");
        assert_eq!(strip_weights("a:b"), "a:b");
    }

    #[test]
    fn template_syntax_errors_name_the_problem() {
        let maps = HashMap::new();
        let caps = vec!["artist".to_string()];
        assert!(Template::parse("a:{artist", &caps, &maps).unwrap_err().contains("not closed"));
        assert!(Template::parse("a:{nope}", &caps, &maps).unwrap_err().contains("unknown variable `nope`"));
        assert!(Template::parse("a:{artist|shout}", &caps, &maps).unwrap_err().contains("unknown filter `shout`"));
        assert!(Template::parse("a:{artist|map:x}", &caps, &maps).unwrap_err().contains("[rule.map.x]"));
        assert!(Template::parse("a:{artist ?? }", &caps, &maps).unwrap_err().contains("empty alternative"));
        let t = Template::parse("{{x}}:{artist}", &caps, &maps).unwrap();
        assert_eq!(t.literal_prefix(), "{x}:");
    }
}
