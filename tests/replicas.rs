//! Several `smmflow serve` replicas on one PostgreSQL database.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Server, Subscription};

const FLOW: &str = "workflow: relay-flow\nname: Relay\nroles: {writer: Writes, lead: Leads}\nsteps:\n  draft:\n    role: writer\n  polish:\n    role: writer\n    after: [draft]\n";

#[tokio::test]
async fn a_subscription_on_one_replica_receives_events_made_on_another() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start("postgres");
    let b = Server::start_replica(&a);
    a.ok(&a.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": FLOW}))
        .await;
    let t = a.team("relay", &[("lena", "lead"), ("wanda", "writer")]).await;
    let mut on_b = Subscription::open(
        &b,
        &t["wanda"],
        "subscription { taskEvents(workspace: \"relay\") { kind task { step { id } } } }",
        json!({}),
        false,
    )
    .await
    .unwrap();
    let started = a.ok(&t["lena"], r#"mutation { startInstance(input: {workflow: "relay-flow", workspace: "relay"}) { instance { id tasks { id } } } }"#, json!({})).await;
    let inst = started["startInstance"]["instance"].clone();
    let mut on_b_instance = Subscription::open(
        &b,
        &t["lena"],
        "subscription($id: ID!) { instanceEvents(instanceId: $id) { seq kind } }",
        json!({"id": inst["id"]}),
        false,
    )
    .await
    .unwrap();
    a.ok(
        &t["wanda"],
        "mutation($t: ID!) { completeTask(input: {taskId: $t}) { userErrors { message } } }",
        json!({"t": inst["tasks"][0]["id"]}),
    )
    .await;
    let mut kinds = Vec::new();
    while let Some(e) = on_b.next(Duration::from_secs(5)).await {
        kinds.push(format!(
            "{}:{}",
            e["taskEvents"]["kind"].as_str().unwrap(),
            e["taskEvents"]["task"]["step"]["id"].as_str().unwrap()
        ));
        if kinds.len() == 4 {
            break;
        }
    }
    assert_eq!(kinds, ["task.created:draft", "task.claimed:draft", "task.completed:draft", "task.created:polish"]);
    let mut seqs = Vec::new();
    while let Some(e) = on_b_instance.next(Duration::from_secs(2)).await {
        seqs.push(e["instanceEvents"]["seq"].as_i64().unwrap());
    }
    assert!(seqs.len() >= 3 && seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, none missing: {seqs:?}");
    // The work done on A is visible on B at once (one database).
    let seen =
        b.ok(&t["wanda"], "{ tasks(filter: {mine: true, status: [OPEN]}) { nodes { step { id } } } }", json!({})).await;
    assert_eq!(seen["tasks"]["nodes"][0]["step"]["id"], "polish");
}

const TICK: &str = "workflow: tick-flow\nname: Tick\nroles: {writer: Writes}\nsteps:\n  note:\n    type: notify\n    to: [\"role:writer\"]\n    subject: tick\n    body: tick\n";

/// 200 schedules firing every minute on three replicas, one of them killed
/// with SIGKILL mid-run: every expected fire happens, exactly once.
#[tokio::test]
async fn two_hundred_minute_schedules_on_three_replicas_survive_a_sigkill() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start_with("postgres", &["--real-clock"]);
    let mut b = Server::start_replica_with(&a, &["--real-clock"]);
    let c = Server::start_replica_with(&a, &["--real-clock"]);
    a.ok(&a.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": TICK}))
        .await;
    a.team("ticks", &[("lena", "lead"), ("wanda", "writer")]).await;
    let create = r#"mutation { createSchedule(input: {workflow: "tick-flow", workspace: "ticks", cron: "* * * * *", missed: ALL, catchUpWindow: "1h"}) { schedule { id } userErrors { message } } }"#;
    let mut ids = Vec::new();
    for _ in 0..200 {
        let r = a.ok(&a.admin, create, json!({})).await;
        ids.push(r["createSchedule"]["schedule"]["id"].as_str().unwrap().to_string());
    }
    let created = chrono::Utc::now();
    // Run about two and a half minutes; kill B after the first minute.
    tokio::time::sleep(Duration::from_secs(70)).await;
    b.kill();
    tokio::time::sleep(Duration::from_secs(80)).await;
    let ended = chrono::Utc::now();
    // Every whole minute after creation that has passed (with a few seconds of slack) fired once on some replica.
    let first = (created + chrono::Duration::minutes(1)).timestamp() / 60 * 60;
    let last = (ended - chrono::Duration::seconds(10)).timestamp() / 60 * 60;
    let expected: Vec<i64> = (first..=last).step_by(60).collect();
    assert!(expected.len() >= 2, "the run spans at least two fires");
    // The schedules keep firing while they are read (runs, fires, instances
    // are separate reads): pause them all first, so the reads agree.
    let pause = "mutation($s: ID!) { pauseSchedule(input: {scheduleId: $s}) { userErrors { message } } }";
    for id in &ids {
        c.ok(&a.admin, pause, json!({"s": id})).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let query = "{ schedules(workspace: \"ticks\") { id runs lastFires(limit: 100) { scheduledFor skipped instance { id } } } }";
    let listed = c.ok(&a.admin, query, json!({})).await;
    assert_eq!(listed["schedules"].as_array().unwrap().len(), 200);
    let mut total = 0;
    for sched in listed["schedules"].as_array().unwrap() {
        let fires: Vec<i64> = sched["lastFires"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["skipped"], false, "{f}");
                assert!(f["instance"]["id"].is_string());
                chrono::DateTime::parse_from_rfc3339(f["scheduledFor"].as_str().unwrap()).unwrap().timestamp()
            })
            .collect();
        let mut unique = fires.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), fires.len(), "no fire twice: {fires:?}");
        for m in &expected {
            assert!(fires.contains(m), "schedule {} missed the fire at {m}: {fires:?}", sched["id"]);
        }
        assert_eq!(sched["runs"].as_i64().unwrap() as usize, fires.len(), "one run per fire");
        total += fires.len();
    }
    let instances = c
        .ok(&a.admin, "{ instances(filter: {workspace: \"ticks\"}, first: 1) { totalCount } }", json!({}))
        .await["instances"]["totalCount"]
        .as_i64()
        .unwrap();
    assert_eq!(instances as usize, total, "no instance without its fire, none twice");
    eprintln!(
        "replicas: 200 schedules, {total} fires over {} minutes, one replica SIGKILLed, none missed or doubled",
        expected.len()
    );
}

