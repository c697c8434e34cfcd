//! Subscriptions, fed only from committed events.
//!
//! A subscription keeps what its viewer may see up to date: when access
//! narrows anywhere (a membership removed, a token revoked: the runtime's
//! directory changes), it reads the viewer again before it delivers
//! anything else, and ends when the viewer lost what it watches.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::access::Session;
use crate::error::ApiResult as Result;
use crate::ids::NodeId;
use crate::types::TaskObj;
use crate::types::instance::InstanceEvent;
use crate::{access_of, runtime_of};

pub struct SubscriptionRoot;

/// Something happened to a task the caller may see.
pub struct TaskEvent {
    kind: String,
    at: DateTime<Utc>,
    task: TaskObj,
}

/// Something happened to a task the caller may see.
#[Object]
impl TaskEvent {
    /// The event's kind: `task.created`, `task.claimed`, `task.reassigned`,
    /// `task.completed`, `task.approved`, `task.rejected`, `task.overdue`, ...
    async fn kind(&self) -> &str {
        &self.kind
    }
    /// When it happened (RFC 3339, UTC).
    async fn at(&self) -> DateTime<Utc> {
        self.at
    }
    /// The task, as it is after the event.
    async fn task(&self) -> &TaskObj {
        &self.task
    }
}

/// Live events over `/graphql/ws`, sent only once committed.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Tasks created, assigned, completed, decided or overdue, in the
    /// caller's workspaces (or one of them).
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        workspace: Option<String>,
    ) -> Result<impl Stream<Item = TaskEvent> + use<>> {
        let rt = runtime_of(ctx)?.clone();
        let session = access_of(ctx)?.refreshed().await?;
        if let Some(ws) = &workspace {
            session.member(ws)?;
        }
        let mut rx = rt.subscribe();
        let mut access = rt.directory_changes();
        Ok(async_stream(move |tx| async move {
            let mut session = session;
            loop {
                let committed = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(c) => c,
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "a taskEvents subscriber fell behind");
                            continue;
                        }
                        Err(RecvError::Closed) => break,
                    },
                    changed = access.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        match still_allowed(&session, workspace.as_deref()).await {
                            Some(s) => session = s,
                            None => break,
                        }
                        continue;
                    }
                };
                let Ok(viewer) = session.viewer() else { break };
                if !viewer.is_member(&committed.workspace)
                    || workspace.as_ref().is_some_and(|w| *w != committed.workspace)
                {
                    continue;
                }
                if !committed.events.iter().any(|e| e.kind.task().is_some()) {
                    continue;
                }
                let Ok(state) = session.instance(committed.instance).await else { continue };
                let state = Arc::new(state);
                for e in &committed.events {
                    let Some(no) = e.kind.task() else { continue };
                    if e.kind_name() == "task.commented"
                        || e.kind_name() == "task.reminded"
                        || e.kind_name() == "task.escalated"
                    {
                        continue;
                    }
                    let ev =
                        TaskEvent { kind: e.kind_name().to_string(), at: e.at, task: TaskObj::new(state.clone(), no) };
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        }))
    }

    /// Every event of one instance, in order, from now on.
    async fn instance_events(
        &self,
        ctx: &Context<'_>,
        instance_id: ID,
    ) -> Result<impl Stream<Item = InstanceEvent> + use<>> {
        let id = NodeId::instance(&instance_id)?;
        let rt = runtime_of(ctx)?.clone();
        let mut rx = rt.subscribe();
        let mut access = rt.directory_changes();
        let session = access_of(ctx)?.refreshed().await?;
        let workspace = session.instance(id).await?.workspace;
        Ok(async_stream(move |tx| async move {
            let mut session = session;
            loop {
                let committed = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(c) => c,
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => break,
                    },
                    changed = access.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        match still_allowed(&session, Some(&workspace)).await {
                            Some(s) => session = s,
                            None => break,
                        }
                        continue;
                    }
                };
                if committed.instance != id {
                    continue;
                }
                for event in committed.events {
                    if tx.send(InstanceEvent { instance: id, event }).await.is_err() {
                        return;
                    }
                }
            }
        }))
    }
}

/// The session as it is now, if its token still works and it may still
/// see `workspace` (any workspace when None); None ends the stream (also
/// when the database does not answer: the client reconnects and signs in
/// again).
async fn still_allowed(session: &Session, workspace: Option<&str>) -> Option<Session> {
    let s = session.refreshed().await.ok()?;
    let viewer = s.viewer().ok()?;
    workspace.is_none_or(|w| viewer.is_member(w)).then_some(s)
}

/// A stream fed by a task through a channel (no extra stream crate needed).
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    // Dropping the stream drops `rx`: the feeding task's next send fails and it ends.
    let task = tokio::spawn(f(tx));
    futures_util::stream::unfold((rx, task), |(mut rx, task)| async move {
        let item = rx.recv().await;
        if item.is_none() {
            task.abort();
        }
        item.map(|i| (i, (rx, task)))
    })
}
