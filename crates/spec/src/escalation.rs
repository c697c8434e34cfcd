//! Escalation chains: what happens after a human task's due time passes.

use schemars::JsonSchema;

use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::recipient::{self, Recipient};
use crate::yaml::Node;

/// An automatic decision when nobody acted in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Auto {
    /// Approvals only.
    Approve,
    /// Approvals only.
    Reject,
    /// Tasks only: the task is skipped and the workflow goes on.
    Skip,
}

/// One stage of an escalation chain: after the due time plus `after`, do one thing
/// (`notify`, `reassign` or `auto`: exactly one of them).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["notify"]}, {"required": ["reassign"]}, {"required": ["auto"]}]))]
pub struct Escalation {
    /// Time after the due time (0h = at the due time).
    pub after: Sp<Duration>,
    /// Tell these recipients.
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::OneOrMany<Recipient>>")]
    pub notify: Vec<Sp<Recipient>>,
    /// Hand the task to this recipient (a user, or a role whose members become the candidates).
    #[serde(default)]
    pub reassign: Option<Sp<Recipient>>,
    /// Decide automatically.
    #[serde(default)]
    pub auto: Option<Sp<Auto>>,
    #[serde(skip)]
    pub pos: Pos,
}

pub fn decode_duration(node: &Node, sink: &mut Sink) -> Option<Sp<Duration>> {
    let text = decode::string(node, sink)?;
    match Duration::parse(&text) {
        Ok(d) => Some(Sp::new(d, node.pos)),
        Err(e) => {
            sink.push(Code::InvalidDuration, node.pos, format!("invalid duration `{text}`: {e}"));
            None
        }
    }
}

/// A duration that must be more than zero (`due`, `duration`, `catch_up_window`).
pub fn decode_positive_duration(node: &Node, sink: &mut Sink) -> Option<Sp<Duration>> {
    let d = decode_duration(node, sink)?;
    if d.is_zero() {
        sink.push(Code::OutOfRange, node.pos, "must be longer than zero");
        return None;
    }
    Some(d)
}

impl Escalation {
    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Escalation> {
        let mut r = MapReader::new(node, "an escalation stage", sink)?;
        let after = r.required("after", sink).and_then(|n| decode_duration(n, sink));
        let notify = r.get("notify").map(|n| recipient::decode_list(n, sink)).unwrap_or_default();
        let reassign = r.get("reassign").and_then(|n| Recipient::decode(n, sink));
        let auto = r.get("auto").and_then(|n| {
            let word = decode::one_of(n, &["approve", "reject", "skip"], sink)?;
            let a = match word {
                "approve" => Auto::Approve,
                "reject" => Auto::Reject,
                _ => Auto::Skip,
            };
            Some(Sp::new(a, n.pos))
        });
        let pos = r.pos;
        let actions = usize::from(r.has("notify")) + usize::from(r.has("reassign")) + usize::from(r.has("auto"));
        r.finish(sink);
        if actions == 0 {
            sink.push(Code::MissingKey, pos, "an escalation stage needs one of `notify`, `reassign` or `auto`");
        } else if actions > 1 {
            sink.push(
                Code::ConflictingKeys,
                pos,
                "an escalation stage does one thing: `notify`, `reassign` or `auto`; write one stage each",
            );
        }
        Some(Escalation { after: after?, notify, reassign, auto, pos })
    }
}

/// Decodes `escalation:` (a list of stages).
pub fn decode_chain(node: &Node, sink: &mut Sink) -> Vec<Escalation> {
    decode::list(node, sink).unwrap_or_default().iter().filter_map(|n| Escalation::decode(n, sink)).collect()
}

/// Decodes `remind:` (durations before the due time).
pub fn decode_remind(node: &Node, sink: &mut Sink) -> Vec<Sp<Duration>> {
    decode::list_or_one(node).iter().filter_map(|n| decode_positive_duration(n, sink)).collect()
}
