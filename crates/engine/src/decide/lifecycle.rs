//! The instance's life: cancel, suspend, resume, retry an incident, hear
//! from a child, and end.

use serde_json::Value;
use uuid::Uuid;

use super::Run;
use crate::command::{Action, Error};
use crate::event::EventKind;
use crate::model::{InstanceStatus, StepStatus};

impl<'a> Run<'_, 'a> {
    pub(super) fn cancel(&mut self, reason: &str) -> Result<(), Error> {
        if self.state.status.is_finished() {
            return Err(Error::Conflict(format!("the instance is already {}", self.state.status.as_str())));
        }
        if reason.trim().is_empty() {
            return Err(Error::bad_input("say why the instance is cancelled"));
        }
        self.end_instance(InstanceStatus::Cancelled, reason.to_string());
        Ok(())
    }

    /// Ends the instance as cancelled or failed: open tasks cancelled,
    /// running children cancelled, timers dropped, parent told.
    pub(super) fn end_instance(&mut self, status: InstanceStatus, reason: String) {
        let open: Vec<u32> = self.state.active_tasks().map(|t| t.no).collect();
        for no in open {
            self.emit(EventKind::TaskCancelled { task: no, reason: format!("instance {}", status.as_str()) });
        }
        let children: Vec<Uuid> = self.state.children.iter().filter(|c| !c.finished).map(|c| c.id).collect();
        for id in children {
            self.act(Action::CancelChild { id, reason: format!("parent instance {}: {reason}", status.as_str()) });
        }
        let kind = match status {
            InstanceStatus::Failed => EventKind::InstanceFailed { reason },
            _ => EventKind::InstanceCancelled { reason },
        };
        self.emit(kind);
        self.ended(status, Value::Null);
    }

    pub(super) fn suspend(&mut self) -> Result<(), Error> {
        self.require_running()?;
        self.emit(EventKind::InstanceSuspended);
        Ok(())
    }

    pub(super) fn resume(&mut self) -> Result<(), Error> {
        if self.state.status != InstanceStatus::Suspended {
            return Err(Error::Conflict(format!("the instance is {}, not suspended", self.state.status.as_str())));
        }
        let held = self.state.held_timers.clone();
        self.emit(EventKind::InstanceResumed);
        self.rearm_held(held);
        let ready: Vec<String> =
            self.state.steps.iter().filter(|(_, s)| s.status == StepStatus::Ready).map(|(id, _)| id.clone()).collect();
        for id in ready {
            self.check_step_done(&id);
        }
        self.progress();
        Ok(())
    }

    /// Clears a step's incident and evaluates it again.
    pub(super) fn retry_step(&mut self, id: &str) -> Result<(), Error> {
        self.require_running()?;
        let step = self.def(id).ok_or_else(|| Error::NotFound(format!("step `{id}`")))?;
        let st = self.state.step(id).ok_or_else(|| Error::NotFound(format!("step `{id}`")))?;
        if st.incident.is_none() {
            return Err(Error::Conflict(format!("step `{id}` has no incident to retry")));
        }
        let status = st.status;
        self.emit(EventKind::IncidentCleared { step: id.to_string() });
        if status == StepStatus::Ready {
            self.activate(step);
        }
        self.progress();
        Ok(())
    }

    pub(super) fn child_finished(&mut self, child: Uuid, status: InstanceStatus, outputs: Value) {
        let Some(c) = self.state.children.iter().find(|c| c.id == child).cloned() else { return };
        if c.finished || self.state.status.is_finished() {
            return;
        }
        let outputs = if status == InstanceStatus::Completed { outputs } else { Value::Null };
        self.emit(EventKind::ChildFinished {
            step: c.step.clone(),
            item: c.item,
            child,
            status: status.as_str().to_string(),
            outputs,
        });
        if self.running() {
            self.check_step_done(&c.step);
            self.progress();
        }
    }
}
