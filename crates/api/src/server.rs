//! The HTTP server: `/graphql` (POST, and GET for queries), `/graphql/ws`
//! (graphql-transport-ws and the legacy graphql-ws), GraphiQL at `/` (its
//! files embedded, under `/assets/graphiql/`),
//! `/healthz`, `/readyz`, `/metrics`, and the approval pages of external
//! stakeholders at `/approve/{token}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Data, ParseRequestError};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{FromRequest, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use smmflow_runtime::Runtime;

use crate::AppSchema;

pub struct ServerOptions {
    pub introspection: bool,
    /// Cost units of GraphQL a user may spend per minute (0: no limit).
    pub query_cost_per_minute: u32,
    /// Request bodies over this many bytes get HTTP 413.
    pub body_limit: usize,
    /// Set once the start-up deploy is done (`/readyz` waits for it).
    pub deployed: Arc<AtomicBool>,
    /// The clock `advanceClock` moves, when the server runs on a manual clock.
    pub manual_clock: Option<smmflow_runtime::ManualClock>,
    /// `SMMFLOW_PUBLIC_URL`: the base of absolute links (calendar feeds).
    pub public_url: String,
}

#[derive(Clone)]
struct AppState {
    rt: Arc<Runtime>,
    schema: AppSchema,
    deployed: Arc<AtomicBool>,
    /// The largest request body, and WebSocket message, accepted.
    body_limit: usize,
    public: crate::console::PublicBase,
}

impl axum::extract::FromRef<AppState> for crate::console::PublicBase {
    fn from_ref(s: &AppState) -> crate::console::PublicBase {
        s.public.clone()
    }
}

impl axum::extract::FromRef<AppState> for Arc<Runtime> {
    fn from_ref(s: &AppState) -> Arc<Runtime> {
        s.rt.clone()
    }
}

pub fn router(rt: Arc<Runtime>, opts: ServerOptions) -> Router {
    let budgets = crate::limits::Budgets::new(opts.query_cost_per_minute);
    if let Some(b) = &budgets {
        // Forget users whose budget is full again, now and then.
        let weak = Arc::downgrade(b);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let Some(b) = weak.upgrade() else { break };
                b.shrink();
            }
        });
    }
    let public = crate::console::PublicBase(opts.public_url.clone());
    let schema = crate::schema(
        rt.clone(),
        crate::SchemaOptions {
            introspection: opts.introspection,
            budgets,
            manual_clock: opts.manual_clock,
            public_url: opts.public_url,
        },
    );
    let state = AppState { rt, schema, deployed: opts.deployed, body_limit: opts.body_limit, public };
    Router::new()
        .route("/", get(crate::graphiql::page))
        .route("/assets/graphiql/{name}", get(crate::graphiql::asset))
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/approve/{token}", get(crate::approval_page::show).post(crate::approval_page::decide))
        .route("/approve/batch/{token}", get(crate::batch_page::show).post(crate::batch_page::decide))
        .route("/calendar/{file}", get(crate::ical::feed))
        .route("/app", get(crate::console::app))
        .route("/app/", get(crate::console::app))
        .route("/app/sign-in", get(crate::console::sign_in_page).post(crate::console::sign_in))
        .route("/app/sign-out", axum::routing::post(crate::console::sign_out))
        .route("/app/assets/{name}", get(crate::console::asset))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(opts.body_limit))
        .with_state(state)
}

/// A request the GraphQL layer could not read: a JSON error body with a
/// code, never Rust's debug text.
pub struct Rejection(ParseRequestError);

