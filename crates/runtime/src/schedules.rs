//! Schedules at run time: YAML schedules synced at deploy, API schedules,
//! and the firing service. Each due schedule is handled in one transaction:
//! the planned fires (see `smmflow_engine::schedule`) start instances or are
//! recorded as skipped, overlap is applied against the previous run, and
//! the fire rows' primary key (schedule, time) makes a second start of the
//! same fire impossible.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use smmflow_engine::model::ScheduleRef;
use smmflow_engine::schedule::{Fire, Plan, first_after, plan};
use smmflow_engine::{Command, Instance};
use smmflow_spec::Diagnostic;
use smmflow_spec::schedule::{Overlap, Schedule, Target};
use smmflow_spec::time::DateOrTime;
use smmflow_store::{FireRow, ScheduleRow, Tx};
use uuid::Uuid;

use crate::exec::{Buffer, OnRefusal, Work};
use crate::{Error, Result, Runtime};

/// Checks a schedule's settings with the workflow language's own decoder.
pub fn decode_spec(spec: &Value) -> std::result::Result<Schedule, Vec<Diagnostic>> {
    let text = serde_json::to_string(spec).unwrap_or_default();
    let mut sink = smmflow_spec::diag::Sink::new("schedule");
    let node = smmflow_spec::yaml::parse(&text, &mut sink);
    let decoded = node.and_then(|n| Schedule::decode(&n, &mut sink));
    let problems: Vec<Diagnostic> = sink.into_vec().into_iter().filter(Diagnostic::is_error).collect();
    match decoded {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(problems),
    }
}

/// A schedule's window as instants: a date `starts` at the start of that
/// day and `ends` with its last second, in the schedule's timezone.
pub fn window(s: &Schedule) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let tz = s.timezone.value;
    (s.starts.as_ref().map(|d| d.value.start_in(tz)), s.ends.as_ref().map(|d| d.value.end_in(tz)))
}

pub fn plan_of(s: &Schedule, runs: i32) -> Plan<'_> {
    let (starts, ends) = window(s);
    let window = match s.catch_up_window {
        smmflow_spec::Duration::Wall(secs) => Duration::seconds(secs.min(i64::MAX as u64 / 2) as i64),
        _ => Duration::days(1),
    };
    Plan {
        cron: &s.cron.value,
        timezone: s.timezone.value,
        missed: s.missed,
        catch_up_window: window,
        starts,
        ends,
        max_runs: s.max_runs,
        runs: runs.max(0) as u32,
    }
}

/// A schedule's settings as stored (the YAML keys), for one workspace in
/// one timezone (a `workspaces:` entry is stored once per workspace).
pub fn spec_json(s: &Schedule) -> Value {
    let ws = s.workspace.one().unwrap_or_default().to_string();
    spec_for(s, &ws, s.timezone.value)
}

fn spec_for(s: &Schedule, workspace: &str, timezone: chrono_tz::Tz) -> Value {
    let date = |d: &Option<smmflow_spec::decode::Sp<DateOrTime>>| {
        d.as_ref().map(|d| match d.value {
            DateOrTime::Date(d) => d.to_string(),
            DateOrTime::DateTime(t) => t.to_rfc3339(),
        })
    };
    json!({
        "cron": s.cron.value.source(),
        "timezone": timezone.name(),
        "workspace": workspace,
        "inputs": s.inputs.as_ref().map(|i| i.value.clone()).unwrap_or(json!({})),
        "missed": match s.missed { smmflow_spec::schedule::Missed::None => "none", smmflow_spec::schedule::Missed::Last => "last", smmflow_spec::schedule::Missed::All => "all" },
        "catch_up_window": s.catch_up_window.to_string(),
        "overlap": match s.overlap { Overlap::Allow => "allow", Overlap::Skip => "skip", Overlap::CancelPrevious => "cancel_previous" },
        "starts": date(&s.starts),
        "ends": date(&s.ends),
        "max_runs": s.max_runs,
    })
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

/// One schedule a workflow's `schedules:` asks for: its id, workspace and
/// settings. A `workspaces:` entry asks for one per matching workspace, in
/// that workspace's timezone unless the entry names one.
struct Wanted<'s> {
    id: String,
    workspace: String,
    schedule: &'s Schedule,
    spec: Value,
}

