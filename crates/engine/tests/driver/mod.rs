//! An in-memory driver for engine scenarios: it does what the runtime does
//! (runs actions, keeps timers, starts children) without a database, on a
//! manual clock. Every outcome is checked against a replay of its log.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use smmflow_engine::cascade::{self, FollowUp};
use smmflow_engine::{Action, Command, Directory, Env, Error, Event, Instance, Notice, Start, apply, decide};
use smmflow_spec::{Calendar, Project, Source, Workflow};
use uuid::Uuid;

#[derive(Default, Clone)]
pub struct People {
    pub roles: BTreeMap<String, Vec<String>>,
}

impl People {
    pub fn with(mut self, role: &str, users: &[&str]) -> Self {
        self.roles.insert(role.into(), users.iter().map(|s| s.to_string()).collect());
        self
    }
}

struct Dir<'a> {
    people: &'a People,
    open: HashMap<String, usize>,
    last: HashMap<String, String>,
}

impl Directory for Dir<'_> {
    fn members(&self, role: &str) -> Vec<String> {
        let mut m = self.people.roles.get(role).cloned().unwrap_or_default();
        m.sort();
        m
    }
    fn open_tasks(&self, user: &str) -> usize {
        self.open.get(user).copied().unwrap_or(0)
    }
    fn last_assigned(&self, role: &str) -> Option<String> {
        self.last.get(role).cloned()
    }
}

pub struct Driver {
    pub project: Project,
    pub people: People,
    pub now: DateTime<Utc>,
    pub instances: BTreeMap<Uuid, Instance>,
    pub logs: BTreeMap<Uuid, Vec<Event>>,
    /// (due, instance, key)
    pub timers: BTreeSet<(DateTime<Utc>, Uuid, smmflow_engine::TimerKey)>,
    pub notices: Vec<(Uuid, Notice)>,
    pub last_rr: HashMap<String, String>,
    /// The workspace's profile (the project's `kind: profile` defaults
    /// filled in), as `update_profile` steps leave it.
    pub profile: Value,
    next_id: u128,
}

pub fn library() -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    let mut sources = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(p) = todo.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                sources.push(Source { path: name, text: std::fs::read_to_string(&path).unwrap() });
            }
        }
    }
    let p = Project::from_sources(sources);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    p
}

