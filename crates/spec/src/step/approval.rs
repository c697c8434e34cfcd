//! `type: approval`: a human gate with levels, quorum, four-eyes and rework.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::escalation::decode_positive_duration;
use crate::expr::{Expr, Template};
use crate::recipient::Recipient;
use crate::step::task::decode_step_ids;
use crate::yaml::{Kind, Node};

/// How many approvers of a level must approve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quorum {
    /// One approval decides the level (default).
    #[default]
    Any,
    /// Every member of the role.
    All,
    /// This many members.
    Count(u32),
}

impl JsonSchema for Quorum {
    fn schema_name() -> Cow<'static, str> {
        "Quorum".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`any` (default), `all`, or a number of approvals.",
            "oneOf": [{"type": "string", "enum": ["any", "all"]}, {"type": "integer", "minimum": 1}]
        })
    }
}

/// One level of an approval, decided in order.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// The role whose members decide this level.
    pub role: Sp<String>,
    /// How many must approve. Default: any.
    #[serde(default)]
    pub quorum: Quorum,
    /// A stakeholder without an account decides from a signed link sent by e-mail.
    #[serde(default)]
    pub external: bool,
    /// While the level is undecided, remind its approvers this long after
    /// the request (e.g. `[1 business day, 2 business days]`), by mail (an
    /// external approver gets a fresh link).
    #[serde(default)]
    #[schemars(with = "Vec<Duration>")]
    pub follow_up: Vec<Sp<Duration>>,
    /// External levels: approvals that render the same key for the same
    /// approver within `batch_window` go out as one message with one link.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub batch: Option<Template>,
    /// How long a batch gathers approvals after its first one. Default: 15m.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub batch_window: Option<Sp<Duration>>,
}

impl Level {
    /// How long a batch of this level gathers (default 15 minutes).
    pub fn window(&self) -> Duration {
        self.batch_window.as_ref().map_or(Duration::Wall(15 * 60), |w| w.value)
    }
}

/// When an approval must be decided by: `at` less `before`.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expires {
    /// A date-time expression, e.g. `inputs.publish_at`; evaluated when the request is made.
    #[schemars(with = "String")]
    pub at: Expr,
    /// How long before `at` (e.g. `2h`). Default: at `at`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub before: Option<Sp<Duration>>,
}

/// What follows when an approval expires undecided.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnExpire {
    /// As if approved (the validator warns on client levels).
    Approve,
    /// As if rejected (`on_reject` applies). The default.
    Reject,
    /// The instance ends `cancelled`.
    Cancel,
    /// Rework from this upstream step (a new round), as `on_reject.goto` does.
    Goto(#[schemars(with = "String")] Sp<String>),
}

/// What a rejection at the last allowed round does.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Then {
    /// The instance ends `cancelled`.
    Cancel,
    /// The instance ends `failed`.
    Fail,
    /// This recipient makes one final decision.
    Reassign(Sp<Recipient>),
}

/// The rework loop of an approval.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnReject {
    /// The step to reopen; it and every step between it and the approval get new tasks.
    pub goto: Sp<String>,
    /// The highest round; a rejection in it applies `then`.
    #[serde(default)]
    pub max_rounds: Option<u32>,
    /// `cancel`, `fail`, or `{reassign: RECIPIENT}`. Without it the instance ends `rejected`.
    #[serde(default)]
    pub then: Option<Then>,
    #[serde(skip)]
    pub pos: Pos,
}

