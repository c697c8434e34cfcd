//! `Mode::Grouped`, the group commit (SQLite and PostgreSQL): requests that
//! arrive while a transaction is being written wait in a queue, and the
//! next transaction takes all of them. Their instances are read in one
//! query (on PostgreSQL locked, in id order, so two replicas' groups wait
//! for each other rather than deadlock); each request is decided on top of
//! the ones before it (into buffers: nothing is written until the end);
//! then the whole group is written in a handful of multi-row statements and
//! committed once. Every statement is a round trip (to SQLite's thread, to
//! the PostgreSQL server), so this, more than the saved `COMMIT`s, is what
//! a group saves. (Several committers at once on PostgreSQL were measured
//! and gave nothing on two cores: the server's CPU is the limit there.)
//!
//! On SQLite the next group is decided while the one before commits: its
//! requests are taken when that `COMMIT` starts and decided on a read
//! snapshot under what the committing group wrote (`Buffer::settled_base`),
//! and written only if the commit succeeded and no other write transaction
//! went through the writer lane meanwhile; otherwise (and after a group
//! that wrote idempotency keys, publications or profiles, or whenever a
//! decision needs a fresh read: a timer or a load count of a settling
//! instance, a posting-limit check) the group is decided in its own
//! transaction. PostgreSQL's groups lock their rows while deciding and are
//! not pipelined.
//!
//! A request the engine refuses has written nothing and is answered with
//! its error; the others commit. If writing or committing fails, every
//! request of the group runs again alone. A caller is answered only after
//! the commit its work is in: acknowledged means durable.
//!
//! The committer is a task of its own, so a caller that goes away (an HTTP
//! request cancelled) never cuts a group short.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use smmflow_store::Tx;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Answer, Buffer, Mode, OnRefusal, Request, Staged, Work};
use crate::health::Part;
use crate::{Error, Result, Runtime};

/// The most requests one transaction takes.
pub(crate) const MAX_GROUP: usize = 64;

type Reply = oneshot::Sender<Answer>;

/// The queue in front of the committer task.
pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<(Request, Reply)>,
}

impl Committer {
    /// Starts the committer for `rt`; it ends when the runtime is dropped.
    pub(crate) fn start(rt: Weak<Runtime>) -> Committer {
        let (queue, mut rx) = mpsc::unbounded_channel::<(Request, Reply)>();
        tokio::spawn(async move {
            let mut ahead: Option<Ahead> = None;
            loop {
                let (group, decided) = match ahead.take() {
                    Some(a) => (a.group, a.decided),
                    None => {
                        let Some(first) = rx.recv().await else { break };
                        (drain(first, &mut rx), None)
                    }
                };
                let Some(rt) = rt.upgrade() else { break };
                // A panic fails this group's callers (their replies are
                // dropped: INTERNAL) and the committer goes on.
                let next = &mut ahead;
                rt.health
                    .pass(Part::Committer, async {
                        *next = rt.clone().commit_group(group, decided, &mut rx).await;
                    })
                    .await;
            }
        });
        Committer { queue }
    }

    /// Queues a request and waits for the commit it is in.
    pub(crate) async fn submit(&self, req: Request) -> Answer {
        Committer::answer(self.enqueue(req)?).await
    }

    /// Queues a request; `answer` waits for its commit. Queueing many before
    /// waiting lets them share commits.
    pub(crate) fn enqueue(&self, req: Request) -> Result<oneshot::Receiver<Answer>> {
        let (tx, rx) = oneshot::channel();
        self.queue.send((req, tx)).map_err(|_| Error::Internal("the committer has stopped".into()))?;
        Ok(rx)
    }

    pub(crate) async fn answer(rx: oneshot::Receiver<Answer>) -> Answer {
        rx.await.map_err(|_| Error::Internal("the committer dropped a command".into()))?
    }
}

/// Whatever else is queued, up to a group's size, after `first`.
fn drain(first: (Request, Reply), rx: &mut mpsc::UnboundedReceiver<(Request, Reply)>) -> Vec<(Request, Reply)> {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(j) => group.push(j),
            Err(_) => break,
        }
    }
    in_id_order(&mut group);
    group
}

