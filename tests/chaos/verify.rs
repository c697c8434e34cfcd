//! After the load: what the event log, the tasks and the mail must show.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::load::{AUDIT, Ack, Load, OUTBOX_OF, OUTBOX_PROBLEMS, PATIENCE, expected_steps};
use crate::support::Server;
use crate::support::smtp::SmtpSink;

/// What verification found.
pub(crate) struct Verified {
    pub(crate) instances: usize,
    pub(crate) acks: usize,
    pub(crate) events: usize,
    pub(crate) tasks: usize,
    pub(crate) mails: usize,
    pub(crate) resent: usize,
}

/// Checks, after the load: every instance finished; its events numbered
/// 1..=N without gaps; its tasks exactly the expected ones (one per step
/// and round); every acknowledged command in the event log; every expected
/// message arrived, no other, and a message that arrived twice is the same
/// message (same Message-ID, recipient and subject).
pub(crate) async fn verify(server: &Server, load: &Load, sink: &SmtpSink) -> Verified {
    let admin = &server.admin;
    // Timers left by killed processes fire once their lease (5 s) runs out.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = server
            .ok(
                admin,
                "{ instances(filter: {workspace: \"chaos\", status: [RUNNING, SUSPENDED]}, first: 1) { totalCount } }",
                json!({}),
            )
            .await;
        if r["instances"]["totalCount"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "instances still running after {PATIENCE:?}: {r}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // One instance per post, whatever the retries of its start.
    let mut posts: BTreeMap<u64, String> = BTreeMap::new();
    for a in &load.acks {
        if let Ack::Start { n, instance } = a {
            let known = posts.entry(*n).or_insert_with(|| instance.clone());
            assert_eq!(known, instance, "post {n} was started twice under one idempotency key");
        }
    }
    assert_eq!(posts.len(), load.posts, "every post the clients drove was started and acknowledged");
    let total = server
        .ok(admin, "{ instances(filter: {workspace: \"chaos\"}, first: 1) { totalCount } }", json!({}))
        .await["instances"]["totalCount"]
        .as_u64()
        .unwrap();
    assert_eq!(total as usize, posts.len(), "no instance without its post, none twice");

    let email = |login: &str| format!("{login}@agency.example");
    let mut expected_mail: BTreeSet<(String, String)> = BTreeSet::new();
    let mut audits: HashMap<String, Value> = HashMap::new();
    let (mut events_seen, mut tasks_seen) = (0, 0);
    for (n, id) in &posts {
        let d = server.ok(admin, AUDIT, json!({"id": id})).await;
        let inst = d["instance"].clone();
        assert_eq!(inst["status"], "COMPLETED", "post {n}: {inst}");
        assert_eq!(inst["inputs"]["n"], json!(n));
        let events = inst["events"].as_array().unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "post {n}: seq 1..N without gaps or repeats");
        let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
        assert_eq!(count("instance.started"), 1, "post {n}");
        assert_eq!(count("instance.completed"), 1, "post {n}");
        assert_eq!(events.last().unwrap()["kind"], "instance.completed", "post {n}");
        // Tasks: exactly the expected ones, one per step and round.
        let tasks = inst["tasks"].as_array().unwrap();
        let steps: Vec<&str> = tasks.iter().map(|t| t["step"]["id"].as_str().unwrap()).collect();
        assert_eq!(steps, expected_steps(*n), "post {n}: {tasks:?}");
        let rounds: BTreeSet<(String, i64)> = tasks
            .iter()
            .map(|t| (t["step"]["id"].as_str().unwrap().to_string(), t["round"].as_i64().unwrap()))
            .collect();
        assert_eq!(rounds.len(), tasks.len(), "post {n}: one task per step and round: {tasks:?}");
        // Each task created once and decided once in the log.
        let mut created: BTreeMap<u64, usize> = BTreeMap::new();
        let mut ended: BTreeMap<u64, usize> = BTreeMap::new();
        for e in events {
            match e["kind"].as_str().unwrap() {
                "task.created" => *created.entry(e["data"]["task"]["no"].as_u64().unwrap()).or_default() += 1,
                "task.completed" | "task.approved" | "task.rejected" => {
                    *ended.entry(e["data"]["task"].as_u64().unwrap()).or_default() += 1
                }
                _ => {}
            }
        }
        assert_eq!(created.len(), tasks.len(), "post {n}: task.created per task");
        assert!(created.values().chain(ended.values()).all(|c| *c == 1), "post {n}: {created:?} {ended:?}");
        assert_eq!(ended.len(), tasks.len(), "post {n}: every task decided once");
        // The mail this post must cause (defaults, and the workflow's rule for approvals).
        for t in tasks {
            let (step, round, title) =
                (t["step"]["id"].as_str().unwrap(), t["round"].as_i64().unwrap(), t["title"].as_str().unwrap());
            let (people, subject): (&[&str], String) = match step {
                "draft" if round == 1 => (&["cora", "carl"], format!("New task: {title}")),
                "draft" => (&["cora", "carl"], format!("Rework (round {round}): {title}")),
                "manager_review" => (&["max"], format!("Decide (round {round}): {title}")),
                _ => (&["cleo"], format!("Decide (round {round}): {title}")),
            };
            for p in people {
                expected_mail.insert((email(p), subject.clone()));
            }
        }
        for p in ["lena", "cleo"] {
            expected_mail.insert((email(p), format!("Published: post {n}")));
        }
        events_seen += events.len();
        tasks_seen += tasks.len();
        audits.insert(id.clone(), inst);
    }

    // Every acknowledged command is in the log, done by whom it says.
    for a in &load.acks {
        let Ack::Task { n, instance, step, round, action, actor } = a else { continue };
        let events = audits[instance]["events"].as_array().unwrap();
        let no = events
            .iter()
            .find(|e| {
                e["kind"] == "task.created"
                    && e["data"]["task"]["step"] == step.as_str()
                    && e["data"]["task"]["round"].as_i64() == Some(*round)
            })
            .unwrap_or_else(|| panic!("post {n}: no task.created for {step} round {round}"))["data"]["task"]["no"]
            .clone();
        let kind = match *action {
            "complete" => "task.completed",
            "approve" => "task.approved",
            _ => "task.rejected",
        };
        assert!(
            events.iter().any(|e| e["kind"] == kind && e["data"]["task"] == no && e["actor"]["login"] == *actor),
            "post {n}: the acknowledged {action} of {step} round {round} by {actor} is not in the log"
        );
    }

    // Mail: at least once, with a stable Message-ID. The mail is waited for
    // as long as it keeps arriving (the volume grows with the server's
    // speed under the load), and the check fails once nothing new has
    // arrived for PATIENCE.
    let mut deadline = Instant::now() + PATIENCE;
    let mut arrived = 0;
    let (ids, pairs) = loop {
        let mut ids: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for m in sink.messages() {
            let rcpt = m["rcpt"].as_array().unwrap();
            assert_eq!(rcpt.len(), 1, "one recipient per message: {m}");
            let pair = (rcpt[0].as_str().unwrap().to_string(), m["subject"].as_str().unwrap().to_string());
            ids.entry(m["message_id"].as_str().unwrap().to_string()).or_default().push(pair);
        }
        let pairs: BTreeSet<(String, String)> = ids.values().flatten().cloned().collect();
        if pairs.is_superset(&expected_mail) {
            break (ids, pairs);
        }
        if pairs.len() > arrived {
            arrived = pairs.len();
            deadline = Instant::now() + PATIENCE;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = expected_mail.difference(&pairs).take(10).collect();
            let outbox = server.ok(admin, OUTBOX_PROBLEMS, json!({})).await;
            let unexpected: Vec<_> = pairs.difference(&expected_mail).take(10).collect();
            let (rcpt, subject) = missing[0];
            let n: u64 = subject.rsplit(' ').next().unwrap().parse().unwrap();
            let listed = server.ok(admin, OUTBOX_OF, json!({"i": posts[&n]})).await;
            let same: Vec<&Value> = listed["notifications"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["recipient"].as_str() == Some(rcpt.as_str()))
                .collect();
            panic!(
                "{} of {} messages arrived; missing e.g. {missing:?}; unexpected: {unexpected:?}; the outbox's problems: {outbox}; the outbox has for {rcpt} about post {n}: {same:?}",
                pairs.len(),
                expected_mail.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let unexpected: Vec<_> = pairs.difference(&expected_mail).take(10).collect();
    assert!(unexpected.is_empty(), "messages nobody should have got: {unexpected:?}");
    for (id, copies) in &ids {
        assert!(copies.iter().all(|c| c == &copies[0]), "{id}: a message sent again is the same message: {copies:?}");
    }
    assert_eq!(ids.len(), expected_mail.len(), "each message has one Message-ID: no message sent twice as two");
    let resent = ids.values().map(|c| c.len() - 1).sum();
    Verified {
        instances: posts.len(),
        acks: load.acks.len(),
        events: events_seen,
        tasks: tasks_seen,
        mails: ids.len(),
        resent,
    }
}

/// The part of a test's summary line that every load test shares.
pub(crate) fn summary(v: &Verified, load: &Load, started: Instant) -> String {
    format!(
        "{} instances, {} commands sent, {} acknowledged, {} not acknowledged and retried, {} found already applied, {} events, {} tasks, {} e-mails ({} arrived twice with the same Message-ID), no loss, no duplicate, {:.1} s",
        v.instances,
        load.commands,
        v.acks,
        load.unacked,
        load.already,
        v.events,
        v.tasks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    )
}
