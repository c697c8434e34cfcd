//! Batch approvals in the outbox. An approval request (or follow-up) on an
//! external level with `batch:` becomes a `batch_item` for each recipient,
//! due when its batch's window closes: the window opened by the first
//! waiting item with the same rendered key for the same address, else one
//! opened now. When it closes, the items still waiting for a decision
//! become one mail with one link (`/approve/batch/<token>`), recorded in
//! `approval_batches`; items decided meanwhile are left out, and a batch
//! with none left sends nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use smmflow_engine::{Instance, TaskKind};
use smmflow_notify::compose::{Planned, Source, Target};
use smmflow_notify::link;
use smmflow_notify::mail::Mail;
use smmflow_spec::Workflow;
use smmflow_spec::step::StepKind;
use smmflow_store::{Batch, BatchItem, NewOutbox, OutboxKind, OutboxRow, OutboxStatus, User};
use uuid::Uuid;

use crate::mailer::{Addressee, MailConfig, addressee, dead, lease};
use crate::{Result, Runtime};

/// Batch items per claim.
const CLAIM: u64 = 500;

/// The batch a planned approval request joins: its rendered key and window.
pub(crate) struct BatchOf {
    key: String,
    window: chrono::Duration,
}

/// The batch of a planned message, when it asks for an external level's
/// decision and that level has `batch:`. A key that does not render sends
/// the request on its own (and says why in the log).
pub(crate) fn batch_of(wf: &Workflow, state: &Instance, p: &Planned) -> Option<BatchOf> {
    // Only the request itself is batched; reminders about it go alone.
    if !p.approval_link || p.event != smmflow_spec::notify::Event::ApprovalRequested.name() {
        return None;
    }
    let task = state.task(p.task?)?;
    let TaskKind::Approval { level, external: true, final_decision: false } = task.kind else { return None };
    let StepKind::Approval(a) = &wf.step(&task.step)?.kind else { return None };
    let level = a.levels.get(level)?;
    let tpl = level.batch.as_ref()?;
    let key = match smmflow_engine::eval::text(&tpl.source, &p.scope) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(step = %task.step, "`batch` did not render, the request goes alone: {e}");
            return None;
        }
    };
    let window = match level.window() {
        smmflow_spec::Duration::Wall(s) => chrono::Duration::seconds(s.min(86_400) as i64),
        _ => chrono::Duration::minutes(15),
    };
    Some(BatchOf { key, window })
}

