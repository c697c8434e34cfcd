//! What analytics read: task rows (kept current on every commit) that
//! matter for a period: completed in it, due in it, or still open.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use serde_json::Value;

use crate::entity::task;
use crate::{Result, Store, db_time};

/// One task as analytics see it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskFact {
    pub workspace: String,
    pub workflow: String,
    pub step: String,
    /// `task` or `approval`.
    pub kind: String,
    pub status: String,
    pub role: Option<String>,
    pub assignee: Option<String>,
    pub party: String,
    pub calendar: Option<String>,
    pub round: u32,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub reasons: Vec<String>,
}

/// Which tasks: a period, and optionally some workspaces and one workflow.
#[derive(Clone, Debug)]
pub struct FactFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only these workspaces; `None`: all.
    pub workspaces: Option<Vec<String>>,
    pub workflow: Option<String>,
}

#[derive(sea_orm::FromQueryResult)]
struct Row {
    workspace: String,
    workflow: String,
    step: String,
    kind: String,
    status: String,
    role: Option<String>,
    assignee: Option<String>,
    party: String,
    calendar: Option<String>,
    round: i32,
    due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    claimed_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    reasons: Option<Value>,
}

impl Store {
    /// Tasks completed in the period, due in it, or open now.
    pub async fn task_facts(&self, f: &FactFilter) -> Result<Vec<TaskFact>> {
        use task::Column as C;
        let (from, to) = (db_time(f.from), db_time(f.to));
        let mut q = task::Entity::find()
            .select_only()
            .columns([C::Workspace, C::Workflow, C::Step, C::Kind, C::Status, C::Role, C::Assignee, C::Party])
            .columns([C::Calendar, C::Round, C::DueAt, C::CreatedAt, C::ClaimedAt, C::CompletedAt, C::Reasons])
            .filter(
                Condition::any()
                    .add(Expr::col(C::CompletedAt).gte(from).and(Expr::col(C::CompletedAt).lt(to)))
                    .add(Expr::col(C::DueAt).gte(from).and(Expr::col(C::DueAt).lt(to)))
                    .add(C::Status.is_in(["open", "claimed"])),
            );
        if let Some(ws) = &f.workspaces {
            q = q.filter(C::Workspace.is_in(ws.clone()));
        }
        if let Some(wf) = &f.workflow {
            q = q.filter(C::Workflow.eq(wf.clone()));
        }
        let rows: Vec<Row> = q.into_model::<Row>().all(self.conn()).await?;
        Ok(rows
            .into_iter()
            .map(|r| TaskFact {
                workspace: r.workspace,
                workflow: r.workflow,
                step: r.step,
                kind: r.kind,
                status: r.status,
                role: r.role,
                assignee: r.assignee,
                party: r.party,
                calendar: r.calendar,
                round: u32::try_from(r.round).unwrap_or(1),
                due_at: r.due_at,
                created_at: r.created_at,
                claimed_at: r.claimed_at,
                completed_at: r.completed_at,
                reasons: r
                    .reasons
                    .and_then(|v| v.as_array().cloned())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Open (or claimed) tasks per role in a workspace now.
    pub async fn open_tasks_by_role(&self, workspace: &str) -> Result<Vec<(String, u64)>> {
        use task::Column as C;
        let rows: Vec<(Option<String>, i64)> = task::Entity::find()
            .select_only()
            .column(C::Role)
            .column_as(Expr::col(C::No).count(), "n")
            .filter(C::Workspace.eq(workspace))
            .filter(C::Status.is_in(["open", "claimed"]))
            .group_by(C::Role)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().filter_map(|(r, n)| Some((r?, u64::try_from(n).unwrap_or(0)))).collect())
    }
}
