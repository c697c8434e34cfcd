//! `Mode::Alone`: a request in a transaction of its own, retried on fresh
//! state when another transaction changed one of its instances first (the
//! version check on save). On PostgreSQL transactions run in parallel, each
//! holding its instances' row locks.

use std::collections::HashMap;

use smmflow_engine::Instance;
use uuid::Uuid;

use super::{Buffer, Mode, Request};
use crate::{Error, Result, Runtime};

/// Attempts of a request before its conflict is the caller's.
const ATTEMPTS: usize = 5;

impl Runtime {
    /// One request in a transaction of its own, retried on version conflicts.
    pub(crate) async fn run_alone(&self, req: &Request) -> Result<Option<HashMap<Uuid, Instance>>> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let tx = self.store.begin().await?;
            if let Some(t) = &req.timer
                && !tx.take_timer(t.instance, &t.key, t.due_at).await?
            {
                return Ok(None);
            }
            let done = match self.decide_request(&tx, req, &Buffer::default(), Mode::Alone).await {
                Ok(None) => return Ok(None),
                Ok(Some(buf)) => match buf.flush(&tx, self.now(), &self.node).await {
                    Ok(announcements) => match self.announce(&tx, &announcements).await {
                        Ok(()) => tx.commit().await.map(|()| buf).map_err(Error::from),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match done {
                Ok(buf) => return Ok(Some(self.after_commit(buf.staged))),
                Err(Error::Store(smmflow_store::Error::Conflict(m))) => last = Some(Error::Conflict(m)),
                Err(e) => return Err(e),
            }
            tracing::debug!(attempt, "retrying after a conflict");
            tokio::time::sleep(std::time::Duration::from_millis(2 << attempt)).await;
        }
        Err(last.unwrap_or_else(|| Error::Conflict("gave up after repeated conflicts".into())))
    }
}
