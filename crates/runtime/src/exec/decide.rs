//! Deciding a request: its guards (a recorded key, a claimed timer), then
//! the first decision and its cascade into a buffer of their own, reading
//! instances from the group's buffer before the database. Nothing here
//! writes; the mode does (`alone.rs`, `group.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::json;
use smmflow_engine::{Action, Env, Instance, Start, cascade, decide};
use smmflow_store::{NewOutbox, NewPublication, OutboxKind, OutboxStatus, Tx};
use uuid::Uuid;

use super::{Buffer, Mode, OnRefusal, Request, Staged, Work};
use crate::directory::People;
use crate::{Def, Error, Result, Runtime};

impl Runtime {
    /// Decides a request on top of what `group` (earlier requests of the
    /// same transaction) has decided, writing nothing: the request's own
    /// buffer, or None when there is nothing to do (its key was recorded,
    /// its timer was taken or moved). Grouped, its timer is taken here: on
    /// SQLite checked by a read and deleted with the group's writes (the
    /// serialized transaction makes the read as good as the delete), on
    /// PostgreSQL deleted after the decision (the row lock makes the delete
    /// the one safe check across replicas); alone, the caller has taken it
    /// already.
    pub(crate) async fn decide_request(
        &self,
        tx: &Tx,
        req: &Request,
        group: &Buffer,
        mode: Mode,
    ) -> Result<Option<Buffer>> {
        if let Some(r) = &req.record
            && (group.remembers(r.scope, &r.key) || tx.idempotent(r.scope, &r.key).await?.is_some())
        {
            return Ok(None);
        }
        if mode == Mode::Grouped
            && let Some(t) = &req.timer
        {
            if group.has_pending_for(t.instance) {
                return Err(Error::FlushFirst);
            }
            if !tx.is_postgres() && tx.timer_due(t.instance, &t.key).await? != Some(smmflow_store::db_time(t.due_at)) {
                return Ok(None);
            }
        }
        let mut buf = self.decide_cascade(tx, req.work.clone(), req.on_refusal, group).await?;
        if mode == Mode::Grouped
            && let Some(t) = &req.timer
        {
            if !tx.is_postgres() {
                buf.take_timer(t.instance, &t.key);
            } else if !tx.take_timer(t.instance, &t.key, t.due_at).await? {
                // Another replica fired it (or it moved): the delete, row-locked
                // until commit, is the one safe check there. Done after the
                // decision, so a decision that must wait for a flush has not
                // taken it yet.
                return Ok(None);
            }
        }
        if let Some(r) = &req.record {
            buf.remember(r.scope, &r.key, r.id.to_string());
        }
        Ok(Some(buf))
    }

