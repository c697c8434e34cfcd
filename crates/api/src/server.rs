//! The HTTP server: `/graphql` (POST, and GET for queries), `/graphql/ws`
//! (graphql-transport-ws and the legacy graphql-ws), GraphiQL at `/`,
//! `/healthz`, `/readyz`, `/metrics`, and the approval pages of external
//! stakeholders at `/approve/{token}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Data;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use smmflow_runtime::Runtime;

use crate::{Access, AppSchema};

pub struct ServerOptions {
    pub introspection: bool,
    /// Request bodies over this many bytes get HTTP 413.
    pub body_limit: usize,
    /// Set once the start-up deploy is done (`/readyz` waits for it).
    pub deployed: Arc<AtomicBool>,
    /// The clock `advanceClock` moves, when the server runs on a manual clock.
    pub manual_clock: Option<smmflow_runtime::ManualClock>,
}

#[derive(Clone)]
struct AppState {
    rt: Arc<Runtime>,
    schema: AppSchema,
    deployed: Arc<AtomicBool>,
}

impl axum::extract::FromRef<AppState> for Arc<Runtime> {
    fn from_ref(s: &AppState) -> Arc<Runtime> {
        s.rt.clone()
    }
}

pub fn router(rt: Arc<Runtime>, opts: ServerOptions) -> Router {
    let schema = crate::schema(rt.clone(), opts.introspection, opts.manual_clock);
    let state = AppState { rt, schema, deployed: opts.deployed };
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/approve/{token}", get(crate::approval_page::show).post(crate::approval_page::decide))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(opts.body_limit))
        .with_state(state)
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("smmflow").finish())
}

async fn graphql(State(s): State<AppState>, headers: HeaderMap, req: GraphQLRequest) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let access = match Access::from_token(&s.rt, auth).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("resolving a token: {}", e.message());
            return (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable").into_response();
        }
    };
    let (users, workspaces) = crate::loaders::for_request(&s.rt);
    let resp: GraphQLResponse =
        s.schema.execute(req.into_inner().data(access).data(users).data(workspaces)).await.into();
    resp.into_response()
}

/// The sub-protocol the GraphQL side will speak: the client's first
/// recognised one (the rule of `GraphQLProtocol`).
fn chosen_protocol(headers: &HeaderMap) -> Option<&'static str> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered.split(',').map(str::trim).find_map(|p| match p {
        "graphql-transport-ws" => Some("graphql-transport-ws"),
        "graphql-ws" => Some("graphql-ws"),
        _ => None,
    })
}

async fn ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let rt = s.rt.clone();
    // Agree to the very protocol the GraphQL side will speak: a client may
    // offer both, and axum would otherwise pick by its own order.
    let agreed: Vec<&'static str> = chosen_protocol(&headers).into_iter().collect();
    upgrade.protocols(agreed).on_upgrade(move |socket| {
        GraphQLWebSocket::new(socket, s.schema.clone(), protocol)
            .on_connection_init(move |payload| async move {
                let token = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let access = Access::from_token(&rt, token.as_deref())
                    .await
                    .map_err(|e| async_graphql::Error::new(e.message()))?;
                if access.viewer().is_err() {
                    return Err(async_graphql::Error::new(
                        "UNAUTHENTICATED: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                    ));
                }
                let mut data = Data::default();
                data.insert(access);
                let (users, workspaces) = crate::loaders::for_request(&rt);
                data.insert(users);
                data.insert(workspaces);
                Ok(data)
            })
            .serve()
    })
}

async fn metrics(State(s): State<AppState>) -> Response {
    match s.rt.metrics_text().await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::error!("metrics: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable").into_response()
        }
    }
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, String) {
    if !s.deployed.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "deploying the workflows folder".into());
    }
    if let Some(problem) = s.rt.health.problem() {
        return (StatusCode::SERVICE_UNAVAILABLE, problem);
    }
    if s.rt.store().ready().await {
        (StatusCode::OK, "ready".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable or not migrated".into())
    }
}
