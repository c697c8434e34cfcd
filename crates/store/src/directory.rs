//! People: workspaces, users, memberships and API tokens.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};

use crate::entity::{api_token, membership, user, workspace};
use crate::{Error, Result, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub login: String,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub notification_mode: String,
    /// May deploy workflows (the organization's processes); admins always may.
    pub can_deploy_workflows: bool,
}

/// An API token as its owner sees it (never the secret, never its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub can_deploy_workflows: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub workspace: String,
    pub user: String,
    pub role: String,
}

pub(crate) fn unique(e: sea_orm::DbErr, what: String) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::AlreadyExists(what),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => Error::NotFound(what),
        _ => Error::Db(e),
    }
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        User {
            login: m.login,
            email: m.email,
            name: m.name,
            is_admin: m.is_admin,
            notification_mode: m.notification_mode,
            can_deploy_workflows: m.can_deploy_workflows,
        }
    }
}

impl Store {
    pub async fn create_workspace(&self, key: &str, name: &str, now: DateTime<Utc>) -> Result<()> {
        let row = crate::WorkspaceRow::new(key, name, now);
        let tx = self.begin().await?;
        tx.insert_workspace(&row, "system").await?;
        tx.commit().await
    }

    /// Workspaces by key, with names.
    pub async fn workspaces(&self) -> Result<Vec<(String, String)>> {
        let rows = workspace::Entity::find().order_by_asc(workspace::Column::Key).all(self.conn()).await?;
        Ok(rows.into_iter().map(|w| (w.key, w.name)).collect())
    }

    /// Whether a workspace exists. Workspaces are never deleted (`data
    /// copy` clears only a fresh target store, before it is used), so a
    /// workspace once found is remembered (every start asks).
    pub async fn workspace_exists(&self, key: &str) -> Result<bool> {
        if self.known_workspaces.read().is_ok_and(|k| k.contains(key)) {
            return Ok(true);
        }
        let found = workspace::Entity::find_by_id(key.to_string()).one(self.conn()).await?.is_some();
        if found && let Ok(mut k) = self.known_workspaces.write() {
            k.insert(key.to_string());
        }
        Ok(found)
    }

    pub async fn create_user(&self, u: &User, now: DateTime<Utc>) -> Result<()> {
        user::ActiveModel {
            login: Set(u.login.clone()),
            email: Set(u.email.clone()),
            name: Set(u.name.clone()),
            is_admin: Set(u.is_admin),
            notification_mode: Set(u.notification_mode.clone()),
            created_at: Set(now),
            can_deploy_workflows: Set(u.can_deploy_workflows),
        }
        .insert(self.conn())
        .await
        .map_err(|e| unique(e, format!("user `{}` or e-mail `{}`", u.login, u.email)))?;
        Ok(())
    }

    /// Applies `change` to a user; the user as it is now, or None when there is no such user.
    pub async fn update_user(&self, login: &str, change: &UserChange) -> Result<Option<User>> {
        let Some(row) = user::Entity::find_by_id(login.to_string()).one(self.conn()).await? else {
            return Ok(None);
        };
        let mut active: user::ActiveModel = row.into();
        if let Some(n) = &change.name {
            active.name = Set(Some(n.clone()));
        }
        if let Some(e) = &change.email {
            active.email = Set(e.clone());
        }
        if let Some(d) = change.can_deploy_workflows {
            active.can_deploy_workflows = Set(d);
        }
        let row = active
            .update(self.conn())
            .await
            .map_err(|e| unique(e, format!("e-mail `{}`", change.email.as_deref().unwrap_or_default())))?;
        Ok(Some(User::from(row)))
    }

