//! Whole databases, for the operator's command line (`smmflow data ...`):
//! copying one into an empty one, backing one up, and one workspace's data
//! as JSON Lines. These run on the database directly (whoever can name the
//! database owns it), beside no runtime: the store does the work.

use std::path::Path;

use smmflow_store::Store;
pub use smmflow_store::{CopyProgress, CopyReport, EXPORT_FORMAT, ExportReport};

use crate::{Error, Result};

/// A database named by URL (`sqlite://PATH` or `postgres://...`).
pub struct Database {
    store: Store,
    url: String,
}

impl Database {
    /// One that must exist already (a missing SQLite file is not created),
    /// migrated to this version.
    pub async fn open_existing(url: &str) -> Result<Database> {
        if let Some(p) = sqlite_path(url)
            && !p.exists()
        {
            return Err(Error::NotFound(format!("the database {}", p.display())));
        }
        Database::open(url).await
    }

    /// One to copy into: created when missing, migrated.
    pub async fn open(url: &str) -> Result<Database> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(Database { store, url: url.to_string() })
    }

    /// Whether `self` and `other` are the same database.
    pub fn is(&self, other: &str) -> bool {
        match (sqlite_path(&self.url), sqlite_path(other)) {
            (Some(x), Some(y)) => {
                let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                canon(x) == canon(y)
            }
            _ => self.url.trim_end_matches('/') == other.trim_end_matches('/'),
        }
    }

    /// Copies everything into `target` and verifies it (see `smmflow_store`'s `copy.rs`).
    pub async fn copy_into(
        &self,
        target: &Database,
        batch: usize,
        progress: &mut (dyn FnMut(&CopyProgress) + Send),
    ) -> Result<CopyReport> {
        self.store.copy_into(&target.store, batch, progress).await.map_err(plain)
    }

    /// An online backup of a SQLite database into a new file.
    pub async fn backup_into(&self, path: &Path) -> Result<()> {
        self.store.backup_into(path).await.map_err(plain)
    }

    /// One workspace's records, in order, to `out`.
    pub async fn export_workspace(
        &self,
        workspace: &str,
        out: &mut (dyn FnMut(&serde_json::Value) -> std::io::Result<()> + Send),
    ) -> Result<ExportReport> {
        self.store.export_workspace(workspace, chrono::Utc::now(), out).await.map_err(plain)
    }
}

/// The store's refusals as they are (an operator reads them), not as "storage: ...".
fn plain(e: smmflow_store::Error) -> Error {
    use smmflow_store::Error as S;
    match e {
        S::NotFound(what) => Error::NotFound(what),
        S::AlreadyExists(m) | S::Conflict(m) | S::Setting(m) => Error::Conflict(m),
        other => Error::Store(other),
    }
}

fn sqlite_path(url: &str) -> Option<&Path> {
    url.strip_prefix("sqlite://").map(Path::new)
}