const HOLD: &str = "workflow: hold-flow\nname: Hold\nroles: {writer: Writes}\ninputs:\n  at: {type: datetime, required: true}\nsteps:\n  hold:\n    type: wait\n    until: \"inputs.at\"\n";

/// 10,000 timers due at the same moment, fired by three replicas: every
/// one fires, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_timers_due_at_once_fire_once_across_three_replicas() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start_with("postgres", &["--real-clock"]);
    a.ok(&a.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": HOLD}))
        .await;
    a.team("holds", &[("lena", "lead")]).await;
    // Create the instances in-process, straight through the runtime, on the shared database.
    let url = a.database_url.clone().unwrap();
    let store = smmflow_store::Store::connect(&url).await.unwrap();
    let (rt, _) = smmflow_runtime::Runtime::open(smmflow_runtime::Options {
        database_url: url,
        workflows: None,
        clock: std::sync::Arc::new(smmflow_runtime::SystemClock),
        node: "loader".into(),
    })
    .await
    .unwrap();
    let due = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc3339();
    let mut handles = Vec::new();
    for w in 0..4 {
        let rt = rt.clone();
        let due = due.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..2500 {
                let req = smmflow_runtime::StartRequest {
                    workflow: "hold-flow".into(),
                    workspace: "holds".into(),
                    inputs: json!({"at": due}),
                    actor: "lena".into(),
                    idempotency_key: None,
                };
                rt.system().start(req).await.unwrap();
            }
            w
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(store.timer_count().await.unwrap(), 10_000);
    let _b = Server::start_replica_with(&a, &["--real-clock"]);
    let _c = Server::start_replica_with(&a, &["--real-clock"]);
    // Wait for the moment, then until every timer has fired.
    let deadline = std::time::Instant::now() + Duration::from_secs(400);
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let left = store.timer_count().await.unwrap();
        if left == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{left} timers still waiting");
    }
    let ids = store.instance_ids().await.unwrap();
    assert_eq!(ids.len(), 10_000);
    let mut completed = 0;
    for id in ids {
        let events = store.events(id).await.unwrap();
        let holds = events
            .iter()
            .filter(|e| matches!(&e.kind, smmflow_engine::EventKind::StepCompleted { step, .. } if step == "hold"))
            .count();
        assert_eq!(holds, 1, "instance {id}: the wait fired {holds} times");
        completed += usize::from(events.last().is_some_and(|e| e.kind_name() == "instance.completed"));
    }
    assert_eq!(completed, 10_000);
    eprintln!("replicas: 10,000 timers due at once fired exactly once on three replicas");
}

