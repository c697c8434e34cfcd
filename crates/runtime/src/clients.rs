//! A workspace is a client: its settings (timezone, business calendar,
//! posting limits) and its typed profile, checked against the deployed
//! `kind: profile` document on every write and kept with every version.
//! Instances see it as `workspace` (pinned when they start); changing it
//! re-evaluates the `workspaces:` schedules of every workflow.

use std::sync::Arc;

use serde_json::{Value, json};
use smmflow_engine::Code;
use smmflow_spec::Profile;
use smmflow_spec::decode::is_key;
use smmflow_spec::profile::{PostingLimit, limits_from_json};
use smmflow_store::{DocumentKind, ProfileVersion, Tx, WorkspaceRow};

use crate::exec::Buffer;
use crate::{Error, Issue, Result, Runtime};

/// A workspace as a command sees it: its row, the profile schema, and its
/// profile with the schema's defaults filled in.
pub(crate) struct Client {
    pub row: Option<WorkspaceRow>,
    pub schema: Arc<Profile>,
    pub profile: Value,
}

impl Default for Client {
    fn default() -> Self {
        Client { row: None, schema: Arc::new(Profile::empty()), profile: json!({}) }
    }
}

impl Client {
    /// What `update_profile` steps decide with.
    pub fn profile_env(&self, needed: bool) -> Option<(&Profile, &Value)> {
        needed.then_some((self.schema.as_ref(), &self.profile))
    }

    /// `workspace` in expressions.
    pub fn context(&self, key: &str) -> Value {
        match &self.row {
            Some(w) => json!({"key": w.key, "name": w.name, "timezone": w.timezone, "profile": self.profile}),
            None => json!({"key": key, "name": key, "timezone": "UTC", "profile": {}}),
        }
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.row.as_ref().and_then(|w| w.timezone.parse().ok()).unwrap_or(chrono_tz::UTC)
    }

    pub fn limits(&self) -> Vec<PostingLimit> {
        let items = self.row.as_ref().and_then(|w| w.posting_limits.as_array().cloned()).unwrap_or_default();
        limits_from_json(&items).unwrap_or_default()
    }
}

/// A profile with the schema's defaults filled in (a stored profile stays
/// valid when the schema gains fields with defaults).
pub(crate) fn with_defaults(schema: &Profile, profile: &Value) -> Value {
    let mut map = profile.as_object().cloned().unwrap_or_default();
    smmflow_spec::field::apply_defaults(&schema.fields, &mut map);
    Value::Object(map)
}

/// A workspace to create; `None` takes the default.
#[derive(Clone, Debug, Default)]
pub struct NewWorkspace {
    pub key: String,
    pub name: String,
    pub timezone: Option<String>,
    pub calendar: Option<String>,
    pub profile: Option<Value>,
}

/// Changes to a workspace; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub timezone: Option<String>,
    /// `Some("")` removes the calendar.
    pub calendar: Option<String>,
    /// Replaces the whole profile.
    pub profile: Option<Value>,
    /// Replaces every limit (the API's shape: `channel maxPerDay minGap`).
    pub posting_limits: Option<Vec<Value>>,
}

/// A workspace with its settings as people see them.
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    pub key: String,
    pub name: String,
    pub timezone: String,
    pub calendar: Option<String>,
    pub profile: Value,
    pub profile_version: i32,
    pub posting_limits: Vec<PostingLimit>,
}

fn issue(field: &str, message: impl Into<String>) -> Issue {
    Issue::new(vec![field.to_string()], message, Code::BadUserInput)
}

impl Runtime {
    /// The workspace as this transaction (and the buffers) see it.
    pub(crate) async fn client(&self, tx: &Tx, unit: &mut Buffer, group: &Buffer, key: &str) -> Result<Arc<Client>> {
        if group.changes_profile(key) {
            return Err(Error::FlushFirst);
        }
        let pending = unit.pending_profile(key);
        if pending.is_none()
            && let Some(c) = unit.clients.get(key).or_else(|| group.clients.get(key))
        {
            return Ok(c.clone());
        }
        let mut row = tx.workspace(key).await?;
        // This request's own `update_profile` steps, not yet written.
        if let (Some(w), Some(set)) = (row.as_mut(), &pending)
            && let Some(m) = w.profile.as_object_mut()
        {
            m.extend(set.clone());
        }
        let schema = self.defs.profile(tx).await?;
        let profile = row.as_ref().map_or_else(|| json!({}), |w| with_defaults(&schema, &w.profile));
        if pending.is_some() {
            return Ok(Arc::new(Client { row, schema, profile }));
        }
        let c = Arc::new(Client { row, schema, profile });
        unit.clients.insert(key.to_string(), c.clone());
        Ok(c)
    }

    async fn check_settings(
        &self,
        tx: &Tx,
        timezone: Option<&str>,
        calendar: Option<&str>,
        issues: &mut Vec<Issue>,
    ) -> Result<()> {
        if let Some(tz) = timezone
            && let Err(e) = smmflow_spec::time::timezone(tz.trim())
        {
            issues.push(issue("timezone", e));
        }
        if let Some(cal) = calendar.filter(|c| !c.is_empty())
            && tx.document(DocumentKind::Calendar, cal, None).await?.is_none()
        {
            issues.push(issue("calendar", format!("no calendar `{}` is deployed", cal.escape_debug())));
        }
        Ok(())
    }

