//! The content calendar: posting limits checked where a person can still
//! fix the plan (`startInstance` of a publication workflow, and list forms
//! that declare `publications:`), and times in the past refused there.
//!
//! A limit applies per channel: the channel's own, else the `*` one. Days
//! are counted in the workspace's timezone. The existing calendar counts
//! publications that are in production or published (cancelled ones free
//! their slot); the items of one form count against each other in order.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use smmflow_engine::{Action, Code, Command, Instance, Outcome};
use smmflow_spec::profile::PostingLimit;
use smmflow_spec::{StepKind, Workflow};
use smmflow_store::{PublicationRow, Tx};

use crate::clients::Client;
use crate::exec::Buffer;
use crate::{Error, Issue, Result, Runtime};

/// One publication a person plans, with the input paths to blame.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub at_path: Vec<String>,
    pub at: DateTime<Utc>,
    pub channel: String,
    /// How an item is named in messages (`item 3`).
    pub label: String,
}

/// The items of the list fields with `publications:` in a completed form.
pub(crate) fn planned_items(wf: &Workflow, state: &Instance, command: &Command) -> Vec<Planned> {
    let Command::Complete { task, output } = command else { return Vec::new() };
    let Some(step) = state.task(*task).and_then(|t| wf.step(&t.step)) else { return Vec::new() };
    let StepKind::Task(t) = &step.kind else { return Vec::new() };
    let mut out = Vec::new();
    for (name, spec) in &t.form {
        let Some(p) = &spec.publications else { continue };
        let Some(items) = output.get(&name.value).and_then(Value::as_array) else { continue };
        for (i, item) in items.iter().enumerate() {
            // Read as the engine reads a publication's `at`.
            let at = item.get(&p.at).and_then(|v| smmflow_engine::eval::datetime(v).ok());
            let channel = item.get(&p.channel).and_then(Value::as_str);
            if let (Some(at), Some(channel)) = (at, channel) {
                out.push(Planned {
                    at_path: vec!["output".into(), name.value.clone(), i.to_string(), p.at.clone()],
                    at,
                    channel: channel.to_string(),
                    label: format!("item {i} of `{}`", name.value),
                });
            }
        }
    }
    out
}

/// The input a publication's `at` reads, when it is one input
/// (`{{ inputs.publish_at }}`): the path a person fixes.
fn input_path(wf: &Workflow) -> Vec<String> {
    let source = wf.publication.as_ref().map_or("", |p| p.at.source.as_str());
    let inner = source.trim().strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).map(str::trim);
    match inner.and_then(|s| s.strip_prefix("inputs.")) {
        Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            vec!["inputs".into(), name.to_string()]
        }
        _ => vec!["inputs".into()],
    }
}

/// The limit that applies to a channel: its own, else `*`.
fn limit_for<'l>(limits: &'l [PostingLimit], channel: &str) -> Option<&'l PostingLimit> {
    limits.iter().find(|l| l.channel == channel).or_else(|| limits.iter().find(|l| l.channel == "*"))
}

/// One entry of the calendar as the check sees it.
struct Slot {
    at: DateTime<Utc>,
    channel: String,
    label: String,
}

fn describe(p: &PublicationRow, tz: chrono_tz::Tz) -> String {
    let title = p.title.as_deref().map(|t| format!(" \"{t}\"")).unwrap_or_default();
    format!("the {} publication{title} at {} (instance {})", p.channel, local(p.at, tz), p.instance)
}

/// A time as the client reads it: on its own clock, with the offset.
fn local(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).to_rfc3339()
}

