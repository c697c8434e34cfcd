//! Subscriptions, fed only from committed events.
//!
//! A subscription keeps what its viewer may see up to date: when access
//! narrows anywhere (a membership removed, a token revoked: the runtime's
//! directory changes), it reads the viewer again before it delivers
//! anything else, and ends when the viewer lost what it watches.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::access::Viewer;
use crate::ids::NodeId;
use crate::types::TaskObj;
use crate::types::instance::InstanceEvent;
use crate::{access_of, runtime_of};
use smmflow_runtime::Runtime;

pub struct SubscriptionRoot;

/// Something happened to a task the caller may see.
pub struct TaskEvent {
    kind: String,
    at: DateTime<Utc>,
    task: TaskObj,
}

#[Object]
impl TaskEvent {
    /// The event's kind: `task.created`, `task.claimed`, `task.reassigned`,
    /// `task.completed`, `task.approved`, `task.rejected`, `task.overdue`, ...
    async fn kind(&self) -> &str {
        &self.kind
    }
    async fn at(&self) -> DateTime<Utc> {
        self.at
    }
    async fn task(&self) -> &TaskObj {
        &self.task
    }
}

#[Subscription]
impl SubscriptionRoot {
    /// Tasks created, assigned, completed, decided or overdue, in the
    /// caller's workspaces (or one of them).
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        workspace: Option<String>,
    ) -> Result<impl Stream<Item = TaskEvent> + use<>> {
        let rt = runtime_of(ctx)?.clone();
        let viewer = fresh_viewer(&rt, access_of(ctx)?.viewer()?).await?;
        if let Some(ws) = &workspace
            && !viewer.is_member(ws)
        {
            return Err(crate::error::ApiError::Forbidden(format!("you are not a member of workspace `{ws}`")).into());
        }
        let mut rx = rt.subscribe();
        let mut access = rt.directory_changes();
        Ok(async_stream(move |tx| async move {
            let mut viewer = viewer;
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
                        match still_allowed(&rt, &viewer, workspace.as_deref()).await {
                            Some(v) => viewer = v,
                            None => break,
                        }
                        continue;
                    }
                };
                if !viewer.is_member(&committed.workspace)
                    || workspace.as_ref().is_some_and(|w| *w != committed.workspace)
                {
                    continue;
                }
                if !committed.events.iter().any(|e| e.kind.task().is_some()) {
                    continue;
                }
                let Ok(Some(state)) = rt.store().instance(committed.instance).await else { continue };
                let state = Arc::new(state);
                for e in &committed.events {
                    let Some(no) = e.kind.task() else { continue };
                    if e.kind_name() == "task.commented"
                        || e.kind_name() == "task.reminded"
                        || e.kind_name() == "task.escalated"
                    {
                        continue;
                    }
                    let ev = TaskEvent {
                        kind: e.kind_name().to_string(),
                        at: e.at,
                        task: TaskObj { instance: state.clone(), no },
                    };
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
        let viewer = fresh_viewer(&rt, access_of(ctx)?.viewer()?).await?;
        let workspace = match rt.instance(id).await {
            Ok(i) if viewer.is_member(&i.workspace) => i.workspace,
            _ => return Err(crate::error::ApiError::NotFound(format!("instance {id} not found")).into()),
        };
        Ok(async_stream(move |tx| async move {
            let mut viewer = viewer;
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
                        match still_allowed(&rt, &viewer, Some(&workspace)).await {
                            Some(v) => viewer = v,
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

/// The viewer as they are now: a WebSocket connection signs in once, and
/// access may have narrowed since (a new subscription on an old connection).
async fn fresh_viewer(rt: &Runtime, viewer: &Viewer) -> Result<Viewer> {
    match Viewer::resolve(rt, viewer.token_hash.clone()).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(crate::error::ApiError::Unauthenticated.into()),
        Err(e) => Err(e.into()),
    }
}

/// The viewer as they are now, if their token still works and they may
/// still see `workspace` (any workspace when None). None ends the stream.
async fn still_allowed(rt: &Runtime, viewer: &Viewer, workspace: Option<&str>) -> Option<Viewer> {
    match Viewer::resolve(rt, viewer.token_hash.clone()).await {
        Ok(Some(v)) if workspace.is_none_or(|w| v.is_member(w)) => Some(v),
        Ok(_) => None,
        // The database did not answer: end the stream (the client reconnects and signs in again).
        Err(_) => None,
    }
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
