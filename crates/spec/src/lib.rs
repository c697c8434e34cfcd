//! smmflow-spec: workflow and calendar files -> validated definitions,
//! diagnostics, JSON Schema and Mermaid diagrams.
//!
//! Pure: no tokio, no database, no clock. It compiles expressions, cron and
//! durations to check them; the engine evaluates them.
//!
//! The pipeline: [`yaml::parse`] builds a tree that keeps positions, the
//! decoders in each definition module read it into typed definitions while
//! reporting every problem ([`diag::Sink`]), [`check`] checks one workflow,
//! and [`project::Project`] checks files against each other.

pub mod calendar;
pub mod check;
pub mod cron;
pub mod decode;
pub mod diag;
pub mod duration;
pub mod escalation;
pub mod expr;
pub mod field;
pub mod local_time;
pub mod mermaid;
pub mod notify;
pub mod profile;
pub mod project;
pub mod recipient;
pub mod schedule;
pub mod schema;
pub mod step;
pub mod text;
pub mod time;
pub mod workflow;
pub mod yaml;

pub use calendar::Calendar;
pub use diag::{Code, Diagnostic, Pos, Severity};
pub use duration::Duration;
pub use profile::{PostingLimit, Profile};
pub use project::{Document, Project, Source};
pub use step::{Step, StepKind};
pub use workflow::Workflow;
