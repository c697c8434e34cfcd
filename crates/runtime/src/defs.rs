//! Deployed definitions: deploying folders and single files (a new version
//! only when the content is new), and a cache of parsed definitions by
//! (key, version) so a command never parses YAML.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use smmflow_spec::project::{Project, Source};
use smmflow_spec::{Calendar, Diagnostic, Profile, Workflow};
use smmflow_store::{DocumentKind, Store, Tx};

use crate::{Error, Result};

/// A workflow version ready to run.
pub struct Def {
    pub workflow: Workflow,
    pub version: i32,
    /// It assigns by round robin or least busy, so commands load task counts.
    pub needs_load: bool,
    /// It has `update_profile` steps, so commands load the workspace's profile.
    pub needs_profile: bool,
}

#[derive(Default)]
pub(crate) struct Cache {
    defs: RwLock<HashMap<(String, i32), Arc<Def>>>,
    calendars: RwLock<HashMap<(String, i32), Arc<Calendar>>>,
    profiles: RwLock<HashMap<i32, Arc<Profile>>>,
}

/// What a deploy did to one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub kind: &'static str,
    pub key: String,
    pub version: i32,
    pub created: bool,
}

/// The result of deploying a folder: what was deployed, and the files refused.
#[derive(Clone, Debug, Default)]
pub struct DeployReport {
    pub deployed: Vec<Deployed>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn needs_load(wf: &Workflow) -> bool {
    use smmflow_spec::step::task::Assign;
    wf.steps.iter().any(|s| matches!(&s.kind, smmflow_spec::StepKind::Task(t) if matches!(t.assign, Assign::RoundRobin | Assign::LeastBusy)))
}

fn parse_workflow(source: &str) -> Result<Workflow> {
    let mut sink = smmflow_spec::diag::Sink::new("stored");
    match smmflow_spec::project::load_document(source, &mut sink) {
        Some(smmflow_spec::Document::Workflow(w)) => Ok(*w),
        _ => Err(Error::Internal("a stored workflow no longer parses".into())),
    }
}

fn parse_calendar(source: &str) -> Option<Calendar> {
    let mut sink = smmflow_spec::diag::Sink::new("stored");
    match smmflow_spec::project::load_document(source, &mut sink) {
        Some(smmflow_spec::Document::Calendar(c)) => Some(*c),
        _ => None,
    }
}

impl Cache {
    /// The definition of a workflow version (the latest when `version` is None), read in `tx`.
    pub(crate) async fn get(&self, tx: &Tx, key: &str, version: Option<i32>) -> Result<Arc<Def>> {
        let not_found = || Error::NotFound(format!("workflow `{key}`"));
        // The latest version's number alone first: its definition is
        // usually parsed already (a start reads one index entry, not the source).
        let version = match version {
            Some(v) => v,
            None => tx.latest_version(DocumentKind::Workflow, key).await?.ok_or_else(not_found)?,
        };
        if let Some(d) = self.defs.read().ok().and_then(|m| m.get(&(key.to_string(), version)).cloned()) {
            return Ok(d);
        }
        let doc = tx.document(DocumentKind::Workflow, key, Some(version)).await?.ok_or_else(not_found)?;
        let workflow = parse_workflow(&doc.source)?;
        let needs_profile = workflow.steps.iter().any(|s| matches!(s.kind, smmflow_spec::StepKind::UpdateProfile(_)));
        let def = Arc::new(Def { needs_load: needs_load(&workflow), needs_profile, workflow, version: doc.version });
        if let Ok(mut m) = self.defs.write() {
            m.insert((key.to_string(), doc.version), def.clone());
        }
        Ok(def)
    }
}

impl Cache {
    /// A calendar by key, at its latest deployed version (the default
    /// business calendar for none, or for a key that is not deployed).
    pub(crate) async fn calendar(&self, tx: &Tx, key: Option<&str>) -> Result<Arc<Calendar>> {
        let Some(key) = key else { return Ok(Arc::new(Calendar::default_business())) };
        let Some(doc) = tx.document(DocumentKind::Calendar, key, None).await? else {
            return Ok(Arc::new(Calendar::default_business()));
        };
        let id = (key.to_string(), doc.version);
        if let Some(c) = self.calendars.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(c);
        }
        let cal = Arc::new(parse_calendar(&doc.source).unwrap_or_else(Calendar::default_business));
        if let Ok(mut m) = self.calendars.write() {
            m.insert(id, cal.clone());
        }
        Ok(cal)
    }
}

impl Cache {
    /// The deployed profile schema (an empty one when none is deployed).
    pub(crate) async fn profile(&self, tx: &Tx) -> Result<Arc<Profile>> {
        let key = smmflow_spec::profile::PROFILE_KEY;
        let Some(doc) = tx.document(DocumentKind::Profile, key, None).await? else {
            return Ok(Arc::new(Profile::empty()));
        };
        if let Some(p) = self.profiles.read().ok().and_then(|m| m.get(&doc.version).cloned()) {
            return Ok(p);
        }
        let mut sink = smmflow_spec::diag::Sink::new("stored");
        let profile = match smmflow_spec::project::load_document(&doc.source, &mut sink) {
            Some(smmflow_spec::Document::Profile(p)) => Arc::new(*p),
            _ => return Err(Error::Internal("the stored profile document no longer parses".into())),
        };
        if let Ok(mut m) = self.profiles.write() {
            m.insert(doc.version, profile.clone());
        }
        Ok(profile)
    }
}

