//! iCalendar feeds as their owner manages them: the URL (with its secret)
//! is shown only when the feed is created.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use smmflow_runtime::Feed;

use crate::error::UserError;

/// A calendar feed of the viewer's.
pub struct CalendarFeedObj {
    pub feed: Feed,
    /// Only right after `createCalendarFeed`.
    pub url: Option<String>,
}

/// An iCalendar feed of the owner's publications and due tasks, for a calendar app.
#[Object(name = "CalendarFeed")]
impl CalendarFeedObj {
    /// The feed's id, for `revokeCalendarFeed`.
    async fn id(&self) -> ID {
        ID(self.feed.id.clone())
    }
    /// The name given at creation, to tell feeds apart.
    async fn name(&self) -> &str {
        &self.feed.name
    }
    /// The absolute `.ics` address, with its secret: shown once, when the
    /// feed is created (it is stored only as a hash).
    async fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
    /// The one workspace it shows (else all of the owner's).
    async fn workspace(&self) -> Option<&str> {
        self.feed.workspace.as_deref()
    }
    /// When it was created (RFC 3339, UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.feed.created_at
    }
}

/// A new iCalendar feed for the caller.
#[derive(InputObject)]
pub struct CreateCalendarFeedInput {
    /// A name to tell your feeds apart.
    pub name: String,
    /// Only this workspace (else every workspace of yours).
    pub workspace: Option<String>,
}

/// Which calendar feed to revoke.
#[derive(InputObject)]
pub struct RevokeCalendarFeedInput {
    /// The feed's `id`.
    pub feed_id: ID,
}

/// The result of `createCalendarFeed` or `revokeCalendarFeed`.
#[derive(SimpleObject)]
pub struct CalendarFeedPayload {
    /// The feed (its `url` only right after creation); null when there are user errors.
    pub feed: Option<CalendarFeedObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// The absolute URL of a secret.
pub fn url_of(ctx: &Context<'_>, secret: &str) -> String {
    let base = ctx.data::<crate::PublicUrl>().map(|p| p.0.clone()).unwrap_or_default();
    format!("{base}/calendar/{secret}.ics")
}
