//! The next fire of a cron expression in an IANA timezone, DST-correct:
//!
//! - fixed wall times (the hour field is restricted): a time that does not
//!   exist (spring forward) fires at the first valid instant after it; a
//!   repeated time (fall back) fires once, at its first occurrence;
//! - schedules that run every hour (`*/15 * * * *`) follow UTC instants, so
//!   during fall back they fire in both repetitions of the hour;
//! - day-of-month and day-of-week combine with OR when both are restricted,
//!   as in crontab.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use cron::TimeUnitSpec;
use smmflow_spec::cron::Cron;

use super::local_to_utc;

/// How many days ahead a fire is looked for (covers `0 0 29 2 *`).
const HORIZON_DAYS: u32 = 366 * 9;

fn day_matches(cron: &Cron, date: NaiveDate) -> bool {
    let s = cron.schedule();
    if !s.months().includes(date.month()) || !s.years().includes(date.year() as u32) {
        return false;
    }
    let dom = s.days_of_month().includes(date.day());
    let dow = s.days_of_week().includes(date.weekday().number_from_sunday());
    if cron.days_combine_with_or() { dom || dow } else { dom && dow }
}

/// The first fire strictly after `after`, or `None` within the horizon.
pub fn next_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = cron.schedule();
    let every_hour = s.hours().count() == 24;
    let mut date = after.with_timezone(&tz).date_naive().pred_opt()?;
    for _ in 0..HORIZON_DAYS {
        if day_matches(cron, date) {
            let mut best: Option<DateTime<Utc>> = None;
            'times: for h in s.hours().iter() {
                for m in s.minutes().iter() {
                    for sec in s.seconds().iter() {
                        let Some(time) = NaiveTime::from_hms_opt(h, m, sec) else { continue };
                        let local = date.and_time(time);
                        let instants: Vec<DateTime<Utc>> = match tz.from_local_datetime(&local) {
                            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
                            LocalResult::Ambiguous(a, b) if every_hour => {
                                vec![a.with_timezone(&Utc), b.with_timezone(&Utc)]
                            }
                            LocalResult::Ambiguous(a, _) => vec![a.with_timezone(&Utc)],
                            LocalResult::None => vec![local_to_utc(tz, local)],
                        };
                        for t in instants {
                            if t > after && best.is_none_or(|b| t < b) {
                                best = Some(t);
                            }
                        }
                        // Times are ascending within a day, except around fall back;
                        // a found time earlier than the next wall hour is final.
                        if best.is_some_and(|b| b.with_timezone(&tz).naive_local() < local && !every_hour) {
                            break 'times;
                        }
                    }
                }
            }
            if best.is_some() {
                return best;
            }
        }
        date = date.succ_opt()?;
    }
    None
}

/// Every fire in `(after, until]`, oldest first, at most `limit`.
pub fn fires_between(
    cron: &Cron,
    tz: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = after;
    while out.len() < limit {
        match next_fire(cron, tz, t) {
            Some(next) if next <= until => {
                out.push(next);
                t = next;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fires(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let cron = Cron::parse(expr).unwrap();
        let tz: Tz = tz.parse().unwrap();
        let mut t = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            t = next_fire(&cron, tz, t).unwrap();
            out.push(t.with_timezone(&tz).to_rfc3339());
        }
        out
    }

    #[test]
    fn berlin_spring_forward_fires_once_at_the_first_valid_instant() {
        // 2027-03-28 02:00 CET jumps to 03:00 CEST: 02:30 does not exist.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2027-03-26T12:00:00Z", 3),
            ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]
        );
    }

    #[test]
    fn berlin_fall_back_fires_once() {
        // 2027-10-31 03:00 CEST falls back to 02:00 CET: 02:30 happens twice.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2027-10-30T12:00:00Z", 3),
            ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00", "2027-11-02T02:30:00+01:00"]
        );
    }

    #[test]
    fn new_york_transitions() {
        // 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2027-03-13T12:00:00Z", 2),
            ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"]
        );
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2027-11-06T12:00:00Z", 2),
            ["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"]
        );
    }

    #[test]
    fn minute_steps_follow_utc_instants_through_fall_back() {
        let got = fires("*/30 * * * *", "Europe/Berlin", "2027-10-30T23:45:00Z", 5);
        assert_eq!(
            got,
            [
                "2027-10-31T02:00:00+02:00",
                "2027-10-31T02:30:00+02:00",
                "2027-10-31T02:00:00+01:00",
                "2027-10-31T02:30:00+01:00",
                "2027-10-31T03:00:00+01:00"
            ]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_as_in_crontab() {
        // The 1st of the month OR every Monday.
        let got = fires("0 9 1 * MON", "UTC", "2026-12-01T10:00:00Z", 3);
        assert_eq!(got, ["2026-12-07T09:00:00+00:00", "2026-12-14T09:00:00+00:00", "2026-12-21T09:00:00+00:00"]);
        let got = fires("0 9 1 * MON", "UTC", "2026-12-28T10:00:00Z", 1);
        assert_eq!(got, ["2027-01-01T09:00:00+00:00"]);
        // Weekdays at 10:30 Moscow time.
        assert_eq!(
            fires("30 10 * * 1-5", "Europe/Moscow", "2026-12-04T07:00:00Z", 2),
            ["2026-12-04T10:30:00+03:00", "2026-12-07T10:30:00+03:00"]
        );
    }

    #[test]
    fn rare_dates_and_windows() {
        assert_eq!(fires("0 0 29 2 *", "UTC", "2027-01-01T00:00:00Z", 1), ["2028-02-29T00:00:00+00:00"]);
        let cron = Cron::parse("0 * * * *").unwrap();
        let all = fires_between(&cron, chrono_tz::UTC, utc("2026-12-01T00:00:00Z"), utc("2026-12-04T00:00:00Z"), 1000);
        assert_eq!(all.len(), 72);
        assert_eq!(
            fires_between(&cron, chrono_tz::UTC, utc("2026-12-01T00:00:00Z"), utc("2026-12-04T00:00:00Z"), 5).len(),
            5
        );
    }
}
