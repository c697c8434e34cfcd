//! `smmflow data export`: one workspace's data as JSON Lines, one record
//! per line, each with a `type` (docs/operations.md, "Export format").
//! Only rows of that workspace are read: its profile and its history, its
//! members (their names, e-mails and roles here, nothing of their other
//! workspaces), its schedules and fires, its instances with their event
//! logs and tasks (outputs and comments), its publications.

use futures_util::TryStreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use smmflow_engine::Instance;

use crate::entity::*;
use crate::{Error, Result, Store};

/// The format's name and version, in the first record.
pub const EXPORT_FORMAT: &str = "smmflow-export/1";

/// How many records of each type an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportReport {
    pub counts: Vec<(&'static str, u64)>,
}

impl ExportReport {
    fn add(&mut self, kind: &'static str) {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((kind, 1)),
        }
    }
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// Writes `workspace`'s records, in order, to `out`. NotFound when it does not exist.
    pub async fn export_workspace(
        &self,
        workspace: &str,
        now: chrono::DateTime<chrono::Utc>,
        out: &mut (dyn FnMut(&Value) -> std::io::Result<()> + Send),
    ) -> Result<ExportReport> {
        let db = self.conn();
        let io = |e: std::io::Error| Error::Setting(format!("writing the export: {e}"));
        let mut report = ExportReport::default();
        let mut emit = |kind: &'static str, v: Value, report: &mut ExportReport| -> Result<()> {
            report.add(kind);
            out(&v).map_err(io)
        };
        let Some(ws) = workspace::Entity::find_by_id(workspace.to_string()).one(db).await? else {
            return Err(Error::NotFound(format!("workspace `{workspace}`")));
        };
        emit(
            "export",
            json!({"type": "export", "format": EXPORT_FORMAT, "workspace": ws.key, "exported_at": time(&now)}),
            &mut report,
        )?;
        emit(
            "workspace",
            json!({"type": "workspace", "key": ws.key, "name": ws.name, "timezone": ws.timezone,
                "calendar": ws.calendar, "profile": ws.profile, "profile_version": ws.profile_version,
                "posting_limits": ws.posting_limits, "created_at": time(&ws.created_at)}),
            &mut report,
        )?;
        let versions = workspace_profile::Entity::find()
            .filter(workspace_profile::Column::Workspace.eq(workspace))
            .order_by_asc(workspace_profile::Column::Version)
            .all(db)
            .await?;
        for p in versions {
            emit(
                "profile_version",
                json!({"type": "profile_version", "version": p.version, "profile": p.profile,
                    "changed_at": time(&p.changed_at), "changed_by": p.changed_by}),
                &mut report,
            )?;
        }
        // Members: their roles here only.
        let roles = membership::Entity::find()
            .filter(membership::Column::Workspace.eq(workspace))
            .order_by_asc(membership::Column::UserLogin)
            .order_by_asc(membership::Column::Role)
            .all(db)
            .await?;
        let mut logins: Vec<&str> = roles.iter().map(|m| m.user_login.as_str()).collect();
        logins.dedup();
        for login in logins {
            let Some(u) = user::Entity::find_by_id(login.to_string()).one(db).await? else { continue };
            let mine: Vec<&str> = roles.iter().filter(|m| m.user_login == login).map(|m| m.role.as_str()).collect();
            emit(
                "member",
                json!({"type": "member", "login": u.login, "name": u.name, "email": u.email, "roles": mine}),
                &mut report,
            )?;
        }
        let schedules = schedule::Entity::find()
            .filter(schedule::Column::Workspace.eq(workspace))
            .order_by_asc(schedule::Column::Id)
            .all(db)
            .await?;
        for s in schedules {
            emit(
                "schedule",
                json!({"type": "schedule", "id": s.id, "workflow": s.workflow, "spec": s.spec, "paused": s.paused,
                    "next_fire_at": s.next_fire_at.as_ref().map(time), "runs": s.runs,
                    "created_at": time(&s.created_at)}),
                &mut report,
            )?;
            let fires = schedule_fire::Entity::find()
                .filter(schedule_fire::Column::ScheduleId.eq(s.id.clone()))
                .order_by_asc(schedule_fire::Column::ScheduledFor)
                .all(db)
                .await?;
            for f in fires {
                emit(
                    "schedule_fire",
                    json!({"type": "schedule_fire", "schedule": f.schedule_id, "scheduled_for": time(&f.scheduled_for),
                        "fired_at": time(&f.fired_at), "instance": f.instance_id, "skipped": f.skipped,
                        "reason": f.reason}),
                    &mut report,
                )?;
            }
        }
        // Instances, each followed by its event log and its tasks.
        let mut instances = instance::Entity::find()
            .filter(instance::Column::Workspace.eq(workspace))
            .order_by_asc(instance::Column::StartedAt)
            .order_by_asc(instance::Column::Id)
            .stream(db)
            .await?;
        let mut ids = Vec::new();
        while let Some(m) = instances.try_next().await? {
            ids.push(m.id.clone());
            let state: Instance =
                serde_json::from_value(m.state).map_err(|e| Error::Corrupt(format!("instance {}: {e}", m.id)))?;
            emit(
                "instance",
                json!({"type": "instance", "id": m.id, "workflow": m.workflow, "version": m.version,
                    "status": m.status, "inputs": state.inputs, "outputs": state.outputs,
                    "end_reason": state.end_reason, "started_at": time(&m.started_at), "started_by": m.started_by,
                    "completed_at": m.completed_at.as_ref().map(time), "parent": m.parent_id,
                    "schedule": m.schedule_id}),
                &mut report,
            )?;
            for t in &state.tasks {
                emit(
                    "task",
                    json!({"type": "task", "instance": m.id, "no": t.no, "step": t.step, "title": t.title,
                        "instructions": t.instructions, "kind": t.kind, "status": t.status, "round": t.round,
                        "role": t.role, "assignee": t.assignee, "priority": t.priority,
                        "created_at": time(&t.created_at), "due_at": t.due_at.as_ref().map(time),
                        "completed_at": t.completed_at.as_ref().map(time), "completed_by": t.completed_by,
                        "output": t.output, "comments": t.comments}),
                    &mut report,
                )?;
            }
        }
        drop(instances);
        for id in ids {
            let events = event::Entity::find()
                .filter(event::Column::InstanceId.eq(id.clone()))
                .order_by_asc(event::Column::Seq)
                .all(db)
                .await?;
            for e in events {
                emit(
                    "event",
                    json!({"type": "event", "instance": e.instance_id, "seq": e.seq, "kind": e.kind,
                        "at": time(&e.at), "actor": e.actor, "data": e.data}),
                    &mut report,
                )?;
            }
        }
        let publications = publication::Entity::find()
            .filter(publication::Column::Workspace.eq(workspace))
            .order_by_asc(publication::Column::At)
            .all(db)
            .await?;
        for p in publications {
            emit(
                "publication",
                json!({"type": "publication", "instance": p.instance, "channel": p.channel, "title": p.title,
                    "at": time(&p.at)}),
                &mut report,
            )?;
        }
        Ok(report)
    }
}
