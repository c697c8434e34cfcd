//! The migrations apply, roll back and apply again, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use smmflow_migrations::{Migrator, MigratorTrait};

async fn tables(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).filter(|n| n != "seaql_migrations").collect()
}

/// Whether this PostgreSQL server can compress with lz4 (14 or later, built with it).
async fn lz4_available(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> bool {
    db.execute_unprepared("CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4)").await.is_ok()
}

/// `instances.state`'s compression method (`l`: lz4, empty: the server's default).
async fn snapshot_compression(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> String {
    let sql = "SELECT CAST(attcompression AS text) AS c FROM pg_attribute \
               WHERE attrelid = CAST('instances' AS regclass) AND attname = 'state'";
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get::<String>("", "c").unwrap()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}/m.db?mode=rwc", dir.path().display())];
    let mut made = None;
    match std::env::var("SMMFLOW_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("smmflow_migrations_{}", uuid::Uuid::new_v4().simple());
            let db = Database::connect(&admin).await.unwrap();
            db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            urls.push(format!("{}/{name}", admin.rsplit_once('/').unwrap().0));
            made = Some((db, name));
        }
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "PostgreSQL is missing and CI=true: every test must run in CI"
            );
            eprintln!("SKIPPED on PostgreSQL: SMMFLOW_TEST_POSTGRES_URL is not set")
        }
    }
    for url in urls {
        let db = Database::connect(&url).await.unwrap();
        assert!(!Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
        Migrator::up(&db, None).await.unwrap();
        let all = tables(&db).await;
        for t in [
            "instances",
            "events",
            "tasks",
            "timers",
            "outbox",
            "schedules",
            "schedule_fires",
            "organizations",
            "documents",
            "settings",
            "workspace_profiles",
            "publications",
            "calendar_feeds",
        ] {
            assert!(all.contains(&t.to_string()), "{url}: {t} missing from {all:?}");
        }
        assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
        if db.get_database_backend() == DbBackend::Postgres && lz4_available(&db).await {
            assert_eq!(snapshot_compression(&db).await, "l", "{url}: snapshots compressed with lz4");
        }
        Migrator::up(&db, None).await.unwrap();
        Migrator::down(&db, None).await.unwrap();
        assert!(tables(&db).await.is_empty(), "{url}: down drops every table");
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(tables(&db).await, all, "{url}");
        db.close().await.unwrap();
    }
    if let Some((admin, name)) = made {
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
