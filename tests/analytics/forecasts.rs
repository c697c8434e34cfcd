//! Forecasts from the workflow's own history: a publication whose client
//! approval has waited past its historical p90 is flagged at risk; a fresh
//! one with time to spare is not (SQLite and PostgreSQL, manual clock).
//!
//! Calendar `office`: Monday to Friday 09:00-17:00 UTC. History (Monday):
//! five reviews took 1, 1, 1, 5 and 5 business hours, so p50 = 1 h and
//! p90 = 5 h. Tuesday 15:00: S's review has waited 6 h (since 09:00), past
//! p90, so it is expected to take p90 - p50 = 4 h more: Wednesday 11:00,
//! after S's slot (Wednesday 10:00). F's review was asked at 15:00: expected
//! at 16:00, well before F's slot (Wednesday 14:00).

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{Server, databases};

const FLOW: &str = r#"workflow: forecast-post
name: Forecast post
calendar: office
roles:
  writer: Writes
  client: {description: Approves, party: client}
inputs:
  publish_at: {type: datetime, required: true}
publication:
  at: "{{ inputs.publish_at }}"
  channel: vk
  title: "Post for {{ inputs.publish_at }}"
steps:
  draft:
    role: writer
    due: 2 business hours
  review:
    type: approval
    role: client
    after: [draft]
    due: 8 business hours
    on_reject: {goto: draft}
  go_live:
    type: wait
    after: [review]
    until: "inputs.publish_at"
"#;

const CALENDAR: &str = "calendar: office\nname: Office\ntimezone: UTC\nhours:\n  mon-fri: \"09:00-17:00\"\n";

async fn at(s: &Server, when: DateTime<Utc>) {
    s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": when})).await;
}

async fn open_task(s: &Server, id: &Value, step: &str) -> Value {
    let q = "query($id: ID!) { instance(id: $id) { tasks { id status step { id } } } }";
    let i = s.ok(&s.admin, q, json!({"id": id})).await;
    i["instance"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["step"]["id"] == step && t["status"] == "OPEN")
        .unwrap()["id"]
        .clone()
}

/// Starts a post for `publish_at` and writes its draft at once: its review is asked now.
async fn post(s: &Server, t: &std::collections::HashMap<String, String>, publish_at: DateTime<Utc>) -> Value {
    let start = "mutation($i: JSON!) { startInstance(input: {workflow: \"forecast-post\", workspace: \"fc\", inputs: $i}) { instance { id } userErrors { message } } }";
    let r = s.ok(&t["lena"], start, json!({"i": {"publish_at": publish_at}})).await;
    assert_eq!(r["startInstance"]["userErrors"], json!([]), "{}: {r}", s.db);
    let id = r["startInstance"]["instance"]["id"].clone();
    let draft = open_task(s, &id, "draft").await;
    s.ok(
        &t["wanda"],
        "mutation($t: ID!) { completeTask(input: {taskId: $t}) { userErrors { message } } }",
        json!({"t": draft}),
    )
    .await;
    id
}

#[tokio::test]
async fn a_publication_whose_approval_waited_past_its_p90_is_at_risk() {
    for db in databases() {
        let s = Server::start(db);
        let now: DateTime<Utc> =
            s.ok(&s.admin, "{ serverTime }", json!({})).await["serverTime"].as_str().unwrap().parse().unwrap();
        let mut day = now.date_naive().succ_opt().unwrap();
        while day.weekday() != chrono::Weekday::Mon {
            day = day.succ_opt().unwrap();
        }
        let m = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let h = |d: i64, hour: i64| m + Duration::days(d) + Duration::hours(hour);
        let dep = "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }";
        for src in [CALENDAR, FLOW] {
            let r = s.ok(&s.admin, dep, json!({"s": src})).await;
            assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{db}: {r}");
        }
        let t = s.team("fc", &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
        let approve = "mutation($t: ID!) { approveTask(input: {taskId: $t}) { userErrors { message } } }";

        // History: five reviews of 1, 1, 1, 5 and 5 business hours.
        at(&s, h(0, 9)).await;
        let mut past = Vec::new();
        for i in 0..5 {
            past.push(post(&s, &t, h(20 + i, 12)).await);
        }
        at(&s, h(0, 10)).await;
        for id in &past[..3] {
            s.ok(&t["olga"], approve, json!({"t": open_task(&s, id, "review").await})).await;
        }
        at(&s, h(0, 14)).await;
        for id in &past[3..] {
            s.ok(&t["olga"], approve, json!({"t": open_task(&s, id, "review").await})).await;
        }

        at(&s, h(1, 9)).await;
        let stale = post(&s, &t, h(2, 10)).await;
        at(&s, h(1, 15)).await;
        let fresh = post(&s, &t, h(2, 14)).await;

        let q = "query($i: ID!) { forecast(instanceId: $i) { expectedCompletion p90Completion bottleneckRole steps { step expectedDoneAt } } }";
        let f = s.ok(&t["lena"], q, json!({"i": stale})).await["forecast"].clone();
        let when = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let step = |f: &Value, id: &str| {
            when(&f["steps"].as_array().unwrap().iter().find(|x| x["step"] == id).unwrap()["expectedDoneAt"])
        };
        assert_eq!(step(&f, "draft"), h(1, 9), "{db}: a done step is when it was done: {f}");
        assert_eq!(step(&f, "review"), h(2, 11), "{db}: 4 business hours on from Tuesday 15:00: {f}");
        assert_eq!(when(&f["expectedCompletion"]), h(2, 11), "{db}");
        assert_eq!(f["bottleneckRole"], "client", "{db}");
        let f2 = s.ok(&t["lena"], q, json!({"i": fresh})).await["forecast"].clone();
        assert_eq!(step(&f2, "review"), h(1, 16), "{db}: p50 from its request: {f2}");
        assert_eq!(when(&f2["p90Completion"]), h(2, 14), "{db}: p90 (5 h) runs into Wednesday, then the slot: {f2}");

        let cal = "query($f: PublicationFilter!) { publications(filter: $f) { nodes { instance { id } forecast { expectedReadyAt atRisk } } } }";
        let r = s.ok(&t["lena"], cal, json!({"f": {"from": h(1, 0), "to": h(3, 0)}})).await;
        let nodes = r["publications"]["nodes"].as_array().unwrap();
        let of = |id: &Value| nodes.iter().find(|n| &n["instance"]["id"] == id).unwrap()["forecast"].clone();
        let stale_f = of(&stale);
        assert_eq!((when(&stale_f["expectedReadyAt"]), stale_f["atRisk"].clone()), (h(2, 11), json!(true)), "{db}");
        assert_eq!(of(&fresh)["atRisk"], false, "{db}: {}", of(&fresh));
    }
}
