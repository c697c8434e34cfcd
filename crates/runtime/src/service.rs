//! A background loop: one pass of work, then sleep until the poll interval
//! passes, a wake-up arrives, or the loop is stopped. Timers and the mail
//! outbox each run in one. A pass that panics is contained (`health.rs`):
//! the part is reported failing and the loop goes on after a pause.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::Runtime;
use crate::health::Part;

pub struct Service {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Runs `pass` until stopped; `wake` picks the runtime's wake-up for it.
    pub(crate) fn spawn<F, Fut>(
        rt: Arc<Runtime>,
        part: Part,
        poll: Duration,
        wake: fn(&Runtime) -> &tokio::sync::Notify,
        mut pass: F,
    ) -> Service
    where
        F: FnMut(Arc<Runtime>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(async move {
            loop {
                rt.health.pass(part, pass(rt.clone())).await;
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = wake(&rt).notified() => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        Service { stop, handle }
    }

    /// Stops the loop after its current pass.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}
