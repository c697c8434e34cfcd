//! The first schema: people, definitions, instances with their event log
//! and task read table, timers, the outbox and idempotency keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    Workflow,
    Workspace,
    Source,
    Spec,
    Paused,
    NextFireAt,
    Runs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScheduleFires {
    Table,
    ScheduleId,
    ScheduledFor,
    FiredAt,
    InstanceId,
    Skipped,
    Reason,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Key,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Login,
    Email,
    Name,
    IsAdmin,
    NotificationMode,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Workspace,
    UserLogin,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    TokenHash,
    UserLogin,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Kind,
    Key,
    Version,
    Source,
    ContentHash,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Workflow,
    Version,
    Workspace,
    Status,
    StartedAt,
    StartedBy,
    CompletedAt,
    ParentId,
    ScheduleId,
    ScheduledFor,
    Seq,
    State,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    InstanceId,
    No,
    Workspace,
    Workflow,
    Step,
    Kind,
    Status,
    Role,
    Assignee,
    Candidates,
    Title,
    Priority,
    Round,
    DueAt,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    InstanceId,
    Seq,
    Kind,
    At,
    Actor,
    Data,
}

#[derive(DeriveIden)]
enum Timers {
    Table,
    InstanceId,
    Key,
    DueAt,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    IdempotencyKey,
    InstanceId,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum Idempotency {
    Table,
    Scope,
    Key,
    Result,
    CreatedAt,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row: the installation.
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .if_not_exists()
                .col(text(Organizations::Id).primary_key())
                .col(text(Organizations::Name))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .if_not_exists()
                .col(text(Workspaces::Key).primary_key())
                .col(text(Workspaces::Name))
                .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(text(Users::Login).primary_key())
                .col(text(Users::Email))
                .col(text_null(Users::Name))
                .col(boolean(Users::IsAdmin).default(false))
                .col(text(Users::NotificationMode).default("immediate"))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ux_users_email", Users::Table, &["email"], true)).await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .if_not_exists()
                .col(text(Memberships::Workspace))
                .col(text(Memberships::UserLogin))
                .col(text(Memberships::Role))
                .col(timestamp_with_time_zone(Memberships::CreatedAt))
                .primary_key(
                    Index::create().col(Memberships::Workspace).col(Memberships::UserLogin).col(Memberships::Role),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_memberships_workspace")
                        .from(Memberships::Table, Memberships::Workspace)
                        .to(Workspaces::Table, Workspaces::Key)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_memberships_user")
                        .from(Memberships::Table, Memberships::UserLogin)
                        .to(Users::Table, Users::Login)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_memberships_user", Memberships::Table, &["user_login"], false)).await?;
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .if_not_exists()
                .col(text(ApiTokens::TokenHash).primary_key())
                .col(text(ApiTokens::UserLogin))
                .col(text(ApiTokens::Name))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_tokens_user")
                        .from(ApiTokens::Table, ApiTokens::UserLogin)
                        .to(Users::Table, Users::Login)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Documents::Table)
                .if_not_exists()
                .col(text(Documents::Kind))
                .col(text(Documents::Key))
                .col(integer(Documents::Version))
                .col(text(Documents::Source))
                .col(text(Documents::ContentHash))
                .col(timestamp_with_time_zone(Documents::CreatedAt))
                .col(text(Documents::CreatedBy))
                .primary_key(Index::create().col(Documents::Kind).col(Documents::Key).col(Documents::Version))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ux_documents_content", Documents::Table, &["kind", "key", "content_hash"], true)).await?;
        m.create_table(
            Table::create()
                .table(Instances::Table)
                .if_not_exists()
                .col(text(Instances::Id).primary_key())
                .col(text(Instances::Workflow))
                .col(integer(Instances::Version))
                .col(text(Instances::Workspace))
                .col(text(Instances::Status))
                .col(timestamp_with_time_zone(Instances::StartedAt))
                .col(text(Instances::StartedBy))
                .col(timestamp_with_time_zone_null(Instances::CompletedAt))
                .col(text_null(Instances::ParentId))
                .col(text_null(Instances::ScheduleId))
                .col(timestamp_with_time_zone_null(Instances::ScheduledFor))
                .col(big_integer(Instances::Seq))
                .col(json_binary(Instances::State))
                .col(timestamp_with_time_zone(Instances::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_instances_workspace_status",
            Instances::Table,
            &["workspace", "status", "started_at"],
            false,
        ))
        .await?;
        m.create_index(index("ix_instances_workflow", Instances::Table, &["workflow", "started_at"], false)).await?;
        m.create_index(index("ix_instances_parent", Instances::Table, &["parent_id"], false)).await?;
        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .if_not_exists()
                .col(text(Tasks::InstanceId))
                .col(integer(Tasks::No))
                .col(text(Tasks::Workspace))
                .col(text(Tasks::Workflow))
                .col(text(Tasks::Step))
                .col(text(Tasks::Kind))
                .col(text(Tasks::Status))
                .col(text_null(Tasks::Role))
                .col(text_null(Tasks::Assignee))
                .col(json_binary(Tasks::Candidates))
                .col(text(Tasks::Title))
                .col(text(Tasks::Priority))
                .col(integer(Tasks::Round))
                .col(timestamp_with_time_zone_null(Tasks::DueAt))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
                .primary_key(Index::create().col(Tasks::InstanceId).col(Tasks::No))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_instance")
                        .from(Tasks::Table, Tasks::InstanceId)
                        .to(Instances::Table, Instances::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_tasks_inbox_role",
            Tasks::Table,
            &["workspace", "status", "role", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index("ix_tasks_inbox_assignee", Tasks::Table, &["assignee", "status", "created_at"], false))
            .await?;
        m.create_index(index("ix_tasks_due", Tasks::Table, &["status", "due_at"], false)).await?;
        m.create_table(
            Table::create()
                .table(Events::Table)
                .if_not_exists()
                .col(text(Events::InstanceId))
                .col(big_integer(Events::Seq))
                .col(text(Events::Kind))
                .col(timestamp_with_time_zone(Events::At))
                .col(text(Events::Actor))
                .col(json_binary(Events::Data))
                .primary_key(Index::create().col(Events::InstanceId).col(Events::Seq))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_events_instance")
                        .from(Events::Table, Events::InstanceId)
                        .to(Instances::Table, Instances::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Timers::Table)
                .if_not_exists()
                .col(text(Timers::InstanceId))
                .col(text(Timers::Key))
                .col(timestamp_with_time_zone(Timers::DueAt))
                .col(text_null(Timers::LeaseOwner))
                .col(timestamp_with_time_zone_null(Timers::LeaseUntil))
                .primary_key(Index::create().col(Timers::InstanceId).col(Timers::Key))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_timers_due", Timers::Table, &["due_at"], false)).await?;
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .if_not_exists()
                .col(text(Outbox::Id).primary_key())
                .col(text(Outbox::IdempotencyKey))
                .col(text_null(Outbox::InstanceId))
                .col(text(Outbox::Kind))
                .col(json_binary(Outbox::Payload))
                .col(text(Outbox::Status))
                .col(integer(Outbox::Attempts).default(0))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(text_null(Outbox::LeaseOwner))
                .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                .col(text_null(Outbox::LastError))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ux_outbox_key", Outbox::Table, &["idempotency_key"], true)).await?;
        m.create_index(index("ix_outbox_due", Outbox::Table, &["status", "next_attempt_at"], false)).await?;
        // Schedules (from YAML or the API); `spec` holds cron, timezone,
        // inputs and policies as JSON. A fire is keyed by (schedule, time):
        // the primary key makes a second start of the same fire impossible.
        m.create_table(
            Table::create()
                .table(Schedules::Table)
                .if_not_exists()
                .col(text(Schedules::Id).primary_key())
                .col(text(Schedules::Workflow))
                .col(text(Schedules::Workspace))
                .col(text(Schedules::Source))
                .col(json_binary(Schedules::Spec))
                .col(boolean(Schedules::Paused).default(false))
                .col(timestamp_with_time_zone_null(Schedules::NextFireAt))
                .col(integer(Schedules::Runs).default(0))
                .col(timestamp_with_time_zone(Schedules::CreatedAt))
                .col(timestamp_with_time_zone(Schedules::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_schedules_next_fire", Schedules::Table, &["paused", "next_fire_at"], false)).await?;
        m.create_table(
            Table::create()
                .table(ScheduleFires::Table)
                .if_not_exists()
                .col(text(ScheduleFires::ScheduleId))
                .col(timestamp_with_time_zone(ScheduleFires::ScheduledFor))
                .col(timestamp_with_time_zone(ScheduleFires::FiredAt))
                .col(text_null(ScheduleFires::InstanceId))
                .col(boolean(ScheduleFires::Skipped).default(false))
                .col(text_null(ScheduleFires::Reason))
                .primary_key(Index::create().col(ScheduleFires::ScheduleId).col(ScheduleFires::ScheduledFor))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_schedule_fires_schedule")
                        .from(ScheduleFires::Table, ScheduleFires::ScheduleId)
                        .to(Schedules::Table, Schedules::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Idempotency::Table)
                .if_not_exists()
                .col(text(Idempotency::Scope))
                .col(text(Idempotency::Key))
                .col(text(Idempotency::Result))
                .col(timestamp_with_time_zone(Idempotency::CreatedAt))
                .primary_key(Index::create().col(Idempotency::Scope).col(Idempotency::Key))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "schedule_fires",
            "schedules",
            "idempotency",
            "outbox",
            "timers",
            "events",
            "tasks",
            "instances",
            "documents",
            "api_tokens",
            "memberships",
            "users",
            "workspaces",
            "organizations",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
