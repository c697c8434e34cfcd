//! Sessions and permission handles are the runtime's (`smmflow_runtime::
//! access`): the API only attaches the request's session to the GraphQL
//! context and calls the handles' operations.

pub use smmflow_runtime::access::{Admin, CanDeploy, LeadOf, MemberOf, Session, Signed, Viewer};
pub use smmflow_runtime::admin::{hash_token, new_token};