    /// Decides `first` and its cascade (breadth-first: `smmflow_engine::
    /// cascade`) into a buffer of their own, reading instances from `group`
    /// before the database. The cascade's own refusals change nothing.
    pub(crate) async fn decide_cascade(
        &self,
        tx: &Tx,
        first: Work,
        on_refusal: OnRefusal,
        group: &Buffer,
    ) -> Result<Buffer> {
        let now = self.now();
        let mut unit = Buffer::default();
        let mut queue = VecDeque::from([(first, on_refusal)]);
        while let Some((work, on_refusal)) = queue.pop_front() {
            let (id, outcome) = match self.decide_one(tx, &mut unit, group, work.clone()).await {
                Ok(r) => r,
                Err(e) if on_refusal == OnRefusal::Fail || matches!(e, Error::FlushFirst) => return Err(e),
                Err(e) => {
                    // A cascade step the engine refuses (e.g. cancelling a child
                    // that already ended) changes nothing; a child that cannot
                    // start is reported to its parent as failed.
                    if let Work::Start { id, parent: Some(p), .. } = &work {
                        tracing::warn!(child = %id, "child instance could not start: {e}");
                        queue.push_back((cascade::start_failed(*id, p, &e.to_string()).into(), OnRefusal::Ignore));
                    }
                    continue;
                }
            };
            let follow = cascade::follow_ups(&outcome.state, &outcome.actions);
            queue.extend(follow.into_iter().map(|f| (f.into(), OnRefusal::Ignore)));
            let last_seq = outcome.events.last().map_or(0, |e| e.seq);
            let mut notices = 0;
            for (i, action) in outcome.actions.iter().enumerate() {
                match action {
                    Action::SetTimer { key, at } => unit.set_timer(id, &key.to_string(), *at),
                    Action::ClearTimers { scope } => unit.clear_timers(id, &scope.prefix()),
                    Action::StartChild { .. } | Action::CancelChild { .. } | Action::NotifyParent { .. } => {}
                    Action::UpdateProfile { set } => {
                        let actor = outcome.events.last().map_or("system", |e| e.actor.as_str());
                        unit.update_profile(&outcome.state.workspace, actor, set.clone());
                    }
                    Action::Publication { at, channel, title } => unit.publish(NewPublication {
                        instance: id,
                        workspace: outcome.state.workspace.clone(),
                        channel: channel.clone(),
                        title: title.clone(),
                        at: *at,
                    }),
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
                unit.staged.get_mut(&id).ok_or_else(|| Error::Internal("lost an instance in the buffer".into()))?;
            entry.state = outcome.state;
            entry.events.extend(outcome.events);
            entry.notices += notices;
        }
        Ok(unit)
    }

    /// An instance as the buffer, then the group, then the database has it.
    async fn load_into(&self, tx: &Tx, unit: &mut Buffer, group: &Buffer, id: Uuid) -> Result<Option<Instance>> {
        if let Some(l) = unit.staged.get(&id) {
            return Ok(Some(l.state.clone()));
        }
        let base = match group.base_of(id) {
            Some(b) => b,
            None if group.known_absent(id) => return Ok(None),
            None => match tx.load(id).await? {
                Some(state) => Staged { stored_seq: Some(state.seq), state, events: Vec::new(), notices: 0 },
                None => return Ok(None),
            },
        };
        let state = base.state.clone();
        unit.staged.insert(id, base);
        Ok(Some(state))
    }

    /// The workspace's people: read once per transaction, except for
    /// workflows that assign by load, whose counts must see every earlier
    /// write (the group is flushed first).
    async fn people(
        &self,
        tx: &Tx,
        unit: &mut Buffer,
        group: &Buffer,
        workspace: &str,
        def: &Def,
    ) -> Result<Arc<People>> {
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

    /// Lets the engine decide one item of the cascade.
    async fn decide_one(
        &self,
        tx: &Tx,
        unit: &mut Buffer,
        group: &Buffer,
        work: Work,
    ) -> Result<(Uuid, smmflow_engine::Outcome)> {
        let now = self.now();
        match work {
            Work::Start { id, workflow, workspace, inputs, actor, parent, schedule, plan } => {
                let exists = unit.staged.contains_key(&id)
                    || group.staged.contains_key(&id)
                    || (!group.known_absent(id) && tx.load(id).await?.is_some());
                if exists {
                    return Err(Error::Conflict(format!("instance {id} exists already")));
                }
                let def = self.defs.get(tx, &workflow, None).await?;
                let client = self.client(tx, unit, group, &workspace).await?;
                // A subflow without a calendar of its own counts in its
                // parent's; an instance without either, in its workspace's.
                let calendar = match (&def.workflow.calendar, &parent) {
                    (Some(c), _) => Some(c.value.clone()),
                    (None, Some(p)) => self.load_into(tx, unit, group, p.instance).await?.and_then(|i| i.calendar),
                    (None, None) => client.row.as_ref().and_then(|w| w.calendar.clone()),
                };
                let cal = self.defs.calendar(tx, calendar.as_deref()).await?;
                let people = self.people(tx, unit, group, &workspace, &def).await?;
                let context = client.context(&workspace);
                let start = Start { id, workspace: workspace.clone(), inputs, parent, schedule, calendar, context };
                let out = {
                    let env = env_of(now, &def, &cal, &people, &client);
                    self.health.contain("deciding a start", || decide::start(&env, &actor, start))??
                };
                if plan {
                    self.check_planned_start(tx, unit, group, &client, &def.workflow, &out).await?;
                }
                unit.staged
                    .insert(id, Staged { stored_seq: None, state: out.state.clone(), events: Vec::new(), notices: 0 });
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
                let planned = crate::calendar::planned_items(&def.workflow, &state, &command);
                let client = if def.needs_profile || !planned.is_empty() {
                    self.client(tx, unit, group, &state.workspace).await?
                } else {
                    Arc::new(crate::clients::Client::default())
                };
                let out = {
                    let env = env_of(now, &def, &cal, &people, &client);
                    self.health.contain("deciding a command", || decide::handle(&env, &actor, state, command))??
                };
                if !planned.is_empty() {
                    self.check_planned_items(tx, unit, group, &client, planned).await?;
                }
                Ok((id, out))
            }
        }
    }
}

/// What the engine decides with. Built in a block of its own by the
/// callers: `Env` holds a `&dyn Directory` and must not live across an await.
fn env_of<'a>(
    now: chrono::DateTime<chrono::Utc>,
    def: &'a Def,
    calendar: &'a smmflow_spec::Calendar,
    people: &'a People,
    client: &'a crate::clients::Client,
) -> Env<'a> {
    Env {
        now,
        workflow: &def.workflow,
        version: def.version,
        calendar,
        directory: people,
        profile: client.profile_env(def.needs_profile),
    }
}

fn roles(def: &Def) -> Vec<String> {
    def.workflow.roles.iter().map(|r| r.name.value.clone()).collect()
}
