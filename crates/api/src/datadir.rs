//! The data directory holds secrets: the SQLite database (with the key that
//! signs approval links), its WAL, the admin token and the `.eml` outbox
//! (live approval links). Only the server's own user may read any of it.
//!
//! - The process creates everything with umask 077: directories 0700,
//!   files 0600, from the first byte (no window where a file is readable).
//! - An existing directory or file that is looser is tightened at start,
//!   with a warning; one the server cannot tighten (owned by someone else)
//!   stops the start with a message saying what to fix.

use std::path::Path;

/// Creates `dir` if needed and makes it and everything in it private.
pub fn secure(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    tighten(dir)
}

#[cfg(unix)]
fn tighten(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & wanted)).map_err(|e| {
            format!(
                "{} is readable by other users (mode {mode:o}) and cannot be made private ({e}); run `chmod -R go-rwx {}` as its owner",
                path.display(),
                path.display()
            )
        })?;
        tracing::warn!(path = %path.display(), "was readable by other users (mode {mode:o}): made private");
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| format!("cannot list {}: {e}", path.display()))? {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", path.display()))?;
            tighten(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_loose_directory_and_its_files_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("outbox")).unwrap();
        std::fs::write(data.join("smmflow.db"), b"x").unwrap();
        std::fs::write(data.join("outbox/a.eml"), b"x").unwrap();
        for p in [data.clone(), data.join("outbox")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in [data.join("smmflow.db"), data.join("outbox/a.eml")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        secure(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("outbox")), 0o700);
        assert_eq!(mode(&data.join("smmflow.db")), 0o600);
        assert_eq!(mode(&data.join("outbox/a.eml")), 0o600);
        // New files are private from the start.
        std::fs::write(data.join("new"), b"x").unwrap();
        assert_eq!(mode(&data.join("new")), 0o600);
    }
}
