//! The workflow document: roles, inputs, schedules, outputs, steps, and the
//! workflow-wide notification rules, escalation chain and reminders.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::decode::{self, IDENT_PATTERN, KEY_PATTERN, MapReader, Sp, is_ident, is_key};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::escalation::{self, Escalation};
use crate::expr::Template;
use crate::field::{self, FieldSpec, Fields};
use crate::notify::NotifyRule;
use crate::schedule::Schedule;
use crate::step::Step;
use crate::yaml::Node;

/// A role (swimlane) with what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub name: Sp<String>,
    pub description: String,
    /// Whose side the role is on, for analytics (who holds work up).
    pub party: Party,
}

/// Whose side a role is on: the agency's own team (default), the client, or
/// someone external (a freelancer, a platform, a printer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    #[default]
    Agency,
    Client,
    External,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Agency => "agency",
            Party::Client => "client",
            Party::External => "external",
        }
    }

    pub fn parse(s: &str) -> Option<Party> {
        match s {
            "agency" => Some(Party::Agency),
            "client" => Some(Party::Client),
            "external" => Some(Party::External),
            _ => None,
        }
    }
}

/// A role as written: its description, or `{description, party}`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum RoleSchema {
    Description(String),
    Full {
        /// What the role does.
        #[serde(default)]
        description: Option<String>,
        /// `agency` (default), `client` or `external`: whose side it is on, for analytics.
        #[serde(default)]
        party: Option<Party>,
    },
}

fn decode_role(name: Sp<String>, node: &Node, sink: &mut Sink) -> Role {
    if let Some(d) = node.as_scalar() {
        return Role { name, description: d.to_string(), party: Party::Agency };
    }
    let Some(mut r) = MapReader::new(node, "a role", sink) else {
        return Role { name, description: String::new(), party: Party::Agency };
    };
    let description = r.get("description").and_then(|n| decode::string(n, sink)).unwrap_or_default();
    let party = r
        .get("party")
        .and_then(|n| decode::one_of(n, &["agency", "client", "external"], sink))
        .and_then(Party::parse)
        .unwrap_or_default();
    r.finish(sink);
    Role { name, description, party }
}

/// A workflow document.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// The workflow's key: unique, lower case with dashes, e.g. `content-week`.
    #[serde(rename = "workflow")]
    #[schemars(with = "String", regex(pattern = r"^[a-z][a-z0-9-]{1,62}$"))]
    pub key: Sp<String>,
    /// A readable name.
    pub name: String,
    /// What the workflow is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The business calendar for `business hours|days` (a `calendar:` document's key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub calendar: Option<Sp<String>>,
    /// The swimlanes: role name -> what the role does (or `{description, party}`). Every step role must be listed.
    #[schemars(with = "BTreeMap<String, RoleSchema>")]
    pub roles: Vec<Role>,
    /// Typed inputs, validated when an instance starts.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, FieldSpec>")]
    pub inputs: Fields,
    /// Start instances on a cron calendar.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// The instances are publications on the content calendar.
    #[serde(default)]
    pub publication: Option<Publication>,
    /// What a parent sees when this runs as a subflow: name -> template.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Template>")]
    pub outputs: Vec<(Sp<String>, Template)>,
    /// The steps, in order: step id -> step.
    #[schemars(with = "BTreeMap<String, Step>")]
    pub steps: Vec<Step>,
    /// Notification rules.
    #[serde(default)]
    pub notify: Vec<NotifyRule>,
    /// The default escalation chain for overdue human tasks (steps with `due`).
    #[serde(default)]
    pub escalation: Vec<Escalation>,
    /// Default reminders before a human task's due time.
    #[serde(default)]
    pub remind: Vec<Sp<Duration>>,
    /// Where the document starts.
    #[serde(skip)]
    pub pos: Pos,
    /// Step positions by id, so a lookup is O(1) in workflows of any size.
    #[serde(skip)]
    #[schemars(skip)]
    pub index: StepIndex,
}

/// What each instance publishes, and when: rendered when the instance
/// starts (its inputs and `workspace` are in scope).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// When it goes out: a template yielding an RFC 3339 date-time.
    pub at: Template,
    /// The platform or channel key, e.g. `instagram`.
    pub channel: Template,
    /// A short title for the calendar.
    #[serde(default)]
    pub title: Option<Template>,
}

fn decode_publication(node: &Node, owner: Pos, sink: &mut Sink) -> Option<Publication> {
    let mut r = MapReader::at(node, "`publication`", sink, owner)?;
    let template = |r: &mut MapReader<'_>, key: &'static str, required: bool, sink: &mut Sink| {
        let n = if required { r.required(key, sink) } else { r.get(key) };
        n.and_then(|n| decode::string(n, sink).map(|s| Template::new(&s, n.pos)))
    };
    let at = template(&mut r, "at", true, sink);
    let channel = template(&mut r, "channel", true, sink);
    let title = template(&mut r, "title", false, sink);
    r.finish(sink);
    Some(Publication { at: at?, channel: channel?, title })
}

