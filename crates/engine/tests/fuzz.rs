//! The engine under generated workflows and commands: random step graphs
//! with every step kind, durations and dates up to (and past) the ends of
//! the handled range, calendars, escalations and repeats; then random
//! commands (claims, outputs of any shape, decisions, comments of any
//! length, cancels, suspends, retries) and jumps of the clock of up to
//! years, starting anywhere between 1970 and the year 9999. Nothing may
//! panic, and the driver checks after every command that replaying the
//! log rebuilds the state.
//!
//! It runs in CI with a bounded number of cases (`PROPTEST_CASES`, default
//! 256 here); run it longer with e.g. `PROPTEST_CASES=5000 cargo test -p
//! smmflow-engine --test fuzz`.
#![allow(clippy::unwrap_used)]

mod driver;

use chrono::{DateTime, Duration, Utc};
use driver::{Driver, People};
use proptest::prelude::*;
use serde_json::{Value, json};
use smmflow_engine::Command;
use smmflow_spec::{Project, Source};

/// Durations from the everyday to the longest the language accepts.
const DURATIONS: &[&str] = &[
    "1s",
    "30m",
    "4h",
    "1d",
    "1w",
    "3650d",
    "1 business hour",
    "3 business days",
    "10000 business hours",
    "2500 business days",
];

/// Date values an expression or a form may yield, valid and not.
const DATES: &[&str] = &[
    "2027-01-15T10:00:00Z",
    "1970-01-01",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T20:00:00-05:00",
    "+10000-01-01T00:00:00Z",
    "not a date",
    "",
];

#[derive(Clone, Debug)]
enum Kind {
    Task,
    Approval { external: bool, auto: bool },
    Wait { until: Option<usize>, duration: usize },
    Notify,
}

#[derive(Clone, Debug)]
struct StepGen {
    kind: Kind,
    /// Earlier steps it comes after (by index).
    after: Vec<usize>,
    due: Option<usize>,
    start_after: Option<usize>,
    start_at: Option<usize>,
    for_each: bool,
    repeat: bool,
    remind: bool,
    escalate: bool,
}

fn step_gen() -> impl Strategy<Value = StepGen> {
    let kind = prop_oneof![
        Just(Kind::Task),
        (any::<bool>(), any::<bool>()).prop_map(|(external, auto)| Kind::Approval { external, auto }),
        (proptest::option::of(0..DATES.len()), 0..DURATIONS.len())
            .prop_map(|(until, duration)| Kind::Wait { until, duration }),
        Just(Kind::Notify),
    ];
    (
        kind,
        proptest::collection::vec(0usize..8, 0..3),
        proptest::option::of(0..DURATIONS.len()),
        proptest::option::weighted(0.2, 0..DURATIONS.len()),
        proptest::option::weighted(0.2, 0..DATES.len()),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.15),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(kind, after, due, start_after, start_at, for_each, repeat, remind, escalate)| StepGen {
            kind,
            after,
            due,
            start_after,
            start_at,
            for_each,
            repeat,
            remind,
            escalate,
        })
}

