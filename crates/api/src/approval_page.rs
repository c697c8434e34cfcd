//! The approval page for external stakeholders (`external: true` levels).
//! `GET /approve/{token}` shows what is under review; `POST` approves, or
//! rejects with a comment. The token is the credential; the runtime's
//! `open_link` and `decide_link` check everything about it (signature,
//! expiry, single use, the task waiting, the recipient's membership). A
//! refused link gets a clear page and changes nothing. GET never decides,
//! so mail scanners that open links cannot approve anything.

use std::sync::{Arc, OnceLock};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use smmflow_engine::model::{Instance, Task, TaskStatus};
use smmflow_notify::link::Claims;
use smmflow_runtime::Runtime;
use smmflow_runtime::links::{Decided, NotWaiting, Opened, Refusal};
use smmflow_spec::Workflow;
use smmflow_spec::step::StepKind;

/// Longest comment accepted.
const MAX_COMMENT: usize = 10_000;

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
    /// The reasons' checkboxes: `reason_<word>=on`.
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

impl DecisionForm {
    /// The reason words ticked, in the order the approval lists them.
    fn reasons(&self, offered: &[String]) -> Vec<String> {
        offered.iter().filter(|w| self.rest.contains_key(&format!("reason_{w}"))).cloned().collect()
    }
}

/// The reasons an approval offers (`reasons:` on its step).
fn offered_reasons(wf: &Workflow, state: &Instance, task_no: u32) -> Vec<String> {
    let Some(task) = state.task(task_no) else { return Vec::new() };
    match wf.step(&task.step).map(|s| &s.kind) {
        Some(StepKind::Approval(a)) => a.reasons.iter().map(|r| r.value.clone()).collect(),
        _ => Vec::new(),
    }
}

fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        if let Err(e) = env.add_template("approval.html", include_str!("../templates/approval.html")) {
            tracing::error!("the approval page template is broken: {e}");
        }
        env
    })
}

fn page(status: StatusCode, ctx: Value) -> Response {
    let html = environment()
        .get_template("approval.html")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))))
        .unwrap_or_else(|e| {
            tracing::error!("rendering the approval page: {e}");
            "<!doctype html><title>smmflow</title><p>Something went wrong; nothing was changed.</p>".to_string()
        });
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

fn notice(status: StatusCode, heading: &str, message: &str) -> Response {
    page(status, json!({"page": "notice", "heading": heading, "message": message}))
}

fn invalid() -> Response {
    notice(
        StatusCode::BAD_REQUEST,
        "This link is not valid",
        "The link was changed or cut short. Open it again from the e-mail you received, in full.",
    )
}

fn used() -> Response {
    notice(
        StatusCode::GONE,
        "This link was already used",
        "A decision was already made with this link; each link works once. Nothing was changed.",
    )
}

fn failed() -> Response {
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Your decision could not be recorded right now, and nothing was changed. Please try again in a few minutes.",
    )
}

/// The page for a link that does not open or decide.
fn refused(r: &Refusal) -> Response {
    match r {
        Refusal::Tampered => invalid(),
        Refusal::Used => used(),
        Refusal::Expired => notice(
            StatusCode::GONE,
            "This link has expired",
            "Links work for a limited time. Ask your contact at the agency for a new one. Nothing was changed.",
        ),
        Refusal::NotAllowed => notice(
            StatusCode::FORBIDDEN,
            "This link no longer works",
            "You are no longer among the people who decide this. Nothing was changed.",
        ),
        Refusal::NotWaiting(why) => {
            let what = match why {
                NotWaiting::Approved => "It was already approved.",
                NotWaiting::Rejected => "It was already rejected.",
                NotWaiting::Paused => "The work is paused; you will get a new link when it goes on.",
                NotWaiting::Over => "It no longer waits for a decision.",
                NotWaiting::DecidedMeanwhile => "Someone else decided first; nothing was changed.",
            };
            notice(StatusCode::CONFLICT, "No decision needed", what)
        }
    }
}

/// `GET /approve/{token}`.
pub async fn show(State(rt): State<Arc<Runtime>>, Path(token): Path<String>) -> Response {
    match rt.open_link(&token).await {
        Ok(Ok(o)) => review(&rt, &o.state, &o.claims, None, "", StatusCode::OK).await,
        Ok(Err(r)) => refused(&r),
        Err(e) => {
            tracing::error!("opening a link: {e}");
            failed()
        }
    }
}

