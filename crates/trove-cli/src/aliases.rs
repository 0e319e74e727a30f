//! awtfdb's command names. Run as `ainclude`, `afind`, `als`, `atags`, `arm` or `amv`
//! (`trove install-aliases DIR` makes the symlinks), trove translates the command line to
//! its own command and runs it. Flags with a trove meaning are mapped; flags without one
//! are named and refused (exit 2) rather than silently changing what the command does;
//! flags that only change logging are ignored. Reference: shared/research/awtfdb.md §2, §3.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The names this binary answers to.
pub const NAMES: &[&str] = &["ainclude", "afind", "als", "atags", "arm", "amv"];

/// The awtfdb name `argv0` was called by, if any.
pub fn called_as(argv0: &std::ffi::OsStr) -> Option<&'static str> {
    let base = argv0.as_bytes().rsplit(|&b| b == b'/').next()?;
    NAMES.iter().copied().find(|n| n.as_bytes() == base)
}

fn s(x: &str) -> OsString {
    OsString::from(x)
}

fn unsupported(name: &str, flag: &str, why: &str) -> String {
    format!("{name}: {flag} is not supported by trove ({why})")
}

/// Words in order; `--` ends the flags.
struct Args {
    name: &'static str,
    rest: std::vec::IntoIter<OsString>,
    only_words: bool,
}

enum Word {
    Flag(String),
    Value(OsString),
}

impl Args {
    fn next(&mut self) -> Option<Word> {
        let a = self.rest.next()?;
        if !self.only_words {
            if a == "--" {
                self.only_words = true;
                return self.next();
            }
            if a.as_bytes().starts_with(b"-") && a.len() > 1 {
                return Some(Word::Flag(a.to_string_lossy().into_owned()));
            }
        }
        Some(Word::Value(a))
    }

    fn value(&mut self, flag: &str) -> Result<OsString, String> {
        self.rest.next().ok_or_else(|| format!("{}: {flag} needs a value", self.name))
    }
}