impl From<ParseRequestError> for Rejection {
    fn from(e: ParseRequestError) -> Self {
        Rejection(e)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self.0 {
            ParseRequestError::PayloadTooLarge => {
                refusal(StatusCode::PAYLOAD_TOO_LARGE, "BAD_USER_INPUT", "the request body is too large".into())
            }
            ParseRequestError::UnsupportedBatch => {
                refusal(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", "batched requests are not supported".into())
            }
            e => refusal(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", format!("the request cannot be read: {e}")),
        }
    }
}

/// A GraphQL-shaped error answer outside the schema (transport problems).
fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// POST bodies must say they are JSON: a form or `text/plain` post (what a
/// foreign web page can send without asking) is refused.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/graphql-response+json")
}

/// The kind of operation a request would run (None when it does not parse:
/// the schema reports that itself).
fn operation_kind(req: &async_graphql::Request) -> Option<OperationType> {
    let doc = async_graphql::parser::parse_query(&req.query).ok()?;
    let op = match (&doc.operations, &req.operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str())?,
        (DocumentOperations::Multiple(ops), None) => ops.values().next()?,
    };
    Some(op.node.ty)
}

async fn graphql(State(s): State<AppState>, request: axum::extract::Request) -> Response {
    let method = request.method().clone();
    let headers = request.headers().clone();
    if method == Method::POST && !is_json(&headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send the request as JSON (Content-Type: application/json)".into(),
        );
    }
    let req = match GraphQLRequest::<Rejection>::from_request(request, &s).await {
        Ok(r) => r.into_inner(),
        Err(rejection) => return rejection.into_response(),
    };
    if method == Method::GET && operation_kind(&req).is_some_and(|k| k != OperationType::Query) {
        let mut r = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations and subscriptions are sent by POST (subscriptions over /graphql/ws)".into(),
        );
        r.headers_mut().insert(header::ALLOW, axum::http::HeaderValue::from_static("POST"));
        return r;
    }
    let cookie = crate::console::session_of(&headers);
    let auth = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(a) => Some(a),
        None if cookie.is_some() && headers.get(crate::console::CSRF_HEADER).is_none() => {
            return refusal(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "a request signed in by the console's cookie must carry the x-smmflow-csrf header".into(),
            );
        }
        None => cookie.as_deref(),
    };
    let access = match s.rt.sign_in(auth).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("resolving a token: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable").into_response();
        }
    };
    let (users, workspaces) = crate::loaders::for_request(&access);
    let run = s.schema.execute(req.data(access).data(users).data(workspaces));
    let resp = match tokio::time::timeout(crate::limits::EXECUTION_TIMEOUT, run).await {
        Ok(r) => r,
        Err(_) => {
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL",
                format!("the request ran longer than {} s and was stopped", crate::limits::EXECUTION_TIMEOUT.as_secs()),
            );
        }
    };
    GraphQLResponse::from(resp).into_response()
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
    legacy: Result<GraphQLProtocol, StatusCode>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (Some(protocol), Ok(legacy)) = (chosen_protocol(&headers), legacy) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "offer the graphql-transport-ws (or legacy graphql-ws) WebSocket sub-protocol".into(),
        );
    };
    // Agree to the very protocol the GraphQL side will speak: a client may
    // offer both, and axum would otherwise pick by its own order.
    let upgrade = upgrade.protocols([protocol]).max_message_size(s.body_limit).max_frame_size(s.body_limit);
    if protocol == "graphql-transport-ws" {
        // The console's cookie signs in a socket opened by its own pages only.
        let cookie =
            crate::console::session_of(&headers).filter(|_| crate::console::same_origin(&headers, &s.public.0));
        return upgrade.on_upgrade(move |socket| crate::ws::serve(socket, s.schema, s.rt, cookie));
    }
    let rt = s.rt.clone();
    upgrade.on_upgrade(move |socket| {
        GraphQLWebSocket::new(socket, s.schema.clone(), legacy)
            .on_connection_init(move |payload| async move {
                let token = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let access =
                    rt.sign_in(token.as_deref()).await.map_err(|e| async_graphql::Error::new(e.public_message()))?;
                if access.viewer().is_err() {
                    return Err(async_graphql::Error::new(
                        "UNAUTHENTICATED: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                    ));
                }
                let mut data = Data::default();
                let (users, workspaces) = crate::loaders::for_request(&access);
                data.insert(access);
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
    if s.rt.ready().await {
        (StatusCode::OK, "ready".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable or not migrated".into())
    }
}
