//! Schedules on SQLite and PostgreSQL with a manual clock: YAML schedules
//! from the library, catch-up after an outage under each `missed` policy,
//! overlap, pause and resume; each fire starts at most one instance.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Sim, at, databases, library_dir};
use serde_json::json;

const DAILY: &str =
    "workflow: daily-digest\nname: Daily digest\nroles: {analyst: Reads}\nsteps:\n  read:\n    role: analyst\n";

fn spec(missed: &str, overlap: &str) -> serde_json::Value {
    json!({"cron": "0 9 * * *", "timezone": "UTC", "workspace": "acme", "missed": missed, "overlap": overlap, "catch_up_window": "7d"})
}

#[tokio::test]
async fn the_librarys_thursday_schedule_starts_one_weekly_cycle() {
    for (db, url, _dir) in databases("sched_yaml").await {
        // Wednesday 2026-12-02 12:00 UTC.
        let sim = Sim::open(&db, &url, Some(library_dir()), "2026-12-02T12:00:00Z").await;
        let rows = sim.store.schedules(None).await.unwrap();
        let weekly = rows.iter().find(|r| r.workflow == "weekly-content").unwrap().clone();
        assert_eq!(weekly.next_fire_at, Some(at("2026-12-03T07:00:00Z")), "{db}: Thursday 10:00 Moscow");
        assert_eq!(sim.rt.fire_due_schedules().await.unwrap(), 0, "{db}: not yet");
        sim.clock.set(at("2026-12-03T07:00:05Z"));
        // The weekday moderation desk (09:00 Moscow) is due too.
        assert_eq!(sim.rt.fire_due_schedules().await.unwrap(), 2, "{db}");
        assert_eq!(sim.rt.fire_due_schedules().await.unwrap(), 0, "{db}: once");
        let runs = sim.rt.system().scheduled_instances(&weekly.id).await.unwrap();
        assert_eq!(runs.len(), 1, "{db}");
        assert_eq!(runs[0].schedule.as_ref().unwrap().scheduled_for, at("2026-12-03T07:00:00Z"), "{db}");
        assert_eq!(runs[0].workspace, "acme", "{db}: one schedule per client, this one acme's");
        assert_eq!(runs[0].workspace_scope["profile"]["account_manager"], "lena", "{db}: the client's profile");
        let fires = sim.store.last_fires(&weekly.id, 10).await.unwrap();
        assert_eq!((fires.len(), fires[0].instance), (1, Some(runs[0].id)), "{db}");
        assert_eq!(
            sim.store.schedule(&weekly.id).await.unwrap().unwrap().next_fire_at,
            Some(at("2026-12-10T07:00:00Z")),
            "{db}"
        );
    }
}

#[tokio::test]
async fn a_three_day_outage_catches_up_none_last_or_all() {
    for (db, url, _dir) in databases("sched_catchup").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T08:00:00Z").await;
        sim.deploy(DAILY).await;
        let mut ids = Vec::new();
        for missed in ["none", "last", "all"] {
            ids.push((
                missed,
                sim.rt.system().put_schedule(None, "daily-digest", spec(missed, "allow"), false).await.unwrap().id,
            ));
        }
        // Down from 08:00 on the 1st to 12:00 on the 4th: 09:00 on the 1st..4th were missed.
        sim.clock.set(at("2026-12-04T12:00:00Z"));
        sim.rt.fire_due_schedules().await.unwrap();
        for (missed, id) in &ids {
            let started = sim.rt.system().scheduled_instances(id).await.unwrap().len();
            let fires = sim.store.last_fires(id, 10).await.unwrap();
            let skipped: Vec<&str> = fires.iter().filter(|f| f.skipped).filter_map(|f| f.reason.as_deref()).collect();
            let expected = match *missed {
                "none" => 0,
                "last" => 1,
                _ => 4,
            };
            assert_eq!(started, expected, "{db}: missed {missed}");
            assert_eq!(fires.len(), 4, "{db}: every fire is on record ({missed})");
            assert_eq!(skipped.len(), 4 - expected, "{db}: {skipped:?}");
            assert!(skipped.iter().all(|r| r.contains(&format!("missed: {missed}"))), "{db}: {skipped:?}");
        }
        // Nothing fires twice, however often the service runs.
        assert_eq!(sim.rt.fire_due_schedules().await.unwrap(), 0, "{db}");
    }
}

#[tokio::test]
async fn overlap_pause_and_resume() {
    for (db, url, _dir) in databases("sched_overlap").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T08:00:00Z").await;
        sim.deploy(DAILY).await;
        let skip = sim.rt.system().put_schedule(None, "daily-digest", spec("last", "skip"), false).await.unwrap().id;
        let cancel = sim
            .rt
            .system()
            .put_schedule(None, "daily-digest", spec("last", "cancel_previous"), false)
            .await
            .unwrap()
            .id;
        for day in ["2026-12-01", "2026-12-02"] {
            sim.clock.set(at(&format!("{day}T09:00:10Z")));
            sim.rt.fire_due_schedules().await.unwrap();
        }
        // Nobody did the first day's work: `skip` skipped the second fire, `cancel_previous` replaced the run.
        assert_eq!(sim.rt.system().scheduled_instances(&skip).await.unwrap().len(), 1, "{db}");
        let reasons: Vec<String> =
            sim.store.last_fires(&skip, 5).await.unwrap().into_iter().filter_map(|f| f.reason).collect();
        assert!(reasons.iter().any(|r| r.contains("overlap")), "{db}: {reasons:?}");
        let runs = sim.rt.system().scheduled_instances(&cancel).await.unwrap();
        let statuses: Vec<&str> = runs.iter().map(|i| i.status.as_str()).collect();
        assert_eq!(statuses, ["running", "cancelled"], "{db}: newest first");
        // Paused: nothing fires; resumed: the fires missed during the pause follow `missed: last`.
        sim.rt.system().set_schedule_paused(&cancel, true).await.unwrap();
        sim.clock.set(at("2026-12-05T10:00:00Z"));
        sim.rt.fire_due_schedules().await.unwrap();
        assert_eq!(sim.rt.system().scheduled_instances(&cancel).await.unwrap().len(), 2, "{db}: paused");
        sim.rt.system().set_schedule_paused(&cancel, false).await.unwrap();
        sim.rt.fire_due_schedules().await.unwrap();
        let runs = sim.rt.system().scheduled_instances(&cancel).await.unwrap();
        assert_eq!(runs.len(), 3, "{db}: one catch-up run after resuming");
        assert_eq!(
            runs[0].schedule.as_ref().unwrap().scheduled_for,
            at("2026-12-05T09:00:00Z"),
            "{db}: the last missed fire"
        );
        // An invalid schedule is refused with diagnostics.
        let err = sim
            .rt
            .system()
            .put_schedule(
                None,
                "daily-digest",
                json!({"cron": "0 25 * * *", "workspace": "acme", "timezone": "Mars/Base"}),
                false,
            )
            .await
            .unwrap_err();
        let smmflow_runtime::Error::Invalid(d) = err else { panic!() };
        let codes: Vec<&str> = d.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E020", "E021"], "{db}");
        sim.assert_replays().await;
    }
}