/// Whether a `workspaces:` entry covers a workspace.
fn covers(target: &Target, client: &Value) -> bool {
    match target {
        Target::One(k) => client.get("key").and_then(Value::as_str) == Some(k.value.as_str()),
        Target::All => true,
        Target::Matching(e) => {
            let scope = json!({"workspace": client});
            match smmflow_engine::eval::expr(&e.source, &scope) {
                Ok(v) => smmflow_engine::eval::truthy(&v),
                Err(err) => {
                    tracing::warn!(expression = %e.source, "a `workspaces:` expression failed: {err}");
                    false
                }
            }
        }
    }
}

/// The schedules `wf` asks for among `clients` (`workspace` scopes); with
/// `only`, those of that workspace alone.
fn wanted<'s>(wf: &'s smmflow_spec::Workflow, clients: &[Value], only: Option<&str>) -> Vec<Wanted<'s>> {
    let key = &wf.key.value;
    let mut out = Vec::new();
    for (i, s) in wf.schedules.iter().enumerate() {
        if let Target::One(ws) = &s.workspace {
            if only.is_none_or(|o| o == ws.value) {
                let spec = strip_nulls(spec_for(s, &ws.value, s.timezone.value));
                out.push(Wanted { id: format!("yaml:{key}:{i}"), workspace: ws.value.clone(), schedule: s, spec });
            }
            continue;
        }
        for c in clients.iter().filter(|c| covers(&s.workspace, c)) {
            let ws = c.get("key").and_then(Value::as_str).unwrap_or_default();
            let tz = if s.timezone_given {
                s.timezone.value
            } else {
                c.get("timezone").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::UTC)
            };
            let spec = strip_nulls(spec_for(s, ws, tz));
            out.push(Wanted { id: format!("yaml:{key}:{i}:{ws}"), workspace: ws.to_string(), schedule: s, spec });
        }
    }
    out
}

impl Runtime {
    /// Every workspace as `workspace:` expressions see it.
    async fn client_scopes(&self, tx: &Tx, only: Option<&str>) -> Result<Vec<Value>> {
        let schema = self.defs.profile(tx).await?;
        let rows = match only {
            Some(k) => tx.workspace(k).await?.into_iter().collect(),
            None => self.store.workspace_rows(None).await?,
        };
        Ok(rows
            .into_iter()
            .map(|w| {
                let profile = crate::clients::with_defaults(&schema, &w.profile);
                json!({"key": w.key, "name": w.name, "timezone": w.timezone, "profile": profile})
            })
            .collect())
    }

    /// The workspaces whose YAML schedules deploying `wf` would add, change
    /// or remove (compared with what its deployed version set up); `true`
    /// when it has `workspaces:` entries (which only admins may deploy).
    pub(crate) async fn schedule_workspaces_touched(&self, wf: &smmflow_spec::Workflow) -> Result<(Vec<String>, bool)> {
        let key = &wf.key.value;
        let tx = self.store.begin_read().await?;
        let existing: HashMap<String, ScheduleRow> =
            tx.yaml_schedules(key).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        drop(tx);
        let many = wf.schedules.iter().any(|s| s.workspace.one().is_none())
            || existing.values().any(|r| r.id.matches(':').count() > 2);
        let mut touched = Vec::new();
        let mut kept = Vec::new();
        for w in wanted(wf, &[], None) {
            match existing.get(&w.id) {
                Some(old) if old.spec == w.spec => {}
                Some(old) => touched.extend([old.workspace.clone(), w.workspace.clone()]),
                None => touched.push(w.workspace.clone()),
            }
            kept.push(w.id);
        }
        touched.extend(
            existing
                .values()
                .filter(|r| !kept.contains(&r.id) && r.id.matches(':').count() == 2)
                .map(|r| r.workspace.clone()),
        );
        touched.sort();
        touched.dedup();
        Ok((touched, many))
    }

