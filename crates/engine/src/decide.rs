//! Deciding: a command and the current state in, events and actions out.
//!
//! Every decision goes through [`Run`]: events are applied to the state the
//! moment they are emitted, so later decisions in the same command see them,
//! and the outcome's state is exactly the fold of the log.

mod lifecycle;
mod profile;
mod progress;
mod tasks;
mod timers;

use std::collections::HashSet;

use serde_json::Value;
use smmflow_spec::notify::Event as NotifyEvent;
use smmflow_spec::step::Step;
use smmflow_spec::{StepKind, Workflow};

use crate::apply;
use crate::command::{Action, Command, Env, Error, Notice, Outcome, Start};
use crate::event::{Event, EventKind};
use crate::model::{Instance, InstanceStatus};

pub(crate) struct Run<'e, 'a> {
    env: &'e Env<'a>,
    actor: String,
    state: Instance,
    events: Vec<Event>,
    actions: Vec<Action>,
}

/// Starts an instance: checks the inputs against the workflow's, applies
/// defaults, and runs it as far as it goes.
pub fn start(env: &Env<'_>, actor: &str, start: Start) -> Result<Outcome, Error> {
    let wf = env.workflow;
    crate::limits::value(&start.inputs)?;
    let mut inputs = match start.inputs {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        other => return Err(Error::bad_input(format!("inputs must be a mapping of names to values, not {other}"))),
    };
    smmflow_spec::field::apply_defaults(&wf.inputs, &mut inputs);
    let mut fields = Vec::new();
    smmflow_spec::field::check_fields(&wf.inputs, &inputs, &["inputs".to_string()], &mut fields);
    if !fields.is_empty() {
        return Err(Error::BadUserInput { message: "the inputs do not fit the workflow".into(), fields });
    }
    let first = Event {
        seq: 1,
        at: env.now,
        actor: actor.to_string(),
        kind: EventKind::InstanceStarted {
            id: start.id,
            workflow: wf.key.value.clone(),
            version: env.version,
            workspace: start.workspace,
            inputs: Value::Object(inputs),
            steps: wf.steps.iter().map(|s| s.id.value.clone()).collect(),
            parent: start.parent,
            schedule: start.schedule,
            calendar: start.calendar,
            context: start.context,
        },
    };
    let state = apply::start(&first).ok_or_else(|| Error::bad_input("cannot start"))?;
    let mut run = Run { env, actor: actor.to_string(), state, events: vec![first], actions: Vec::new() };
    if let Some(p) = &wf.publication {
        let publication = run.publication(p)?;
        run.act(publication);
    }
    run.notice(NotifyEvent::InstanceStarted, None, None, None);
    run.progress();
    Ok(run.finish())
}

/// Decides one command on an instance.
pub fn handle(env: &Env<'_>, actor: &str, state: Instance, command: Command) -> Result<Outcome, Error> {
    crate::limits::command(&command)?;
    let mut run = Run { env, actor: actor.to_string(), state, events: Vec::new(), actions: Vec::new() };
    match command {
        Command::TimerFired { key } => run.timer_fired(&key),
        Command::ChildFinished { child, status, outputs } => run.child_finished(child, status, outputs),
        Command::Cancel { reason } => run.cancel(&reason)?,
        Command::Suspend => run.suspend()?,
        Command::Resume => run.resume()?,
        Command::RetryStep { step } => run.retry_step(&step)?,
        Command::Claim { task } => run.claim(task)?,
        Command::Release { task } => run.release(task)?,
        Command::Complete { task, output } => run.complete(task, output)?,
        Command::Approve { task, comment } => run.decide_approval(task, true, comment, Vec::new())?,
        Command::Reject { task, comment, reasons } => run.decide_approval(task, false, Some(comment), reasons)?,
        Command::DecideByLink { task, approve, comment, reasons } => {
            run.decide_by_link(task, approve, comment, reasons)?
        }
        Command::Reassign { task, user } => run.reassign(task, &user)?,
        Command::Comment { task, body } => run.comment(task, body)?,
    }
    Ok(run.finish())
}

impl<'a> Run<'_, 'a> {
    fn finish(self) -> Outcome {
        Outcome { state: self.state, events: self.events, actions: self.actions }
    }

    fn workflow(&self) -> &'a Workflow {
        self.env.workflow
    }

    fn def(&self, id: &str) -> Option<&'a Step> {
        self.env.workflow.step(id)
    }

    fn emit(&mut self, kind: EventKind) {
        let actor = self.actor.clone();
        self.emit_as(&actor, kind);
    }

    fn emit_as(&mut self, actor: &str, kind: EventKind) {
        let e = Event { seq: self.state.seq + 1, at: self.env.now, actor: actor.to_string(), kind };
        apply::apply(&mut self.state, &e);
        self.events.push(e);
    }

    fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    fn notice(&mut self, event: NotifyEvent, task: Option<u32>, step: Option<&str>, comment: Option<String>) {
        self.act(Action::Notify(Notice::Event {
            event,
            task,
            step: step.map(str::to_string),
            comment,
            follow_up: None,
        }));
    }

    fn running(&self) -> bool {
        self.state.status == InstanceStatus::Running
    }

    /// Refuses commands on instances that are not running.
    fn require_running(&self) -> Result<(), Error> {
        match self.state.status {
            InstanceStatus::Running => Ok(()),
            InstanceStatus::Suspended => Err(Error::Conflict("the instance is suspended; a lead can resume it".into())),
            s => Err(Error::Conflict(format!("the instance is {}", s.as_str()))),
        }
    }

    /// The scope `sources` are evaluated in, with only the steps they read.
    fn scope(&self, item: Option<(usize, &Value)>, sources: &[crate::eval::Src<'_>]) -> Value {
        crate::eval::scope_reading(&self.state, self.env.now, item, &crate::eval::Reads::of(sources))
    }

    fn incident(&mut self, step: &str, message: String) {
        self.emit(EventKind::IncidentRaised { step: step.to_string(), message });
    }

    /// Users who completed the steps a step must be distinct from: explicit
    /// `distinct_from`, or for approvals the step's direct predecessors.
    fn excluded_users(&self, step: &Step) -> HashSet<String> {
        let explicit = match &step.kind {
            StepKind::Task(t) => t.distinct_from.as_ref(),
            StepKind::Approval(a) => a.distinct_from.as_ref(),
            _ => None,
        };
        let ids: Vec<&str> = match (explicit, &step.kind) {
            (Some(list), _) => list.iter().map(|s| s.value.as_str()).collect(),
            (None, StepKind::Approval(_)) => step.common.after.iter().map(|s| s.value.as_str()).collect(),
            _ => Vec::new(),
        };
        let mut out = HashSet::new();
        for id in ids {
            match self.state.step(id).and_then(|s| s.completed_by.as_ref()) {
                Some(Value::String(u)) => {
                    out.insert(u.clone());
                }
                Some(Value::Array(list)) => out.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string))),
                _ => {}
            }
        }
        out
    }
}
