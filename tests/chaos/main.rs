//! The reliability (chaos) suite: real `smmflow serve` processes under load
//! from concurrent GraphQL clients, while the server (SQLite) or one of three
//! replicas (PostgreSQL) is SIGKILLed and restarted, the PostgreSQL server is
//! restarted, or the SMTP server goes away. Afterwards the event log, the
//! tasks and the mail that arrived must show: no acknowledged command lost,
//! no task, event or e-mail duplicated (a message sent twice carries the same
//! Message-ID: delivery is at least once, see docs/operations.md "Mail"), and
//! every instance finished.
//!
//! Short by default (CI); longer with `SMMFLOW_CHAOS_KILLS` (kills or
//! restarts per test, default 3), `SMMFLOW_CHAOS_INSTANCES` (the least number
//! of instances per test, default 40), `SMMFLOW_CHAOS_CLIENTS` (concurrent
//! clients, default 6) and `SMMFLOW_CHAOS_SEED` (the random moments). See
//! docs/benchmarks.md, "Reliability (chaos suite)".
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod load;
mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use load::*;
use support::Server;
use support::pgcluster::PgCluster;
use support::smtp::SmtpSink;
use verify::{summary, verify};

/// SQLite: the one server SIGKILLed at random moments under load and
/// restarted on the same data dir and port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_sigkilled_under_load_loses_and_doubles_nothing() {
    if !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_with("sqlite", &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    for _ in 0..s.kills {
        tokio::time::sleep(rng.millis(800, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        server = kill_and_restart(server, rng.millis(0, 500)).await;
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the kills interrupted no command: they did not happen under load");
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos sqlite: {} SIGKILLs + restarts (seed {}), {} clients, {}",
        s.kills,
        s.seed,
        s.clients,
        summary(&v, &load, started)
    );
}

/// PostgreSQL: three replicas with the clients spread over them; one of
/// them SIGKILLed and restarted several times (its clients move to another).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replica_sigkilled_under_load_loses_and_doubles_nothing() {
    if !postgres_configured() || !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Server::start_with("postgres", &args);
    let b = Server::start_replica_with(&a, &args);
    let c = Server::start_replica_with(&a, &args);
    let tokens = prepare(&a).await;
    let urls = vec![a.url.clone(), b.url.clone(), c.url.clone()];
    let mut replicas = [Some(a), Some(b), Some(c)];
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(urls, tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    let mut killed = Vec::new();
    for _ in 0..s.kills {
        tokio::time::sleep(rng.millis(800, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        let i = rng.below(3) as usize;
        killed.push(["a", "b", "c"][i]);
        let r = replicas[i].take().unwrap();
        replicas[i] = Some(kill_and_restart(r, rng.millis(200, 1500)).await);
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the kills interrupted no command: they did not happen under load");
    let v = verify(replicas[0].as_ref().unwrap(), &load, &sink).await;
    eprintln!(
        "chaos postgres replicas: {} SIGKILLs + restarts of one of 3 replicas ({}; seed {}), {} clients ({} fail-overs), {}",
        s.kills,
        killed.join(","),
        s.seed,
        s.clients,
        load.failovers,
        summary(&v, &load, started)
    );
}

/// The server keeps going when its PostgreSQL restarts under load (a fast
/// restart, and an immediate stop then a start: crash recovery): commands
/// fail while it is away, the pool reconnects, the background services
/// (timers, mail, the listener) carry on, and nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_is_survived_by_reconnecting() {
    if !postgres_configured() || !python_available() {
        return;
    }
    let cluster = match PgCluster::start() {
        Ok(c) => c,
        Err(why) => {
            support::skipped(&format!("SKIPPED: cannot run a PostgreSQL cluster of the test's own: {why}"));
            return;
        }
    };
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_on(&cluster.url(), &args);
    let mut replica = Server::start_replica_with(&server, &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone(), replica.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    let mut restarts = Vec::new();
    for i in 0..s.kills {
        tokio::time::sleep(rng.millis(1000, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        let down = rng.millis(300, 2000);
        let outage = Instant::now();
        let done = if i % 2 == 0 {
            restarts.push("restart -m fast");
            cluster.restart_fast()
        } else {
            restarts.push("stop -m immediate + start");
            cluster.stop_immediate().and_then(|()| {
                std::thread::sleep(down);
                cluster.start_server()
            })
        };
        done.unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_text()));
        eprintln!("chaos postgres: {} took {:.1} s", restarts.last().unwrap(), outage.elapsed().as_secs_f64());
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the restarts interrupted no command: they did not happen under load");
    // Both servers are still the same processes, and ready.
    assert!(server.is_running() && replica.is_running(), "a server exited when PostgreSQL restarted");
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::http_status(&format!("{}/readyz", replica.url)) != Ok(200) {
        assert!(Instant::now() < deadline, "the replica is not ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos postgres restart: {} restarts of PostgreSQL ({}; seed {}) under 2 servers, {} clients, {}",
        s.kills,
        restarts.join(", "),
        s.seed,
        s.clients,
        summary(&v, &load, started)
    );
}

/// The SMTP server goes away under load and comes back on the same port:
/// commands go on, deliveries fail and are retried with backoff (30 s), and
/// every message arrives, none twice as two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_under_load_is_survived() {
    if !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let mut sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with("sqlite", &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    // Wait for mail to flow, then take the SMTP server away for a while.
    let deadline = Instant::now() + PATIENCE;
    while sink.messages().len() < 10 {
        assert!(Instant::now() < deadline, "no mail is flowing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = sink.messages().len();
    sink.stop();
    let outage = rng.millis(5000, 10000);
    tokio::time::sleep(outage).await;
    let failed = mail_deliveries(&server, "failed").await;
    assert!(failed > 0, "no delivery failed while the SMTP server was away");
    sink.resume();
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos smtp outage: SMTP server away for {:.1} s under load ({} messages before; {failed} failed deliveries, retried), {} clients, {} instances, {} commands acknowledged, {} e-mails ({} arrived twice with the same Message-ID), none lost, {:.1} s",
        outage.as_secs_f64(),
        before,
        s.clients,
        v.instances,
        v.acks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    );
}

/// `smmflow_mail_deliveries_total{result=...}` from `/metrics`.
async fn mail_deliveries(server: &Server, result: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    let prefix = format!("smmflow_mail_deliveries_total{{result=\"{result}\"}}");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse::<f64>().unwrap_or(0.0) as u64)
}
