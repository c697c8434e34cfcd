//! The transactional outbox: notices the engine queued, the messages they
//! become, and digest items. Rows are claimed in batches with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's immediate transaction
//! serializes claimers), so replicas share the work and a dead replica's
//! claims are taken over when its lease runs out.
//!
//! Kinds: `notice` (from a command; expanded into messages, then deleted),
//! `mail` (one message to one address), `digest_item` (a message waiting
//! for its recipient's digest). Statuses: `pending`, `failed` (will be
//! retried at `next_attempt_at`), `sent`, `dead` (given up; an admin may retry).

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{outbox, setting};
use crate::{Error, Result, Store, Tx, db_time};

/// What an outbox row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// Queued by a command; expanded into messages, then deleted.
    Notice,
    /// One message to one address.
    Mail,
    /// A message waiting for its recipient's digest.
    DigestItem,
    /// An approval request waiting for its batch's window to close.
    BatchItem,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Notice => "notice",
            OutboxKind::Mail => "mail",
            OutboxKind::DigestItem => "digest_item",
            OutboxKind::BatchItem => "batch_item",
        }
    }

    fn parse(s: &str) -> Result<OutboxKind> {
        match s {
            "notice" => Ok(OutboxKind::Notice),
            "mail" => Ok(OutboxKind::Mail),
            "digest_item" => Ok(OutboxKind::DigestItem),
            "batch_item" => Ok(OutboxKind::BatchItem),
            other => Err(Error::Corrupt(format!("an outbox row of unknown kind `{other}`"))),
        }
    }
}

/// Where an outbox row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    /// The last attempt failed; retried at `next_attempt_at`.
    Failed,
    Sent,
    /// Given up; an admin may retry.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Failed => "failed",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<OutboxStatus> {
        match s {
            "pending" => Ok(OutboxStatus::Pending),
            "failed" => Ok(OutboxStatus::Failed),
            "sent" => Ok(OutboxStatus::Sent),
            "dead" => Ok(OutboxStatus::Dead),
            other => Err(Error::Corrupt(format!("an outbox row with unknown status `{other}`"))),
        }
    }
}

/// The statuses of rows still to be handled.
const WAITING: [&str; 2] = ["pending", "failed"];

/// The kinds an admin sees as notifications.
pub const MESSAGE_KINDS: [OutboxKind; 3] = [OutboxKind::Mail, OutboxKind::DigestItem, OutboxKind::BatchItem];

#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub id: String,
    pub key: String,
    pub instance: Option<Uuid>,
    pub kind: OutboxKind,
    pub payload: Value,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
}

impl TryFrom<outbox::Model> for OutboxRow {
    type Error = Error;

    fn try_from(m: outbox::Model) -> Result<Self> {
        Ok(OutboxRow {
            id: m.id,
            key: m.idempotency_key,
            instance: m.instance_id.and_then(|i| i.parse().ok()),
            kind: OutboxKind::parse(&m.kind)?,
            payload: m.payload,
            status: OutboxStatus::parse(&m.status)?,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            recipient: m.recipient,
            subject: m.subject,
        })
    }
}

/// A row to queue.
#[derive(Clone, Debug)]
pub struct NewOutbox {
    /// Unique: a second row with the same key is not queued.
    pub key: String,
    pub instance: Option<Uuid>,
    pub kind: OutboxKind,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub payload: Value,
    /// `Pending`, or `Dead` for a message that cannot be made (recorded for admins).
    pub status: OutboxStatus,
    pub due: DateTime<Utc>,
    pub error: Option<String>,
}

