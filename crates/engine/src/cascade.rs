//! What a decision sets off in other instances: children of a subflow step
//! to start or cancel, a parent to tell that its child ended. A pure
//! function of the outcome, so the runtime and the engine's test driver
//! run the same cascade, in the same order: breadth-first (every follow-up
//! of a decision before any follow-up of theirs), each decided on the
//! state the ones before it left.

use serde_json::Value;
use uuid::Uuid;

use crate::command::{Action, Command};
use crate::event::SYSTEM;
use crate::model::{Instance, InstanceStatus, ParentRef};

/// One thing to decide next, in another instance.
#[derive(Clone, Debug, PartialEq)]
pub enum FollowUp {
    /// Start a child of a subflow step, in the parent's workspace, as its starter.
    Start { id: Uuid, workflow: String, workspace: String, inputs: Value, actor: String, parent: ParentRef },
    /// A command on another instance, by the system.
    Command { instance: Uuid, actor: String, command: Command },
}

/// The follow-ups of a decision, in the order its actions name them.
pub fn follow_ups(state: &Instance, actions: &[Action]) -> Vec<FollowUp> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartChild { id, workflow, inputs, parent } => Some(FollowUp::Start {
                id: *id,
                workflow: workflow.clone(),
                workspace: state.workspace.clone(),
                inputs: inputs.clone(),
                actor: state.started_by.clone(),
                parent: parent.clone(),
            }),
            Action::CancelChild { id, reason } => Some(system(*id, Command::Cancel { reason: reason.clone() })),
            Action::NotifyParent { parent, child, status, outputs } => Some(system(
                parent.instance,
                Command::ChildFinished { child: *child, status: *status, outputs: outputs.clone() },
            )),
            Action::SetTimer { .. }
            | Action::ClearTimers { .. }
            | Action::Notify(_)
            | Action::UpdateProfile { .. }
            | Action::Publication { .. } => None,
        })
        .collect()
}

/// A child that could not start (its inputs refused, its workflow gone) is
/// reported to its parent as failed, with the reason as its outputs.
pub fn start_failed(child: Uuid, parent: &ParentRef, reason: &str) -> FollowUp {
    system(
        parent.instance,
        Command::ChildFinished { child, status: InstanceStatus::Failed, outputs: Value::String(reason.to_string()) },
    )
}

fn system(instance: Uuid, command: Command) -> FollowUp {
    FollowUp::Command { instance, actor: SYSTEM.to_string(), command }
}
