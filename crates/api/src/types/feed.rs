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

#[Object(name = "CalendarFeed")]
impl CalendarFeedObj {
    async fn id(&self) -> ID {
        ID(self.feed.id.clone())
    }
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
    async fn created_at(&self) -> DateTime<Utc> {
        self.feed.created_at
    }
}

#[derive(InputObject)]
pub struct CreateCalendarFeedInput {
    pub name: String,
    /// Only this workspace (else every workspace of yours).
    pub workspace: Option<String>,
}

#[derive(InputObject)]
pub struct RevokeCalendarFeedInput {
    pub feed_id: ID,
}

#[derive(SimpleObject)]
pub struct CalendarFeedPayload {
    pub feed: Option<CalendarFeedObj>,
    pub user_errors: Vec<UserError>,
}

/// The absolute URL of a secret.
pub fn url_of(ctx: &Context<'_>, secret: &str) -> String {
    let base = ctx.data::<crate::PublicUrl>().map(|p| p.0.clone()).unwrap_or_default();
    format!("{base}/calendar/{secret}.ics")
}
