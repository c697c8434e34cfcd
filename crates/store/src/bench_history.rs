//! A year of an agency's work for the analytics benchmark: instances with
//! their event log (bare events: nobody replays them) and their task rows,
//! with created, taken, done and due times spread over the year.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entity::{event, instance, task};
use crate::{Result, Store, db_time};

/// Instances per transaction.
const CHUNK: usize = 20;

/// The steps of a post, its role and party, and how long each takes (hours).
const STEPS: [(&str, &str, &str, i64); 6] = [
    ("copy", "copywriter", "agency", 3),
    ("visuals", "designer", "agency", 4),
    ("internal_review", "smm_manager", "agency", 2),
    ("client_approval", "client", "client", 20),
    ("schedule", "smm_manager", "agency", 1),
    ("verify_live", "smm_manager", "agency", 1),
];

/// What was written.
pub struct History {
    pub instances: u64,
    pub tasks: u64,
    pub events: u64,
}

impl Store {
    /// `instances` posts round-robin over `workspaces`, started evenly over
    /// `[from, from + span)`, each with `events` events and six task rows
    /// (one in eight client approvals rejected with a reason; the last 2% of
    /// the year still open).
    pub async fn seed_history(
        &self,
        workspaces: &[String],
        instances: usize,
        events: usize,
        from: DateTime<Utc>,
        span: Duration,
    ) -> Result<History> {
        let step = span.num_seconds().max(1) / instances.max(1) as i64;
        let mut out = History { instances: 0, tasks: 0, events: 0 };
        let reasons = ["tone", "facts", "visuals", "legal", "timing", "other"];
        for chunk in (0..instances).collect::<Vec<_>>().chunks(CHUNK) {
            let tx = self.begin().await?;
            let (mut insts, mut tasks, mut evs) = (Vec::new(), Vec::new(), Vec::new());
            for &i in chunk {
                let id = Uuid::now_v7().to_string();
                let ws = workspaces[i % workspaces.len().max(1)].clone();
                let start = from + Duration::seconds(step * i as i64);
                let open = i * 50 >= instances * 49;
                insts.push(instance::ActiveModel {
                    id: Set(id.clone()),
                    workflow: Set("post-production".into()),
                    version: Set(1),
                    workspace: Set(ws.clone()),
                    status: Set(if open { "running" } else { "completed" }.into()),
                    started_at: Set(db_time(start)),
                    started_by: Set("bench".into()),
                    completed_at: Set(None),
                    parent_id: Set(None),
                    schedule_id: Set(None),
                    scheduled_for: Set(None),
                    seq: Set(events as i64),
                    state: Set(Value::Object(Default::default())),
                    updated_at: Set(db_time(start)),
                });
                let mut at = start;
                for (no, (step_id, role, party, hours)) in STEPS.iter().enumerate() {
                    let jitter = (i as i64 * 7 + no as i64 * 13) % 5;
                    let created = at;
                    let claimed = created + Duration::minutes(20 + 10 * jitter);
                    let done = created + Duration::hours(hours + jitter);
                    let last_open = open && no == STEPS.len() - 1;
                    let rejected = *step_id == "client_approval" && i % 8 == 0;
                    tasks.push(task::ActiveModel {
                        instance_id: Set(id.clone()),
                        no: Set(no as i32 + 1),
                        workspace: Set(ws.clone()),
                        workflow: Set("post-production".into()),
                        step: Set((*step_id).into()),
                        kind: Set(if step_id.contains("approval") || step_id.contains("review") {
                            "approval"
                        } else {
                            "task"
                        }
                        .into()),
                        status: Set(if last_open {
                            "open"
                        } else if rejected {
                            "rejected"
                        } else {
                            "completed"
                        }
                        .into()),
                        role: Set(Some((*role).into())),
                        assignee: Set(Some(format!("{role}-{}", i % 3))),
                        candidates: Set(Value::Array(Vec::new())),
                        title: Set(format!("{step_id} {i}")),
                        priority: Set("normal".into()),
                        round: Set(1),
                        due_at: Set(Some(db_time(created + Duration::hours(*hours + 1)))),
                        created_at: Set(db_time(created)),
                        completed_at: Set((!last_open).then(|| db_time(done))),
                        claimed_at: Set(Some(db_time(claimed))),
                        party: Set((*party).into()),
                        calendar: Set(None),
                        reasons: Set(rejected.then(|| json!([reasons[i % reasons.len()]]))),
                    });
                    at = done;
                }
                for seq in 1..=events {
                    evs.push(event::ActiveModel {
                        instance_id: Set(id.clone()),
                        seq: Set(seq as i64),
                        kind: Set("task.claimed".into()),
                        at: Set(db_time(start + Duration::minutes(seq as i64))),
                        actor: Set("bench".into()),
                        data: Set(json!({"kind": "task.claimed", "task": 1 + seq % 6})),
                    });
                }
            }
            out.instances += insts.len() as u64;
            out.tasks += tasks.len() as u64;
            out.events += evs.len() as u64;
            instance::Entity::insert_many(insts).exec_without_returning(tx.conn()).await?;
            for c in tasks.chunks(100) {
                task::Entity::insert_many(c.to_vec()).exec_without_returning(tx.conn()).await?;
            }
            for c in evs.chunks(150) {
                event::Entity::insert_many(c.to_vec()).exec_without_returning(tx.conn()).await?;
            }
            tx.commit().await?;
        }
        Ok(out)
    }
}
