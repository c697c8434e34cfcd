//! The engine's view of a workspace's people, read in the command's transaction.

use std::collections::HashMap;

use smmflow_engine::Directory;
use smmflow_store::Tx;

use crate::Result;

#[derive(Default)]
pub(crate) struct People {
    roles: HashMap<String, Vec<String>>,
    open: HashMap<String, usize>,
    last: HashMap<String, String>,
}

impl People {
    /// Loads the workspace's members; task counts only when the workflow assigns by load.
    pub(crate) async fn load(tx: &Tx, workspace: &str, needs_load: bool, roles: &[String]) -> Result<People> {
        let mut p = People::default();
        for m in tx.members(workspace).await? {
            p.roles.entry(m.role).or_default().push(m.user);
        }
        for users in p.roles.values_mut() {
            users.sort();
        }
        if needs_load {
            for (user, n) in tx.open_task_counts(workspace).await? {
                p.open.insert(user, n.max(0) as usize);
            }
            for role in roles {
                if let Some(u) = tx.last_assigned(workspace, role).await? {
                    p.last.insert(role.clone(), u);
                }
            }
        }
        Ok(p)
    }
}

impl Directory for People {
    fn members(&self, role: &str) -> Vec<String> {
        self.roles.get(role).cloned().unwrap_or_default()
    }

    fn open_tasks(&self, user: &str) -> usize {
        self.open.get(user).copied().unwrap_or(0)
    }

    fn last_assigned(&self, role: &str) -> Option<String> {
        self.last.get(role).cloned()
    }
}
