//! Request-scoped DataLoaders, so a list of tasks or instances costs one
//! query for all their users and one for workspace names, not one each.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use smmflow_runtime::User;

use crate::Session;

use crate::error::ApiError;

/// Users by login, as the request's session may read them.
pub struct Users(pub Session);
/// Workspace names, for the workspaces the request's session sees.
pub struct WorkspaceNames(pub Session);

impl Loader<String> for Users {
    type Value = User;
    type Error = Arc<String>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, User>, Self::Error> {
        let users = self.0.users(keys).await.map_err(|e| Arc::new(ApiError::from(e).message()))?;
        Ok(users.into_iter().map(|u| (u.login.clone(), u)).collect())
    }
}

impl Loader<String> for WorkspaceNames {
    type Value = String;
    type Error = Arc<String>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, String>, Self::Error> {
        let all = self.0.workspace_names(keys).await.map_err(|e| Arc::new(ApiError::from(e).message()))?;
        Ok(all.into_iter().collect())
    }
}

/// Fresh loaders for one request, reading as its session.
pub fn for_request(session: &Session) -> (DataLoader<Users>, DataLoader<WorkspaceNames>) {
    (
        DataLoader::new(Users(session.clone()), tokio::spawn),
        DataLoader::new(WorkspaceNames(session.clone()), tokio::spawn),
    )
}
