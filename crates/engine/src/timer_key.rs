//! What a durable timer is for. Its key names it (`task:3:remind:0`,
//! `step:wait:2:wait`): the state records what has fired, so a second
//! firing of the same key changes nothing. Keys are stored as text; this is
//! the one place that writes and reads them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One timer of an instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TimerKey {
    /// The `reminder`-th reminder before a task's due time.
    Remind { task: u32, reminder: usize },
    /// A task's due time.
    Overdue { task: u32 },
    /// The `stage`-th escalation stage of an overdue task.
    Escalate { task: u32, stage: usize },
    /// The `n`-th follow-up of an undecided approval.
    FollowUp { task: u32, n: usize },
    /// An approval's `expires` time.
    Expire { task: u32 },
    /// A step's `start` time, in a rework round.
    Start { step: String, round: u32 },
    /// A `wait` step's time, in a rework round.
    Wait { step: String, round: u32 },
    /// The `occurrence`-th occurrence of a `repeat` step, in a rework round.
    Repeat { step: String, round: u32, occurrence: u32 },
}

/// Which timers to drop together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timers", rename_all = "snake_case")]
pub enum TimerScope {
    /// Every timer of the instance.
    All,
    /// A task's reminders, due time and escalations.
    Task { task: u32 },
    /// A step's timers in one rework round.
    Step { step: String, round: u32 },
}

impl TimerScope {
    /// The key prefix the store clears by (`""`: all).
    pub fn prefix(&self) -> String {
        match self {
            TimerScope::All => String::new(),
            TimerScope::Task { task } => format!("task:{task}:"),
            TimerScope::Step { step, round } => format!("step:{step}:{round}:"),
        }
    }

    /// Whether a key falls in this scope.
    pub fn covers(&self, key: &str) -> bool {
        key.starts_with(&self.prefix())
    }
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerKey::Remind { task, reminder } => write!(f, "task:{task}:remind:{reminder}"),
            TimerKey::Overdue { task } => write!(f, "task:{task}:overdue"),
            TimerKey::Escalate { task, stage } => write!(f, "task:{task}:escalate:{stage}"),
            TimerKey::FollowUp { task, n } => write!(f, "task:{task}:follow_up:{n}"),
            TimerKey::Expire { task } => write!(f, "task:{task}:expire"),
            TimerKey::Start { step, round } => write!(f, "step:{step}:{round}:start"),
            TimerKey::Wait { step, round } => write!(f, "step:{step}:{round}:wait"),
            TimerKey::Repeat { step, round, occurrence } => write!(f, "step:{step}:{round}:repeat:{occurrence}"),
        }
    }
}

impl From<TimerKey> for String {
    fn from(k: TimerKey) -> String {
        k.to_string()
    }
}

/// A stored key that does not name a timer of this version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a timer key")]
pub struct BadKey(pub String);

impl FromStr for TimerKey {
    type Err = BadKey;

    fn from_str(s: &str) -> Result<TimerKey, BadKey> {
        let bad = || BadKey(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let num = |t: &str| t.parse::<u32>().map_err(|_| bad());
        let idx = |t: &str| t.parse::<usize>().map_err(|_| bad());
        Ok(match parts.as_slice() {
            ["task", t, "remind", i] => TimerKey::Remind { task: num(t)?, reminder: idx(i)? },
            ["task", t, "overdue"] => TimerKey::Overdue { task: num(t)? },
            ["task", t, "escalate", i] => TimerKey::Escalate { task: num(t)?, stage: idx(i)? },
            ["task", t, "follow_up", i] => TimerKey::FollowUp { task: num(t)?, n: idx(i)? },
            ["task", t, "expire"] => TimerKey::Expire { task: num(t)? },
            ["step", id, r, "start"] => TimerKey::Start { step: id.to_string(), round: num(r)? },
            ["step", id, r, "wait"] => TimerKey::Wait { step: id.to_string(), round: num(r)? },
            ["step", id, r, "repeat", n] => {
                TimerKey::Repeat { step: id.to_string(), round: num(r)?, occurrence: num(n)? }
            }
            _ => return Err(bad()),
        })
    }
}

impl TryFrom<String> for TimerKey {
    type Error = BadKey;

    fn try_from(s: String) -> Result<TimerKey, BadKey> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_as_written_and_scopes_cover_their_own() {
        let keys = [
            TimerKey::Remind { task: 3, reminder: 1 },
            TimerKey::Overdue { task: 3 },
            TimerKey::Escalate { task: 12, stage: 0 },
            TimerKey::FollowUp { task: 4, n: 1 },
            TimerKey::Expire { task: 4 },
            TimerKey::Start { step: "publish".into(), round: 2 },
            TimerKey::Wait { step: "go_live".into(), round: 1 },
            TimerKey::Repeat { step: "daily".into(), round: 1, occurrence: 7 },
        ];
        for k in keys {
            assert_eq!(k.to_string().parse::<TimerKey>(), Ok(k.clone()), "{k}");
        }
        assert_eq!("task:3:remind:1".parse(), Ok(TimerKey::Remind { task: 3, reminder: 1 }));
        assert!("task:x:overdue".parse::<TimerKey>().is_err());
        assert!("step:a:1:later".parse::<TimerKey>().is_err());
        assert!(TimerScope::Task { task: 3 }.covers("task:3:overdue"));
        assert!(!TimerScope::Task { task: 3 }.covers("task:31:overdue"));
        assert!(TimerScope::Step { step: "a".into(), round: 1 }.covers("step:a:1:wait"));
        assert!(TimerScope::All.covers("anything"));
    }
}
