//! What a request has decided and not yet written. The engine's decisions
//! are made first and buffered here; `flush` writes them all in a handful
//! of statements and returns what to announce. A request the engine refuses
//! has written nothing, so a group of requests needs no savepoints: a
//! refused request's buffer is dropped, an accepted one's is merged into
//! the group's.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use smmflow_engine::{Event, Instance};
use smmflow_store::{InstanceWrite, NewOutbox, NewPublication, Tx};
use uuid::Uuid;

use crate::Result;
use crate::announce::Announcement;
use crate::directory::People;

/// One instance as a buffer has it: as read, and as decided since.
#[derive(Clone)]
pub(crate) struct Staged {
    /// The stored version, or None for an instance created in this buffer.
    pub stored_seq: Option<u64>,
    pub state: Instance,
    /// Events not yet written.
    pub events: Vec<Event>,
    /// Notices queued for the mail service in this buffer.
    pub notices: usize,
}

impl Staged {
    /// New in this buffer, or with events not yet written.
    fn changed(&self) -> bool {
        !self.events.is_empty() || self.stored_seq.is_none()
    }
}

#[derive(Clone)]
enum TimerOp {
    Set(Uuid, String, DateTime<Utc>),
    /// Every timer whose key starts with the prefix.
    Clear(Uuid, String),
    /// The one timer with this key (a fired timer, taken).
    Take(Uuid, String),
}

#[derive(Default)]
pub(crate) struct Buffer {
    pub staged: HashMap<Uuid, Staged>,
    timers: Vec<TimerOp>,
    outbox: Vec<NewOutbox>,
    /// (scope, key, result) to remember.
    remember: Vec<(String, String, String)>,
    /// Workspace members read in this transaction (workflows that do not
    /// assign by load only).
    pub people: HashMap<String, Arc<People>>,
    /// Something is buffered that a read of the database would miss.
    pending: bool,
    /// Ids read ahead from the database: those not in `staged` do not exist.
    prefetched: HashSet<Uuid>,
    /// Profile fields to replace: (workspace, actor, fields), in order.
    profiles: Vec<(String, String, serde_json::Map<String, serde_json::Value>)>,
    publications: Vec<NewPublication>,
    /// Workspaces as read in this transaction (settings and profile).
    pub clients: HashMap<String, Arc<crate::clients::Client>>,
    /// Instances written by the group before, whose commit may still be
    /// under way (the pipeline: `settled_base`): reads of the database
    /// would miss their writes.
    settling: HashSet<Uuid>,
    /// Flushed in the middle of its group (`written`): what it wrote then
    /// is no longer told apart.
    flushed_midway: bool,
}

impl Buffer {
    pub fn set_timer(&mut self, id: Uuid, key: &str, at: DateTime<Utc>) {
        self.timers.push(TimerOp::Set(id, key.to_string(), at));
        self.pending = true;
    }

    pub fn clear_timers(&mut self, id: Uuid, prefix: &str) {
        self.timers.push(TimerOp::Clear(id, prefix.to_string()));
        self.pending = true;
    }

    /// Takes a fired timer before anything this buffer did to timers.
    pub fn take_timer(&mut self, id: Uuid, key: &str) {
        self.timers.insert(0, TimerOp::Take(id, key.to_string()));
        self.pending = true;
    }

    pub fn enqueue(&mut self, row: NewOutbox) {
        self.outbox.push(row);
        self.pending = true;
    }

    pub fn update_profile(&mut self, workspace: &str, actor: &str, set: serde_json::Map<String, serde_json::Value>) {
        self.clients.remove(workspace);
        self.profiles.push((workspace.to_string(), actor.to_string(), set));
        self.pending = true;
    }

    pub fn publish(&mut self, p: NewPublication) {
        self.publications.push(p);
        self.pending = true;
    }

    /// Publications decided in this buffer and not yet written.
    pub fn publications(&self) -> &[NewPublication] {
        &self.publications
    }

    /// The profile fields this buffer replaces in a workspace, merged in order.
    pub fn pending_profile(&self, workspace: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut out: Option<serde_json::Map<String, serde_json::Value>> = None;
        for (w, _, set) in &self.profiles {
            if w == workspace {
                out.get_or_insert_with(Default::default).extend(set.clone());
            }
        }
        out
    }

    /// Whether a profile change of this workspace is buffered.
    pub fn changes_profile(&self, workspace: &str) -> bool {
        self.profiles.iter().any(|(w, _, _)| w == workspace)
    }

    pub fn remember(&mut self, scope: &str, key: &str, result: String) {
        self.remember.push((scope.to_string(), key.to_string(), result));
        self.pending = true;
    }

    /// Whether `(scope, key)` is remembered by this buffer (not yet written).
    pub fn remembers(&self, scope: &str, key: &str) -> bool {
        self.remember.iter().any(|(s, k, _)| s == scope && k == key)
    }

