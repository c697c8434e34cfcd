//! Metrics, and all their names, in one place; rendered in the Prometheus
//! text format by the server's `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const COMMANDS: &str = "smmflow_commands_total";
pub const COMMAND_SECONDS: &str = "smmflow_command_duration_seconds";
pub const TIMERS_FIRED: &str = "smmflow_timers_fired_total";
pub const OPEN_TASKS: &str = "smmflow_open_tasks";
pub const OVERDUE_TASKS: &str = "smmflow_overdue_tasks";
pub const OUTBOX_BACKLOG: &str = "smmflow_outbox_backlog";
pub const MAIL: &str = "smmflow_mail_deliveries_total";
pub const NOTICES: &str = "smmflow_notices_expanded_total";
pub const GROUPS: &str = "smmflow_commit_groups_total";
pub const GROUPED: &str = "smmflow_commit_group_commands_total";
pub const AHEAD: &str = "smmflow_commit_groups_decided_ahead_total";
pub const PANICS: &str = "smmflow_panics_contained_total";

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 11] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    ok: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    buckets: [AtomicU64; 11],
    count: AtomicU64,
    sum_micros: AtomicU64,
    timers: AtomicU64,
    mail_sent: AtomicU64,
    mail_failed: AtomicU64,
    notices: AtomicU64,
    groups: AtomicU64,
    grouped: AtomicU64,
    ahead: AtomicU64,
}

/// How a command ended.
#[derive(Clone, Copy)]
pub enum Outcome {
    Ok,
    /// Refused with a user-facing error (bad input, forbidden, conflict...).
    Refused,
    /// Failed for an internal reason (database unreachable...).
    Failed,
}

impl Metrics {
    pub fn command(&self, outcome: Outcome, took: Duration) {
        let c = match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Refused => &self.refused,
            Outcome::Failed => &self.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn timers_fired(&self, n: usize) {
        self.timers.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A delivery attempt: delivered, or failed (to be retried or dead).
    pub fn mail(&self, delivered: bool) {
        let c = if delivered { &self.mail_sent } else { &self.mail_failed };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Notices turned into messages.
    pub fn notices_expanded(&self, notices: usize) {
        self.notices.fetch_add(notices as u64, Ordering::Relaxed);
    }

    /// A group commit of `commands` jobs (SQLite).
    pub fn observe_group(&self, commands: usize) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.grouped.fetch_add(commands as u64, Ordering::Relaxed);
    }

    /// A group written with the decisions made while the one before committed.
    pub fn observe_ahead(&self) {
        self.ahead.fetch_add(1, Ordering::Relaxed);
    }

    /// Groups written with decisions made ahead, so far.
    pub fn groups_ahead(&self) -> u64 {
        self.ahead.load(Ordering::Relaxed)
    }

    /// (groups, commands in them) so far.
    pub fn groups(&self) -> (u64, u64) {
        (self.groups.load(Ordering::Relaxed), self.grouped.load(Ordering::Relaxed))
    }

    /// The Prometheus text, with gauges the caller read from the database.
    pub fn render(&self, open_tasks: u64, overdue_tasks: u64, outbox_backlog: u64, panics: u64) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP {COMMANDS} Commands run, by outcome.\n# TYPE {COMMANDS} counter");
        for (label, c) in [("ok", &self.ok), ("refused", &self.refused), ("failed", &self.failed)] {
            let _ = writeln!(out, "{COMMANDS}{{outcome=\"{label}\"}} {}", get(c));
        }
        let _ = writeln!(
            out,
            "# HELP {COMMAND_SECONDS} Time to run a command, transaction included.\n# TYPE {COMMAND_SECONDS} histogram"
        );
        for (b, c) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(out, "{COMMAND_SECONDS}_bucket{{le=\"{b}\"}} {}", get(c));
        }
        let _ = writeln!(out, "{COMMAND_SECONDS}_bucket{{le=\"+Inf\"}} {}", get(&self.count));
        let _ = writeln!(out, "{COMMAND_SECONDS}_sum {}", get(&self.sum_micros) as f64 / 1e6);
        let _ = writeln!(out, "{COMMAND_SECONDS}_count {}", get(&self.count));
        let _ = writeln!(
            out,
            "# HELP {TIMERS_FIRED} Durable timers fired.\n# TYPE {TIMERS_FIRED} counter\n{TIMERS_FIRED} {}",
            get(&self.timers)
        );
        let _ = writeln!(out, "# HELP {MAIL} Mail delivery attempts, by result.\n# TYPE {MAIL} counter");
        for (label, c) in [("sent", &self.mail_sent), ("failed", &self.mail_failed)] {
            let _ = writeln!(out, "{MAIL}{{result=\"{label}\"}} {}", get(c));
        }
        let _ = writeln!(
            out,
            "# HELP {NOTICES} Notices turned into messages.\n# TYPE {NOTICES} counter\n{NOTICES} {}",
            get(&self.notices)
        );
        let _ = writeln!(
            out,
            "# HELP {GROUPS} Write transactions of the group commit (SQLite).\n# TYPE {GROUPS} counter\n{GROUPS} {}",
            get(&self.groups)
        );
        let _ = writeln!(
            out,
            "# HELP {GROUPED} Commands committed by the group commit (SQLite).\n# TYPE {GROUPED} counter\n{GROUPED} {}",
            get(&self.grouped)
        );
        let _ = writeln!(
            out,
            "# HELP {AHEAD} Groups decided while the group before committed (SQLite).\n# TYPE {AHEAD} counter\n{AHEAD} {}",
            get(&self.ahead)
        );
        let _ = writeln!(
            out,
            "# HELP {PANICS} Panics contained (a bug: see the log).\n# TYPE {PANICS} counter\n{PANICS} {panics}"
        );
        for (name, help, v) in [
            (OPEN_TASKS, "Tasks open or claimed.", open_tasks),
            (OVERDUE_TASKS, "Open or claimed tasks past their due time.", overdue_tasks),
            (
                OUTBOX_BACKLOG,
                "Outbox rows waiting: notices to expand, messages to send or retry, digest items.",
                outbox_backlog,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
