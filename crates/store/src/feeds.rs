//! iCalendar feeds: a per-user secret (stored as its hash) that reads the
//! owner's calendar without a token. Revoking deletes the row.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::calendar_feed;
use crate::{Result, Store, db_time};

/// A feed as its owner sees it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    pub id: String,
    pub user: String,
    pub name: String,
    /// Only this workspace (else every workspace of the owner).
    pub workspace: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<calendar_feed::Model> for Feed {
    fn from(m: calendar_feed::Model) -> Self {
        Feed { id: m.id, user: m.user_login, name: m.name, workspace: m.workspace, created_at: m.created_at }
    }
}

impl Store {
    pub async fn create_feed(&self, feed: &Feed, secret_hash: &str) -> Result<()> {
        calendar_feed::ActiveModel {
            id: Set(feed.id.clone()),
            secret_hash: Set(secret_hash.into()),
            user_login: Set(feed.user.clone()),
            name: Set(feed.name.clone()),
            workspace: Set(feed.workspace.clone()),
            created_at: Set(db_time(feed.created_at)),
        }
        .insert(self.conn())
        .await?;
        Ok(())
    }

    /// The feed a secret's hash opens.
    pub async fn feed_by_secret(&self, secret_hash: &str) -> Result<Option<Feed>> {
        let row = calendar_feed::Entity::find()
            .filter(calendar_feed::Column::SecretHash.eq(secret_hash))
            .one(self.conn())
            .await?;
        Ok(row.map(Feed::from))
    }

    pub async fn feed(&self, id: &str) -> Result<Option<Feed>> {
        Ok(calendar_feed::Entity::find_by_id(id.to_string()).one(self.conn()).await?.map(Feed::from))
    }

    /// A user's feeds, oldest first.
    pub async fn feeds_of(&self, user: &str) -> Result<Vec<Feed>> {
        let rows = calendar_feed::Entity::find()
            .filter(calendar_feed::Column::UserLogin.eq(user))
            .order_by_asc(calendar_feed::Column::CreatedAt)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(Feed::from).collect())
    }

    /// Deletes a feed; false when there was none.
    pub async fn delete_feed(&self, id: &str) -> Result<bool> {
        let r = calendar_feed::Entity::delete_by_id(id.to_string()).exec(self.conn()).await?;
        Ok(r.rows_affected > 0)
    }
}
