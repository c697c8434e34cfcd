//! The unit of work: one command (and everything it sets off in other
//! instances: children started or cancelled, parents told) decided into a
//! buffer (`unit.rs`), written and committed in one transaction (alone, or
//! with others in SQLite's group commit), retried on a version conflict,
//! published after commit.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::json;
use smmflow_engine::model::ParentRef;
use smmflow_engine::{Action, Command, Env, Event, Instance, Start, cascade, decide};
use smmflow_store::{NewOutbox, OutboxKind, OutboxStatus, Tx};
use uuid::Uuid;

use crate::directory::People;
pub(crate) use crate::unit::Loaded;
use crate::unit::Unit;
use crate::{Def, Error, Result, Runtime, StartRequest};

/// Events of one instance, as committed.
#[derive(Clone, Debug)]
pub struct Committed {
    pub instance: Uuid,
    pub workspace: String,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug)]
pub(crate) enum Work {
    Start {
        id: Uuid,
        workflow: String,
        workspace: String,
        inputs: serde_json::Value,
        actor: String,
        parent: Option<ParentRef>,
        schedule: Option<smmflow_engine::model::ScheduleRef>,
    },
    Command {
        id: Uuid,
        actor: String,
        command: Command,
    },
}

/// What a start did: started the instance, or found the one an idempotency key names.
pub(crate) enum StartedOrKnown {
    Started(Box<Instance>),
    Known(Uuid),
}

impl From<cascade::FollowUp> for Work {
    fn from(f: cascade::FollowUp) -> Work {
        match f {
            cascade::FollowUp::Start { id, workflow, workspace, inputs, actor, parent } => {
                Work::Start { id, workflow, workspace, inputs, actor, parent: Some(parent), schedule: None }
            }
            cascade::FollowUp::Command { instance, actor, command } => Work::Command { id: instance, actor, command },
        }
    }
}

/// A unit of work as submitted: what to run, and what guards it.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub work: Work,
    pub strict: bool,
    /// (scope, key, id): remembered with the commit; a key already used means nothing to do.
    pub remember: Option<(String, String, Uuid)>,
    /// A claimed timer, taken in the same transaction.
    pub timer: Option<smmflow_store::DueTimer>,
}

const ATTEMPTS: usize = 5;
/// Instances whose timers fire at once on PostgreSQL (of 16 connections).
const TIMER_PARALLELISM: usize = 8;

