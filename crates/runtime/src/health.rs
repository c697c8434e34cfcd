//! Containing panics, and telling readiness about them.
//!
//! No value a user or a workflow controls should panic anything (the
//! engine's time maths is checked arithmetic, inputs are bounded where they
//! enter). If a bug panics anyway, it fails as little as possible: a panic
//! while deciding fails that one command; a panic in a background loop
//! (timers, mail) or in the group committer fails that pass, and the loop
//! goes on. Until a later pass succeeds the part is marked failing, and
//! `/readyz` says so: a load balancer stops sending work to a replica whose
//! mail or timers have stopped, instead of it answering green.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;

use crate::{Error, Result};

/// The parts of the runtime that can fail on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Committer,
    Timers,
    Mail,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Committer => "the group committer",
            Part::Timers => "the timer service",
            Part::Mail => "the mail service",
        }
    }
}

/// Which parts are failing now, and how many panics were contained.
#[derive(Default)]
pub struct Health {
    failing: Mutex<BTreeMap<Part, String>>,
    panics: AtomicU64,
}

impl Health {
    /// `None` when every part works; else what is failing, for `/readyz`.
    pub fn problem(&self) -> Option<String> {
        let failing = self.failing.lock().ok()?;
        if failing.is_empty() {
            return None;
        }
        Some(failing.iter().map(|(p, m)| format!("{} failed: {m}", p.as_str())).collect::<Vec<_>>().join("; "))
    }

    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    pub(crate) fn ok(&self, part: Part) {
        if let Ok(mut f) = self.failing.lock()
            && !f.is_empty()
        {
            f.remove(&part);
        }
    }

    fn failed(&self, part: Part, message: String) {
        if let Ok(mut f) = self.failing.lock() {
            f.insert(part, message);
        }
    }

    /// Runs one pass of a part; a panic is logged and marks the part failing
    /// until a later pass completes.
    pub(crate) async fn pass<F: Future<Output = ()>>(&self, part: Part, f: F) {
        match AssertUnwindSafe(f).catch_unwind().await {
            Ok(()) => self.ok(part),
            Err(p) => {
                let message = panic_message(&p);
                self.panics.fetch_add(1, Ordering::Relaxed);
                tracing::error!(part = part.as_str(), "a panic was contained: {message}");
                self.failed(part, message);
            }
        }
    }

    /// Awaits `f`; a panic becomes an internal error of this call alone.
    pub(crate) async fn contain_async<F: Future>(&self, what: &str, f: F) -> Result<F::Output> {
        AssertUnwindSafe(f).catch_unwind().await.map_err(|p| self.contained(what, &p))
    }

    /// Runs a synchronous decision; a panic becomes an internal error of
    /// this call alone.
    pub(crate) fn contain<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| self.contained(what, &p))
    }

    /// A panic caught while `what`: counted, logged, and the caller's error.
    fn contained(&self, what: &str, p: &Box<dyn Any + Send>) -> Error {
        let message = panic_message(p);
        self.panics.fetch_add(1, Ordering::Relaxed);
        tracing::error!("a panic was contained while {what}: {message}");
        Error::Internal(format!("{what} failed: {message}"))
    }
}

fn panic_message(p: &Box<dyn Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_pass_marks_its_part_until_one_succeeds() {
        let h = Health::default();
        h.pass(Part::Mail, async { panic!("boom") }).await;
        assert!(h.problem().is_some_and(|p| p.contains("the mail service failed: boom")));
        assert_eq!(h.panics(), 1);
        h.pass(Part::Timers, async {}).await;
        assert!(h.problem().is_some(), "another part's success does not clear it");
        h.pass(Part::Mail, async {}).await;
        assert_eq!(h.problem(), None);
    }

    #[test]
    fn a_panicking_decision_is_an_internal_error() {
        let h = Health::default();
        let r: Result<()> = h.contain("deciding", || panic!("overflow"));
        assert!(matches!(r, Err(Error::Internal(m)) if m.contains("overflow")));
        assert_eq!(h.contain("deciding", || 5).ok(), Some(5));
    }
}