pub fn project(files: &[(&str, &str)]) -> Project {
    let p =
        Project::from_sources(files.iter().map(|(n, t)| Source { path: n.to_string(), text: t.to_string() }).collect());
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    p
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

impl Driver {
    pub fn new(project: Project, people: People, now: &str) -> Self {
        Driver {
            project,
            people,
            now: at(now),
            instances: BTreeMap::new(),
            logs: BTreeMap::new(),
            timers: BTreeSet::new(),
            notices: Vec::new(),
            last_rr: HashMap::new(),
            profile: Value::Object(Default::default()),
            next_id: 1,
        }
        .with_profile(serde_json::json!({}))
    }

    /// Sets the workspace's profile (checked against the project's schema).
    pub fn with_profile(mut self, profile: Value) -> Self {
        let schema = self.project.profile.clone().unwrap_or_else(smmflow_spec::Profile::empty);
        self.profile = schema.check(profile).unwrap();
        self
    }

    fn schema(&self) -> smmflow_spec::Profile {
        self.project.profile.clone().unwrap_or_else(smmflow_spec::Profile::empty)
    }

    fn context(&self) -> Value {
        serde_json::json!({"key": "acme", "name": "ACME", "timezone": "Europe/Moscow", "profile": self.profile})
    }

    fn workflow(&self, key: &str) -> Workflow {
        self.project.workflow(key).unwrap_or_else(|| panic!("no workflow {key}")).clone()
    }

    fn calendar(&self, key: Option<&str>) -> Calendar {
        key.and_then(|c| self.project.calendar(c)).cloned().unwrap_or_else(Calendar::default_business)
    }

    fn directory(&self) -> Dir<'_> {
        let mut open = HashMap::new();
        for i in self.instances.values() {
            for t in i.active_tasks() {
                if let Some(a) = &t.assignee {
                    *open.entry(a.clone()).or_default() += 1;
                }
            }
        }
        Dir { people: &self.people, open, last: self.last_rr.clone() }
    }

    pub fn start(&mut self, key: &str, inputs: Value, actor: &str) -> Result<Uuid, Error> {
        let id = Uuid::from_u128(self.next_id);
        self.next_id += 1;
        let more = self.start_one(key, inputs, actor, id, None)?;
        self.cascade(more);
        Ok(id)
    }

    fn start_one(
        &mut self,
        key: &str,
        inputs: Value,
        actor: &str,
        id: Uuid,
        parent: Option<smmflow_engine::model::ParentRef>,
    ) -> Result<Vec<FollowUp>, Error> {
        let Some(wf) = self.project.workflow(key).cloned() else {
            return Err(Error::NotFound(format!("workflow `{key}`")));
        };
        // A subflow without a calendar of its own counts in its parent's.
        let calendar =
            wf.calendar.as_ref().map(|c| c.value.clone()).or_else(|| {
                parent.as_ref().and_then(|p| self.instances.get(&p.instance)).and_then(|i| i.calendar.clone())
            });
        let cal = self.calendar(calendar.as_deref());
        let (schema, current, context) = (self.schema(), self.profile.clone(), self.context());
        let dir = self.directory();
        let env = Env {
            now: self.now,
            workflow: &wf,
            version: 1,
            calendar: &cal,
            directory: &dir,
            profile: Some((&schema, &current)),
        };
        let out = decide::start(
            &env,
            actor,
            Start { id, workspace: "acme".into(), inputs, parent, schedule: None, calendar, context },
        )?;
        drop(dir);
        Ok(self.absorb(id, out))
    }

    /// A command and its cascade, as the runtime runs them: the first
    /// command's refusal is the caller's error; the follow-ups run
    /// breadth-first (`smmflow_engine::cascade`), a refused one changing nothing.
    pub fn command(&mut self, id: Uuid, actor: &str, cmd: Command) -> Result<(), Error> {
        let more = self.command_one(id, actor, cmd)?;
        self.cascade(more);
        Ok(())
    }

    fn cascade(&mut self, first: Vec<FollowUp>) {
        let mut queue: VecDeque<FollowUp> = first.into();
        while let Some(f) = queue.pop_front() {
            match f {
                FollowUp::Start { id, workflow, inputs, actor, parent, .. } => {
                    match self.start_one(&workflow, inputs, &actor, id, Some(parent.clone())) {
                        Ok(more) => queue.extend(more),
                        Err(e) => queue.push_back(cascade::start_failed(id, &parent, &e.to_string())),
                    }
                }
                FollowUp::Command { instance, actor, command } => {
                    if let Ok(more) = self.command_one(instance, &actor, command) {
                        queue.extend(more);
                    }
                }
            }
        }
    }

    fn command_one(&mut self, id: Uuid, actor: &str, cmd: Command) -> Result<Vec<FollowUp>, Error> {
        let state = self.instances.get(&id).cloned().ok_or_else(|| Error::NotFound("instance".into()))?;
        let wf = self.workflow(&state.workflow);
        let cal = self.calendar(state.calendar.as_deref());
        let (schema, current) = (self.schema(), self.profile.clone());
        let dir = self.directory();
        let env = Env {
            now: self.now,
            workflow: &wf,
            version: 1,
            calendar: &cal,
            directory: &dir,
            profile: Some((&schema, &current)),
        };
        let before = state.clone();
        let out = decide::handle(&env, actor, state, cmd);
        drop(dir);
        match out {
            Ok(out) => Ok(self.absorb(id, out)),
            Err(e) => {
                assert_eq!(self.instances[&id], before, "a refused command changed nothing");
                Err(e)
            }
        }
    }

    /// Takes in an outcome; returns its follow-ups in other instances.
    fn absorb(&mut self, id: Uuid, out: smmflow_engine::Outcome) -> Vec<FollowUp> {
        let log = self.logs.entry(id).or_default();
        log.extend(out.events.iter().cloned());
        let replayed = apply::replay(log.iter()).unwrap();
        assert_eq!(replayed, out.state, "replaying the log rebuilds the state");
        let stored: Instance = serde_json::from_value(serde_json::to_value(&out.state).unwrap()).unwrap();
        assert_eq!(stored, out.state, "the state survives a round trip through JSON");
        let logged: Vec<Event> = serde_json::from_value(serde_json::to_value(&out.events).unwrap()).unwrap();
        assert_eq!(logged, out.events, "events survive a round trip through JSON");
        for e in &out.events {
            if let smmflow_engine::EventKind::TaskCreated { task } = &e.kind
                && let (Some(role), Some(a)) = (&task.role, &task.assignee)
            {
                self.last_rr.insert(role.clone(), a.clone());
            }
        }
        let more = cascade::follow_ups(&out.state, &out.actions);
        self.instances.insert(id, out.state);
        for a in out.actions {
            match a {
                Action::SetTimer { key, at } => {
                    self.timers.retain(|(_, i, k)| !(*i == id && *k == key));
                    self.timers.insert((at, id, key));
                }
                Action::ClearTimers { scope } => {
                    self.timers.retain(|(_, i, k)| !(*i == id && scope.covers(&k.to_string())))
                }
                Action::Notify(n) => self.notices.push((id, n)),
                Action::UpdateProfile { set } => {
                    if let Some(m) = self.profile.as_object_mut() {
                        m.extend(set);
                    }
                }
                Action::StartChild { .. }
                | Action::CancelChild { .. }
                | Action::NotifyParent { .. }
                | Action::Publication { .. } => {}
            }
        }
        more
    }

    /// Moves the clock, firing every timer due on the way, in order.
    pub fn advance_to(&mut self, to: DateTime<Utc>) {
        while let Some(first) = self.timers.iter().next().cloned() {
            if first.0 > to {
                break;
            }
            self.timers.remove(&first);
            self.now = self.now.max(first.0);
            let _ = self.command(first.1, "system", Command::TimerFired { key: first.2 });
        }
        self.now = to;
    }

    pub fn advance(&mut self, d: Duration) {
        let to = self.now + d;
        self.advance_to(to);
    }

    pub fn inst(&self, id: Uuid) -> &Instance {
        &self.instances[&id]
    }

    /// Active tasks of an instance (and its children): (instance, task no, step).
    pub fn open(&self, id: Uuid) -> Vec<(Uuid, u32, String)> {
        let mut out: Vec<(Uuid, u32, String)> =
            self.inst(id).active_tasks().map(|t| (id, t.no, t.step.clone())).collect();
        for c in &self.inst(id).children {
            if self.instances.contains_key(&c.id) {
                out.extend(self.open(c.id));
            }
        }
        out
    }

    /// The one active task of a step (panics if there is not exactly one).
    pub fn task(&self, id: Uuid, step: &str) -> u32 {
        let found: Vec<u32> = self.inst(id).active_tasks().filter(|t| t.step == step).map(|t| t.no).collect();
        assert_eq!(found.len(), 1, "active tasks of {step}: {found:?}; open: {:?}", self.open(id));
        found[0]
    }

    pub fn step_status(&self, id: Uuid, step: &str) -> &'static str {
        self.inst(id).step(step).unwrap().status.as_str()
    }

    pub fn events(&self, id: Uuid) -> Vec<&'static str> {
        self.logs[&id].iter().map(|e| e.kind_name()).collect()
    }
}

