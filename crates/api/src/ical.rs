//! `GET /calendar/<secret>.ics`: the owner's content calendar as RFC 5545
//! text for calendar applications. One VEVENT per publication (its UID is
//! stable across reads; cancelled ones say `STATUS:CANCELLED`) and one per
//! open task of the owner with a due time. An unknown or revoked secret is
//! 404, the same answer as for a path that does not exist.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use smmflow_runtime::feeds::FeedData;
use smmflow_runtime::{PublicationState, Runtime};

/// The file a calendar application asks for.
pub async fn feed(State(rt): State<Arc<Runtime>>, Path(file): Path<String>) -> Response {
    let Some(secret) = file.strip_suffix(".ics") else { return not_found() };
    match rt.open_feed(secret).await {
        Ok(Some(data)) => (
            [(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")],
            render(&data),
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::warn!("a calendar feed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such calendar\n").into_response()
}

/// The feed as iCalendar text.
pub fn render(data: &FeedData) -> String {
    let mut cal = Calendar::new();
    cal.name(&format!("smmflow: {}", data.feed.name));
    for p in &data.publications {
        let state = PublicationState::of(p, data.now);
        let title = p.title.as_deref().map(|t| format!(": {t}")).unwrap_or_default();
        let mut e = Event::new();
        e.uid(&format!("publication-{}@smmflow", p.instance))
            .summary(&format!("[{}] {}{title}", p.workspace, p.channel))
            .description(&format!("Status: {}", status_word(state)))
            .starts(p.at)
            .ends(p.at + Duration::minutes(15))
            .add_property("CATEGORIES", "publication");
        if state == PublicationState::Cancelled {
            e.status(EventStatus::Cancelled);
        } else {
            e.status(EventStatus::Confirmed);
        }
        cal.push(e.done());
    }
    for t in &data.tasks {
        let Some(due) = t.due_at else { continue };
        let mut e = Event::new();
        e.uid(&format!("task-{}-{}@smmflow", t.instance_id, t.no))
            .summary(&format!("[{}] Due: {}", t.workspace, t.title))
            .description(&format!("Workflow {}, step {}", t.workflow, t.step))
            .starts(due)
            .ends(due + Duration::minutes(15))
            .add_property("CATEGORIES", "task");
        cal.push(e.done());
    }
    cal.done().to_string()
}

fn status_word(s: PublicationState) -> &'static str {
    match s {
        PublicationState::InProduction => "in production",
        PublicationState::Late => "late",
        PublicationState::Published => "published",
        PublicationState::Cancelled => "cancelled",
    }
}
