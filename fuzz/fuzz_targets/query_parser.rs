//! Fuzz the query parser: it must never panic or overflow its stack, and whatever it
//! accepts must print to text that parses back to the same tree (so the canonical printer is
//! total and faithful).
//!
//! Inputs are UTF-8 queries, except that an input starting with the byte `0x01` is a recipe
//! for a big one: `0x01 N_lo N_hi FRAGMENT 0x00 REST` is `FRAGMENT` repeated N (up to 65 535)
//! times, then `REST`, capped at 16 KiB (past every limit of the parser; bigger inputs only
//! slow the fuzzer down). That lets the fuzzer reach deep nesting (`((((…`, `----…`, `not not …`)
//! and huge inputs (long words, thousands of terms) that byte-level mutation would take
//! forever to grow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trove_core::query::{MAX_DEPTH, parse};

const MAX_EXPANDED: usize = 1 << 14;

fn expand(data: &[u8]) -> Option<String> {
    let text = match data {
        [1, lo, hi, rest @ ..] => {
            let cut = rest.iter().position(|&b| b == 0)?;
            let fragment = std::str::from_utf8(&rest[..cut]).ok()?;
            let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(MAX_EXPANDED / fragment.len().max(1));
            let tail = std::str::from_utf8(&rest[cut + 1..]).ok()?;
            let mut s = fragment.repeat(n);
            s.push_str(tail);
            s
        }
        _ => std::str::from_utf8(data).ok()?.to_string(),
    };
    Some(text)
}

/// Nesting of the printed text: parentheses open, and `-` that negate (approximately: any
/// unquoted `-` after a delimiter). Printing never nests deeper than the parser allows.
fn print_depth(s: &str) -> usize {
    let (mut depth, mut max, mut quoted, mut escaped, mut prev) = (0usize, 0usize, false, false, ' ');
    let mut negs = 0usize;
    for c in s.chars() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
        } else {
            match c {
                '"' => quoted = true,
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                '-' if matches!(prev, ' ' | '(' | '-' | '|') => negs += 1,
                _ => negs = 0,
            }
            max = max.max(depth + negs);
        }
        prev = c;
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Some(s) = expand(data) else { return };
    match parse(&s) {
        Ok(e) => {
            let printed = e.to_string();
            let back =
                parse(&printed).unwrap_or_else(|err| panic!("{s:?} printed as {printed:?} does not parse: {err}"));
            // Printing is stable from the first print on.
            assert_eq!(back.to_string(), printed, "{s:?}");
            assert!(print_depth(&printed) <= MAX_DEPTH + 1, "{printed:?} nests too deep");
        }
        Err(err) => {
            // Error positions always point into the input (or just past its end).
            assert!(err.position <= s.len(), "{s:?}: position {} past the end", err.position);
            let _ = err.render(&s);
        }
    }
});
