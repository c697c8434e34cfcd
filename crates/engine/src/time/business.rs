//! Business time: durations counted in a calendar's open hours.
//!
//! - `N business hours` consume open minutes; closing time is a valid due time
//!   (16:00 + 2 business hours on a day closing at 18:00 is 18:00 that day).
//! - `N business days` land on the same local time N open days later.
//! - A start outside open hours counts from the next opening.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use smmflow_spec::{Calendar, Duration};

use super::{clamp, local_to_utc, max_instant, minus, plus, seconds};

/// How far ahead an open moment is looked for before giving up: beyond the
/// longest business duration the language accepts (2,500 business days).
const MAX_DAYS: i64 = 10 * 366;

/// `start + d`, in wall-clock time or in the calendar's open hours.
/// Saturates at the end of the handled range; a calendar with no open hours
/// leaves `start` as it is.
pub fn add(start: DateTime<Utc>, d: Duration, cal: &Calendar) -> DateTime<Utc> {
    clamp(match d {
        Duration::Wall(secs) => plus(start, seconds(secs)),
        Duration::BusinessHours(h) => add_open_minutes(start, i64::from(h).saturating_mul(60), cal),
        Duration::BusinessDays(n) => add_open_days(start, n, cal),
    })
}

/// `start - d` for reminders before a due time; business time counts back through open hours.
pub fn sub(end: DateTime<Utc>, d: Duration, cal: &Calendar) -> DateTime<Utc> {
    clamp(match d {
        Duration::Wall(secs) => minus(end, seconds(secs)),
        Duration::BusinessHours(h) => sub_open_minutes(end, i64::from(h).saturating_mul(60), cal),
        Duration::BusinessDays(n) => sub_open_minutes(end, i64::from(n).saturating_mul(open_minutes_per_day(cal)), cal),
    })
}

fn open_minutes_per_day(cal: &Calendar) -> i64 {
    let week: i64 =
        cal.hours.iter().flatten().map(|(a, b)| i64::from(b.saturating_sub(*a))).fold(0, i64::saturating_add);
    let days = i64::try_from(cal.hours.iter().filter(|d| !d.is_empty()).count()).unwrap_or(1).max(1);
    week.checked_div(days).unwrap_or(0).max(1)
}

/// Local midnight after `date` (the end of an interval that runs to 24:00).
fn end_of(date: NaiveDate) -> NaiveDateTime {
    date.succ_opt().map_or(NaiveDateTime::MAX, |d| d.and_time(NaiveTime::MIN))
}

/// Open intervals of a local date, as local date-times (none on holidays).
fn intervals(cal: &Calendar, date: NaiveDate) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    if cal.is_holiday(date) {
        return Vec::new();
    }
    let at = |minutes: u16| -> NaiveDateTime {
        if minutes >= 24 * 60 {
            end_of(date)
        } else {
            date.and_time(
                NaiveTime::from_hms_opt(u32::from(minutes / 60), u32::from(minutes % 60), 0).unwrap_or(NaiveTime::MIN),
            )
        }
    };
    cal.day(date.weekday()).iter().map(|(a, b)| (at(*a), at(*b))).collect()
}

/// The first open local moment at or after `local` (an interval's end is not open).
fn next_open(cal: &Calendar, local: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut date = local.date();
    for _ in 0..MAX_DAYS {
        for (a, b) in intervals(cal, date) {
            if local < b {
                return Some(local.max(a));
            }
        }
        date = date.succ_opt()?;
    }
    None
}

fn minutes_between(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    to.signed_duration_since(from).num_minutes()
}

