//! The data directory holds the database (with the approval-link key), its
//! WAL, the admin token and mailed approval links: only the server's user
//! may read any of it, from the moment each file exists.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Server;
use crate::{deploy, start};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// Every file and folder under `dir`, with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(dir.display().to_string(), mode(dir))];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(modes(&p));
        } else {
            out.push((p.display().to_string(), mode(&p)));
        }
    }
    out
}

#[tokio::test]
async fn the_data_directory_is_private_from_the_start() {
    let mut s = Server::start("sqlite");
    s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
    let flow = "workflow: mailed\nname: Mailed\nroles: {writer: Writes}\nsteps:\n  draft: {role: writer}\n";
    deploy(&s, &s.admin, flow).await;
    start(&s, &s.admin, "mailed", "alpha", json!({})).await;
    let outbox = s.data_dir().join("outbox");
    let started = Instant::now();
    while std::fs::read_dir(&outbox).map_or(0, |d| d.count()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "no mail was written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dir = s.data_dir().to_path_buf();
    for name in ["smmflow.db", "smmflow.db-wal", "admin-token"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    for (path, m) in modes(&dir) {
        assert_eq!(m & 0o077, 0, "{path} is readable by others: {m:o}");
    }
    assert_eq!(mode(&dir), 0o700);
    // A directory loosened by hand (or made by an older version) is tightened at start.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("smmflow.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.restart();
    for (path, m) in modes(&dir) {
        assert_eq!(m & 0o077, 0, "after a restart {path} is still readable by others: {m:o}");
    }
}
