//! A set of workflow files validated together: documents, e-mail templates,
//! and the checks across files (duplicate keys, subflows, calendars, templates).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::calendar::Calendar;
use crate::check;
use crate::decode::Sp;
use crate::diag::{Code, Diagnostic, Pos, Sink, did_you_mean};
use crate::expr;
use crate::profile::{PROFILE_KEY, Profile};
use crate::step::StepKind;
use crate::workflow::Workflow;
use crate::yaml::{self, Kind};

/// One file's text and the path it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// What a YAML file defines.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    Workflow(Box<Workflow>),
    Calendar(Box<Calendar>),
    /// The client profile's schema (`kind: profile`).
    Profile(Box<Profile>),
}

/// An e-mail template: `NAME.subject.j2`, `NAME.txt.j2`, optional `NAME.html.j2`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailTemplate {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// Everything found in the given files, with every diagnostic.
#[derive(Clone, Debug, Default)]
pub struct Project {
    pub workflows: Vec<Workflow>,
    pub calendars: Vec<Calendar>,
    /// The profile document, when one of the files is.
    pub profile: Option<Profile>,
    pub templates: BTreeMap<String, EmailTemplate>,
    pub diagnostics: Vec<Diagnostic>,
    /// File texts by path, for rendering diagnostics.
    pub sources: BTreeMap<String, String>,
    /// The path each workflow came from, by key.
    pub workflow_files: BTreeMap<String, String>,
}

/// Parses one YAML document (a workflow or a calendar), reporting into `sink`.
pub fn parse_document(text: &str, sink: &mut Sink) -> Option<Document> {
    read_document(text, sink, true)
}

/// Reads a document that was checked when it was deployed: decoded, not
/// checked again (a stored definition is loaded after every restart).
pub fn load_document(text: &str, sink: &mut Sink) -> Option<Document> {
    read_document(text, sink, false)
}

fn read_document(text: &str, sink: &mut Sink, check: bool) -> Option<Document> {
    let Some(root) = yaml::parse(text, sink) else {
        if !sink.has_errors() {
            sink.push(
                Code::UnknownDocument,
                Pos::new(1, 1),
                "the file is empty: it should start with `workflow:`, `calendar:` or `kind: profile`",
            );
        }
        return None;
    };
    let first = match &root.kind {
        Kind::Map(entries) => entries.first().map(|(k, _)| (k.as_scalar().unwrap_or_default(), k.pos)),
        _ => None,
    };
    match first {
        Some(("workflow", _)) => Workflow::decode(&root, sink).map(|w| {
            if check {
                check::check_workflow(&w, sink);
            }
            Document::Workflow(Box::new(w))
        }),
        Some(("calendar", _)) => Calendar::decode(&root, sink).map(|c| Document::Calendar(Box::new(c))),
        Some(("kind", _)) => Profile::decode(&root, sink).map(|p| Document::Profile(Box::new(p))),
        Some((other, pos)) => {
            let hint = did_you_mean(other, ["workflow", "calendar", "kind"]).map(|s| format!("did you mean `{s}`?"));
            sink.push_hint(
                Code::UnknownDocument,
                pos,
                format!("the first key is `{other}`: a file starts with `workflow:`, `calendar:` or `kind: profile`"),
                hint.or(Some("start the file with `workflow: <key>`, `calendar: <key>` or `kind: profile`".into())),
            );
            None
        }
        None => {
            sink.push(
                Code::UnknownDocument,
                root.pos,
                format!(
                    "expected a mapping starting with `workflow:`, `calendar:` or `kind: profile`, found {}",
                    root.type_name()
                ),
            );
            None
        }
    }
}

