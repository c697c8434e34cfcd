//! The outbox at work: notices become messages, messages are delivered,
//! digest items are gathered into digests.
//!
//! 1. `expand_notices`: a command queued a notice in its own transaction.
//!    Here it is planned (rules, defaults, recipients), rendered against the
//!    instance as it was when the notice was made, and replaced, in one
//!    transaction, by one `mail` row per recipient (or a `digest_item` for
//!    a user who chose a digest). Keys derive from the notice's key, so a
//!    second expansion after a crash queues nothing twice.
//! 2. `gather_digests`: due digest items become one `mail` row per user.
//! 3. `send_due_mail`: delivers `mail` rows, with exponential backoff on
//!    failure and `dead` after the last attempt or a permanent refusal.
//!
//! Every step claims its rows with a lease (SKIP LOCKED on PostgreSQL), so
//! replicas share the work and a dead replica's rows are taken over.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use smmflow_engine::{Instance, Notice};
use smmflow_notify::compose::{Ctx, Planned, Roster, Target};
use smmflow_notify::mail::Mail;
use smmflow_notify::render::{Parts, Rendered, Templates};
use smmflow_notify::{Mode, link};
use smmflow_store::{DocumentKind, NewOutbox, OutboxKind, OutboxRow, OutboxStatus, User};
use uuid::Uuid;

use crate::service::Service;
use crate::{Error, Result, Runtime};

/// How mail leaves this installation.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub transport: smmflow_notify::Transport,
    /// `SMMFLOW_MAIL_FROM`.
    pub from: smmflow_notify::Mailbox,
    /// `SMMFLOW_PUBLIC_URL`: the base of links in mails, without a trailing `/`.
    pub public_url: String,
    /// How long an approval link works.
    pub link_ttl: Duration,
}

impl MailConfig {
    /// Reads the settings: an SMTP URL, else `.eml` files in `outbox_dir`.
    pub fn new(
        smtp_url: Option<&str>,
        from: Option<&str>,
        public_url: &str,
        outbox_dir: std::path::PathBuf,
    ) -> Result<MailConfig, String> {
        let transport = match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => smmflow_notify::Transport::smtp(u).map_err(|e| e.to_string())?,
            None => smmflow_notify::Transport::Files(outbox_dir),
        };
        let from = from.map(str::trim).filter(|f| !f.is_empty()).unwrap_or("smmflow <smmflow@localhost>");
        let from = from.parse().map_err(|e| format!("SMMFLOW_MAIL_FROM `{from}` is not an address: {e}"))?;
        let public_url = public_url.trim().trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(format!("SMMFLOW_PUBLIC_URL `{public_url}` must start with http:// or https://"));
        }
        Ok(MailConfig { transport, from, public_url, link_ttl: Duration::days(7) })
    }
}

/// Notices per claim.
const BATCH: u64 = 100;
/// How long one pass of the mail service expands notices before it sends.
const EXPAND_BUDGET: StdDuration = StdDuration::from_secs(2);
/// Messages per claim: small, so a batch is sent well within its lease even
/// when the SMTP server is slow (each send may take up to 30 s).
const SEND_BATCH: u64 = 10;
/// A delivery is given up after this many attempts (about a day and a half of retries).
pub const MAX_ATTEMPTS: i32 = 40;
/// The first retry waits this long; each further one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF_SECONDS: i64 = 30;
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// The setting that holds the key approval links are signed with.
const LINK_KEY: &str = "approval_link_key";

/// The lease on claimed outbox rows: `SMMFLOW_OUTBOX_LEASE_SECONDS` (default
/// 60). A dead replica's claimed rows are taken over when it runs out.
pub(crate) fn lease() -> Duration {
    let secs =
        std::env::var("SMMFLOW_OUTBOX_LEASE_SECONDS").ok().and_then(|s| s.parse::<i64>().ok()).filter(|s| *s > 0);
    Duration::seconds(secs.unwrap_or(60))
}

