//! The batch approval page: `GET /approve/batch/{token}` shows every
//! approval of a batch mail (its content, visuals, earlier rounds and the
//! diff against the previous round); one `POST` decides them all, each
//! approved, rejected (with its own comment and reasons) or left for later.
//! Each decision is its own command under the item's own single-use record
//! (`Runtime::decide_batch_item`), so a second submit decides nothing twice
//! and an item decided elsewhere meanwhile is shown as such. GET never decides.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use smmflow_runtime::Runtime;
use smmflow_runtime::links::{Decided, OpenedBatch, Refusal};

use crate::approval_page::{MAX_COMMENT, failed, page, refused};
use crate::review;

/// What the person asked for one item, and what came of it.
#[derive(Default)]
struct ItemResult {
    decision: String,
    comment: String,
    reasons: Vec<String>,
    /// A sentence on what was recorded now.
    done: Option<String>,
    /// Why it was not recorded (the person can fix it and send again).
    error: Option<String>,
}

/// `GET /approve/batch/{token}`.
pub async fn show(State(rt): State<Arc<Runtime>>, Path(token): Path<String>) -> Response {
    match rt.open_batch(&token).await {
        Ok(Ok(b)) => render(&rt, &b, &HashMap::new(), None, StatusCode::OK).await,
        Ok(Err(r)) => refused(&r),
        Err(e) => {
            tracing::error!("opening a batch link: {e}");
            failed()
        }
    }
}

/// `POST /approve/batch/{token}`: per item `decision_<i>=approve|reject`
/// (empty: later), `comment_<i>`, `reason_<i>_<word>=on`.
pub async fn decide(
    State(rt): State<Arc<Runtime>>,
    Path(token): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let batch = match rt.open_batch(&token).await {
        Ok(Ok(b)) => b,
        Ok(Err(r)) => return refused(&r),
        Err(e) => {
            tracing::error!("opening a batch link: {e}");
            return failed();
        }
    };
    let Ok(Form(form)) = form else {
        let msg = "The form could not be read; please try again.";
        return render(&rt, &batch, &HashMap::new(), Some(msg), StatusCode::BAD_REQUEST).await;
    };
    let mut results: HashMap<usize, ItemResult> = HashMap::new();
    for (i, entry) in batch.items.iter().enumerate() {
        let decision = form.get(&format!("decision_{i}")).map(|s| s.trim().to_string()).unwrap_or_default();
        if decision.is_empty() || entry.refusal.is_some() {
            continue;
        }
        let comment = form.get(&format!("comment_{i}")).map(|s| s.trim().to_string()).unwrap_or_default();
        let offered = match &entry.state {
            Some(state) => match rt.definition(&state.workflow, Some(state.version)).await {
                Ok(d) => review::offered_reasons(&d.workflow, state, entry.task),
                Err(e) => {
                    tracing::error!("loading a definition for a batch link: {e}");
                    return failed();
                }
            },
            None => Vec::new(),
        };
        let reasons: Vec<String> =
            offered.iter().filter(|w| form.contains_key(&format!("reason_{i}_{w}"))).cloned().collect();
        let mut r = ItemResult {
            decision: decision.clone(),
            comment: comment.clone(),
            reasons: reasons.clone(),
            ..Default::default()
        };
        let approve = match decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => {
                r.error = Some("Choose Approve, Reject or Later.".into());
                results.insert(i, r);
                continue;
            }
        };
        r.error = if comment.chars().count() > MAX_COMMENT {
            Some(format!("The comment is too long: at most {MAX_COMMENT} characters."))
        } else if !approve && comment.is_empty() {
            Some("To reject, say in the comment what should change.".into())
        } else if !approve && !offered.is_empty() && reasons.is_empty() {
            Some("To reject, tick at least one reason.".into())
        } else {
            None
        };
        if r.error.is_none() {
            let reasons = if approve { Vec::new() } else { reasons };
            let comment = (!comment.is_empty()).then_some(comment);
            match rt.decide_batch_item(&batch, i, approve, comment, reasons).await {
                Ok(Decided::Done(_)) => {
                    r.done =
                        Some(if approve { "Approved. Thank you!" } else { "Rejected; the team will rework it." }.into())
                }
                Ok(Decided::Refused(refusal)) => r.error = Some(crate::approval_page::refusal_text(&refusal).2.into()),
                Ok(Decided::Invalid(e)) => r.error = Some(e.public_message()),
                Err(e) => {
                    tracing::error!("a batch decision failed: {e}");
                    r.error = Some("This decision could not be recorded right now; please try again.".into());
                }
            }
        }
        results.insert(i, r);
    }
    // The page again, as it now stands.
    let batch = match rt.open_batch(&token).await {
        Ok(Ok(b)) => b,
        Ok(Err(r)) => return refused(&r),
        Err(e) => {
            tracing::error!("opening a batch link: {e}");
            return failed();
        }
    };
    let errors = results.values().filter(|r| r.error.is_some()).count();
    let status = if errors > 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let summary = if errors > 0 { Some("Some decisions were not recorded: see below.") } else { None };
    render(&rt, &batch, &results, summary, status).await
}

async fn render(
    rt: &Runtime,
    batch: &OpenedBatch,
    results: &HashMap<usize, ItemResult>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut items = Vec::new();
    for (i, entry) in batch.items.iter().enumerate() {
        let r = results.get(&i);
        let Some((state, task)) = entry.state.as_ref().and_then(|s| s.task(entry.task).map(|t| (s, t))) else {
            items.push(json!({"index": i, "title": "This approval no longer exists", "waiting": false}));
            continue;
        };
        let def = match rt.definition(&state.workflow, Some(state.version)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("loading a definition for a batch link: {e}");
                return failed();
            }
        };
        let mut item = review::item(&def.workflow, state, task);
        item["index"] = json!(i);
        item["waiting"] = json!(entry.refusal.is_none());
        item["outcome"] = review::outcome(state, task);
        item["note"] = match &entry.refusal {
            Some(Refusal::Used) => json!("Decided on this page."),
            Some(Refusal::NotAllowed) => json!("You are no longer among the people who decide this."),
            Some(Refusal::NotWaiting(_)) if r.is_none_or(|r| r.done.is_none()) => json!("Decided elsewhere meanwhile."),
            _ => Value::Null,
        };
        if let Some(r) = r {
            item["done"] = json!(r.done);
            item["error"] = json!(r.error);
            if r.error.is_some() {
                item["comment"] = json!(r.comment);
                item["decision"] = json!(r.decision);
                if let Some(list) = item["reasons"].as_array_mut() {
                    for reason in list.iter_mut() {
                        let word = reason["word"].as_str().unwrap_or_default().to_string();
                        reason["checked"] = json!(r.reasons.contains(&word));
                    }
                }
            }
        }
        items.push(item);
    }
    let waiting = items.iter().filter(|i| i["waiting"] == true).count();
    let ctx = json!({
        "page": "batch",
        "heading": format!("{} approval{} for you", items.len(), if items.len() == 1 { "" } else { "s" }),
        "items": items,
        "waiting": waiting,
        "error": error,
    });
    page(status, ctx)
}
