//! Approval links, the whole protocol in one place: a link is a signed
//! token (`smmflow_notify::link`); opening one checks its signature, its
//! expiry, that it was not used, that its task still waits for a decision
//! and that its recipient may still decide; deciding through one does the
//! same and then records the link's nonce in the decision's own
//! transaction, so a second use (even a concurrent one) decides nothing.
//! Any front end (the approval page, a future API) gets all of it by
//! calling these two operations.

use smmflow_engine::{Command, Instance, InstanceStatus, TaskStatus};
use smmflow_notify::link::{self, Claims};

use crate::exec::{Request, Work};
use crate::{Error, Result, Runtime};

/// The idempotency scope of used approval links.
const LINK_SCOPE: &str = "approval-link";

/// Why a link does not open (or decide): nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The token was changed or cut short.
    Tampered,
    /// It ran out.
    Expired,
    /// A decision was made with it already.
    Used,
    /// The task no longer waits (decided, cancelled, or its instance paused or ended).
    NotWaiting(NotWaiting),
    /// Its recipient is no longer among the people who decide.
    NotAllowed,
}

/// Why a task no longer waits for a link's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotWaiting {
    Approved,
    Rejected,
    Paused,
    /// Nobody decided in time: it expired.
    Expired,
    Over,
    /// Someone else decided while this decision was being made.
    DecidedMeanwhile,
}

/// An open link: who it is for and the instance its task is in.
#[derive(Clone, Debug)]
pub struct Opened {
    pub claims: Claims,
    pub state: Instance,
}

/// What a decision through a link did.
#[derive(Debug)]
pub enum Decided {
    Done(Box<Instance>),
    Refused(Refusal),
    /// The engine refused the decision (a rejection without a comment, four
    /// eyes...): the person can fix it and send again.
    Invalid(Error),
}

/// One approval of a batch, as its page shows it.
#[derive(Clone, Debug)]
pub struct BatchEntry {
    pub instance: uuid::Uuid,
    pub task: u32,
    /// The instance now (none when it is gone).
    pub state: Option<Instance>,
    /// Why it cannot be decided from this page now; none: it waits for a decision.
    pub refusal: Option<Refusal>,
}

/// An open batch link: who it is for and its approvals, in the mail's order.
#[derive(Clone, Debug)]
pub struct OpenedBatch {
    pub claims: Claims,
    pub items: Vec<BatchEntry>,
}

impl Runtime {
    /// Checks a link for showing its page (GET never decides).
    pub async fn open_link(&self, token: &str) -> Result<Result<Opened, Refusal>> {
        let secret = self.link_secret().await?;
        let Ok(claims) = link::verify(&secret, token) else { return Ok(Err(Refusal::Tampered)) };
        if claims.batch {
            return Ok(Err(Refusal::Tampered));
        }
        let (state, refusal) = self.standing(&claims, &claims.nonce, claims.instance, claims.task).await?;
        match (state, refusal) {
            (Some(state), None) => Ok(Ok(Opened { claims, state })),
            (_, Some(r)) => Ok(Err(r)),
            (None, None) => Ok(Err(Refusal::Tampered)),
        }
    }

    /// The instance of a link that no longer opens (used, decided, expired
    /// or over), so its page can show what was recorded; none for a link
    /// that is not valid at all.
    pub async fn link_instance(&self, token: &str) -> Result<Option<(Claims, Instance)>> {
        let secret = self.link_secret().await?;
        let Ok(claims) = link::verify(&secret, token) else { return Ok(None) };
        if claims.batch {
            return Ok(None);
        }
        Ok(self.store.instance(claims.instance).await?.map(|s| (claims, s)))
    }

    /// Where one approval stands for a link's recipient: used (by this
    /// nonce), expired, no longer waiting, or no longer theirs to decide.
    async fn standing(
        &self,
        claims: &Claims,
        nonce: &str,
        instance: uuid::Uuid,
        task_no: u32,
    ) -> Result<(Option<Instance>, Option<Refusal>)> {
        let tx = self.store.begin_read().await?;
        let used = tx.idempotent(LINK_SCOPE, nonce).await?.is_some();
        drop(tx);
        let state = self.store.instance(instance).await?;
        if used {
            return Ok((state, Some(Refusal::Used)));
        }
        if claims.expired(self.now()) {
            return Ok((state, Some(Refusal::Expired)));
        }
        let Some(state) = state else { return Ok((None, Some(Refusal::Tampered))) };
        let Some(task) = state.task(task_no) else { return Ok((Some(state), Some(Refusal::Tampered))) };
        if !task.status.is_active() || state.status != InstanceStatus::Running {
            let why = match task.status {
                TaskStatus::Approved => NotWaiting::Approved,
                TaskStatus::Rejected => NotWaiting::Rejected,
                TaskStatus::Expired => NotWaiting::Expired,
                _ if state.status == InstanceStatus::Suspended => NotWaiting::Paused,
                _ => NotWaiting::Over,
            };
            return Ok((Some(state), Some(Refusal::NotWaiting(why))));
        }
        if !self.may_decide(&claims.recipient, task_no, &state).await? {
            return Ok((Some(state), Some(Refusal::NotAllowed)));
        }
        Ok((Some(state), None))
    }