/// A human approval gate.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Shorthand for one level: the deciding role.
    #[serde(default)]
    pub role: Option<Sp<String>>,
    /// Shorthand for one level: how many must approve.
    #[serde(default)]
    pub quorum: Option<Quorum>,
    /// Shorthand for one level: decided from a signed e-mail link.
    #[serde(default)]
    pub external: Option<bool>,
    /// Levels decided in order (the shorthand becomes one level).
    #[serde(default)]
    pub levels: Vec<Level>,
    /// Approvers may not be anyone who completed these steps. Default: the step's direct predecessors (no self-approval).
    #[serde(default)]
    pub distinct_from: Option<Vec<Sp<String>>>,
    /// Rework on rejection. Without it a rejection ends the instance `rejected`.
    #[serde(default)]
    pub on_reject: Option<OnReject>,
    /// Why a rejection may be made (e.g. `[tone, facts, visuals, legal, timing, other]`):
    /// a rejection must name at least one; the output and the log keep them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub reasons: Vec<Sp<String>>,
    /// Shorthand for one level: follow-up reminders while undecided.
    #[serde(default)]
    #[schemars(with = "Vec<Duration>")]
    pub follow_up: Vec<Sp<Duration>>,
    /// Shorthand for one (external) level: the batch key template.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub batch: Option<Template>,
    /// Shorthand for one level: how long a batch gathers. Default: 15m.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub batch_window: Option<Sp<Duration>>,
    /// The approval must be decided before this moment; then it expires.
    #[serde(default)]
    pub expires: Option<Expires>,
    /// `approve`, `reject` (default), `cancel` or `{goto: STEP}`.
    #[serde(default)]
    #[schemars(with = "Option<OnExpire>")]
    pub on_expire: Option<Sp<OnExpire>>,
}

pub const KEYS: &[&str] = &[
    "role",
    "quorum",
    "external",
    "levels",
    "distinct_from",
    "on_reject",
    "reasons",
    "follow_up",
    "batch",
    "batch_window",
    "expires",
    "on_expire",
];

/// The most follow-ups a level may send.
pub const MAX_FOLLOW_UPS: usize = 10;
/// The longest batch window: a day.
const MAX_BATCH_WINDOW_SECONDS: u64 = 24 * 3600;

fn decode_follow_up(node: &Node, sink: &mut Sink) -> Vec<Sp<Duration>> {
    let items = decode::list_or_one(node);
    if items.len() > MAX_FOLLOW_UPS {
        sink.push(Code::OutOfRange, node.pos, format!("at most {MAX_FOLLOW_UPS} follow-ups"));
        return Vec::new();
    }
    items.iter().filter_map(|n| decode_positive_duration(n, sink)).collect()
}

fn decode_window(node: &Node, sink: &mut Sink) -> Option<Sp<Duration>> {
    let d = decode_positive_duration(node, sink)?;
    match d.value {
        Duration::Wall(secs) if secs <= MAX_BATCH_WINDOW_SECONDS => Some(d),
        _ => {
            sink.push_hint(
                Code::OutOfRange,
                node.pos,
                "a batch window is wall-clock time of at most a day",
                Some("e.g. batch_window: 15m"),
            );
            None
        }
    }
}

fn decode_template(node: &Node, sink: &mut Sink) -> Option<Template> {
    decode::string(node, sink).map(|s| Template::new(&s, node.pos))
}

fn decode_expires(node: &Node, owner: Pos, sink: &mut Sink) -> Option<Expires> {
    let mut r = MapReader::at(node, "`expires`", sink, owner)?;
    let at = r.required("at", sink).and_then(|n| decode::string(n, sink).map(|s| Expr::new(&s, n.pos)));
    let before = r.get("before").and_then(|n| crate::escalation::decode_duration(n, sink));
    r.finish(sink);
    Some(Expires { at: at?, before })
}

fn decode_on_expire(node: &Node, sink: &mut Sink) -> Option<Sp<OnExpire>> {
    if node.as_scalar().is_some() {
        let word = decode::one_of(node, &["approve", "reject", "cancel"], sink)?;
        let v = match word {
            "approve" => OnExpire::Approve,
            "reject" => OnExpire::Reject,
            _ => OnExpire::Cancel,
        };
        return Some(Sp::new(v, node.pos));
    }
    let mut r = MapReader::new(node, "`on_expire`", sink)?;
    let goto = r.required("goto", sink).and_then(|n| decode::sp_string(n, sink));
    r.finish(sink);
    Some(Sp::new(OnExpire::Goto(goto?), node.pos))
}