/// The YAML of a generated workflow (steps only come after earlier ones,
/// so it has no cycles; the validator still decides whether it is valid).
fn yaml(steps: &[StepGen], business: bool) -> String {
    let mut y = String::from(
        "workflow: fuzzed\nname: Fuzzed\nroles: {writer: Writes, editor: Edits, client: Approves}\n\
         inputs:\n  when: {type: string, default: \"2027-01-15\"}\n  items: {type: list, items: {type: string}, default: [a, b]}\n",
    );
    if business {
        y.push_str("calendar: office\n");
    }
    y.push_str("steps:\n");
    for (i, s) in steps.iter().enumerate() {
        y.push_str(&format!("  s{i}:\n"));
        let after: Vec<String> = s.after.iter().filter(|a| **a < i).map(|a| format!("s{a}")).collect();
        if !after.is_empty() {
            y.push_str(&format!("    after: [{}]\n", after.join(", ")));
        }
        let human = matches!(s.kind, Kind::Task | Kind::Approval { .. });
        match &s.kind {
            Kind::Task => {
                y.push_str("    role: writer\n    form:\n      text: {type: text}\n      at: {type: datetime}\n");
            }
            Kind::Approval { external, auto } => {
                if *external {
                    y.push_str("    type: approval\n    levels:\n      - {role: client, external: true}\n");
                } else {
                    y.push_str("    type: approval\n    role: editor\n");
                }
                if let Some(p) = after.first() {
                    y.push_str(&format!("    on_reject: {{goto: {p}, max_rounds: 2}}\n"));
                }
                if *auto && s.due.is_some() {
                    y.push_str(&format!(
                        "    escalation: [{{after: \"{}\", auto: approve}}]\n",
                        DURATIONS[s.due.unwrap_or(0)]
                    ));
                }
            }
            Kind::Wait { until, duration } => {
                y.push_str("    type: wait\n");
                match until {
                    Some(d) => y.push_str(&format!("    until: \"'{}'\"\n", DATES[*d])),
                    None => y.push_str(&format!("    duration: \"{}\"\n", DURATIONS[*duration])),
                }
            }
            Kind::Notify => {
                y.push_str("    type: notify\n    to: [\"role:editor\"]\n    subject: Hi\n    body: Hello\n")
            }
        }
        if human {
            if let Some(d) = s.due {
                y.push_str(&format!("    due: \"{}\"\n", DURATIONS[d]));
                if s.remind {
                    y.push_str(&format!("    remind: [\"{}\"]\n", DURATIONS[(d + 1) % DURATIONS.len()]));
                }
                if s.escalate && !matches!(s.kind, Kind::Approval { auto: true, .. }) {
                    y.push_str(&format!("    escalation: [{{after: \"{}\", notify: [assignee]}}]\n", DURATIONS[d]));
                }
            }
            if s.for_each {
                y.push_str("    for_each: \"inputs.items\"\n");
            }
        }
        if let Some(d) = s.start_after {
            y.push_str(&format!("    start: {{after: \"{}\"}}\n", DURATIONS[d]));
        } else if let Some(d) = s.start_at {
            y.push_str(&format!("    start: {{at: \"'{}'\"}}\n", DATES[d]));
        }
        if s.repeat && human && !s.for_each {
            y.push_str("    repeat: {cron: \"0 9 * * *\", count: 3}\n");
        }
    }
    y
}

const OFFICE: &str = "calendar: office\nname: Office\ntimezone: Europe/Moscow\nhours:\n  mon: \"09:30-18:30\"\n  fri: \"10:00-12:00\"\nholidays: [2027-01-01]\n";

#[derive(Clone, Debug)]
enum Op {
    Claim(usize, usize),
    Complete(usize, usize, usize),
    Approve(usize, usize),
    Reject(usize, usize, usize),
    Comment(usize, usize, usize),
    Reassign(usize, usize),
    Cancel,
    Suspend,
    Resume,
    Retry(usize),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..6, 0usize..4).prop_map(|(t, u)| Op::Claim(t, u)),
        4 => (0usize..6, 0usize..4, 0usize..6).prop_map(|(t, u, o)| Op::Complete(t, u, o)),
        3 => (0usize..6, 0usize..4).prop_map(|(t, u)| Op::Approve(t, u)),
        2 => (0usize..6, 0usize..4, 0usize..3).prop_map(|(t, u, c)| Op::Reject(t, u, c)),
        1 => (0usize..6, 0usize..4, 0usize..3).prop_map(|(t, u, c)| Op::Comment(t, u, c)),
        1 => (0usize..6, 0usize..4).prop_map(|(t, u)| Op::Reassign(t, u)),
        1 => Just(Op::Cancel),
        1 => Just(Op::Suspend),
        1 => Just(Op::Resume),
        1 => (0usize..8).prop_map(Op::Retry),
        4 => prop_oneof![1i64..3_600, 3_600i64..2_000_000, 2_000_000i64..400_000_000].prop_map(Op::Advance),
    ]
}

const USERS: [&str; 4] = ["wanda", "eddie", "carl", "carl@client.example"];

