//! Forecasts: when an instance's steps will be done, from the workflow's own
//! history in the instance's workspace (business time on its calendar) and
//! the open work per role now.
//!
//! Each step that is not done yet takes its history's p50 (for the expected
//! time) or p90 (for the slow one), counted in open hours from when it can
//! start: now for a ready step, the latest finish of what it comes after
//! otherwise. A ready step already open longer than that is expected to take
//! as long again as its history's p90 exceeds its p50 (it is late, and late
//! work runs late). A step not started yet is stretched by its role's
//! queue: open tasks per member above one. Without history, a step's `due`
//! is the estimate (none: no time). A publication is ready when every step
//! before its first `wait` is done; it is at risk when that is after its time.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use smmflow_engine::time::business::{add, add_open_seconds, open_seconds};
use smmflow_engine::{Instance, StepStatus};
use smmflow_spec::step::{Step, StepKind};
use smmflow_spec::{Calendar, Workflow};
use smmflow_store::FactFilter;
use uuid::Uuid;

use crate::Result;
use crate::access::Session;
use crate::analytics::Spread;

/// How far back the history reaches.
const HISTORY_DAYS: i64 = 180;

#[derive(Clone, Debug, PartialEq)]
pub struct StepForecast {
    pub step: String,
    pub expected_done_at: DateTime<Utc>,
    pub p90_done_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    pub expected_completion: DateTime<Utc>,
    pub p90_completion: DateTime<Utc>,
    /// The role with the most expected time left on the not-done steps.
    pub bottleneck_role: Option<String>,
    pub steps: Vec<StepForecast>,
    /// When every step before the first `wait` is expected done (a publication's "ready").
    pub expected_ready_at: DateTime<Utc>,
}

/// What the forecast knows besides the instance.
pub struct Inputs<'a> {
    /// Business seconds each step took, per step id, in the workspace's history.
    pub history: &'a HashMap<String, Spread>,
    /// Open tasks per role in the workspace now, and members per role.
    pub open_by_role: &'a HashMap<String, (u64, u64)>,
    pub calendar: &'a Calendar,
    pub now: DateTime<Utc>,
}

/// What a step still needs beyond `elapsed`, for a target duration `p`.
fn remaining(elapsed: i64, p: i64, spread: i64) -> i64 {
    if elapsed < p { p - elapsed } else { spread.max(0) }
}

struct Walk<'a> {
    wf: &'a Workflow,
    state: &'a Instance,
    inp: &'a Inputs<'a>,
    memo: HashMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    left: HashMap<String, i64>,
}

impl Walk<'_> {
    fn role(step: &Step) -> Option<String> {
        match &step.kind {
            StepKind::Task(t) => Some(t.role.value.clone()),
            StepKind::Approval(a) => a.levels.first().map(|l| l.role.value.clone()),
            _ => None,
        }
    }

    /// Typical and slow durations of a step (business seconds).
    fn durations(&self, step: &Step, from: DateTime<Utc>) -> (i64, i64) {
        if let Some(s) = self.inp.history.get(&step.id.value)
            && let (Some(p50), Some(p90)) = (s.p50, s.p90)
        {
            return (p50 as i64, p90 as i64);
        }
        match &step.common.due {
            Some(d) if matches!(step.kind, StepKind::Task(_) | StepKind::Approval(_)) => {
                let secs = open_seconds(from, add(from, d.value, self.inp.calendar), self.inp.calendar);
                (secs, secs)
            }
            _ => (0, 0),
        }
    }

    fn queue_factor(&self, step: &Step) -> f64 {
        let Some(role) = Self::role(step) else { return 1.0 };
        match self.inp.open_by_role.get(&role) {
            Some((open, members)) if *members > 0 => (*open as f64 / *members as f64).max(1.0),
            _ => 1.0,
        }
    }

    fn done_at(&mut self, id: &str, depth: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        if let Some(v) = self.memo.get(id) {
            return *v;
        }
        let now = self.inp.now;
        let (Some(step), Some(st)) = (self.wf.step(id), self.state.step(id)) else { return (now, now) };
        let cal = self.inp.calendar;
        let result = match st.status {
            StepStatus::Done | StepStatus::Skipped | StepStatus::Failed => {
                let t = st.completed_at.unwrap_or(now);
                (t, t)
            }
            StepStatus::Ready => {
                if let StepKind::Wait(_) = step.kind {
                    let t = st.not_before.unwrap_or(now).max(now);
                    (t, t)
                } else {
                    let since = self
                        .state
                        .tasks
                        .iter()
                        .filter(|t| t.step == id && t.status.is_active())
                        .map(|t| t.created_at)
                        .min()
                        .or(st.ready_at)
                        .unwrap_or(now);
                    let elapsed = open_seconds(since, now, cal);
                    let (p50, p90) = self.durations(step, since);
                    let (r50, r90) = (remaining(elapsed, p50, p90 - p50), remaining(elapsed, p90, p90 - p50));
                    self.note(step, r50);
                    (add_open_seconds(now, r50, cal), add_open_seconds(now, r90, cal))
                }
            }
            StepStatus::Waiting => {
                let mut start = (now, now);
                if depth < 10_000 {
                    for a in &step.common.after {
                        let (e, s) = self.done_at(&a.value, depth + 1);
                        start = (start.0.max(e), start.1.max(s));
                    }
                }
                if let Some(d) = step.common.start.as_ref().and_then(|s| s.after.as_ref()) {
                    start = (add(start.0, d.value, cal), add(start.1, d.value, cal));
                }
                if let StepKind::Wait(w) = &step.kind {
                    // A wait lasts its duration, or until its moment when
                    // that can be read already (e.g. `inputs.publish_at`).
                    let until = w.until.as_ref().and_then(|u| {
                        let scope = smmflow_engine::eval::scope(self.state, now, None);
                        smmflow_engine::eval::expr(&u.source, &scope)
                            .and_then(|v| smmflow_engine::eval::datetime(&v))
                            .ok()
                    });
                    let last = |t: DateTime<Utc>| {
                        let t = w.duration.as_ref().map_or(t, |d| add(t, d.value, cal));
                        until.map_or(t, |u| t.max(u))
                    };
                    (last(start.0), last(start.1))
                } else {
                    let (p50, p90) = self.durations(step, start.0);
                    let q = self.queue_factor(step);
                    let (d50, d90) = ((p50 as f64 * q) as i64, (p90 as f64 * q) as i64);
                    self.note(step, d50);
                    (add_open_seconds(start.0, d50, cal), add_open_seconds(start.1, d90, cal))
                }
            }
        };
        self.memo.insert(id.to_string(), result);
        result
    }

    fn note(&mut self, step: &Step, secs: i64) {
        if let Some(role) = Self::role(step) {
            *self.left.entry(role).or_default() += secs;
        }
    }
}

