//! The reducer: folds one event into an instance's state. Deterministic and
//! total, so replaying an instance's events rebuilds its state exactly.

use serde_json::{Value, json};

use crate::event::{Event, EventKind};
use crate::model::{Child, Comment, Incident, Instance, InstanceStatus, ItemResult, StepState, StepStatus, TaskStatus};

/// Builds the state from a full event log (the first event starts the instance).
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<Instance> {
    let mut events = events.into_iter();
    let mut state = start(events.next()?)?;
    for e in events {
        apply(&mut state, e);
    }
    Some(state)
}

/// The state an `instance.started` event creates.
pub fn start(e: &Event) -> Option<Instance> {
    let EventKind::InstanceStarted {
        id,
        workflow,
        version,
        workspace,
        inputs,
        steps,
        parent,
        schedule,
        calendar,
        context,
    } = &e.kind
    else {
        return None;
    };
    Some(Instance {
        id: *id,
        workflow: workflow.clone(),
        version: *version,
        workspace: workspace.clone(),
        status: InstanceStatus::Running,
        inputs: inputs.clone(),
        started_at: e.at,
        started_by: e.actor.clone(),
        completed_at: None,
        parent: parent.clone(),
        schedule: schedule.clone(),
        calendar: calendar.clone(),
        workspace_scope: context.clone(),
        steps: steps.iter().map(|s| (s.clone(), StepState::new())).collect(),
        tasks: Vec::new(),
        children: Vec::new(),
        held_timers: Vec::new(),
        outputs: None,
        end_reason: None,
        seq: e.seq,
    })
}

/// Changes a step's state; events naming a step the instance does not have change nothing.
fn with_step(s: &mut Instance, id: &str, f: impl FnOnce(&mut StepState)) {
    if let Some(st) = s.steps.get_mut(id) {
        f(st);
    }
}

/// A value as an optional field: JSON `null` is "none", so that the state
/// survives a round trip through JSON unchanged.
fn present(v: &Value) -> Option<Value> {
    (!v.is_null()).then(|| v.clone())
}

/// Where a task's result goes among its step's results.
fn result_slot(item: Option<usize>, occurrence: Option<u32>) -> usize {
    item.or(occurrence.map(|o| o.saturating_sub(1) as usize)).unwrap_or(0)
}

fn finish_task(s: &mut Instance, no: u32, status: TaskStatus, output: Value, e: &Event) {
    let Some(t) = s.task_mut(no) else { return };
    t.status = status;
    t.completed_at = Some(e.at);
    t.completed_by = Some(e.actor.clone());
    t.assignee.get_or_insert_with(|| e.actor.clone());
    t.output = present(&output);
    let (step_id, slot, is_task) = (t.step.clone(), result_slot(t.item, t.occurrence), !t.is_approval());
    if is_task {
        let by = Some(e.actor.clone());
        with_step(s, &step_id, |st| {
            st.results.insert(slot, ItemResult { output, by });
        });
    }
}

