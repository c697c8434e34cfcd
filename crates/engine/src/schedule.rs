//! Schedule fire planning, pure: given a schedule, the fires already
//! handled and the time, which fires start an instance now and which are
//! skipped, and why. DST comes from `time::cron`; the policies are the
//! workflow language's `missed` (none / last / all within
//! `catch_up_window`), `starts`, `ends` and `max_runs`. Overlap needs the
//! previous run's state, so the runtime applies it to each planned start.
#![deny(clippy::arithmetic_side_effects)]

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use smmflow_spec::cron::Cron;
use smmflow_spec::schedule::Missed;

use crate::time::cron::next_fire;
use crate::time::minus;

/// A fire handled this late counts as on time; later ones were missed
/// (downtime, a pause, a dormant workspace).
pub const GRACE_SECONDS: i64 = 60;

/// How many fires one planning step looks at (a schedule every minute
/// after a year's outage does not plan half a million rows).
pub const MAX_FIRES_PER_STEP: usize = 1000;

/// What the planner needs to know about a schedule.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    pub cron: &'a Cron,
    pub timezone: Tz,
    pub missed: Missed,
    pub catch_up_window: Duration,
    pub starts: Option<DateTime<Utc>>,
    pub ends: Option<DateTime<Utc>>,
    pub max_runs: Option<u32>,
    /// Instances started so far.
    pub runs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fire {
    /// Start an instance for this fire time.
    Start(DateTime<Utc>),
    /// Record the fire as skipped, with the reason the API shows.
    Skip(DateTime<Utc>, String),
}

/// The outcome of one planning step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub fires: Vec<Fire>,
    /// When to look again (`None`: the schedule is over: `ends` or `max_runs`).
    pub next: Option<DateTime<Utc>>,
}

/// The first fire strictly after `after` inside the schedule's window.
pub fn first_after(plan: &Plan<'_>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let from = match plan.starts {
        Some(s) if s > after => minus(s, Duration::seconds(1)),
        _ => after,
    };
    next_fire(plan.cron, plan.timezone, from).filter(|t| plan.ends.is_none_or(|e| *t <= e))
}

/// Plans the fires due in `(handled_until, now]`.
pub fn plan(p: &Plan<'_>, handled_until: DateTime<Utc>, now: DateTime<Utc>) -> Step {
    let mut due = Vec::new();
    let mut t = handled_until;
    let mut truncated = false;
    loop {
        if due.len() == MAX_FIRES_PER_STEP {
            truncated = true;
            break;
        }
        match first_after(p, t) {
            Some(f) if f <= now => {
                due.push(f);
                t = f;
            }
            _ => break,
        }
    }
    let late = |f: &DateTime<Utc>| now.signed_duration_since(*f) > Duration::seconds(GRACE_SECONDS);
    let in_window = |f: &DateTime<Utc>| now.signed_duration_since(*f) <= p.catch_up_window;
    // Missed fires that may still run under the policy.
    let catchable: Vec<DateTime<Utc>> = due.iter().copied().filter(|f| late(f) && in_window(f)).collect();
    let last_missed = catchable.last().copied();
    let mut fires = Vec::new();
    let mut runs = p.runs;
    for f in due {
        let decision = if !late(&f) {
            None
        } else if !in_window(&f) {
            Some(format!("missed: more than {} before it could run (catch_up_window)", human(p.catch_up_window)))
        } else {
            match p.missed {
                Missed::None => Some("missed: the schedule does not catch up (missed: none)".to_string()),
                Missed::Last if Some(f) != last_missed => {
                    Some("missed: a later missed fire runs instead (missed: last)".to_string())
                }
                Missed::Last | Missed::All => None,
            }
        };
        match decision {
            Some(reason) => fires.push(Fire::Skip(f, reason)),
            None if p.max_runs.is_some_and(|m| runs >= m) => fires.push(Fire::Skip(f, "max_runs reached".into())),
            None => {
                runs = runs.saturating_add(1);
                fires.push(Fire::Start(f));
            }
        }
    }
    let next = if p.max_runs.is_some_and(|m| runs >= m) {
        None
    } else if truncated {
        // More are due: plan again right away from the last one looked at.
        first_after(p, t)
    } else {
        first_after(p, now)
    };
    Step { fires, next }
}

