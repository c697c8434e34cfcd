//! `smmflow data ...`: moving a whole database (copy), backing it up, and
//! handing one workspace its data (export).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use smmflow_runtime::data::{CopyProgress, Database};

/// A database named on the command line: a URL, or a path to a SQLite file.
pub fn database_url(s: &str) -> Result<String> {
    let s = s.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(s.to_string());
    }
    let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        bail!("`{s}` names no database: give sqlite://PATH, a file path or postgres://...");
    }
    Ok(format!("sqlite://{path}"))
}

/// Opens the source: it must exist (a missing SQLite file is not created).
async fn open_source(url: &str) -> Result<Database> {
    Database::open_existing(url).await.map_err(|e| match e.code() {
        smmflow_runtime::Code::NotFound => anyhow!("{e} (give --data-dir or --database-url)"),
        _ => anyhow!("opening the source: {e}"),
    })
}

/// `smmflow data copy --to URL`.
pub async fn copy(source_url: &str, to: &str, batch: usize) -> Result<String> {
    let target_url = database_url(to)?;
    let source = open_source(source_url).await?;
    if source.is(&target_url) {
        bail!("the source and the target are the same database");
    }
    let target = Database::open(&target_url).await.map_err(|e| anyhow!("opening the target: {e}"))?;

    let bar = Bar::new();
    let started = Instant::now();
    let report = source.copy_into(&target, batch, &mut |p| bar.show(p)).await;
    bar.finish();
    let report = report.map_err(|e| anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if report.restarted {
        out.push_str("the target held an unfinished copy: it was cleared and copied again\n");
    }
    let tables: Vec<String> = report.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    out.push_str(&format!(
        "copied {} rows in {:.1} s ({:.0} events/s): {}\n",
        report.rows,
        secs,
        report.events as f64 / secs.max(1e-9),
        tables.join(", ")
    ));
    out.push_str(&format!(
        "verified: every table's count and {} event logs ({} events) are identical in the source and the copy \
         (sha256 {})",
        report.logs, report.events, report.digest
    ));
    Ok(out)
}

/// A progress bar on a terminal; otherwise a line per table and at most one a second.
struct Bar {
    bar: Option<ProgressBar>,
    last: std::sync::Mutex<(Option<&'static str>, Instant)>,
}

impl Bar {
    fn new() -> Bar {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            let style = ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} rows, {per_sec}, {eta} left");
            if let Ok(s) = style {
                b.set_style(s.progress_chars("=> "));
            }
            b
        });
        Bar { bar, last: std::sync::Mutex::new((None, Instant::now())) }
    }

    fn show(&self, p: &CopyProgress) {
        if let Some(b) = &self.bar {
            b.set_length(p.all_total);
            b.set_position(p.all_done);
            b.set_message(p.table);
            return;
        }
        let Ok(mut last) = self.last.lock() else { return };
        if last.0 != Some(p.table) || last.1.elapsed().as_secs() >= 1 || p.done == p.total {
            eprintln!("copying {}: {}/{} rows ({}/{} in all)", p.table, p.done, p.total, p.all_done, p.all_total);
            *last = (Some(p.table), Instant::now());
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `smmflow data export --workspace KEY --output FILE`.
pub async fn export(source_url: &str, workspace: &str, output: &Path) -> Result<String> {
    use std::io::Write;
    if output.exists() {
        bail!("{} exists: data export writes a new file", output.display());
    }
    let source = open_source(source_url).await?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .with_context(|| format!("creating {}", output.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let result = source
        .export_workspace(workspace, &mut |v| {
            serde_json::to_writer(&mut w, v)?;
            w.write_all(b"\n")
        })
        .await;
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(output);
            bail!("{e}");
        }
    };
    w.flush().with_context(|| format!("writing {}", output.display()))?;
    let counts: Vec<String> = report.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Ok(format!("exported workspace {workspace} to {}: {}", output.display(), counts.join(", ")))
}

/// `smmflow data export --format archive`: a tar file holding `KEY.jsonl`
/// (as `export` writes it) and the workspace's report of the last 52 weeks
/// (`report.html`, `report.csv`, as `smmflow report` renders them).
pub async fn export_archive(data_dir: &Path, source_url: &str, workspace: &str, output: &Path) -> Result<String> {
    if output.exists() {
        bail!("{} exists: data export writes a new file", output.display());
    }
    let mut part = output.as_os_str().to_owned();
    part.push(".data.part");
    let part = std::path::PathBuf::from(part);
    let summary = export(source_url, workspace, &part).await?;
    let result = archive(data_dir, source_url, workspace, output, &part).await;
    let _ = std::fs::remove_file(&part);
    if result.is_err() {
        let _ = std::fs::remove_file(output);
    }
    result?;
    Ok(format!("{summary}\nwith the report of the last 52 weeks, archived in {}", output.display()))
}

async fn archive(data_dir: &Path, source_url: &str, workspace: &str, output: &Path, data: &Path) -> Result<()> {
    let to = chrono::Utc::now();
    let from = to - chrono::Duration::weeks(52);
    let rt = smmflow_api::serve::open_runtime(data_dir, Some(source_url), None).await.map_err(|e| anyhow!(e))?;
    let report = smmflow_api::report::gather(&rt, workspace, from, to).await.map_err(|e| anyhow!(e))?;
    let html = smmflow_api::report::html(&report).map_err(|e| anyhow!(e))?;
    let csv = smmflow_api::report::csv(&report).map_err(|e| anyhow!(e))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .with_context(|| format!("creating {}", output.display()))?;
    let mut tar = tar::Builder::new(file);
    tar.append_path_with_name(data, format!("{workspace}.jsonl"))?;
    for (name, bytes) in [("report.html", html.as_bytes()), ("report.csv", csv.as_bytes())] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(to.timestamp()).unwrap_or(0));
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)?;
    }
    tar.into_inner()?.sync_all()?;
    Ok(())
}

/// `smmflow data backup --output FILE`: an online, consistent copy of the
/// SQLite database (`VACUUM INTO`), which `serve --database-url` starts on.
pub async fn backup(source_url: &str, output: &Path) -> Result<String> {
    if !source_url.starts_with("sqlite:") {
        bail!(
            "data backup makes SQLite backups; for PostgreSQL use pg_dump (docs/operations.md, \"Backups\"), \
             or data copy --to a new SQLite file"
        );
    }
    if output.exists() {
        bail!("{} exists: data backup writes a new file", output.display());
    }
    let source = open_source(source_url).await?;
    let started = Instant::now();
    source.backup_into(output).await.map_err(|e| anyhow!("{e}"))?;
    let bytes = std::fs::metadata(output).with_context(|| format!("reading {}", output.display()))?.len();
    Ok(format!(
        "backed up to {} ({:.1} MiB in {:.1} s); start a server on it with --database-url sqlite://{}",
        output.display(),
        bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64(),
        output.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_urls_or_sqlite_paths() {
        assert_eq!(database_url("postgres://u@h/db").unwrap(), "postgres://u@h/db");
        assert_eq!(database_url("sqlite:///tmp/a.db").unwrap(), "sqlite:///tmp/a.db");
        assert_eq!(database_url("sqlite:/tmp/a.db?mode=rwc").unwrap(), "sqlite:///tmp/a.db");
        assert_eq!(database_url("./b.db").unwrap(), "sqlite://./b.db");
        assert!(database_url("sqlite://").is_err());
    }
}
