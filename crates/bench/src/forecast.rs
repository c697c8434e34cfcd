//! Forecast accuracy: a simulated team on a manual clock. Each week starts
//! `posts` posts on Monday morning (slots Wednesday to Friday); a writer's
//! draft and the client's approval take random business durations drawn per
//! role (log-normal; the client sometimes very slow). At each week's start
//! every new post is forecast (`forecast::compute`, from the history of the
//! weeks before, business time); then the week runs and the forecast is
//! compared with what happened: the median absolute error of the predicted
//! ready time, and the share of at-risk flags that were right.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Datelike, Duration, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use smmflow_engine::time::business::{add_open_seconds, open_seconds};
use smmflow_engine::{Command, Directory, Env, Instance, Start, decide};
use smmflow_runtime::analytics::Spread;
use smmflow_runtime::forecast::{self, Inputs};
use smmflow_spec::Calendar;

const FLOW: &str = r#"workflow: sim-post
name: Simulated post
roles:
  writer: Writes
  client: {description: Approves, party: client}
inputs:
  publish_at: {type: datetime, required: true}
steps:
  draft: {role: writer, due: 1 business day}
  review:
    type: approval
    role: client
    after: [draft]
    due: 1 business day
    on_reject: {goto: draft}
  go_live:
    type: wait
    after: [review]
    until: "inputs.publish_at"
"#;

struct Team;

impl Directory for Team {
    fn members(&self, role: &str) -> Vec<String> {
        match role {
            "writer" => vec!["w1".into(), "w2".into(), "w3".into()],
            "client" => vec!["c1".into()],
            _ => Vec::new(),
        }
    }
    fn open_tasks(&self, _: &str) -> usize {
        0
    }
    fn last_assigned(&self, _: &str) -> Option<String> {
        None
    }
}

pub struct Sizes {
    pub weeks: usize,
    pub posts: usize,
    pub seed: u64,
}