    /// Brings a workflow's YAML schedules in line with its latest version.
    pub async fn sync_yaml_schedules(&self, workflow: &str) -> Result<()> {
        let def = self.definition(workflow, None).await?;
        let tx = self.store.begin().await?;
        let clients = self.client_scopes(&tx, None).await?;
        let existing = tx.yaml_schedules(workflow).await?;
        self.put_wanted(&tx, &def.workflow, wanted(&def.workflow, &clients, None), existing).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a workspace the `workspaces:` schedules it now matches (and
    /// takes away those it no longer does), after its settings or profile
    /// changed; in the caller's transaction.
    pub(crate) async fn sync_client_schedules(&self, tx: &Tx, workspace: &str) -> Result<()> {
        let clients = self.client_scopes(tx, Some(workspace)).await?;
        for key in tx.document_keys(smmflow_store::DocumentKind::Workflow).await? {
            let def = self.defs.get(tx, &key, None).await?;
            if def.workflow.schedules.iter().all(|s| s.workspace.one().is_some()) {
                let stale: Vec<ScheduleRow> = tx
                    .yaml_schedules(&key)
                    .await?
                    .into_iter()
                    .filter(|r| r.workspace == workspace && r.id.matches(':').count() > 2)
                    .collect();
                for r in stale {
                    tx.delete_schedule(&r.id).await?;
                }
                continue;
            }
            let mine: Vec<Wanted<'_>> = wanted(&def.workflow, &clients, Some(workspace))
                .into_iter()
                .filter(|w| w.id.matches(':').count() > 2)
                .collect();
            let existing: Vec<ScheduleRow> = tx
                .yaml_schedules(&key)
                .await?
                .into_iter()
                .filter(|r| r.workspace == workspace && r.id.matches(':').count() > 2)
                .collect();
            self.put_wanted(tx, &def.workflow, mine, existing).await?;
        }
        Ok(())
    }

    /// Writes the wanted schedules whose settings changed, deletes the
    /// existing ones no longer wanted.
    async fn put_wanted(
        &self,
        tx: &Tx,
        wf: &smmflow_spec::Workflow,
        wanted: Vec<Wanted<'_>>,
        existing: Vec<ScheduleRow>,
    ) -> Result<()> {
        let now = self.now();
        let existing: HashMap<String, ScheduleRow> = existing.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut keep = Vec::new();
        for w in wanted {
            let old = existing.get(&w.id);
            keep.push(w.id.clone());
            let s = w.schedule;
            let mut timed = s.clone();
            if let Some(tz) = w.spec.get("timezone").and_then(Value::as_str).and_then(|t| t.parse().ok()) {
                timed.timezone.value = tz;
            }
            let next = match old {
                Some(o) if o.spec == w.spec => continue,
                Some(o) => first_after(&plan_of(&timed, o.runs), now).or(o.next_fire_at),
                None => first_after(&plan_of(&timed, 0), now),
            };
            if !self.store.workspace_exists(&w.workspace).await? {
                tracing::warn!(schedule = %w.id, workspace = %w.workspace, "the schedule's workspace does not exist yet: it stays dormant until it does");
            }
            let row = ScheduleRow {
                id: w.id.clone(),
                workflow: wf.key.value.clone(),
                workspace: w.workspace,
                source: "yaml".into(),
                spec: w.spec,
                paused: old.is_some_and(|o| o.paused),
                next_fire_at: next,
                runs: old.map_or(0, |o| o.runs),
                created_at: old.map_or(now, |o| o.created_at),
                updated_at: now,
            };
            tx.put_schedule(&row).await?;
        }
        for id in existing.keys().filter(|id| !keep.contains(id)) {
            tx.delete_schedule(id).await?;
        }
        Ok(())
    }

    /// Creates (or replaces) a schedule from its settings; problems are diagnostics.
    pub(crate) async fn put_schedule(
        &self,
        id: Option<&str>,
        workflow: &str,
        spec: Value,
        paused: bool,
    ) -> Result<ScheduleRow> {
        let spec = strip_nulls(spec);
        smmflow_spec::text::value(&spec).map_err(|(path, message)| Error::Field {
            field: path.first().cloned().unwrap_or_else(|| "input".into()),
            message: format!("{}: {message}", path.join(".")),
        })?;
        let s = decode_spec(&spec).map_err(Error::Invalid)?;
        let gap = s.cron.value.min_gap_seconds();
        if gap < self.min_schedule_interval {
            let d = Diagnostic {
                code: smmflow_spec::Code::OutOfRange,
                file: "schedule".into(),
                pos: s.cron.pos,
                message: format!(
                    "`{}` fires every {gap} s; this deployment allows at most one fire every {} s",
                    s.cron.value.source(),
                    self.min_schedule_interval
                ),
                hint: None,
            };
            return Err(Error::Invalid(vec![d]));
        }
        self.definition(workflow, None).await?;
        let now = self.now();
        let tx = self.store.begin().await?;
        let old = match id {
            Some(id) => Some(tx.schedule(id).await?.ok_or_else(|| Error::NotFound(format!("schedule {id}")))?),
            None => None,
        };
        // An edit counts from the last handled fire: the fires in between follow `missed`.
        let from = match &old {
            Some(o) => {
                self.store.last_fires(&o.id, 1).await?.first().map_or(o.created_at, |f| f.scheduled_for).min(now)
            }
            None => now,
        };
        let runs = old.as_ref().map_or(0, |o| o.runs);
        let row = ScheduleRow {
            id: old.as_ref().map_or_else(|| format!("api:{}", Uuid::now_v7()), |o| o.id.clone()),
            workflow: workflow.to_string(),
            workspace: s.workspace.one().unwrap_or_default().to_string(),
            source: old.as_ref().map_or_else(|| "api".to_string(), |o| o.source.clone()),
            spec,
            paused,
            next_fire_at: first_after(&plan_of(&s, runs), from),
            runs,
            created_at: old.as_ref().map_or(now, |o| o.created_at),
            updated_at: now,
        };
        tx.put_schedule(&row).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub(crate) async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<ScheduleRow> {
        let tx = self.store.begin().await?;
        let mut row = tx.schedule(id).await?.ok_or_else(|| Error::NotFound(format!("schedule {id}")))?;
        row.paused = paused;
        row.updated_at = self.now();
        // Resuming keeps `next_fire_at`: the fires during the pause follow `missed`.
        tx.put_schedule(&row).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub(crate) async fn delete_schedule(&self, id: &str) -> Result<bool> {
        let tx = self.store.begin().await?;
        let gone = tx.delete_schedule(id).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Fires every schedule that is due; returns how many instances started.
    pub async fn fire_due_schedules(&self) -> Result<usize> {
        let mut started = 0;
        for _ in 0..10_000 {
            let now = self.now();
            let tx = self.store.begin().await?;
            let Some(row) = tx.due_schedule(now).await? else { return Ok(started) };
            let Ok(s) = decode_spec(&row.spec) else {
                tracing::warn!(schedule = %row.id, "a stored schedule no longer decodes; it is stopped");
                tx.schedule_progress(&row.id, None, row.runs, now).await?;
                tx.commit().await?;
                continue;
            };
            if s.cron.value.min_gap_seconds() < self.min_schedule_interval {
                // Made before the limit (or under a lower one): it would start
                // work faster than this deployment allows.
                tracing::warn!(schedule = %row.id, "a stored schedule fires more often than SMMFLOW_MIN_SCHEDULE_INTERVAL allows; it is stopped");
                tx.schedule_progress(&row.id, None, row.runs, now).await?;
                tx.commit().await?;
                continue;
            }
            let p = plan_of(&s, row.runs);
            if !self.store.workspace_exists(&row.workspace).await? {
                // Dormant until the workspace exists: nothing fires meanwhile.
                tx.schedule_progress(&row.id, first_after(&p, now), row.runs, now).await?;
                tx.commit().await?;
                continue;
            }
            let handled_until = row.next_fire_at.unwrap_or(now) - Duration::seconds(1);
            let step = plan(&p, handled_until, now);
            let mut runs = row.runs;
            let mut units = Vec::new();
            for fire in step.fires {
                match fire {
                    Fire::Skip(t, reason) => {
                        tx.record_fire(
                            &row.id,
                            &FireRow {
                                scheduled_for: t,
                                fired_at: now,
                                instance: None,
                                skipped: true,
                                reason: Some(reason),
                            },
                        )
                        .await?;
                    }
                    Fire::Start(t) => {
                        let open = tx.open_runs(&row.id).await?;
                        if !open.is_empty() {
                            match s.overlap {
                                Overlap::Allow => {}
                                Overlap::Skip => {
                                    let reason =
                                        Some("overlap: the previous run is still open (overlap: skip)".to_string());
                                    tx.record_fire(
                                        &row.id,
                                        &FireRow {
                                            scheduled_for: t,
                                            fired_at: now,
                                            instance: None,
                                            skipped: true,
                                            reason,
                                        },
                                    )
                                    .await?;
                                    continue;
                                }
                                Overlap::CancelPrevious => {
                                    for prev in open {
                                        let cancel =
                                            Command::Cancel { reason: format!("replaced by the scheduled run of {t}") };
                                        let work = Work::Command { id: prev, actor: "system".into(), command: cancel };
                                        let buf = self
                                            .decide_cascade(&tx, work, OnRefusal::Ignore, &Buffer::default())
                                            .await?;
                                        let announcements = buf.flush(&tx, now, &self.node).await?;
                                        self.announce(&tx, &announcements).await?;
                                        units.push(buf.staged);
                                    }
                                }
                            }
                        }
                        let id = Uuid::now_v7();
                        let inputs = s.inputs.as_ref().map_or(json!({}), |i| i.value.clone());
                        let work = Work::Start {
                            id,
                            workflow: row.workflow.clone(),
                            workspace: row.workspace.clone(),
                            inputs,
                            actor: "system".into(),
                            parent: None,
                            schedule: Some(ScheduleRef { schedule: row.id.clone(), scheduled_for: t }),
                            plan: false,
                        };
                        match self.decide_cascade(&tx, work, OnRefusal::Fail, &Buffer::default()).await {
                            Ok(buf) => {
                                // Written at once: the next fire's overlap check reads it.
                                let announcements = buf.flush(&tx, now, &self.node).await?;
                                self.announce(&tx, &announcements).await?;
                                let fire = FireRow {
                                    scheduled_for: t,
                                    fired_at: now,
                                    instance: Some(id),
                                    skipped: false,
                                    reason: None,
                                };
                                if !tx.record_fire(&row.id, &fire).await? {
                                    return Err(Error::Conflict(format!(
                                        "fire {t} of schedule {} was handled elsewhere",
                                        row.id
                                    )));
                                }
                                runs += 1;
                                started += 1;
                                units.push(buf.staged);
                            }
                            Err(e) => {
                                let reason = Some(format!("could not start: {e}"));
                                tx.record_fire(
                                    &row.id,
                                    &FireRow { scheduled_for: t, fired_at: now, instance: None, skipped: true, reason },
                                )
                                .await?;
                            }
                        }
                    }
                }
            }
            tx.schedule_progress(&row.id, step.next, runs, now).await?;
            tx.commit().await?;
            for staged in units {
                self.after_commit(staged);
            }
        }
        Ok(started)
    }

    /// The instances a schedule started, newest first (for tests and audits).
    pub(crate) async fn scheduled_instances(&self, schedule_id: &str) -> Result<Vec<Instance>> {
        let f = smmflow_store::InstanceFilter { schedule: Some(schedule_id.to_string()), ..Default::default() };
        Ok(self.store.instances(&f).await?)
    }
}