/// The wait before attempt `attempts + 1`, after `attempts` failures (1-based).
pub fn backoff(attempts: i32) -> Duration {
    let exp = (attempts - 1).clamp(0, 20) as u32;
    Duration::seconds((FIRST_BACKOFF_SECONDS.saturating_mul(1 << exp)).min(MAX_BACKOFF_SECONDS))
}

struct RosterOf<'a>(&'a HashMap<String, Vec<String>>);

impl Roster for RosterOf<'_> {
    fn members(&self, role: &str) -> Vec<String> {
        self.0.get(role).cloned().unwrap_or_default()
    }
}

pub(crate) struct Deployed(HashMap<String, Parts>);

impl Templates for Deployed {
    fn get(&self, name: &str) -> Option<Parts> {
        self.0.get(name).cloned()
    }
}

impl Runtime {
    /// The key approval links are signed with (made on first use, shared by replicas).
    pub async fn link_secret(&self) -> Result<Arc<Vec<u8>>> {
        let key = self
            .link_key
            .get_or_try_init(|| async {
                let hex_key = self
                    .store
                    .setting_or_init(
                        LINK_KEY,
                        || format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
                        self.now(),
                    )
                    .await?;
                Ok::<_, Error>(Arc::new(hex_key.into_bytes()))
            })
            .await?;
        Ok(key.clone())
    }

    pub(crate) async fn deployed_templates(&self) -> Result<Deployed> {
        let mut map = HashMap::new();
        for d in self.store.latest_documents(DocumentKind::Template).await? {
            if let Ok(p) = serde_json::from_str::<Parts>(&d.source) {
                map.insert(d.key, p);
            }
        }
        Ok(Deployed(map))
    }