    /// Whether reads of the database would miss something of this buffer.
    pub fn has_pending(&self) -> bool {
        self.pending || self.is_settling() || self.staged.values().any(Staged::changed)
    }

    /// Reads ahead, in one query, the instances a group's jobs will act on.
    pub async fn prefetch(&mut self, tx: &Tx, ids: &[Uuid]) -> Result<()> {
        for (id, state) in tx.load_many(ids).await? {
            // What this buffer has already (the group before's) is newer.
            self.staged.entry(id).or_insert(Staged {
                stored_seq: Some(state.seq),
                state,
                events: Vec::new(),
                notices: 0,
            });
        }
        self.prefetched.extend(ids.iter().copied());
        Ok(())
    }

    /// Whether the database is known not to have this instance (read ahead, not found).
    pub fn known_absent(&self, id: Uuid) -> bool {
        self.prefetched.contains(&id) && !self.staged.contains_key(&id)
    }

    /// Whether something buffered touches this instance or its timers.
    pub fn has_pending_for(&self, id: Uuid) -> bool {
        self.settling.contains(&id)
            || self.staged.get(&id).is_some_and(Staged::changed)
            || self.timers.iter().any(|op| match op {
                TimerOp::Set(i, ..) | TimerOp::Clear(i, _) | TimerOp::Take(i, _) => *i == id,
            })
    }

    /// A copy of an instance as this buffer has it, with no events of its own yet.
    pub fn base_of(&self, id: Uuid) -> Option<Staged> {
        self.staged.get(&id).map(|l| Staged {
            stored_seq: l.stored_seq,
            state: l.state.clone(),
            events: Vec::new(),
            notices: 0,
        })
    }

    /// Takes in an accepted request's buffer (its states, events and writes).
    pub fn merge(&mut self, job: &Buffer) {
        for (id, l) in &job.staged {
            match self.staged.entry(*id) {
                Entry::Occupied(mut e) => {
                    let mine = e.get_mut();
                    mine.state = l.state.clone();
                    mine.events.extend(l.events.iter().cloned());
                    mine.notices += l.notices;
                }
                Entry::Vacant(e) => {
                    e.insert(l.clone());
                }
            }
        }
        self.timers.extend(job.timers.iter().cloned());
        self.outbox.extend(job.outbox.iter().cloned());
        self.remember.extend(job.remember.iter().cloned());
        self.profiles.extend(job.profiles.iter().cloned());
        self.publications.extend(job.publications.iter().cloned());
        for (w, _, _) in &job.profiles {
            self.clients.remove(w);
        }
        for (w, c) in &job.clients {
            if !job.profiles.iter().any(|(pw, _, _)| pw == w) {
                self.clients.entry(w.clone()).or_insert_with(|| c.clone());
            }
        }
        for (w, p) in &job.people {
            self.people.entry(w.clone()).or_insert_with(|| p.clone());
        }
        self.pending |= job.pending;
    }

    /// Writes everything buffered (see `written` for what comes after) and
    /// returns what other replicas are to be told, from `node`.
    pub async fn flush(&self, tx: &Tx, now: DateTime<Utc>, node: &str) -> Result<Vec<Announcement>> {
        let writes: Vec<InstanceWrite<'_>> = self
            .staged
            .values()
            .map(|l| InstanceWrite { expected_seq: l.stored_seq, state: &l.state, events: &l.events })
            .collect();
        tx.write_instances(&writes, now).await?;
        let (clears, takes, sets) = reduce(&self.timers);
        tx.write_timers(&clears, &takes, &sets).await?;
        tx.insert_outbox(&self.outbox, now).await?;
        for (scope, key, result) in &self.remember {
            tx.remember(scope, key, result, now).await?;
        }
        tx.insert_publications(&self.publications).await?;
        let mut profiles = Vec::new();
        for (workspace, actor, set) in &self.profiles {
            let Some(mut row) = tx.workspace_for_update(workspace).await? else { continue };
            let before = row.profile.clone();
            if let Some(m) = row.profile.as_object_mut() {
                m.extend(set.clone());
            }
            if row.profile == before {
                continue;
            }
            tx.update_workspace(&row, true, now, actor).await?;
            profiles.push(workspace.clone());
        }
        let mut out = self.announcements(node);
        profiles.dedup();
        out.extend(profiles.into_iter().map(|workspace| Announcement::Profile { node: node.to_string(), workspace }));
        Ok(out)
    }

    /// Which events of which instance this buffer commits, and whether it queued mail.
    fn announcements(&self, node: &str) -> Vec<Announcement> {
        self.staged
            .iter()
            .filter_map(|(id, l)| {
                let (first, last) = (l.events.first()?, l.events.last()?);
                Some(Announcement::Commit {
                    node: node.to_string(),
                    instance: *id,
                    workspace: l.state.workspace.clone(),
                    from: first.seq,
                    to: last.seq,
                    mail: l.notices > 0,
                })
            })
            .collect()
    }

