//! `type: notify`: send e-mail now; done once the messages are queued.

use schemars::JsonSchema;

use crate::decode::{MapReader, Sp};
use crate::diag::Sink;
use crate::expr::Template;
use crate::notify::{Message, decode_message, message_keys, message_of};
use crate::recipient::{self, Recipient};

/// An e-mail step.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyStep {
    /// Who gets the message.
    #[schemars(with = "crate::schema::OneOrMany<Recipient>")]
    pub to: Vec<Sp<Recipient>>,
    /// A template name in `workflows/templates/` (instead of `subject` + `body`).
    #[serde(default)]
    pub template: Option<Sp<String>>,
    /// An inline subject template (with `body`).
    #[serde(default)]
    pub subject: Option<Template>,
    /// An inline body template (with `subject`).
    #[serde(default)]
    pub body: Option<Template>,
}

pub const KEYS: &[&str] = &["to", "template", "subject", "body"];

impl NotifyStep {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<NotifyStep> {
        let to = r.required("to", sink).map(|n| recipient::decode_list(n, sink));
        let (template, subject, body) = message_keys(decode_message(r, true, sink));
        Some(NotifyStep { to: to?, template, subject, body })
    }

    pub fn message(&self) -> Option<Message> {
        message_of(&self.template, &self.subject, &self.body)
    }
}
