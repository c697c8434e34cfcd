//! Timezones, dates and date-times as written in workflow files.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};

/// Dates and times are between the years 1 and 9999 (in UTC): both
/// databases store and order them correctly, and time maths on them cannot
/// overflow. Values outside are refused where they are written.
pub const MIN_YEAR: i32 = 1;
pub const MAX_YEAR: i32 = 9999;

fn in_range(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

/// An IANA timezone name such as `Europe/Moscow`.
pub fn timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{name}` is not an IANA timezone name (e.g. Europe/Moscow, UTC)"))
}

/// `YYYY-MM-DD`.
pub fn date(text: &str) -> Result<NaiveDate, String> {
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?;
    if !in_range(d.year()) {
        return Err(format!("`{text}` is outside the years {MIN_YEAR}-{MAX_YEAR}"));
    }
    Ok(d)
}

/// RFC 3339, e.g. `2026-12-01T10:00:00+03:00`.
pub fn datetime(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let t = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| format!("`{text}` is not an RFC 3339 date-time (e.g. 2026-12-01T10:00:00Z)"))?;
    check_instant(t.with_timezone(&Utc)).map_err(|e| format!("`{text}` {e}"))?;
    Ok(t)
}

/// Refuses an instant outside the years 1-9999 (UTC).
pub fn check_instant(t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if in_range(t.year()) { Ok(t) } else { Err(format!("is outside the years {MIN_YEAR}-{MAX_YEAR} (UTC)")) }
}

/// A date or an RFC 3339 date-time (schedule windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrTime {
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
}

impl DateOrTime {
    pub fn parse(text: &str) -> Result<Self, String> {
        date(text)
            .map(DateOrTime::Date)
            .or_else(|_| datetime(text).map(DateOrTime::DateTime))
            .map_err(|_| format!("`{text}` is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_stay_within_the_years_1_to_9999() {
        assert!(date("9999-12-31").is_ok());
        assert!(date("0000-01-01").unwrap_err().contains("outside"));
        assert!(datetime("9999-12-31T20:00:00Z").is_ok());
        // The same wall time west of Greenwich is year 10000 in UTC.
        assert!(datetime("9999-12-31T20:00:00-05:00").unwrap_err().contains("outside"));
        assert!(datetime("+10000-01-01T00:00:00Z").is_err());
    }
}
