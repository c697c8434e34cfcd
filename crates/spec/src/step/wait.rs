//! `type: wait`: done when a duration has passed or a moment has come.

use schemars::JsonSchema;

use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Sink};
use crate::duration::Duration;
use crate::escalation::decode_positive_duration;
use crate::expr::Expr;

/// A timer step.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// How long to wait from the moment the step is ready.
    #[serde(default)]
    pub duration: Option<Sp<Duration>>,
    /// An expression yielding the date-time to wait for (RFC 3339 strings are parsed).
    #[serde(default)]
    pub until: Option<Expr>,
}

pub const KEYS: &[&str] = &["duration", "until"];

impl Wait {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<Wait> {
        let duration = r.get("duration").and_then(|n| decode_positive_duration(n, sink));
        let until = r.get("until").and_then(|n| decode::string(n, sink).map(|s| Expr::new(&s, n.pos)));
        match (r.has("duration"), r.has("until")) {
            (true, true) => {
                sink.push(Code::ConflictingKeys, r.pos, "a wait step takes `duration` or `until`, not both")
            }
            (false, false) => sink.push(Code::MissingKey, r.pos, "a wait step needs `duration` or `until`"),
            _ => {}
        }
        Some(Wait { duration, until })
    }
}