/// A replica killed while firing: the timers it had claimed are taken over
/// by the others when its lease (5 s here) runs out; each fires once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_claimed_timers_are_taken_over_after_its_lease() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start_with("postgres", &["--real-clock", "--lease=5"]);
    a.ok(&a.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": HOLD}))
        .await;
    a.team("holds", &[("lena", "lead")]).await;
    let store = smmflow_store::Store::connect(a.database_url.as_deref().unwrap()).await.unwrap();
    let (rt, _) = smmflow_runtime::Runtime::open(smmflow_runtime::Options {
        database_url: a.database_url.clone().unwrap(),
        workflows: None,
        clock: std::sync::Arc::new(smmflow_runtime::SystemClock),
        node: "loader".into(),
    })
    .await
    .unwrap();
    let at = chrono::Utc::now() + chrono::Duration::seconds(40);
    for _ in 0..3000 {
        let req = smmflow_runtime::StartRequest {
            workflow: "hold-flow".into(),
            workspace: "holds".into(),
            inputs: json!({"at": at.to_rfc3339()}),
            actor: "lena".into(),
            idempotency_key: None,
        };
        rt.system().start(req).await.unwrap();
    }
    let mut b = Server::start_replica_with(&a, &["--real-clock", "--lease=5"]);
    let _c = Server::start_replica_with(&a, &["--real-clock", "--lease=5"]);
    let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(700);
    tokio::time::sleep(wait).await;
    b.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while store.timer_count().await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "timers left after the lease ran out");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut late = 0;
    for id in store.instance_ids().await.unwrap() {
        let events = store.events(id).await.unwrap();
        let holds: Vec<_> = events
            .iter()
            .filter(|e| matches!(&e.kind, smmflow_engine::EventKind::StepCompleted { step, .. } if step == "hold"))
            .collect();
        assert_eq!(holds.len(), 1, "instance {id}");
        late += usize::from(holds[0].at >= at + chrono::Duration::seconds(5));
    }
    eprintln!(
        "replicas: one of three killed while firing 3,000 timers; all fired once ({late} completed 5 s or more after their due time)"
    );
}

const MAIL_FLOW: &str = "workflow: mail-flow\nname: Mail flow\nroles: {writer: Writes}\ninputs:\n  n: {type: integer, required: true}\nsteps:\n  draft:\n    title: \"Draft {{ inputs.n }}\"\n    role: writer\n";

/// Mail on three replicas, one SIGKILLed while sending: the rows it had
/// claimed are sent by the others after its lease (5 s here). Every message
/// arrives; a message sent again (killed between send and mark) is the same
/// message, with the same Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_a_replica_killed_while_sending() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    // A slow SMTP server keeps every replica busy in the middle of its batch.
    let Some(sink) = support::smtp::SmtpSink::start_with_delay(15) else { return };
    let url = sink.url();
    let args = ["--real-clock", "--outbox-lease=5", "--smtp-url", url.as_str()];
    let mut a = Server::start_with("postgres", &args);
    let b = Server::start_replica_with(&a, &args);
    let _c = Server::start_replica_with(&a, &args);
    b.ok(
        &b.admin,
        "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }",
        json!({"s": MAIL_FLOW}),
    )
    .await;
    let t = b.team("mail", &[("lena", "lead"), ("wanda", "writer"), ("will", "writer"), ("wendy", "writer")]).await;
    const STARTS: usize = 200;
    for n in 0..STARTS {
        b.ok(&t["lena"], "mutation($in: JSON) { startInstance(input: {workflow: \"mail-flow\", workspace: \"mail\", inputs: $in}) { instance { id } } }", json!({"in": {"n": n}}))
            .await;
    }
    let expected = STARTS * 3;
    // Kill A once mail is flowing.
    let started = std::time::Instant::now();
    while sink.messages().len() < 60 {
        assert!(started.elapsed() < Duration::from_secs(60), "no mail is flowing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    let mut ids = std::collections::BTreeMap::new();
    loop {
        ids.clear();
        for m in sink.messages() {
            let entry = ids.entry(m["message_id"].as_str().unwrap().to_string()).or_insert_with(Vec::new);
            entry.push((m["rcpt"].to_string(), m["subject"].as_str().unwrap().to_string()));
        }
        if ids.len() >= expected {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "{} of {expected} messages arrived", ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ids.len(), expected, "every message, and no other");
    let again: usize = ids.values().map(|copies| copies.len() - 1).sum();
    for (id, copies) in &ids {
        assert!(copies.iter().all(|c| c == &copies[0]), "{id}: a resent message is the same message: {copies:?}");
    }
    let mut pairs: Vec<&(String, String)> = ids.values().map(|c| &c[0]).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), expected, "each writer got each draft once");
    // The admins see every message sent.
    let started = std::time::Instant::now();
    loop {
        let r = b.ok(&b.admin, "{ notifications(filter: {status: [SENT]}, first: 1) { totalCount } }", json!({})).await;
        if r["notifications"]["totalCount"] == json!(expected) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("replicas: {expected} messages delivered across a SIGKILL; {again} sent twice with the same Message-ID");
}
