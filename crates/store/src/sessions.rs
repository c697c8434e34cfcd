//! Console sessions: a sign-in link is redeemed once (its nonce recorded in
//! the idempotency table) and becomes a session, stored like an API token
//! (by its hash) with `kind = 'session'` and an expiry.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr};

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{PaginatorTrait, QuerySelect};

use crate::entity::{api_token, idempotency, outbox, user};
use crate::{Result, Store, User, db_time};

/// The idempotency scope of used sign-in links.
const SIGN_IN: &str = "sign-in";

impl Store {
    /// Redeems a sign-in link's `nonce` and stores a session for `login`
    /// under `token_hash`, in one transaction. False when the nonce was used.
    pub async fn start_session(
        &self,
        nonce: &str,
        token_hash: &str,
        login: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool> {
        let tx = self.begin().await?;
        let used = idempotency::ActiveModel {
            scope: Set(SIGN_IN.into()),
            key: Set(nonce.into()),
            result: Set(login.into()),
            created_at: Set(db_time(now)),
        }
        .insert(tx.conn())
        .await;
        match used {
            Ok(_) => {}
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        api_token::ActiveModel {
            token_hash: Set(token_hash.into()),
            user_login: Set(login.into()),
            name: Set("console session".into()),
            created_at: Set(db_time(now)),
            id: Set(Some(uuid::Uuid::new_v4().simple().to_string())),
            kind: Set("session".into()),
            expires_at: Set(Some(db_time(expires))),
        }
        .insert(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The user with this e-mail address (compared without case).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let login: Option<String> = user::Entity::find()
            .select_only()
            .column(user::Column::Login)
            .filter(ExprTrait::eq(Func::lower(Expr::col(user::Column::Email)), email.to_lowercase()))
            .into_tuple()
            .one(self.conn())
            .await?;
        match login {
            Some(l) => self.user(&l).await,
            None => Ok(None),
        }
    }

    /// How many messages whose key starts with `prefix` were queued since `since`.
    pub async fn queued_since(&self, prefix: &str, since: DateTime<Utc>) -> Result<u64> {
        // `_` stays a one-character wildcard (no portable escape): it can only count more.
        let pattern = format!("{}%", prefix.replace('%', ""));
        Ok(outbox::Entity::find()
            .filter(outbox::Column::IdempotencyKey.like(pattern))
            .filter(outbox::Column::CreatedAt.gte(db_time(since)))
            .count(self.conn())
            .await?)
    }

    /// Ends a session (only sessions: an API token is revoked by its id).
    pub async fn end_session(&self, token_hash: &str) -> Result<bool> {
        let r = api_token::Entity::delete_many()
            .filter(api_token::Column::TokenHash.eq(token_hash))
            .filter(api_token::Column::Kind.eq("session"))
            .exec(self.conn())
            .await?;
        Ok(r.rows_affected > 0)
    }
}
