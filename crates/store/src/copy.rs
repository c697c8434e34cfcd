//! `smmflow data copy`: the whole database into an empty one, SQLite or
//! PostgreSQL either way.
//!
//! The source is read in one transaction, so the copy is one consistent
//! snapshot; a server still writing to the source is noticed at the end
//! (its work is not in the snapshot) and the copy is then not finished.
//! The target is marked unfinished first (a `settings` row) and unmarked
//! only after the verification, so `serve` refuses a half copy and a
//! second `data copy` after an interruption starts over on it: a copy is
//! restartable, not resumable. A target with data and no mark is refused.
//!
//! Rows are copied as they are stored (ids, versions, leases, hashes,
//! settings such as the link key), so tokens, links, timers, schedules and
//! the outbox go on where the source stopped. The verification compares
//! every table's count and a digest of every instance's event log.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sea_orm::{
    AccessMode, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, IsolationLevel, Iterable, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::entity::*;
use crate::{Error, Result, Store};

/// The `settings` key that marks a target whose copy has not finished.
pub const UNFINISHED: &str = "data_copy.unfinished";

/// The largest number of bound values in one statement (SQLite allows 32,766).
const MAX_VALUES: usize = 30_000;

/// Where a copy is, for a progress bar.
#[derive(Clone, Debug)]
pub struct Progress {
    pub table: &'static str,
    /// Rows of this table copied so far, and in all.
    pub done: u64,
    pub total: u64,
    /// Rows of every table copied so far, and in all.
    pub all_done: u64,
    pub all_total: u64,
}

/// What a finished copy did and checked.
#[derive(Clone, Debug, Default)]
pub struct CopyReport {
    /// Every table with its row count (the same on both sides).
    pub tables: Vec<(&'static str, u64)>,
    pub rows: u64,
    pub events: u64,
    /// Event logs compared (one per instance with events).
    pub logs: u64,
    /// SHA-256 over every instance's event log, in instance-id order.
    pub digest: String,
    /// The target held an unfinished copy, which was cleared first.
    pub restarted: bool,
}

/// The tables in the order a copy writes them (parents before children):
/// `$apply!(module, ...)` over the entity modules. (The migrations'
/// unused `organizations` table is not copied.)
macro_rules! each_table {
    ($apply:ident) => {
        $apply!(
            workspace,
            workspace_profile,
            user,
            membership,
            api_token,
            calendar_feed,
            document,
            setting,
            idempotency,
            schedule,
            schedule_fire,
            instance,
            task,
            event,
            timer,
            outbox,
            publication,
            approval_batch
        )
    };
}

fn name_of<E: EntityTrait + Default>() -> &'static str {
    E::default().table_name()
}

/// Row counts of every table, in copy order.
async fn counts<C: ConnectionTrait>(c: &C) -> Result<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    macro_rules! count {
        ($($e:ident),*) => {
            $( out.push((name_of::<$e::Entity>(), $e::Entity::find().count(c).await?)); )*
        };
    }
    each_table!(count);
    Ok(out)
}

/// What a copy compares to tell whether the source moved: every table's
/// row count, and sums that move when a running server decides, sends mail,
/// fires a schedule or claims a task.
#[derive(PartialEq)]
struct Fingerprint {
    counts: Vec<(&'static str, u64)>,
    sums: Vec<u64>,
}

async fn fingerprint<C: ConnectionTrait>(c: &C) -> Result<Fingerprint> {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let mut sums = Vec::new();
    for sql in [
        "SELECT CAST(COALESCE(SUM(seq), 0) AS BIGINT) AS n FROM instances",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM outbox WHERE status <> 'pending'",
        "SELECT CAST(COALESCE(SUM(runs), 0) AS BIGINT) AS n FROM schedules",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tasks WHERE claimed_at IS NOT NULL",
    ] {
        let stmt = Statement::from_string(c.get_database_backend(), sql);
        let n = N::find_by_statement(stmt).one(c).await?.map_or(0, |r| r.n);
        sums.push(u64::try_from(n).unwrap_or(0));
    }
    Ok(Fingerprint { counts: counts(c).await?, sums })
}

async fn copy_table<E>(
    src: &DatabaseTransaction,
    dst: &DatabaseConnection,
    batch: usize,
    (done_before, total, all_total): (u64, u64, u64),
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<u64>
where
    E: EntityTrait + Default,
    E::Model: IntoActiveModel<E::ActiveModel> + Send + Sync,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let table = name_of::<E>();
    let per_statement = (MAX_VALUES / E::Column::iter().count().max(1)).clamp(1, 500);
    let mut rows: Vec<E::ActiveModel> = Vec::with_capacity(batch);
    let mut done = 0u64;
    let mut stream = E::find().stream(src).await?;
    let pause = pause_per_batch();
    loop {
        let next = stream.try_next().await?;
        let end = next.is_none();
        if let Some(m) = next {
            rows.push(m.into_active_model());
        }
        if rows.len() >= batch || (end && !rows.is_empty()) {
            let txn = dst.begin().await?;
            let n = rows.len() as u64;
            let mut rest = std::mem::take(&mut rows);
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(per_statement));
                E::insert_many(std::mem::replace(&mut rest, tail)).exec_without_returning(&txn).await?;
            }
            txn.commit().await?;
            done += n;
            progress(&Progress { table, done, total, all_done: done_before + done, all_total });
            if let Some(p) = pause {
                tokio::time::sleep(p).await;
            }
        }
        if end {
            break;
        }
    }
    Ok(done)
}