fn human_gap(seconds: i64) -> String {
    let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// Checks planned publications in order against the calendar and each
/// other; the problems, each at its item's path.
pub(crate) fn check(
    limits: &[PostingLimit],
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    existing: &[PublicationRow],
    planned: &[Planned],
) -> Vec<Issue> {
    let mut slots: Vec<Slot> =
        existing.iter().map(|p| Slot { at: p.at, channel: p.channel.clone(), label: describe(p, tz) }).collect();
    let mut issues = Vec::new();
    for p in planned {
        if p.at <= now {
            issues.push(Issue::new(
                p.at_path.clone(),
                format!(
                    "{} is in the past (now {}): a publication must be planned ahead",
                    local(p.at, tz),
                    local(now, tz)
                ),
                Code::BadUserInput,
            ));
            continue;
        }
        let Some(limit) = limit_for(limits, &p.channel) else {
            slots.push(Slot { at: p.at, channel: p.channel.clone(), label: p.label.clone() });
            continue;
        };
        let same: Vec<&Slot> = slots.iter().filter(|s| s.channel == p.channel).collect();
        let gap = limit.gap_seconds();
        let close = same.iter().find(|s| (s.at - p.at).num_seconds().abs() < gap);
        let day = p.at.with_timezone(&tz).date_naive();
        let that_day: Vec<&&Slot> = same.iter().filter(|s| s.at.with_timezone(&tz).date_naive() == day).collect();
        let problem = if let Some(c) = close {
            Some(format!(
                "{} on {} is {} from {}; {} needs at least {} between posts",
                local(p.at, tz),
                p.channel,
                human_gap((c.at - p.at).num_seconds().abs()),
                c.label,
                p.channel,
                human_gap(gap)
            ))
        } else {
            limit.max_per_day.filter(|max| that_day.len() >= *max as usize).map(|max| {
                let names: Vec<&str> = that_day.iter().map(|s| s.label.as_str()).collect();
                format!(
                    "{} already has {} publication(s) on {day} ({}): at most {max} a day",
                    p.channel,
                    that_day.len(),
                    names.join("; ")
                )
            })
        };
        match problem {
            Some(message) => issues.push(Issue::new(p.at_path.clone(), message, Code::PostingLimit)),
            None => slots.push(Slot { at: p.at, channel: p.channel.clone(), label: p.label.clone() }),
        }
    }
    issues
}

impl Runtime {
    /// The live calendar around the planned times, with what this
    /// transaction has decided and not yet written.
    async fn calendar_around(
        &self,
        tx: &Tx,
        unit: &Buffer,
        group: &Buffer,
        workspace: &str,
        planned: &[Planned],
    ) -> Result<Vec<PublicationRow>> {
        let (Some(first), Some(last)) = (planned.iter().map(|p| p.at).min(), planned.iter().map(|p| p.at).max()) else {
            return Ok(Vec::new());
        };
        // The publications read below are joined with their instances'
        // status, which a group still committing may have changed (a
        // cancelled post): decided in the group's own transaction instead.
        if group.is_settling() {
            return Err(Error::FlushFirst);
        }
        // A day either side covers the local day and the longest gap (7 days at most).
        let margin = Duration::days(8);
        let (from, to) = (first - margin, last + margin);
        let mut rows = tx.publications_between(workspace, from, to).await?;
        for p in unit.publications().iter().chain(group.publications()) {
            if p.workspace == workspace && p.at >= from && p.at < to {
                rows.push(PublicationRow {
                    instance: p.instance.to_string(),
                    workspace: p.workspace.clone(),
                    channel: p.channel.clone(),
                    title: p.title.clone(),
                    at: p.at,
                    status: "running".into(),
                });
            }
        }
        Ok(rows)
    }

    /// `startInstance` of a publication workflow: its time is ahead and
    /// within the workspace's limits.
    pub(crate) async fn check_planned_start(
        &self,
        tx: &Tx,
        unit: &Buffer,
        group: &Buffer,
        client: &Client,
        wf: &Workflow,
        out: &Outcome,
    ) -> Result<()> {
        let Some((at, channel)) = out.actions.iter().find_map(|a| match a {
            Action::Publication { at, channel, .. } => Some((*at, channel.clone())),
            _ => None,
        }) else {
            return Ok(());
        };
        let planned = vec![Planned { at_path: input_path(wf), at, channel, label: "this publication".into() }];
        let existing = self.calendar_around(tx, unit, group, &out.state.workspace, &planned).await?;
        let issues = check(&client.limits(), client.timezone(), self.now(), &existing, &planned);
        if issues.is_empty() { Ok(()) } else { Err(Error::Items(issues)) }
    }

    /// A completed form's planned publications: ahead, within the limits,
    /// against the calendar and each other.
    pub(crate) async fn check_planned_items(
        &self,
        tx: &Tx,
        unit: &Buffer,
        group: &Buffer,
        client: &Client,
        planned: Vec<Planned>,
    ) -> Result<()> {
        let workspace = client.row.as_ref().map(|w| w.key.clone()).unwrap_or_default();
        let existing = self.calendar_around(tx, unit, group, &workspace, &planned).await?;
        let issues = check(&client.limits(), client.timezone(), self.now(), &existing, &planned);
        if issues.is_empty() { Ok(()) } else { Err(Error::Items(issues)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).unwrap_or_default()
    }

    fn item(i: usize, when: &str, channel: &str) -> Planned {
        Planned {
            at_path: vec!["output".into(), "posts".into(), i.to_string(), "publish_at".into()],
            at: at(when),
            channel: channel.into(),
            label: format!("item {i}"),
        }
    }

    fn default_limits() -> Vec<PostingLimit> {
        vec![
            PostingLimit::new("*", Some(2), Some(smmflow_spec::Duration::Wall(3 * 3600)))
                .unwrap_or_else(|_| unreachable!()),
        ]
    }

    #[test]
    fn a_third_post_in_a_day_and_a_close_pair_are_refused_at_their_items() {
        let now = at("2026-12-01T00:00:00Z");
        let plan = [
            item(0, "2026-12-09T09:00:00Z", "instagram"),
            item(1, "2026-12-09T15:00:00Z", "instagram"),
            item(2, "2026-12-09T20:00:00Z", "instagram"),
            item(3, "2026-12-10T09:00:00Z", "instagram"),
            item(4, "2026-12-10T10:00:00Z", "instagram"),
            item(5, "2026-12-10T10:00:00Z", "telegram"),
        ];
        let issues = check(&default_limits(), chrono_tz::UTC, now, &[], &plan);
        let paths: Vec<&str> = issues.iter().map(|i| i.path[2].as_str()).collect();
        assert_eq!(paths, ["2", "4"], "{issues:?}");
        assert!(issues.iter().all(|i| i.code == Code::PostingLimit));
        assert!(issues[0].message.contains("at most 2 a day"), "{}", issues[0].message);
        assert!(issues[1].message.contains("1h from item 3"), "{}", issues[1].message);
    }

    #[test]
    fn days_are_the_workspace_s_and_the_past_is_refused() {
        let now = at("2026-12-09T12:00:00Z");
        // 23:30 and 00:30 UTC are the same day in Vladivostok (UTC+10).
        let plan = [
            item(0, "2026-12-09T10:00:00Z", "vk"),
            item(1, "2026-12-09T15:30:00Z", "vk"),
            item(2, "2026-12-09T19:00:00Z", "vk"),
            item(3, "2026-12-09T23:30:00Z", "vk"),
        ];
        let tz: chrono_tz::Tz = "Asia/Vladivostok".parse().unwrap_or(chrono_tz::UTC);
        let issues = check(&default_limits(), tz, now, &[], &plan);
        assert_eq!(issues[0].code, Code::BadUserInput);
        assert_eq!(issues[0].path[2], "0");
        // 15:30 and 19:00 UTC are the 10th in Vladivostok; 23:30 is the 10th too: the third that day.
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(issues[1].path[2], "3");
    }
}