/// The most reasons an approval may offer.
pub const MAX_REASONS: usize = 20;

fn decode_reasons(node: &Node, sink: &mut Sink) -> Vec<Sp<String>> {
    let mut out: Vec<Sp<String>> = Vec::new();
    let items = decode::list(node, sink).unwrap_or_default();
    if items.is_empty() {
        sink.push(Code::MissingKey, node.pos, "`reasons` needs at least one reason");
    }
    if items.len() > MAX_REASONS {
        sink.push(Code::OutOfRange, node.pos, format!("at most {MAX_REASONS} reasons"));
        return out;
    }
    for item in items {
        let Some(word) = decode::sp_string(item, sink) else { continue };
        if !decode::is_ident(&word.value) {
            sink.push(
                Code::InvalidName,
                word.pos,
                format!(
                    "`{}` is not a reason word: lower case letters, digits and `_`, starting with a letter",
                    word.value
                ),
            );
        } else if out.iter().any(|o| o.value == word.value) {
            sink.push(Code::DuplicateKey, word.pos, format!("reason `{}` is listed twice", word.value));
        } else {
            out.push(word);
        }
    }
    out
}

fn decode_quorum(node: &Node, sink: &mut Sink) -> Option<Quorum> {
    match node.as_scalar() {
        Some("any") => Some(Quorum::Any),
        Some("all") => Some(Quorum::All),
        _ if matches!(node.kind, Kind::Scalar { plain: true, .. }) && node.to_json().is_i64() => {
            decode::integer_at_least(node, 1, sink).map(|n| Quorum::Count(n.min(u32::MAX as i64) as u32))
        }
        _ => {
            sink.push_hint(
                Code::InvalidValue,
                node.pos,
                "a quorum is `any`, `all` or a number",
                Some("e.g. quorum: 2"),
            );
            None
        }
    }
}

fn decode_level(node: &Node, sink: &mut Sink) -> Option<Level> {
    let mut r = MapReader::new(node, "an approval level", sink)?;
    let role = r.required("role", sink).and_then(|n| decode::sp_string(n, sink));
    let quorum = r.get("quorum").and_then(|n| decode_quorum(n, sink)).unwrap_or_default();
    let external = r.get("external").and_then(|n| decode::boolean(n, sink)).unwrap_or(false);
    let follow_up = r.get("follow_up").map(|n| decode_follow_up(n, sink)).unwrap_or_default();
    let batch = r.get("batch").and_then(|n| decode_template(n, sink));
    let batch_window = r.get("batch_window").and_then(|n| decode_window(n, sink));
    let pos = r.pos;
    r.finish(sink);
    let level = Level { role: role?, quorum, external, follow_up, batch, batch_window };
    check_batch(&level, pos, sink);
    Some(level)
}

/// `batch` only on external levels; `batch_window` only with `batch`.
fn check_batch(level: &Level, pos: Pos, sink: &mut Sink) {
    if let Some(b) = &level.batch
        && !level.external
    {
        sink.push_hint(
            Code::ConflictingKeys,
            b.pos,
            "`batch` gathers mail to external approvers: the level needs `external: true`",
            Some("members see their approvals in the API; only external levels are batched"),
        );
    }
    if level.batch_window.is_some() && level.batch.is_none() {
        sink.push(Code::MissingKey, pos, "`batch_window` goes with `batch`");
    }
}

fn decode_then(node: &Node, sink: &mut Sink) -> Option<Then> {
    if let Some(word) = node.as_scalar() {
        return match decode::one_of(node, &["cancel", "fail"], sink)? {
            "cancel" => Some(Then::Cancel),
            _ if word == "fail" => Some(Then::Fail),
            _ => None,
        };
    }
    let mut r = MapReader::new(node, "`then`", sink)?;
    let to = r.required("reassign", sink).and_then(|n| Recipient::decode(n, sink));
    r.finish(sink);
    to.map(Then::Reassign)
}

