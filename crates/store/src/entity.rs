//! The sea-orm entities: this crate's private business. Nothing outside the
//! store sees them; the store's API speaks engine and plain types.

macro_rules! entity {
    ($module:ident, $table:literal, { $($field:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($field)* }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(workspace, "workspaces", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub timezone: String,
    pub calendar: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub profile: Json,
    pub profile_version: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub posting_limits: Json,
});

entity!(workspace_profile, "workspace_profiles", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub profile: Json,
    pub changed_at: DateTimeUtc,
    pub changed_by: String,
});

entity!(publication, "publications", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance: String,
    pub workspace: String,
    pub channel: String,
    pub title: Option<String>,
    pub at: DateTimeUtc,
});

entity!(calendar_feed, "calendar_feeds", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub secret_hash: String,
    pub user_login: String,
    pub name: String,
    pub workspace: Option<String>,
    pub created_at: DateTimeUtc,
});

entity!(approval_batch, "approval_batches", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub recipient: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub items: Json,
    pub created_at: DateTimeUtc,
});

entity!(user, "users", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub login: String,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub notification_mode: String,
    pub created_at: DateTimeUtc,
    pub can_deploy_workflows: bool,
});

entity!(membership, "memberships", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_login: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
    pub created_at: DateTimeUtc,
});

entity!(api_token, "api_tokens", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub user_login: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub id: Option<String>,
    /// `api` (a token for scripts) or `session` (a console sign-in).
    pub kind: String,
    /// When it stops working (sessions); null: until revoked.
    pub expires_at: Option<DateTimeUtc>,
});

entity!(document, "documents", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub source: String,
    pub content_hash: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
});

entity!(instance, "instances", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workflow: String,
    pub version: i32,
    pub workspace: String,
    pub status: String,
    pub started_at: DateTimeUtc,
    pub started_by: String,
    pub completed_at: Option<DateTimeUtc>,
    pub parent_id: Option<String>,
    pub schedule_id: Option<String>,
    pub scheduled_for: Option<DateTimeUtc>,
    pub seq: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub state: Json,
    pub updated_at: DateTimeUtc,
});

entity!(task, "tasks", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub no: i32,
    pub workspace: String,
    pub workflow: String,
    pub step: String,
    pub kind: String,
    pub status: String,
    pub role: Option<String>,
    pub assignee: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub candidates: Json,
    pub title: String,
    pub priority: String,
    pub round: i32,
    pub due_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub claimed_at: Option<DateTimeUtc>,
    pub party: String,
    pub calendar: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub reasons: Option<Json>,
});

entity!(event, "events", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub kind: String,
    pub at: DateTimeUtc,
    pub actor: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
});

entity!(timer, "timers", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub due_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
});

entity!(outbox, "outbox", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub idempotency_key: String,
    pub instance_id: Option<String>,
    pub kind: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
});

entity!(setting, "settings", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: String,
    pub created_at: DateTimeUtc,
});

entity!(idempotency, "idempotency", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub result: String,
    pub created_at: DateTimeUtc,
});

entity!(schedule, "schedules", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workflow: String,
    pub workspace: String,
    pub source: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub spec: Json,
    pub paused: bool,
    pub next_fire_at: Option<DateTimeUtc>,
    pub runs: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
});

entity!(schedule_fire, "schedule_fires", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub schedule_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub scheduled_for: DateTimeUtc,
    pub fired_at: DateTimeUtc,
    pub instance_id: Option<String>,
    pub skipped: bool,
    pub reason: Option<String>,
});
