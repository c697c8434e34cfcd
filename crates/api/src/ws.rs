//! The `graphql-transport-ws` protocol on `/graphql/ws`, as its
//! specification (graphql-ws's PROTOCOL.md) says, close codes included:
//!
//! - `connection_init` must come within [`INIT_TIMEOUT`] (else 4408), once
//!   (a second one: 4429); its payload carries `{"authorization": "Bearer
//!   <token>"}`, and a missing or bad token closes with 4403;
//! - `subscribe` before the server's `connection_ack`: 4401; with an id that
//!   is still running: 4409;
//! - a message that is not JSON, has no known `type` (the legacy `start`,
//!   `stop`, `connection_terminate` included) or lacks a field: 4400;
//! - a document that does not parse or validate, or variables that do not
//!   fit, answer an `error` message (not `next`); errors while running are
//!   `next` payloads with `errors`, then `complete`;
//! - `ping` is answered by `pong`; `complete` from the client stops the
//!   operation without an answer.
//!
//! Close reasons stay within a control frame's 125 bytes (RFC 6455). Each
//! operation runs on its own task and writes to one queue the socket drains,
//! so a slow operation holds up no other. The legacy `graphql-ws` protocol is
//! served by async-graphql's own implementation (server.rs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Value as GqlValue;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use smmflow_runtime::Runtime;
use smmflow_runtime::access::Session;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::AppSchema;

/// How long a client may take to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Operations one connection may run at once.
pub const MAX_OPERATIONS: usize = 100;
/// Longest operation id accepted.
const MAX_ID: usize = 128;
/// Messages queued for a client that reads slowly before the operations wait.
const QUEUE: usize = 64;

/// What the operations' tasks hand to the socket.
enum Out {
    Send(String),
    /// The operation with this id and generation is over (forget it).
    Over(String, u64),
}

/// A reason to close the connection: a code of the protocol and its text.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Close {
        Close(code, reason.into())
    }

    fn invalid(reason: impl Into<String>) -> Close {
        Close::new(4400, reason)
    }

    /// The frame, its reason cut on a character boundary to fit in the
    /// 125 bytes of a control frame (2 of them are the code).
    fn frame(self) -> CloseFrame {
        let mut end = self.1.len().min(123);
        while !self.1.is_char_boundary(end) {
            end -= 1;
        }
        CloseFrame { code: self.0, reason: self.1[..end].to_string().into() }
    }
}

struct Connection {
    schema: AppSchema,
    rt: Arc<Runtime>,
    out: mpsc::Sender<Out>,
    cookie: Option<String>,
    init_seen: bool,
    session: Option<Session>,
    running: HashMap<String, (u64, AbortHandle)>,
    generation: u64,
}

/// Serves one upgraded socket until either side closes it.
/// `cookie`: the console's session, used when `connection_init` carries no token.
pub async fn serve(socket: WebSocket, schema: AppSchema, rt: Arc<Runtime>, cookie: Option<String>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queue) = mpsc::channel(QUEUE);
    let mut conn =
        Connection { schema, rt, out, cookie, init_seen: false, session: None, running: HashMap::new(), generation: 0 };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let close = loop {
        tokio::select! {
            msg = stream.next() => match msg {
                // The client closes: finish the close handshake (the reply
                // is only written when the sink is flushed; without it the
                // client sees 1006 instead of a clean close).
                Some(Ok(Message::Close(_))) => {
                    let _ = sink.close().await;
                    break None;
                }
                Some(Err(_)) | None => break None,
                Some(Ok(msg)) => match conn.on_message(msg).await {
                    Ok(Some(reply)) => {
                        if sink.send(Message::Text(reply.into())).await.is_err() {
                            break None;
                        }
                    }
                    Ok(None) => {}
                    Err(close) => break Some(close),
                },
            },
            Some(out) = queue.recv() => match out {
                Out::Send(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Out::Over(id, generation) => {
                    if conn.running.get(&id).is_some_and(|(g, _)| *g == generation) {
                        conn.running.remove(&id);
                    }
                }
            },
            _ = &mut init_deadline, if conn.session.is_none() => {
                break Some(Close::new(4408, "Connection initialisation timeout"));
            }
        }
    };
    for (_, (_, handle)) in conn.running.drain() {
        handle.abort();
    }
    if let Some(close) = close {
        let _ = sink.send(Message::Close(Some(close.frame()))).await;
    }
}

