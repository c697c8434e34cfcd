//! Notification rules (`notify:` at the workflow level) and the events they watch.

use schemars::JsonSchema;

use crate::decode::{self, MapReader, Sp, is_ident};
use crate::diag::{Code, Pos, Sink};
use crate::expr::Template;
use crate::recipient::{self, Recipient};
use crate::yaml::Node;

/// The events a rule can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema, serde::Serialize, serde::Deserialize)]
pub enum Event {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.assigned")]
    TaskAssigned,
    #[serde(rename = "task.due_soon")]
    TaskDueSoon,
    #[serde(rename = "task.overdue")]
    TaskOverdue,
    #[serde(rename = "task.rejected")]
    TaskRejected,
    /// An approval nobody decided before its `expires` time (rules only: no default recipients).
    #[serde(rename = "task.expired")]
    TaskExpired,
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    /// Needs `step:`.
    #[serde(rename = "step.completed")]
    StepCompleted,
    #[serde(rename = "instance.started")]
    InstanceStarted,
    #[serde(rename = "instance.completed")]
    InstanceCompleted,
    #[serde(rename = "instance.cancelled")]
    InstanceCancelled,
    #[serde(rename = "instance.failed")]
    InstanceFailed,
}

pub const EVENT_NAMES: &[&str] = &[
    "task.created",
    "task.assigned",
    "task.due_soon",
    "task.overdue",
    "task.rejected",
    "task.expired",
    "approval.requested",
    "step.completed",
    "instance.started",
    "instance.completed",
    "instance.cancelled",
    "instance.failed",
];

impl Event {
    pub const ALL: [Event; 12] = [
        Event::TaskCreated,
        Event::TaskAssigned,
        Event::TaskDueSoon,
        Event::TaskOverdue,
        Event::TaskRejected,
        Event::TaskExpired,
        Event::ApprovalRequested,
        Event::StepCompleted,
        Event::InstanceStarted,
        Event::InstanceCompleted,
        Event::InstanceCancelled,
        Event::InstanceFailed,
    ];

    pub fn name(self) -> &'static str {
        EVENT_NAMES[Event::ALL.iter().position(|e| *e == self).unwrap_or(0)]
    }

    /// Events whose templates see a `task`.
    pub fn has_task(self) -> bool {
        matches!(
            self,
            Event::TaskCreated
                | Event::TaskAssigned
                | Event::TaskDueSoon
                | Event::TaskOverdue
                | Event::TaskRejected
                | Event::TaskExpired
                | Event::ApprovalRequested
        )
    }
}

/// What a message says: a named template, or an inline subject and body.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// `workflows/templates/NAME.subject.j2`, `NAME.txt.j2`, optional `NAME.html.j2`.
    Template(Sp<String>),
    Inline {
        subject: Template,
        body: Template,
    },
}

/// Reads `template` or `subject` + `body` from a rule or a notify step. With
/// `required: false` (rules), neither means "the built-in message of the event".
pub fn decode_message(r: &mut MapReader<'_>, required: bool, sink: &mut Sink) -> Option<Message> {
    let template = r.get("template").and_then(|n| decode::sp_string(n, sink));
    let subject = r.get("subject").and_then(|n| decode::string(n, sink).map(|s| Template::new(&s, n.pos)));
    let body = r.get("body").and_then(|n| decode::string(n, sink).map(|s| Template::new(&s, n.pos)));
    match (template, subject, body) {
        (Some(t), None, None) => {
            if !is_ident(&t.value.replace('-', "_")) {
                sink.push(
                    Code::InvalidName,
                    t.pos,
                    format!("`{}` is not a template name: it must match ^[a-z][a-z0-9_-]*$", t.value),
                );
            }
            Some(Message::Template(t))
        }
        (None, Some(subject), Some(body)) => Some(Message::Inline { subject, body }),
        (Some(t), _, _) => {
            sink.push(Code::ConflictingKeys, t.pos, "use either `template` or `subject` + `body`, not both");
            None
        }
        (None, Some(s), None) => {
            sink.push(Code::MissingKey, s.pos, "an inline message needs `body` next to `subject`");
            None
        }
        (None, None, Some(b)) => {
            sink.push(Code::MissingKey, b.pos, "an inline message needs `subject` next to `body`");
            None
        }
        (None, None, None) => {
            if required {
                sink.push(Code::MissingKey, r.pos, "a message needs `template`, or `subject` and `body`");
            }
            None
        }
    }
}

