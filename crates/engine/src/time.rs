//! Time maths: wall-clock and business durations, and DST-correct cron fires.
//! Pure functions of their arguments; nothing here reads a clock.
//!
//! Every instant the engine computes stays between the years 1 and 9999
//! (`smmflow_spec::time`): sums and differences saturate at those ends
//! instead of overflowing, so no value a workflow or a user controls can
//! make time maths panic. The lint below keeps it that way.
#![deny(clippy::arithmetic_side_effects)]

pub mod business;
pub mod cron;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use smmflow_spec::time::{MAX_YEAR, MIN_YEAR};

/// The first instant the product handles: 0001-01-01T00:00:00Z.
pub fn min_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

/// The last instant the product handles: 9999-12-31T23:59:59Z. A timer
/// here never comes due in practice ("never").
pub fn max_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// `t` moved into the handled range.
pub fn clamp(t: DateTime<Utc>) -> DateTime<Utc> {
    t.clamp(min_instant(), max_instant())
}

/// `t + d`, saturating at the ends of the handled range.
pub fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    match t.checked_add_signed(d) {
        Some(r) => clamp(r),
        None if d < Duration::zero() => min_instant(),
        None => max_instant(),
    }
}

/// `t - d`, saturating at the ends of the handled range.
pub fn minus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    match t.checked_sub_signed(d) {
        Some(r) => clamp(r),
        None if d < Duration::zero() => max_instant(),
        None => min_instant(),
    }
}

/// `secs` seconds as a chrono duration (saturating; chrono's range is far larger than ours).
pub fn seconds(secs: u64) -> Duration {
    Duration::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(Duration::MAX)
}

/// A local wall time as an instant: a time in a DST gap moves to the first
/// valid instant after it; a repeated (fall-back) time takes its first occurrence.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => gap_end(tz, local),
    }
}

/// For a local time inside a DST gap: the transition instant, where local
/// time resumes after the gap (e.g. 03:00 after a 02:00-03:00 gap).
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Start from a valid instant a few hours earlier and walk forward in UTC
    // minutes until local time passes the wanted wall time: the first such
    // instant is the transition. Gaps are short, so this is a few hundred steps.
    let fallback = Utc.from_utc_datetime(&local);
    let mut start = local.checked_sub_signed(Duration::hours(4)).unwrap_or(local);
    let mut found = None;
    for _ in 0..48 {
        match tz.from_local_datetime(&start) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                found = Some(t.with_timezone(&Utc));
                break;
            }
            LocalResult::None => match start.checked_sub_signed(Duration::hours(1)) {
                Some(s) => start = s,
                None => break,
            },
        }
    }
    let Some(mut instant) = found else { return fallback };
    for _ in 0..(48 * 60) {
        if instant.with_timezone(&tz).naive_local() > local {
            return instant;
        }
        match instant.checked_add_signed(Duration::minutes(1)) {
            Some(next) => instant = next,
            None => break,
        }
    }
    fallback
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, min, 0).unwrap()
    }

    #[test]
    fn gaps_move_forward_and_repeats_take_the_first() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2027-03-28: 02:00 CET -> 03:00 CEST; 02:30 does not exist.
        assert_eq!(local_to_utc(berlin, at(2027, 3, 28, 2, 30)).to_rfc3339(), "2027-03-28T01:00:00+00:00");
        // 2027-10-31: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        assert_eq!(local_to_utc(berlin, at(2027, 10, 31, 2, 30)).to_rfc3339(), "2027-10-31T00:30:00+00:00");
        assert_eq!(local_to_utc(berlin, at(2027, 6, 1, 9, 0)).to_rfc3339(), "2027-06-01T07:00:00+00:00");
    }

    #[test]
    fn sums_saturate_at_the_ends_of_the_handled_range() {
        let t = at(9999, 12, 1, 0, 0).and_utc();
        assert_eq!(plus(t, seconds(u64::MAX)), max_instant());
        assert_eq!(plus(t, Duration::days(400)), max_instant());
        assert_eq!(minus(at(2, 1, 1, 0, 0).and_utc(), Duration::days(800)), min_instant());
        assert_eq!(plus(t, Duration::days(1)).to_rfc3339(), "9999-12-02T00:00:00+00:00");
    }
}
