//! smmflow-api: the GraphQL schema (async-graphql) and the HTTP server
//! (axum). Resolvers are thin: they get a permission-scoped handle from
//! [`access::Access`], call it, and map the result to the API's own types.

pub mod access;
pub mod approval_page;
pub mod batch_page;
pub mod console;
pub mod datadir;
pub mod demo;
mod embedded;
pub mod error;
mod graphiql;
pub mod ical;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
mod parsed;
pub mod query;
pub mod report;
mod review;
pub mod serve;
pub mod server;
pub mod subscription;
pub mod types;
mod ws;

use std::sync::Arc;

use async_graphql::{Context, Schema};
use smmflow_runtime::Runtime;

pub use access::{Session, hash_token, new_token};
pub use server::{ServerOptions, router};

pub type AppSchema = Schema<query::Query, mutation::Mutation, subscription::SubscriptionRoot>;

pub use limits::{MAX_COMPLEXITY, MAX_DEPTH};

/// How the schema runs: introspection, the per-user cost budget, the clock.
#[derive(Clone, Default)]
pub struct SchemaOptions {
    pub introspection: bool,
    /// Cost units per user and minute (None: no rate limit).
    pub budgets: Option<Arc<limits::Budgets>>,
    pub manual_clock: Option<smmflow_runtime::ManualClock>,
    /// The base of absolute links (`SMMFLOW_PUBLIC_URL`); empty: relative links.
    pub public_url: String,
}

/// The base of absolute links, for resolvers.
pub(crate) struct PublicUrl(pub String);

pub fn schema(rt: Arc<Runtime>, opts: SchemaOptions) -> AppSchema {
    let mut b = described(Schema::build(query::Query, mutation::Mutation::default(), subscription::SubscriptionRoot))
        .data(rt)
        .data(ManualClockHandle(opts.manual_clock))
        .data(PublicUrl(opts.public_url))
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(16)
        .extension(limits::Hygiene)
        .extension(parsed::ParseCache::default());
    if !opts.introspection {
        // Without introspection, errors do not suggest field names either.
        b = b.disable_introspection().disable_suggestions();
    }
    if let Some(budgets) = opts.budgets {
        b = b.extension(limits::Budget(budgets));
    }
    b.finish()
}

/// The SDL of the schema (docs/schema.graphql).
pub fn sdl() -> String {
    described(Schema::build(query::Query, mutation::Mutation::default(), subscription::SubscriptionRoot)).finish().sdl()
}

/// Descriptions of the types async-graphql defines (doc comments describe ours).
fn described(
    b: async_graphql::SchemaBuilder<query::Query, mutation::Mutation, subscription::SubscriptionRoot>,
) -> async_graphql::SchemaBuilder<query::Query, mutation::Mutation, subscription::SubscriptionRoot> {
    use types::page::Page;
    b.override_output_type_description::<chrono::DateTime<chrono::Utc>>(
        "A point in time: an RFC 3339 string in UTC, e.g. `2026-12-08T06:30:00Z` (inputs may carry any offset).",
    )
    .override_input_type_description::<chrono::DateTime<chrono::Utc>>(
        "A point in time: an RFC 3339 string in UTC, e.g. `2026-12-08T06:30:00Z` (inputs may carry any offset).",
    )
    .override_output_type_description::<Page<types::InstanceObj>>("A page of instances (Relay connection).")
    .override_output_type_description::<Page<types::TaskObj>>("A page of tasks (Relay connection).")
    .override_output_type_description::<Page<types::NotificationObj>>("A page of notifications (Relay connection).")
    .override_output_type_description::<Page<types::publication::PublicationObj>>(
        "A page of the content calendar's publications (Relay connection).",
    )
}

/// The manual clock, when the server runs on one (`serve --manual-clock`).
pub(crate) struct ManualClockHandle(pub Option<smmflow_runtime::ManualClock>);

pub(crate) fn runtime_of<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Runtime>, error::ApiError> {
    ctx.data::<Arc<Runtime>>().map_err(|_| error::ApiError::Internal("no runtime in the context".into()))
}

/// A user through the request's DataLoader.
pub(crate) async fn user_of(ctx: &Context<'_>, login: &str) -> Result<Option<smmflow_runtime::User>, error::ApiError> {
    let loader = ctx
        .data::<async_graphql::dataloader::DataLoader<loaders::Users>>()
        .map_err(|_| error::ApiError::Internal("no user loader".into()))?;
    loader.load_one(login.to_string()).await.map_err(|e| error::ApiError::Internal(e.to_string()))
}

/// A workspace's name through the request's DataLoader.
pub(crate) async fn workspace_name_of(ctx: &Context<'_>, key: &str) -> Result<String, error::ApiError> {
    let loader = ctx
        .data::<async_graphql::dataloader::DataLoader<loaders::WorkspaceNames>>()
        .map_err(|_| error::ApiError::Internal("no workspace loader".into()))?;
    Ok(loader
        .load_one(key.to_string())
        .await
        .map_err(|e| error::ApiError::Internal(e.to_string()))?
        .unwrap_or_default())
}

/// The request's session (every request has one, signed in or not).
pub(crate) fn access_of<'a>(ctx: &Context<'a>) -> Result<&'a Session, error::ApiError> {
    ctx.data::<Session>().map_err(|_| error::ApiError::Unauthenticated)
}
