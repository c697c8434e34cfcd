//! `Task.rounds` on an approval: for each round of its rework loop, the
//! output of the work it reviews (the nearest task steps before it, walking
//! back past other approvals) and the decision made on it.

use async_graphql::{Context, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use smmflow_engine::{Instance, Task, TaskKind, TaskStatus};
use smmflow_spec::{StepKind, Workflow};

use crate::error::ApiResult as Result;
use crate::types::people::UserObj;

/// One round of an approval.
pub struct StepRoundObj {
    pub round: u32,
    /// The reviewed work's output (one step: its output; several: by step id).
    pub output: Value,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The decision on it, when one was made.
    pub decision: Option<Task>,
}

/// One round of an approval's rework loop: the work it reviewed and the decision made on it.
#[Object(name = "StepRound")]
impl StepRoundObj {
    /// The round number: 1, then one more for each rework.
    async fn round(&self) -> i32 {
        i32::try_from(self.round).unwrap_or(i32::MAX)
    }
    /// What was reviewed in this round.
    async fn output(&self) -> Json<Value> {
        Json(self.output.clone())
    }
    /// Who completed the reviewed work (the last to finish, when several steps are reviewed).
    async fn completed_by(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        match &self.completed_by {
            Some(login) => Ok(crate::user_of(ctx, login).await?.map(UserObj::new)),
            None => Ok(None),
        }
    }
    /// When the reviewed work was completed (RFC 3339, UTC).
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at
    }
    /// `approved`, `rejected` or `expired`; null while undecided.
    async fn decision(&self) -> Option<&str> {
        self.decision.as_ref().map(|t| match t.status {
            TaskStatus::Approved => "approved",
            TaskStatus::Expired => "expired",
            _ => "rejected",
        })
    }
    /// The decision's comment (null when there is none).
    async fn comment(&self) -> Option<&str> {
        self.decision.as_ref()?.output.as_ref()?.get("comment")?.as_str()
    }
    /// The reasons a rejection named.
    async fn reasons(&self) -> Vec<String> {
        let reasons = self.decision.as_ref().and_then(|t| t.output.as_ref()).and_then(|o| o.get("reasons"));
        reasons
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
    /// Who decided (null while undecided, or when no user did, e.g. an external approver or an expiry).
    async fn decided_by(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        match self.decision.as_ref().and_then(|t| t.completed_by.as_ref()) {
            Some(login) => Ok(crate::user_of(ctx, login).await?.map(UserObj::new)),
            None => Ok(None),
        }
    }
    /// When it was decided (RFC 3339, UTC); null while undecided.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.decision.as_ref().and_then(|t| t.completed_at)
    }
}

/// The task steps an approval reviews: the nearest ones before it.
fn reviewed_steps(wf: &Workflow, approval: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = vec![approval.to_string()];
    let mut found = Vec::new();
    while let Some(id) = queue.pop() {
        let Some(step) = wf.step(&id) else { continue };
        for before in &step.common.after {
            if !seen.insert(before.value.clone()) {
                continue;
            }
            match wf.step(&before.value).map(|b| &b.kind) {
                Some(StepKind::Approval(_)) => queue.push(before.value.clone()),
                Some(_) => found.push(before.value.clone()),
                None => {}
            }
        }
    }
    found
}

/// The rounds of an approval task, oldest first (empty for a task).
pub fn rounds(wf: &Workflow, state: &Instance, task: &Task) -> Vec<StepRoundObj> {
    if !matches!(task.kind, TaskKind::Approval { .. }) {
        return Vec::new();
    }
    let work = reviewed_steps(wf, &task.step);
    (1..=task.round)
        .map(|round| {
            let done: Vec<&Task> = state
                .tasks
                .iter()
                .filter(|t| t.round == round && t.item == task.item && t.status == TaskStatus::Completed)
                .filter(|t| work.contains(&t.step))
                .collect();
            let output = match done.as_slice() {
                [one] => one.output.clone().unwrap_or(Value::Null),
                many => Value::Object(
                    many.iter()
                        .map(|t| (t.step.clone(), t.output.clone().unwrap_or(Value::Null)))
                        .collect::<Map<_, _>>(),
                ),
            };
            let last = done.iter().max_by_key(|t| t.completed_at);
            let decision = state
                .tasks
                .iter()
                .filter(|t| t.step == task.step && t.round == round && t.item == task.item)
                .filter(|t| matches!(t.status, TaskStatus::Approved | TaskStatus::Rejected | TaskStatus::Expired))
                .max_by_key(|t| t.completed_at)
                .cloned();
            StepRoundObj {
                round,
                output,
                completed_by: last.and_then(|t| t.completed_by.clone()),
                completed_at: last.and_then(|t| t.completed_at),
                decision,
            }
        })
        .collect()
}
