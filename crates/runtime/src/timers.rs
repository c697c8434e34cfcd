//! Firing durable timers: claim the due ones with a lease, and fire each in
//! a unit of work that also deletes it (on SQLite a claimed batch shares
//! commits through the group commit). At least once; the engine makes
//! every firing apply once.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::service::Service;
use crate::{Result, Runtime};

/// How long a claimed timer stays leased to this node.
const DEFAULT_LEASE_SECONDS: i64 = 60;

/// The lease: `SMMFLOW_TIMER_LEASE_SECONDS` (default 60). A dead replica's
/// claimed timers are taken over by others when it runs out.
fn lease() -> chrono::Duration {
    let secs = std::env::var("SMMFLOW_TIMER_LEASE_SECONDS").ok().and_then(|s| s.parse::<i64>().ok()).filter(|s| *s > 0);
    chrono::Duration::seconds(secs.unwrap_or(DEFAULT_LEASE_SECONDS))
}
const BATCH: u64 = 200;

impl Runtime {
    /// Fires every timer due now; returns how many fired.
    pub async fn fire_due_timers(&self) -> Result<usize> {
        let mut fired = 0;
        loop {
            let now = self.now();
            let due = self.store.claim_due_timers(now, &self.node, lease(), BATCH).await?;
            if due.is_empty() {
                self.metrics.timers_fired(fired);
                return Ok(fired);
            }
            for (t, r) in self.execute_timers(&due).await {
                match r {
                    Ok(true) => fired += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(instance = %t.instance, key = %t.key, "timer failed: {e}"),
                }
            }
        }
    }
}

impl Runtime {
    /// Fires timers and schedules in the background until stopped: woken by
    /// other replicas' commits, and polling.
    pub fn spawn_timer_service(self: Arc<Self>, poll: StdDuration) -> Service {
        Service::spawn(
            self,
            crate::health::Part::Timers,
            poll,
            |rt| &rt.wake,
            |rt| async move {
                if let Err(e) = rt.fire_due_timers().await {
                    tracing::warn!("firing timers: {e}");
                }
                if let Err(e) = rt.fire_due_schedules().await {
                    tracing::warn!("firing schedules: {e}");
                }
            },
        )
    }
}

impl Runtime {
    /// Moves a manual clock to `to`, firing every timer and schedule that
    /// comes due on the way, in time order (the clock stops at each); then
    /// wakes the mail service for retries and digests now due. The one
    /// "move the clock" of the product: `advanceClock`, the demo and the
    /// tests all use it. Returns how many timers and schedule fires ran.
    pub async fn advance_clock(&self, clock: &crate::ManualClock, to: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        if to < self.now() {
            return Err(crate::Error::BadInput("time only moves forward".into()));
        }
        let mut fired = 0;
        let mut previous = None;
        for _ in 0..100_000 {
            let timer = self.store.next_timer_due().await?;
            let schedule = self.store.next_schedule_due().await?;
            let Some(next) = [timer, schedule].into_iter().flatten().min().filter(|t| *t <= to) else { break };
            if next > self.now() {
                clock.set(next);
            }
            let n = self.fire_due_timers().await? + self.fire_due_schedules().await?;
            fired += n;
            // Nothing fired and nothing moved: stop rather than spin.
            if n == 0 && previous == Some((timer, schedule)) {
                break;
            }
            previous = Some((timer, schedule));
        }
        clock.set(to);
        fired += self.fire_due_timers().await? + self.fire_due_schedules().await?;
        self.wake_mail();
        Ok(fired)
    }
}