/// Which notifications to list (messages and digest items, newest first).
#[derive(Clone, Debug, Default)]
pub struct NotificationFilter {
    pub statuses: Vec<OutboxStatus>,
    pub recipient: Option<String>,
    pub instance: Option<Uuid>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

impl Store {
    /// Claims up to `limit` rows of `kind` due at `now` (pending, or failed
    /// and due for a retry), leased to `owner` for `lease`.
    pub async fn claim_outbox(
        &self,
        kind: OutboxKind,
        now: DateTime<Utc>,
        owner: &str,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<OutboxRow>> {
        let now = db_time(now);
        let free =
            || Condition::any().add(outbox::Column::LeaseUntil.is_null()).add(outbox::Column::LeaseUntil.lt(now));
        // A plain read first: an idle outbox costs no write transaction (on
        // SQLite that would take the writer's turn from commands).
        let any = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(outbox::Column::Kind.eq(kind.as_str()))
            .filter(outbox::Column::Status.is_in(WAITING))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(free())
            .into_tuple::<String>()
            .one(self.conn())
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.begin().await?;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq(kind.as_str()))
            .filter(outbox::Column::Status.is_in(WAITING))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(free())
            .order_by_asc(outbox::Column::NextAttemptAt)
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(tx.conn())
            .await?;
        if !rows.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::LeaseOwner, Expr::value(owner))
                .col_expr(outbox::Column::LeaseUntil, Expr::value(db_time(now + lease)))
                .filter(outbox::Column::Id.is_in(rows.iter().map(|r| r.id.clone())))
                .exec(tx.conn())
                .await?;
        }
        tx.commit().await?;
        rows.into_iter().map(OutboxRow::try_from).collect()
    }

    /// When the earliest row of `kind` is due, if any (for a manual clock).
    pub async fn next_outbox_due(&self, kind: OutboxKind) -> Result<Option<DateTime<Utc>>> {
        let row = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq(kind.as_str()))
            .filter(outbox::Column::Status.is_in(WAITING))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .one(self.conn())
            .await?;
        Ok(row.map(|r| r.next_attempt_at))
    }

    /// The batch items still waiting for `recipient` (to join an open window).
    pub async fn waiting_batch_items(&self, recipient: &str) -> Result<Vec<OutboxRow>> {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq(OutboxKind::BatchItem.as_str()))
            .filter(outbox::Column::Status.is_in(WAITING))
            .filter(outbox::Column::Recipient.eq(recipient))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(1000)
            .all(self.conn())
            .await?;
        rows.into_iter().map(OutboxRow::try_from).collect()
    }

    /// A message was delivered.
    pub async fn mark_sent(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sent.as_str()))
            .col_expr(outbox::Column::SentAt, Expr::value(db_time(now)))
            .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
            .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(outbox::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// A delivery failed: retried at `retry_at`, or dead when `None`.
    pub async fn mark_failed(&self, id: &str, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<()> {
        let (status, next) = match retry_at {
            Some(t) => (OutboxStatus::Failed, Some(db_time(t))),
            None => (OutboxStatus::Dead, None),
        };
        let mut q = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
            .col_expr(outbox::Column::LastError, Expr::value(error))
            .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
        if let Some(next) = next {
            q = q.col_expr(outbox::Column::NextAttemptAt, Expr::value(next));
        }
        q.filter(outbox::Column::Id.eq(id)).exec(self.conn()).await?;
        Ok(())
    }

    fn notification_query(f: &NotificationFilter) -> sea_orm::Select<outbox::Entity> {
        let mut q = outbox::Entity::find().filter(outbox::Column::Kind.is_in(MESSAGE_KINDS.map(OutboxKind::as_str)));
        if !f.statuses.is_empty() {
            q = q.filter(outbox::Column::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(r) = &f.recipient {
            q = q.filter(outbox::Column::Recipient.eq(r.clone()));
        }
        if let Some(i) = f.instance {
            q = q.filter(outbox::Column::InstanceId.eq(i.to_string()));
        }
        q
    }

    /// Messages and digest items, newest first.
    pub async fn notifications(&self, f: &NotificationFilter) -> Result<Vec<OutboxRow>> {
        let mut q =
            Self::notification_query(f).order_by_desc(outbox::Column::CreatedAt).order_by_desc(outbox::Column::Id);
        if let Some(o) = f.offset {
            q = q.offset(o);
        }
        if let Some(l) = f.limit {
            q = q.limit(l);
        }
        q.all(self.conn()).await?.into_iter().map(OutboxRow::try_from).collect()
    }

    pub async fn count_notifications(&self, f: &NotificationFilter) -> Result<u64> {
        Ok(Self::notification_query(f).count(self.conn()).await?)
    }

    /// One notification by id.
    pub async fn notification(&self, id: &str) -> Result<Option<OutboxRow>> {
        let row = outbox::Entity::find_by_id(id.to_string()).one(self.conn()).await?;
        let row = row.map(OutboxRow::try_from).transpose()?;
        Ok(row.filter(|r| MESSAGE_KINDS.contains(&r.kind)))
    }

    /// Queues a failed or dead message again, now, with a fresh count of
    /// attempts. Refused (`Conflict`) for a message pending or already sent.
    pub async fn retry_notification(&self, id: &str, now: DateTime<Utc>) -> Result<OutboxRow> {
        let tx = self.begin().await?;
        let mut q = outbox::Entity::find_by_id(id.to_string());
        if tx.is_postgres() {
            q = q.lock(LockType::Update);
        }
        let row = q
            .one(tx.conn())
            .await?
            .map(OutboxRow::try_from)
            .transpose()?
            .filter(|r| MESSAGE_KINDS.contains(&r.kind))
            .ok_or_else(|| Error::NotFound(format!("notification {id}")))?;
        if !matches!(row.status, OutboxStatus::Failed | OutboxStatus::Dead) {
            return Err(Error::Conflict(format!(
                "the notification is {}; only failed or dead ones are retried",
                row.status.as_str()
            )));
        }
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
            .col_expr(outbox::Column::Attempts, Expr::value(0))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(db_time(now)))
            .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(outbox::Column::Id.eq(id))
            .exec(tx.conn())
            .await?;
        let row = outbox::Entity::find_by_id(id.to_string())
            .one(tx.conn())
            .await?
            .ok_or_else(|| Error::NotFound(format!("notification {id}")))?;
        tx.commit().await?;
        row.try_into()
    }

    /// How many messages wait per status (`pending`, `failed`, `dead`), for metrics.
    pub async fn outbox_status_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Status)
            .column_as(outbox::Column::Id.count(), "n")
            .filter(
                outbox::Column::Status
                    .is_in([OutboxStatus::Pending, OutboxStatus::Failed, OutboxStatus::Dead].map(OutboxStatus::as_str)),
            )
            .group_by(outbox::Column::Status)
            .into_tuple()
            .all(self.conn())
            .await?)
    }

    /// An installation-wide setting, created by `make` the first time (every
    /// replica then reads the same value).
    pub async fn setting_or_init(
        &self,
        key: &str,
        make: impl FnOnce() -> String,
        now: DateTime<Utc>,
    ) -> Result<String> {
        if let Some(r) = setting::Entity::find_by_id(key.to_string()).one(self.conn()).await? {
            return Ok(r.value);
        }
        setting::Entity::insert(setting::ActiveModel {
            key: Set(key.into()),
            value: Set(make()),
            created_at: Set(db_time(now)),
        })
        .on_conflict(OnConflict::column(setting::Column::Key).do_nothing().to_owned())
        .exec_without_returning(self.conn())
        .await?;
        setting::Entity::find_by_id(key.to_string())
            .one(self.conn())
            .await?
            .map(|r| r.value)
            .ok_or_else(|| Error::NotFound(format!("setting {key}")))
    }
}