/// Reads a folder as sources named relative to it.
pub fn read_folder(dir: &Path) -> std::io::Result<Vec<Source>> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        for e in std::fs::read_dir(&p)? {
            let path = e?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".j2") {
                    files.push(Source { path: name, text: std::fs::read_to_string(&path)? });
                }
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Deploys every valid document of `sources` in one transaction; files with
/// errors (and the workflows that depend on them) are refused and reported.
pub(crate) async fn deploy_sources(
    store: &Store,
    sources: Vec<Source>,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
    min_interval: u32,
) -> Result<DeployReport> {
    let mut project = Project::from_sources(sources.clone());
    for wf in &project.workflows {
        let file = project.workflow_files.get(&wf.key.value).cloned().unwrap_or_default();
        let mut sink = smmflow_spec::diag::Sink::new(file);
        smmflow_spec::check::check_intervals(wf, min_interval, &mut sink);
        project.diagnostics.extend(sink.into_vec());
    }
    let bad: std::collections::HashSet<&str> =
        project.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.file.as_str()).collect();
    let mut report = DeployReport { deployed: Vec::new(), diagnostics: project.diagnostics.clone() };
    let tx = store.begin().await?;
    for src in &sources {
        if bad.contains(src.path.as_str()) || src.path.ends_with(".j2") {
            continue;
        }
        let mut sink = smmflow_spec::diag::Sink::new(src.path.clone());
        let (kind, key) = match smmflow_spec::project::load_document(&src.text, &mut sink) {
            Some(smmflow_spec::Document::Workflow(w)) => (DocumentKind::Workflow, w.key.value),
            Some(smmflow_spec::Document::Calendar(c)) => (DocumentKind::Calendar, c.key.value),
            Some(smmflow_spec::Document::Profile(_)) => {
                (DocumentKind::Profile, smmflow_spec::profile::PROFILE_KEY.to_string())
            }
            None => continue,
        };
        let (version, created) = tx.deploy(kind, &key, &src.text, &content_hash(&src.text), by, now).await?;
        report.deployed.push(Deployed { kind: kind.as_str(), key, version, created });
    }
    for (name, t) in &project.templates {
        if t.subject.is_none() || t.text.is_none() {
            continue;
        }
        let body = serde_json::json!({"subject": t.subject, "text": t.text, "html": t.html}).to_string();
        let (version, created) = tx.deploy(DocumentKind::Template, name, &body, &content_hash(&body), by, now).await?;
        report.deployed.push(Deployed { kind: "template", key: name.clone(), version, created });
    }
    tx.commit().await?;
    Ok(report)
}

/// One source, checked against what is deployed and ready to be stored.
pub(crate) struct Prepared {
    pub kind: &'static str,
    pub key: String,
    /// The parsed workflow (None for a calendar).
    pub workflow: Option<Box<Workflow>>,
    /// Warnings (errors refuse the source).
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks one workflow or calendar source against what is deployed.
pub(crate) async fn prepare_one(store: &Store, source: &str, min_interval: u32) -> Result<Prepared> {
    let mut sources = Vec::new();
    for kind in [DocumentKind::Workflow, DocumentKind::Calendar, DocumentKind::Profile] {
        for d in store.latest_documents(kind).await? {
            sources.push(Source { path: format!("deployed/{}/{}.yaml", kind.as_str(), d.key), text: d.source });
        }
    }
    for d in store.latest_documents(DocumentKind::Template).await? {
        let parts: serde_json::Value = serde_json::from_str(&d.source).unwrap_or_default();
        for (part, suffix) in [("subject", "subject"), ("text", "txt"), ("html", "html")] {
            if let Some(t) = parts.get(part).and_then(|v| v.as_str()) {
                sources.push(Source { path: format!("deployed/templates/{}.{suffix}.j2", d.key), text: t.to_string() });
            }
        }
    }
    let new_path = "deployWorkflow.yaml".to_string();
    let mut sink = smmflow_spec::diag::Sink::new(new_path.clone());
    let doc = match smmflow_spec::project::load_document(source, &mut sink) {
        Some(smmflow_spec::Document::Workflow(w)) => Some(("workflow", w.key.value.clone(), Some(w))),
        Some(smmflow_spec::Document::Calendar(c)) => Some(("calendar", c.key.value, None)),
        Some(smmflow_spec::Document::Profile(_)) => {
            Some(("profile", smmflow_spec::profile::PROFILE_KEY.to_string(), None))
        }
        None => None,
    };
    if let Some((kind, k, _)) = &doc {
        sources.retain(|s| s.path != format!("deployed/{kind}/{k}.yaml"));
    }
    sources.push(Source { path: new_path.clone(), text: source.to_string() });
    let project = Project::from_sources(sources);
    let mut mine: Vec<Diagnostic> = project.diagnostics.into_iter().filter(|d| d.file == new_path).collect();
    if let Some((_, _, Some(wf))) = &doc {
        let mut sink = smmflow_spec::diag::Sink::new(new_path.clone());
        smmflow_spec::check::check_intervals(wf, min_interval, &mut sink);
        mine.extend(sink.into_vec());
    }
    if mine.iter().any(Diagnostic::is_error) {
        return Err(Error::Invalid(mine));
    }
    let Some((kind, key, workflow)) = doc else { return Err(Error::Invalid(mine)) };
    Ok(Prepared { kind, key, workflow, diagnostics: mine })
}

/// Stores a prepared source (a new version only when its content is new).
pub(crate) async fn save_one(
    store: &Store,
    p: &Prepared,
    source: &str,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Deployed> {
    let doc_kind = match p.kind {
        "workflow" => DocumentKind::Workflow,
        "profile" => DocumentKind::Profile,
        _ => DocumentKind::Calendar,
    };
    let tx = store.begin().await?;
    let (version, created) = tx.deploy(doc_kind, &p.key, source, &content_hash(source), by, now).await?;
    tx.commit().await?;
    Ok(Deployed { kind: p.kind, key: p.key.clone(), version, created })
}
