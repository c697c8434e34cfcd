//! smmflow-engine: the deciding core. Given an instance's state, a command and
//! the time, it returns events and actions, and does no IO: no clock, no
//! database, no network. The runtime executes the actions.
//!
//! - [`decide::start`] and [`decide::handle`] decide;
//! - [`apply::apply`] folds an event into the state, and [`apply::replay`]
//!   rebuilds an instance from its log;
//! - [`time`] holds the business-hours and cron maths.

pub mod apply;
pub mod cascade;
pub mod command;
pub mod decide;
pub mod eval;
pub mod event;
pub mod limits;
pub mod model;
pub mod schedule;
pub mod time;
pub mod timer_key;

pub use command::{Action, Code, Command, Directory, Env, Error, Notice, Outcome, Start};
pub use event::{Event, EventKind};
pub use model::{Instance, InstanceStatus, StepStatus, Task, TaskKind, TaskStatus};
pub use timer_key::{TimerKey, TimerScope};