/// `SMMFLOW_DATA_COPY_PAUSE_MS`: a pause after each batch, so that a test
/// can interrupt a copy in the middle (not for use otherwise).
fn pause_per_batch() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var("SMMFLOW_DATA_COPY_PAUSE_MS").ok()?.trim().parse().ok()?;
    (ms > 0).then(|| std::time::Duration::from_millis(ms.min(10_000)))
}

/// A JSON value's text with object keys sorted at every depth, so that
/// SQLite's text and PostgreSQL's `jsonb` (which reorders keys) digest alike.
fn canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Every instance's event log as a digest, by instance id.
async fn event_digests<C>(c: &C) -> Result<BTreeMap<String, [u8; 32]>>
where
    C: ConnectionTrait + sea_orm::StreamTrait,
{
    let mut out = BTreeMap::new();
    let mut stream = event::Entity::find()
        .order_by_asc(event::Column::InstanceId)
        .order_by_asc(event::Column::Seq)
        .stream(c)
        .await?;
    let mut current: Option<(String, Sha256)> = None;
    let mut line = String::new();
    while let Some(e) = stream.try_next().await? {
        if current.as_ref().is_none_or(|(id, _)| *id != e.instance_id) {
            if let Some((id, h)) = current.take() {
                out.insert(id, h.finalize().into());
            }
            current = Some((e.instance_id.clone(), Sha256::new()));
        }
        line.clear();
        line.push_str(&format!("{}\t{}\t{}\t{}\t", e.seq, e.kind, e.at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), e.actor));
        canonical(&e.data, &mut line);
        line.push('\n');
        if let Some((_, h)) = current.as_mut() {
            h.update(line.as_bytes());
        }
    }
    if let Some((id, h)) = current.take() {
        out.insert(id, h.finalize().into());
    }
    Ok(out)
}

fn total_digest(logs: &BTreeMap<String, [u8; 32]>) -> String {
    let mut h = Sha256::new();
    for (id, d) in logs {
        h.update(id.as_bytes());
        h.update(d);
    }
    hex::encode(h.finalize())
}

