//! The `mine` inbox: tasks claimed by me, or open for one of my (workspace,
//! role) memberships. As one query its branches are joined by OR, and
//! PostgreSQL answers that with a bitmap of every matching row, a heap visit
//! of each, and a sort: with 10,000 open tasks for my role, each page and
//! each count visits all 10,000. So on PostgreSQL each branch is its own
//! query (the branches are disjoint: claimed, or open in one workspace and
//! role), answered by its index in order: a page reads at most its end from
//! each branch and merges them; a count adds the branches' counts (index
//! only scans once the table is vacuumed). SQLite unions the OR's branches
//! itself and keeps the single query.

use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryOrder, QuerySelect};

use crate::entity::task;
use crate::instances::task_row;
use crate::{Result, Store, TaskFilter, TaskRow};

/// More branches than this (memberships + 1) keep the single query.
const MAX_BRANCHES: usize = 16;
/// Pages ending further in keep the single query (each branch would read
/// up to the page's end).
const MAX_END: u64 = 1_000;

/// Claimed by `me` (in the workspaces I may see).
fn claimed(me: &str, visible: Option<&[String]>) -> Condition {
    let mut c = Condition::all().add(task::Column::Assignee.eq(me)).add(task::Column::Status.eq("claimed"));
    if let Some(v) = visible {
        c = c.add(task::Column::Workspace.is_in(v.to_vec()));
    }
    c
}

/// Open for one membership.
fn open_for(workspace: &str, role: &str) -> Condition {
    Condition::all()
        .add(task::Column::Status.eq("open"))
        .add(task::Column::Workspace.eq(workspace))
        .add(task::Column::Role.eq(role))
}

/// The whole `mine` condition, as one OR.
pub(crate) fn mine(me: &str, memberships: &[(String, String)], visible: Option<&[String]>) -> Condition {
    let mut roles = Condition::any();
    for (ws, role) in memberships {
        roles = roles.add(
            Condition::all().add(task::Column::Workspace.eq(ws.as_str())).add(task::Column::Role.eq(role.as_str())),
        );
    }
    let open_for_me = Condition::all().add(task::Column::Status.eq("open")).add(roles);
    Condition::any().add(claimed(me, visible)).add(open_for_me)
}

impl Store {
    /// The branches to query one by one, when that is the better plan.
    /// `page`: for a page (which must have a limit), not a count.
    pub(crate) fn inbox_branches(&self, f: &TaskFilter, page: bool) -> Option<Vec<Condition>> {
        let (me, memberships) = f.mine.as_ref()?;
        if !self.is_postgres() || memberships.len() + 1 > MAX_BRANCHES {
            return None;
        }
        if page && f.limit.is_none_or(|l| f.offset.unwrap_or(0).saturating_add(l) > MAX_END) {
            return None;
        }
        let mut branches = vec![claimed(me, f.visible.as_deref())];
        branches.extend(memberships.iter().map(|(ws, role)| open_for(ws, role)));
        Some(branches)
    }

    /// A page of the inbox: each branch up to the page's end, in order, merged.
    pub(crate) async fn tasks_by_branch(&self, f: &TaskFilter, branches: Vec<Condition>) -> Result<Vec<TaskRow>> {
        let offset = f.offset.unwrap_or(0);
        let end = offset.saturating_add(f.limit.unwrap_or(MAX_END)).min(MAX_END);
        let mut rows = Vec::new();
        for b in branches {
            let q = Self::task_query_with(f, Some(b))
                .order_by_asc(task::Column::CreatedAt)
                .order_by_asc(task::Column::InstanceId)
                .order_by_asc(task::Column::No)
                .limit(end);
            rows.extend(q.all(self.conn()).await?);
        }
        // The single query's order. Instance ids are canonical UUID text, which
        // sorts the same by bytes as in PostgreSQL's collations.
        rows.sort_by(|a, b| (a.created_at, &a.instance_id, a.no).cmp(&(b.created_at, &b.instance_id, b.no)));
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(end.saturating_sub(offset)).unwrap_or(usize::MAX);
        rows.into_iter().skip(skip).take(take).map(task_row).collect()
    }

    /// The inbox's count: the branches' counts added (they are disjoint).
    pub(crate) async fn count_by_branch(&self, f: &TaskFilter, branches: Vec<Condition>) -> Result<u64> {
        let mut total = 0;
        for b in branches {
            total += Self::task_query_with(f, Some(b)).count(self.conn()).await?;
        }
        Ok(total)
    }
}