/// Applies one event. Events for unknown tasks or steps change nothing.
pub fn apply(s: &mut Instance, e: &Event) {
    use EventKind::*;
    s.seq = e.seq;
    match &e.kind {
        InstanceStarted { .. } => {}
        StepReady { step: id } => with_step(s, id, |st| {
            st.status = StepStatus::Ready;
            st.ready_at = Some(e.at);
            st.not_before = None;
        }),
        StepDeferred { step: id, until } => with_step(s, id, |st| st.not_before = Some(*until)),
        StepItems { step: id, items } => with_step(s, id, |st| st.items = Some(items.clone())),
        StepSkipped { step: id, .. } => with_step(s, id, |st| {
            st.status = StepStatus::Skipped;
            st.completed_at = Some(e.at);
        }),
        StepCompleted { step: id, output, completed_by } => with_step(s, id, |st| {
            st.status = StepStatus::Done;
            st.output = present(output);
            st.completed_by = present(completed_by);
            st.completed_at = Some(e.at);
            st.not_before = None;
        }),
        StepFailed { step: id, reason } => with_step(s, id, |st| {
            st.status = StepStatus::Failed;
            st.incident = Some(Incident { message: reason.clone(), at: e.at });
        }),
        IncidentRaised { step: id, message } => {
            with_step(s, id, |st| st.incident = Some(Incident { message: message.clone(), at: e.at }))
        }
        IncidentCleared { step: id } => with_step(s, id, |st| st.incident = None),
        RepeatFired { step: id, occurrence } => with_step(s, id, |st| st.occurrences = *occurrence),
        RepeatEnded { step: id } => with_step(s, id, |st| st.series_ended = true),
        TaskCreated { task } => s.tasks.push((**task).clone()),
        TaskClaimed { task, user } => {
            if let Some(t) = s.task_mut(*task) {
                t.status = TaskStatus::Claimed;
                t.assignee = Some(user.clone());
                t.claimed_at.get_or_insert(e.at);
            }
        }
        TaskReleased { task } => {
            if let Some(t) = s.task_mut(*task) {
                t.status = TaskStatus::Open;
                t.assignee = None;
            }
        }
        TaskReassigned { task, user, role } => {
            if let Some(t) = s.task_mut(*task) {
                match user {
                    Some(u) => {
                        t.status = TaskStatus::Claimed;
                        t.assignee = Some(u.clone());
                        if !t.candidates.contains(u) {
                            t.candidates.push(u.clone());
                        }
                    }
                    None => {
                        t.status = TaskStatus::Open;
                        t.assignee = None;
                        t.candidates.clear();
                        if role.is_some() {
                            t.role = role.clone();
                        }
                    }
                }
            }
        }
        TaskCompleted { task, output } => finish_task(s, *task, TaskStatus::Completed, output.clone(), e),
        TaskApproved { task, comment } => {
            finish_task(s, *task, TaskStatus::Approved, json!({"decision": "approved", "comment": comment}), e)
        }
        TaskRejected { task, comment, reasons } => {
            let output = json!({"decision": "rejected", "comment": comment, "reasons": reasons});
            finish_task(s, *task, TaskStatus::Rejected, output, e)
        }
        TaskCancelled { task, .. } => {
            if let Some(t) = s.task_mut(*task) {
                t.status = TaskStatus::Cancelled;
                t.completed_at = Some(e.at);
            }
        }
        TaskSkipped { task, .. } => finish_task(s, *task, TaskStatus::Skipped, Value::Null, e),
        CommentAdded { task, body } => {
            if let Some(t) = s.task_mut(*task) {
                t.comments.push(Comment { body: body.clone(), author: e.actor.clone(), at: e.at });
            }
        }
        TaskReminded { task, reminder } => {
            if let Some(t) = s.task_mut(*task) {
                t.reminded.push(*reminder);
                t.last_reminded_at = Some(e.at);
            }
        }
        TaskFollowedUp { task, follow_up } => {
            if let Some(t) = s.task_mut(*task) {
                t.followed_up.push(*follow_up);
                t.last_reminded_at = Some(e.at);
            }
        }
        TaskExpired { task, outcome } => {
            let decision = if outcome == "approved" { "approved" } else { "expired" };
            let comment = "nobody decided before the approval expired";
            let output = json!({"decision": decision, "comment": comment, "reasons": [], "expired": true});
            finish_task(s, *task, TaskStatus::Expired, output, e);
        }
        TaskOverdue { task } => {
            if let Some(t) = s.task_mut(*task) {
                t.overdue_noticed = true;
            }
        }
        TaskEscalated { task, stage } => {
            if let Some(t) = s.task_mut(*task) {
                t.escalated.push(*stage);
            }
        }
        ReworkStarted { round, comment, reopened, .. } => {
            for id in reopened {
                with_step(s, id, |st| {
                    let previous = st.output.take();
                    *st = StepState {
                        round: *round,
                        previous_output: previous,
                        rework_comment: Some(Comment { body: comment.clone(), author: e.actor.clone(), at: e.at }),
                        ..StepState::new()
                    };
                });
            }
        }
        ChildStarted { step: id, item, child, workflow } => s.children.push(Child {
            id: *child,
            step: id.clone(),
            item: *item,
            workflow: workflow.clone(),
            finished: false,
        }),
        ChildFinished { step: id, item, child, outputs, .. } => {
            if let Some(c) = s.children.iter_mut().find(|c| c.id == *child) {
                c.finished = true;
            }
            with_step(s, id, |st| {
                st.results.insert(item.unwrap_or(0), ItemResult { output: outputs.clone(), by: None });
            });
        }
        TimerHeld { key } => {
            if !s.held_timers.contains(key) {
                s.held_timers.push(key.clone());
            }
        }
        InstanceSuspended => s.status = InstanceStatus::Suspended,
        InstanceResumed => {
            s.status = InstanceStatus::Running;
            s.held_timers.clear();
        }
        InstanceCompleted { outputs } => {
            s.status = InstanceStatus::Completed;
            s.completed_at = Some(e.at);
            s.outputs = present(outputs);
        }
        InstanceCancelled { reason } | InstanceFailed { reason } => {
            s.status = if matches!(e.kind, InstanceCancelled { .. }) {
                InstanceStatus::Cancelled
            } else {
                InstanceStatus::Failed
            };
            s.completed_at = Some(e.at);
            s.end_reason = Some(reason.clone());
        }
        InstanceRejected { comment, .. } => {
            s.status = InstanceStatus::Rejected;
            s.completed_at = Some(e.at);
            s.end_reason = Some(comment.clone());
        }
    }
}