    /// Turns queued notices into messages; returns how many notices were
    /// expanded. Stops after [`EXPAND_BUDGET`] with notices left (the next
    /// pass goes on), so that while commands keep queueing notices, the
    /// messages already made are still sent.
    pub async fn expand_notices(&self, cfg: &MailConfig) -> Result<usize> {
        let mut done = 0;
        let started = std::time::Instant::now();
        loop {
            if started.elapsed() > EXPAND_BUDGET {
                return Ok(done);
            }
            let rows = self.store.claim_outbox(OutboxKind::Notice, self.now(), &self.node, lease(), BATCH).await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let templates = self.deployed_templates().await?;
            let mut states: HashMap<(Uuid, u64), Arc<Instance>> = HashMap::new();
            let mut out = Vec::new();
            for row in &rows {
                match self.expand_one(row, cfg, &templates, &mut states).await {
                    Ok(mut msgs) => out.append(&mut msgs),
                    // The database is away (restarting, a dropped connection):
                    // not the notice's fault. Leave the batch claimed; it is
                    // expanded again when its lease runs out (expansion is
                    // idempotent), instead of being recorded as dead.
                    Err(e @ Error::Store(smmflow_store::Error::Db(_))) => return Err(e),
                    Err(e) => {
                        tracing::warn!(key = %row.key, "a notice could not be expanded: {e}");
                        // Its own key: the notice's key is still taken by the notice
                        // (deleted below, in the same transaction), and a dead record
                        // under that key would be dropped as a duplicate.
                        out.push(dead(
                            row,
                            &format!("{}:dead", row.key),
                            None,
                            format!("the notice could not be expanded: {e}"),
                            self.now(),
                        ));
                    }
                }
            }
            let now = self.now();
            let tx = self.store.begin().await?;
            tx.insert_outbox(&out, now).await?;
            tx.delete_outbox(&rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
            tx.commit().await?;
            done += rows.len();
            self.metrics.notices_expanded(rows.len());
        }
    }

    /// The instance as it was right after `seq`.
    async fn state_at(
        &self,
        id: Uuid,
        seq: u64,
        cache: &mut HashMap<(Uuid, u64), Arc<Instance>>,
    ) -> Result<Arc<Instance>> {
        if let Some(s) = cache.get(&(id, seq)) {
            return Ok(s.clone());
        }
        let current = self.instance(id).await?;
        let state = if current.seq == seq || seq == 0 {
            current
        } else {
            let events = self.store.events_between(id, 1, seq).await?;
            smmflow_engine::apply::replay(&events)
                .ok_or_else(|| Error::Internal(format!("instance {id} has no log")))?
        };
        let state = Arc::new(state);
        cache.insert((id, seq), state.clone());
        Ok(state)
    }

    async fn expand_one(
        &self,
        row: &OutboxRow,
        cfg: &MailConfig,
        templates: &Deployed,
        states: &mut HashMap<(Uuid, u64), Arc<Instance>>,
    ) -> Result<Vec<NewOutbox>> {
        let (seq, notice) = match row.payload.get("notice") {
            Some(n) => (row.payload["seq"].as_u64().unwrap_or(0), n.clone()),
            None => (0, row.payload.clone()),
        };
        let notice: Notice =
            serde_json::from_value(notice).map_err(|e| Error::Internal(format!("unreadable notice: {e}")))?;
        let id = row.instance.ok_or_else(|| Error::Internal("a notice without an instance".into()))?;
        let state = self.state_at(id, seq, states).await?;
        let def = self.definition(&state.workflow, Some(state.version)).await?;
        let mut roles: HashMap<String, Vec<String>> = HashMap::new();
        for m in self.store.members(&state.workspace).await? {
            roles.entry(m.role).or_default().push(m.user);
        }
        let at = row.created_at;
        let planned = {
            let roster = RosterOf(&roles);
            let ctx =
                Ctx { workflow: &def.workflow, state: &state, at, roster: &roster, workflow_name: &def.workflow.name };
            smmflow_notify::plan(&notice, &ctx).map_err(|e| Error::BadInput(e.to_string()))?
        };
        let logins: Vec<String> = planned
            .iter()
            .flat_map(|p| p.targets.iter())
            .filter_map(|t| match t {
                Target::User(u) => Some(u.clone()),
                Target::Email(_) => None,
            })
            .collect();
        let users: HashMap<String, User> =
            self.store.users(&logins).await?.into_iter().map(|u| (u.login.clone(), u)).collect();
        let follow_up = notice_follow_up(&notice);
        let mut out = Vec::new();
        for (i, p) in planned.iter().enumerate() {
            let batch = crate::batches::batch_of(&def.workflow, &state, p);
            for target in &p.targets {
                let key = format!("{}:{i}:{}", row.key, target.key());
                match &batch {
                    Some(b) => out.push(self.batch_item(row, &key, p, target, &users, b, &state, follow_up).await?),
                    None => out.push(self.message(row, &key, p, target, &users, cfg, templates).await?),
                }
            }
        }
        Ok(out)
    }

    /// One message of a planned notice to one target.
    #[allow(clippy::too_many_arguments)]
    async fn message(
        &self,
        row: &OutboxRow,
        key: &str,
        p: &Planned,
        target: &Target,
        users: &HashMap<String, User>,
        cfg: &MailConfig,
        templates: &Deployed,
    ) -> Result<NewOutbox> {
        let now = self.now();
        let Some(Addressee { to, name, login, mode }) = addressee(target, users) else {
            let (Target::User(u) | Target::Email(u)) = target;
            return Ok(dead(row, key, Some(u.clone()), format!("no user `{u}` to send `{}` to", p.event), now));
        };
        let mut scope = p.scope.clone();
        if let (true, Some(task)) = (p.approval_link, p.task) {
            let who = login.clone().unwrap_or_else(|| to.clone());
            let claims = link::Claims::new(row.instance.unwrap_or_default(), task, &who, now + cfg.link_ttl);
            let token = match link::sign(&self.link_secret().await?, &claims) {
                Ok(t) => t,
                Err(e) => return Ok(dead(row, key, Some(to), format!("cannot sign the approval link: {e}"), now)),
            };
            scope["task"]["approval_link"] = json!(format!("{}/approve/{token}", cfg.public_url));
        }
        let rendered = match smmflow_notify::render::render(&p.source, &scope, templates) {
            Ok(r) => r,
            Err(e) => return Ok(dead(row, key, Some(to), e.to_string(), now)),
        };
        let mail = Mail {
            to: to.clone(),
            to_name: name,
            login,
            event: p.event.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        let (kind, due) = match mode.next_send(now) {
            Some(at) => (OutboxKind::DigestItem, at),
            None => (OutboxKind::Mail, now),
        };
        Ok(NewOutbox {
            key: key.to_string(),
            instance: row.instance,
            kind,
            recipient: Some(to),
            subject: Some(mail.subject.clone()),
            payload: json!({"mail": mail, "mode": mode.as_str()}),
            status: OutboxStatus::Pending,
            due,
            error: None,
        })
    }

    /// Gathers due digest items into one message per recipient; returns how many digests.
    pub async fn gather_digests(&self) -> Result<usize> {
        let mut made = 0;
        loop {
            let rows = self.store.claim_outbox(OutboxKind::DigestItem, self.now(), &self.node, lease(), 500).await?;
            if rows.is_empty() {
                return Ok(made);
            }
            let templates = self.deployed_templates().await?;
            let mut by_recipient: BTreeMap<String, Vec<&OutboxRow>> = BTreeMap::new();
            for r in &rows {
                by_recipient.entry(r.recipient.clone().unwrap_or_default()).or_default().push(r);
            }
            let mut out = Vec::new();
            for (recipient, items) in &by_recipient {
                let mails: Vec<Mail> =
                    items.iter().filter_map(|r| serde_json::from_value(r.payload["mail"].clone()).ok()).collect();
                let Some(first) = mails.first() else { continue };
                let mode = Mode::parse(items[0].payload["mode"].as_str().unwrap_or("daily"));
                let rendered: Vec<Rendered> = mails
                    .iter()
                    .map(|m| Rendered { subject: m.subject.clone(), text: m.text.clone(), html: None })
                    .collect();
                let key = format!("digest:{recipient}:{}", items[0].id);
                let now = self.now();
                let digest = match smmflow_notify::digest::compose(&rendered, mode, &templates) {
                    Ok(d) => d,
                    Err(e) => {
                        out.push(dead(items[0], &key, Some(recipient.clone()), e.to_string(), now));
                        continue;
                    }
                };
                let mail = Mail {
                    to: first.to.clone(),
                    to_name: first.to_name.clone(),
                    login: first.login.clone(),
                    event: "digest".into(),
                    subject: digest.subject,
                    text: digest.text,
                    html: None,
                };
                out.push(NewOutbox {
                    key,
                    instance: None,
                    kind: OutboxKind::Mail,
                    recipient: Some(recipient.clone()),
                    subject: Some(mail.subject.clone()),
                    payload: json!({"mail": mail, "items": items.len()}),
                    status: OutboxStatus::Pending,
                    due: now,
                    error: None,
                });
                made += 1;
            }
            let now = self.now();
            let tx = self.store.begin().await?;
            tx.insert_outbox(&out, now).await?;
            tx.mark_outbox_sent(&rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), now).await?;
            tx.commit().await?;
        }
    }

    /// Delivers due messages; returns how many were sent.
    pub async fn send_due_mail(&self, cfg: &MailConfig) -> Result<usize> {
        let mut sent = 0;
        loop {
            let rows = self.store.claim_outbox(OutboxKind::Mail, self.now(), &self.node, lease(), SEND_BATCH).await?;
            if rows.is_empty() {
                return Ok(sent);
            }
            let claimed = std::time::Instant::now();
            let half_lease = lease().to_std().unwrap_or_default() / 2;
            for row in rows {
                // A slow server: leave the rest of the batch to expire and be
                // claimed again, rather than send after the lease may have passed.
                if claimed.elapsed() > half_lease {
                    break;
                }
                let result = match serde_json::from_value::<Mail>(row.payload["mail"].clone()) {
                    Ok(mail) => cfg.transport.send(&mail, &row.key, &cfg.from).await,
                    Err(e) => {
                        Err(smmflow_notify::SendError { message: format!("unreadable message: {e}"), permanent: true })
                    }
                };
                let now = self.now();
                match result {
                    Ok(()) => {
                        self.store.mark_sent(&row.id, now).await?;
                        self.metrics.mail(true);
                        sent += 1;
                    }
                    Err(e) => {
                        let attempts = row.attempts + 1;
                        let retry = (!e.permanent && attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
                        tracing::warn!(key = %row.key, attempts, dead = retry.is_none(), "mail not delivered: {}", e.message);
                        self.store.mark_failed(&row.id, &e.message, retry).await?;
                        self.metrics.mail(false);
                    }
                }
            }
        }
    }

    /// One pass of the whole outbox: expand, gather batches and digests, send.
    pub async fn run_outbox(&self, cfg: &MailConfig) -> Result<usize> {
        let n = self.expand_notices(cfg).await?;
        let b = self.gather_batches(cfg).await?;
        let d = self.gather_digests().await? + b;
        let s = self.send_due_mail(cfg).await?;
        Ok(n + d + s)
    }
}

/// Where a message to a target goes.
pub(crate) struct Addressee {
    pub to: String,
    pub name: Option<String>,
    /// The user's login (none for a bare address).
    pub login: Option<String>,
    pub mode: Mode,
}

/// A target's address, name and delivery mode; none for a login with no user behind it.
pub(crate) fn addressee(target: &Target, users: &HashMap<String, User>) -> Option<Addressee> {
    match target {
        Target::User(u) => users.get(u).map(|user| Addressee {
            to: user.email.clone(),
            name: user.name.clone(),
            login: Some(u.clone()),
            mode: Mode::parse(&user.notification_mode),
        }),
        Target::Email(e) => Some(Addressee { to: e.clone(), name: None, login: None, mode: Mode::Immediate }),
    }
}

/// The follow-up number of an `approval.requested` notice that is one.
fn notice_follow_up(n: &Notice) -> Option<u32> {
    match n {
        Notice::Event { follow_up, .. } => *follow_up,
        Notice::Send { .. } => None,
    }
}

/// A message that cannot be made, recorded as dead for admins to see.
pub(crate) fn dead(
    row: &OutboxRow,
    key: &str,
    recipient: Option<String>,
    error: String,
    now: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        key: key.to_string(),
        instance: row.instance,
        kind: OutboxKind::Mail,
        recipient,
        subject: None,
        payload: Value::Null,
        status: OutboxStatus::Dead,
        due: now,
        error: Some(error),
    }
}

impl Runtime {
    /// Runs the outbox in the background until stopped: woken by commits
    /// that queued mail, and polling for retries and digests.
    pub fn spawn_mail_service(self: Arc<Self>, cfg: MailConfig, poll: StdDuration) -> Service {
        let cfg = Arc::new(cfg);
        Service::spawn(
            self,
            crate::health::Part::Mail,
            poll,
            |rt| &rt.mail_wake,
            move |rt| {
                let cfg = cfg.clone();
                async move {
                    if let Err(e) = rt.run_outbox(&cfg).await {
                        tracing::warn!("outbox: {e}");
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(5), Duration::seconds(480));
        assert_eq!(backoff(8), Duration::seconds(3600));
        assert_eq!(backoff(39), Duration::seconds(3600));
    }
}
