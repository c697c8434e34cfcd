//! Signing in to the console without a password: a user asks for a link by
//! e-mail address; the link (signed like an approval link, with a key of its
//! own, valid for [`LINK_TTL`], used once) is mailed through the outbox; the
//! console redeems it for a session, a token kept in an HttpOnly cookie and
//! stored like an API token (by its hash) with an expiry. An unknown address
//! gets the same answer as a known one, and an address gets at most
//! [`LINKS_PER_WINDOW`] links per [`WINDOW`] (counted in the outbox, so on
//! every replica).

use chrono::Duration;
use serde_json::json;
use smmflow_notify::{Mail, link};
use smmflow_store::{NewOutbox, OutboxKind, OutboxStatus};
use uuid::Uuid;

use crate::admin::{hash_token, new_token};
use crate::{Error, Result, Runtime};

/// How long a sign-in link works.
pub const LINK_TTL: Duration = Duration::minutes(15);
/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::days(30);
/// Links one address may be sent per window.
pub const LINKS_PER_WINDOW: u64 = 3;
/// The window of that limit.
pub const WINDOW: Duration = Duration::minutes(15);

/// Why a sign-in link does not sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Changed, cut short, or not a sign-in link.
    Invalid,
    Expired,
    Used,
    /// The user no longer exists.
    NoUser,
}

impl LinkRefusal {
    pub fn message(self) -> &'static str {
        match self {
            LinkRefusal::Invalid => "This sign-in link is not valid: it was changed or cut short.",
            LinkRefusal::Expired => "This sign-in link has expired. Ask for a new one.",
            LinkRefusal::Used => "This sign-in link was used already. Ask for a new one.",
            LinkRefusal::NoUser => "This sign-in link's account no longer exists.",
        }
    }
}

impl Runtime {
    /// Sign-in links are signed with a key of their own, derived from the
    /// approval links' key: one kind of link never passes for the other.
    async fn sign_in_secret(&self) -> Result<Vec<u8>> {
        let mut key = self.link_secret().await?.as_ref().clone();
        key.extend_from_slice(b"\0console-sign-in");
        Ok(key)
    }

    /// Mails a sign-in link to the user with this address, if there is one
    /// and the address has not had too many lately. The caller answers the
    /// same whatever happened here.
    pub async fn request_sign_in_link(&self, email: &str, public_url: &str) -> Result<()> {
        let email = email.trim();
        if !smmflow_spec::field::is_email(email) {
            return Err(Error::Field { field: "email".into(), message: "give an e-mail address".into() });
        }
        let Some(user) = self.store.user_by_email(email).await? else {
            tracing::info!("a sign-in link was asked for an address without an account");
            return Ok(());
        };
        let now = self.now();
        let prefix = format!("sign-in:{}:", user.login);
        if self.store.queued_since(&prefix, now - WINDOW).await? >= LINKS_PER_WINDOW {
            tracing::warn!(login = %user.login, "sign-in links asked too often; none sent");
            return Ok(());
        }
        let claims = link::Claims::new(Uuid::nil(), 0, &user.login, now + LINK_TTL);
        let token = link::sign(&self.sign_in_secret().await?, &claims)
            .map_err(|e| Error::Internal(format!("cannot sign a sign-in link: {e}")))?;
        let url = format!("{}/app/sign-in?token={token}", public_url.trim_end_matches('/'));
        let text = format!(
            "Hello{},\n\nOpen this link to sign in to smmflow:\n{url}\n\nIt works once, for {} minutes. If you did not ask for it, ignore this message: nothing happens without the link.\n\nsmmflow\n",
            user.name.as_deref().map(|n| format!(" {n}")).unwrap_or_default(),
            LINK_TTL.num_minutes(),
        );
        let mail = Mail {
            to: user.email.clone(),
            to_name: user.name.clone(),
            login: Some(user.login.clone()),
            event: "sign-in".into(),
            subject: "Your sign-in link for smmflow".into(),
            text,
            html: None,
        };
        let row = NewOutbox {
            key: format!("{prefix}{}", claims.nonce),
            instance: None,
            kind: OutboxKind::Mail,
            recipient: Some(user.email.clone()),
            subject: Some(mail.subject.clone()),
            payload: json!({"mail": mail}),
            status: OutboxStatus::Pending,
            due: now,
            error: None,
        };
        let tx = self.store.begin().await?;
        tx.insert_outbox(&[row], now).await?;
        tx.commit().await?;
        self.wake_mail();
        Ok(())
    }

    /// Redeems a sign-in link: a new session token (to keep in a cookie),
    /// or why not.
    pub async fn redeem_sign_in_link(&self, token: &str) -> Result<std::result::Result<String, LinkRefusal>> {
        let Ok(claims) = link::verify(&self.sign_in_secret().await?, token.trim()) else {
            return Ok(Err(LinkRefusal::Invalid));
        };
        if claims.instance != Uuid::nil() || claims.task != 0 || claims.batch {
            return Ok(Err(LinkRefusal::Invalid));
        }
        let now = self.now();
        if claims.expired(now) {
            return Ok(Err(LinkRefusal::Expired));
        }
        if self.store.user(&claims.recipient).await?.is_none() {
            return Ok(Err(LinkRefusal::NoUser));
        }
        let session = new_token();
        let started = self
            .store
            .start_session(&claims.nonce, &hash_token(&session), &claims.recipient, now, now + SESSION_TTL)
            .await?;
        Ok(if started { Ok(session) } else { Err(LinkRefusal::Used) })
    }

    /// Ends a console session (sign-out): the cookie's token stops working
    /// here and, through the directory announcement, on every replica.
    pub async fn end_session(&self, session: &str) -> Result<()> {
        if self.store.end_session(&hash_token(session.trim())).await? {
            self.directory_changed().await;
        }
        Ok(())
    }
}
