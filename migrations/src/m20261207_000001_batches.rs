//! Batch approvals: one row per batch mail (`approval_batches`), naming the
//! approvals it asks for. The batch link's token names the row; each item is
//! decided on its own (its own single-use record in `idempotency`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApprovalBatches {
    Table,
    Id,
    Recipient,
    Items,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApprovalBatches::Table)
                .if_not_exists()
                .col(text(ApprovalBatches::Id).primary_key())
                .col(text(ApprovalBatches::Recipient))
                .col(json_binary(ApprovalBatches::Items))
                .col(timestamp_with_time_zone(ApprovalBatches::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApprovalBatches::Table).if_exists().to_owned()).await
    }
}
