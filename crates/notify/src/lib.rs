//! smmflow-notify: who hears about what, what the message says, and how it
//! is delivered.
//!
//! - [`compose`]: a notice (what happened in an instance) becomes planned
//!   messages: the workflow's rules, or the defaults when no rule matches;
//!   recipients resolved against the workspace's roster.
//! - [`render`]: deployed `templates/NAME.*.j2`, else the built-in ones.
//! - [`digest`]: hourly and daily summaries.
//! - [`link`]: signed, expiring approval links for external stakeholders.
//! - [`mail`]: the message format and the SMTP (lettre) or `.eml` transport.
//!
//! Pure except [`mail::Transport::send`]; the runtime owns the outbox.

pub mod compose;
pub mod digest;
pub mod link;
pub mod mail;
pub mod render;

pub use compose::{Ctx, Planned, Roster, Source, Target, plan};

/// Why a message cannot be planned or made (the outbox records it as dead,
/// with this text), or why the mail set-up is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A template failed to render, rendered too much, or does not exist.
    #[error("{0}")]
    Template(String),
    /// A recipient's template did not evaluate.
    #[error("{0}")]
    Recipient(String),
    /// The SMTP URL or its TLS set-up.
    #[error("{0}")]
    Setup(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
pub use digest::Mode;
pub use lettre::message::Mailbox;
pub use mail::{Mail, SendError, Transport};
pub use render::{Parts, Rendered, Templates};