impl Store {
    /// An online backup of a SQLite database into a new file (`VACUUM
    /// INTO`: one consistent snapshot, compacted), synced before it returns.
    pub async fn backup_into(&self, path: &std::path::Path) -> Result<()> {
        use sea_orm::Statement;
        if self.is_postgres() {
            return Err(Error::Setting("a PostgreSQL database is backed up with pg_dump".into()));
        }
        let file = path.to_str().ok_or_else(|| Error::Setting(format!("{} is not UTF-8", path.display())))?;
        self.conn()
            .execute_raw(Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, "VACUUM INTO ?", [file.into()]))
            .await?;
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::Setting(format!("syncing {}: {e}", path.display())))?;
        Ok(())
    }

    /// Whether this database is the target of a `data copy` that has not finished.
    pub async fn unfinished_copy(&self) -> Result<bool> {
        Ok(setting::Entity::find_by_id(UNFINISHED.to_string()).one(self.conn()).await?.is_some())
    }

    /// A read transaction that sees one snapshot of the whole database.
    async fn snapshot(&self) -> Result<DatabaseTransaction> {
        if self.is_postgres() {
            Ok(self.conn().begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?)
        } else {
            // A deferred transaction in WAL mode: its first read fixes the snapshot.
            Ok(self.conn().begin().await?)
        }
    }

    /// Copies this database into `target` (migrated, empty or holding an
    /// unfinished copy), `batch` rows per target transaction, and verifies
    /// the result. See the module's comment.
    pub async fn copy_into(
        &self,
        target: &Store,
        batch: usize,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<CopyReport> {
        let batch = batch.clamp(1, 100_000);
        let src = self.snapshot().await?;
        if setting::Entity::find_by_id(UNFINISHED.to_string()).one(&src).await?.is_some() {
            return Err(Error::Setting(
                "the source is itself the target of an unfinished `data copy`: finish that copy first".into(),
            ));
        }
        let before = fingerprint(&src).await?;
        let source_counts = before.counts.clone();
        let all_total: u64 = source_counts.iter().map(|(_, n)| n).sum();

        let dst = target.conn();
        let target_counts = counts(dst).await?;
        let restarted = if target_counts.iter().all(|(_, n)| *n == 0) {
            false
        } else if target.unfinished_copy().await? {
            clear(dst).await?;
            true
        } else {
            let held: Vec<String> =
                target_counts.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{n} {t}")).collect();
            return Err(Error::AlreadyExists(format!(
                "the target database is not empty ({}): data copy only copies into an empty database",
                held.join(", ")
            )));
        };
        if !restarted {
            setting::Entity::insert(setting::ActiveModel {
                key: sea_orm::Set(UNFINISHED.to_string()),
                value: sea_orm::Set("started".into()),
                created_at: sea_orm::Set(chrono::Utc::now()),
            })
            .exec_without_returning(dst)
            .await?;
        }

        let mut done = 0u64;
        let mut totals = source_counts.iter().map(|(_, n)| *n);
        macro_rules! copy {
            ($($e:ident),*) => {
                $(
                    let total = totals.next().unwrap_or(0);
                    done += copy_table::<$e::Entity>(&src, dst, batch, (done, total, all_total), progress).await?;
                )*
            };
        }
        each_table!(copy);

        // Verify: every count (the mark is one settings row more), every event log.
        let mut copied = counts(dst).await?;
        for (t, n) in &mut copied {
            if *t == "settings" {
                *n = n.saturating_sub(1);
            }
        }
        if copied != source_counts {
            let diff: Vec<String> = copied
                .iter()
                .zip(&source_counts)
                .filter(|(a, b)| a.1 != b.1)
                .map(|(a, b)| format!("{}: {} in the source, {} copied", a.0, b.1, a.1))
                .collect();
            return Err(Error::Corrupt(format!("the copy's counts differ: {}", diff.join("; "))));
        }
        let theirs = event_digests(&src).await?;
        let ours = event_digests(dst).await?;
        if theirs != ours {
            let differ = theirs.iter().filter(|(id, d)| ours.get(*id) != Some(d)).count()
                + ours.keys().filter(|id| !theirs.contains_key(*id)).count();
            return Err(Error::Corrupt(format!("{differ} event logs differ between the source and the copy")));
        }
        // A server that went on writing to the source: its work is not in the copy.
        let after = fingerprint(self.conn()).await?;
        src.rollback().await?;
        if after != before {
            return Err(Error::Conflict(
                "the source changed during the copy (is a server running on it?): the copy holds the state of \
                 when it started and is left unfinished; stop the server and run data copy again"
                    .into(),
            ));
        }
        setting::Entity::delete_by_id(UNFINISHED.to_string()).exec(dst).await?;
        let events = source_counts.iter().find(|(t, _)| *t == "events").map_or(0, |(_, n)| *n);
        Ok(CopyReport {
            tables: source_counts,
            rows: done,
            events,
            logs: theirs.len() as u64,
            digest: total_digest(&theirs),
            restarted,
        })
    }
}

/// Deletes every row of every table (children first: `each_table!`
/// backwards), keeping the mark.
async fn clear(dst: &DatabaseConnection) -> Result<()> {
    use sea_orm::Statement;
    macro_rules! names {
        ($($e:ident),*) => { vec![$(name_of::<$e::Entity>()),*] };
    }
    let order: Vec<&'static str> = each_table!(names);
    let backend = dst.get_database_backend();
    let txn = dst.begin().await?;
    for table in order.into_iter().rev() {
        if table == name_of::<setting::Entity>() {
            setting::Entity::delete_many().filter(setting::Column::Key.ne(UNFINISHED)).exec(&txn).await?;
        } else {
            // Table names are the entities' own literals, never input.
            txn.execute_raw(Statement::from_string(backend, format!("DELETE FROM \"{table}\""))).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_sorts_keys_at_every_depth() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":{"y":[{"d":2,"c":3}],"x":"é\n"}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":{"x":"é\n","y":[{"c":3,"d":2}]},"b":1}"#).unwrap();
        let (mut sa, mut sb) = (String::new(), String::new());
        canonical(&a, &mut sa);
        canonical(&b, &mut sb);
        assert_eq!(sa, sb);
        assert_eq!(sa, r#"{"a":{"x":"é\n","y":[{"c":3,"d":2}]},"b":1}"#);
    }
}