/// The next group, taken while the one before it committed, and decided
/// then when it could be: with the store's count of lane commits the
/// decision holds for (the one before's commit and no other).
struct Ahead {
    group: Vec<(Request, Reply)>,
    decided: Option<(Decision, u64)>,
}

/// A group's decisions, not yet written.
pub(crate) struct Decision {
    all: Buffer,
    done: Vec<Decided>,
}

/// Starts decided in the order of their ids (UUIDv7, taken when each was
/// submitted), whatever order two threads queued them in: `round_robin`
/// reads "who got the last task" by the newest instance when tasks share a
/// timestamp, so decision order must be id order. Other requests keep their
/// places (none can act on an instance started in the same group).
fn in_id_order(group: &mut [(Request, Reply)]) {
    let slots: Vec<usize> =
        group.iter().enumerate().filter(|(_, (r, _))| matches!(r.work, Work::Start { .. })).map(|(i, _)| i).collect();
    let mut ids: Vec<(Uuid, usize)> = slots
        .iter()
        .filter_map(|&i| match &group[i].0.work {
            Work::Start { id, .. } => Some((*id, i)),
            Work::Command { .. } => None,
        })
        .collect();
    ids.sort_unstable();
    // Apply the permutation: slot k gets the start with the k-th smallest id.
    let mut order: Vec<usize> = ids.iter().map(|(_, i)| *i).collect();
    for k in 0..slots.len() {
        let (target, source) = (slots[k], order[k]);
        if target != source {
            group.swap(target, source);
            // The element that was at `target` moved to `source`.
            if let Some(p) = order.iter().position(|&o| o == target) {
                order[p] = source;
            }
        }
    }
}

/// The instance ids of a group's requests.
fn ids(reqs: &[&Request]) -> Vec<Uuid> {
    reqs.iter()
        .map(|j| match &j.work {
            Work::Start { id, .. } | Work::Command { id, .. } => *id,
        })
        .collect()
}

/// A request's decision, its work merged into the group's.
fn merged(all: &mut Buffer, r: Result<Option<Buffer>>) -> Decided {
    match r {
        Ok(None) => Decided::Nothing,
        Ok(Some(buf)) => {
            all.merge(&buf);
            Decided::Staged(buf.staged)
        }
        Err(e) => Decided::Failed(e),
    }
}

/// Whatever is queued now, up to a group's size (nothing waited for).
fn take_queued(rx: &mut mpsc::UnboundedReceiver<(Request, Reply)>) -> Vec<(Request, Reply)> {
    match rx.try_recv() {
        Ok(first) => drain(first, rx),
        Err(_) => Vec::new(),
    }
}

/// What a request did inside the group's transaction.
pub(crate) enum Decided {
    Nothing,
    Staged(HashMap<Uuid, Staged>),
    Failed(Error),
}

