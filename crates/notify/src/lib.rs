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
pub use digest::Mode;
pub use lettre::message::Mailbox;
pub use mail::{Mail, SendError, Transport};
pub use render::{Parts, Rendered, Templates};
