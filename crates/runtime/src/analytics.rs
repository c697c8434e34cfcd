//! Analytics: who holds work up, cycle times, load, rejection reasons and
//! due-time keeping, from the task rows (written with every commit, so
//! always current) and the calendars. Durations are business seconds: open
//! hours of the calendar the task's instance counts in.
//!
//! Why computed at read time from the task rows and not from stored
//! rollups: the rows are the rollup of the event log (one per task, with
//! its created, claimed, completed and due times, party and reasons), a
//! period reads only its own rows through an index, and business time then
//! follows the calendar as deployed (a holiday added later counts). The
//! bench measures it at 1,000,000 events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Utc};
use smmflow_engine::time::business::open_seconds;
use smmflow_spec::Calendar;
use smmflow_store::{FactFilter, TaskFact};

use crate::Result;
use crate::access::Session;

/// Which work to look at.
#[derive(Clone, Debug)]
pub struct AnalyticsFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub workspace: Option<String>,
    pub workflow: Option<String>,
}

/// p50, p90 and mean of a set of durations (seconds); none when empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub mean: Option<f64>,
}

impl Spread {
    /// Nearest-rank percentiles (an observed value, never interpolated).
    pub fn of(mut v: Vec<i64>) -> Spread {
        if v.is_empty() {
            return Spread::default();
        }
        v.sort_unstable();
        let rank = |p: f64| {
            let n = v.len() as f64;
            let i = ((p * n).ceil() as usize).clamp(1, v.len()) - 1;
            v[i] as f64
        };
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64;
        Spread { p50: Some(rank(0.5)), p90: Some(rank(0.9)), mean: Some(mean) }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStats {
    pub workflow: String,
    pub step: String,
    pub role: Option<String>,
    /// Tasks of the step done (completed, approved, rejected or expired) in the period.
    pub count: u64,
    /// From ready (the task's creation) to done.
    pub cycle: Spread,
    /// From ready to first taken.
    pub wait: Spread,
    /// Of the done tasks that had a due time, the share done by it.
    pub on_time_rate: Option<f64>,
    /// The share of the done tasks that were rework (round 2 or later).
    pub rework_rate: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyStats {
    pub party: String,
    pub waiting_seconds: f64,
    pub share: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleLoad {
    pub workspace: String,
    pub role: String,
    pub open: u64,
    pub overdue: u64,
    pub due_this_week: u64,
    pub completed: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonLoad {
    pub user: String,
    pub open: u64,
    pub overdue: u64,
    pub completed: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sla {
    pub due: u64,
    pub met: u64,
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    pub steps: Vec<StepStats>,
    pub parties: Vec<PartyStats>,
    pub load: Vec<RoleLoad>,
    pub people: Vec<PersonLoad>,
    pub rejections: Vec<ReasonCount>,
    pub sla: Sla,
}

/// A rejection that named no reason is counted under this word.
pub const UNSTATED: &str = "unstated";

fn done(status: &str) -> bool {
    matches!(status, "completed" | "approved" | "rejected" | "expired")
}

fn active(status: &str) -> bool {
    matches!(status, "open" | "claimed")
}

/// The figures of a period from its task facts. `calendars` holds every
/// calendar the facts name (a missing one counts in the default calendar).
pub fn compute(
    facts: &[TaskFact],
    calendars: &HashMap<String, Arc<Calendar>>,
    f: &AnalyticsFilter,
    now: DateTime<Utc>,
) -> Analytics {
    let default = Calendar::default_business();
    let cal = |t: &TaskFact| -> &Calendar {
        t.calendar.as_ref().and_then(|k| calendars.get(k)).map_or(&default, |c| c.as_ref())
    };
    let in_period = |at: Option<DateTime<Utc>>| at.is_some_and(|a| a >= f.from && a < f.to);
    // Each done task once: its cycle and wait in business seconds.
    struct Done<'f> {
        t: &'f TaskFact,
        cycle: i64,
        wait: Option<i64>,
    }
    let finished: Vec<Done<'_>> = facts
        .iter()
        .filter(|t| done(&t.status) && in_period(t.completed_at))
        .filter_map(|t| {
            let c = cal(t);
            let end = t.completed_at?;
            Some(Done {
                t,
                cycle: open_seconds(t.created_at, end, c),
                wait: t.claimed_at.map(|x| open_seconds(t.created_at, x, c)),
            })
        })
        .collect();

    // Steps.
    let mut groups: BTreeMap<(&str, &str, Option<&str>), Vec<&Done<'_>>> = BTreeMap::new();
    for d in &finished {
        groups.entry((d.t.workflow.as_str(), d.t.step.as_str(), d.t.role.as_deref())).or_default().push(d);
    }
    let steps = groups
        .into_iter()
        .map(|((workflow, step, role), ds)| {
            let with_due = ds.iter().filter(|d| d.t.due_at.is_some()).count();
            let on_time = ds.iter().filter(|d| d.t.due_at.is_some() && d.t.completed_at <= d.t.due_at).count();
            let rework = ds.iter().filter(|d| d.t.round > 1).count();
            StepStats {
                workflow: workflow.to_string(),
                step: step.to_string(),
                role: role.map(str::to_string),
                count: ds.len() as u64,
                cycle: Spread::of(ds.iter().map(|d| d.cycle).collect()),
                wait: Spread::of(ds.iter().filter_map(|d| d.wait).collect()),
                on_time_rate: (with_due > 0).then(|| on_time as f64 / with_due as f64),
                rework_rate: rework as f64 / ds.len() as f64,
            }
        })
        .collect();

    // Parties: the business time done tasks were open, by whose side they were on.
    let mut by_party: BTreeMap<&str, i64> = BTreeMap::new();
    for d in &finished {
        *by_party.entry(d.t.party.as_str()).or_default() += d.cycle;
    }
    let total: i64 = by_party.values().sum();
    let parties = by_party
        .into_iter()
        .map(|(party, secs)| PartyStats {
            party: party.to_string(),
            waiting_seconds: secs as f64,
            share: if total > 0 { secs as f64 / total as f64 } else { 0.0 },
        })
        .collect();

    // Load, now: open work per workspace and role, and per person.
    let week_end = end_of_week(now);
    let mut load: BTreeMap<(String, String), RoleLoad> = BTreeMap::new();
    let mut people: BTreeMap<String, PersonLoad> = BTreeMap::new();
    for t in facts {
        let is_open = active(&t.status);
        let overdue = is_open && t.due_at.is_some_and(|d| d < now);
        let finished_here = done(&t.status) && in_period(t.completed_at);
        if !is_open && !finished_here {
            continue;
        }
        if let Some(role) = &t.role {
            let l = load.entry((t.workspace.clone(), role.clone())).or_insert_with(|| RoleLoad {
                workspace: t.workspace.clone(),
                role: role.clone(),
                open: 0,
                overdue: 0,
                due_this_week: 0,
                completed: 0,
            });
            l.open += u64::from(is_open);
            l.overdue += u64::from(overdue);
            l.due_this_week += u64::from(is_open && t.due_at.is_some_and(|d| d >= now && d < week_end));
            l.completed += u64::from(finished_here);
        }
        let who = if is_open { t.assignee.clone() } else { t.assignee.clone().filter(|a| a != "system") };
        if let Some(user) = who {
            let p =
                people.entry(user.clone()).or_insert_with(|| PersonLoad { user, open: 0, overdue: 0, completed: 0 });
            p.open += u64::from(is_open);
            p.overdue += u64::from(overdue);
            p.completed += u64::from(finished_here);
        }
    }

    // Rejection reasons.
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for t in finished.iter().map(|d| d.t).filter(|t| t.status == "rejected") {
        if t.reasons.is_empty() {
            *reasons.entry(UNSTATED.into()).or_default() += 1;
        }
        for r in &t.reasons {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    let mut rejections: Vec<ReasonCount> =
        reasons.into_iter().map(|(reason, count)| ReasonCount { reason, count }).collect();
    rejections.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));

    // Due times that fell in the period: kept when done by then.
    let mut sla = Sla::default();
    for t in facts.iter().filter(|t| in_period(t.due_at) && (done(&t.status) || active(&t.status))) {
        let Some(due) = t.due_at else { continue };
        if active(&t.status) && due >= now {
            continue; // not due yet: neither kept nor missed
        }
        sla.due += 1;
        sla.met += u64::from(done(&t.status) && t.completed_at.is_some_and(|c| c <= due));
    }
    sla.rate = (sla.due > 0).then(|| sla.met as f64 / sla.due as f64);

    Analytics {
        steps,
        parties,
        load: load.into_values().collect(),
        people: people.into_values().collect(),
        rejections,
        sla,
    }
}

/// Monday 00:00 UTC after `now`: "this week" for `dueThisWeek`.
fn end_of_week(now: DateTime<Utc>) -> DateTime<Utc> {
    let days = 7 - i64::from(now.weekday().num_days_from_monday());
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |d| d.and_utc());
    midnight + Duration::days(days)
}

impl Session {
    /// The figures of a period, over the workspaces the viewer is a member
    /// of (all for admins); a workspace the viewer is not in has none.
    pub async fn analytics(&self, f: AnalyticsFilter) -> Result<Analytics> {
        Ok(self.analytics_by_week(f, 0).await?.0)
    }

    /// The figures of a period and, from one read of its tasks, of each of
    /// its first `max_weeks` weeks (7 days from `from`; the last one cut at `to`).
    pub async fn analytics_by_week(
        &self,
        f: AnalyticsFilter,
        max_weeks: usize,
    ) -> Result<(Analytics, Vec<(DateTime<Utc>, Analytics)>)> {
        let viewer = self.viewer()?;
        let workspaces = match (&f.workspace, viewer.visible()) {
            (Some(w), _) if !viewer.is_member(w) => return Ok((Analytics::default(), Vec::new())),
            (Some(w), _) => Some(vec![w.clone()]),
            (None, visible) => visible,
        };
        if f.to <= f.from {
            return Err(crate::Error::BadInput("`to` must be after `from`".into()));
        }
        let rt = self.runtime();
        let filter = FactFilter { from: f.from, to: f.to, workspaces, workflow: f.workflow.clone() };
        let facts = rt.store.task_facts(&filter).await?;
        let mut keys: Vec<String> = facts.iter().filter_map(|t| t.calendar.clone()).collect();
        keys.sort_unstable();
        keys.dedup();
        let tx = rt.store.begin_read().await?;
        let mut calendars = HashMap::new();
        for k in keys {
            let c = rt.defs.calendar(&tx, Some(&k)).await?;
            calendars.insert(k, c);
        }
        drop(tx);
        let now = rt.now();
        // Every task a week's figures read is among the period's (done or
        // due within it, or open now), so one read serves them all.
        let mut weeks = Vec::new();
        let mut start = f.from;
        while start < f.to && weeks.len() < max_weeks {
            let end = (start + Duration::days(7)).min(f.to);
            let week = AnalyticsFilter { from: start, to: end, ..f.clone() };
            weeks.push((start, compute(&facts, &calendars, &week, now)));
            start = end;
        }
        Ok((compute(&facts, &calendars, &f, now), weeks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_observed_values() {
        let s = Spread::of(vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!((s.p50, s.p90, s.mean), (Some(50.0), Some(90.0), Some(55.0)));
        assert_eq!(Spread::of(vec![7]).p90, Some(7.0));
        assert_eq!(Spread::of(vec![]), Spread::default());
    }
}
