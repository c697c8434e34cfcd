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
            for (t, r) in self.run_timers(&due).await {
                match r {
                    Ok(true) => fired += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(instance = %t.instance, key = %t.key, "timer failed: {e}"),
                }
            }
        }
    }
}

/// Instances whose timers fire at once on PostgreSQL (of 16 connections).
const TIMER_PARALLELISM: usize = 8;

impl Runtime {
    /// Fires claimed timers, each a request that also takes its timer:
    /// grouped, queued together in their order, so they share commits;
    /// alone, several instances at once, each instance's timers in their
    /// order. `Ok(false)`: the timer was taken or moved meanwhile.
    async fn run_timers<'a>(
        &self,
        timers: &'a [smmflow_store::DueTimer],
    ) -> Vec<(&'a smmflow_store::DueTimer, Result<bool>)> {
        use futures_util::StreamExt;
        if let Some(c) = &self.committer {
            let queued: Vec<_> =
                timers.iter().map(|t| (t, crate::exec::Request::timer(t).and_then(|r| c.enqueue(r)))).collect();
            let mut out = Vec::with_capacity(queued.len());
            for (t, q) in queued {
                let r = match q {
                    Ok(rx) => crate::exec::Committer::answer(rx).await.map(|r| r.is_some()),
                    Err(e) => Err(e),
                };
                out.push((t, r));
            }
            return out;
        }
        // By index, not by reference: a closure over borrowed timers would
        // not be general enough for the stream's higher-ranked bound.
        let mut by_instance: Vec<Vec<usize>> = Vec::new();
        let mut slot: std::collections::HashMap<uuid::Uuid, usize> = std::collections::HashMap::new();
        for (i, t) in timers.iter().enumerate() {
            let s = *slot.entry(t.instance).or_insert_with(|| {
                by_instance.push(Vec::new());
                by_instance.len() - 1
            });
            if let Some(list) = by_instance.get_mut(s) {
                list.push(i);
            }
        }
        let runs = futures_util::stream::iter(by_instance)
            .map(|idx: Vec<usize>| async move {
                let mut out = Vec::with_capacity(idx.len());
                for t in idx.into_iter().filter_map(|i| timers.get(i)) {
                    let r = match crate::exec::Request::timer(t) {
                        Ok(req) => self.run_alone(&req).await.map(|r| r.is_some()),
                        Err(e) => Err(e),
                    };
                    out.push((t, r));
                }
                out
            })
            .buffer_unordered(TIMER_PARALLELISM)
            .collect::<Vec<_>>()
            .await;
        runs.into_iter().flatten().collect()
    }

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
    pub(crate) async fn advance_clock(
        &self,
        clock: &crate::ManualClock,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        if to < self.now() {
            return Err(crate::Error::BadInput("time only moves forward".into()));
        }
        let mut fired = 0;
        let mut previous = None;
        let mut stuck = 0;
        for _ in 0..100_000 {
            let timer = self.store.next_timer_due().await?;
            let schedule = self.store.next_schedule_due().await?;
            let Some(next) = [timer, schedule].into_iter().flatten().min().filter(|t| *t <= to) else { break };
            if next > self.now() {
                clock.set(next);
            }
            let n = self.fire_due_timers().await? + self.fire_due_schedules().await?;
            fired += n;
            if n == 0 && previous == Some((timer, schedule)) {
                // Nothing fired and nothing moved: the background services
                // (or another replica) may hold it right now; give them a
                // moment, then stop rather than spin.
                stuck += 1;
                if stuck > 100 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            } else {
                stuck = 0;
            }
            previous = Some((timer, schedule));
        }
        clock.set(to);
        fired += self.fire_due_timers().await? + self.fire_due_schedules().await?;
        self.wake_mail();
        Ok(fired)
    }
}