/// A literal value holds no `{{ }}` or `{% %}` anywhere.
fn has_template(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains("{{") || s.contains("{%"),
        serde_json::Value::Array(items) => items.iter().any(has_template),
        serde_json::Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

fn is_template_path(path: &str) -> bool {
    path.ends_with(".j2") && (path.starts_with("templates/") || path.contains("/templates/"))
}

fn is_yaml_path(path: &str) -> bool {
    (path.ends_with(".yaml") || path.ends_with(".yml")) && !is_template_path(path)
}

impl Project {
    /// Validates the given sources together.
    pub fn from_sources(sources: Vec<Source>) -> Project {
        let mut p = Project::default();
        let mut first_seen: HashMap<String, (String, Pos)> = HashMap::new();
        for src in &sources {
            p.sources.insert(src.path.clone(), src.text.clone());
            if is_template_path(&src.path) {
                p.add_template(src);
                continue;
            }
            let mut sink = Sink::new(src.path.clone());
            let doc = parse_document(&src.text, &mut sink);
            let key = match &doc {
                Some(Document::Workflow(w)) => Some(("workflow", w.key.clone())),
                Some(Document::Calendar(c)) => Some(("calendar", c.key.clone())),
                Some(Document::Profile(pr)) => {
                    Some(("profile", crate::decode::Sp::new(PROFILE_KEY.to_string(), pr.pos)))
                }
                // A document with errors of its own still claims its key:
                // a second file with the same key is reported all the same.
                None => peek_key(&src.text),
            };
            if let Some((kind, key)) = key {
                let id = format!("{kind}:{}", key.value);
                if let Some((file, pos)) = first_seen.get(&id) {
                    sink.push(
                        Code::DuplicateDocument,
                        key.pos,
                        format!("{kind} `{}` is already defined in {file}:{}:{}", key.value, pos.line, pos.column),
                    );
                } else {
                    first_seen.insert(id, (src.path.clone(), key.pos));
                    match doc {
                        Some(Document::Workflow(w)) => {
                            p.workflow_files.insert(w.key.value.clone(), src.path.clone());
                            p.workflows.push(*w);
                        }
                        Some(Document::Calendar(c)) => p.calendars.push(*c),
                        Some(Document::Profile(pr)) => p.profile = Some(*pr),
                        None => {}
                    }
                }
            }
            p.diagnostics.extend(sink.into_vec());
        }
        p.check_templates();
        p.cross_file();
        p.diagnostics.sort_by(|a, b| (&a.file, a.pos, a.code).cmp(&(&b.file, b.pos, b.code)));
        p
    }

    /// Reads the given files and folders (recursively: `*.yaml`, `*.yml`, and `templates/*.j2`).
    pub fn load(paths: &[PathBuf]) -> std::io::Result<Project> {
        let mut files = Vec::new();
        for path in paths {
            collect(path, &mut files)?;
        }
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
            sources.push(Source { path: f.to_string_lossy().replace('\\', "/"), text });
        }
        Ok(Project::from_sources(sources))
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn workflow(&self, key: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.key.value == key)
    }

    pub fn calendar(&self, key: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.key.value == key)
    }

    fn add_template(&mut self, src: &Source) {
        let file = src.path.rsplit('/').next().unwrap_or_default();
        let (name, part) = [".subject.j2", ".txt.j2", ".html.j2"]
            .iter()
            .find_map(|suffix| file.strip_suffix(suffix).map(|n| (n, *suffix)))
            .unwrap_or((file, ""));
        if part.is_empty() {
            self.diagnostics.push(Diagnostic {
                code: Code::InvalidName,
                file: src.path.clone(),
                pos: Pos::new(1, 1),
                message: format!("`{file}` is not a template part"),
                hint: Some("name template files NAME.subject.j2, NAME.txt.j2 and NAME.html.j2".into()),
            });
            return;
        }
        let entry = self.templates.entry(name.to_string()).or_default();
        let slot = match part {
            ".subject.j2" => &mut entry.subject,
            ".txt.j2" => &mut entry.text,
            _ => &mut entry.html,
        };
        *slot = Some(src.text.clone());
    }

    fn check_templates(&mut self) {
        let env = expr::environment();
        let known_roots = ["inputs", "steps", "item", "index", "instance", "now", "task", "event", "workspace"];
        for (name, t) in &self.templates {
            let dir = self
                .sources
                .keys()
                .find(|p| p.ends_with(&format!("/{name}.txt.j2")) || p.ends_with(&format!("/{name}.subject.j2")))
                .map(|p| p.rsplit_once('/').map_or("", |(d, _)| d).to_string())
                .unwrap_or_default();
            let path = |suffix: &str| format!("{dir}/{name}{suffix}");
            for (suffix, part) in [(".subject.j2", &t.subject), (".txt.j2", &t.text), (".html.j2", &t.html)] {
                let Some(text) = part else {
                    if suffix != ".html.j2" {
                        self.diagnostics.push(Diagnostic {
                            code: Code::UnknownTemplate,
                            file: path(if suffix == ".txt.j2" { ".subject.j2" } else { ".txt.j2" }),
                            pos: Pos::new(1, 1),
                            message: format!("template `{name}` has no {name}{suffix}"),
                            hint: Some(
                                "a template needs NAME.subject.j2 and NAME.txt.j2; NAME.html.j2 is optional".into(),
                            ),
                        });
                    }
                    continue;
                };
                let problem = match expr::template_vars(&env, text) {
                    Err(e) => Some((Code::ExpressionSyntax, format!("the template does not compile: {e}"))),
                    Ok(vars) => expr::unknown_names(&env, text, true)
                        .first()
                        .map(|(name, kind, _)| (Code::ExpressionSyntax, format!("unknown {kind} `{name}`")))
                        .or_else(|| vars
                        .iter()
                        .map(|v| v.split('.').next().unwrap_or_default().to_string())
                        .find(|root| !known_roots.contains(&root.as_str()))
                        .map(|root| (Code::ExpressionOutOfScope, format!("unknown variable `{root}`: templates see inputs, steps, instance, now, task and event")))),
                };
                if let Some((code, message)) = problem {
                    self.diagnostics.push(Diagnostic {
                        code,
                        file: path(suffix),
                        pos: Pos::new(1, 1),
                        message,
                        hint: None,
                    });
                }
            }
        }
    }

    fn push(&mut self, wf_key: &str, code: Code, pos: Pos, message: String, hint: Option<String>) {
        let file = self.workflow_files.get(wf_key).cloned().unwrap_or_default();
        self.diagnostics.push(Diagnostic { code, file, pos, message, hint });
    }

    fn cross_file(&mut self) {
        let mut found: Vec<(String, Code, Pos, String, Option<String>)> = Vec::new();
        let wf_keys: Vec<&str> = self.workflows.iter().map(|w| w.key.value.as_str()).collect();
        let cal_keys: Vec<&str> = self.calendars.iter().map(|c| c.key.value.as_str()).collect();
        let hint = |word: &str, among: &[&str]| {
            Some(did_you_mean(word, among.iter().copied()).map_or_else(
                || match among {
                    [] => "the files being validated define none: validate the file that defines it together with this one".into(),
                    _ => format!("defined here: {}", among.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
                },
                |s| format!("did you mean `{s}`?"),
            ))
        };
        for wf in &self.workflows {
            let key = wf.key.value.clone();
            if let Some(cal) = &wf.calendar
                && !cal_keys.contains(&cal.value.as_str())
            {
                found.push((
                    key.clone(),
                    Code::UnknownCalendar,
                    cal.pos,
                    format!("calendar `{}` is not defined in the files being validated", cal.value),
                    hint(&cal.value, &cal_keys),
                ));
            }
            let mut templates: Vec<&Sp<String>> = Vec::new();
            templates.extend(wf.notify.iter().filter_map(|rule| rule.template.as_ref()));
            for step in &wf.steps {
                match &step.kind {
                    StepKind::Notify(n) => templates.extend(n.template.as_ref()),
                    StepKind::UpdateProfile(u) => {
                        let Some(profile) = &self.profile else { continue };
                        for (name, value) in &u.set {
                            let Some(spec) = profile.field(&name.value) else {
                                let h = did_you_mean(&name.value, profile.fields.iter().map(|(n, _)| n.value.as_str()))
                                    .map(|x| format!("did you mean `{x}`?"));
                                found.push((
                                    key.clone(),
                                    Code::UnknownProfileField,
                                    name.pos,
                                    format!("`{}` is not a field of the profile (`kind: profile`)", name.value),
                                    h,
                                ));
                                continue;
                            };
                            if !has_template(&value.value) {
                                let mut errors = Vec::new();
                                spec.check(&value.value, std::slice::from_ref(&name.value), &mut errors);
                                for e in errors {
                                    found.push((
                                        key.clone(),
                                        Code::DefaultMismatch,
                                        value.pos,
                                        format!("`{}` does not fit the profile: {}", e.path.join("."), e.message),
                                        None,
                                    ));
                                }
                            }
                        }
                    }
                    StepKind::Subflow(s) => match self.workflow(&s.workflow.value) {
                        None => found.push((
                            key.clone(),
                            Code::UnknownWorkflow,
                            s.workflow.pos,
                            format!(
                                "subflow workflow `{}` is not defined in the files being validated",
                                s.workflow.value
                            ),
                            hint(&s.workflow.value, &wf_keys),
                        )),
                        Some(child) => {
                            for (name, _) in &s.inputs {
                                if !child.inputs.iter().any(|(n, _)| n.value == name.value) {
                                    let h =
                                        did_you_mean(&name.value, child.inputs.iter().map(|(n, _)| n.value.as_str()))
                                            .map(|x| format!("did you mean `{x}`?"));
                                    found.push((
                                        key.clone(),
                                        Code::ScheduleInputs,
                                        name.pos,
                                        format!("`{}` is not an input of workflow `{}`", name.value, child.key.value),
                                        h,
                                    ));
                                }
                            }
                            for (name, spec) in &child.inputs {
                                if spec.required
                                    && spec.default.is_none()
                                    && !s.inputs.iter().any(|(n, _)| n.value == name.value)
                                {
                                    found.push((
                                        key.clone(),
                                        Code::ScheduleInputs,
                                        step.id.pos,
                                        format!("workflow `{}` needs the input `{}`", child.key.value, name.value),
                                        None,
                                    ));
                                }
                            }
                        }
                    },
                    _ => {}
                }
            }
            let names: Vec<&str> = self.templates.keys().map(String::as_str).collect();
            for t in templates {
                if !self.templates.contains_key(&t.value) {
                    found.push((
                        key.clone(),
                        Code::UnknownTemplate,
                        t.pos,
                        format!(
                            "e-mail template `{}` not found: expected templates/{}.subject.j2 and templates/{}.txt.j2",
                            t.value, t.value, t.value
                        ),
                        hint(&t.value, &names),
                    ));
                }
            }
        }
        found.extend(self.subflow_cycles());
        for (wf, code, pos, message, hint) in found {
            self.push(&wf, code, pos, message, hint);
        }
    }

    /// Workflows that run each other as subflows, around in a circle.
    fn subflow_cycles(&self) -> Vec<(String, Code, Pos, String, Option<String>)> {
        let children = |w: &Workflow| -> Vec<(String, Pos)> {
            w.steps
                .iter()
                .filter_map(|s| match &s.kind {
                    StepKind::Subflow(f) => Some((f.workflow.value.clone(), f.workflow.pos)),
                    _ => None,
                })
                .collect()
        };
        let mut out = Vec::new();
        let mut reported: HashSet<String> = HashSet::new();
        for wf in &self.workflows {
            // Breadth-first from each workflow: does it reach itself?
            let mut todo: Vec<(String, Vec<String>, Pos)> =
                children(wf).into_iter().map(|(c, p)| (c, vec![wf.key.value.clone()], p)).collect();
            let mut seen: HashSet<String> = HashSet::new();
            while let Some((key, path, first_pos)) = todo.pop() {
                if key == wf.key.value {
                    if reported.insert(wf.key.value.clone()) {
                        let chain = path.iter().chain(std::iter::once(&key)).cloned().collect::<Vec<_>>().join(" -> ");
                        out.push((
                            wf.key.value.clone(),
                            Code::Cycle,
                            first_pos,
                            format!("subflows run each other in a circle: {chain}"),
                            None,
                        ));
                    }
                    continue;
                }
                if !seen.insert(key.clone()) {
                    continue;
                }
                if let Some(child) = self.workflow(&key) {
                    let mut next = path.clone();
                    next.push(key.clone());
                    todo.extend(children(child).into_iter().map(|(c, _)| (c, next.clone(), first_pos)));
                }
            }
        }
        out
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta =
        std::fs::metadata(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.to_string_lossy().replace('\\', "/");
        if p.is_dir() {
            collect(&p, out)?;
        } else if is_yaml_path(&name) || is_template_path(&name) {
            out.push(p);
        }
    }
    Ok(())
}

/// The key a document declares (`workflow: x`, `calendar: y`, `kind:
/// profile`), read from its first line even when the rest does not decode.
fn peek_key(text: &str) -> Option<(&'static str, crate::decode::Sp<String>)> {
    let root = yaml::parse(text, &mut Sink::new("peek"))?;
    let Kind::Map(entries) = &root.kind else { return None };
    let (k, v) = entries.first()?;
    let value = v.as_scalar()?.to_string();
    match k.as_scalar()? {
        "workflow" => Some(("workflow", crate::decode::Sp::new(value, v.pos))),
        "calendar" => Some(("calendar", crate::decode::Sp::new(value, v.pos))),
        "kind" if value == "profile" => Some(("profile", crate::decode::Sp::new(PROFILE_KEY.to_string(), v.pos))),
        _ => None,
    }
}
