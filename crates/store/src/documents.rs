//! Deployed definitions: workflows, calendars and e-mail templates, versioned
//! by content (deploying the same content again creates nothing).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::document;
use crate::{Result, Store, Tx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Workflow,
    Calendar,
    Template,
    /// The client profile's schema (`kind: profile`; one key, `profile`).
    Profile,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Workflow => "workflow",
            DocumentKind::Calendar => "calendar",
            DocumentKind::Template => "template",
            DocumentKind::Profile => "profile",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub key: String,
    pub version: i32,
    pub source: String,
    pub content_hash: String,
    pub created_at: DateTime<Utc>,
}

impl From<document::Model> for Document {
    fn from(m: document::Model) -> Self {
        Document {
            key: m.key,
            version: m.version,
            source: m.source,
            content_hash: m.content_hash,
            created_at: m.created_at,
        }
    }
}

impl Tx {
    /// Stores the content as the next version unless that exact content was
    /// ever deployed for the key. Returns (version, created).
    pub async fn deploy(
        &self,
        kind: DocumentKind,
        key: &str,
        source: &str,
        hash: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(i32, bool)> {
        let existing = document::Entity::find()
            .filter(document::Column::Kind.eq(kind.as_str()))
            .filter(document::Column::Key.eq(key))
            .filter(document::Column::ContentHash.eq(hash))
            .one(self.conn())
            .await?;
        if let Some(d) = existing {
            return Ok((d.version, false));
        }
        let latest: Option<i32> = document::Entity::find()
            .select_only()
            .column_as(document::Column::Version.max(), "v")
            .filter(document::Column::Kind.eq(kind.as_str()))
            .filter(document::Column::Key.eq(key))
            .into_tuple::<Option<i32>>()
            .one(self.conn())
            .await?
            .flatten();
        let version = latest.unwrap_or(0) + 1;
        document::ActiveModel {
            kind: Set(kind.as_str().into()),
            key: Set(key.into()),
            version: Set(version),
            source: Set(source.into()),
            content_hash: Set(hash.into()),
            created_at: Set(now),
            created_by: Set(by.into()),
        }
        .insert(self.conn())
        .await?;
        Ok((version, true))
    }
}

impl Store {
    /// The latest version of every document of a kind, by key.
    pub async fn latest_documents(&self, kind: DocumentKind) -> Result<Vec<Document>> {
        let rows = document::Entity::find()
            .filter(document::Column::Kind.eq(kind.as_str()))
            .order_by_asc(document::Column::Key)
            .order_by_desc(document::Column::Version)
            .all(self.conn())
            .await?;
        let mut out: Vec<Document> = Vec::new();
        for r in rows {
            if out.last().is_none_or(|d| d.key != r.key) {
                out.push(r.into());
            }
        }
        Ok(out)
    }

    /// One version (the latest when `version` is None).
    pub async fn document(&self, kind: DocumentKind, key: &str, version: Option<i32>) -> Result<Option<Document>> {
        document_in(self.conn(), kind, key, version).await
    }
}

async fn document_in<C: sea_orm::ConnectionTrait>(
    c: &C,
    kind: DocumentKind,
    key: &str,
    version: Option<i32>,
) -> Result<Option<Document>> {
    let mut q =
        document::Entity::find().filter(document::Column::Kind.eq(kind.as_str())).filter(document::Column::Key.eq(key));
    if let Some(v) = version {
        q = q.filter(document::Column::Version.eq(v));
    }
    Ok(q.order_by_desc(document::Column::Version).one(c).await?.map(Document::from))
}

impl Tx {
    /// The keys of every document of a kind, sorted.
    pub async fn document_keys(&self, kind: DocumentKind) -> Result<Vec<String>> {
        let keys: Vec<String> = document::Entity::find()
            .select_only()
            .column(document::Column::Key)
            .distinct()
            .filter(document::Column::Kind.eq(kind.as_str()))
            .order_by_asc(document::Column::Key)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(keys)
    }

    /// The latest version's number (the definitions' caches hold the
    /// parsed documents by version: this reads one index entry, not a
    /// document's source).
    pub async fn latest_version(&self, kind: DocumentKind, key: &str) -> Result<Option<i32>> {
        let v: Option<Option<i32>> = document::Entity::find()
            .select_only()
            .column_as(document::Column::Version.max(), "version")
            .filter(document::Column::Kind.eq(kind.as_str()))
            .filter(document::Column::Key.eq(key))
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(v.flatten())
    }

    /// One version (the latest when `version` is None), read in this transaction.
    pub async fn document(&self, kind: DocumentKind, key: &str, version: Option<i32>) -> Result<Option<Document>> {
        document_in(self.conn(), kind, key, version).await
    }
}