/// Translates an awtfdb command line (without argv[0]) to trove's argv (without argv[0]).
/// `Ok((argv, notes))`: notes are printed to stderr (ignored flags).
pub fn translate(name: &'static str, args: Vec<OsString>) -> Result<(Vec<OsString>, Vec<String>), String> {
    let mut a = Args { name, rest: args.into_iter(), only_words: false };
    let mut notes = Vec::new();
    let mut out: Vec<OsString> = Vec::new();
    let mut help = false;
    match name {
        "ainclude" => {
            // Directories are walked; files are included.
            out.extend([s("include"), s("-r")]);
            let mut paths = Vec::new();
            while let Some(w) = a.next() {
                match w {
                    Word::Flag(f) => match f.as_str() {
                        "-t" | "--tag" => {
                            out.push(s("-t"));
                            out.push(a.value(&f)?);
                        }
                        _ if f.starts_with("--tag=") => out.push(s(&format!("-t{}", &f[6..]))),
                        "--dry-run" => out.push(s("--dry-run")),
                        "-v" | "--verbose" => out.push(s("-v")),
                        "-h" | "--help" => help = true,
                        "-p" | "--pool" => {
                            return Err(unsupported(
                                name,
                                &f,
                                "pools have titles in trove: `trove pool add TITLE PATH…`",
                            ));
                        }
                        "--infer-tags" => return Err(unsupported(name, &f, "trove has no tag inferrers yet")),
                        "-s" | "--source" => {
                            return Err(unsupported(name, &f, "links from the command line are manual"));
                        }
                        "--strict" | "--filter-indexed-files-only" | "--use-file-timestamp" | "--v1" => {
                            return Err(unsupported(name, &f, "no trove equivalent"));
                        }
                        _ => return Err(format!("{name}: unknown option {f}")),
                    },
                    Word::Value(p) => paths.push(p),
                }
            }
            if paths.is_empty() && !help {
                return Err(format!("{name}: no file or directory given"));
            }
            out.push(s("--"));
            out.extend(paths);
        }
        "afind" => {
            let mut words: Vec<String> = Vec::new();
            while let Some(w) = a.next() {
                match w {
                    // The first word of the query ends the flags (afind joins the rest).
                    Word::Flag(f) if words.is_empty() => match f.as_str() {
                        "-v" | "--verbose" | "--v1" => notes.push(format!("{name}: {f} ignored")),
                        "-h" | "--help" => help = true,
                        "-L" | "--link" => {
                            return Err(unsupported(
                                name,
                                &f,
                                "trove has no symlink folders; `trove find -0 QUERY | xargs -0 …` feeds other programs",
                            ));
                        }
                        _ => {
                            // A query may start with a negation: `afind -cat`.
                            a.only_words = true;
                            words.push(f);
                        }
                    },
                    Word::Flag(f) => words.push(f),
                    Word::Value(v) => {
                        a.only_words = true;
                        words.push(v.to_string_lossy().into_owned());
                    }
                }
            }
            out.push(s("find"));
            if help {
                out.push(s("--help"));
                return Ok((out, notes));
            }
            if words.is_empty() {
                return Err(format!("{name}: no query given"));
            }
            out.push(s("--"));
            out.push(OsString::from(afind_query(&words.join(" "))?));
        }
        "als" => {
            out.push(s("ls"));
            let mut paths = Vec::new();
            while let Some(w) = a.next() {
                match w {
                    Word::Flag(f) => match f.as_str() {
                        "-v" | "--verbose" | "--v1" | "-f" => notes.push(format!("{name}: {f} ignored")),
                        "--show-sources" => {
                            notes.push(format!("{name}: {f}: `trove ls --json` shows each tag's sources"));
                        }
                        "-h" | "--help" => help = true,
                        "--id" => return Err(unsupported(name, &f, "trove names files by path")),
                        _ => return Err(format!("{name}: unknown option {f}")),
                    },
                    Word::Value(p) if p.as_bytes().starts_with(b"@") => {
                        return Err(unsupported(name, "@ID", "trove names files by path"));
                    }
                    Word::Value(p) => paths.push(p),
                }
            }
            if paths.is_empty() {
                paths.push(s("."));
            }
            out.push(s("--"));
            out.extend(paths);
        }
        "atags" => {
            let mut words: Vec<OsString> = Vec::new();
            let mut exact = false;
            while let Some(w) = a.next() {
                match w {
                    Word::Flag(f) => match f.as_str() {
                        "-v" | "--verbose" | "--v1" | "--no-confirm" => notes.push(format!("{name}: {f} ignored")),
                        "-h" | "--help" => help = true,
                        "--exact" => exact = true,
                        "--dry-run" => return Err(unsupported(name, &f, "tag edits are single transactions")),
                        "--core" | "--alias" | "--delete-tag-file-entries" => {
                            return Err(unsupported(
                                name,
                                &f,
                                "trove names tags by name: `trove tags alias TAG NAME`, `trove tags merge FROM INTO`",
                            ));
                        }
                        "--tag" | "--only-tag-name" => words.push(s(&f)),
                        _ => return Err(format!("{name}: unknown option {f}")),
                    },
                    Word::Value(v) => words.push(v),
                }
            }
            let w: Vec<String> = words.iter().map(|x| x.to_string_lossy().into_owned()).collect();
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            let joined = |from: usize| OsString::from(w[from.min(w.len())..].join(" "));
            match w.as_slice() {
                _ if help => out.extend([s("tags"), s("--help")]),
                ["create", _, ..] => out.extend([s("tags"), s("create"), s("--"), joined(1)]),
                ["search", _, ..] if exact => out.extend([s("tags"), s("list"), s("--"), joined(1)]),
                ["search", _, ..] => {
                    out.extend([s("tags"), s("list"), s("--"), OsString::from(format!("*{}*", w[1..].join(" ")))]);
                }
                ["remove", "--tag" | "--only-tag-name", rest @ ..] if !rest.is_empty() => {
                    out.extend([s("tags"), s("delete"), s("--"), joined(2)]);
                }
                ["parent", "create", c, p] => {
                    out.extend([s("tags"), s("imply"), s("--"), s(c), s(p)]);
                }
                ["parent", "list"] => out.extend([s("tags"), s("list")]),
                ["pool", "create", _, ..] => out.extend([s("pool"), s("create"), s("--"), joined(2)]),
                ["pool", "search", ..] => out.extend([s("pool"), s("list")]),
                ["pool", "fetch" | "remove", ..] | ["parent", "remove", ..] | ["remove", "--core", ..] => {
                    return Err(unsupported(
                        name,
                        &w[..2].join(" "),
                        "trove names pools and tags by title and name: see `trove pool --help`, `trove tags --help`",
                    ));
                }
                ["source", ..] => {
                    return Err(unsupported(
                        name,
                        "source",
                        "trove records sources on its own (manual, import:TOOL, api:KEY)",
                    ));
                }
                [] => return Err(format!("{name}: no action given (create, search, remove, parent, pool)")),
                _ => return Err(format!("{name}: {}: not an action trove maps", w.join(" "))),
            }
        }
        "arm" => {
            let (mut tags, mut paths, mut recursive, mut dry) = (Vec::new(), Vec::new(), false, false);
            while let Some(w) = a.next() {
                match w {
                    Word::Flag(f) => match f.as_str() {
                        "-r" | "--recursive" => recursive = true,
                        "-t" | "--tag" => tags.push(a.value(&f)?),
                        "--dry-run" => dry = true,
                        "-v" | "--verbose" | "--v1" | "-f" | "--no-auto-gc" => {
                            notes.push(format!("{name}: {f} ignored"));
                        }
                        "-h" | "--help" => help = true,
                        "-p" | "--pool" => {
                            return Err(unsupported(
                                name,
                                &f,
                                "pools have titles in trove: `trove pool rm TITLE PATH…`",
                            ));
                        }
                        _ => return Err(format!("{name}: unknown option {f}")),
                    },
                    Word::Value(p) => paths.push(p),
                }
            }
            if tags.is_empty() {
                out.push(s("rm"));
                // arm never asks.
                out.push(s(if dry { "--dry-run" } else { "--yes" }));
            } else {
                if dry {
                    return Err(unsupported(name, "--dry-run with -t", "`trove untag` has no dry run"));
                }
                out.push(s("untag"));
                for t in tags {
                    out.push(s("-t"));
                    out.push(t);
                }
            }
            if recursive {
                out.push(s("-r"));
            }
            if help {
                out.push(s("--help"));
            }
            out.push(s("--"));
            out.extend(paths);
        }
        "amv" => {
            out.push(s("mv"));
            let mut paths = Vec::new();
            while let Some(w) = a.next() {
                match w {
                    Word::Flag(f) => match f.as_str() {
                        "-v" | "--verbose" | "--v1" => notes.push(format!("{name}: {f} ignored")),
                        "-h" | "--help" => help = true,
                        _ => return Err(format!("{name}: unknown option {f}")),
                    },
                    Word::Value(p) => paths.push(p),
                }
            }
            if help {
                out.push(s("--help"));
            }
            out.push(s("--"));
            out.extend(paths);
        }
        _ => return Err(format!("{name}: not an awtfdb command")),
    }
    if help && !out.iter().any(|x| x == "--help") {
        out.insert(1.min(out.len()), s("--help"));
    }
    Ok((out, notes))
}