/// A log-normal draw around `median` seconds, spread `sigma`.
fn draw(rng: &mut impl Rng, median: f64, sigma: f64) -> i64 {
    let (u1, u2): (f64, f64) = (rng.random_range(1e-9..1.0), rng.random_range(0.0..1.0));
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (median * (sigma * z).exp()).round() as i64
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(sizes: &Sizes) -> Result<Value> {
    let mut sink = smmflow_spec::diag::Sink::new("sim-post.yaml");
    let Some(smmflow_spec::project::Document::Workflow(wf)) = smmflow_spec::project::parse_document(FLOW, &mut sink)
    else {
        return Err(anyhow!("the simulated workflow does not parse"));
    };
    let cal = Calendar::default_business();
    let mut rng = rand::rngs::StdRng::seed_from_u64(sizes.seed);
    let mut samples: HashMap<String, Vec<i64>> = HashMap::new();
    let mut first = chrono::NaiveDate::from_ymd_opt(2027, 1, 4).ok_or_else(|| anyhow!("a date"))?;
    while first.weekday() != chrono::Weekday::Mon {
        first = first.succ_opt().ok_or_else(|| anyhow!("a date"))?;
    }
    let (mut errors, mut flagged, mut flagged_right, mut late, mut late_flagged) = (Vec::new(), 0, 0, 0, 0);
    let (mut daily_flagged, mut daily_right) = (0, 0);
    let mut weekly = Vec::new();
    for week in 0..sizes.weeks {
        let monday = (first + Duration::days(7 * week as i64))
            .and_hms_opt(9, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(|| anyhow!("a time"))?;
        let history: HashMap<String, Spread> =
            samples.iter().map(|(k, v)| (k.clone(), Spread::of(v.clone()))).collect();
        let open_by_role: HashMap<String, (u64, u64)> =
            [("writer".to_string(), (sizes.posts as u64, 3)), ("client".to_string(), (0, 1))].into_iter().collect();
        let mut week_errors = Vec::new();
        for i in 0..sizes.posts {
            let start_at = monday + Duration::minutes(15 * i as i64);
            let publish_at = (monday + Duration::days(2 + (i % 3) as i64))
                .date_naive()
                .and_hms_opt(10 + (i % 6) as u32, 0, 0)
                .map(|d| d.and_utc())
                .ok_or_else(|| anyhow!("a time"))?;
            let env = |now: DateTime<Utc>| Env {
                now,
                workflow: &wf,
                version: 1,
                calendar: &cal,
                directory: &Team,
                profile: None,
            };
            let started = decide::start(
                &env(start_at),
                "lead",
                Start {
                    id: uuid::Uuid::new_v4(),
                    workspace: "sim".into(),
                    inputs: json!({"publish_at": publish_at}),
                    parent: None,
                    schedule: None,
                    calendar: None,
                    context: Value::Null,
                },
            )
            .map_err(|e| anyhow!("start: {e}"))?;
            let state: Instance = started.state;
            let started_state = state.clone();
            // The forecast at the week's start.
            let inputs = Inputs { history: &history, open_by_role: &open_by_role, calendar: &cal, now: start_at };
            let f = forecast::compute(&wf, &state, &inputs);
            // What happens.
            let d_draft = draw(&mut rng, 3.0 * 3600.0, 0.6).max(600);
            let slow = rng.random_range(0.0..1.0) < 0.2;
            let d_review = draw(&mut rng, if slow { 16.0 * 3600.0 } else { 4.0 * 3600.0 }, 0.5).max(600);
            let draft_done = add_open_seconds(start_at, d_draft, &cal);
            let review_done = add_open_seconds(draft_done, d_review, &cal);
            // Run the instance through the engine at those moments, as people would.
            let draft_task =
                state.tasks.iter().find(|t| t.step == "draft").map(|t| t.no).ok_or_else(|| anyhow!("a draft task"))?;
            let after_draft = decide::handle(
                &env(draft_done),
                "w1",
                state,
                Command::Complete { task: draft_task, output: Value::Null },
            )
            .map_err(|e| anyhow!("draft: {e}"))?
            .state;
            let after_draft_state = after_draft.clone();
            let review_task = after_draft
                .tasks
                .iter()
                .find(|t| t.step == "review")
                .map(|t| t.no)
                .ok_or_else(|| anyhow!("a review task"))?;
            let done = decide::handle(
                &env(review_done),
                "c1",
                after_draft,
                Command::Approve { task: review_task, comment: None },
            )
            .map_err(|e| anyhow!("review: {e}"))?
            .state;
            let ready = done.tasks.iter().filter_map(|t| t.completed_at).max().unwrap_or(review_done);
            // The lead's morning look at the calendar: re-forecast each
            // business morning before the slot while the post is not ready.
            let mut morning = (start_at + Duration::days(1))
                .date_naive()
                .and_hms_opt(9, 0, 0)
                .map(|d| d.and_utc())
                .unwrap_or(start_at);
            let mut daily_flag = false;
            while morning < publish_at && morning < ready {
                if smmflow_engine::time::business::is_open(morning, &cal) {
                    let at_morning = if morning < draft_done { &started_state } else { &after_draft_state };
                    let inputs =
                        Inputs { history: &history, open_by_role: &open_by_role, calendar: &cal, now: morning };
                    daily_flag |= forecast::compute(&wf, at_morning, &inputs).expected_ready_at > publish_at;
                }
                morning += Duration::days(1);
            }
            daily_flagged += usize::from(daily_flag);
            daily_right += usize::from(daily_flag && ready > publish_at);
            samples.entry("draft".into()).or_default().push(open_seconds(start_at, draft_done, &cal));
            samples.entry("review".into()).or_default().push(open_seconds(draft_done, review_done, &cal));
            let err = (f.expected_ready_at - ready).num_seconds().abs() as f64 / 3600.0;
            errors.push(err);
            week_errors.push(err);
            let flag = f.expected_ready_at > publish_at;
            let was_late = ready > publish_at;
            flagged += usize::from(flag);
            flagged_right += usize::from(flag && was_late);
            late += usize::from(was_late);
            late_flagged += usize::from(flag && was_late);
        }
        weekly.push(json!({"week": week + 1, "median_abs_error_hours": median(week_errors)}));
    }
    Ok(json!({
        "weeks": sizes.weeks,
        "posts_per_week": sizes.posts,
        "seed": sizes.seed,
        "median_abs_error_hours": median(errors.clone()),
        "median_abs_error_hours_after_week_1": median(errors.iter().skip(sizes.posts).copied().collect()),
        "at_risk_flags": flagged,
        "at_risk_precision": if flagged > 0 { flagged_right as f64 / flagged as f64 } else { 0.0 },
        "late": late,
        "late_flagged_recall": if late > 0 { late_flagged as f64 / late as f64 } else { 0.0 },
        "daily_at_risk_flags": daily_flagged,
        "daily_at_risk_precision": if daily_flagged > 0 { daily_right as f64 / daily_flagged as f64 } else { 0.0 },
        "daily_late_flagged_recall": if late > 0 { daily_right as f64 / late as f64 } else { 0.0 },
        "per_week": weekly,
    }))
}