/// A rule: on these events, tell these recipients.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    /// The event or events that trigger the rule.
    #[schemars(with = "crate::schema::OneOrMany<Event>")]
    pub on: Vec<Sp<Event>>,
    /// Who gets the message.
    #[schemars(with = "crate::schema::OneOrMany<Recipient>")]
    pub to: Vec<Sp<Recipient>>,
    /// With `step.completed`: the step whose completion triggers the rule.
    #[serde(default)]
    pub step: Option<Sp<String>>,
    /// A template name in `workflows/templates/` (instead of `subject` + `body`).
    /// Without a message the event's built-in message is sent.
    #[serde(default)]
    pub template: Option<Sp<String>>,
    /// An inline subject template (with `body`).
    #[serde(default)]
    pub subject: Option<Template>,
    /// An inline body template (with `subject`).
    #[serde(default)]
    pub body: Option<Template>,
    #[serde(skip)]
    pub pos: Pos,
}

/// Splits a message into the `template` / `subject` / `body` keys it was written as.
pub fn message_keys(m: Option<Message>) -> (Option<Sp<String>>, Option<Template>, Option<Template>) {
    match m {
        Some(Message::Template(t)) => (Some(t), None, None),
        Some(Message::Inline { subject, body }) => (None, Some(subject), Some(body)),
        None => (None, None, None),
    }
}

/// The message written as `template` or `subject` + `body`.
pub fn message_of(
    template: &Option<Sp<String>>,
    subject: &Option<Template>,
    body: &Option<Template>,
) -> Option<Message> {
    match (template, subject, body) {
        (Some(t), _, _) => Some(Message::Template(t.clone())),
        (None, Some(s), Some(b)) => Some(Message::Inline { subject: s.clone(), body: b.clone() }),
        _ => None,
    }
}

impl NotifyRule {
    pub fn decode(node: &Node, sink: &mut Sink) -> Option<NotifyRule> {
        let mut r = MapReader::new(node, "a notification rule", sink)?;
        let on: Vec<Sp<Event>> = r
            .required("on", sink)
            .map(|n| {
                decode::list_or_one(n)
                    .iter()
                    .filter_map(|e| decode::one_of(e, EVENT_NAMES, sink).map(|name| (name, e.pos)))
                    .filter_map(|(name, pos)| {
                        Event::ALL.iter().find(|ev| ev.name() == name).map(|ev| Sp::new(*ev, pos))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let to = r.required("to", sink).map(|n| recipient::decode_list(n, sink)).unwrap_or_default();
        let step = r.get("step").and_then(|n| decode::sp_string(n, sink));
        let message = decode_message(&mut r, false, sink);
        let pos = r.pos;
        r.finish(sink);
        let completed = on.iter().any(|e| e.value == Event::StepCompleted);
        match &step {
            None if completed => {
                sink.push(Code::MissingKey, pos, "a `step.completed` rule needs `step:` to name the step")
            }
            Some(s) if !completed => {
                sink.push(Code::ConflictingKeys, s.pos, "`step:` only goes with the `step.completed` event")
            }
            _ => {}
        }
        let (template, subject, body) = message_keys(message);
        Some(NotifyRule { on, to, step, template, subject, body, pos })
    }

    /// The rule's message; `None` means the event's built-in message.
    pub fn message(&self) -> Option<Message> {
        message_of(&self.template, &self.subject, &self.body)
    }
}
