//! Backups taken while the server runs, and a server started on the restore:
//! `smmflow data backup` on SQLite, `pg_dump` / `pg_restore` on PostgreSQL
//! (as docs/operations.md says).

use std::process::Command;

use serde_json::json;

use crate::copy::{fill, smmflow, url_of};
use crate::support::Server;

const COUNTS: &str = "{ instances(first: 1) { totalCount } tasks(filter: {status: [OPEN]}) { totalCount } }";

#[tokio::test]
async fn a_sqlite_backup_taken_while_serving_restores_to_a_working_server() {
    let s = Server::start("sqlite");
    let tokens = fill(&s, "safe", 8).await;
    let before = s.ok(&tokens["lena"], COUNTS, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    // The server keeps running (and answering) while the backup is taken.
    let (ok, out, err) =
        smmflow(&["data", "backup", "--database-url", &url_of(&s), "--output", file.to_str().unwrap()], &[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("backed up to"), "{out}");
    assert_eq!(s.ok(&tokens["lena"], COUNTS, json!({})).await, before);
    // Again onto the same file: refused, the first backup kept.
    let (ok, _, err) =
        smmflow(&["data", "backup", "--database-url", &url_of(&s), "--output", file.to_str().unwrap()], &[]);
    assert!(!ok && err.contains("exists"), "{err}");
    // Restore: a server on the file, the same tokens, the same work.
    let restored = Server::start_on_with_admin(&format!("sqlite://{}", file.display()), &s.admin, &[]);
    assert_eq!(restored.ok(&tokens["lena"], COUNTS, json!({})).await, before);
    let open = restored
        .ok(
            &tokens["wanda"],
            "{ tasks(filter: {status: [OPEN], role: \"writer\"}, first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    let task = open["tasks"]["nodes"][0]["id"].clone();
    let r = restored
        .ok(
            &tokens["wanda"],
            "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"restored\"}}) { userErrors { message } } }",
            json!({"t": task}),
        )
        .await;
    assert_eq!(r["completeTask"]["userErrors"], json!([]), "{r}");
}

#[tokio::test]
async fn a_postgres_dump_taken_while_serving_restores_to_a_working_server() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        crate::support::skipped("SKIPPED: the pg_dump backup needs SMMFLOW_TEST_POSTGRES_URL");
        return;
    }
    let s = Server::start("postgres");
    let tokens = fill(&s, "safe", 8).await;
    let before = s.ok(&tokens["lena"], COUNTS, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("smmflow.dump");
    let source = url_of(&s);
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump)
        .arg(&source)
        .output()
        .expect("pg_dump runs (PostgreSQL's client tools)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.ok(&tokens["lena"], COUNTS, json!({})).await, before, "the server kept serving");
    let target = Server::fresh_postgres();
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&target)
        .arg(&dump)
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let restored = Server::start_on_with_admin(&target, &s.admin, &[]).owning_database();
    assert_eq!(restored.ok(&tokens["lena"], COUNTS, json!({})).await, before);
    // `data backup` says what to use on PostgreSQL.
    let (ok, _, err) = smmflow(&["data", "backup", "--database-url", &source, "--output", "x.db"], &[]);
    assert!(!ok && err.contains("pg_dump"), "{err}");
}