/// The forecast of one instance (pure).
pub fn compute(wf: &Workflow, state: &Instance, inp: &Inputs<'_>) -> Forecast {
    let mut w = Walk { wf, state, inp, memo: HashMap::new(), left: HashMap::new() };
    let mut steps = Vec::new();
    for s in &wf.steps {
        let (e, p) = w.done_at(&s.id.value, 0);
        steps.push(StepForecast { step: s.id.value.clone(), expected_done_at: e, p90_done_at: p });
    }
    let expected_completion = steps.iter().map(|s| s.expected_done_at).max().unwrap_or(inp.now);
    let p90_completion = steps.iter().map(|s| s.p90_done_at).max().unwrap_or(inp.now);
    // Ready: every step before the first wait (and not downstream of one).
    let waits: Vec<&str> =
        wf.steps.iter().filter(|s| matches!(s.kind, StepKind::Wait(_))).map(|s| s.id.value.as_str()).collect();
    let expected_ready_at = wf
        .steps
        .iter()
        .filter(|s| !matches!(s.kind, StepKind::Wait(_)))
        .filter(|s| !waits.iter().any(|wt| upstream(wf, &s.id.value, wt)))
        .filter_map(|s| steps.iter().find(|f| f.step == s.id.value).map(|f| f.expected_done_at))
        .max()
        .unwrap_or(inp.now);
    let bottleneck_role = w
        .left
        .into_iter()
        .filter(|(_, secs)| *secs > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(r, _)| r);
    Forecast { expected_completion, p90_completion, bottleneck_role, steps, expected_ready_at }
}

/// Whether `of` comes (directly or not) after `before`.
fn upstream(wf: &Workflow, of: &str, before: &str) -> bool {
    let mut todo = vec![of.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = todo.pop() {
        let Some(s) = wf.step(&id) else { continue };
        for a in &s.common.after {
            if a.value == before {
                return true;
            }
            if seen.insert(a.value.clone()) {
                todo.push(a.value.clone());
            }
        }
    }
    false
}

impl Session {
    /// The forecast of an instance the viewer sees.
    pub async fn forecast(&self, id: Uuid) -> Result<Forecast> {
        let state = self.instance(id).await?;
        let rt = self.runtime();
        let def = rt.definition(&state.workflow, Some(state.version)).await?;
        let now = rt.now();
        let filter = FactFilter {
            from: now - Duration::days(HISTORY_DAYS),
            to: now + Duration::seconds(1),
            workspaces: Some(vec![state.workspace.clone()]),
            workflow: Some(state.workflow.clone()),
        };
        let facts = rt.store.task_facts(&filter).await?;
        let tx = rt.store.begin_read().await?;
        let calendar = rt.defs.calendar(&tx, state.calendar.as_deref()).await?;
        drop(tx);
        let mut samples: HashMap<String, Vec<i64>> = HashMap::new();
        for t in facts.iter().filter(|t| matches!(t.status.as_str(), "completed" | "approved" | "rejected")) {
            if let Some(done) = t.completed_at {
                samples.entry(t.step.clone()).or_default().push(open_seconds(t.created_at, done, &calendar));
            }
        }
        let history: HashMap<String, Spread> = samples.into_iter().map(|(k, v)| (k, Spread::of(v))).collect();
        let mut open_by_role: HashMap<String, (u64, u64)> = HashMap::new();
        for (role, open) in rt.store.open_tasks_by_role(&state.workspace).await? {
            open_by_role.entry(role).or_default().0 = open;
        }
        for m in rt.store.members(&state.workspace).await? {
            open_by_role.entry(m.role).or_default().1 += 1;
        }
        let inputs = Inputs { history: &history, open_by_role: &open_by_role, calendar: &calendar, now };
        Ok(compute(&def.workflow, &state, &inputs))
    }
}
