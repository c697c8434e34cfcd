//! The directory as people change it: workspaces, users, memberships and
//! API tokens. Every value is checked here, where it enters, so the API and
//! the CLI refuse the same things with the same messages (a field error
//! names the input field). Who may call what is the caller's business.
//!
//! A change of someone's access (a membership added or removed, a token
//! revoked, a user changed) is announced (`Runtime::directory_changed`):
//! open subscriptions re-read their viewer's memberships before they
//! deliver anything else, and remembered sign-ins (`remembered.rs`) are read
//! again.

use smmflow_spec::decode::{is_ident, is_key};
use smmflow_spec::field::is_email;
use smmflow_spec::text;
use smmflow_store::{Member, Token, User, UserChange};

use crate::{Error, Result, Runtime};

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub login: String,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
}

fn field(field: &str, message: impl Into<String>) -> Error {
    Error::Field { field: field.to_string(), message: message.into() }
}

/// `^[a-z0-9][a-z0-9._-]{1,63}$`: logins.
pub fn is_login(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn check_login(login: &str) -> Result<()> {
    if !is_login(login) {
        return Err(field("login", "a login is 2-64 lower case letters, digits, dots, dashes or underscores"));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<()> {
    if !is_email(email) {
        return Err(field("email", format!("`{}` is not an e-mail address", email.escape_debug())));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    text::name(name).map_err(|m| field("name", format!("a name {m}")))
}

impl Runtime {
    pub(crate) async fn create_workspace(&self, key: &str, name: &str) -> Result<()> {
        if !is_key(key) {
            return Err(field(
                "key",
                "a workspace key is lower case letters, digits and dashes, 2-63 long, starting with a letter",
            ));
        }
        check_name(name)?;
        let new = crate::clients::NewWorkspace { key: key.into(), name: name.into(), ..Default::default() };
        self.create_client(new, "operator").await.map(|_| ())
    }

    pub(crate) async fn create_user(&self, u: NewUser) -> Result<User> {
        check_login(&u.login)?;
        check_email(&u.email)?;
        if let Some(n) = &u.name {
            check_name(n)?;
        }
        let user = User {
            login: u.login,
            email: u.email,
            name: u.name,
            is_admin: u.is_admin,
            notification_mode: "immediate".into(),
            can_deploy_workflows: false,
        };
        self.store.create_user(&user, self.now()).await.map_err(|e| conflict_on("login", e))?;
        Ok(user)
    }

    /// Changes a user's name, e-mail or deploy permission.
    pub(crate) async fn update_user(&self, login: &str, change: UserChange) -> Result<User> {
        if let Some(e) = &change.email {
            check_email(e)?;
        }
        if let Some(n) = &change.name {
            check_name(n)?;
        }
        let user = self
            .store
            .update_user(login, &change)
            .await
            .map_err(|e| conflict_on("email", e))?
            .ok_or_else(|| Error::NotFound(format!("user `{login}`")))?;
        // Any change (not only a narrowing): remembered sign-ins read it again.
        self.directory_changed().await;
        Ok(user)
    }

    pub(crate) async fn add_member(&self, workspace: &str, user: &str, role: &str) -> Result<Member> {
        if !is_ident(role) {
            return Err(field(
                "role",
                "a role name is lower case letters, digits and underscores, starting with a letter (at most 64)",
            ));
        }
        if !self.store.workspace_exists(workspace).await? {
            return Err(field("workspace", format!("workspace `{workspace}` not found")));
        }
        if self.store.user(user).await?.is_none() {
            return Err(Error::NotFound(format!("user `{user}`")));
        }
        self.store.add_member(workspace, user, role, self.now()).await?;
        self.directory_changed().await;
        Ok(Member { workspace: workspace.into(), user: user.into(), role: role.into() })
    }

    /// Removes one role of a user in a workspace; false when they did not have it.
    pub(crate) async fn remove_member(&self, workspace: &str, user: &str, role: &str) -> Result<bool> {
        let removed = self.store.remove_member(workspace, user, role).await?;
        if removed {
            self.directory_changed().await;
        }
        Ok(removed)
    }

    /// A new API token for `user`: the secret (shown once) and its record.
    pub(crate) async fn create_token(&self, user: &str, name: &str) -> Result<(String, Token)> {
        text::name(name).map_err(|m| field("name", format!("a token name {m}")))?;
        if self.store.user(user).await?.is_none() {
            return Err(Error::NotFound(format!("user `{user}`")));
        }
        let secret = new_token();
        let now = self.now();
        let id = self.store.add_token(&hash_token(&secret), user, name, now).await?;
        Ok((secret, Token { id, user: user.into(), name: name.into(), created_at: now }))
    }

    pub(crate) async fn tokens(&self, user: &str) -> Result<Vec<Token>> {
        Ok(self.store.tokens(user).await?)
    }

    pub(crate) async fn token(&self, id: &str) -> Result<Option<Token>> {
        Ok(self.store.token(id).await?)
    }

    /// Revokes a token: requests that present it are no longer signed in,
    /// and subscriptions opened with it end.
    pub(crate) async fn revoke_token(&self, id: &str) -> Result<bool> {
        let revoked = self.store.revoke_token(id).await?;
        if revoked {
            self.directory_changed().await;
        }
        Ok(revoked)
    }
}

impl Runtime {
    /// On an empty database: the first admin (`admin`) and a token for it
    /// (the secret, to show once). None when there are users already.
    pub async fn bootstrap_admin(&self) -> Result<Option<String>> {
        if self.store.user_count().await? > 0 {
            return Ok(None);
        }
        // Written as is: `admin@localhost` is not an address a person could
        // be given (no dot in the domain), and that is the point.
        let admin = User {
            login: "admin".into(),
            email: "admin@localhost".into(),
            name: Some("Administrator".into()),
            is_admin: true,
            notification_mode: "immediate".into(),
            can_deploy_workflows: false,
        };
        self.store.create_user(&admin, self.now()).await?;
        Ok(Some(self.create_token("admin", "first start").await?.0))
    }

    /// Whether the database answers and is migrated (`/readyz`).
    pub async fn ready(&self) -> bool {
        self.store.ready().await
    }

    /// A workspace's name, for pages that show it (the approval page).
    pub async fn workspace_name(&self, key: &str) -> Result<Option<String>> {
        Ok(self.store.workspaces().await?.into_iter().find(|(k, _)| k == key).map(|(_, n)| n))
    }
}

fn conflict_on(name: &str, e: smmflow_store::Error) -> Error {
    match e {
        smmflow_store::Error::AlreadyExists(m) => {
            Error::FieldConflict { field: name.to_string(), message: format!("{m} exists already") }
        }
        other => other.into(),
    }
}

/// The stored form of a token: its SHA-256 (the token itself is never stored).
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new secret API token (shown once, stored as a hash).
pub fn new_token() -> String {
    format!("smf_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_plain() {
        assert!(is_login("anna"));
        assert!(is_login("anna.k_2"));
        assert!(!is_login("Anna"));
        assert!(!is_login("a"));
        assert!(!is_login("anna\r\n"));
        assert!(!is_login(&"a".repeat(65)));
    }
}
