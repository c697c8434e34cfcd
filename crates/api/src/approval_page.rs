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
use smmflow_engine::model::Instance;
use smmflow_notify::link::Claims;
use smmflow_runtime::Runtime;
use smmflow_runtime::links::{Decided, NotWaiting, Opened, Refusal};

use crate::review;

/// Longest comment accepted.
pub(crate) const MAX_COMMENT: usize = 10_000;

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

pub(crate) fn page(status: StatusCode, ctx: Value) -> Response {
    let html = environment()
        .get_template("approval.html")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))))
        .unwrap_or_else(|e| {
            tracing::error!("rendering the approval page: {e}");
            "<!doctype html><title>smmflow</title><p>Something went wrong; nothing was changed.</p>".to_string()
        });
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    protected(
        resp,
        "no-referrer",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
}

/// The headers of a page people act on (approval pages, the console): not
/// framed by other sites, no content sniffing, the given referrer policy and
/// Content-Security-Policy.
pub(crate) fn protected(mut resp: Response, referrer: &'static str, csp: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    resp
}

pub(crate) fn notice(status: StatusCode, heading: &str, message: &str) -> Response {
    page(status, json!({"page": "notice", "heading": heading, "message": message}))
}

fn invalid() -> Response {
    refused(&Refusal::Tampered)
}

pub(crate) fn failed() -> Response {
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Your decision could not be recorded right now, and nothing was changed. Please try again in a few minutes.",
    )
}

/// The status, heading and message of a refusal.
pub(crate) fn refusal_text(r: &Refusal) -> (StatusCode, &'static str, &'static str) {
    match r {
        Refusal::Tampered => (
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            "The link was changed or cut short. Open it again from the e-mail you received, in full.",
        ),
        Refusal::Used => (
            StatusCode::GONE,
            "This link was already used",
            "A decision was already made with this link; each link works once. Nothing was changed.",
        ),
        Refusal::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "Links work for a limited time. Ask your contact at the agency for a new one. Nothing was changed.",
        ),
        Refusal::NotAllowed => (
            StatusCode::FORBIDDEN,
            "This link no longer works",
            "You are no longer among the people who decide this. Nothing was changed.",
        ),
        Refusal::NotWaiting(why) => {
            let what = match why {
                NotWaiting::Approved => "It was already approved.",
                NotWaiting::Rejected => "It was already rejected.",
                NotWaiting::Paused => "The work is paused; you will get a new link when it goes on.",
                NotWaiting::Expired => "Nobody decided it in time, so it expired; the team was told.",
                NotWaiting::Over => "It no longer waits for a decision.",
                NotWaiting::DecidedMeanwhile => "Someone else decided first; nothing was changed.",
            };
            (StatusCode::CONFLICT, "No decision needed", what)
        }
    }
}

/// The page for a link that does not open or decide.
pub(crate) fn refused(r: &Refusal) -> Response {
    let (status, heading, message) = refusal_text(r);
    notice(status, heading, message)
}

/// `GET /approve/{token}`.
pub async fn show(State(rt): State<Arc<Runtime>>, Path(token): Path<String>) -> Response {
    match rt.open_link(&token).await {
        Ok(Ok(o)) => review(&rt, &o.state, &o.claims, None, "", StatusCode::OK).await,
        Ok(Err(r @ (Refusal::Used | Refusal::NotWaiting(_) | Refusal::Expired))) => recorded(&rt, &token, &r).await,
        Ok(Err(r)) => refused(&r),
        Err(e) => {
            tracing::error!("opening a link: {e}");
            failed()
        }
    }
}

/// A link that no longer decides: its notice, and what was recorded for
/// its approval (a used link shows the decision made with it).
async fn recorded(rt: &Runtime, token: &str, r: &Refusal) -> Response {
    let Ok(Some((claims, state))) = rt.link_instance(token).await else { return refused(r) };
    let Some(task) = state.task(claims.task) else { return refused(r) };
    let (status, heading, message) = refusal_text(r);
    let message = match r {
        Refusal::Used => "A decision was already made with this link; each link works once. This is what was recorded:",
        _ => message,
    };
    let mut ctx = json!({"page": "notice", "heading": heading, "message": message});
    ctx["outcome"] = review::outcome(&state, task);
    ctx["title"] = json!(task.title);
    page(status, ctx)
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
        Ok(d) => review::offered_reasons(&d.workflow, &state, claims.task),
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
    let mut ctx = review::item(&def.workflow, state, task);
    ctx["page"] = json!("review");
    ctx["heading"] = json!(task.title);
    ctx["workspace_name"] = json!(rt.workspace_name(&state.workspace).await.ok().flatten());
    ctx["error"] = json!(error);
    ctx["comment"] = json!(comment);
    page(status, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

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
