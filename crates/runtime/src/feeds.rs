//! iCalendar feeds: a calendar application subscribes to a secret URL and
//! sees the owner's publications and due work. The secret is shown once and
//! stored as its hash; revoking deletes it (the URL then answers 404). What
//! a feed shows is read as its owner sees it at that moment: a membership
//! removed since takes that workspace out of the feed.

use chrono::{DateTime, Duration, Utc};
use smmflow_store::{Feed, PublicationFilter, PublicationRow, TaskFilter, TaskRow};

use crate::access::Signed;
use crate::admin::hash_token;
use crate::{Error, Result, Runtime};

/// The most feeds one person may have.
pub const MAX_FEEDS: usize = 20;

/// What a feed shows now.
#[derive(Clone, Debug)]
pub struct FeedData {
    pub feed: Feed,
    pub publications: Vec<PublicationRow>,
    pub tasks: Vec<TaskRow>,
    pub now: DateTime<Utc>,
}

fn new_secret() -> String {
    format!("cal_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

impl Signed<'_> {
    /// A new feed of the viewer's (one workspace's, or all of theirs);
    /// returns it with its secret (shown once).
    pub async fn create_feed(&self, name: &str, workspace: Option<&str>) -> Result<(Feed, String)> {
        smmflow_spec::text::name(name)
            .map_err(|m| Error::Field { field: "name".into(), message: format!("a name {m}") })?;
        let rt = self.s.runtime();
        if let Some(w) = workspace
            && (!self.viewer.is_member(w) || !rt.store.workspace_exists(w).await?)
        {
            return Err(Error::Field { field: "workspace".into(), message: format!("you are not a member of `{w}`") });
        }
        if rt.store.feeds_of(self.viewer.login()).await?.len() >= MAX_FEEDS {
            return Err(Error::Field {
                field: "name".into(),
                message: format!("you have {MAX_FEEDS} feeds already: revoke one first"),
            });
        }
        let secret = new_secret();
        let feed = Feed {
            id: uuid::Uuid::now_v7().to_string(),
            user: self.viewer.login().to_string(),
            name: name.to_string(),
            workspace: workspace.map(str::to_string),
            created_at: rt.now(),
        };
        rt.store.create_feed(&feed, &hash_token(&secret)).await?;
        Ok((feed, secret))
    }

    /// The viewer's feeds (never their secrets).
    pub async fn feeds(&self) -> Result<Vec<Feed>> {
        Ok(self.s.runtime().store.feeds_of(self.viewer.login()).await?)
    }

    /// Revokes one of the viewer's feeds (admins: anyone's); another's is not found.
    pub async fn revoke_feed(&self, id: &str) -> Result<Feed> {
        let rt = self.s.runtime();
        let not_found = || Error::NotFound(format!("calendar feed {id}"));
        let feed = rt.store.feed(id).await?.ok_or_else(not_found)?;
        if feed.user != self.viewer.login() && !self.viewer.is_admin() {
            return Err(not_found());
        }
        if !rt.store.delete_feed(id).await? {
            return Err(not_found());
        }
        Ok(feed)
    }
}

impl Runtime {
    /// What the feed with this secret shows now (None: no such feed).
    /// Publications from 30 days back to a year ahead; the owner's open
    /// tasks with a due time.
    pub async fn open_feed(&self, secret: &str) -> Result<Option<FeedData>> {
        if secret.len() > 200 {
            return Ok(None);
        }
        let Some(feed) = self.store.feed_by_secret(&hash_token(secret)).await? else { return Ok(None) };
        let Some(user) = self.store.user(&feed.user).await? else { return Ok(None) };
        let memberships = self.store.memberships(&user.login).await?;
        let member = |w: &str| user.is_admin || memberships.iter().any(|m| m.workspace == w);
        let mut visible: Option<Vec<String>> = if user.is_admin {
            None
        } else {
            let mut ws: Vec<String> = memberships.iter().map(|m| m.workspace.clone()).collect();
            ws.sort();
            ws.dedup();
            Some(ws)
        };
        if let Some(w) = &feed.workspace {
            visible = Some(if member(w) { vec![w.clone()] } else { Vec::new() });
        }
        let now = self.now();
        let publications = self
            .store
            .publications(&PublicationFilter {
                from: Some(now - Duration::days(30)),
                to: Some(now + Duration::days(366)),
                workspaces: visible.clone(),
                now,
                limit: 5_000,
                ..Default::default()
            })
            .await?;
        // Open tasks for the owner's roles, in the feed's workspaces only.
        let roles = memberships
            .iter()
            .filter(|m| visible.as_ref().is_none_or(|v| v.contains(&m.workspace)))
            .map(|m| (m.workspace.clone(), m.role.clone()))
            .collect();
        let tasks = self
            .store
            .tasks(&TaskFilter {
                visible,
                statuses: vec!["open".into(), "claimed".into()],
                due_before: Some(now + Duration::days(366)),
                mine: Some((user.login.clone(), roles)),
                limit: Some(2_000),
                ..Default::default()
            })
            .await?;
        Ok(Some(FeedData { feed, publications, tasks, now }))
    }
}