/// Step id -> position in `steps` (the first, when an id repeats).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepIndex(std::collections::HashMap<String, usize>, std::collections::HashSet<String>);

impl StepIndex {
    pub fn new(steps: &[Step]) -> StepIndex {
        let mut m = std::collections::HashMap::with_capacity(steps.len());
        for (i, s) in steps.iter().enumerate() {
            m.entry(s.id.value.clone()).or_insert(i);
        }
        StepIndex(m, Default::default())
    }

    pub fn get(&self, id: &str) -> Option<usize> {
        self.0.get(id).copied()
    }

    /// Remembers the ids of steps the file declares but that did not decode
    /// (their own errors are reported), so references to them are not
    /// reported again as unknown steps.
    fn with_failed(mut self, ids: impl IntoIterator<Item = String>) -> StepIndex {
        self.1 = ids.into_iter().filter(|id| !self.0.contains_key(id)).collect();
        self
    }

    /// Whether some step of the file did not decode (its errors are reported).
    pub fn has_failed(&self) -> bool {
        !self.1.is_empty()
    }

    /// A step the file declares, even one that did not decode.
    pub fn declared(&self, id: &str) -> bool {
        self.0.contains_key(id) || self.1.contains(id)
    }
}

impl Workflow {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).and_then(|i| self.steps.get(i))
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.value == name)
    }

    /// The party of a role (agency when the role is not declared).
    pub fn party_of(&self, role: &str) -> Party {
        self.roles.iter().find(|r| r.name.value == role).map_or(Party::Agency, |r| r.party)
    }

    /// Decodes the document; `None` when a required part is unusable (the
    /// problems are in `sink`).
    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Workflow> {
        let mut r = MapReader::new(node, "a workflow", sink)?;
        let key = r.required("workflow", sink).and_then(|n| decode::sp_string(n, sink));
        if let Some(k) = &key
            && !is_key(k)
        {
            sink.push(
                Code::InvalidName,
                k.pos,
                format!("`{}` is not a valid workflow key: it must match {KEY_PATTERN}", k.value),
            );
        }
        let name = r.required("name", sink).and_then(|n| decode::string(n, sink));
        let description = r.get("description").and_then(|n| decode::string(n, sink));
        let calendar = r.get("calendar").and_then(|n| decode::sp_string(n, sink));
        let roles = r
            .required("roles", sink)
            .map(|n| {
                decode::named_entries(n, "roles", is_ident, IDENT_PATTERN, sink)
                    .into_iter()
                    .map(|(name, d)| decode_role(name, d, sink))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let inputs = r.get("inputs").map(|n| field::decode_fields(n, "inputs", sink)).unwrap_or_default();
        let schedules = r
            .get("schedules")
            .and_then(|n| decode::list(n, sink))
            .unwrap_or_default()
            .iter()
            .filter_map(|n| Schedule::decode(n, sink))
            .collect();
        let publication = r.get_entry("publication").and_then(|(pos, n)| decode_publication(n, pos, sink));
        let outputs = r
            .get("outputs")
            .map(|n| {
                decode::named_entries(n, "outputs", is_ident, IDENT_PATTERN, sink)
                    .into_iter()
                    .filter_map(|(k, v)| decode::string(v, sink).map(|s| (k, Template::new(&s, v.pos))))
                    .collect()
            })
            .unwrap_or_default();
        let steps_entry = r.get_entry("steps");
        let mut declared = Vec::new();
        let steps: Vec<Step> = steps_entry
            .map(|(_, n)| {
                decode::named_entries(n, "step ids", is_ident, IDENT_PATTERN, sink)
                    .into_iter()
                    .filter_map(|(id, v)| {
                        declared.push(id.value.clone());
                        Step::decode(id, v, sink)
                    })
                    .collect()
            })
            .unwrap_or_default();
        match steps_entry {
            None => sink.push(Code::MissingKey, r.pos, "a workflow needs the key `steps`"),
            Some((pos, n)) if n.as_scalar().is_none() && steps.is_empty() && !sink.has_errors() => {
                sink.push(Code::MissingKey, pos, "a workflow needs at least one step")
            }
            _ => {}
        }
        if roles.is_empty() && r.has("roles") {
            sink.push(Code::MissingKey, r.pos, "declare at least one role under `roles`");
        }
        let notify = r
            .get("notify")
            .and_then(|n| decode::list(n, sink))
            .unwrap_or_default()
            .iter()
            .filter_map(|n| NotifyRule::decode(n, sink))
            .collect();
        let escalation = r.get("escalation").map(|n| escalation::decode_chain(n, sink)).unwrap_or_default();
        let remind = r.get("remind").map(|n| escalation::decode_remind(n, sink)).unwrap_or_default();
        let pos = r.pos;
        r.finish(sink);
        Some(Workflow {
            key: key?,
            name: name?,
            description,
            calendar,
            roles,
            inputs,
            schedules,
            publication,
            outputs,
            index: StepIndex::new(&steps).with_failed(declared),
            steps,
            notify,
            escalation,
            remind,
            pos,
        })
    }
}
