//! What people do to tasks: claim, release, complete, approve, reject,
//! reassign, comment; and what a decision leads to (the next approval
//! level, the step's completion, rework, or the end of the instance).

use std::collections::HashSet;

use serde_json::{Value, json};
use smmflow_spec::notify::Event as NotifyEvent;
use smmflow_spec::step::approval::{OnExpire, Quorum, Then};
use smmflow_spec::step::{Step, StepKind};

use super::Run;
use super::progress::Draft;
use crate::command::{Action, Error};
use crate::event::EventKind;
use crate::model::{InstanceStatus, Task, TaskKind, TaskStatus};
use crate::timer_key::TimerScope;

impl<'a> Run<'_, 'a> {
    /// The task, refused when it does not exist or cannot be acted on any more.
    fn active_task(&self, no: u32) -> Result<Task, Error> {
        let task = self.state.task(no).ok_or_else(|| Error::NotFound(format!("task {no}")))?;
        match task.status {
            TaskStatus::Open | TaskStatus::Claimed => {
                self.require_running()?;
                Ok(task.clone())
            }
            TaskStatus::Completed | TaskStatus::Approved | TaskStatus::Rejected => {
                Err(Error::TaskAlreadyCompleted(task.status.as_str().to_string()))
            }
            s => Err(Error::Conflict(format!("the task is {}", s.as_str()))),
        }
    }

    /// May the actor take this task? (Role or candidate, not held by someone
    /// else, and not excluded by `distinct_from`.)
    fn may_take(&self, task: &Task) -> Result<(), Error> {
        let me = self.actor.as_str();
        match &task.assignee {
            Some(a) if a == me => {}
            Some(a) => return Err(Error::Conflict(format!("the task is claimed by {a}"))),
            None => {
                let by_role = task.role.as_ref().is_some_and(|r| self.env.directory.has_role(me, r));
                if !by_role && !task.candidates.iter().any(|c| c == me) {
                    let role = task.role.as_deref().unwrap_or("the assigned people");
                    return Err(Error::Forbidden(format!("only {role} may take this task")));
                }
            }
        }
        if let Some(step) = self.def(&task.step)
            && self.excluded_users(step).contains(me)
        {
            let what = if task.is_approval() {
                "approve your own work"
            } else {
                "do this step after doing the steps it must be distinct from"
            };
            return Err(Error::Forbidden(format!("four-eyes rule: you may not {what} (step `{}`)", task.step)));
        }
        Ok(())
    }

    /// Claims implicitly when the task is open.
    fn take(&mut self, task: &Task) -> Result<(), Error> {
        self.may_take(task)?;
        if task.status == TaskStatus::Open {
            self.emit(EventKind::TaskClaimed { task: task.no, user: self.actor.clone() });
        }
        Ok(())
    }

    pub(super) fn claim(&mut self, no: u32) -> Result<(), Error> {
        let task = self.active_task(no)?;
        self.take(&task)
    }

    pub(super) fn release(&mut self, no: u32) -> Result<(), Error> {
        let task = self.active_task(no)?;
        match &task.assignee {
            None => Ok(()),
            Some(a) if *a == self.actor || task.role.is_none() => {
                self.emit(EventKind::TaskReleased { task: no });
                Ok(())
            }
            Some(a) => Err(Error::Conflict(format!("the task is claimed by {a}"))),
        }
    }

    pub(super) fn reassign(&mut self, no: u32, user: &str) -> Result<(), Error> {
        let task = self.active_task(no)?;
        if user.trim().is_empty() {
            return Err(Error::bad_input("name the user to reassign to"));
        }
        self.emit(EventKind::TaskReassigned { task: no, user: Some(user.to_string()), role: None });
        self.notice(NotifyEvent::TaskAssigned, Some(no), Some(&task.step), None);
        Ok(())
    }

    pub(super) fn comment(&mut self, no: u32, body: String) -> Result<(), Error> {
        self.state.task(no).ok_or_else(|| Error::NotFound(format!("task {no}")))?;
        if body.trim().is_empty() {
            return Err(Error::bad_input("a comment needs text"));
        }
        self.emit(EventKind::CommentAdded { task: no, body });
        Ok(())
    }

    pub(super) fn complete(&mut self, no: u32, output: Value) -> Result<(), Error> {
        let task = self.active_task(no)?;
        if task.is_approval() {
            return Err(Error::bad_input("this is an approval: approve or reject it"));
        }
        let step = self.def(&task.step).ok_or_else(|| Error::NotFound(format!("step {}", task.step)))?;
        let output = checked_output(step, output)?;
        self.take(&task)?;
        self.emit(EventKind::TaskCompleted { task: no, output });
        self.act(Action::ClearTimers { scope: TimerScope::Task { task: no } });
        self.check_step_done(&task.step);
        self.progress();
        Ok(())
    }

    /// Approve (`approve: true`) or reject an approval task, by the actor.
    pub(super) fn decide_approval(
        &mut self,
        no: u32,
        approve: bool,
        comment: Option<String>,
        reasons: Vec<String>,
    ) -> Result<(), Error> {
        let task = self.active_task(no)?;
        if !task.is_approval() {
            return Err(Error::bad_input("this is a task, not an approval: complete it"));
        }
        if !approve && comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(Error::bad_input("a rejection needs a comment saying what to change"));
        }
        let reasons = self.checked_reasons(&task, approve, reasons)?;
        self.take(&task)?;
        self.decided(&task, approve, comment, reasons);
        Ok(())
    }

    /// A rejection names at least one of the approval's `reasons` (and
    /// only those); an approval names none.
    fn checked_reasons(&self, task: &Task, approve: bool, reasons: Vec<String>) -> Result<Vec<String>, Error> {
        let offered: Vec<&str> = match self.def(&task.step).map(|s| &s.kind) {
            Some(StepKind::Approval(a)) => a.reasons.iter().map(|r| r.value.as_str()).collect(),
            _ => Vec::new(),
        };
        let refuse = |path: Vec<String>, message: String| Error::BadUserInput {
            message: message.clone(),
            fields: vec![smmflow_spec::field::FieldError { path, message }],
        };
        if approve {
            if !reasons.is_empty() {
                return Err(refuse(vec!["reasons".into()], "reasons go with a rejection, not an approval".into()));
            }
            return Ok(reasons);
        }
        if offered.is_empty() {
            if !reasons.is_empty() {
                return Err(refuse(vec!["reasons".into()], "this approval asks for no reasons".into()));
            }
            return Ok(reasons);
        }
        if reasons.is_empty() {
            return Err(refuse(vec!["reasons".into()], format!("name at least one reason: {}", offered.join(", "))));
        }
        for (i, r) in reasons.iter().enumerate() {
            if !offered.contains(&r.as_str()) {
                return Err(refuse(
                    vec!["reasons".into(), i.to_string()],
                    format!("`{r}` is not one of this approval's reasons: {}", offered.join(", ")),
                ));
            }
        }
        let mut unique = reasons;
        unique.dedup();
        Ok(unique)
    }

    /// A decision from a signed link: only on external approval levels; the
    /// link's holder needs no role, but four-eyes still applies.
    pub(super) fn decide_by_link(
        &mut self,
        no: u32,
        approve: bool,
        comment: Option<String>,
        reasons: Vec<String>,
    ) -> Result<(), Error> {
        let task = self.active_task(no)?;
        if !matches!(task.kind, TaskKind::Approval { external: true, .. }) {
            return Err(Error::Forbidden("this task cannot be decided from a link".into()));
        }
        if !approve && comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(Error::bad_input("a rejection needs a comment saying what to change"));
        }
        if let Some(a) = task.assignee.as_deref().filter(|a| *a != self.actor) {
            return Err(Error::Conflict(format!("the task is claimed by {a}")));
        }
        // A link mailed to a member decides only while they may still take
        // the task (removed from the workspace or the role: refused). A link
        // to a bare address (a rule's `email:`) has no membership to lose.
        let me = self.actor.as_str();
        if !me.contains('@')
            && task.assignee.as_deref() != Some(me)
            && !task.role.as_ref().is_some_and(|r| self.env.directory.has_role(me, r))
            && !task.candidates.iter().any(|c| c == me)
        {
            return Err(Error::Forbidden(
                "this link's recipient may no longer decide this approval (no longer a member with its role)".into(),
            ));
        }
        if let Some(step) = self.def(&task.step)
            && self.excluded_users(step).contains(self.actor.as_str())
        {
            return Err(Error::Forbidden(format!(
                "four-eyes rule: you may not approve your own work (step `{}`)",
                task.step
            )));
        }
        let reasons = self.checked_reasons(&task, approve, reasons)?;
        if task.status == TaskStatus::Open {
            self.emit(EventKind::TaskClaimed { task: no, user: self.actor.clone() });
        }
        self.decided(&task, approve, comment, reasons);
        Ok(())
    }

    /// Records a decision (by the actor, or the system after escalation) and follows it.
    pub(super) fn decided(&mut self, task: &Task, approve: bool, comment: Option<String>, reasons: Vec<String>) {
        let no = task.no;
        self.act(Action::ClearTimers { scope: TimerScope::Task { task: no } });
        if approve {
            self.emit(EventKind::TaskApproved { task: no, comment });
        } else {
            let comment = comment.unwrap_or_default();
            self.emit(EventKind::TaskRejected { task: no, comment: comment.clone(), reasons });
            self.notice(NotifyEvent::TaskRejected, Some(no), Some(&task.step), Some(comment));
        }
        let Some(step) = self.def(&task.step) else { return };
        let final_decision = matches!(task.kind, TaskKind::Approval { final_decision: true, .. });
        let Some(task) = self.state.task(no).cloned() else { return };
        if approve {
            self.approval_progress(step, &task, final_decision);
        } else {
            self.rejected(step, &task, final_decision);
        }
        self.progress();
    }

    /// Tasks of the same approval decision: step, round, item and occurrence.
    fn siblings(&self, task: &Task) -> Vec<Task> {
        self.state
            .tasks
            .iter()
            .filter(|t| {
                t.step == task.step && t.round == task.round && t.item == task.item && t.occurrence == task.occurrence
            })
            .cloned()
            .collect()
    }

    fn cancel_tasks(&mut self, tasks: impl IntoIterator<Item = u32>, reason: &str) {
        for no in tasks {
            if self.state.task(no).is_some_and(|t| t.status.is_active()) {
                self.emit(EventKind::TaskCancelled { task: no, reason: reason.to_string() });
                self.act(Action::ClearTimers { scope: TimerScope::Task { task: no } });
            }
        }
    }

    fn approval_progress(&mut self, step: &'a Step, task: &Task, final_decision: bool) {
        let StepKind::Approval(a) = &step.kind else { return };
        let TaskKind::Approval { level, .. } = task.kind else { return };
        let siblings = self.siblings(task);
        let at_level: Vec<&Task> =
            siblings.iter().filter(|t| matches!(t.kind, TaskKind::Approval { level: l, .. } if l == level)).collect();
        let approved = at_level.iter().filter(|t| passes(t)).count();
        let needed = match a.levels.get(level).map(|l| l.quorum) {
            _ if final_decision => 1,
            Some(Quorum::All) => at_level.len(),
            Some(Quorum::Count(n)) => (n as usize).min(at_level.len()),
            _ => 1,
        };
        if approved < needed {
            return;
        }
        let rest: Vec<u32> = at_level.iter().filter(|t| t.status.is_active()).map(|t| t.no).collect();
        self.cancel_tasks(rest, "the level's quorum was reached");
        if !final_decision && level + 1 < a.levels.len() {
            let item = task.item.map(|i| (i, self.item_value(&task.step, i)));
            let drafts = self.level_drafts(step, level + 1, item, task.occurrence);
            self.create_tasks(step, drafts);
            return;
        }
        if task.occurrence.is_some() {
            return self.check_step_done(&task.step);
        }
        // This item passed every level: is every item through?
        let id = task.step.clone();
        let Some(st) = self.state.step(&id) else { return };
        let items = st.items.as_ref().map(Vec::len);
        let decision = |t: &Task| {
            json!({
                "decision": "approved",
                "comment": t.output.as_ref().and_then(|o| o.get("comment")).cloned().unwrap_or(Value::Null),
                "round": t.round,
                "decided_by": t.completed_by,
                "decided_at": t.completed_at.map(|d| d.to_rfc3339()),
            })
        };
        let last_levels = a.levels.len().saturating_sub(1);
        let passed: Vec<Option<Task>> = (0..items.unwrap_or(1))
            .map(|i| {
                let item = items.map(|_| i);
                self.state
                    .tasks
                    .iter()
                    .filter(|t| t.step == id && t.round == st.round && t.item == item && passes(t))
                    .filter(|t| matches!(t.kind, TaskKind::Approval { level, final_decision, .. } if level == last_levels || final_decision))
                    .max_by_key(|t| t.completed_at)
                    .cloned()
            })
            .collect();
        if passed.iter().any(Option::is_none) || self.state.active_tasks().any(|t| t.step == id) {
            return;
        }
        let decisions: Vec<Value> = passed.iter().flatten().map(decision).collect();
        let by: Vec<Value> =
            passed.iter().flatten().map(|t| t.completed_by.clone().map_or(Value::Null, Value::String)).collect();
        let (output, by) = match items {
            Some(_) => (Value::Array(decisions), Value::Array(by)),
            None => (decisions.into_iter().next().unwrap_or(Value::Null), by.into_iter().next().unwrap_or(Value::Null)),
        };
        self.complete_step(&id, output, by);
    }

    fn item_value(&self, step: &str, i: usize) -> Value {
        self.state
            .step(step)
            .and_then(|s| s.items.as_ref())
            .and_then(|items| items.get(i).cloned())
            .unwrap_or(Value::Null)
    }

    fn rejected(&mut self, step: &'a Step, task: &Task, final_decision: bool) {
        let StepKind::Approval(a) = &step.kind else { return };
        let id = step.id.value.clone();
        let others: Vec<u32> =
            self.state.tasks.iter().filter(|t| t.step == id && t.status.is_active()).map(|t| t.no).collect();
        self.cancel_tasks(others, "the approval was rejected");
        let comment =
            task.output.as_ref().and_then(|o| o.get("comment")).and_then(Value::as_str).unwrap_or_default().to_string();
        if final_decision {
            return self.end_rejected(&id, comment);
        }
        let Some(on_reject) = &a.on_reject else { return self.end_rejected(&id, comment) };
        let round = self.state.step(&id).map_or(1, |s| s.round);
        if on_reject.max_rounds.is_some_and(|max| round >= max) {
            return match &on_reject.then {
                None => self.end_rejected(&id, comment),
                Some(Then::Cancel) => {
                    let reason = format!("rejected in the last round ({round}) of `{id}`: {comment}");
                    self.end_instance(InstanceStatus::Cancelled, reason);
                }
                Some(Then::Fail) => {
                    let reason = format!("rejected in the last round ({round}) of `{id}`: {comment}");
                    self.emit(EventKind::StepFailed { step: id.clone(), reason: reason.clone() });
                    self.end_instance(InstanceStatus::Failed, reason);
                }
                Some(Then::Reassign(to)) => self.final_decision(step, task, &to.value),
            };
        }
        let goto = on_reject.goto.value.clone();
        self.rework(id, goto, comment, round);
    }

    /// Nobody decided before `expires`: every undecided task of this
    /// decision expires, and `on_expire` says what follows (default: as a
    /// rejection would). A second firing finds nothing undecided.
    pub(super) fn expire(&mut self, step: &'a Step, task: &Task) {
        let StepKind::Approval(a) = &step.kind else { return };
        let on = a.on_expire.as_ref().map_or(&OnExpire::Reject, |o| &o.value);
        let outcome = match on {
            OnExpire::Approve => "approved",
            OnExpire::Reject => "rejected",
            OnExpire::Cancel => "cancelled",
            OnExpire::Goto(_) => "goto",
        };
        let undecided: Vec<u32> = self.siblings(task).iter().filter(|t| t.status.is_active()).map(|t| t.no).collect();
        for no in &undecided {
            self.act(Action::ClearTimers { scope: TimerScope::Task { task: *no } });
            self.emit_as(crate::event::SYSTEM, EventKind::TaskExpired { task: *no, outcome: outcome.to_string() });
        }
        self.notice(NotifyEvent::TaskExpired, Some(task.no), Some(&task.step), None);
        let Some(task) = self.state.task(task.no).cloned() else { return };
        let final_decision = matches!(task.kind, TaskKind::Approval { final_decision: true, .. });
        let id = step.id.value.clone();
        let reason = format!("the approval `{id}` expired undecided");
        match on {
            OnExpire::Approve => self.approval_progress(step, &task, final_decision),
            OnExpire::Reject => self.rejected(step, &task, final_decision),
            OnExpire::Cancel => self.end_instance(InstanceStatus::Cancelled, reason),
            OnExpire::Goto(goto) => {
                let others: Vec<u32> =
                    self.state.tasks.iter().filter(|t| t.step == id && t.status.is_active()).map(|t| t.no).collect();
                self.cancel_tasks(others, "the approval expired");
                let round = self.state.step(&id).map_or(1, |s| s.round);
                self.rework(id, goto.value.clone(), reason, round);
            }
        }
        self.progress();
    }

    /// Sends the work back to `goto`: it and every step between it and the
    /// approval get a new round; their open tasks, children and timers go.
    fn rework(&mut self, id: String, goto: String, comment: String, round: u32) {
        let reopened = self.rework_path(&goto, &id);
        let stale: Vec<u32> = self
            .state
            .tasks
            .iter()
            .filter(|t| reopened.contains(&t.step) && t.status.is_active())
            .map(|t| t.no)
            .collect();
        self.cancel_tasks(stale, "superseded by rework");
        let children: Vec<uuid::Uuid> =
            self.state.children.iter().filter(|c| reopened.contains(&c.step) && !c.finished).map(|c| c.id).collect();
        for child in children {
            self.act(Action::CancelChild { id: child, reason: "superseded by rework".into() });
        }
        for s in &reopened {
            let round_of = self.state.step(s).map_or(1, |st| st.round);
            self.act(Action::ClearTimers { scope: TimerScope::Step { step: s.clone(), round: round_of } });
        }
        let order: Vec<String> =
            self.workflow().steps.iter().map(|s| s.id.value.clone()).filter(|s| reopened.contains(s)).collect();
        self.emit(EventKind::ReworkStarted { approval: id, goto, round: round + 1, comment, reopened: order });
    }

    /// The rework target and every step between it and the approval (inclusive).
    fn rework_path(&self, goto: &str, approval: &str) -> HashSet<String> {
        let wf = self.workflow();
        let ancestors = |of: &str| -> HashSet<String> {
            let mut seen = HashSet::new();
            let mut todo = vec![of.to_string()];
            while let Some(id) = todo.pop() {
                if let Some(s) = wf.step(&id) {
                    for a in &s.common.after {
                        if seen.insert(a.value.clone()) {
                            todo.push(a.value.clone());
                        }
                    }
                }
            }
            seen
        };
        let up_to_approval = ancestors(approval);
        let mut path: HashSet<String> = wf
            .steps
            .iter()
            .map(|s| s.id.value.clone())
            .filter(|s| up_to_approval.contains(s) && ancestors(s).contains(goto))
            .collect();
        path.insert(goto.to_string());
        path.insert(approval.to_string());
        path
    }

    /// `then: {reassign: R}`: R makes one final decision.
    fn final_decision(&mut self, step: &'a Step, task: &Task, to: &smmflow_spec::recipient::Recipient) {
        let scope = self.scope(None, &crate::eval::recipient_sources(std::slice::from_ref(to)));
        let who = match self.recipient_text(to, &scope) {
            Ok(w) => w,
            Err(e) => return self.incident(&step.id.value, e),
        };
        let (role, assignee) = match who.split_once(':') {
            Some(("role", r)) => (Some(r.to_string()), None),
            Some((_, u)) => (None, Some(u.to_string())),
            None => (None, Some(who.clone())),
        };
        let kind = TaskKind::Approval { level: 0, external: false, final_decision: true };
        let item = task.item.map(|i| (i, self.item_value(&task.step, i)));
        let candidates = assignee.iter().cloned().collect();
        self.create_tasks(step, vec![Draft { kind, item, occurrence: task.occurrence, role, candidates, assignee }]);
    }

    fn end_rejected(&mut self, step: &str, comment: String) {
        self.emit(EventKind::InstanceRejected { step: step.to_string(), comment });
        self.ended(InstanceStatus::Rejected, Value::Null);
    }
}

/// Whether a task counts as an approval of its level: approved, or expired
/// with `on_expire: approve`.
fn passes(t: &Task) -> bool {
    t.status == TaskStatus::Approved
        || (t.status == TaskStatus::Expired
            && t.output.as_ref().and_then(|o| o.get("decision")).and_then(Value::as_str) == Some("approved"))
}

/// The form's defaults applied and the output checked; errors name the fields.
fn checked_output(step: &Step, output: Value) -> Result<Value, Error> {
    let StepKind::Task(t) = &step.kind else { return Ok(output) };
    let mut map = match output {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        other if t.form.is_empty() => return Ok(other),
        other => return Err(Error::bad_input(format!("the output must be a mapping of form fields, not {other}"))),
    };
    if t.form.is_empty() {
        return Ok(Value::Object(map));
    }
    smmflow_spec::field::apply_defaults(&t.form, &mut map);
    let mut fields = Vec::new();
    smmflow_spec::field::check_fields(&t.form, &map, &[], &mut fields);
    if !fields.is_empty() {
        return Err(Error::BadUserInput { message: "the form has errors".into(), fields });
    }
    Ok(Value::Object(map))
}
