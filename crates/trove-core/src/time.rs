//! Calendar arithmetic on Unix seconds (UTC, proleptic Gregorian), shared by the query
//! language's dates, the metadata extractors, the importers and every printed timestamp.
//! Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for any `i64` day count
//! that fits.

/// A moment in UTC, split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year (astronomical: 0 is 1 BC).
    pub year: i64,
    /// 1–12.
    pub month: i64,
    /// 1–31.
    pub day: i64,
    /// 0–23.
    pub hour: i64,
    /// 0–59.
    pub minute: i64,
    /// 0–59.
    pub second: i64,
}

impl Utc {
    /// The calendar fields of `secs` seconds since 1970-01-01T00:00:00Z.
    pub fn from_secs(secs: i64) -> Utc {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        Utc { year, month, day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60 }
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn to_plain(&self) -> String {
        let Utc { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601 / RFC 3339).
    pub fn to_iso(&self) -> String {
        let Utc { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }
}

/// Days since 1970-01-01 of the date `y`-`m`-`d` (`m` 1–12).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) `days` days after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_convert_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(Utc::from_secs(951_782_400).to_iso(), "2000-02-29T00:00:00Z");
        assert_eq!(Utc::from_secs(-1).to_plain(), "1969-12-31 23:59:59");
        assert_eq!(Utc::from_secs(1_700_000_000).to_plain(), "2023-11-14 22:13:20");
    }

    #[test]
    fn every_day_over_eight_centuries_round_trips() {
        // 1600-01-01 .. 2400-01-01, each day once: the two functions are inverses, months and
        // days stay in range, and consecutive days are consecutive dates.
        let (start, end) = (days_from_civil(1600, 1, 1), days_from_civil(2400, 1, 1));
        let mut prev = civil_from_days(start - 1);
        for days in start..end {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{days}: {y}-{m}-{d}");
            assert_eq!(days_from_civil(y, m, d), days);
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = d == 1 && ((y, m) == (prev.0, prev.1 + 1) || (y, m) == (prev.0 + 1, 1));
            assert!(next_day || next_month, "{prev:?} then {y}-{m}-{d}");
            prev = (y, m, d);
        }
    }
}
