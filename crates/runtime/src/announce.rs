//! What one replica tells the others (PostgreSQL `NOTIFY`, sent inside the
//! transaction it is about, so it is delivered only if that commits): a
//! commit's events, so their subscribers see them and their timer and mail
//! services look at once; or a change that narrowed access, so their
//! subscriptions read their viewers again.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::exec::Committed;
use crate::{Result, Runtime};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Announcement {
    /// Events `from..=to` of an instance were committed (with mail queued or not).
    Commit { node: String, instance: Uuid, workspace: String, from: u64, to: u64, mail: bool },
    /// A membership was removed or a token revoked.
    Directory { node: String },
    /// A workflow step changed a workspace's profile (its `workspaces:`
    /// schedules were brought in line in the same transaction).
    Profile { node: String, workspace: String },
}

impl Announcement {
    /// As sent (JSON).
    pub(crate) fn payload(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| crate::Error::Internal(e.to_string()))
    }

    fn node(&self) -> &str {
        match self {
            Announcement::Commit { node, .. }
            | Announcement::Directory { node }
            | Announcement::Profile { node, .. } => node,
        }
    }
}

impl Runtime {
    /// Sends an announcement inside `tx` (nothing on SQLite: one process).
    pub(crate) async fn announce_in(&self, tx: &smmflow_store::Tx, a: &Announcement) -> Result<()> {
        Ok(tx.announce_all(&[a.payload()?]).await?)
    }

    /// On PostgreSQL: relays other replicas' announcements to this process
    /// (their events are read back from the log). Runs until the process ends.
    pub async fn relay_other_replicas(self: Arc<Self>) -> Result<()> {
        let Some(mut listener) = self.store.listen().await? else { return Ok(()) };
        tokio::spawn(async move {
            loop {
                let payload = match listener.recv().await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!("listening for other replicas: {e}");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let a: Announcement = match serde_json::from_str(&payload) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("an announcement this version does not read ({e}): {payload}");
                        continue;
                    }
                };
                if a.node() == self.node {
                    continue;
                }
                match a {
                    Announcement::Directory { .. } => self.directory.send_modify(|v| *v = v.wrapping_add(1)),
                    // A schedule may be due sooner now: look at once.
                    Announcement::Profile { .. } => self.wake.notify_one(),
                    Announcement::Commit { instance, workspace, from, to, mail, .. } => {
                        // Another replica's commit may have set a timer due now, or queued mail: look at once.
                        self.wake.notify_one();
                        if mail {
                            self.mail_wake.notify_one();
                        }
                        match self.store.events_between(instance, from, to).await {
                            Ok(events) if !events.is_empty() => {
                                let _ = self.events.send(Committed { instance, workspace, events });
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("reading another replica's events: {e}"),
                        }
                    }
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back_as_sent() {
        let a = Announcement::Commit {
            node: "a-1".into(),
            instance: Uuid::nil(),
            workspace: "acme".into(),
            from: 3,
            to: 7,
            mail: true,
        };
        let text = serde_json::to_string(&a).unwrap_or_default();
        assert!(text.contains("\"kind\":\"commit\""), "{text}");
        assert_eq!(serde_json::from_str::<Announcement>(&text).ok(), Some(a));
        let d = Announcement::Directory { node: "b-2".into() };
        let text = serde_json::to_string(&d).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Announcement>(&text).ok(), Some(d));
    }
}
