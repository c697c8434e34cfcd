//! Relay global ids: `base64url("Type:key")`, opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeId {
    Instance(Uuid),
    Task(Uuid, u32),
    Workspace(String),
    User(String),
    Workflow(String, i32),
    Notification(String),
    /// A publication, by its instance's id.
    Publication(String),
}

impl NodeId {
    pub fn encode(&self) -> String {
        let raw = match self {
            NodeId::Instance(id) => format!("Instance:{id}"),
            NodeId::Task(id, no) => format!("Task:{id}:{no}"),
            NodeId::Workspace(k) => format!("Workspace:{k}"),
            NodeId::User(l) => format!("User:{l}"),
            NodeId::Workflow(k, v) => format!("Workflow:{k}:{v}"),
            NodeId::Notification(id) => format!("Notification:{id}"),
            NodeId::Publication(id) => format!("Publication:{id}"),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(id: &str) -> ApiResult<NodeId> {
        let bad = || ApiError::NotFound(format!("no object has the id `{id}`"));
        let raw = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (kind, rest) = raw.split_once(':').ok_or_else(bad)?;
        Ok(match kind {
            "Instance" => NodeId::Instance(rest.parse().map_err(|_| bad())?),
            "Task" => {
                let (i, no) = rest.rsplit_once(':').ok_or_else(bad)?;
                NodeId::Task(i.parse().map_err(|_| bad())?, no.parse().map_err(|_| bad())?)
            }
            "Workspace" => NodeId::Workspace(rest.to_string()),
            "User" => NodeId::User(rest.to_string()),
            "Workflow" => {
                let (k, v) = rest.rsplit_once(':').ok_or_else(bad)?;
                NodeId::Workflow(k.to_string(), v.parse().map_err(|_| bad())?)
            }
            "Notification" => NodeId::Notification(rest.to_string()),
            "Publication" => NodeId::Publication(rest.to_string()),
            _ => return Err(bad()),
        })
    }

    pub fn instance(id: &str) -> ApiResult<Uuid> {
        match NodeId::decode(id)? {
            NodeId::Instance(i) => Ok(i),
            _ => Err(ApiError::NotFound(format!("`{id}` is not an instance id"))),
        }
    }

    pub fn notification(id: &str) -> ApiResult<String> {
        match NodeId::decode(id)? {
            NodeId::Notification(n) => Ok(n),
            _ => Err(ApiError::NotFound(format!("`{id}` is not a notification id"))),
        }
    }

    pub fn task(id: &str) -> ApiResult<(Uuid, u32)> {
        match NodeId::decode(id)? {
            NodeId::Task(i, n) => Ok((i, n)),
            _ => Err(ApiError::NotFound(format!("`{id}` is not a task id"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_garbage_is_not_found() {
        let id = NodeId::Task(Uuid::nil(), 7);
        assert_eq!(NodeId::decode(&id.encode()).ok(), Some(id));
        assert!(NodeId::decode("garbage!").is_err());
        assert!(NodeId::task(&NodeId::User("anna".into()).encode()).is_err());
    }
}
