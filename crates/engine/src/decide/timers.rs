//! Durable timers: what arms them and what a firing does. A timer fires at
//! least once; the state makes it apply once (stale or repeated firings are
//! no-ops).
//!
//! Keys: `task:{no}:remind:{i}`, `task:{no}:overdue`, `task:{no}:escalate:{i}`,
//! `step:{id}:{round}:start`, `step:{id}:{round}:wait`, `step:{id}:{round}:repeat:{n}`.

use serde_json::Value;
use smmflow_spec::escalation::{Auto, Escalation};
use smmflow_spec::notify::Event as NotifyEvent;
use smmflow_spec::step::{Step, StepKind};

use super::Run;
use crate::command::{Action, Notice};
use crate::eval;
use crate::event::EventKind;
use crate::model::{InstanceStatus, StepStatus};
use crate::time::{business, cron};
use crate::timer_key::{TimerKey, TimerScope};

impl<'a> Run<'_, 'a> {
    fn remind_list(&self, step: &'a Step) -> &'a [smmflow_spec::decode::Sp<smmflow_spec::Duration>] {
        step.common.remind.as_deref().unwrap_or(&self.env.workflow.remind)
    }

    fn chain(&self, step: &'a Step) -> &'a [Escalation] {
        step.common.escalation.as_deref().unwrap_or(&self.env.workflow.escalation)
    }

    /// Reminders before the due time, the overdue notice at it, escalations after it.
    pub(super) fn arm_task_timers(&mut self, step: &'a Step, no: u32, due: chrono::DateTime<chrono::Utc>) {
        let now = self.env.now;
        for (i, d) in self.remind_list(step).iter().enumerate() {
            let at = business::sub(due, d.value, self.env.calendar);
            if at > now {
                self.act(Action::SetTimer { key: TimerKey::Remind { task: no, reminder: i }, at });
            }
        }
        self.act(Action::SetTimer { key: TimerKey::Overdue { task: no }, at: due });
        for (i, e) in self.chain(step).iter().enumerate() {
            let at = business::add(due, e.after.value, self.env.calendar);
            self.act(Action::SetTimer { key: TimerKey::Escalate { task: no, stage: i }, at });
        }
    }

    /// An approval's follow-ups (counted from the request) and its expiry.
    pub(super) fn arm_approval_timers(
        &mut self,
        step: &'a Step,
        no: u32,
        level: Option<usize>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let StepKind::Approval(a) = &step.kind else { return };
        let now = self.env.now;
        if let Some(l) = level.and_then(|l| a.levels.get(l)) {
            for (n, d) in l.follow_up.iter().enumerate() {
                let at = business::add(now, d.value, self.env.calendar);
                self.act(Action::SetTimer { key: TimerKey::FollowUp { task: no, n }, at });
            }
        }
        if let Some(at) = expires_at {
            self.act(Action::SetTimer { key: TimerKey::Expire { task: no }, at });
        }
    }

    pub(super) fn timer_fired(&mut self, key: &TimerKey) {
        match self.state.status {
            InstanceStatus::Running => {}
            InstanceStatus::Suspended => {
                if !self.state.held_timers.contains(key) {
                    self.emit(EventKind::TimerHeld { key: key.clone() });
                }
                return;
            }
            _ => return,
        }
        match key {
            TimerKey::Remind { task, .. }
            | TimerKey::Overdue { task }
            | TimerKey::Escalate { task, .. }
            | TimerKey::FollowUp { task, .. }
            | TimerKey::Expire { task } => self.task_timer(*task, key),
            TimerKey::Start { step: id, round }
            | TimerKey::Wait { step: id, round }
            | TimerKey::Repeat { step: id, round, .. } => {
                let Some(step) = self.def(id) else { return };
                if self.state.step(id).is_none_or(|s| s.round != *round) {
                    return;
                }
                match key {
                    TimerKey::Start { .. } => self.progress(),
                    TimerKey::Wait { .. }
                        if self.state.step(id).is_some_and(|s| {
                            s.status == StepStatus::Ready && s.not_before.is_some_and(|t| t <= self.env.now)
                        }) =>
                    {
                        self.complete_step(id, Value::Null, Value::Null);
                        self.progress();
                    }
                    TimerKey::Repeat { occurrence, .. } => self.fire_occurrence(step, *occurrence),
                    _ => {}
                }
            }
        }
    }

    fn task_timer(&mut self, no: u32, what: &TimerKey) {
        let Some(task) = self.state.task(no).cloned() else { return };
        if !task.status.is_active() {
            return;
        }
        let Some(step) = self.def(&task.step) else { return };
        match what {
            TimerKey::Remind { reminder: i, .. } => {
                let i = *i;
                if !task.reminded.contains(&i) {
                    self.emit_as(crate::event::SYSTEM, EventKind::TaskReminded { task: no, reminder: i });
                    self.notice(NotifyEvent::TaskDueSoon, Some(no), Some(&task.step), None);
                }
            }
            TimerKey::Overdue { .. } if !task.overdue_noticed => {
                self.emit_as(crate::event::SYSTEM, EventKind::TaskOverdue { task: no });
                self.notice(NotifyEvent::TaskOverdue, Some(no), Some(&task.step), None);
            }
            TimerKey::Escalate { stage: i, .. } => {
                let i = *i;
                if task.escalated.contains(&i) {
                    return;
                }
                let Some(stage) = self.chain(step).get(i) else { return };
                self.emit_as(crate::event::SYSTEM, EventKind::TaskEscalated { task: no, stage: i });
                self.escalate(step, no, stage);
            }
            TimerKey::FollowUp { n, .. } if !task.followed_up.contains(n) => {
                let n = *n;
                self.emit_as(crate::event::SYSTEM, EventKind::TaskFollowedUp { task: no, follow_up: n });
                self.act(Action::Notify(Notice::Event {
                    event: NotifyEvent::ApprovalRequested,
                    task: Some(no),
                    step: Some(task.step.clone()),
                    comment: None,
                    follow_up: Some(n as u32 + 1),
                }));
            }
            TimerKey::Expire { .. } => self.expire(step, &task),
            _ => {}
        }
    }

    fn escalate(&mut self, step: &'a Step, no: u32, stage: &'a Escalation) {
        let recipients: Vec<&smmflow_spec::recipient::Recipient> =
            stage.notify.iter().chain(stage.reassign.iter()).map(|r| &r.value).collect();
        let sources: Vec<crate::eval::Src<'_>> = recipients
            .iter()
            .filter_map(|r| match r {
                smmflow_spec::recipient::Recipient::Template(t) => Some(crate::eval::Src::Template(&t.source)),
                _ => None,
            })
            .collect();
        let scope = self.scope(None, &sources);
        if !stage.notify.is_empty() {
            let mut to = Vec::new();
            for r in &stage.notify {
                match self.recipient_text(&r.value, &scope) {
                    Ok(t) => to.push(t),
                    Err(e) => return self.incident(&step.id.value, e),
                }
            }
            self.act(Action::Notify(Notice::Send {
                step: Some(step.id.value.clone()),
                task: Some(no),
                to,
                template: None,
                subject: None,
                body: None,
                context: scope.clone(),
            }));
        }
        if let Some(r) = &stage.reassign {
            match self.recipient_text(&r.value, &scope) {
                Err(e) => self.incident(&step.id.value, e),
                Ok(who) => {
                    let (user, role) = match who.split_once(':') {
                        Some(("role", r)) => (None, Some(r.to_string())),
                        Some((_, u)) => (Some(u.to_string()), None),
                        None => (Some(who.clone()), None),
                    };
                    self.emit_as(crate::event::SYSTEM, EventKind::TaskReassigned { task: no, user, role });
                    self.notice(NotifyEvent::TaskAssigned, Some(no), Some(&step.id.value), None);
                }
            }
        }
        if let Some(auto) = &stage.auto {
            let Some(task) = self.state.task(no).cloned() else { return };
            let actor = std::mem::replace(&mut self.actor, crate::event::SYSTEM.to_string());
            match (&step.kind, auto.value) {
                (StepKind::Approval(_), Auto::Approve) => {
                    self.decided(&task, true, Some("approved automatically: nobody decided in time".into()), Vec::new())
                }
                (StepKind::Approval(_), Auto::Reject) => self.decided(
                    &task,
                    false,
                    Some("rejected automatically: nobody decided in time".into()),
                    Vec::new(),
                ),
                (StepKind::Task(_), Auto::Skip) => {
                    self.emit(EventKind::TaskSkipped {
                        task: no,
                        reason: "skipped automatically: not done in time".into(),
                    });
                    self.act(Action::ClearTimers { scope: TimerScope::Task { task: no } });
                    self.check_step_done(&task.step);
                    self.progress();
                }
                // A workflow-level stage that does not fit this step's type does nothing.
                _ => {}
            }
            self.actor = actor;
        }
    }

    /// Arms occurrence `n` of a recurring step, or ends the series.
    pub(super) fn schedule_occurrence(&mut self, step: &'a Step, n: u32) {
        let Some(rep) = &step.common.repeat else { return };
        let id = step.id.value.as_str();
        let next = cron::next_fire(&rep.cron.value, rep.timezone, self.env.now);
        let until = match &rep.until {
            None => None,
            Some(u) => match eval::expr(&u.source, &self.scope(None, &[eval::Src::Expr(&u.source)]))
                .and_then(|v| eval::datetime(&v))
            {
                Ok(t) => Some(t),
                Err(e) => return self.incident(id, format!("`repeat.until` failed: {e}")),
            },
        };
        let over_count = rep.count.is_some_and(|c| n > c);
        match next {
            Some(at) if !over_count && until.is_none_or(|u| at <= u) => {
                let round = self.state.step(id).map_or(1, |s| s.round);
                self.act(Action::SetTimer { key: TimerKey::Repeat { step: id.to_string(), round, occurrence: n }, at });
            }
            _ => {
                self.emit(EventKind::RepeatEnded { step: id.to_string() });
                self.check_step_done(id);
                self.progress();
            }
        }
    }

    fn fire_occurrence(&mut self, step: &'a Step, n: u32) {
        let id = step.id.value.as_str();
        let Some(st) = self.state.step(id) else { return };
        if st.status != StepStatus::Ready || st.series_ended || st.occurrences + 1 != n {
            return;
        }
        self.emit(EventKind::RepeatFired { step: id.to_string(), occurrence: n });
        self.start_units(step, vec![None], Some(n));
        self.schedule_occurrence(step, n + 1);
    }

    /// Re-arms the timers that came due while suspended.
    pub(super) fn rearm_held(&mut self, keys: Vec<TimerKey>) {
        for key in keys {
            self.act(Action::SetTimer { key, at: self.env.now });
        }
    }
}
