//! `smmflow report`: one workspace's figures for a period as a document.
//! HTML (tables and charts drawn server-side as inline SVG; no JavaScript,
//! no network; prints well), CSV (one long table: section, subject,
//! metric, value) or JSON (the `analytics` figures and the weekly due-time
//! keeping).

mod charts;

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use smmflow_runtime::Runtime;
use smmflow_runtime::analytics::{Analytics, AnalyticsFilter, Sla};

use charts::{DARK, LIGHT, RED, Series};

/// The most weeks the weekly chart shows (a year).
const MAX_WEEKS: usize = 53;

/// A report's content.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub workspace: String,
    pub workspace_name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub analytics: Analytics,
    /// Due-time keeping per week (from the period's start, 7 days each).
    pub weeks: Vec<Week>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Week {
    pub from: DateTime<Utc>,
    pub sla: Sla,
}

/// Reads the figures as an administrator would (the operator of the database).
pub async fn gather(
    rt: &std::sync::Arc<Runtime>,
    workspace: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Report, String> {
    if to <= from {
        return Err("--to must be after --from".into());
    }
    let name = rt.workspace_name(workspace).await.map_err(|e| e.to_string())?;
    let Some(workspace_name) = name else { return Err(format!("no workspace `{workspace}`")) };
    let f = AnalyticsFilter { from, to, workspace: Some(workspace.to_string()), workflow: None };
    let (analytics, by_week) = rt.operator().analytics_by_week(f, MAX_WEEKS).await.map_err(|e| e.to_string())?;
    let weeks = by_week.into_iter().map(|(from, a)| Week { from, sla: a.sla }).collect();
    Ok(Report { workspace: workspace.into(), workspace_name, from, to, generated_at: rt.now(), analytics, weeks })
}

pub fn json(r: &Report) -> Result<String, String> {
    serde_json::to_string_pretty(r).map_err(|e| e.to_string())
}

/// One long table: `section,subject,metric,value`.
pub fn csv(r: &Report) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |section: &str, subject: &str, metric: &str, value: Option<f64>| {
        let v = value.map(|v| v.to_string()).unwrap_or_default();
        w.write_record([section, subject, metric, v.as_str()]).map_err(|e| e.to_string())
    };
    row("report", &r.workspace, "from", Some(r.from.timestamp() as f64))?;
    row("report", &r.workspace, "to", Some(r.to.timestamp() as f64))?;
    let a = &r.analytics;
    for s in &a.steps {
        let subject = format!("{}/{}/{}", s.workflow, s.step, s.role.as_deref().unwrap_or(""));
        row("steps", &subject, "count", Some(s.count as f64))?;
        for (m, v) in [
            ("cycle_p50", s.cycle.p50),
            ("cycle_p90", s.cycle.p90),
            ("cycle_mean", s.cycle.mean),
            ("wait_p50", s.wait.p50),
            ("wait_p90", s.wait.p90),
            ("wait_mean", s.wait.mean),
            ("on_time_rate", s.on_time_rate),
            ("rework_rate", Some(s.rework_rate)),
        ] {
            row("steps", &subject, m, v)?;
        }
    }
    for p in &a.parties {
        row("parties", &p.party, "waiting_seconds", Some(p.waiting_seconds))?;
        row("parties", &p.party, "share", Some(p.share))?;
    }
    for l in &a.load {
        let subject = format!("{}/{}", l.workspace, l.role);
        for (m, v) in
            [("open", l.open), ("overdue", l.overdue), ("due_this_week", l.due_this_week), ("completed", l.completed)]
        {
            row("load", &subject, m, Some(v as f64))?;
        }
    }
    for p in &a.people {
        for (m, v) in [("open", p.open), ("overdue", p.overdue), ("completed", p.completed)] {
            row("people", &p.user, m, Some(v as f64))?;
        }
    }
    for x in &a.rejections {
        row("rejections", &x.reason, "count", Some(x.count as f64))?;
    }
    row("sla", "period", "due", Some(a.sla.due as f64))?;
    row("sla", "period", "met", Some(a.sla.met as f64))?;
    row("sla", "period", "rate", a.sla.rate)?;
    for wk in &r.weeks {
        let subject = wk.from.format("%Y-%m-%d").to_string();
        row("sla_week", &subject, "due", Some(wk.sla.due as f64))?;
        row("sla_week", &subject, "met", Some(wk.sla.met as f64))?;
        row("sla_week", &subject, "rate", wk.sla.rate)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn hours(secs: Option<f64>) -> f64 {
    secs.unwrap_or(0.0) / 3600.0
}

/// The charts: cycle time per step, waiting share per party, load per role, SLA per week.
fn charts(r: &Report) -> Result<Vec<Value>, String> {
    let a = &r.analytics;
    let steps: Vec<String> = a.steps.iter().map(|s| s.step.clone()).collect();
    let cycle = charts::bars(
        "Cycle time per step (business hours)",
        "hours",
        &steps,
        &[
            Series { name: "p90", values: a.steps.iter().map(|s| hours(s.cycle.p90)).collect(), color: LIGHT },
            Series { name: "p50", values: a.steps.iter().map(|s| hours(s.cycle.p50)).collect(), color: DARK },
        ],
    )?;
    let parties: Vec<String> = a.parties.iter().map(|p| p.party.clone()).collect();
    let waiting = charts::bars(
        "Who the work waited on (share of business time)",
        "%",
        &parties,
        &[Series { name: "share", values: a.parties.iter().map(|p| p.share * 100.0).collect(), color: DARK }],
    )?;
    let roles: Vec<String> = a.load.iter().map(|l| l.role.clone()).collect();
    let load = charts::bars(
        "Open work per role now",
        "tasks",
        &roles,
        &[
            Series { name: "open", values: a.load.iter().map(|l| l.open as f64).collect(), color: LIGHT },
            Series { name: "overdue", values: a.load.iter().map(|l| l.overdue as f64).collect(), color: RED },
        ],
    )?;
    let weeks: Vec<String> = r.weeks.iter().map(|w| w.from.format("%d %b").to_string()).collect();
    let sla = charts::line(
        "Due times kept per week",
        "%",
        &weeks,
        &r.weeks.iter().map(|w| w.sla.rate.unwrap_or(0.0) * 100.0).collect::<Vec<_>>(),
    )?;
    Ok(vec![
        json!({"id": "cycle-time", "svg": cycle, "series": ["p90", "p50"]}),
        json!({"id": "waiting-share", "svg": waiting, "series": ["share"]}),
        json!({"id": "load", "svg": load, "series": ["open", "overdue"]}),
        json!({"id": "sla-weekly", "svg": sla, "series": ["rate"]}),
    ])
}

fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        if let Err(e) = env.add_template("report.html", include_str!("../../templates/report.html")) {
            tracing::error!("the report template is broken: {e}");
        }
        env
    })
}

pub fn html(r: &Report) -> Result<String, String> {
    let ctx = json!({
        "r": r,
        "charts": charts(r)?,
        "period": format!("{} – {}", r.from.format("%Y-%m-%d %H:%M UTC"), r.to.format("%Y-%m-%d %H:%M UTC")),
        "generated": r.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    });
    environment()
        .get_template("report.html")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))))
        .map_err(|e| format!("rendering the report: {e}"))
}
