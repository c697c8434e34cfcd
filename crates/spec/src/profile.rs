//! The client profile's schema (a `kind: profile` document, one per
//! deployment: `workflows/profile.yaml`) and posting limits.
//!
//! ```yaml
//! kind: profile
//! name: SMM client profile
//! fields:                       # field specs, exactly as a form's
//!   platforms: {type: list, items: {type: enum, values: [vk, telegram]}, default: [telegram]}
//! posting_limits:               # the limits a new workspace starts with
//!   - {channel: "*", max_per_day: 2, min_gap: 3h}
//! ```
//!
//! A profile must stay valid when the file changes: a `required` field
//! needs a `default` (E051), so existing profiles and new workspaces fit.

use schemars::JsonSchema;
use serde_json::{Value, json};

use crate::decode::{self, MapReader};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::field::{self, FieldError, Fields};
use crate::yaml::Node;

/// The key a profile document is stored under (there is one per deployment).
pub const PROFILE_KEY: &str = "profile";

/// The most limits one workspace may have.
pub const MAX_LIMITS: usize = 100;

/// The schema of every workspace's profile.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `profile`: says what the document is.
    #[schemars(with = "ProfileKind")]
    pub kind: (),
    /// A readable name.
    #[serde(default)]
    pub name: Option<String>,
    /// The profile's fields, as field specs (see inputs and forms).
    #[schemars(with = "std::collections::BTreeMap<String, crate::field::FieldSpec>")]
    pub fields: Fields,
    /// The posting limits a new workspace starts with.
    #[serde(default)]
    pub posting_limits: Vec<PostingLimit>,
    #[serde(skip)]
    pub pos: Pos,
}

/// The only kind of this document.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ProfileKind {
    Profile,
}

/// At most `max_per_day` publications a day (in the workspace's timezone)
/// and at least `min_gap` between two, on one channel (`*`: each channel).
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingLimit {
    /// A channel key (e.g. `instagram`), or `*` for every channel.
    pub channel: String,
    /// The most publications a day on the channel.
    #[serde(default)]
    pub max_per_day: Option<u32>,
    /// The least time between two publications on the channel (e.g. `3h`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub min_gap: Option<Duration>,
}

impl PostingLimit {
    /// The limit as the API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "channel": self.channel,
            "maxPerDay": self.max_per_day,
            "minGap": self.min_gap.map(|d| d.to_string()),
        })
    }

    /// Reads a limit as the API gives it (`channel`, `maxPerDay`, `minGap`).
    pub fn from_json(v: &Value) -> Result<PostingLimit, String> {
        let channel = v.get("channel").and_then(Value::as_str).ok_or("a limit needs a `channel`")?;
        let max_per_day = match v.get("maxPerDay") {
            None | Some(Value::Null) => None,
            Some(n) => Some(n.as_u64().filter(|n| (1..=1000).contains(n)).ok_or("`maxPerDay` is 1 to 1000")? as u32),
        };
        let min_gap = match v.get("minGap") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_gap(s)?),
            Some(_) => return Err("`minGap` is a duration such as `3h`".into()),
        };
        PostingLimit::new(channel, max_per_day, min_gap)
    }

    /// A checked limit.
    pub fn new(channel: &str, max_per_day: Option<u32>, min_gap: Option<Duration>) -> Result<PostingLimit, String> {
        if channel != "*" && !is_channel(channel) {
            return Err(format!(
                "`{}` is not a channel: use `*` or lower case letters, digits, `_` and `-` (at most 64)",
                channel.escape_debug()
            ));
        }
        if max_per_day.is_none() && min_gap.is_none() {
            return Err("a limit needs `maxPerDay`, `minGap` or both".into());
        }
        Ok(PostingLimit { channel: channel.to_string(), max_per_day, min_gap })
    }

    /// The gap in seconds (0 when none).
    pub fn gap_seconds(&self) -> i64 {
        match self.min_gap {
            Some(Duration::Wall(s)) => s.min(86_400 * 31) as i64,
            _ => 0,
        }
    }
}

/// A gap is wall-clock time, more than zero and at most a week.
fn parse_gap(text: &str) -> Result<Duration, String> {
    match Duration::parse(text)? {
        Duration::Wall(s) if (1..=7 * 86_400).contains(&s) => Ok(Duration::Wall(s)),
        Duration::Wall(_) => Err("`minGap` is more than zero and at most 7 days".into()),
        _ => Err("`minGap` is wall-clock time (e.g. `3h`), not business time".into()),
    }
}

