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

    /// Where a window opening with this bound starts: a date is the start of
    /// that day in `tz` (the schedule's timezone), a date-time itself.
    pub fn start_in(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            DateOrTime::Date(d) => day_start(*d, tz),
            DateOrTime::DateTime(t) => t.to_utc(),
        }
    }

    /// The last instant of a window closing with this bound: a date is the
    /// whole of that day in `tz` (up to its last second), a date-time itself.
    pub fn end_in(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            DateOrTime::Date(d) => {
                d.succ_opt().map_or(DateTime::<Utc>::MAX_UTC, |next| day_start(next, tz) - chrono::Duration::seconds(1))
            }
            DateOrTime::DateTime(t) => t.to_utc(),
        }
    }
}

/// The first instant of a day in a timezone (a day whose midnight a DST
/// change skips starts at its first existing hour).
fn day_start(d: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    (0..24)
        .find_map(|h| d.and_hms_opt(h, 0, 0).and_then(|t| tz.from_local_datetime(&t).earliest()))
        .map_or_else(|| d.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_bound_is_a_whole_day_in_the_schedules_timezone() {
        let moscow = chrono_tz::Europe::Moscow;
        let d = DateOrTime::parse("2026-12-01").unwrap();
        assert_eq!(d.start_in(moscow).to_rfc3339(), "2026-11-30T21:00:00+00:00");
        assert_eq!(d.end_in(moscow).to_rfc3339(), "2026-12-01T20:59:59+00:00");
        let t = DateOrTime::parse("2026-12-01T10:00:00+03:00").unwrap();
        assert_eq!((t.start_in(moscow), t.end_in(moscow)), (t.start_in(chrono_tz::UTC), t.end_in(chrono_tz::UTC)));
        // Santiago skipped midnight on 2026-09-06 (clocks went from 00:00 to 01:00).
        let skipped = DateOrTime::parse("2026-09-06").unwrap();
        assert_eq!(skipped.start_in(chrono_tz::America::Santiago).to_rfc3339(), "2026-09-06T04:00:00+00:00");
        assert_eq!(DateOrTime::parse("9999-12-31").unwrap().end_in(moscow).to_rfc3339(), "9999-12-31T20:59:59+00:00");
    }

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
