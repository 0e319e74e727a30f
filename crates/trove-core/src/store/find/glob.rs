//! The byte-wise glob matcher behind `path:` (`trove_glob` in SQL).

use rusqlite::Connection;

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

/// The runs of literal bytes in a pattern, as `glob_match` reads it: between `*`, `?` and
/// closed `[...]` classes; `\x` is a literal x, an unclosed `[` and a trailing `\` literal
/// themselves. Every path the pattern matches contains each run verbatim.
pub(crate) fn literal_runs(pat: &[u8]) -> Vec<Vec<u8>> {
    let (mut runs, mut cur, mut p) = (Vec::new(), Vec::new(), 0usize);
    while p < pat.len() {
        match pat[p] {
            b'*' | b'?' => {
                runs.push(std::mem::take(&mut cur));
                p += 1;
            }
            b'[' => match class(pat, p, 0) {
                Some((_, next)) => {
                    runs.push(std::mem::take(&mut cur));
                    p = next;
                }
                None => {
                    cur.push(b'[');
                    p += 1;
                }
            },
            b'\\' if p + 1 < pat.len() => {
                cur.push(pat[p + 1]);
                p += 2;
            }
            c => {
                cur.push(c);
                p += 1;
            }
        }
    }
    runs.push(cur);
    runs.retain(|r| !r.is_empty());
    runs
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
    use proptest::prelude::*;

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

    /// Pattern pieces on which `glob_match` and globset agree by definition: literals from a
    /// small alphabet (so stars really have to backtrack), `*`, `?`, ASCII classes with
    /// ranges and negation, and `\x` escapes. Left out: `{a,b}` and `**` (globset's own
    /// syntax, not ours), classes of non-ASCII bytes (globset ranges over characters),
    /// an unclosed `[` or a trailing `\` (globset refuses them; we read them literally).
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[ab/.é]{1,3}",
            2 => Just("*".to_string()),
            2 => Just("?".to_string()),
            1 => ("[!]?", "[ab/.]", proptest::option::of("[ab.z]")).prop_map(|(neg, a, hi)| match hi {
                Some(h) if a.as_bytes()[0] <= h.as_bytes()[0] => format!("[{neg}{a}-{h}]"),
                _ => format!("[{neg}{a}]"),
            }),
            1 => "[ab*?\\[]".prop_map(|c| format!("\\{c}")),
        ]
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(piece(), 0..6).prop_map(|v| {
            let mut s = v.concat();
            // `**` means something else to globset; one star means the same to both.
            while s.contains("**") {
                s = s.replace("**", "*");
            }
            s
        })
    }

    fn reference(pat: &str, s: &str) -> Option<bool> {
        let g = globset::GlobBuilder::new(pat)
            .literal_separator(false)
            .backslash_escape(true)
            .case_insensitive(false)
            .build()
            .ok()?;
        Some(g.compile_matcher().is_match(s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `glob_match` agrees with globset (every character class, range, escape and star
        /// backtrack) on UTF-8 paths.
        #[test]
        fn glob_match_agrees_with_globset(pat in pattern(), s in "[ab/.éz*?\\\\\\[]{0,12}") {
            // globset's `?` takes one byte; ours takes one character (`é` is one `?`), so
            // `?` against a non-ASCII path is left to `glob_basics`.
            let comparable = s.is_ascii() || !pat.contains('?');
            if let Some(want) = reference(&pat, &s).filter(|_| comparable) {
                prop_assert_eq!(glob_match(pat.as_bytes(), s.as_bytes()), want, "pattern {:?} path {:?}", pat, s);
            }
        }

        /// Any bytes at all (not UTF-8 too): nothing panics, and a pattern of literals,
        /// escapes and stars matches exactly when its literal runs occur in order.
        #[test]
        fn glob_match_takes_any_bytes(pat in pattern(), s in proptest::collection::vec(any::<u8>(), 0..12)) {
            let got = glob_match(pat.as_bytes(), &s);
            if !pat.contains('?') && !pat.contains('[') {
                // With only literals, escapes and stars, matching is a plain substring search.
                let lits = unescape_parts(&pat);
                prop_assert_eq!(got, stars_match(&lits, &s), "pattern {:?} path {:?}", pat, s);
            }
        }
    }

    /// Any pattern over bytes that make every construct (classes open and closed, escapes,
    /// `?` on multi-byte characters, bytes that are not UTF-8).
    fn any_pattern() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(vec![b'a', b'b', b'/', b'.', 0xc3, 0xa9, 0xff, b'\n']).prop_map(|b| vec![b]),
                1 => proptest::sample::select(vec![&b"*"[..], b"?", b"[", b"]", b"!", b"-", b"\\"]).prop_map(<[u8]>::to_vec),
            ],
            0..14,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// What the trigram index relies on: a path the pattern matches contains each of its
        /// literal runs.
        #[test]
        fn a_match_contains_every_literal_run(
            pat in any_pattern(),
            s in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'/', b'.', 0xc3, 0xa9, 0xff, b'\n', b'[', b']', b'*', b'\\']), 0..14),
        ) {
            if glob_match(&pat, &s) {
                for run in literal_runs(&pat) {
                    prop_assert!(s.windows(run.len()).any(|w| w == run.as_slice()), "pattern {:?} path {:?} run {:?}", pat, s, run);
                }
            }
        }

        /// The same where matches are likely: the path is the pattern with its wildcards
        /// filled in.
        #[test]
        fn a_filled_in_pattern_contains_every_literal_run(pat in any_pattern(), fill in "[ab/é]{0,3}") {
            let mut s = Vec::new();
            let mut i = 0;
            while i < pat.len() {
                match pat[i] {
                    b'*' => s.extend_from_slice(fill.as_bytes()),
                    b'?' => s.push(b'a'),
                    b'\\' if i + 1 < pat.len() => {
                        i += 1;
                        s.push(pat[i]);
                    }
                    c => s.push(c),
                }
                i += 1;
            }
            if glob_match(&pat, &s) {
                for run in literal_runs(&pat) {
                    prop_assert!(s.windows(run.len()).any(|w| w == run.as_slice()), "pattern {:?} path {:?} run {:?}", pat, s, run);
                }
            }
        }
    }

    #[test]
    fn literal_runs_read_the_pattern_as_glob_match_does() {
        let runs = |p: &[u8]| literal_runs(p);
        assert_eq!(runs(b"*/inbox/*7*"), vec![b"/inbox/".to_vec(), b"7".to_vec()]);
        assert_eq!(runs(b"*a\\*b*"), vec![b"a*b".to_vec()]);
        assert_eq!(runs(b"*x[ab]yz"), vec![b"x".to_vec(), b"yz".to_vec()]);
        assert_eq!(runs(b"*[]x]yz"), vec![b"yz".to_vec()]);
        assert_eq!(runs(b"*ab[cd"), vec![b"ab[cd".to_vec()]);
        assert_eq!(runs(b"*ab\\"), vec![b"ab\\".to_vec()]);
        assert_eq!(runs(b"?\xff\xfe?"), vec![b"\xff\xfe".to_vec()]);
    }

    /// The literal runs between unescaped stars.
    fn unescape_parts(pat: &str) -> Vec<Vec<u8>> {
        let b = pat.as_bytes();
        let (mut parts, mut cur, mut i) = (Vec::new(), Vec::new(), 0);
        while i < b.len() {
            match b[i] {
                b'*' => parts.push(std::mem::take(&mut cur)),
                b'\\' if i + 1 < b.len() => {
                    i += 1;
                    cur.push(b[i]);
                }
                c => cur.push(c),
            }
            i += 1;
        }
        parts.push(cur);
        parts
    }

    /// Whether `s` is parts[0] * parts[1] * … * parts[n-1], by leftmost greedy search.
    fn stars_match(parts: &[Vec<u8>], s: &[u8]) -> bool {
        let (first, rest) = parts.split_first().expect("at least one part");
        if rest.is_empty() {
            return s == first.as_slice();
        }
        let Some(mut s) = s.strip_prefix(first.as_slice()) else { return false };
        let (last, middle) = rest.split_last().expect("two parts");
        for m in middle {
            if m.is_empty() {
                continue;
            }
            let Some(at) = s.windows(m.len()).position(|w| w == m.as_slice()) else { return false };
            s = &s[at + m.len()..];
        }
        s.ends_with(last.as_slice())
    }
}
