//! Console sessions live beside API tokens: `kind` tells them apart (`api`
//! for every existing row) and `expires_at` ends a session.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Kind,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let add = |c: ColumnDef| Table::alter().table(ApiTokens::Table).add_column(c).to_owned();
        m.alter_table(add(text(ApiTokens::Kind).default("api").to_owned())).await?;
        m.alter_table(add(timestamp_with_time_zone_null(ApiTokens::ExpiresAt).to_owned())).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in [ApiTokens::ExpiresAt, ApiTokens::Kind] {
            m.alter_table(Table::alter().table(ApiTokens::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
