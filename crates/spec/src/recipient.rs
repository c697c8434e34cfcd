//! Recipients of notifications and targets of reassignment.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::decode::{self, Sp, is_ident};
use crate::diag::{Code, Sink};
use crate::expr::Template;
use crate::field::is_email;
use crate::yaml::Node;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// Whoever holds the task.
    Assignee,
    /// Whoever started the instance.
    Starter,
    /// Everyone who may take the task (its role's members, or its assignee).
    Candidates,
    /// Members of a role in the instance's workspace.
    Role(String),
    /// A user by login.
    User(String),
    /// An address, with or without an account.
    Email(String),
    /// A template yielding any of the above.
    Template(Template),
}

impl Recipient {
    /// The role a `role:NAME` recipient names.
    pub fn role(&self) -> Option<&str> {
        match self {
            Recipient::Role(r) => Some(r),
            _ => None,
        }
    }

    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Sp<Recipient>> {
        let text = decode::string(node, sink)?;
        let text = text.trim();
        let bad = |sink: &mut Sink, msg: String| {
            sink.push_hint(
                Code::InvalidRecipient,
                node.pos,
                msg,
                Some("write assignee, starter, candidates, role:NAME, user:LOGIN, email:ADDRESS, or a {{ template }}"),
            );
            None
        };
        let r = match text {
            "assignee" => Recipient::Assignee,
            "starter" => Recipient::Starter,
            "candidates" => Recipient::Candidates,
            t if t.contains("{{") => Recipient::Template(Template::new(t, node.pos)),
            t => match t.split_once(':') {
                Some(("role", r)) if is_ident(r.trim()) => Recipient::Role(r.trim().to_string()),
                Some(("user", u)) if !u.trim().is_empty() && !u.contains(char::is_whitespace) => {
                    Recipient::User(u.trim().to_string())
                }
                Some(("email", e)) if is_email(e.trim()) => Recipient::Email(e.trim().to_string()),
                Some(("role" | "user" | "email", _)) => return bad(sink, format!("`{t}` is not a valid recipient")),
                _ => return bad(sink, format!("unknown recipient `{t}`")),
            },
        };
        Some(Sp::new(r, node.pos))
    }
}

impl JsonSchema for Recipient {
    fn schema_name() -> Cow<'static, str> {
        "Recipient".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "`assignee`, `starter`, `candidates`, `role:NAME`, `user:LOGIN`, `email:ADDRESS`, or a template yielding one of these.",
            "pattern": "^(assignee|starter|candidates|role:[a-z][a-z0-9_]*|user:\\S+|email:\\S+@\\S+|.*\\{\\{.*\\}\\}.*)$"
        })
    }
}

/// Decodes a list of recipients (a single one is accepted as a list of one).
pub fn decode_list(node: &Node, sink: &mut Sink) -> Vec<Sp<Recipient>> {
    decode::list_or_one(node).iter().filter_map(|n| Recipient::decode(n, sink)).collect()
}
