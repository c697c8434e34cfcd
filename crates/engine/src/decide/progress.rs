//! Moving an instance forward: steps become ready when their predecessors
//! are settled and their start time has come; ready steps are activated
//! (tasks created, children started, messages queued); finished steps let
//! their successors go; the instance completes when nothing is left.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use smmflow_spec::notify::Event as NotifyEvent;
use smmflow_spec::step::approval::Quorum;
use smmflow_spec::step::task::Assign;
use smmflow_spec::step::{Step, StepKind};

use super::Run;
use crate::command::{Action, Notice};
use crate::eval::{self, Src};
use crate::event::EventKind;
use crate::model::{InstanceStatus, StepStatus, Task, TaskKind, TaskStatus};
use crate::time::business;
use crate::timer_key::TimerKey;

/// A period (from, to).
type Period = (DateTime<Utc>, DateTime<Utc>);

/// Who gets a task: (role, extra candidates, assignee).
type Assignment = (Option<String>, Vec<String>, Option<String>);

/// A task about to be created.
pub(super) struct Draft {
    pub kind: TaskKind,
    pub item: Option<(usize, Value)>,
    pub occurrence: Option<u32>,
    pub role: Option<String>,
    pub candidates: Vec<String>,
    pub assignee: Option<String>,
}

impl<'a> Run<'_, 'a> {
    /// Makes every step ready that can be, activates it, and completes the
    /// instance when all is settled. Idempotent.
    pub(super) fn progress(&mut self) {
        loop {
            if !self.running() {
                return;
            }
            let mut moved = false;
            for step in &self.workflow().steps {
                let Some(st) = self.state.step(&step.id.value) else { continue };
                if st.status != StepStatus::Waiting || st.incident.is_some() {
                    continue;
                }
                let settled =
                    step.common.after.iter().all(|a| self.state.step(&a.value).is_some_and(|s| s.status.is_settled()));
                if !settled {
                    continue;
                }
                match self.start_time(step) {
                    Err(message) => self.incident(&step.id.value, message),
                    Ok(Some(at)) if at > self.env.now => {
                        if st.not_before != Some(at) {
                            let round = st.round;
                            self.emit(EventKind::StepDeferred { step: step.id.value.clone(), until: at });
                            self.act(Action::SetTimer {
                                key: TimerKey::Start { step: step.id.value.clone(), round },
                                at,
                            });
                        }
                    }
                    Ok(_) => {
                        self.emit(EventKind::StepReady { step: step.id.value.clone() });
                        self.activate(step);
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        self.maybe_complete();
    }

    /// When a step whose predecessors are settled may start (`start.after` / `start.at`).
    fn start_time(&self, step: &Step) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
        let Some(start) = &step.common.start else { return Ok(None) };
        if let Some(after) = &start.after {
            let settled_at = step
                .common
                .after
                .iter()
                .filter_map(|a| self.state.step(&a.value).and_then(|s| s.completed_at))
                .max()
                .unwrap_or(self.state.started_at);
            return Ok(Some(business::add(settled_at, after.value, self.env.calendar)));
        }
        match &start.at {
            Some(at) => {
                let v = eval::expr(&at.source, &self.scope(None, &[Src::Expr(&at.source)]))
                    .map_err(|e| format!("`start.at` failed: {e}"))?;
                eval::datetime(&v).map(Some).map_err(|e| format!("`start.at`: {e}"))
            }
            None => Ok(None),
        }
    }

    /// A step just became ready (or its incident was retried): evaluate `if`,
    /// then start its work.
    pub(super) fn activate(&mut self, step: &'a Step) {
        let id = step.id.value.as_str();
        if let Some(cond) = &step.common.if_ {
            match eval::expr(&cond.source, &self.scope(None, &[Src::Expr(&cond.source)])) {
                Err(e) => return self.incident(id, format!("`if` failed: {e}")),
                Ok(v) if !eval::truthy(&v) => {
                    self.emit(EventKind::StepSkipped {
                        step: id.to_string(),
                        reason: format!("`if: {}` was false", cond.source),
                    });
                    return;
                }
                Ok(_) => {}
            }
        }
        if step.common.repeat.is_some() {
            return self.schedule_occurrence(step, 1);
        }
        let items = match &step.common.for_each {
            None => None,
            Some(e) => match eval::expr(&e.source, &self.scope(None, &[Src::Expr(&e.source)])) {
                Err(err) => return self.incident(id, format!("`for_each` failed: {err}")),
                Ok(Value::Array(items)) => Some(items),
                Ok(Value::Null) => Some(Vec::new()),
                Ok(other) => return self.incident(id, format!("`for_each` must yield a list, it yielded {other}")),
            },
        };
        if let Some(items) = &items {
            self.emit(EventKind::StepItems { step: id.to_string(), items: items.clone() });
        }
        let units: Vec<Option<(usize, Value)>> = match items {
            None => vec![None],
            Some(items) => items.into_iter().enumerate().map(Some).collect(),
        };
        if units.is_empty() {
            self.complete_step(id, json!([]), json!([]));
            return;
        }
        self.start_units(step, units, None);
    }

    /// Starts the work of a step for the given items (or once), all or
    /// nothing: anything that fails to render becomes an incident first.
    pub(super) fn start_units(&mut self, step: &'a Step, units: Vec<Option<(usize, Value)>>, occurrence: Option<u32>) {
        let id = step.id.value.as_str();
        match &step.kind {
            StepKind::Task(t) => {
                let mut drafts = Vec::new();
                for item in units {
                    match self.assignment(step, &t.assign, &t.role.value, item.as_ref()) {
                        Ok((role, candidates, assignee)) => {
                            drafts.push(Draft { kind: TaskKind::Task, item, occurrence, role, candidates, assignee })
                        }
                        Err(e) => return self.incident(id, e),
                    }
                }
                self.create_tasks(step, drafts);
            }
            StepKind::Approval(_) => {
                let mut drafts = Vec::new();
                for item in units {
                    drafts.extend(self.level_drafts(step, 0, item, occurrence));
                }
                self.create_tasks(step, drafts);
            }
            StepKind::Notify(n) => {
                let mut sends = Vec::new();
                for item in &units {
                    let scope = self.scope(item.as_ref().map(|(i, v)| (*i, v)), &message_sources(n));
                    match self.render_message(n, &scope) {
                        Ok(send) => sends.push(send),
                        Err(e) => return self.incident(id, e),
                    }
                }
                for send in sends {
                    self.act(Action::Notify(send));
                }
                if occurrence.is_none() {
                    self.complete_step(id, Value::Null, Value::Null);
                }
            }
            StepKind::Wait(w) => {
                let until = match (&w.duration, &w.until) {
                    (Some(d), _) => Ok(business::add(self.env.now, d.value, self.env.calendar)),
                    (None, Some(u)) => eval::expr(&u.source, &self.scope(None, &[Src::Expr(&u.source)]))
                        .and_then(|v| eval::datetime(&v))
                        .map_err(|e| format!("`until` failed: {e}")),
                    (None, None) => Ok(self.env.now),
                };
                match until {
                    Err(e) => self.incident(id, e),
                    Ok(t) if t <= self.env.now => self.complete_step(id, Value::Null, Value::Null),
                    Ok(t) => {
                        let round = self.state.step(id).map_or(1, |s| s.round);
                        self.emit(EventKind::StepDeferred { step: id.to_string(), until: t });
                        self.act(Action::SetTimer { key: TimerKey::Wait { step: id.to_string(), round }, at: t });
                    }
                }
            }
            StepKind::UpdateProfile(u) => self.update_profile(id, u),
            StepKind::Subflow(f) => {
                let mut children = Vec::new();
                for item in &units {
                    let mut texts = Vec::new();
                    for (_, value) in &f.inputs {
                        strings_in(&value.value, &mut texts);
                    }
                    let sources: Vec<Src<'_>> = texts.iter().map(|t| Src::Template(t)).collect();
                    let scope = self.scope(item.as_ref().map(|(i, v)| (*i, v)), &sources);
                    let mut inputs = serde_json::Map::new();
                    for (name, value) in &f.inputs {
                        match render_value(&value.value, &scope) {
                            Ok(v) => {
                                inputs.insert(name.value.clone(), v);
                            }
                            Err(e) => {
                                return self.incident(id, format!("input `{}` of the subflow failed: {e}", name.value));
                            }
                        }
                    }
                    let slot = item.as_ref().map(|(i, _)| *i).or(occurrence.map(|o| o.saturating_sub(1) as usize));
                    children.push((slot, Value::Object(inputs)));
                }
                let round = self.state.step(id).map_or(1, |s| s.round);
                let mut ids = Vec::new();
                for (slot, inputs) in children {
                    let name =
                        format!("{}/{id}/{round}/{}", self.state.id, slot.map_or("-".to_string(), |s| s.to_string()));
                    let child = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
                    self.emit(EventKind::ChildStarted {
                        step: id.to_string(),
                        item: slot,
                        child,
                        workflow: f.workflow.value.clone(),
                    });
                    let parent = crate::model::ParentRef { instance: self.state.id, step: id.to_string(), item: slot };
                    self.act(Action::StartChild { id: child, workflow: f.workflow.value.clone(), inputs, parent });
                    ids.push(json!(child.to_string()));
                }
                if !f.wait && occurrence.is_none() {
                    let output = if step.common.for_each.is_some() {
                        Value::Array(ids)
                    } else {
                        ids.pop().unwrap_or(Value::Null)
                    };
                    self.complete_step(id, output, Value::Null);
                }
            }
        }
    }

    fn render_message(&self, n: &smmflow_spec::step::NotifyStep, scope: &Value) -> Result<Notice, String> {
        let mut to = Vec::new();
        for r in &n.to {
            to.push(self.recipient_text(&r.value, scope)?);
        }
        let subject = n
            .subject
            .as_ref()
            .map(|t| eval::text(&t.source, scope))
            .transpose()
            .map_err(|e| format!("`subject` failed: {e}"))?;
        let body = n
            .body
            .as_ref()
            .map(|t| eval::text(&t.source, scope))
            .transpose()
            .map_err(|e| format!("`body` failed: {e}"))?;
        Ok(Notice::Send {
            step: None,
            task: None,
            to,
            template: n.template.as_ref().map(|t| t.value.clone()),
            subject,
            body,
            context: scope.clone(),
        })
    }

    /// A recipient as text the notifier resolves: `user:x`, `role:x`, `email:x`.
    pub(super) fn recipient_text(
        &self,
        r: &smmflow_spec::recipient::Recipient,
        scope: &Value,
    ) -> Result<String, String> {
        use smmflow_spec::recipient::Recipient;
        Ok(match r {
            Recipient::Assignee => "assignee".into(),
            Recipient::Starter => format!("user:{}", self.state.started_by),
            Recipient::Candidates => "candidates".into(),
            Recipient::Role(role) => format!("role:{role}"),
            Recipient::User(u) => format!("user:{u}"),
            Recipient::Email(e) => format!("email:{e}"),
            Recipient::Template(t) => {
                let text = eval::text(&t.source, scope).map_err(|e| format!("recipient `{}` failed: {e}", t.source))?;
                let text = text.trim();
                if text.contains(':') || matches!(text, "assignee" | "starter" | "candidates") {
                    text.to_string()
                } else if text.contains('@') {
                    format!("email:{text}")
                } else {
                    format!("user:{text}")
                }
            }
        })
    }

    /// Who gets a task: (role, extra candidates, assignee).
    fn assignment(
        &self,
        step: &Step,
        assign: &Assign,
        role: &str,
        item: Option<&(usize, Value)>,
    ) -> Result<Assignment, String> {
        let role_only = (Some(role.to_string()), Vec::new(), None);
        let eligible = || {
            let excluded = self.excluded_users(step);
            self.env.directory.members(role).into_iter().filter(|m| !excluded.contains(m)).collect::<Vec<_>>()
        };
        Ok(match assign {
            Assign::Pool => role_only,
            Assign::RoundRobin => {
                let members = eligible();
                let last = self.env.directory.last_assigned(role);
                let next = match last.and_then(|l| members.iter().position(|m| *m == l)) {
                    Some(i) => members.get((i + 1) % members.len().max(1)).cloned(),
                    None => members.first().cloned(),
                };
                (Some(role.to_string()), Vec::new(), next)
            }
            Assign::LeastBusy => {
                let members = eligible();
                let pick = members.into_iter().min_by_key(|m| (self.env.directory.open_tasks(m), m.clone()));
                (Some(role.to_string()), Vec::new(), pick)
            }
            Assign::Expression(t) => {
                let scope = self.scope(item.map(|(i, v)| (*i, v)), &[Src::Template(&t.source)]);
                let who = eval::text(&t.source, &scope).map_err(|e| format!("`assign` failed: {e}"))?;
                let who = who.trim().trim_start_matches("user:").trim_start_matches("email:").to_string();
                if who.is_empty() {
                    return Err(format!("`assign: {}` yielded nobody", t.source));
                }
                (Some(role.to_string()), vec![who.clone()], Some(who))
            }
        })
    }

    /// The tasks of one approval level for one item.
    pub(super) fn level_drafts(
        &self,
        step: &Step,
        level: usize,
        item: Option<(usize, Value)>,
        occurrence: Option<u32>,
    ) -> Vec<Draft> {
        let StepKind::Approval(a) = &step.kind else { return Vec::new() };
        let Some(l) = a.levels.get(level) else { return Vec::new() };
        let kind = TaskKind::Approval { level, external: l.external, final_decision: false };
        let role = l.role.value.clone();
        let pool = |item| Draft {
            kind: kind.clone(),
            item,
            occurrence,
            role: Some(role.clone()),
            candidates: Vec::new(),
            assignee: None,
        };
        match l.quorum {
            Quorum::Any => vec![pool(item)],
            Quorum::All | Quorum::Count(_) => {
                let excluded = self.excluded_users(step);
                let members: Vec<String> =
                    self.env.directory.members(&role).into_iter().filter(|m| !excluded.contains(m)).collect();
                if members.is_empty() {
                    return vec![pool(item)];
                }
                members
                    .into_iter()
                    .map(|m| Draft {
                        kind: kind.clone(),
                        item: item.clone(),
                        occurrence,
                        role: Some(role.clone()),
                        candidates: vec![m.clone()],
                        assignee: Some(m),
                    })
                    .collect()
            }
        }
    }

    /// Creates tasks, all titles rendered first (an error creates none).
    pub(super) fn create_tasks(&mut self, step: &'a Step, drafts: Vec<Draft>) {
        let id = step.id.value.as_str();
        let mut rendered = Vec::new();
        for d in &drafts {
            let texts = [&step.common.title, &step.common.instructions];
            let sources: Vec<Src<'_>> =
                texts.iter().filter_map(|t| t.as_ref()).map(|t| Src::Template(&t.source)).collect();
            let scope = self.scope(d.item.as_ref().map(|(i, v)| (*i, v)), &sources);
            let title = match &step.common.title {
                Some(t) => match eval::text(&t.source, &scope) {
                    Ok(s) => s,
                    Err(e) => return self.incident(id, format!("`title` failed: {e}")),
                },
                None => id.to_string(),
            };
            let instructions = match &step.common.instructions {
                Some(t) => match eval::text(&t.source, &scope) {
                    Ok(s) => Some(s),
                    Err(e) => return self.incident(id, format!("`instructions` failed: {e}")),
                },
                None => None,
            };
            let item = d.item.as_ref().map(|(i, v)| (*i, v));
            let expires_at = match self.expiry(step, item) {
                Ok(at) => at,
                Err(e) => return self.incident(id, e),
            };
            let figures = match self.figures_period(step, item) {
                Ok(p) => p,
                Err(e) => return self.incident(id, e),
            };
            rendered.push((title, instructions, expires_at, figures));
        }
        for (d, (title, instructions, expires_at, figures)) in drafts.into_iter().zip(rendered) {
            self.new_task(step, d, title, instructions, (expires_at, figures));
        }
    }

    /// A task's `figures` period, evaluated now.
    fn figures_period(&self, step: &Step, item: Option<(usize, &Value)>) -> Result<Option<Period>, String> {
        let StepKind::Task(t) = &step.kind else { return Ok(None) };
        let Some(p) = &t.figures else { return Ok(None) };
        let scope = self.scope(item, &[Src::Expr(&p.from.source), Src::Expr(&p.to.source)]);
        let at = |e: &smmflow_spec::expr::Expr, key: &str| {
            eval::expr(&e.source, &scope)
                .and_then(|v| eval::datetime(&v))
                .map_err(|err| format!("`figures.{key}` failed: {err}"))
        };
        let (from, to) = (at(&p.from, "from")?, at(&p.to, "to")?);
        if to <= from {
            return Err("`figures.to` must be after `figures.from`".into());
        }
        Ok(Some((from, to)))
    }

    /// An approval's `expires` moment: `at` less `before` (in the calendar's
    /// business time when `before` is business time).
    fn expiry(&self, step: &Step, item: Option<(usize, &Value)>) -> Result<Option<DateTime<Utc>>, String> {
        let StepKind::Approval(a) = &step.kind else { return Ok(None) };
        let Some(e) = &a.expires else { return Ok(None) };
        let scope = self.scope(item, &[Src::Expr(&e.at.source)]);
        let at = eval::expr(&e.at.source, &scope)
            .and_then(|v| eval::datetime(&v))
            .map_err(|err| format!("`expires.at` failed: {err}"))?;
        Ok(Some(match &e.before {
            Some(b) => business::sub(at, b.value, self.env.calendar),
            None => at,
        }))
    }

    fn new_task(
        &mut self,
        step: &'a Step,
        d: Draft,
        title: String,
        instructions: Option<String>,
        (expires_at, figures): (Option<DateTime<Utc>>, Option<Period>),
    ) -> u32 {
        let now = self.env.now;
        let no = self.state.tasks.len() as u32 + 1;
        let st = self.state.step(&step.id.value).cloned().unwrap_or_default();
        let due_at = step.common.due.as_ref().map(|due| business::add(now, due.value, self.env.calendar));
        let prefill = match (&st.previous_output, &d.item) {
            (Some(Value::Array(list)), Some((i, _))) => list.get(*i).cloned(),
            (other, _) => other.clone(),
        }
        .filter(|v| !v.is_null());
        let status = if d.assignee.is_some() { TaskStatus::Claimed } else { TaskStatus::Open };
        let priority = format!("{:?}", step.common.priority).to_lowercase();
        let is_approval = matches!(d.kind, TaskKind::Approval { .. });
        // External approval levels are the client's; otherwise the role's party.
        let party = match (&d.kind, &d.role) {
            (TaskKind::Approval { external: true, .. }, _) => "client".to_string(),
            (_, Some(role)) => self.workflow().party_of(role).as_str().to_string(),
            (_, None) => "agency".to_string(),
        };
        let level = match d.kind {
            TaskKind::Approval { level, final_decision: false, .. } => Some(level),
            _ => None,
        };
        let assigned = d.assignee.is_some();
        let task = Task {
            no,
            step: step.id.value.clone(),
            kind: d.kind,
            item: d.item.map(|(i, _)| i),
            occurrence: d.occurrence,
            round: st.round,
            status,
            role: d.role,
            candidates: d.candidates,
            assignee: d.assignee,
            title,
            instructions,
            priority,
            created_at: now,
            due_at,
            completed_at: None,
            completed_by: None,
            output: None,
            prefill,
            comments: st.rework_comment.into_iter().collect(),
            reminded: Vec::new(),
            overdue_noticed: false,
            escalated: Vec::new(),
            followed_up: Vec::new(),
            last_reminded_at: None,
            expires_at,
            claimed_at: assigned.then_some(now),
            figures,
            party,
        };
        self.emit(EventKind::TaskCreated { task: Box::new(task) });
        if let Some(due) = due_at {
            self.arm_task_timers(step, no, due);
        }
        self.arm_approval_timers(step, no, level, expires_at);
        let comment = self.state.task(no).and_then(|t| t.comments.last()).map(|c| c.body.clone());
        self.notice(NotifyEvent::TaskCreated, Some(no), Some(&step.id.value), comment);
        if is_approval {
            self.notice(NotifyEvent::ApprovalRequested, Some(no), Some(&step.id.value), None);
        }
        if assigned {
            self.notice(NotifyEvent::TaskAssigned, Some(no), Some(&step.id.value), None);
        }
        no
    }

    /// Marks a step done and lets its successors go.
    pub(super) fn complete_step(&mut self, id: &str, output: Value, completed_by: Value) {
        self.emit(EventKind::StepCompleted { step: id.to_string(), output, completed_by });
        self.notice(NotifyEvent::StepCompleted, None, Some(id), None);
    }

    /// A task, fan-out item, child or occurrence finished: is its step done?
    pub(super) fn check_step_done(&mut self, id: &str) {
        let Some(step) = self.def(id) else { return };
        let Some(st) = self.state.step(id) else { return };
        if st.status != StepStatus::Ready || st.incident.is_some() {
            return;
        }
        let active = self.state.active_tasks().any(|t| t.step == id);
        let waiting_children = self.state.children.iter().any(|c| c.step == id && !c.finished);
        if active || waiting_children {
            return;
        }
        if matches!(step.kind, StepKind::Approval(_)) && step.common.repeat.is_none() {
            return; // approvals complete through their decisions
        }
        let (output, by) = if step.common.repeat.is_some() {
            if !st.series_ended {
                return;
            }
            let outputs: Vec<Value> = st.results.values().map(|r| r.output.clone()).collect();
            let by: Vec<Value> = st.results.values().map(|r| r.by.clone().map_or(Value::Null, Value::String)).collect();
            (Value::Array(outputs), Value::Array(by))
        } else {
            let expected = st.items.as_ref().map_or(1, Vec::len);
            if st.results.len() < expected {
                return;
            }
            if st.items.is_some() {
                let outputs: Vec<Value> =
                    (0..expected).map(|i| st.results.get(&i).map_or(Value::Null, |r| r.output.clone())).collect();
                let by: Vec<Value> = (0..expected)
                    .map(|i| st.results.get(&i).and_then(|r| r.by.clone()).map_or(Value::Null, Value::String))
                    .collect();
                (Value::Array(outputs), Value::Array(by))
            } else {
                let r = st.results.get(&0);
                (
                    r.map_or(Value::Null, |r| r.output.clone()),
                    r.and_then(|r| r.by.clone()).map_or(Value::Null, Value::String),
                )
            }
        };
        self.complete_step(id, output, by);
    }

    /// Completes the instance when every step is settled and nothing is open.
    fn maybe_complete(&mut self) {
        if !self.running() {
            return;
        }
        let settled = self.state.steps.values().all(|s| s.status.is_settled());
        let open = self.state.active_tasks().next().is_some();
        let children = self.state.children.iter().any(|c| {
            !c.finished && self.def(&c.step).is_some_and(|s| matches!(&s.kind, StepKind::Subflow(f) if f.wait))
        });
        if !settled || open || children {
            return;
        }
        let sources: Vec<Src<'_>> = self.workflow().outputs.iter().map(|(_, t)| Src::Template(&t.source)).collect();
        let scope = self.scope(None, &sources);
        let mut outputs = serde_json::Map::new();
        for (name, t) in &self.workflow().outputs {
            let value = match eval::template(&t.source, &scope) {
                Ok(v) => v,
                Err(e) => {
                    self.incident(&name.value, format!("output `{}` failed: {e}", name.value));
                    Value::Null
                }
            };
            outputs.insert(name.value.clone(), value);
        }
        let outputs = Value::Object(outputs);
        self.emit(EventKind::InstanceCompleted { outputs: outputs.clone() });
        self.ended(InstanceStatus::Completed, outputs);
    }

    /// After an instance ended: timers dropped, parent told, people told.
    pub(super) fn ended(&mut self, status: InstanceStatus, outputs: Value) {
        self.act(Action::ClearTimers { scope: crate::timer_key::TimerScope::All });
        let event = match status {
            InstanceStatus::Completed => Some(NotifyEvent::InstanceCompleted),
            InstanceStatus::Cancelled => Some(NotifyEvent::InstanceCancelled),
            InstanceStatus::Failed => Some(NotifyEvent::InstanceFailed),
            _ => None,
        };
        if let Some(e) = event {
            self.notice(e, None, None, None);
        }
        if let Some(parent) = self.state.parent.clone() {
            self.act(Action::NotifyParent { parent, child: self.state.id, status, outputs });
        }
    }
}

/// Renders the strings inside a literal value as templates.
pub(super) fn render_value(v: &Value, scope: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => eval::template(s, scope)?,
        Value::Array(items) => Value::Array(items.iter().map(|i| render_value(i, scope)).collect::<Result<_, _>>()?),
        Value::Object(m) => Value::Object(
            m.iter().map(|(k, i)| Ok((k.clone(), render_value(i, scope)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// What a notify step's message reads: its recipients, subject and body,
/// and for a deployed template (whose needs the engine cannot see) every step.
fn message_sources(n: &smmflow_spec::step::NotifyStep) -> Vec<Src<'_>> {
    let mut out = Vec::new();
    for r in &n.to {
        if let smmflow_spec::recipient::Recipient::Template(t) = &r.value {
            out.push(Src::Template(&t.source));
        }
    }
    out.extend([&n.subject, &n.body].into_iter().flatten().map(|t| Src::Template(&t.source)));
    if n.template.is_some() {
        out.push(Src::Expr("steps"));
    }
    out
}

/// The strings inside a literal value (subflow inputs are templates).
pub(super) fn strings_in<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings_in(i, out)),
        _ => {}
    }
}
