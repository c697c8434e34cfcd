//! Clients: a workspace gets its settings (timezone, business calendar,
//! posting limits) and a typed profile, whose every version is kept in
//! `workspace_profiles` (who changed it, when, and the whole profile).
//! The content calendar: one `publications` row per instance of a workflow
//! that declares `publication:` (its status is the instance's), and
//! `calendar_feeds`, the iCalendar feeds' secrets (stored hashed).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Key,
    Timezone,
    Calendar,
    Profile,
    ProfileVersion,
    PostingLimits,
}

#[derive(DeriveIden)]
enum WorkspaceProfiles {
    Table,
    Workspace,
    Version,
    Profile,
    ChangedAt,
    ChangedBy,
}

#[derive(DeriveIden)]
enum Publications {
    Table,
    Instance,
    Workspace,
    Channel,
    Title,
    At,
}

#[derive(DeriveIden)]
enum CalendarFeeds {
    Table,
    Id,
    SecretHash,
    UserLogin,
    Name,
    Workspace,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE. Existing workspaces keep
        // working as before: UTC, no calendar, an empty profile, no limits.
        let add = |c: ColumnDef| Table::alter().table(Workspaces::Table).add_column(c).to_owned();
        m.alter_table(add(text(Workspaces::Timezone).default("UTC").to_owned())).await?;
        m.alter_table(add(text_null(Workspaces::Calendar).to_owned())).await?;
        m.alter_table(add(json_binary(Workspaces::Profile).default("{}").to_owned())).await?;
        m.alter_table(add(integer(Workspaces::ProfileVersion).default(0).to_owned())).await?;
        m.alter_table(add(json_binary(Workspaces::PostingLimits).default("[]").to_owned())).await?;
        m.create_table(
            Table::create()
                .table(WorkspaceProfiles::Table)
                .if_not_exists()
                .col(text(WorkspaceProfiles::Workspace))
                .col(integer(WorkspaceProfiles::Version))
                .col(json_binary(WorkspaceProfiles::Profile))
                .col(timestamp_with_time_zone(WorkspaceProfiles::ChangedAt))
                .col(text(WorkspaceProfiles::ChangedBy))
                .primary_key(Index::create().col(WorkspaceProfiles::Workspace).col(WorkspaceProfiles::Version))
                .foreign_key(
                    ForeignKey::create()
                        .from(WorkspaceProfiles::Table, WorkspaceProfiles::Workspace)
                        .to(Workspaces::Table, Workspaces::Key),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Publications::Table)
                .if_not_exists()
                .col(text(Publications::Instance).primary_key())
                .col(text(Publications::Workspace))
                .col(text(Publications::Channel))
                .col(text_null(Publications::Title))
                .col(timestamp_with_time_zone(Publications::At))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_publications_at", vec![Publications::At]),
            ("ix_publications_workspace_at", vec![Publications::Workspace, Publications::At]),
        ] {
            let mut ix = Index::create();
            ix.name(name).table(Publications::Table).if_not_exists();
            for c in cols {
                ix.col(c);
            }
            m.create_index(ix.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(CalendarFeeds::Table)
                .if_not_exists()
                .col(text(CalendarFeeds::Id).primary_key())
                .col(text(CalendarFeeds::SecretHash).unique_key())
                .col(text(CalendarFeeds::UserLogin))
                .col(text(CalendarFeeds::Name))
                .col(text_null(CalendarFeeds::Workspace))
                .col(timestamp_with_time_zone(CalendarFeeds::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CalendarFeeds::Table).if_exists().to_owned()).await?;
        m.drop_table(Table::drop().table(Publications::Table).if_exists().to_owned()).await?;
        m.drop_table(Table::drop().table(WorkspaceProfiles::Table).if_exists().to_owned()).await?;
        for c in [
            Workspaces::PostingLimits,
            Workspaces::ProfileVersion,
            Workspaces::Profile,
            Workspaces::Calendar,
            Workspaces::Timezone,
        ] {
            m.alter_table(Table::alter().table(Workspaces::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
