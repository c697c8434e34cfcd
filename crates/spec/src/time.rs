//! Timezones, dates and date-times as written in workflow files.

use chrono::{DateTime, FixedOffset, NaiveDate};

/// An IANA timezone name such as `Europe/Moscow`.
pub fn timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{name}` is not an IANA timezone name (e.g. Europe/Moscow, UTC)"))
}

/// `YYYY-MM-DD`.
pub fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
}

/// RFC 3339, e.g. `2026-12-01T10:00:00+03:00`.
pub fn datetime(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| format!("`{text}` is not an RFC 3339 date-time (e.g. 2026-12-01T10:00:00Z)"))
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
