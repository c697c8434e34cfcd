//! Notifications: the outbox gets the recipient and subject of each message
//! (for the admins' `notifications` list), and a `settings` table keeps
//! installation-wide secrets such as the key that signs approval links.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Recipient,
    Subject,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Recipient)).to_owned()).await?;
        m.alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Subject)).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_kind_due")
                .table(Outbox::Table)
                .col(Alias::new("kind"))
                .col(Alias::new("status"))
                .col(Alias::new("next_attempt_at"))
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_recipient")
                .table(Outbox::Table)
                .col(Outbox::Recipient)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .if_not_exists()
                .col(text(Settings::Key).primary_key())
                .col(text(Settings::Value))
                .col(timestamp_with_time_zone(Settings::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Settings::Table).if_exists().to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_recipient").table(Outbox::Table).if_exists().to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_kind_due").table(Outbox::Table).if_exists().to_owned()).await?;
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Subject).to_owned()).await?;
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Recipient).to_owned()).await?;
        Ok(())
    }
}