/// New outbox rows (lease, sending time: none yet); a key already queued is skipped.
const OUTBOX: crate::rows::Insert = crate::rows::Insert {
    table: "outbox",
    columns: &[
        "id",
        "idempotency_key",
        "instance_id",
        "kind",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "last_error",
        "recipient",
        "subject",
    ],
    json: &["payload"],
    tail: "ON CONFLICT (idempotency_key) DO NOTHING",
};

impl Tx {
    /// Queues rows; a key already queued is skipped.
    pub async fn insert_outbox(&self, rows: &[NewOutbox], now: DateTime<Utc>) -> Result<()> {
        for part in rows.chunks(crate::writes::CHUNK) {
            self.insert_outbox_rows(part, now).await?;
        }
        Ok(())
    }

    async fn insert_outbox_rows(&self, rows: &[NewOutbox], now: DateTime<Utc>) -> Result<()> {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * OUTBOX.columns.len());
        for r in rows {
            values.extend([
                Uuid::now_v7().to_string().into(),
                r.key.clone().into(),
                r.instance.map(|i| i.to_string()).into(),
                r.kind.as_str().to_string().into(),
                r.payload.to_string().into(),
                r.status.as_str().to_string().into(),
                0i32.into(),
                db_time(r.due).into(),
                db_time(now).into(),
                r.error.clone().into(),
                r.recipient.clone().into(),
                r.subject.clone().into(),
            ]);
        }
        OUTBOX.run(self.conn(), values).await?;
        Ok(())
    }

    /// Removes rows (notices once expanded).
    pub async fn delete_outbox(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        outbox::Entity::delete_many().filter(outbox::Column::Id.is_in(ids.to_vec())).exec(self.conn()).await?;
        Ok(())
    }

    /// Marks rows sent (digest items gathered into a digest).
    pub async fn mark_outbox_sent(&self, ids: &[String], now: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sent.as_str()))
            .col_expr(outbox::Column::SentAt, Expr::value(db_time(now)))
            .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(outbox::Column::Id.is_in(ids.to_vec()))
            .exec(self.conn())
            .await?;
        Ok(())
    }
}