impl Runtime {
    /// Writes and commits a group (with the decision made ahead if nobody
    /// else wrote since it was made), and, while the commit is under way,
    /// takes the requests queued behind it and decides them (SQLite). The
    /// returned group is the committer's next.
    async fn commit_group(
        self: Arc<Self>,
        group: Vec<(Request, Reply)>,
        decided: Option<(Decision, u64)>,
        rx: &mut mpsc::UnboundedReceiver<(Request, Reply)>,
    ) -> Option<Ahead> {
        self.metrics.observe_group(group.len());
        if group.len() == 1 && decided.is_none() {
            let (req, reply) = group.into_iter().next()?;
            let _ = reply.send(self.run_alone(&req).await);
            return None;
        }
        let reqs: Vec<&Request> = group.iter().map(|(j, _)| j).collect();
        let (tx, Decision { all, done }) = match self.write_group(&reqs, decided).await {
            Ok(w) => w,
            Err(e) => {
                self.all_alone(group, &e).await;
                return None;
            }
        };
        // PostgreSQL's groups lock their rows while deciding: not pipelined.
        let next = if !self.store.is_postgres() && all.pipelines() { take_queued(rx) } else { Vec::new() };
        // Each caller is answered as soon as the commit is done, while the
        // next group is still being decided.
        let settle = async {
            match tx.commit().await {
                Ok(()) => {
                    self.answer_group(group, done).await;
                    true
                }
                Err(e) => {
                    self.all_alone(group, &e.into()).await;
                    false
                }
            }
        };
        if next.is_empty() {
            settle.await;
            return None;
        }
        let mark = self.store.lane_commits() + 1;
        // A panic while deciding ahead costs only that decision (the group
        // is decided again in its own transaction), never the commit under way.
        let ahead = self.health.contain_async("deciding a group ahead", self.decide_ahead(&next, all.settled_base()));
        let (committed, decision) = tokio::join!(settle, ahead);
        let decision = decision.ok().flatten();
        // Decided on top of what did not commit: decided again.
        Some(Ahead { group: next, decided: decision.filter(|_| committed).map(|d| (d, mark)) })
    }

    async fn answer_group(&self, group: Vec<(Request, Reply)>, done: Vec<Decided>) {
        for ((req, reply), d) in group.into_iter().zip(done) {
            let _ = reply.send(match d {
                Decided::Nothing => Ok(None),
                Decided::Staged(staged) => Ok(Some(self.after_commit(staged))),
                // Someone else's change first (not expected on SQLite): alone, with retries.
                Decided::Failed(Error::Store(smmflow_store::Error::Conflict(_))) => self.run_alone(&req).await,
                Decided::Failed(e) => Err(e),
            });
        }
    }

    async fn all_alone(&self, group: Vec<(Request, Reply)>, e: &Error) {
        tracing::warn!("a group commit failed ({e}); running its {} commands alone", group.len());
        for (req, reply) in group {
            let _ = reply.send(self.run_alone(&req).await);
        }
    }

    /// Begins the group's transaction and writes its decisions: the ones
    /// made ahead if no other write was committed since, else made now.
    /// Err when the transaction could not be begun or written.
    async fn write_group(&self, reqs: &[&Request], decided: Option<(Decision, u64)>) -> Result<(Tx, Decision)> {
        let tx = self.store.begin().await?;
        let decision = match decided {
            Some((d, mark)) if self.store.lane_commits() == mark => {
                self.metrics.observe_ahead();
                d
            }
            _ => self.decide_group(&tx, reqs).await?,
        };
        let announcements = decision.all.flush(&tx, self.now(), &self.node).await?;
        self.announce(&tx, &announcements).await?;
        Ok((tx, decision))
    }

    /// Decides every request of the group on top of the ones before it, in
    /// the group's transaction (flushing into it when a decision must read
    /// what the ones before wrote).
    async fn decide_group(&self, tx: &Tx, reqs: &[&Request]) -> Result<Decision> {
        let mut all = Buffer::default();
        // One read for the whole group (on PostgreSQL, locking the rows in id order).
        all.prefetch(tx, &ids(reqs)).await?;
        let mut done = Vec::with_capacity(reqs.len());
        for req in reqs {
            let r = match self.decide_request(tx, req, &all, Mode::Grouped).await {
                Err(Error::FlushFirst) => {
                    let announcements = all.flush(tx, self.now(), &self.node).await?;
                    self.announce(tx, &announcements).await?;
                    all.written();
                    self.decide_request(tx, req, &all, Mode::Grouped).await
                }
                r => r,
            };
            done.push(merged(&mut all, r));
        }
        Ok(Decision { all, done })
    }