impl Connection {
    /// Handles one message from the client: an answer to send at once, or a
    /// reason to close.
    async fn on_message(&mut self, msg: Message) -> Result<Option<String>, Close> {
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => return Err(Close::invalid("binary messages are not part of graphql-transport-ws")),
            Message::Close(_) | Message::Ping(_) | Message::Pong(_) => return Ok(None),
        };
        let Ok(Value::Object(mut msg)) = serde_json::from_str::<Value>(text.as_str()) else {
            return Err(Close::invalid("Invalid message received: not a JSON object"));
        };
        let kind = match msg.get("type") {
            Some(Value::String(k)) => k.clone(),
            _ => return Err(Close::invalid("Invalid message received: no type")),
        };
        match kind.as_str() {
            "connection_init" => self.init(msg.remove("payload")).await.map(Some),
            "ping" => {
                let mut pong = json!({"type": "pong"});
                if let Some(p) = msg.remove("payload").filter(|p| p.is_object()) {
                    pong["payload"] = p;
                }
                Ok(Some(pong.to_string()))
            }
            "pong" => Ok(None),
            "subscribe" => {
                let id = id_of(&msg)?;
                let payload = msg.remove("payload").unwrap_or(Value::Null);
                self.subscribe(id, payload).map(|()| None)
            }
            "complete" => {
                let id = id_of(&msg)?;
                if let Some((_, handle)) = self.running.remove(&id) {
                    handle.abort();
                }
                Ok(None)
            }
            "start" | "stop" | "connection_terminate" => Err(Close::invalid(format!(
                "Invalid message received: {kind} is graphql-ws (legacy); this connection speaks graphql-transport-ws"
            ))),
            _ => Err(Close::invalid(format!("Invalid message received: unknown type {kind:?}"))),
        }
    }

    async fn init(&mut self, payload: Option<Value>) -> Result<String, Close> {
        if self.init_seen {
            return Err(Close::new(4429, "Too many initialisation requests"));
        }
        self.init_seen = true;
        let payload = match payload {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(Close::invalid("Invalid message received: the payload must be an object")),
        };
        let token = payload
            .get("authorization")
            .or_else(|| payload.get("Authorization"))
            .and_then(Value::as_str)
            .or(self.cookie.as_deref());
        let session = match self.rt.sign_in(token).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("resolving a token on a socket: {e}");
                return Err(Close::new(1011, "the database is not reachable"));
            }
        };
        if session.viewer().is_err() {
            return Err(Close::new(4403, "Forbidden: send {\"authorization\": \"Bearer <token>\"} in connection_init"));
        }
        self.session = Some(session);
        Ok(json!({"type": "connection_ack"}).to_string())
    }

    fn subscribe(&mut self, id: String, payload: Value) -> Result<(), Close> {
        let Some(session) = self.session.clone() else {
            return Err(Close::new(4401, "Unauthorized: send connection_init and wait for connection_ack"));
        };
        if self.running.contains_key(&id) {
            let mut shown = id.clone();
            shown.truncate(60);
            return Err(Close::new(4409, format!("Subscriber for {shown} already exists")));
        }
        let has_query = payload.get("query").is_some_and(Value::is_string);
        let request = match serde_json::from_value::<async_graphql::Request>(payload) {
            Ok(r) if has_query => r,
            _ => {
                return Err(Close::invalid(
                    "Invalid message received: the subscribe payload needs a query string (variables an object)",
                ));
            }
        };
        if self.running.len() >= MAX_OPERATIONS {
            let refused = json!({"type": "error", "id": id, "payload": [{
                "message": format!("too many operations on one connection (at most {MAX_OPERATIONS})"),
                "extensions": {"code": "BAD_USER_INPUT"}}]});
            let out = self.out.clone();
            tokio::spawn(async move { out.send(Out::Send(refused.to_string())).await });
            return Ok(());
        }
        let (users, workspaces) = crate::loaders::for_request(&session);
        let request = request.data(session).data(users).data(workspaces);
        self.generation += 1;
        let generation = self.generation;
        let task = tokio::spawn(run(self.schema.clone(), request, id.clone(), generation, self.out.clone()));
        self.running.insert(id, (generation, task.abort_handle()));
        Ok(())
    }
}

/// The id of a `subscribe` or `complete` message.
fn id_of(msg: &serde_json::Map<String, Value>) -> Result<String, Close> {
    match msg.get("id") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_ID => Ok(id.clone()),
        Some(Value::String(_)) => {
            Err(Close::invalid(format!("Invalid message received: an id is 1 to {MAX_ID} bytes")))
        }
        _ => Err(Close::invalid("Invalid message received: no id")),
    }
}

/// Runs one operation and queues its messages. A first answer without data
/// whose errors are all outside any field (a syntax, validation or
/// variables problem) is the protocol's `error` message.
async fn run(schema: AppSchema, request: async_graphql::Request, id: String, generation: u64, out: mpsc::Sender<Out>) {
    let mut answers = std::pin::pin!(schema.execute_stream(request));
    let mut first = true;
    while let Some(answer) = answers.next().await {
        let refused = first
            && answer.data == GqlValue::Null
            && !answer.errors.is_empty()
            && answer.errors.iter().all(|e| e.path.is_empty());
        first = false;
        let msg = if refused {
            json!({"type": "error", "id": id, "payload": answer.errors})
        } else {
            json!({"type": "next", "id": id, "payload": answer})
        };
        if out.send(Out::Send(msg.to_string())).await.is_err() {
            return;
        }
        if refused {
            let _ = out.send(Out::Over(id, generation)).await;
            return;
        }
    }
    if out.send(Out::Send(json!({"type": "complete", "id": id}).to_string())).await.is_ok() {
        let _ = out.send(Out::Over(id, generation)).await;
    }
}
