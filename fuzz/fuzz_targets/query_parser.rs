//! Fuzz the query parser: it must never panic, and whatever it accepts must print to text
//! that parses back to the same tree (so the canonical printer is total and faithful).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trove_core::query::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(e) = parse(s) {
        let printed = e.to_string();
        let back = parse(&printed).unwrap_or_else(|err| panic!("{s:?} printed as {printed:?} does not parse: {err}"));
        // Printing is stable from the first print on.
        assert_eq!(back.to_string(), printed, "{s:?}");
    }
    if let Err(err) = parse(s) {
        // Error positions always point into the input (or just past its end).
        assert!(err.position <= s.len(), "{s:?}: position {} past the end", err.position);
        let _ = err.render(s);
    }
});