    pub async fn set_notification_mode(&self, login: &str, mode: &str) -> Result<()> {
        user::Entity::update_many()
            .col_expr(user::Column::NotificationMode, sea_orm::sea_query::Expr::value(mode))
            .filter(user::Column::Login.eq(login))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Several users at once (missing logins are left out).
    pub async fn users(&self, logins: &[String]) -> Result<Vec<User>> {
        let rows = user::Entity::find().filter(user::Column::Login.is_in(logins.to_vec())).all(self.conn()).await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    pub async fn user(&self, login: &str) -> Result<Option<User>> {
        Ok(user::Entity::find_by_id(login.to_string()).one(self.conn()).await?.map(User::from))
    }

    pub async fn user_count(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(user::Entity::find().count(self.conn()).await?)
    }

    /// Adds a membership (in a write transaction: on SQLite through the
    /// writer lane, so a group decided ahead of it is decided again).
    pub async fn add_member(&self, workspace: &str, login: &str, role: &str, now: DateTime<Utc>) -> Result<()> {
        let tx = self.begin().await?;
        let r = membership::ActiveModel {
            workspace: Set(workspace.into()),
            user_login: Set(login.into()),
            role: Set(role.into()),
            created_at: Set(now),
        }
        .insert(tx.conn())
        .await;
        match r {
            Ok(_) => tx.commit().await,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(()),
            Err(e) => Err(unique(e, format!("workspace `{workspace}` or user `{login}`"))),
        }
    }

    /// Removes a membership (a write transaction, as `add_member`).
    pub async fn remove_member(&self, workspace: &str, login: &str, role: &str) -> Result<bool> {
        let tx = self.begin().await?;
        let r = membership::Entity::delete_many()
            .filter(membership::Column::Workspace.eq(workspace))
            .filter(membership::Column::UserLogin.eq(login))
            .filter(membership::Column::Role.eq(role))
            .exec(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected > 0)
    }

    /// Every membership of a workspace, by user then role.
    pub async fn members(&self, workspace: &str) -> Result<Vec<Member>> {
        members_in(self.conn(), workspace).await
    }

    /// Every membership of a user.
    pub async fn memberships(&self, login: &str) -> Result<Vec<Member>> {
        let rows = membership::Entity::find()
            .filter(membership::Column::UserLogin.eq(login))
            .order_by_asc(membership::Column::Workspace)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(|m| Member { workspace: m.workspace, user: m.user_login, role: m.role }).collect())
    }

    /// Stores a token by its hash (the token itself is never stored); returns its public id.
    pub async fn add_token(&self, token_hash: &str, login: &str, name: &str, now: DateTime<Utc>) -> Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        api_token::ActiveModel {
            token_hash: Set(token_hash.into()),
            user_login: Set(login.into()),
            name: Set(name.into()),
            created_at: Set(now),
            id: Set(Some(id.clone())),
            kind: Set("api".into()),
            expires_at: Set(None),
        }
        .insert(self.conn())
        .await
        .map_err(|e| unique(e, format!("user `{login}`")))?;
        Ok(id)
    }

    /// A user's API tokens, oldest first (console sessions are not listed).
    pub async fn tokens(&self, login: &str) -> Result<Vec<Token>> {
        let rows = api_token::Entity::find()
            .filter(api_token::Column::UserLogin.eq(login))
            .filter(api_token::Column::Kind.eq("api"))
            .order_by_asc(api_token::Column::CreatedAt)
            .all(self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|t| Token { id: t.id.unwrap_or_default(), user: t.user_login, name: t.name, created_at: t.created_at })
            .collect())
    }

    /// A token by its public id.
    pub async fn token(&self, id: &str) -> Result<Option<Token>> {
        let row = api_token::Entity::find().filter(api_token::Column::Id.eq(id)).one(self.conn()).await?;
        Ok(row.map(|t| Token {
            id: t.id.unwrap_or_default(),
            user: t.user_login,
            name: t.name,
            created_at: t.created_at,
        }))
    }

    /// Deletes a token by its public id; false when there was none.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let r = api_token::Entity::delete_many().filter(api_token::Column::Id.eq(id)).exec(self.conn()).await?;
        Ok(r.rows_affected > 0)
    }

    /// The user a token (or a session unexpired at `now`) belongs to.
    pub async fn user_by_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>> {
        let Some(t) = api_token::Entity::find_by_id(token_hash.to_string()).one(self.conn()).await? else {
            return Ok(None);
        };
        if t.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        self.user(&t.user_login).await
    }
}

pub(crate) async fn members_in<C: sea_orm::ConnectionTrait>(c: &C, workspace: &str) -> Result<Vec<Member>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::Workspace.eq(workspace))
        .order_by_asc(membership::Column::UserLogin)
        .order_by_asc(membership::Column::Role)
        .all(c)
        .await?;
    Ok(rows.into_iter().map(|m| Member { workspace: m.workspace, user: m.user_login, role: m.role }).collect())
}

impl crate::Tx {
    /// Every membership of a workspace, read in this transaction.
    pub async fn members(&self, workspace: &str) -> Result<Vec<Member>> {
        members_in(self.conn(), workspace).await
    }
}
