//! Fuzz the byte glob behind `path:` (`trove_core::query::glob_match`) against a plain
//! definitional matcher written here from the documented rules, on arbitrary bytes: it must
//! never panic, never read out of bounds, and give the same answer.
//!
//! Input: `PATTERN 0x00 SUBJECT` (no 0x00: the whole input is the pattern, the subject is
//! the pattern's own bytes). Patterns are capped at 64 bytes and subjects at 256 so the
//! reference (memoised, O(pattern × subject)) stays quick.
//!
//! The rules, from the matcher's documentation: `*` any run of bytes (slashes included);
//! `?` one character (a valid UTF-8 sequence, else one byte); `[abc]`, `[a-z]`, `[!x]`,
//! `[^x]` one byte (a `]` right after the opening `[` or `[!` is a member; an unclosed `[`
//! is a literal `[`); `\x` a literal x (a trailing `\` is a literal `\`); anything else
//! itself.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use trove_core::query::glob_match;

/// The length of the character at the start of `rest` (1 for an invalid byte).
fn char_len(rest: &[u8]) -> usize {
    for n in 1..=rest.len().min(4) {
        if let Ok(t) = std::str::from_utf8(&rest[..n]) {
            return t.chars().next().map_or(1, char::len_utf8);
        }
    }
    1
}

/// A `[` class at `p`: its members as (low, high) byte ranges, whether it is negated, and
/// the index after its `]`; `None` when it never closes.
fn parse_class(pat: &[u8], p: usize) -> Option<(Vec<(u8, u8)>, bool, usize)> {
    let mut j = p + 1;
    let negated = matches!(pat.get(j), Some(b'!' | b'^'));
    if negated {
        j += 1;
    }
    let mut members = Vec::new();
    let start = j;
    loop {
        let c = *pat.get(j)?;
        if c == b']' && j > start {
            return Some((members, negated, j + 1));
        }
        match (pat.get(j + 1), pat.get(j + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                members.push((c, hi));
                j += 3;
            }
            _ => {
                members.push((c, c));
                j += 1;
            }
        }
    }
}

struct Reference<'a> {
    pat: &'a [u8],
    s: &'a [u8],
    memo: HashMap<(usize, usize), bool>,
}

impl Reference<'_> {
    /// Whether `pat[p..]` matches `s[i..]` exactly.
    fn m(&mut self, p: usize, i: usize) -> bool {
        if let Some(&r) = self.memo.get(&(p, i)) {
            return r;
        }
        let (pat, s) = (self.pat, self.s);
        let r = if p == pat.len() {
            i == s.len()
        } else if pat[p] == b'*' {
            self.m(p + 1, i) || (i < s.len() && self.m(p, i + 1))
        } else if i == s.len() {
            false
        } else {
            match pat[p] {
                b'?' => self.m(p + 1, i + char_len(&s[i..])),
                b'[' => match parse_class(pat, p) {
                    Some((members, negated, next)) => {
                        let inside = members.iter().any(|&(lo, hi)| lo <= s[i] && s[i] <= hi);
                        inside != negated && self.m(next, i + 1)
                    }
                    None => s[i] == b'[' && self.m(p + 1, i + 1),
                },
                b'\\' if p + 1 < pat.len() => s[i] == pat[p + 1] && self.m(p + 2, i + 1),
                c => s[i] == c && self.m(p + 1, i + 1),
            }
        };
        self.memo.insert((p, i), r);
        r
    }
}

fuzz_target!(|data: &[u8]| {
    let (pat, s) = match data.iter().position(|&b| b == 0) {
        Some(cut) => (&data[..cut], &data[cut + 1..]),
        None => (data, data),
    };
    if pat.len() > 64 || s.len() > 256 {
        return;
    }
    let got = glob_match(pat, s);
    let want = Reference { pat, s, memo: HashMap::new() }.m(0, 0);
    assert_eq!(
        got,
        want,
        "pattern {:?} subject {:?}",
        String::from_utf8_lossy(pat),
        String::from_utf8_lossy(s)
    );
});