fn human(d: Duration) -> String {
    smmflow_spec::Duration::Wall(d.num_seconds().max(0) as u64).to_string()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn plan_of<'a>(cron: &'a Cron, tz: &str, missed: Missed) -> Plan<'a> {
        Plan {
            cron,
            timezone: tz.parse().unwrap(),
            missed,
            catch_up_window: Duration::days(7),
            starts: None,
            ends: None,
            max_runs: None,
            runs: 0,
        }
    }

    fn starts(step: &Step) -> Vec<String> {
        step.fires.iter().filter_map(|f| if let Fire::Start(t) = f { Some(t.to_rfc3339()) } else { None }).collect()
    }

    fn skips(step: &Step) -> usize {
        step.fires.iter().filter(|f| matches!(f, Fire::Skip(..))).count()
    }

    #[test]
    fn on_time_fires_start_and_the_next_is_planned() {
        let cron = Cron::parse("0 10 * * THU").unwrap();
        let p = plan_of(&cron, "Europe/Moscow", Missed::Last);
        // Thursday 2026-12-03 10:00 Moscow = 07:00 UTC, handled 20 s late.
        let step = plan(&p, utc("2026-12-01T00:00:00Z"), utc("2026-12-03T07:00:20Z"));
        assert_eq!(starts(&step), ["2026-12-03T07:00:00+00:00"]);
        assert_eq!(step.next, Some(utc("2026-12-10T07:00:00Z")));
    }

    #[test]
    fn a_three_day_outage_catches_up_as_configured() {
        let cron = Cron::parse("0 9 * * *").unwrap();
        let (down, back) = (utc("2026-12-01T08:00:00Z"), utc("2026-12-04T12:00:00Z"));
        let none = plan(&plan_of(&cron, "UTC", Missed::None), down, back);
        assert_eq!((starts(&none).len(), skips(&none)), (0, 4));
        let last = plan(&plan_of(&cron, "UTC", Missed::Last), down, back);
        assert_eq!(starts(&last), ["2026-12-04T09:00:00+00:00"]);
        assert_eq!(skips(&last), 3);
        let all = plan(&plan_of(&cron, "UTC", Missed::All), down, back);
        let four = [
            "2026-12-01T09:00:00+00:00",
            "2026-12-02T09:00:00+00:00",
            "2026-12-03T09:00:00+00:00",
            "2026-12-04T09:00:00+00:00",
        ];
        assert_eq!(starts(&all), four);
        // A window of 1 day keeps only what is younger than a day.
        let mut short = plan_of(&cron, "UTC", Missed::All);
        short.catch_up_window = Duration::days(1);
        let step = plan(&short, down, back);
        assert_eq!(starts(&step), ["2026-12-04T09:00:00+00:00"]);
        assert!(step.fires.iter().any(|f| matches!(f, Fire::Skip(_, r) if r.contains("catch_up_window"))));
        assert_eq!(all.next, Some(utc("2026-12-05T09:00:00Z")));
    }

    #[test]
    fn berlin_dst_edges_fire_once() {
        // Spring forward: 02:30 does not exist on 2027-03-28; fall back: 02:30 happens twice on 2027-10-31.
        let cron = Cron::parse("30 2 * * *").unwrap();
        let p = plan_of(&cron, "Europe/Berlin", Missed::All);
        let mut t = utc("2027-03-27T00:00:00Z");
        let mut fired = Vec::new();
        for _ in 0..3 {
            let next = first_after(&p, t).unwrap();
            let step = plan(&p, t, next + Duration::seconds(5));
            fired.extend(starts(&step));
            t = next;
        }
        assert_eq!(fired, ["2027-03-27T01:30:00+00:00", "2027-03-28T01:00:00+00:00", "2027-03-29T00:30:00+00:00"]);
        let step = plan(&p, utc("2027-10-30T12:00:00Z"), utc("2027-10-31T12:00:00Z"));
        assert_eq!(step.fires.len(), 1, "fall back fires once: {:?}", step.fires);
    }

    #[test]
    fn windows_and_max_runs_end_the_schedule() {
        let cron = Cron::parse("0 12 * * *").unwrap();
        let mut p = plan_of(&cron, "UTC", Missed::All);
        p.starts = Some(utc("2026-12-10T00:00:00Z"));
        p.ends = Some(utc("2026-12-12T23:59:59Z"));
        assert_eq!(first_after(&p, utc("2026-12-01T00:00:00Z")), Some(utc("2026-12-10T12:00:00Z")));
        let step = plan(&p, utc("2026-12-01T00:00:00Z"), utc("2026-12-13T00:00:00Z"));
        assert_eq!(starts(&step).len(), 3, "{:?}", step.fires);
        assert_eq!(step.next, None, "past `ends` the schedule is over");
        p.starts = None;
        p.ends = None;
        p.max_runs = Some(2);
        p.runs = 1;
        let step = plan(&p, utc("2026-12-01T00:00:00Z"), utc("2026-12-03T12:00:10Z"));
        assert_eq!(starts(&step).len(), 1);
        assert_eq!(step.next, None, "max_runs reached");
    }

    #[test]
    fn a_long_outage_is_planned_in_bounded_steps() {
        let cron = Cron::parse("* * * * *").unwrap();
        let p = plan_of(&cron, "UTC", Missed::All);
        let (down, back) = (utc("2026-12-01T00:00:00Z"), utc("2026-12-03T00:00:00Z"));
        let step = plan(&p, down, back);
        assert_eq!(step.fires.len(), MAX_FIRES_PER_STEP);
        let last = match step.fires.last() {
            Some(Fire::Start(t) | Fire::Skip(t, _)) => *t,
            None => unreachable!(),
        };
        assert_eq!(step.next, Some(last + Duration::minutes(1)), "the next step continues where this one stopped");
        assert!(step.next.unwrap() < back);
    }
}
