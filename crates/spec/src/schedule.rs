//! Workflow schedules: start instances on a cron calendar in a timezone.

use schemars::JsonSchema;

use crate::cron::Cron;
use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::escalation::decode_positive_duration;
use crate::time::{self, DateOrTime};
use crate::yaml::Node;

/// What to do with fires missed while smmflow was down (or the schedule paused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// Skip them all.
    None,
    /// Run the latest one within `catch_up_window`.
    #[default]
    Last,
    /// Run every one within `catch_up_window`, oldest first.
    All,
}

/// What to do when the previous run is still open at the next fire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Start another run anyway.
    #[default]
    Allow,
    /// Skip this fire (recorded with the reason).
    Skip,
    /// Cancel the open run, then start the new one.
    CancelPrevious,
}

/// Which workspaces a schedule starts instances in.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `workspace: KEY`.
    One(Sp<String>),
    /// `workspaces: all`.
    All,
    /// `workspaces: EXPRESSION`, evaluated per workspace with `workspace` in scope.
    Matching(crate::expr::Expr),
}

impl Target {
    /// The one workspace, when the schedule names one.
    pub fn one(&self) -> Option<&str> {
        match self {
            Target::One(k) => Some(&k.value),
            _ => None,
        }
    }
}

/// One schedule of a workflow.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When to start: 5 crontab fields (or 6 with seconds first).
    pub cron: Sp<Cron>,
    /// The IANA timezone the cron is read in. Default: UTC, or with
    /// `workspaces:` each workspace's own timezone.
    #[schemars(with = "Option<String>")]
    pub timezone: Sp<chrono_tz::Tz>,
    /// `timezone` was written (with `workspaces:`, it then overrides theirs).
    #[serde(skip)]
    pub timezone_given: bool,
    /// The workspace (client) the instances belong to (or `workspaces:`).
    #[schemars(with = "Option<String>")]
    pub workspace: Target,
    /// Every workspace (`all`), or those for which the expression is true,
    /// e.g. `"'weekly_content' in workspace.profile.services"`: one schedule each.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub workspaces: (),
    /// Inputs of each started instance.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub inputs: Option<Sp<serde_json::Value>>,
    /// Fires missed during downtime: none, last, or all within `catch_up_window`. Default: last.
    #[serde(default)]
    pub missed: Missed,
    /// How far back missed fires are caught up. Default: 1d.
    #[schemars(with = "Option<Duration>")]
    pub catch_up_window: Duration,
    /// When the previous run is still open: allow, skip, or cancel_previous. Default: allow.
    #[serde(default)]
    pub overlap: Overlap,
    /// No fire before this date (or RFC 3339 date-time).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub starts: Option<Sp<DateOrTime>>,
    /// No fire after this date (or RFC 3339 date-time).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ends: Option<Sp<DateOrTime>>,
    /// Stop after this many runs.
    #[serde(default)]
    pub max_runs: Option<u32>,
    #[serde(skip)]
    pub pos: Pos,
}

pub fn decode_cron(node: &Node, sink: &mut Sink) -> Option<Sp<Cron>> {
    let text = decode::string(node, sink)?;
    match Cron::parse(&text) {
        Ok(c) => Some(Sp::new(c, node.pos)),
        Err(e) => {
            sink.push(Code::InvalidCron, node.pos, format!("invalid cron `{text}`: {e}"));
            None
        }
    }
}

pub fn decode_timezone(node: &Node, sink: &mut Sink) -> Option<Sp<chrono_tz::Tz>> {
    let text = decode::string(node, sink)?;
    match time::timezone(text.trim()) {
        Ok(tz) => Some(Sp::new(tz, node.pos)),
        Err(e) => {
            let hint = crate::diag::did_you_mean(&text, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()))
                .map(|s| format!("did you mean `{s}`?"));
            sink.push_hint(Code::InvalidTimezone, node.pos, e, hint);
            None
        }
    }
}