    /// Decides the next group while the one before commits: on a read
    /// snapshot of the database under `base` (what the one before wrote).
    /// None when a request needs what the snapshot cannot show (a flush
    /// first) or the snapshot failed: the group is then decided in its own
    /// transaction, as usual.
    async fn decide_ahead(&self, next: &[(Request, Reply)], base: Buffer) -> Option<Decision> {
        let reqs: Vec<&Request> = next.iter().map(|(j, _)| j).collect();
        let read = self.store.begin_read().await.ok()?;
        let mut all = base;
        all.prefetch(&read, &ids(&reqs)).await.ok()?;
        let mut done = Vec::with_capacity(reqs.len());
        for req in &reqs {
            match self.decide_request(&read, req, &all, Mode::Grouped).await {
                Err(Error::FlushFirst | Error::Store(_)) => return None,
                r => done.push(merged(&mut all, r)),
            }
        }
        let _ = read.rollback().await;
        Some(Decision { all, done })
    }

    /// Decides every request of the group, then writes all their work and
    /// commits once. Err when the transaction could not be begun, written
    /// or committed.
    pub(crate) async fn run_group(&self, reqs: &[&Request]) -> Result<Vec<Decided>> {
        let (tx, decision) = self.write_group(reqs, None).await?;
        tx.commit().await?;
        Ok(decision.done)
    }

    /// Starts many instances, a few hundred per transaction (bulk loads:
    /// a campaign's posts, benchmarks). All-or-nothing per transaction: a
    /// start the engine refuses is skipped and reported in its place.
    pub(crate) async fn start_many(&self, reqs: Vec<crate::StartRequest>) -> Result<Vec<Result<Uuid>>> {
        let mut workspaces: Vec<&str> = reqs.iter().map(|r| r.workspace.as_str()).collect();
        workspaces.sort_unstable();
        workspaces.dedup();
        for w in workspaces {
            if !self.store.workspace_exists(w).await? {
                return Err(Error::NotFound(format!("workspace `{w}`")));
            }
        }
        let mut out = Vec::with_capacity(reqs.len());
        for chunk in reqs.chunks(500) {
            let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
            let reqs: Vec<Request> = chunk
                .iter()
                .zip(&ids)
                .map(|(r, id)| Request {
                    work: Work::Start {
                        id: *id,
                        workflow: r.workflow.clone(),
                        workspace: r.workspace.clone(),
                        inputs: r.inputs.clone(),
                        actor: r.actor.clone(),
                        parent: None,
                        schedule: None,
                        plan: true,
                    },
                    on_refusal: OnRefusal::Fail,
                    record: None,
                    timer: None,
                })
                .collect();
            let refs: Vec<&Request> = reqs.iter().collect();
            for (d, id) in self.run_group(&refs).await?.into_iter().zip(ids) {
                out.push(match d {
                    Decided::Staged(staged) => {
                        self.after_commit(staged);
                        Ok(id)
                    }
                    Decided::Failed(e) => Err(e),
                    Decided::Nothing => Err(Error::Internal("a start that started nothing".into())),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(n: u128) -> (Request, Reply) {
        let work = Work::Start {
            id: Uuid::from_u128(n),
            workflow: "w".into(),
            workspace: "acme".into(),
            inputs: serde_json::Value::Null,
            actor: "lena".into(),
            parent: None,
            schedule: None,
            plan: true,
        };
        (Request::new(work), oneshot::channel().0)
    }

    fn command(n: u128) -> (Request, Reply) {
        let work =
            Work::Command { id: Uuid::from_u128(n), actor: "lena".into(), command: smmflow_engine::Command::Suspend };
        (Request::new(work), oneshot::channel().0)
    }

    fn ids(group: &[(Request, Reply)]) -> Vec<u128> {
        group
            .iter()
            .map(|(r, _)| match &r.work {
                Work::Start { id, .. } | Work::Command { id, .. } => id.as_u128(),
            })
            .collect()
    }

    #[test]
    fn starts_are_decided_in_id_order_and_commands_keep_their_places() {
        let mut group = vec![start(5), command(100), start(2), start(9), command(200), start(1)];
        in_id_order(&mut group);
        assert_eq!(ids(&group), [1, 100, 2, 5, 200, 9]);
        let mut group = vec![start(3), start(2), start(1)];
        in_id_order(&mut group);
        assert_eq!(ids(&group), [1, 2, 3]);
    }
}
