//! Notifications as admins see them: one message to one recipient (or an
//! item waiting for its recipient's digest), with its delivery state.

use async_graphql::{Context, Enum, ID, InputObject, Object};

use crate::error::ApiResult as Result;
use chrono::{DateTime, Utc};
use smmflow_runtime::{OutboxKind, OutboxRow, OutboxStatus};

use crate::access_of;
use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::instance::InstanceObj;

/// Where a notification stands in its delivery.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum NotificationStatus {
    /// Waiting to be sent (or, for a digest item, for its digest).
    Pending,
    /// Handed over: to the mail server, or written to the outbox folder.
    Sent,
    /// The last attempt failed; it is retried at `nextAttemptAt`.
    Failed,
    /// Given up (a permanent refusal or too many attempts); `retryNotification` queues it again.
    Dead,
}

impl From<NotificationStatus> for OutboxStatus {
    fn from(s: NotificationStatus) -> OutboxStatus {
        match s {
            NotificationStatus::Pending => OutboxStatus::Pending,
            NotificationStatus::Sent => OutboxStatus::Sent,
            NotificationStatus::Failed => OutboxStatus::Failed,
            NotificationStatus::Dead => OutboxStatus::Dead,
        }
    }
}

impl From<OutboxStatus> for NotificationStatus {
    fn from(s: OutboxStatus) -> NotificationStatus {
        match s {
            OutboxStatus::Pending => NotificationStatus::Pending,
            OutboxStatus::Sent => NotificationStatus::Sent,
            OutboxStatus::Failed => NotificationStatus::Failed,
            OutboxStatus::Dead => NotificationStatus::Dead,
        }
    }
}

/// How a message reaches its recipient.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum NotificationDelivery {
    /// On its own, as soon as possible.
    Immediate,
    /// Gathered into the recipient's hourly or daily digest.
    Digest,
    /// An approval request waiting for its batch's window to close (`batch:`).
    Batch,
}

/// Which notifications to list; fields left out do not filter.
#[derive(InputObject, Default)]
pub struct NotificationFilter {
    /// Only these delivery states.
    pub status: Option<Vec<NotificationStatus>>,
    /// An e-mail address.
    pub recipient: Option<String>,
    /// Only messages about this instance.
    pub instance: Option<ID>,
}

pub struct NotificationObj(pub OutboxRow);

/// One message to one recipient (or an item waiting for a digest or batch), with its delivery state.
#[Object(name = "Notification")]
impl NotificationObj {
    /// The notification's global id, for `retryNotification`.
    pub async fn id(&self) -> ID {
        ID(NodeId::Notification(self.0.id.clone()).encode())
    }
    /// The address it goes to.
    async fn recipient(&self) -> Option<&str> {
        self.0.recipient.as_deref()
    }
    /// The recipient's login, when they have an account.
    async fn login(&self) -> Option<&str> {
        self.0.payload["mail"]["login"].as_str()
    }
    /// The message's subject line.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// What caused it: `task.created`, `approval.requested`, `notify` (a notify step),
    /// `escalation`, `digest`...
    async fn event(&self) -> Option<&str> {
        self.0.payload["mail"]["event"].as_str()
    }
    /// The plain-text body.
    async fn body(&self) -> Option<&str> {
        self.0.payload["mail"]["text"].as_str()
    }
    /// Its delivery state: `PENDING`, `SENT`, `FAILED` or `DEAD`.
    async fn status(&self) -> NotificationStatus {
        self.0.status.into()
    }
    /// Whether it goes on its own, in a digest, or in an approval batch.
    async fn delivery(&self) -> NotificationDelivery {
        match self.0.kind {
            OutboxKind::DigestItem => NotificationDelivery::Digest,
            OutboxKind::BatchItem => NotificationDelivery::Batch,
            OutboxKind::Mail | OutboxKind::Notice => NotificationDelivery::Immediate,
        }
    }
    /// Delivery attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Why the last attempt failed (or why the message could not be made).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it was queued (RFC 3339, UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it is (next) due: now, a retry, or the digest's time.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        matches!(self.0.status, OutboxStatus::Pending | OutboxStatus::Failed).then_some(self.0.next_attempt_at)
    }
    /// When it was sent (RFC 3339, UTC); null until then.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// The instance it is about, if any.
    async fn instance(&self, ctx: &Context<'_>) -> Result<Option<InstanceObj>> {
        let Some(id) = self.0.instance else { return Ok(None) };
        match access_of(ctx)?.instance(id).await {
            Ok(i) => Ok(Some(InstanceObj::new(i))),
            Err(smmflow_runtime::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(ApiError::from(e)),
        }
    }
}
