//! Time maths: wall-clock and business durations, and DST-correct cron fires.
//! Pure functions of their arguments; nothing here reads a clock.

pub mod business;
pub mod cron;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

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
    let mut start = local - Duration::hours(4);
    let mut instant = loop {
        match tz.from_local_datetime(&start) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => break t.with_timezone(&Utc),
            LocalResult::None => start -= Duration::hours(1),
        }
    };
    for _ in 0..(48 * 60) {
        if instant.with_timezone(&tz).naive_local() > local {
            return instant;
        }
        instant += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
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
}
