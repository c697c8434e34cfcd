//! Batch approvals: the approvals one batch mail asks for, by the row its
//! link names.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;
use sea_orm::sea_query::OnConflict;
use uuid::Uuid;

use crate::entity::approval_batch;
use crate::{Result, Store, Tx, db_time};

/// One approval of a batch: a task of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchItem {
    pub instance: Uuid,
    pub task: u32,
}

/// A batch as sent: to whom, and its approvals in the mail's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub id: String,
    pub recipient: String,
    pub items: Vec<BatchItem>,
    pub created_at: DateTime<Utc>,
}

impl Tx {
    /// Records a batch; a second record under the same id (a gather
    /// repeated after a crash) keeps the first.
    pub async fn insert_batch(&self, b: &Batch) -> Result<()> {
        let items = serde_json::to_value(&b.items).map_err(|e| crate::Error::Corrupt(e.to_string()))?;
        approval_batch::Entity::insert(approval_batch::ActiveModel {
            id: Set(b.id.clone()),
            recipient: Set(b.recipient.clone()),
            items: Set(items),
            created_at: Set(db_time(b.created_at)),
        })
        .on_conflict(OnConflict::column(approval_batch::Column::Id).do_nothing().to_owned())
        .exec_without_returning(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn batch(&self, id: &str) -> Result<Option<Batch>> {
        let Some(row) = approval_batch::Entity::find_by_id(id.to_string()).one(self.conn()).await? else {
            return Ok(None);
        };
        let items: Vec<BatchItem> = serde_json::from_value(row.items)
            .map_err(|e| crate::Error::Corrupt(format!("batch {id} has unreadable items: {e}")))?;
        Ok(Some(Batch { id: row.id, recipient: row.recipient, items, created_at: row.created_at }))
    }
}
