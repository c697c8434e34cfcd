//! Analytics read the task rows (kept current on every commit): a task gets
//! when it was first taken (`claimed_at`), whose side its people are on
//! (`party`), the calendar its instance counts business time in
//! (`calendar`), and a rejection's `reasons`. An index serves the period
//! queries (tasks completed in a window, per workspace).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    ClaimedAt,
    Party,
    Calendar,
    Reasons,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE. Existing rows: agency,
        // never claimed (waiting time unknown), the default calendar.
        let add = |c: ColumnDef| Table::alter().table(Tasks::Table).add_column(c).to_owned();
        m.alter_table(add(timestamp_with_time_zone_null(Tasks::ClaimedAt).to_owned())).await?;
        m.alter_table(add(text(Tasks::Party).default("agency").to_owned())).await?;
        m.alter_table(add(text_null(Tasks::Calendar).to_owned())).await?;
        m.alter_table(add(json_binary_null(Tasks::Reasons).to_owned())).await?;
        m.create_index(
            Index::create()
                .name("ix_tasks_period")
                .table(Tasks::Table)
                .col(Alias::new("workspace"))
                .col(Alias::new("completed_at"))
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_tasks_period").table(Tasks::Table).to_owned()).await?;
        for c in [Tasks::Reasons, Tasks::Calendar, Tasks::Party, Tasks::ClaimedAt] {
            m.alter_table(Table::alter().table(Tasks::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