fn decode_on_reject(node: &Node, owner: Pos, sink: &mut Sink) -> Option<OnReject> {
    let mut r = MapReader::at(node, "`on_reject`", sink, owner)?;
    let goto = r.required("goto", sink).and_then(|n| decode::sp_string(n, sink));
    let max_rounds =
        r.get("max_rounds").and_then(|n| decode::integer_at_least(n, 1, sink)).map(|n| n.min(u32::MAX as i64) as u32);
    let then = r.get("then").and_then(|n| decode_then(n, sink));
    r.finish(sink);
    Some(OnReject { goto: goto?, max_rounds, then, pos: owner })
}

impl Approval {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<Approval> {
        let role = r.get("role").and_then(|n| decode::sp_string(n, sink));
        let quorum = r.get("quorum").and_then(|n| decode_quorum(n, sink));
        let external = r.get("external").and_then(|n| decode::boolean(n, sink));
        let levels_node = r.get_entry("levels");
        let distinct_from = decode_step_ids(r, "distinct_from", sink);
        let on_reject = r.get_entry("on_reject").and_then(|(pos, n)| decode_on_reject(n, pos, sink));
        let reasons = r.get("reasons").map(|n| decode_reasons(n, sink)).unwrap_or_default();
        let follow_up = r.get("follow_up").map(|n| decode_follow_up(n, sink)).unwrap_or_default();
        let batch = r.get("batch").and_then(|n| decode_template(n, sink));
        let batch_window = r.get("batch_window").and_then(|n| decode_window(n, sink));
        let expires = r.get_entry("expires").and_then(|(pos, n)| decode_expires(n, pos, sink));
        let on_expire = r.get("on_expire").and_then(|n| decode_on_expire(n, sink));
        if let Some(o) = &on_expire
            && expires.is_none()
        {
            sink.push_hint(
                Code::MissingKey,
                o.pos,
                "`on_expire` needs `expires`",
                Some("e.g. expires: {at: \"{{ inputs.publish_at }}\", before: 2h}"),
            );
        }
        let shorthand = role.is_some()
            || quorum.is_some()
            || external.is_some()
            || !follow_up.is_empty()
            || batch.is_some()
            || batch_window.is_some();
        let levels = match (levels_node, shorthand) {
            (Some((pos, _)), true) => {
                sink.push(
                    Code::ConflictingKeys,
                    pos,
                    "use either `levels` or the one-level shorthand (`role`, `quorum`, `external`, `follow_up`, `batch`, `batch_window`), not both",
                );
                return None;
            }
            (Some((pos, n)), false) => {
                let levels: Vec<Level> =
                    decode::list(n, sink).unwrap_or_default().iter().filter_map(|l| decode_level(l, sink)).collect();
                if levels.is_empty() {
                    sink.push(Code::MissingKey, pos, "`levels` needs at least one level");
                }
                levels
            }
            (None, _) => match &role {
                Some(role) => {
                    let level = Level {
                        role: role.clone(),
                        quorum: quorum.unwrap_or_default(),
                        external: external.unwrap_or(false),
                        follow_up: follow_up.clone(),
                        batch: batch.clone(),
                        batch_window: batch_window.clone(),
                    };
                    check_batch(&level, r.pos, sink);
                    vec![level]
                }
                None => {
                    sink.push(Code::MissingKey, r.pos, "an approval needs `role` (one level) or `levels`");
                    return None;
                }
            },
        };
        Some(Approval {
            role,
            quorum,
            external,
            levels,
            distinct_from,
            on_reject,
            reasons,
            follow_up,
            batch,
            batch_window,
            expires,
            on_expire,
        })
    }
}