/// `POST /approve/{token}`: `decision=approve|reject`, `comment`.
pub async fn decide(
    State(rt): State<Arc<Runtime>>,
    Path(token): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let Opened { claims, state } = match rt.open_link(&token).await {
        Ok(Ok(o)) => o,
        Ok(Err(r)) => return refused(&r),
        Err(e) => {
            tracing::error!("opening a link: {e}");
            return failed();
        }
    };
    let Ok(Form(form)) = form else {
        return review(
            &rt,
            &state,
            &claims,
            Some("The form could not be read; please try again."),
            "",
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let offered = match rt.definition(&state.workflow, Some(state.version)).await {
        Ok(d) => offered_reasons(&d.workflow, &state, claims.task),
        Err(e) => {
            tracing::error!("loading a definition for a link: {e}");
            return failed();
        }
    };
    let reasons = form.reasons(&offered);
    let comment = form.comment.trim().to_string();
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            let msg = "Choose Approve or Reject.";
            return review(&rt, &state, &claims, Some(msg), &comment, StatusCode::BAD_REQUEST).await;
        }
    };
    if comment.chars().count() > MAX_COMMENT {
        let msg = format!("The comment is too long: at most {MAX_COMMENT} characters.");
        return review(&rt, &state, &claims, Some(&msg), &comment, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if !approve && comment.is_empty() {
        let msg = "To reject, say in the comment what should change.";
        return review(&rt, &state, &claims, Some(msg), &comment, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if !approve && !offered.is_empty() && reasons.is_empty() {
        let msg = "To reject, tick at least one reason.";
        return review(&rt, &state, &claims, Some(msg), &comment, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let reasons = if approve { Vec::new() } else { reasons };
    let comment = (!comment.is_empty()).then_some(comment);
    match rt.decide_link(&token, approve, comment, reasons).await {
        Ok(Decided::Done(_)) if approve => notice(
            StatusCode::OK,
            "Approved. Thank you!",
            "Your approval was recorded; the team goes on with the work.",
        ),
        Ok(Decided::Done(_)) => notice(
            StatusCode::OK,
            "Rejected. Thank you!",
            "Your comment was sent to the team; they will rework it and ask you again.",
        ),
        Ok(Decided::Refused(r)) => refused(&r),
        Ok(Decided::Invalid(e)) => {
            let msg = e.public_message();
            review(&rt, &state, &claims, Some(&msg), "", StatusCode::FORBIDDEN).await
        }
        Err(e) => {
            tracing::error!("a link decision failed: {e}");
            failed()
        }
    }
}

async fn review(
    rt: &Runtime,
    state: &Instance,
    claims: &Claims,
    error: Option<&str>,
    comment: &str,
    status: StatusCode,
) -> Response {
    let Some(task) = state.task(claims.task) else { return invalid() };
    let def = match rt.definition(&state.workflow, Some(state.version)).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("loading a definition for a link: {e}");
            return failed();
        }
    };
    let workspace_name = rt.workspace_name(&state.workspace).await.ok().flatten();
    let ctx = json!({
        "page": "review",
        "heading": task.title,
        "title": task.title,
        "instructions": task.instructions,
        "workflow_name": def.workflow.name,
        "workspace_name": workspace_name,
        "round": task.round,
        "due_at": task.due_at.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
        "review": under_review(&def.workflow, state, task),
        "comments": earlier_comments(state, task),
        "error": error,
        "comment": comment,
        "reasons": offered_reasons(&def.workflow, state, claims.task)
            .iter()
            .map(|w| json!({"word": w, "label": humanize(w), "checked": false}))
            .collect::<Vec<_>>(),
    });
    page(status, ctx)
}

/// What the approval is about: the outputs of the nearest work before it
/// (walking back through `after`, past other approvals).
fn under_review(wf: &Workflow, state: &Instance, task: &Task) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = vec![task.step.clone()];
    let mut found: Vec<String> = Vec::new();
    while let Some(id) = queue.pop() {
        let Some(step) = wf.steps.iter().find(|s| s.id.value == id) else { continue };
        for before in &step.common.after {
            if !seen.insert(before.value.clone()) {
                continue;
            }
            let Some(b) = wf.steps.iter().find(|s| s.id.value == before.value) else { continue };
            let output = state.step(&b.id.value).and_then(|s| s.output.as_ref()).filter(|o| !o.is_null());
            match (&b.kind, output) {
                (StepKind::Approval(_), _) | (_, None) => queue.push(b.id.value.clone()),
                _ => found.push(b.id.value.clone()),
            }
        }
    }
    // In the definition's order.
    wf.steps
        .iter()
        .filter(|s| found.contains(&s.id.value))
        .filter_map(|s| {
            let output = state.step(&s.id.value)?.output.as_ref()?;
            let title = state
                .tasks
                .iter()
                .rev()
                .find(|t| t.step == s.id.value && t.status == TaskStatus::Completed)
                .map(|t| t.title.clone())
                .unwrap_or_else(|| humanize(&s.id.value));
            let labels: Vec<(String, String)> = match &s.kind {
                StepKind::Task(t) => t
                    .form
                    .iter()
                    .map(|(k, f)| (k.value.clone(), f.label.clone().unwrap_or_else(|| humanize(&k.value))))
                    .collect(),
                _ => Vec::new(),
            };
            let mut rows = Vec::new();
            flatten(output, None, 0, &labels, &mut rows);
            Some(json!({"title": title, "rows": rows}))
        })
        .collect()
}

/// Rejection comments of earlier rounds of this approval, and comments on this task.
fn earlier_comments(state: &Instance, task: &Task) -> Vec<Value> {
    let mut out: Vec<Value> = state
        .tasks
        .iter()
        .filter(|t| t.step == task.step && t.no != task.no && t.status == TaskStatus::Rejected)
        .filter_map(|t| {
            let body = t.output.as_ref()?.get("comment")?.as_str()?.to_string();
            Some(json!({
                "body": body,
                "author": t.completed_by.clone().unwrap_or_default(),
                "at": t.completed_at.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
            }))
        })
        .collect();
    out.extend(
        task.comments
            .iter()
            .map(|c| json!({"body": c.body, "author": c.author, "at": c.at.format("%Y-%m-%d %H:%M UTC").to_string()})),
    );
    out
}

fn humanize(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// A JSON value as labelled rows; http(s) strings become links.
fn flatten(v: &Value, label: Option<String>, depth: usize, labels: &[(String, String)], out: &mut Vec<Value>) {
    let row = |label: &Option<String>, value: Option<String>, href: Option<String>| json!({"label": label.clone().unwrap_or_default(), "value": value, "href": href, "depth": depth});
    match v {
        Value::Null => {}
        Value::Object(map) => {
            let d = if label.is_some() {
                out.push(row(&label, None, None));
                depth + 1
            } else {
                depth
            };
            // The form's order first (with its labels), then anything else.
            let known = labels.iter().filter_map(|(k, l)| map.get(k).map(|v| (l.clone(), v)));
            let rest =
                map.iter().filter(|(k, _)| !labels.iter().any(|(key, _)| key == *k)).map(|(k, v)| (humanize(k), v));
            for (l, v) in known.chain(rest).collect::<Vec<_>>() {
                flatten(v, Some(l), d, &[], out);
            }
        }
        Value::Array(items) => {
            let base = label.clone().unwrap_or_else(|| "Item".into());
            if items.iter().all(|i| !i.is_object() && !i.is_array()) && items.iter().all(|i| !is_link(i)) {
                let text: Vec<String> = items.iter().map(scalar).collect();
                out.push(row(&label, Some(text.join(", ")), None));
            } else {
                for (i, item) in items.iter().enumerate() {
                    let l = if items.len() == 1 { base.clone() } else { format!("{base} {}", i + 1) };
                    flatten(item, Some(l), depth, labels, out);
                }
            }
        }
        other => {
            let text = scalar(other);
            let href = is_link(other).then(|| text.clone());
            out.push(row(&label, Some(text), href));
        }
    }
}

fn is_link(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_flatten_into_labelled_rows_with_safe_links() {
        let v = json!({"text": "Five winter tips", "assets": ["https://cdn.example/a.png", "https://cdn.example/b.png"], "tags": ["winter", "sale"], "evil": "javascript:alert(1)"});
        let mut rows = Vec::new();
        flatten(&v, None, 0, &[("text".into(), "Post text".into())], &mut rows);
        let find = |l: &str| rows.iter().find(|r| r["label"] == l).cloned().unwrap();
        assert_eq!(find("Post text")["value"], "Five winter tips");
        assert_eq!(rows[0]["label"], "Post text", "the form's fields come first, in order");
        assert_eq!(find("Assets 1")["href"], "https://cdn.example/a.png");
        assert_eq!(find("Tags")["value"], "winter, sale");
        assert!(find("Evil")["href"].is_null(), "only http(s) becomes a link");
    }

    #[test]
    fn the_page_escapes_what_people_wrote() {
        let resp = notice(StatusCode::OK, "<b>x</b>", "<script>alert(1)</script>");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
        let html = environment()
            .get_template("approval.html")
            .unwrap()
            .render(minijinja::context! { page => "notice", heading => "<b>x</b>", message => "<script>" })
            .unwrap();
        assert!(html.contains("&lt;b&gt;x") && !html.contains("<b>x") && !html.contains("<script>"), "{html}");
    }
}