/// How a simulated person answers a task.
pub enum Answer {
    /// Complete with this output (tasks) or approve (approvals).
    Done(Value),
    Reject(String),
}

impl Driver {
    /// Who could act on a task: its assignee, else its candidates, else its role's members.
    pub fn eligible(&self, id: Uuid, no: u32) -> Vec<String> {
        let t = self.inst(id).task(no).unwrap();
        if let Some(a) = &t.assignee {
            return vec![a.clone()];
        }
        let mut out = t.candidates.clone();
        if let Some(role) = &t.role {
            out.extend(self.people.roles.get(role).cloned().unwrap_or_default());
        }
        out
    }

    /// The first of an approval's `reasons` (a rejection must name one), if it has any.
    fn first_reason(&self, id: Uuid, no: u32) -> Vec<String> {
        let inst = self.inst(id);
        let t = inst.task(no).unwrap();
        let wf = self.project.workflow(&inst.workflow).unwrap();
        match &wf.step(&t.step).unwrap().kind {
            smmflow_spec::StepKind::Approval(a) => a.reasons.iter().take(1).map(|r| r.value.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// A form filled with valid sample values.
    pub fn sample_output(&self, id: Uuid, no: u32) -> Value {
        let inst = self.inst(id);
        let t = inst.task(no).unwrap();
        let wf = self.project.workflow(&inst.workflow).unwrap();
        match &wf.step(&t.step).unwrap().kind {
            smmflow_spec::StepKind::Task(task) => smmflow_spec::field::sample_fields(&task.form),
            _ => Value::Null,
        }
    }

    /// The first eligible person who is allowed to does the task; four-eyes
    /// refusals make the next person try. Returns who did it.
    pub fn answer(&mut self, id: Uuid, no: u32, answer: Answer) -> String {
        let is_approval = self.inst(id).task(no).unwrap().is_approval();
        let reasons = self.first_reason(id, no);
        for user in self.eligible(id, no) {
            let cmd = match (&answer, is_approval) {
                (Answer::Done(_), true) => Command::Approve { task: no, comment: Some("Looks good".into()) },
                (Answer::Done(out), false) => Command::Complete { task: no, output: out.clone() },
                (Answer::Reject(c), _) => Command::Reject { task: no, comment: c.clone(), reasons: reasons.clone() },
            };
            match self.command(id, &user, cmd) {
                Ok(()) => return user,
                Err(Error::Forbidden(_)) => continue,
                Err(e) => panic!("{user} on task {no} of {}: {e}", self.inst(id).workflow),
            }
        }
        panic!("nobody may act on task {no} ({:?})", self.inst(id).task(no));
    }

    /// Works every open task of the instance and its children until none is
    /// left, moving the clock as far as the next timer when people are idle.
    /// `how` decides each answer (None: a valid sample).
    pub fn work_through(
        &mut self,
        id: Uuid,
        limit: DateTime<Utc>,
        mut how: impl FnMut(&Driver, Uuid, &smmflow_engine::Task) -> Option<Answer>,
    ) {
        loop {
            let open = self.open(id);
            if let Some((inst, no, _)) = open.first().cloned() {
                let task = self.inst(inst).task(no).unwrap().clone();
                let answer = how(self, inst, &task).unwrap_or_else(|| Answer::Done(self.sample_output(inst, no)));
                self.answer(inst, no, answer);
                continue;
            }
            if self.inst(id).status.is_finished() {
                return;
            }
            let Some(next) = self.timers.iter().next().map(|t| t.0) else { return };
            if next > limit {
                return;
            }
            self.advance_to(next);
        }
    }
}