/// Translates an afind query to trove's language. afind: words are tags (exact names),
/// `|` is OR and binds tightest, a space is AND and `-` is AND NOT, both left to right;
/// `"…"` quotes a tag; `(` and `)` are tag characters; only files with at least one tag
/// are found. `system:low_tags:N` is `tags<N`.
pub fn afind_query(q: &str) -> Result<String, String> {
    let bad = |i: usize, what: &str| format!("afind: error at character {i}: {what}");
    let b = q.as_bytes();
    let mut i = 0;
    // Groups of OR-ed atoms joined by AND / AND NOT, in order.
    let mut groups: Vec<(bool, Vec<String>)> = Vec::new();
    let mut negate_next = false;
    let mut in_or = false;
    let skip_spaces = |i: &mut usize| {
        while *i < b.len() && b[*i] == b' ' {
            *i += 1;
        }
    };
    while i < b.len() {
        let start = i;
        skip_spaces(&mut i);
        if i < b.len() && b[i] == b'|' {
            i += 1;
            skip_spaces(&mut i);
            in_or = true;
            continue;
        }
        if i < b.len() && b[i] == b'-' && (start != i || start == 0) {
            i += 1;
            skip_spaces(&mut i);
            negate_next = true;
            in_or = false;
            continue;
        }
        if i > start && !in_or {
            // A plain space: AND.
            continue;
        }
        let atom = if b[i] == b'"' {
            let end = q[i + 1..].find('"').ok_or_else(|| bad(i, "unterminated quote"))?;
            let t = &q[i + 1..i + 1 + end];
            i += end + 2;
            t.to_string()
        } else {
            let end = b[i..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || b"-_:;&*()".contains(c)))
                .unwrap_or(b.len() - i);
            if end == 0 {
                return Err(bad(i, "unexpected character"));
            }
            let t = &q[i..i + end];
            i += end;
            t.to_string()
        };
        let term = if let Some(n) = atom.strip_prefix("system:low_tags:") {
            let n: u64 = n.parse().map_err(|_| bad(start, "system:low_tags needs a number"))?;
            format!("tags<{n}")
        } else if atom.starts_with("hash:") {
            return Err("afind: hash: is not supported (awtfdb's hashes are not trove's; `trove find hash:…` takes a BLAKE3 prefix)".into());
        } else if atom.starts_with("system:random") {
            return Err("afind: system:random is not supported (`trove find 'sort:random limit:1'`)".into());
        } else {
            format!("\"{}\"", atom.replace('\\', "\\\\").replace('"', "\\\""))
        };
        if in_or && let Some(g) = groups.last_mut() {
            g.1.push(term);
        } else {
            groups.push((negate_next, vec![term]));
        }
        negate_next = false;
        in_or = false;
    }
    let mut expr = String::from("tags>0");
    for (neg, atoms) in groups {
        let g = if atoms.len() == 1 { atoms[0].clone() } else { format!("({})", atoms.join(" | ")) };
        expr = format!("({expr}) {}{g}", if neg { "-" } else { "" });
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::afind_query;

    #[test]
    fn afind_queries_keep_their_meaning() {
        assert_eq!(afind_query("cat").unwrap(), r#"(tags>0) "cat""#);
        assert_eq!(afind_query("cat dog").unwrap(), r#"((tags>0) "cat") "dog""#);
        // OR binds tightest: a b | c = a ∩ (b ∪ c).
        assert_eq!(afind_query("a b | c").unwrap(), r#"((tags>0) "a") ("b" | "c")"#);
        assert_eq!(afind_query("a -b c").unwrap(), r#"(((tags>0) "a") -"b") "c""#);
        assert_eq!(afind_query("-a").unwrap(), r#"(tags>0) -"a""#);
        // `a-b` is one tag; parentheses are tag characters.
        assert_eq!(afind_query("a-b").unwrap(), r#"(tags>0) "a-b""#);
        assert_eq!(afind_query("(x)").unwrap(), r#"(tags>0) "(x)""#);
        assert_eq!(afind_query(r#""dj kuroneko" year:2019"#).unwrap(), r#"((tags>0) "dj kuroneko") "year:2019""#);
        assert_eq!(afind_query("system:low_tags:3").unwrap(), "(tags>0) tags<3");
        assert!(afind_query("hash:00").unwrap_err().contains("hash: is not supported"));
        assert!(afind_query("a.b").unwrap_err().contains("error at character 1"));
    }
}
