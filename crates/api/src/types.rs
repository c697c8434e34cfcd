//! The API's own types: nothing here is a storage entity or an engine type;
//! they wrap them and decide what clients see.

pub mod analytics;
pub mod client;
pub mod enums;
pub mod feed;
pub mod forecast;
pub mod instance;
pub mod notification;
pub mod page;
pub mod people;
pub mod publication;
pub mod rounds;
pub mod schedule;
pub mod task;
pub mod workflow;

use async_graphql::Interface;

pub use instance::InstanceObj;
pub use notification::NotificationObj;
pub use people::{UserObj, WorkspaceObj};
pub use task::TaskObj;
pub use workflow::WorkflowObj;

/// Anything with a global id (`node(id:)`).
#[derive(Interface)]
#[graphql(name = "Node", field(name = "id", ty = "async_graphql::ID", desc = "The global id, for `node(id:)`."))]
pub enum Node {
    Instance(InstanceObj),
    Task(TaskObj),
    Workspace(WorkspaceObj),
    Schedule(schedule::ScheduleObj),
    User(UserObj),
    Workflow(WorkflowObj),
    Notification(NotificationObj),
    Publication(publication::PublicationObj),
}