    /// Decides through a link: the checks of `open_link`, then the decision
    /// by the link's recipient, with the nonce recorded in its transaction.
    pub async fn decide_link(
        &self,
        token: &str,
        approve: bool,
        comment: Option<String>,
        reasons: Vec<String>,
    ) -> Result<Decided> {
        let opened = match self.open_link(token).await? {
            Ok(o) => o,
            Err(r) => return Ok(Decided::Refused(r)),
        };
        let c = &opened.claims;
        self.decide_as(c, &c.nonce, c.instance, c.task, approve, comment, reasons).await
    }

    /// Opens a batch link: its approvals, each with where it stands.
    pub async fn open_batch(&self, token: &str) -> Result<Result<OpenedBatch, Refusal>> {
        let secret = self.link_secret().await?;
        let Ok(claims) = link::verify(&secret, token) else { return Ok(Err(Refusal::Tampered)) };
        if !claims.batch {
            return Ok(Err(Refusal::Tampered));
        }
        if claims.expired(self.now()) {
            return Ok(Err(Refusal::Expired));
        }
        let Some(batch) = self.store.batch(&claims.instance.to_string()).await? else {
            return Ok(Err(Refusal::Tampered));
        };
        if batch.recipient != claims.recipient {
            return Ok(Err(Refusal::Tampered));
        }
        let mut items = Vec::with_capacity(batch.items.len());
        for (i, item) in batch.items.iter().enumerate() {
            let (state, refusal) = self.standing(&claims, &claims.item_nonce(i), item.instance, item.task).await?;
            items.push(BatchEntry { instance: item.instance, task: item.task, state, refusal });
        }
        Ok(Ok(OpenedBatch { claims, items }))
    }

    /// Decides item `index` of an opened batch: its own command, recorded
    /// under the item's own nonce (a second submit decides nothing).
    pub async fn decide_batch_item(
        &self,
        batch: &OpenedBatch,
        index: usize,
        approve: bool,
        comment: Option<String>,
        reasons: Vec<String>,
    ) -> Result<Decided> {
        let Some(item) = batch.items.get(index) else { return Ok(Decided::Refused(Refusal::Tampered)) };
        if let Some(r) = &item.refusal {
            return Ok(Decided::Refused(r.clone()));
        }
        let c = &batch.claims;
        self.decide_as(c, &c.item_nonce(index), item.instance, item.task, approve, comment, reasons).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_as(
        &self,
        claims: &Claims,
        nonce: &str,
        id: uuid::Uuid,
        task: u32,
        approve: bool,
        comment: Option<String>,
        reasons: Vec<String>,
    ) -> Result<Decided> {
        let command = Command::DecideByLink { task, approve, comment, reasons };
        let work = Work::Command { id, actor: claims.recipient.clone(), command };
        let started = std::time::Instant::now();
        let r = self.run(Request::new(work).recorded(LINK_SCOPE, nonce, id)).await;
        self.observe(&r, started);
        match r {
            Ok(Some(mut states)) => match states.remove(&id) {
                Some(s) => Ok(Decided::Done(Box::new(s))),
                None => Ok(Decided::Done(Box::new(self.instance(id).await?))),
            },
            // The nonce was recorded meanwhile: a concurrent use won.
            Ok(None) => Ok(Decided::Refused(Refusal::Used)),
            Err(e) => match e.code() {
                crate::Code::Conflict | crate::Code::TaskAlreadyCompleted => {
                    Ok(Decided::Refused(Refusal::NotWaiting(NotWaiting::DecidedMeanwhile)))
                }
                crate::Code::Forbidden | crate::Code::BadUserInput => Ok(Decided::Invalid(e)),
                _ => Err(e),
            },
        }
    }

    /// Whether a link's recipient may still decide its task: a member's link
    /// works while they keep the task's role in the workspace (or are named
    /// on the task); a bare address's link has no membership to lose. The
    /// engine checks the same when the decision is made.
    async fn may_decide(&self, who: &str, task: u32, state: &Instance) -> Result<bool> {
        if who.contains('@') {
            return Ok(true);
        }
        let Some(task) = state.task(task) else { return Ok(false) };
        if task.assignee.as_deref() == Some(who) || task.candidates.iter().any(|c| c == who) {
            return Ok(true);
        }
        let roles = self.store.memberships(who).await?;
        Ok(task.role.as_ref().is_some_and(|r| roles.iter().any(|m| m.workspace == state.workspace && m.role == *r)))
    }
}