fn add_open_minutes(start: DateTime<Utc>, mut minutes: i64, cal: &Calendar) -> DateTime<Utc> {
    let tz = cal.timezone;
    let Some(mut local) = next_open(cal, start.with_timezone(&tz).naive_local()) else { return start };
    let mut date = local.date();
    for _ in 0..MAX_DAYS {
        for (a, b) in intervals(cal, date) {
            if b <= local {
                continue;
            }
            let from = local.max(a);
            let available = minutes_between(from, b);
            if minutes <= available {
                return from
                    .checked_add_signed(ChronoDuration::minutes(minutes))
                    .map_or_else(max_instant, |t| local_to_utc(tz, t));
            }
            minutes = minutes.saturating_sub(available);
            local = b;
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
        local = local.max(date.and_time(NaiveTime::MIN));
    }
    // Open hours exist but too few to count this far: it never comes.
    max_instant()
}

fn sub_open_minutes(end: DateTime<Utc>, mut minutes: i64, cal: &Calendar) -> DateTime<Utc> {
    let tz = cal.timezone;
    let mut local = end.with_timezone(&tz).naive_local();
    let mut date = local.date();
    for _ in 0..MAX_DAYS {
        for (a, b) in intervals(cal, date).into_iter().rev() {
            if a >= local {
                continue;
            }
            let to = local.min(b);
            let available = minutes_between(a, to);
            if minutes <= available {
                return to.checked_sub_signed(ChronoDuration::minutes(minutes)).map_or(end, |t| local_to_utc(tz, t));
            }
            minutes = minutes.saturating_sub(available);
            local = a;
        }
        let Some(prev) = date.pred_opt() else { break };
        date = prev;
        local = local.min(end_of(date));
    }
    end
}

fn add_open_days(start: DateTime<Utc>, days: u32, cal: &Calendar) -> DateTime<Utc> {
    let tz = cal.timezone;
    let Some(from) = next_open(cal, start.with_timezone(&tz).naive_local()) else { return start };
    let mut date = from.date();
    let mut left = days;
    for _ in 0..MAX_DAYS {
        if left == 0 {
            break;
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
        if !intervals(cal, date).is_empty() {
            left = left.saturating_sub(1);
        }
    }
    if left > 0 {
        return max_instant();
    }
    let wanted = date.and_time(from.time());
    // On a day with other hours, the same time may be closed: take the next opening.
    let landed = next_open(cal, wanted).unwrap_or(wanted);
    let landed = if intervals(cal, date).iter().any(|(_, b)| *b == wanted) { wanted } else { landed };
    local_to_utc(tz, landed)
}

/// Open seconds of the calendar between `from` and `to` (0 when `to` is not
/// after `from`): the business time a task waited. Local times are compared
/// as the calendar's wall clock, so a DST change inside an open interval
/// counts as that interval's written length.
pub fn open_seconds(from: DateTime<Utc>, to: DateTime<Utc>, cal: &Calendar) -> i64 {
    if to <= from {
        return 0;
    }
    let tz = cal.timezone;
    let (start, end) = (from.with_timezone(&tz).naive_local(), to.with_timezone(&tz).naive_local());
    let mut total: i64 = 0;
    let mut date = start.date();
    for _ in 0..MAX_DAYS {
        if date > end.date() {
            break;
        }
        for (a, b) in intervals(cal, date) {
            let (lo, hi) = (a.max(start), b.min(end));
            if hi > lo {
                total = total.saturating_add(hi.signed_duration_since(lo).num_seconds());
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    total
}

/// `start` plus `secs` seconds of open hours (rounded up to whole minutes).
pub fn add_open_seconds(start: DateTime<Utc>, secs: i64, cal: &Calendar) -> DateTime<Utc> {
    if secs <= 0 {
        return start;
    }
    clamp(add_open_minutes(start, secs.saturating_add(59) / 60, cal))
}

/// True when the instant falls inside open hours.
pub fn is_open(at: DateTime<Utc>, cal: &Calendar) -> bool {
    let local = at.with_timezone(&cal.timezone).naive_local();
    intervals(cal, local.date()).iter().any(|(a, b)| *a <= local && local < *b)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn open_seconds_count_only_open_hours_across_a_weekend() {
        let cal = agency();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Friday 17:30 Moscow to Monday 10:30 Moscow: 1 h on Friday, 1 h on Monday.
        assert_eq!(open_seconds(at("2026-12-04T14:30:00Z"), at("2026-12-07T07:30:00Z"), &cal), 7200);
        // Inside one day, and backwards.
        assert_eq!(open_seconds(at("2026-12-07T07:00:00Z"), at("2026-12-07T08:00:00Z"), &cal), 3600);
        assert_eq!(open_seconds(at("2026-12-07T08:00:00Z"), at("2026-12-07T07:00:00Z"), &cal), 0);
        // Added business hours come back as open seconds.
        let start = at("2026-12-04T13:00:00Z");
        let end = add(start, Duration::BusinessHours(5), &cal);
        assert_eq!(open_seconds(start, end, &cal), 5 * 3600);
    }

    fn agency() -> Calendar {
        let mut c = Calendar::default_business();
        c.timezone = "Europe/Moscow".parse().unwrap();
        let day = vec![(9 * 60 + 30, 18 * 60 + 30)];
        c.hours = [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()];
        c.holidays = vec![NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()];
        c
    }

    /// Moscow is UTC+3 all year.
    #[allow(clippy::arithmetic_side_effects)]
    fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap() - ChronoDuration::hours(3)
    }

    fn check(start: DateTime<Utc>, d: &str, expect: DateTime<Utc>) {
        let got = add(start, Duration::parse(d).unwrap(), &agency());
        assert_eq!(got, expect, "{start} + {d}");
    }

    #[test]
    fn business_hours_count_only_open_time() {
        // Wed 2026-12-02 16:30 + 2 business hours = 18:30 the same day (closing time is valid).
        check(msk(2026, 12, 2, 16, 30), "2 business hours", msk(2026, 12, 2, 18, 30));
        // Wed 17:30 + 2 business hours: 1h today, 1h tomorrow from 09:30.
        check(msk(2026, 12, 2, 17, 30), "2 business hours", msk(2026, 12, 3, 10, 30));
        // Friday 17:00 + 4 business hours crosses the weekend.
        check(msk(2026, 12, 4, 17, 0), "4 business hours", msk(2026, 12, 7, 12, 0));
        // Saturday counts from Monday's opening.
        check(msk(2026, 12, 5, 11, 0), "3 business hours", msk(2026, 12, 7, 12, 30));
        // 2027-01-01 is a holiday (a Friday): Thursday 18:00 + 1h lands on Monday.
        check(msk(2026, 12, 31, 18, 0), "1 business hour", msk(2027, 1, 4, 10, 0));
        // Wall-clock durations ignore the calendar.
        check(msk(2026, 12, 5, 11, 0), "1d", msk(2026, 12, 6, 11, 0));
    }

    #[test]
    fn business_days_keep_the_time_of_day() {
        check(msk(2026, 12, 2, 16, 0), "2 business days", msk(2026, 12, 4, 16, 0));
        check(msk(2026, 12, 4, 16, 0), "1 business day", msk(2026, 12, 7, 16, 0));
        // From Saturday: count from Monday 09:30.
        check(msk(2026, 12, 5, 11, 0), "1 business day", msk(2026, 12, 8, 9, 30));
    }

    #[test]
    fn reminders_count_back_through_open_hours() {
        let cal = agency();
        // Due Monday 10:30; 2 business hours earlier is Friday 17:30.
        let got = sub(msk(2026, 12, 7, 10, 30), Duration::BusinessHours(2), &cal);
        assert_eq!(got, msk(2026, 12, 4, 17, 30));
        assert!(is_open(msk(2026, 12, 7, 10, 30), &cal));
        assert!(!is_open(msk(2026, 12, 5, 10, 30), &cal));
    }

    #[test]
    fn a_calendar_with_no_open_hours_does_not_loop_forever() {
        let mut cal = agency();
        cal.hours = Default::default();
        let start = msk(2026, 12, 2, 10, 0);
        assert_eq!(add(start, Duration::BusinessHours(1), &cal), start);
    }

    #[test]
    fn the_largest_durations_near_the_end_of_time_saturate() {
        let cal = agency();
        let late = Utc.with_ymd_and_hms(9999, 12, 30, 10, 0, 0).unwrap();
        for d in ["3650d", "10000 business hours", "2500 business days"] {
            let d = Duration::parse(d).unwrap();
            assert_eq!(add(late, d, &cal), max_instant(), "{d}");
            assert!(sub(late, d, &cal) <= late, "{d}");
        }
        let early = Utc.with_ymd_and_hms(1, 1, 2, 10, 0, 0).unwrap();
        assert_eq!(sub(early, Duration::parse("3650d").unwrap(), &cal), crate::time::min_instant());
    }
}
