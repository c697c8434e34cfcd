//! A throw-away PostgreSQL cluster of a test's own (initdb into a temp dir,
//! trust auth, 127.0.0.1 on a free port, its socket in the temp dir), so a
//! test can stop and restart the database without disturbing the shared
//! server other tests use. Run as the `postgres` OS user when the tests run
//! as root (PostgreSQL refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct PgCluster {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }
}

/// Where `initdb` and `pg_ctl` are: `SMMFLOW_TEST_PG_BIN`, else Debian's
/// PostgreSQL 15 or 16 directory, else the PATH.
fn bin_dir() -> Option<PathBuf> {
    let candidates = std::env::var("SMMFLOW_TEST_PG_BIN")
        .ok()
        .into_iter()
        .chain(["/usr/lib/postgresql/16/bin".to_string(), "/usr/lib/postgresql/15/bin".to_string()])
        .map(PathBuf::from);
    for c in candidates {
        if c.join("initdb").is_file() && c.join("pg_ctl").is_file() {
            return Some(c);
        }
    }
    let out = Command::new("sh").args(["-c", "command -v initdb"]).output().ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    let dir = std::fs::canonicalize(path).ok()?.parent()?.to_path_buf();
    dir.join("pg_ctl").is_file().then_some(dir)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    /// Initialises and starts a cluster; `Err` says why it cannot be done here.
    pub fn start() -> Result<PgCluster, String> {
        let bin = bin_dir().ok_or("initdb/pg_ctl were not found (set SMMFLOW_TEST_PG_BIN)")?;
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("runuser")
                .args(["-u", "postgres", "--", "true"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("running as root, and `runuser -u postgres` is not available".into());
            }
        }
        let dir = tempfile::Builder::new().prefix("smmflow-pg-").tempdir().map_err(|e| e.to_string())?;
        if as_postgres {
            let s = Command::new("chown").arg("postgres:").arg(dir.path()).status().map_err(|e| e.to_string())?;
            if !s.success() {
                return Err("cannot chown the cluster's directory to postgres".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { port, dir, bin, as_postgres };
        let data = cluster.data();
        let out = cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-locale"],
        )?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nmax_connections = 200\nfsync = off\nlogging_collector = off\n",
            cluster.dir.path().display()
        );
        let path = Path::new(&data).join("postgresql.auto.conf");
        let mut current = std::fs::read_to_string(&path).unwrap_or_default();
        current.push_str(&conf);
        std::fs::write(&path, current).map_err(|e| e.to_string())?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart -m fast`: sessions are terminated, the server comes back.
    pub fn restart_fast(&self) -> Result<(), String> {
        self.checked(&["restart", "-m", "fast", "-w", "-t", "60", "-l", &self.log()])
    }

    /// `pg_ctl stop -m immediate` (no clean shutdown: crash recovery at the next start).
    pub fn stop_immediate(&self) -> Result<(), String> {
        self.checked(&["stop", "-m", "immediate", "-w"])
    }

    pub fn start_server(&self) -> Result<(), String> {
        self.checked(&["start", "-w", "-t", "60", "-l", &self.log()])
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log(&self) -> String {
        self.dir.path().join("server.log").display().to_string()
    }

    /// The server's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    fn checked(&self, args: &[&str]) -> Result<(), String> {
        let out = self.pg_ctl(args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output, String> {
        let data = self.data();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<Output, String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        // The server started by pg_ctl must not hold the test's pipes open.
        cmd.args(args).stdin(Stdio::null()).current_dir(self.dir.path()).output().map_err(|e| format!("{tool}: {e}"))
    }
}