    /// After a flush in the middle of a transaction: the buffer's instances
    /// count as stored at their current version, and nothing is pending.
    pub fn written(&mut self) {
        for l in self.staged.values_mut() {
            l.stored_seq = Some(l.state.seq);
            l.events.clear();
        }
        self.timers.clear();
        self.outbox.clear();
        self.remember.clear();
        self.profiles.clear();
        self.publications.clear();
        self.pending = false;
        self.flushed_midway = true;
    }
}

impl Buffer {
    /// Whether a group that wrote this buffer can be followed by one
    /// decided before its commit: only instances, their timers and mail
    /// were written (a later group's reads of keys, publications and
    /// profiles would miss the rest).
    pub fn pipelines(&self) -> bool {
        !self.flushed_midway && self.remember.is_empty() && self.publications.is_empty() && self.profiles.is_empty()
    }

    /// Whether this is the base of a group decided while the one before
    /// commits (its writes are not in the database's snapshot yet).
    pub fn is_settling(&self) -> bool {
        !self.settling.is_empty()
    }

    /// After a flush, the base for the next group: the instances this one
    /// wrote, as they will be once it commits (their stored version is the
    /// new one), marked as settling; nothing else.
    pub fn settled_base(self) -> Buffer {
        let mut staged = HashMap::new();
        let mut settling = HashSet::new();
        for (id, mut l) in self.staged {
            if !l.changed() {
                continue;
            }
            l.stored_seq = Some(l.state.seq);
            l.events.clear();
            l.notices = 0;
            settling.insert(id);
            staged.insert(id, l);
        }
        Buffer { staged, settling, ..Buffer::default() }
    }
}

type Sets = Vec<(Uuid, String, DateTime<Utc>)>;

type Keys = Vec<(Uuid, String)>;

/// Timer changes in order, as the prefixes to clear and the keys to take
/// in the database first, and the timers to set after: a set undone by a
/// later clear or take is dropped, a later set of the same key wins.
fn reduce(ops: &[TimerOp]) -> (Keys, Keys, Sets) {
    let mut clears: Keys = Vec::new();
    let mut takes: Keys = Vec::new();
    let mut sets: Sets = Vec::new();
    for op in ops {
        match op {
            TimerOp::Take(id, key) => {
                sets.retain(|(i, k, _)| !(i == id && k == key));
                takes.push((*id, key.clone()));
            }
            TimerOp::Clear(id, prefix) => {
                sets.retain(|(i, k, _)| !(i == id && k.starts_with(prefix.as_str())));
                if !clears.iter().any(|(i, p)| i == id && prefix.starts_with(p.as_str())) {
                    clears.push((*id, prefix.clone()));
                }
            }
            TimerOp::Set(id, key, at) => {
                sets.retain(|(i, k, _)| !(i == id && k == key));
                sets.push((*id, key.clone(), *at));
            }
        }
    }
    (clears, takes, sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_later_clear_drops_earlier_sets_and_a_later_set_wins() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let ops = vec![
            TimerOp::Set(a, "due:3".into(), at(9)),
            TimerOp::Set(a, "esc:3:0".into(), at(10)),
            TimerOp::Set(b, "due:1".into(), at(9)),
            TimerOp::Clear(a, "esc:3".into()),
            TimerOp::Set(a, "due:3".into(), at(11)),
            TimerOp::Clear(a, "esc:".into()),
            TimerOp::Set(a, "esc:4:0".into(), at(12)),
        ];
        let (clears, _, sets) = reduce(&ops);
        assert_eq!(clears, vec![(a, "esc:3".to_string()), (a, "esc:".to_string())]);
        assert_eq!(
            sets,
            vec![(b, "due:1".to_string(), at(9)), (a, "due:3".to_string(), at(11)), (a, "esc:4:0".to_string(), at(12))]
        );
    }

    #[test]
    fn a_clear_of_everything_covers_narrower_clears_after_it() {
        let a = Uuid::from_u128(1);
        let ops = vec![TimerOp::Clear(a, String::new()), TimerOp::Clear(a, "due:".into())];
        let (clears, _, sets) = reduce(&ops);
        assert_eq!(clears, vec![(a, String::new())]);
        assert!(sets.is_empty());
    }

    #[test]
    fn a_taken_timer_set_again_by_its_firing_stays() {
        // A repeating reminder: firing takes `remind:3` and sets it again.
        let a = Uuid::from_u128(1);
        let ops = vec![TimerOp::Take(a, "remind:3".into()), TimerOp::Set(a, "remind:3".into(), at(15))];
        let (clears, takes, sets) = reduce(&ops);
        assert!(clears.is_empty());
        assert_eq!(takes, vec![(a, "remind:3".to_string())]);
        assert_eq!(sets, vec![(a, "remind:3".to_string(), at(15))]);
    }
}
