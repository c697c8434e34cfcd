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

impl Runtime {
    /// Checks a link for showing its page (GET never decides).
    pub async fn open_link(&self, token: &str) -> Result<Result<Opened, Refusal>> {
        let secret = self.link_secret().await?;
        let Ok(claims) = link::verify(&secret, token) else { return Ok(Err(Refusal::Tampered)) };
        let tx = self.store.begin_read().await?;
        let used = tx.idempotent(LINK_SCOPE, &claims.nonce).await?.is_some();
        drop(tx);
        if used {
            return Ok(Err(Refusal::Used));
        }
        if claims.expired(self.now()) {
            return Ok(Err(Refusal::Expired));
        }
        let Some(state) = self.store.instance(claims.instance).await? else { return Ok(Err(Refusal::Tampered)) };
        let Some(task) = state.task(claims.task) else { return Ok(Err(Refusal::Tampered)) };
        if !task.status.is_active() || state.status != InstanceStatus::Running {
            let why = match task.status {
                TaskStatus::Approved => NotWaiting::Approved,
                TaskStatus::Rejected => NotWaiting::Rejected,
                _ if state.status == InstanceStatus::Suspended => NotWaiting::Paused,
                _ => NotWaiting::Over,
            };
            return Ok(Err(Refusal::NotWaiting(why)));
        }
        if !self.may_decide(&claims, &state).await? {
            return Ok(Err(Refusal::NotAllowed));
        }
        Ok(Ok(Opened { claims, state }))
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
        let link = &opened.claims;
        let id = link.instance;
        let command = Command::DecideByLink { task: link.task, approve, comment, reasons };
        let work = Work::Command { id, actor: link.recipient.clone(), command };
        let started = std::time::Instant::now();
        let r = self.run(Request::new(work).recorded(LINK_SCOPE, &link.nonce, id)).await;
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
    async fn may_decide(&self, link: &Claims, state: &Instance) -> Result<bool> {
        let who = link.recipient.as_str();
        if who.contains('@') {
            return Ok(true);
        }
        let Some(task) = state.task(link.task) else { return Ok(false) };
        if task.assignee.as_deref() == Some(who) || task.candidates.iter().any(|c| c == who) {
            return Ok(true);
        }
        let roles = self.store.memberships(who).await?;
        Ok(task.role.as_ref().is_some_and(|r| roles.iter().any(|m| m.workspace == state.workspace && m.role == *r)))
    }
}
