//! The executor: one `Request` (what to decide, and its guards) decided
//! with its cascade into a `Buffer`, written and committed in one
//! transaction, answered only after the commit, then published.
//!
//! It runs in one of two modes, chosen when the runtime opens:
//! - `Mode::Alone`: each request in a transaction of its own, retried on a
//!   version conflict (PostgreSQL, where transactions run in parallel with
//!   row locks; and SQLite's fallback);
//! - `Mode::Grouped`: SQLite's group commit (`group.rs`): requests that
//!   arrive while a transaction is being written share the next one, each
//!   decided on top of the ones before it.
//!
//! The parts: `decide.rs` (a request and its cascade into a buffer, reading
//! instances from the group before the database), `buffer.rs` (what was
//! decided and not yet written; `flush` writes it and returns what to
//! announce), `alone.rs` and `group.rs` (the two modes).

mod alone;
mod buffer;
mod decide;
mod group;

use std::collections::HashMap;

use smmflow_engine::model::{ParentRef, ScheduleRef};
use smmflow_engine::{Command, Event, Instance, cascade};
use smmflow_store::{DueTimer, Tx};
use uuid::Uuid;

pub(crate) use buffer::{Buffer, Staged};
pub(crate) use group::Committer;

use crate::announce::Announcement;
use crate::{Error, Result, Runtime, StartRequest};

/// Events of one instance, as committed.
#[derive(Clone, Debug)]
pub struct Committed {
    pub instance: Uuid,
    pub workspace: String,
    pub events: Vec<Event>,
}

/// What to decide: start an instance, or a command on one.
#[derive(Clone, Debug)]
pub(crate) enum Work {
    Start {
        id: Uuid,
        workflow: String,
        workspace: String,
        inputs: serde_json::Value,
        actor: String,
        parent: Option<ParentRef>,
        schedule: Option<ScheduleRef>,
        /// A person's plan (`startInstance`): a publication's time must be
        /// ahead and within the workspace's posting limits.
        plan: bool,
    },
    Command {
        id: Uuid,
        actor: String,
        command: Command,
    },
}

impl From<cascade::FollowUp> for Work {
    fn from(f: cascade::FollowUp) -> Work {
        match f {
            cascade::FollowUp::Start { id, workflow, workspace, inputs, actor, parent } => Work::Start {
                id,
                workflow,
                workspace,
                inputs,
                actor,
                parent: Some(parent),
                schedule: None,
                plan: false,
            },
            cascade::FollowUp::Command { instance, actor, command } => Work::Command { id: instance, actor, command },
        }
    }
}

/// What an engine refusal of a request's first decision is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnRefusal {
    /// The caller's error (a person's command).
    Fail,
    /// Nothing to do (a timer or a cascade step that no longer applies).
    Ignore,
}

/// A key remembered with the commit (an idempotency key, a used link): a
/// request whose key is known already has nothing to do.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub scope: &'static str,
    pub key: String,
    pub id: Uuid,
}

/// A unit of work as submitted: what to decide, and what guards it.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub work: Work,
    pub on_refusal: OnRefusal,
    pub record: Option<Record>,
    /// A claimed timer, taken in the same transaction as its effects.
    pub timer: Option<DueTimer>,
}

impl Request {
    /// A person's (or the system's) command or start: a refusal is an error.
    pub(crate) fn new(work: Work) -> Request {
        Request { work, on_refusal: OnRefusal::Fail, record: None, timer: None }
    }

    pub(crate) fn recorded(mut self, scope: &'static str, key: &str, id: Uuid) -> Request {
        self.record = Some(Record { scope, key: key.to_string(), id });
        self
    }

    /// Firing a claimed timer: a system command that also takes the timer.
    pub(crate) fn timer(t: &DueTimer) -> Result<Request> {
        let key = t.key.parse().map_err(|e| Error::Internal(format!("a stored timer: {e}")))?;
        let work = Work::Command { id: t.instance, actor: "system".into(), command: Command::TimerFired { key } };
        Ok(Request { work, on_refusal: OnRefusal::Ignore, record: None, timer: Some(t.clone()) })
    }
}

/// The committed states by instance, or None when there was nothing to do
/// (a key already recorded, a timer already taken or moved).
pub(crate) type Answer = Result<Option<HashMap<Uuid, Instance>>>;

/// How requests reach the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Alone,
    Grouped,
}

/// What a start did: started the instance, or found the one an idempotency key names.
pub(crate) enum StartedOrKnown {
    Started(Box<Instance>),
    Known(Uuid),
}

impl Runtime {
    /// Runs a request in the runtime's mode.
    pub(crate) async fn run(&self, req: Request) -> Answer {
        match &self.committer {
            Some(c) => c.submit(req).await,
            None => self.run_alone(&req).await,
        }
    }

    /// Starts an instance; with an idempotency key a retry finds the first one.
    pub(crate) async fn run_start(&self, req: StartRequest) -> Result<StartedOrKnown> {
        if let Some(k) = &req.idempotency_key {
            smmflow_spec::text::key(k).map_err(|m| Error::Field {
                field: "idempotencyKey".into(),
                message: format!("an idempotency key {m}"),
            })?;
        }
        let key = req.idempotency_key.as_ref().map(|k| format!("{}:{k}", req.actor));
        if let Some(k) = &key {
            let tx = self.store.begin().await?;
            if let Some(id) = tx.idempotent("start", k).await? {
                return id
                    .parse()
                    .map(StartedOrKnown::Known)
                    .map_err(|_| Error::Internal("bad idempotency record".into()));
            }
            drop(tx);
        }
        if !self.store.workspace_exists(&req.workspace).await? {
            return Err(Error::NotFound(format!("workspace `{}`", req.workspace)));
        }
        let id = Uuid::now_v7();
        let work = Work::Start {
            id,
            workflow: req.workflow,
            workspace: req.workspace,
            inputs: req.inputs,
            actor: req.actor,
            parent: None,
            schedule: None,
            plan: true,
        };
        let mut request = Request::new(work);
        if let Some(k) = &key {
            request = request.recorded("start", k, id);
        }
        let mut states = self.run(request).await?.unwrap_or_default();
        Ok(match states.remove(&id) {
            Some(state) => StartedOrKnown::Started(Box::new(state)),
            None => StartedOrKnown::Known(id),
        })
    }

    /// Sends a buffer's announcements inside its transaction (other replicas
    /// hear of them only if it commits).
    pub(crate) async fn announce(&self, tx: &Tx, announcements: &[Announcement]) -> Result<()> {
        let mut payloads = Vec::with_capacity(announcements.len());
        for a in announcements {
            if let Announcement::Profile { workspace, .. } = a {
                self.sync_client_schedules(tx, workspace).await?;
            }
            payloads.push(a.payload()?);
        }
        // One statement for the whole group (PostgreSQL; nothing on SQLite).
        Ok(tx.announce_all(&payloads).await?)
    }

    /// After a commit: wakes the mail service if notices were queued,
    /// publishes the events, returns the committed states.
    pub(crate) fn after_commit(&self, staged: HashMap<Uuid, Staged>) -> HashMap<Uuid, Instance> {
        if staged.values().any(|l| l.notices > 0) {
            self.mail_wake.notify_one();
        }
        let mut states = HashMap::with_capacity(staged.len());
        for (id, l) in staged {
            if !l.events.is_empty() {
                let _ = self.events.send(Committed {
                    instance: id,
                    workspace: l.state.workspace.clone(),
                    events: l.events,
                });
            }
            states.insert(id, l.state);
        }
        states
    }
}