impl Runtime {
    /// One recipient's item of a batch, due when its window closes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn batch_item(
        &self,
        row: &OutboxRow,
        key: &str,
        p: &Planned,
        target: &Target,
        users: &HashMap<String, User>,
        batch: &BatchOf,
        state: &Instance,
        follow_up: Option<u32>,
    ) -> Result<NewOutbox> {
        let now = self.now();
        let Some(Addressee { to, name, login, .. }) = addressee(target, users) else {
            let (Target::User(u) | Target::Email(u)) = target;
            return Ok(dead(row, key, Some(u.clone()), format!("no user `{u}` to send `{}` to", p.event), now));
        };
        let open = self.store.waiting_batch_items(&to).await?;
        let due = open
            .iter()
            .find(|r| r.payload["batch"].as_str() == Some(batch.key.as_str()))
            .map_or(now + batch.window, |r| r.next_attempt_at);
        let task = p.task.and_then(|no| state.task(no));
        let payload = json!({
            "batch": batch.key,
            "instance": state.id,
            "task": p.task,
            "who": login.clone().unwrap_or_else(|| to.clone()),
            "to_name": name,
            "login": login,
            "follow_up": follow_up,
            "title": task.map(|t| t.title.clone()),
            "round": task.map(|t| t.round),
            "expires_at": task.and_then(|t| t.expires_at).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
            "workflow_name": p.scope["instance"]["workflow_name"],
            "workspace": state.workspace,
        });
        Ok(NewOutbox {
            key: key.to_string(),
            instance: row.instance,
            kind: OutboxKind::BatchItem,
            recipient: Some(to),
            subject: task.map(|t| t.title.clone()),
            payload,
            status: OutboxStatus::Pending,
            due,
            error: None,
        })
    }

    /// Turns batches whose window closed into one mail each; returns how many mails.
    pub async fn gather_batches(&self, cfg: &MailConfig) -> Result<usize> {
        let mut made = 0;
        loop {
            let rows = self.store.claim_outbox(OutboxKind::BatchItem, self.now(), &self.node, lease(), CLAIM).await?;
            if rows.is_empty() {
                return Ok(made);
            }
            let templates = self.deployed_templates().await?;
            let mut groups: BTreeMap<(String, String), Vec<OutboxRow>> = BTreeMap::new();
            for r in rows {
                let key =
                    (r.recipient.clone().unwrap_or_default(), r.payload["batch"].as_str().unwrap_or("").to_string());
                groups.entry(key).or_default().push(r);
            }
            let mut out = Vec::new();
            let mut batches = Vec::new();
            let mut done = Vec::new();
            for ((to, key), mut items) in groups {
                // Items of the same batch whose own due time has not come
                // (queued a moment later in the same window) go with it.
                let claimed: Vec<String> = items.iter().map(|r| r.id.clone()).collect();
                for extra in self.store.waiting_batch_items(&to).await? {
                    if extra.payload["batch"].as_str() == Some(key.as_str()) && !claimed.contains(&extra.id) {
                        items.push(extra);
                    }
                }
                done.extend(items.iter().map(|r| r.id.clone()));
                if let Some((mail, batch)) = self.batch_mail(&to, &items, cfg, &templates).await? {
                    out.push(mail);
                    batches.push(batch);
                    made += 1;
                }
            }
            let now = self.now();
            let tx = self.store.begin().await?;
            for b in &batches {
                tx.insert_batch(b).await?;
            }
            tx.insert_outbox(&out, now).await?;
            tx.mark_outbox_sent(&done, now).await?;
            tx.commit().await?;
        }
    }

    /// The mail of one batch and its record; none when nothing in it waits any more.
    async fn batch_mail(
        &self,
        to: &str,
        items: &[OutboxRow],
        cfg: &MailConfig,
        templates: &crate::mailer::Deployed,
    ) -> Result<Option<(NewOutbox, Batch)>> {
        let now = self.now();
        let Some(first) = items.iter().min_by_key(|r| (r.created_at, r.id.clone())) else { return Ok(None) };
        let mut waiting: Vec<(BatchItem, &OutboxRow)> = Vec::new();
        let mut states: HashMap<Uuid, Option<Instance>> = HashMap::new();
        for r in items {
            let (Some(instance), Some(task)) = (
                r.payload["instance"].as_str().and_then(|s| s.parse::<Uuid>().ok()),
                r.payload["task"].as_u64().map(|t| t as u32),
            ) else {
                continue;
            };
            if waiting.iter().any(|(i, _)| i.instance == instance && i.task == task) {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = states.entry(instance) {
                e.insert(self.store.instance(instance).await?);
            }
            let still = states.get(&instance).and_then(Option::as_ref).is_some_and(|s| {
                s.status == smmflow_engine::InstanceStatus::Running
                    && s.task(task).is_some_and(|t| t.status.is_active())
            });
            if still {
                waiting.push((BatchItem { instance, task }, r));
            }
        }
        if waiting.is_empty() {
            return Ok(None);
        }
        waiting.sort_by_key(|(_, r)| (r.created_at, r.id.clone()));
        let who = first.payload["who"].as_str().unwrap_or(to).to_string();
        let id = Uuid::new_v4();
        let claims = link::Claims::batch(id, &who, now + cfg.link_ttl);
        let key = format!("batch:{}", first.id);
        let token = match link::sign(&self.link_secret().await?, &claims) {
            Ok(t) => t,
            Err(e) => return Ok(Some((dead(first, &key, Some(to.into()), e.to_string(), now), empty(id, &who, now)))),
        };
        let workspaces: Vec<String> =
            waiting.iter().filter_map(|(_, r)| r.payload["workspace"].as_str().map(String::from)).collect();
        let workspace_name = match workspaces.first() {
            Some(w) if workspaces.iter().all(|x| x == w) => self.workspace_name(w).await?,
            _ => None,
        };
        let scope = json!({
            "items": waiting.iter().map(|(_, r)| &r.payload).collect::<Vec<&Value>>(),
            "count": waiting.len(),
            "batch_link": format!("{}/approve/batch/{token}", cfg.public_url),
            "follow_up": waiting.iter().any(|(_, r)| !r.payload["follow_up"].is_null()),
            "workspace_name": workspace_name,
        });
        let rendered =
            match smmflow_notify::render::render(&Source::Template("approval-batch".into()), &scope, templates) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(Some((dead(first, &key, Some(to.into()), e.to_string(), now), empty(id, &who, now))));
                }
            };
        let mail = Mail {
            to: to.to_string(),
            to_name: first.payload["to_name"].as_str().map(String::from),
            login: first.payload["login"].as_str().map(String::from),
            event: "approval.requested".into(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        let row = NewOutbox {
            key,
            instance: None,
            kind: OutboxKind::Mail,
            recipient: Some(to.to_string()),
            subject: Some(mail.subject.clone()),
            payload: json!({"mail": mail, "items": waiting.len(), "batch": id}),
            status: OutboxStatus::Pending,
            due: now,
            error: None,
        };
        let batch = Batch {
            id: id.to_string(),
            recipient: who,
            items: waiting.iter().map(|(i, _)| *i).collect(),
            created_at: now,
        };
        Ok(Some((row, batch)))
    }
}

fn empty(id: Uuid, who: &str, now: DateTime<Utc>) -> Batch {
    Batch { id: id.to_string(), recipient: who.to_string(), items: Vec::new(), created_at: now }
}