/// A channel key: what `publication.channel` renders (`instagram`, `vk`).
pub fn is_channel(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Limits as the API gives them, checked; errors name the list index.
pub fn limits_from_json(items: &[Value]) -> Result<Vec<PostingLimit>, FieldError> {
    if items.len() > MAX_LIMITS {
        return Err(FieldError { path: vec![], message: format!("at most {MAX_LIMITS} limits") });
    }
    let mut out: Vec<PostingLimit> = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let l = PostingLimit::from_json(v).map_err(|message| FieldError { path: vec![i.to_string()], message })?;
        if out.iter().any(|o| o.channel == l.channel) {
            let message = format!("channel `{}` has two limits: give it one", l.channel);
            return Err(FieldError { path: vec![i.to_string(), "channel".into()], message });
        }
        out.push(l);
    }
    Ok(out)
}

impl Profile {
    /// A deployment without a profile document: no fields, no limits.
    pub fn empty() -> Profile {
        Profile { kind: (), name: None, fields: Vec::new(), posting_limits: Vec::new(), pos: Pos::default() }
    }

    pub fn field(&self, name: &str) -> Option<&field::FieldSpec> {
        self.fields.iter().find(|(n, _)| n.value == name).map(|(_, s)| s)
    }

    /// A whole profile: defaults filled, checked; errors name the field path.
    pub fn check(&self, profile: Value) -> Result<Value, Vec<FieldError>> {
        let mut map = match profile {
            Value::Null => serde_json::Map::new(),
            Value::Object(m) => m,
            other => {
                let message = format!("a profile is a mapping of fields, not {}", field::json_type(&other));
                return Err(vec![FieldError { path: vec![], message }]);
            }
        };
        if let Err((path, message)) = crate::text::value(&Value::Object(map.clone())) {
            return Err(vec![FieldError { path, message }]);
        }
        field::apply_defaults(&self.fields, &mut map);
        let mut errors = Vec::new();
        field::check_fields(&self.fields, &map, &[], &mut errors);
        if errors.is_empty() { Ok(Value::Object(map)) } else { Err(errors) }
    }

    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Profile> {
        let mut r = MapReader::new(node, "a profile document", sink)?;
        let kind = r.required("kind", sink).and_then(|n| decode::one_of(n, &["profile"], sink));
        let name = r.get("name").and_then(|n| decode::string(n, sink));
        let fields = r.required("fields", sink).map(|n| field::decode_fields(n, "profile fields", sink));
        let limits = r.get("posting_limits").map(|n| decode_limits(n, sink)).unwrap_or_default();
        let pos = r.pos;
        r.finish(sink);
        let fields = fields?;
        for (name, spec) in &fields {
            if spec.publications.is_some() {
                sink.push(
                    Code::ConflictingKeys,
                    name.pos,
                    format!(
                        "profile field `{}` declares `publications`, which applies to task form fields only",
                        name.value
                    ),
                );
            }
            if spec.required && spec.default.is_none() {
                sink.push_hint(
                    Code::RequiredWithoutDefault,
                    name.pos,
                    format!("profile field `{}` is required but has no `default`", name.value),
                    Some("give it a `default`: existing workspaces and new ones must have a valid profile"),
                );
            }
        }
        kind?;
        Some(Profile { kind: (), name, fields, posting_limits: limits, pos })
    }
}

fn decode_limits(node: &Node, sink: &mut Sink) -> Vec<PostingLimit> {
    let mut out: Vec<PostingLimit> = Vec::new();
    let items = decode::list(node, sink).unwrap_or_default();
    if items.len() > MAX_LIMITS {
        sink.push(Code::OutOfRange, node.pos, format!("at most {MAX_LIMITS} posting limits"));
        return out;
    }
    for item in items {
        let Some(mut r) = MapReader::new(item, "a posting limit", sink) else { continue };
        let channel = r.required("channel", sink).and_then(|n| decode::sp_string(n, sink));
        let max = r.get("max_per_day").and_then(|n| {
            let v = decode::integer_at_least(n, 1, sink)?;
            if v > 1000 {
                sink.push(Code::OutOfRange, n.pos, "`max_per_day` is 1 to 1000");
                return None;
            }
            Some(v)
        });
        let gap = r.get("min_gap").and_then(|n| {
            let text = decode::string(n, sink)?;
            parse_gap(&text).map_err(|e| sink.push(Code::InvalidDuration, n.pos, e)).ok()
        });
        r.finish(sink);
        let Some(channel) = channel else { continue };
        let max = max.map(|m| m.min(1000) as u32);
        match PostingLimit::new(&channel.value, max, gap) {
            Ok(l) if out.iter().any(|o| o.channel == l.channel) => {
                sink.push(Code::InvalidValue, channel.pos, format!("channel `{}` has two limits", l.channel))
            }
            Ok(l) => out.push(l),
            Err(e) => sink.push(Code::InvalidValue, channel.pos, e),
        }
    }
    out
}
