//! The values the query language reads besides tag names: sizes (`10M`), durations and
//! ages (`30d`), and calendar dates (`2024-01-31`, `2024-01-31T12:00`). Each parser returns
//! `None` for text that is not such a value; the caller makes the error, which knows where
//! in the query the text was.

use super::ast::Duration;

/// `10M` → 10 MiB. Units are powers of 1024; `b` or no unit means bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mult: u64 = match unit.to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    if num.contains('.') {
        let f: f64 = num.parse().ok()?;
        let v = f * mult as f64;
        (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
    } else {
        num.parse::<u64>().ok()?.checked_mul(mult)
    }
}

/// `30d`, `12h`, `2w`, `90s`, `10m` (minutes), `1y` → a [`Duration`].
pub fn parse_duration(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    if !matches!(unit, 's' | 'm' | 'h' | 'd' | 'w' | 'y') {
        return None;
    }
    let amount: u64 = s[..s.len() - 1].parse().ok()?;
    Some(Duration { amount, unit })
}

/// Text shaped like a date (`DDDD-DD-DD...`), valid or not: an invalid one gets a message
/// about the calendar rather than about the syntax.
pub(crate) fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| b[i].is_ascii_digit())
}

/// 28 to 31: the Gregorian calendar's length of month `m` (1–12) in year `y`.
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) use crate::time::days_from_civil;

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (UTC) → seconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if b.len() > 10 {
        if !(b[10] == b'T' || b[10] == b' ') || b.len() < 16 || b[13] != b':' {
            return None;
        }
        let (h, mi) = (num(11..13)?, num(14..16)?);
        let sec = if b.len() > 16 {
            if b[16] != b':' || b.len() != 19 {
                return None;
            }
            num(17..19)?
        } else {
            0
        };
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + sec;
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29) * 86_400));
        for bad in ["2024-02-30", "2024-02-31", "2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert!(parse_date("2000-02-29").is_some(), "2000 is a leap year");
        assert!(parse_date("2024-12-31T23:59:60").is_some(), "a leap second is a valid time");
        assert_eq!(parse_date("2024-01-31T24:00"), None);
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("10M"), Some(10 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("10x"), None);
        assert_eq!(parse_duration("30d").map(Duration::seconds), Some(30 * 86_400));
        assert_eq!(parse_duration("30"), None);
    }
}