impl Runtime {
    pub(crate) async fn execute_start(&self, req: StartRequest) -> Result<StartedOrKnown> {
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
        };
        let mut states =
            self.execute_with(work, true, key.as_deref().map(|k| ("start", k, id)), None).await?.unwrap_or_default();
        Ok(match states.remove(&id) {
            Some(state) => StartedOrKnown::Started(Box::new(state)),
            None => StartedOrKnown::Known(id),
        })
    }

    /// Runs a command (and its cascade); returns the committed states by instance.
    pub(crate) async fn execute(&self, work: Work, strict: bool) -> Result<HashMap<Uuid, Instance>> {
        Ok(self.execute_with(work, strict, None, None).await?.unwrap_or_default())
    }

    /// Fires a claimed timer: the timer row is taken in the same transaction
    /// as its effects. False when it was already taken or moved.
    pub(crate) async fn execute_timer(&self, timer: &smmflow_store::DueTimer) -> Result<bool> {
        let job = timer_job(timer)?;
        Ok(self.execute_with(job.work, false, None, Some(timer)).await?.is_some())
    }

    /// Fires claimed timers: on SQLite queued together in their order, so
    /// they share commits; on PostgreSQL several instances at once.
    pub(crate) async fn execute_timers<'a>(
        &self,
        timers: &'a [smmflow_store::DueTimer],
    ) -> Vec<(&'a smmflow_store::DueTimer, Result<bool>)> {
        let Some(b) = &self.batcher else {
            // PostgreSQL: instances in parallel transactions (up to
            // TIMER_PARALLELISM), each instance's timers in their order.
            use futures_util::StreamExt;
            let mut by_instance: Vec<Vec<usize>> = Vec::new();
            let mut slot: HashMap<Uuid, usize> = HashMap::new();
            for (i, t) in timers.iter().enumerate() {
                let s = *slot.entry(t.instance).or_insert_with(|| {
                    by_instance.push(Vec::new());
                    by_instance.len() - 1
                });
                by_instance[s].push(i);
            }
            let runs = futures_util::stream::iter(by_instance)
                .map(|idx: Vec<usize>| async move {
                    let mut out = Vec::with_capacity(idx.len());
                    for i in idx {
                        out.push((&timers[i], self.execute_timer(&timers[i]).await));
                    }
                    out
                })
                .buffer_unordered(TIMER_PARALLELISM)
                .collect::<Vec<_>>()
                .await;
            return runs.into_iter().flatten().collect();
        };
        let queued: Vec<_> = timers.iter().map(|t| (t, timer_job(t).and_then(|j| b.enqueue(j)))).collect();
        let mut out = Vec::with_capacity(queued.len());
        for (t, q) in queued {
            let r = match q {
                Ok(rx) => crate::batch::Batcher::answer(rx).await.map(|r| r.is_some()),
                Err(e) => Err(e),
            };
            out.push((t, r));
        }
        out
    }

    /// Runs a command remembered under `(scope, key)` with its commit: None
    /// when the key was used already (nothing done).
    pub(crate) async fn execute_remembered(
        &self,
        work: Work,
        remember: (&str, &str, Uuid),
    ) -> Result<Option<HashMap<Uuid, Instance>>> {
        self.execute_with(work, true, Some(remember), None).await
    }

    /// Runs `work` and its cascade in one transaction, retrying on conflicts.
    /// `strict`: an engine refusal of the first item is the caller's error.
    /// Returns the committed states, or None when nothing was done (an
    /// idempotency key already used, a timer already taken or moved).
    /// On SQLite a command joins the group commit (see `batch.rs`).
    async fn execute_with(
        &self,
        work: Work,
        strict: bool,
        remember: Option<(&str, &str, Uuid)>,
        timer: Option<&smmflow_store::DueTimer>,
    ) -> Result<Option<HashMap<Uuid, Instance>>> {
        let job = Job {
            work,
            strict,
            remember: remember.map(|(s, k, id)| (s.to_string(), k.to_string(), id)),
            timer: timer.cloned(),
        };
        match &self.batcher {
            Some(b) => b.submit(job).await,
            None => self.execute_alone(&job).await,
        }
    }

    /// One job in a transaction of its own, retried on version conflicts.
    pub(crate) async fn execute_alone(&self, job: &Job) -> Result<Option<HashMap<Uuid, Instance>>> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let tx = self.store.begin().await?;
            if let Some(t) = &job.timer
                && !tx.take_timer(t.instance, &t.key, t.due_at).await?
            {
                return Ok(None);
            }
            let done = match self.attempt(&tx, job, &Unit::default(), false).await {
                Ok(None) => return Ok(None),
                Ok(Some(unit)) => match unit.flush(self, &tx).await {
                    Ok(()) => tx.commit().await.map(|()| unit).map_err(Error::from),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match done {
                Ok(unit) => return Ok(Some(self.after_commit(unit.loaded))),
                Err(Error::Store(smmflow_store::Error::Conflict(m))) => last = Some(Error::Conflict(m)),
                Err(e) => return Err(e),
            }
            tracing::debug!(attempt, "retrying after a conflict");
            tokio::time::sleep(std::time::Duration::from_millis(2 << attempt)).await;
        }
        Err(last.unwrap_or_else(|| Error::Conflict("gave up after repeated conflicts".into())))
    }

    /// Decides a job on top of what `group` (earlier jobs of the same
    /// transaction) has decided, writing nothing: the job's own buffer, or
    /// None when there is nothing to do (its idempotency key was used, its
    /// timer was taken or moved). `grouped`: its timer, if any, is checked
    /// here and taken with the group's writes (SQLite's serialized
    /// transaction makes the read as good as the delete); alone, the caller
    /// has taken it already (a delete first, which PostgreSQL's row lock
    /// makes the one safe check across replicas).
    pub(crate) async fn attempt(&self, tx: &Tx, job: &Job, group: &Unit, grouped: bool) -> Result<Option<Unit>> {
        if let Some((scope, key, _)) = &job.remember
            && (group.remembers(scope, key) || tx.idempotent(scope, key).await?.is_some())
        {
            return Ok(None);
        }
        if grouped && let Some(t) = &job.timer {
            if group.has_pending_for(t.instance) {
                return Err(Error::FlushFirst);
            }
            if tx.timer_due(t.instance, &t.key).await? != Some(smmflow_store::db_time(t.due_at)) {
                return Ok(None);
            }
        }
        let mut unit = self.run_unit(tx, job.work.clone(), job.strict, group).await?;
        if grouped && let Some(t) = &job.timer {
            unit.take_timer(t.instance, &t.key);
        }
        if let Some((scope, key, id)) = &job.remember {
            unit.remember(scope, key, id.to_string());
        }
        Ok(Some(unit))
    }

    /// After a commit: wakes the mail service if notices were queued,
    /// publishes the events, returns the committed states.
    pub(crate) fn after_commit(&self, loaded: HashMap<Uuid, Loaded>) -> HashMap<Uuid, Instance> {
        if loaded.values().any(|l| l.notices > 0) {
            self.mail_wake.notify_one();
        }
        self.publish(loaded)
    }

    /// Tells other replicas, inside the transaction, which events it commits.
    pub(crate) async fn announce(&self, tx: &Tx, loaded: &HashMap<Uuid, Loaded>) -> Result<()> {
        for (id, l) in loaded {
            if let (Some(first), Some(last)) = (l.events.first(), l.events.last()) {
                let a = crate::announce::Announcement::Commit {
                    node: self.node.clone(),
                    instance: *id,
                    workspace: l.state.workspace.clone(),
                    from: first.seq,
                    to: last.seq,
                    mail: l.notices > 0,
                };
                self.announce_in(tx, &a).await?;
            }
        }
        Ok(())
    }

    /// Publishes committed events; returns the committed states.
    pub(crate) fn publish(&self, loaded: HashMap<Uuid, Loaded>) -> HashMap<Uuid, Instance> {
        let mut states = HashMap::with_capacity(loaded.len());
        for (id, l) in loaded {
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

    /// Decides `first` and its cascade into a buffer of their own, reading
    /// instances from `group` before the database.
    pub(crate) async fn run_unit(&self, tx: &Tx, first: Work, strict: bool, group: &Unit) -> Result<Unit> {
        let now = self.now();
        let mut unit = Unit::default();
        let mut queue = VecDeque::from([(first, strict)]);
        while let Some((work, strict)) = queue.pop_front() {
            let (id, outcome) = match self.decide(tx, &mut unit, group, work.clone()).await {
                Ok(r) => r,
                Err(e) if strict || matches!(e, Error::FlushFirst) => return Err(e),
                Err(e) => {
                    // A cascade step the engine refuses (e.g. cancelling a child
                    // that already ended) changes nothing; a child that cannot
                    // start is reported to its parent as failed.
                    if let Work::Start { id, parent: Some(p), .. } = &work {
                        tracing::warn!(child = %id, "child instance could not start: {e}");
                        queue.push_back((cascade::start_failed(*id, p, &e.to_string()).into(), false));
                    }
                    continue;
                }
            };
            queue.extend(cascade::follow_ups(&outcome.state, &outcome.actions).into_iter().map(|f| (f.into(), false)));
            let last_seq = outcome.events.last().map_or(0, |e| e.seq);
            let mut notices = 0;
            for (i, action) in outcome.actions.iter().enumerate() {
                match action {
                    Action::SetTimer { key, at } => unit.set_timer(id, &key.to_string(), *at),
                    Action::ClearTimers { scope } => unit.clear_timers(id, &scope.prefix()),
                    Action::StartChild { .. } | Action::CancelChild { .. } | Action::NotifyParent { .. } => {}
                    Action::Notify(notice) => {
                        let def = self.defs.get(tx, &outcome.state.workflow, Some(outcome.state.version)).await?;
                        if !smmflow_notify::compose::may_notify(&def.workflow, notice) {
                            continue;
                        }
                        let notice = serde_json::to_value(notice).map_err(|e| Error::Internal(e.to_string()))?;
                        unit.enqueue(NewOutbox {
                            key: format!("notice:{id}:{last_seq}:{i}"),
                            instance: Some(id),
                            kind: OutboxKind::Notice,
                            recipient: None,
                            subject: None,
                            payload: json!({"seq": last_seq, "notice": notice}),
                            status: OutboxStatus::Pending,
                            due: now,
                            error: None,
                        });
                        notices += 1;
                    }
                }
            }
            let entry =
                unit.loaded.get_mut(&id).ok_or_else(|| Error::Internal("lost an instance in the unit".into()))?;
            entry.state = outcome.state;
            entry.events.extend(outcome.events);
            entry.notices += notices;
        }
        Ok(unit)
    }

    /// An instance as the unit, then the group, then the database has it.
    async fn load_into(&self, tx: &Tx, unit: &mut Unit, group: &Unit, id: Uuid) -> Result<Option<Instance>> {
        if let Some(l) = unit.loaded.get(&id) {
            return Ok(Some(l.state.clone()));
        }
        let base = match group.base_of(id) {
            Some(b) => b,
            None if group.known_absent(id) => return Ok(None),
            None => match tx.load(id).await? {
                Some(state) => Loaded { stored_seq: Some(state.seq), state, events: Vec::new(), notices: 0 },
                None => return Ok(None),
            },
        };
        let state = base.state.clone();
        unit.loaded.insert(id, base);
        Ok(Some(state))
    }

    /// The workspace's people: read once per transaction, except for
    /// workflows that assign by load, whose counts must see every earlier
    /// write (the group is flushed first).
    async fn people(&self, tx: &Tx, unit: &mut Unit, group: &Unit, workspace: &str, def: &Def) -> Result<Arc<People>> {
        if def.needs_load {
            if group.has_pending() {
                return Err(Error::FlushFirst);
            }
            return Ok(Arc::new(People::load(tx, workspace, true, &roles(def)).await?));
        }
        if let Some(p) = group.people.get(workspace).or_else(|| unit.people.get(workspace)) {
            return Ok(p.clone());
        }
        let p = Arc::new(People::load(tx, workspace, false, &[]).await?);
        unit.people.insert(workspace.to_string(), p.clone());
        Ok(p)
    }

    /// Lets the engine decide one item of the unit.
    async fn decide(
        &self,
        tx: &Tx,
        unit: &mut Unit,
        group: &Unit,
        work: Work,
    ) -> Result<(Uuid, smmflow_engine::Outcome)> {
        let now = self.now();
        match work {
            Work::Start { id, workflow, workspace, inputs, actor, parent, schedule } => {
                let exists = unit.loaded.contains_key(&id)
                    || group.loaded.contains_key(&id)
                    || (!group.known_absent(id) && tx.load(id).await?.is_some());
                if exists {
                    return Err(Error::Conflict(format!("instance {id} exists already")));
                }
                let def = self.defs.get(tx, &workflow, None).await?;
                // A subflow without a calendar of its own counts in its parent's.
                let calendar = match (&def.workflow.calendar, &parent) {
                    (Some(c), _) => Some(c.value.clone()),
                    (None, Some(p)) => self.load_into(tx, unit, group, p.instance).await?.and_then(|i| i.calendar),
                    (None, None) => None,
                };
                let cal = self.defs.calendar(tx, calendar.as_deref()).await?;
                let people = self.people(tx, unit, group, &workspace, &def).await?;
                let env = Env {
                    now,
                    workflow: &def.workflow,
                    version: def.version,
                    calendar: &cal,
                    directory: people.as_ref(),
                };
                let start = Start { id, workspace, inputs, parent, schedule, calendar };
                let out = self.health.contain("deciding a start", || decide::start(&env, &actor, start))??;
                unit.loaded
                    .insert(id, Loaded { stored_seq: None, state: out.state.clone(), events: Vec::new(), notices: 0 });
                Ok((id, out))
            }
            Work::Command { id, actor, command } => {
                let state = self
                    .load_into(tx, unit, group, id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("instance {id}")))?;
                let def: Arc<Def> = self.defs.get(tx, &state.workflow, Some(state.version)).await?;
                let cal = self.defs.calendar(tx, state.calendar.as_deref()).await?;
                let people = self.people(tx, unit, group, &state.workspace, &def).await?;
                let env = Env {
                    now,
                    workflow: &def.workflow,
                    version: def.version,
                    calendar: &cal,
                    directory: people.as_ref(),
                };
                let out =
                    self.health.contain("deciding a command", || decide::handle(&env, &actor, state, command))??;
                Ok((id, out))
            }
        }
    }
}

/// Firing a claimed timer: a system command that also takes the timer.
fn timer_job(t: &smmflow_store::DueTimer) -> Result<Job> {
    let key = t.key.parse().map_err(|e| Error::Internal(format!("a stored timer: {e}")))?;
    let command = Command::TimerFired { key };
    Ok(Job {
        work: Work::Command { id: t.instance, actor: "system".into(), command },
        strict: false,
        remember: None,
        timer: Some(t.clone()),
    })
}

fn roles(def: &Def) -> Vec<String> {
    def.workflow.roles.iter().map(|r| r.name.value.clone()).collect()
}
