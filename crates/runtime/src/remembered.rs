//! What the API asks on every request and rarely changes, remembered in
//! this process.
//!
//! Signed-in viewers, remembered for a moment: every API request presents a
//! token, and reading its user and memberships is two queries per request.
//! A viewer read from the database is kept for [`TTL`] under its token's
//! hash, and forgotten at once when access changes (a token revoked, a
//! membership added or removed, a user changed): each entry carries the
//! directory version it was read at (`Runtime::directory`, moved by this
//! process's changes and by other replicas' announcements), and an entry of
//! an older version is not used. A change made by another process without
//! announcing it (the command line on SQLite) is seen within the TTL.
//! Unknown tokens are never remembered, so guessing fills nothing.
//!
//! The workspace of an instance (which never changes): a command on a task
//! checks the caller's membership there before anything else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::access::Viewer;

/// How long a viewer read from the database is used without reading again.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// The most viewers remembered (expired ones are dropped first when full).
const CAPACITY: usize = 4096;

struct Entry {
    read_at: Instant,
    version: u64,
    viewer: Viewer,
}

#[derive(Default)]
pub(crate) struct SignIns {
    entries: Mutex<HashMap<String, Entry>>,
}

impl SignIns {
    /// The viewer of a token hash, if read at `version` less than [`TTL`] ago.
    pub(crate) fn get(&self, token_hash: &str, version: u64) -> Option<Viewer> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(token_hash)?;
        (e.version == version && e.read_at.elapsed() < TTL).then(|| e.viewer.clone())
    }

    /// Remembers a viewer read at directory `version`.
    pub(crate) fn put(&self, token_hash: String, version: u64, viewer: Viewer) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.version == version && e.read_at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token_hash, Entry { read_at: Instant::now(), version, viewer });
    }
}

/// The most instance workspaces remembered (a full map starts again empty).
const HOMES: usize = 65_536;

/// Instance id to its workspace.
#[derive(Default)]
pub(crate) struct Homes(Mutex<HashMap<uuid::Uuid, String>>);

impl Homes {
    pub(crate) fn get(&self, id: uuid::Uuid) -> Option<String> {
        self.0.lock().ok()?.get(&id).cloned()
    }

    pub(crate) fn put(&self, id: uuid::Uuid, workspace: &str) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= HOMES {
            map.clear();
        }
        map.insert(id, workspace.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smmflow_store::User;

    fn viewer(login: &str) -> Viewer {
        let user = User {
            login: login.into(),
            email: format!("{login}@example.com"),
            name: None,
            is_admin: false,
            notification_mode: "immediate".into(),
            can_deploy_workflows: false,
        };
        Viewer { user, memberships: Vec::new(), token_hash: Some("h".into()) }
    }

    #[test]
    fn a_viewer_is_used_only_at_the_version_it_was_read_at() {
        let s = SignIns::default();
        s.put("h1".into(), 7, viewer("wanda"));
        assert_eq!(s.get("h1", 7).map(|v| v.user.login), Some("wanda".to_string()));
        assert!(s.get("h1", 8).is_none(), "access changed since: read again");
        assert!(s.get("h2", 7).is_none());
    }

    #[test]
    fn a_full_cache_makes_room() {
        let s = SignIns::default();
        for n in 0..CAPACITY + 10 {
            s.put(format!("h{n}"), 1, viewer("x"));
        }
        let len = s.entries.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert!(len <= CAPACITY, "{len}");
        assert!(s.get(&format!("h{}", CAPACITY + 9), 1).is_some(), "the newest is kept");
    }
}