fn output(i: usize) -> Value {
    match i {
        0 => json!({"text": "A post", "at": "2027-01-15T10:00:00Z"}),
        1 => json!({"text": "x".repeat(300_000)}),
        2 => json!({"at": "9999-12-31T20:00:00-05:00"}),
        3 => json!({"text": "nul\u{0}"}),
        4 => json!([1, 2, {"deep": [[[[[]]]]]}]),
        _ => Value::Null,
    }
}

fn comment(i: usize) -> String {
    match i {
        0 => "Please make it warmer".into(),
        1 => "y".repeat(20_000),
        _ => "bell\u{7}".into(),
    }
}

/// Start moments from the epoch to the last year the product handles.
fn start_moment() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just("2026-12-07T09:00:00Z".to_string()),
        Just("1970-01-01T00:00:00Z".to_string()),
        Just("9999-12-30T10:00:00Z".to_string()),
        (1970i32..9999).prop_map(|y| format!("{y:04}-06-15T12:00:00Z")),
    ]
    .prop_map(|s| driver::at(&s))
}

fn run(steps: Vec<StepGen>, business: bool, start: DateTime<Utc>, ops: Vec<Op>) {
    let source = yaml(&steps, business);
    let source_text = source.clone();
    let mut sources = vec![Source { path: "fuzzed.yaml".into(), text: source }];
    if business {
        sources.push(Source { path: "office.yaml".into(), text: OFFICE.into() });
    }
    let project = Project::from_sources(sources);
    let errors: Vec<_> = project.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "the generator made an invalid workflow:\n{source_text}\n{errors:#?}");
    let people = People::default().with("writer", &["wanda"]).with("editor", &["eddie"]).with("client", &["carl"]);
    let mut d = Driver::new(project, people, "2026-12-07T09:00:00Z");
    d.now = start;
    let Ok(id) = d.start("fuzzed", json!({}), "lena") else { return };
    for op in ops {
        let open = d.open(id);
        let task = |t: usize| open.get(t % open.len().max(1)).map(|(i, no, _)| (*i, *no));
        let r = match op {
            Op::Advance(secs) => {
                let to = smmflow_engine::time::plus(d.now, Duration::seconds(secs));
                d.advance_to(to);
                continue;
            }
            Op::Cancel => d.command(id, "lena", Command::Cancel { reason: "fuzz".into() }),
            Op::Suspend => d.command(id, "lena", Command::Suspend),
            Op::Resume => d.command(id, "lena", Command::Resume),
            Op::Retry(s) => d.command(id, "lena", Command::RetryStep { step: format!("s{s}") }),
            Op::Claim(t, u) => match task(t) {
                Some((i, no)) => d.command(i, USERS[u], Command::Claim { task: no }),
                None => continue,
            },
            Op::Complete(t, u, o) => match task(t) {
                Some((i, no)) => d.command(i, USERS[u], Command::Complete { task: no, output: output(o) }),
                None => continue,
            },
            Op::Approve(t, u) => match task(t) {
                Some((i, no)) if USERS[u].contains('@') => d.command(
                    i,
                    USERS[u],
                    Command::DecideByLink { task: no, approve: true, comment: None, reasons: vec![] },
                ),
                Some((i, no)) => d.command(i, USERS[u], Command::Approve { task: no, comment: None }),
                None => continue,
            },
            Op::Reject(t, u, c) => match task(t) {
                Some((i, no)) => {
                    d.command(i, USERS[u], Command::Reject { task: no, comment: comment(c), reasons: vec![] })
                }
                None => continue,
            },
            Op::Comment(t, u, c) => match task(t) {
                Some((i, no)) => d.command(i, USERS[u], Command::Comment { task: no, body: comment(c) }),
                None => continue,
            },
            Op::Reassign(t, u) => match task(t) {
                Some((i, no)) => d.command(i, "lena", Command::Reassign { task: no, user: USERS[u].into() }),
                None => continue,
            },
        };
        // Refusals are fine (the driver checks they changed nothing); panics are not.
        let _ = r;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_workflows_and_commands_never_panic(
        steps in proptest::collection::vec(step_gen(), 1..8),
        business in any::<bool>(),
        start in start_moment(),
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        run(steps, business, start, ops);
    }
}