fn decode_date_or_time(node: &Node, sink: &mut Sink) -> Option<Sp<DateOrTime>> {
    let text = decode::string(node, sink)?;
    match DateOrTime::parse(&text) {
        Ok(d) => Some(Sp::new(d, node.pos)),
        Err(e) => {
            sink.push(Code::InvalidDate, node.pos, e);
            None
        }
    }
}

impl Schedule {
    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Schedule> {
        let mut r = MapReader::new(node, "a schedule", sink)?;
        let cron = r.required("cron", sink).and_then(|n| decode_cron(n, sink));
        let timezone = r.get("timezone").and_then(|n| decode_timezone(n, sink));
        let one = r.get("workspace").and_then(|n| decode::sp_string(n, sink));
        let many = r.get("workspaces").and_then(|n| decode::string(n, sink).map(|s| (s, n.pos)));
        let workspace = match (one, many) {
            (Some(_), Some((_, pos))) => {
                sink.push(Code::ConflictingKeys, pos, "a schedule takes `workspace` or `workspaces`, not both");
                None
            }
            (Some(k), None) => Some(Target::One(k)),
            (None, Some((s, _))) if s.trim() == "all" => Some(Target::All),
            (None, Some((s, pos))) => Some(Target::Matching(crate::expr::Expr::new(&s, pos))),
            (None, None) => {
                sink.push(
                    Code::MissingKey,
                    r.pos,
                    "a schedule needs `workspace` (one) or `workspaces` (all or an expression)",
                );
                None
            }
        };
        let inputs = r.get("inputs").and_then(|n| match n.kind {
            crate::yaml::Kind::Map(_) => Some(Sp::new(n.to_json(), n.pos)),
            _ => {
                sink.push(Code::WrongType, n.pos, format!("expected a mapping of inputs, found {}", n.type_name()));
                None
            }
        });
        let missed = r.get("missed").and_then(|n| decode::one_of(n, &["none", "last", "all"], sink)).map(|w| match w {
            "none" => Missed::None,
            "all" => Missed::All,
            _ => Missed::Last,
        });
        let window = r.get("catch_up_window").and_then(|n| decode_positive_duration(n, sink));
        let overlap = r
            .get("overlap")
            .and_then(|n| decode::one_of(n, &["allow", "skip", "cancel_previous"], sink))
            .map(|w| match w {
                "skip" => Overlap::Skip,
                "cancel_previous" => Overlap::CancelPrevious,
                _ => Overlap::Allow,
            });
        let starts = r.get("starts").and_then(|n| decode_date_or_time(n, sink));
        let ends = r.get("ends").and_then(|n| decode_date_or_time(n, sink));
        let max_runs =
            r.get("max_runs").and_then(|n| decode::integer_at_least(n, 1, sink)).map(|n| n.min(u32::MAX as i64) as u32);
        let pos = r.pos;
        r.finish(sink);
        if let Some(w) = &window
            && w.is_business()
        {
            sink.push(Code::InvalidDuration, w.pos, "`catch_up_window` is wall-clock time, not business time");
        }
        if let (Some(s), Some(e)) = (&starts, &ends) {
            let key = |d: &DateOrTime| match d {
                DateOrTime::Date(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
                DateOrTime::DateTime(t) => Some(t.to_utc()),
            };
            if key(&s.value) > key(&e.value) {
                sink.push(Code::OutOfRange, e.pos, "`ends` is before `starts`");
            }
        }
        Some(Schedule {
            cron: cron?,
            timezone_given: timezone.is_some(),
            timezone: timezone.unwrap_or(Sp::new(chrono_tz::UTC, pos)),
            workspace: workspace?,
            workspaces: (),
            inputs,
            missed: missed.unwrap_or_default(),
            catch_up_window: window.map_or(Duration::Wall(86_400), |w| w.value),
            overlap: overlap.unwrap_or_default(),
            starts,
            ends,
            max_runs,
            pos,
        })
    }
}
