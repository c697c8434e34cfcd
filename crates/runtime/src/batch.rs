//! Group commit (SQLite): commands that arrive while a transaction is being
//! written wait in a queue, and the next transaction takes all of them. Each
//! job is decided on top of the ones before it (`unit.rs`: decisions are
//! buffered, nothing is written until the end); then the whole group is
//! written in a handful of multi-row statements and committed once. Every
//! statement is a round trip to SQLite's thread, so this, more than the
//! saved `COMMIT`s, is what a group saves.
//!
//! A job the engine refuses has written nothing and is answered with its
//! error; the others commit. If writing or committing fails, every job of
//! the group runs again alone. A caller is answered only after the commit
//! its work is in: acknowledged means durable.
//!
//! The committer is a task of its own, so a caller that goes away (an HTTP
//! request cancelled) never cuts a group short.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use smmflow_engine::Instance;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::health::Part;
use crate::unit::Unit;
use crate::work::{Job, Loaded, Work};
use crate::{Error, Result, Runtime};

/// The most jobs one transaction takes.
pub(crate) const MAX_GROUP: usize = 64;

/// What a job's caller gets: the committed states, or None when there was nothing to do.
pub(crate) type Answer = Result<Option<HashMap<Uuid, Instance>>>;
type Reply = oneshot::Sender<Answer>;

pub(crate) struct Batcher {
    queue: mpsc::UnboundedSender<(Job, Reply)>,
}

impl Batcher {
    /// Starts the committer for `rt`; it ends when the runtime is dropped.
    pub(crate) fn start(rt: Weak<Runtime>) -> Batcher {
        let (queue, mut rx) = mpsc::unbounded_channel::<(Job, Reply)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(j) => group.push(j),
                        Err(_) => break,
                    }
                }
                let Some(rt) = rt.upgrade() else { break };
                // A panic fails this group's callers (their replies are
                // dropped: INTERNAL) and the committer goes on.
                rt.health.pass(Part::Committer, rt.clone().commit_group(group)).await;
            }
        });
        Batcher { queue }
    }

    /// Queues a job and waits for the commit it is in.
    pub(crate) async fn submit(&self, job: Job) -> Answer {
        Batcher::answer(self.enqueue(job)?).await
    }

    /// Queues a job; `answer` waits for its commit. Queueing many before
    /// waiting lets them share commits.
    pub(crate) fn enqueue(&self, job: Job) -> Result<oneshot::Receiver<Answer>> {
        let (tx, rx) = oneshot::channel();
        self.queue.send((job, tx)).map_err(|_| Error::Internal("the committer has stopped".into()))?;
        Ok(rx)
    }

    pub(crate) async fn answer(rx: oneshot::Receiver<Answer>) -> Answer {
        rx.await.map_err(|_| Error::Internal("the committer dropped a command".into()))?
    }
}

/// What a job did inside the group's transaction.
pub(crate) enum Done {
    Nothing,
    Work(HashMap<Uuid, Loaded>),
    Failed(Error),
}

impl Runtime {
    async fn commit_group(self: Arc<Self>, group: Vec<(Job, Reply)>) {
        self.metrics.observe_group(group.len());
        if group.len() == 1 {
            let Some((job, reply)) = group.into_iter().next() else { return };
            let _ = reply.send(self.execute_alone(&job).await);
            return;
        }
        let jobs: Vec<&Job> = group.iter().map(|(j, _)| j).collect();
        match self.run_group(&jobs).await {
            Ok(done) => {
                for ((job, reply), d) in group.into_iter().zip(done) {
                    let _ = reply.send(match d {
                        Done::Nothing => Ok(None),
                        Done::Work(loaded) => Ok(Some(self.after_commit(loaded))),
                        // Someone else's change first (not expected on SQLite): alone, with retries.
                        Done::Failed(Error::Store(smmflow_store::Error::Conflict(_))) => self.execute_alone(&job).await,
                        Done::Failed(e) => Err(e),
                    });
                }
            }
            Err(e) => {
                tracing::warn!("a group commit failed ({e}); running its {} commands alone", group.len());
                for (job, reply) in group {
                    let _ = reply.send(self.execute_alone(&job).await);
                }
            }
        }
    }

    /// Decides every job of the group on top of the ones before it, then
    /// writes all their work and commits once. Err when the transaction
    /// could not be begun, written or committed.
    pub(crate) async fn run_group(&self, jobs: &[&Job]) -> Result<Vec<Done>> {
        let tx = self.store.begin().await?;
        let mut all = Unit::default();
        if !self.store.is_postgres() {
            // No row locks to take on SQLite: one read for the whole group.
            let ids: Vec<Uuid> = jobs
                .iter()
                .map(|j| match &j.work {
                    Work::Start { id, .. } | Work::Command { id, .. } => *id,
                })
                .collect();
            all.prefetch(&tx, &ids).await?;
        }
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            let r = match self.attempt(&tx, job, &all, true).await {
                Err(Error::FlushFirst) => {
                    all.flush(self, &tx).await?;
                    all.written();
                    self.attempt(&tx, job, &all, true).await
                }
                r => r,
            };
            match r {
                Ok(None) => done.push(Done::Nothing),
                Ok(Some(unit)) => {
                    all.merge(&unit);
                    done.push(Done::Work(unit.loaded));
                }
                Err(e) => done.push(Done::Failed(e)),
            }
        }
        all.flush(self, &tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Starts many instances, a few hundred per transaction (bulk loads:
    /// a campaign's posts, benchmarks). All-or-nothing per transaction: a
    /// start the engine refuses is skipped and reported in its place.
    pub async fn start_many(&self, reqs: Vec<crate::StartRequest>) -> Result<Vec<Result<Uuid>>> {
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
            let jobs: Vec<Job> = chunk
                .iter()
                .zip(&ids)
                .map(|(r, id)| Job {
                    work: Work::Start {
                        id: *id,
                        workflow: r.workflow.clone(),
                        workspace: r.workspace.clone(),
                        inputs: r.inputs.clone(),
                        actor: r.actor.clone(),
                        parent: None,
                        schedule: None,
                    },
                    strict: true,
                    remember: None,
                    timer: None,
                })
                .collect();
            let refs: Vec<&Job> = jobs.iter().collect();
            for (d, id) in self.run_group(&refs).await?.into_iter().zip(ids) {
                out.push(match d {
                    Done::Work(loaded) => {
                        self.after_commit(loaded);
                        Ok(id)
                    }
                    Done::Failed(e) => Err(e),
                    Done::Nothing => Err(Error::Internal("a start that started nothing".into())),
                });
            }
        }
        Ok(out)
    }
}