    pub(crate) async fn create_client(&self, new: NewWorkspace, by: &str) -> Result<Workspace> {
        if !is_key(&new.key) {
            return Err(Error::Field {
                field: "key".into(),
                message: "a workspace key is lower case letters, digits and dashes, 2-63 long, starting with a letter"
                    .into(),
            });
        }
        smmflow_spec::text::name(&new.name)
            .map_err(|m| Error::Field { field: "name".into(), message: format!("a name {m}") })?;
        let now = self.now();
        let tx = self.store.begin().await?;
        let mut issues = Vec::new();
        self.check_settings(&tx, new.timezone.as_deref(), new.calendar.as_deref(), &mut issues).await?;
        let schema = self.defs.profile(&tx).await?;
        let profile = match schema.check(new.profile.clone().unwrap_or(Value::Null)) {
            Ok(p) => p,
            Err(errors) => {
                issues.extend(Issue::fields("profile", errors));
                Value::Null
            }
        };
        if !issues.is_empty() {
            return Err(Error::Items(issues));
        }
        let mut row = WorkspaceRow::new(&new.key, &new.name, now);
        if let Some(tz) = new.timezone {
            row.timezone = tz.trim().to_string();
        }
        row.calendar = new.calendar.filter(|c| !c.is_empty());
        // A profile given explicitly is version 1; otherwise the schema's
        // defaults are, when there are any.
        row.profile = profile;
        row.posting_limits = Value::Array(schema.posting_limits.iter().map(PostingLimit::to_json).collect());
        tx.insert_workspace(&row, by).await.map_err(|e| match e {
            smmflow_store::Error::AlreadyExists(m) => {
                Error::FieldConflict { field: "key".into(), message: format!("{m} exists already") }
            }
            other => other.into(),
        })?;
        self.sync_client_schedules(&tx, &new.key).await?;
        tx.commit().await?;
        self.workspace_settings(&new.key).await
    }

    pub(crate) async fn update_client(&self, key: &str, change: WorkspaceChange, by: &str) -> Result<Workspace> {
        if let Some(n) = &change.name {
            smmflow_spec::text::name(n)
                .map_err(|m| Error::Field { field: "name".into(), message: format!("a name {m}") })?;
        }
        let now = self.now();
        let tx = self.store.begin().await?;
        let mut row =
            tx.workspace_for_update(key).await?.ok_or_else(|| Error::NotFound(format!("workspace `{key}`")))?;
        let mut issues = Vec::new();
        self.check_settings(&tx, change.timezone.as_deref(), change.calendar.as_deref(), &mut issues).await?;
        let schema = self.defs.profile(&tx).await?;
        let mut profile_changed = false;
        if let Some(p) = change.profile {
            match schema.check(p) {
                Ok(p) => {
                    profile_changed = p != row.profile;
                    row.profile = p;
                }
                Err(errors) => issues.extend(Issue::fields("profile", errors)),
            }
        }
        if let Some(items) = change.posting_limits {
            match limits_from_json(&items) {
                Ok(limits) => row.posting_limits = Value::Array(limits.iter().map(PostingLimit::to_json).collect()),
                Err(e) => {
                    let mut path = vec!["postingLimits".to_string()];
                    path.extend(e.path);
                    issues.push(Issue::new(path, e.message, Code::BadUserInput));
                }
            }
        }
        if !issues.is_empty() {
            return Err(Error::Items(issues));
        }
        if let Some(n) = change.name {
            row.name = n;
        }
        if let Some(tz) = change.timezone {
            row.timezone = tz.trim().to_string();
        }
        if let Some(c) = change.calendar {
            row.calendar = Some(c).filter(|c| !c.is_empty());
        }
        tx.update_workspace(&row, profile_changed, now, by).await?;
        self.sync_client_schedules(&tx, key).await?;
        tx.commit().await?;
        self.workspace_settings(key).await
    }

    /// A workspace's settings, with its profile's defaults filled in.
    pub(crate) async fn workspace_settings(&self, key: &str) -> Result<Workspace> {
        let row = self.store.workspace(key).await?.ok_or_else(|| Error::NotFound(format!("workspace `{key}`")))?;
        let schema = self.profile_schema().await?;
        Ok(Workspace {
            profile: with_defaults(&schema, &row.profile),
            posting_limits: limits_from_json(row.posting_limits.as_array().map_or(&[][..], |v| v.as_slice()))
                .unwrap_or_default(),
            key: row.key,
            name: row.name,
            timezone: row.timezone,
            calendar: row.calendar,
            profile_version: row.profile_version,
        })
    }

    /// The deployed profile schema (an empty one when none is deployed).
    pub(crate) async fn profile_schema(&self) -> Result<Arc<Profile>> {
        let tx = self.store.begin_read().await?;
        self.defs.profile(&tx).await
    }

    pub(crate) async fn profile_history(&self, key: &str, limit: u64) -> Result<Vec<ProfileVersion>> {
        Ok(self.store.profile_history(key, limit.clamp(1, 1000)).await?)
    }
}
