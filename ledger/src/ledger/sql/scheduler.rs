//! Scheduled jobs: added and removed per app, listed for the scheduler, and each run claimed by
//! a compare-and-set of `last_run_at` (two servers sharing a ledger never both run it).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_opt_ts, col_str, col_ts, col_uuid, now, read_or_not_found, select_all, ts};
use crate::ledger::{LedgerError, Result};
use crate::model::{MAX_SCHEDULED_JOBS, ScheduledJob};

const SELECT: &str =
    "SELECT j.id, j.app_id, j.schedule, j.command, j.last_run_at, j.created_at, j.updated_at FROM scheduled_jobs j";

fn from_row(row: &AnyRow) -> Result<ScheduledJob> {
    Ok(ScheduledJob {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        schedule: col_str(row, "schedule")?,
        command: col_str(row, "command")?,
        last_run_at: col_opt_ts(row, "last_run_at")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

pub(super) async fn list_scheduled_jobs(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<ScheduledJob>> {
    let sql = format!("{SELECT} WHERE j.app_id = $1 ORDER BY j.created_at, j.id");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, from_row).await
}

pub(super) async fn all_scheduled_jobs(ledger: &SqlLedger) -> Result<Vec<(String, ScheduledJob)>> {
    let rows = sqlx::query(
        "SELECT j.id, j.app_id, j.schedule, j.command, j.last_run_at, j.created_at, j.updated_at, \
         a.name AS app_name FROM scheduled_jobs j JOIN apps a ON a.id = j.app_id \
         WHERE a.deleted_at IS NULL ORDER BY a.name, j.created_at, j.id",
    )
    .fetch_all(&ledger.pool)
    .await?;
    rows.iter().map(|row| Ok((col_str(row, "app_name")?, from_row(row)?))).collect()
}

pub(super) async fn add_scheduled_job(
    ledger: &SqlLedger,
    app_id: Uuid,
    schedule: &str,
    command: &str,
) -> Result<ScheduledJob> {
    let time = now();
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scheduled_jobs WHERE app_id = $1")
        .bind(app_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_SCHEDULED_JOBS as i64 {
        return Err(LedgerError::Invalid(format!(
            "This app already has {count} scheduled jobs, the most allowed; remove one first (paas scheduler:remove ID)."
        )));
    }
    let job = ScheduledJob {
        id: Uuid::new_v4(),
        app_id,
        schedule: schedule.to_string(),
        command: command.to_string(),
        last_run_at: None,
        created_at: time,
        updated_at: time,
    };
    sqlx::query(
        "INSERT INTO scheduled_jobs (id, app_id, schedule, command, last_run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $5)",
    )
    .bind(job.id.to_string())
    .bind(app_id.to_string())
    .bind(job.schedule.clone())
    .bind(job.command.clone())
    .bind(ts(time))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

pub(super) async fn remove_scheduled_job(ledger: &SqlLedger, app_id: Uuid, job_id: Uuid) -> Result<ScheduledJob> {
    let mut tx = ledger.begin_write().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE j.app_id = $1 AND j.id = $2")))
        .bind(app_id.to_string())
        .bind(job_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let job = read_or_not_found(row, from_row, || format!("Couldn't find scheduled job {job_id}."))?;
    sqlx::query("DELETE FROM scheduled_jobs WHERE id = $1").bind(job_id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(job)
}

pub(super) async fn claim_scheduled_run(
    ledger: &SqlLedger,
    job_id: Uuid,
    previous: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    node: Option<(Uuid, i64)>,
) -> Result<bool> {
    // '' stands for "never ran": a compare-and-set that also matches NULL on both engines. The
    // claiming node (when named) must still be up at its epoch: a fenced node claims nothing.
    let done = sqlx::query(
        "UPDATE scheduled_jobs SET last_run_at = $1, updated_at = $2 \
         WHERE id = $3 AND COALESCE(last_run_at, '') = $4 \
         AND ($5 = '' OR EXISTS (SELECT 1 FROM nodes WHERE id = $5 AND epoch = $6 AND state = 'up'))",
    )
    .bind(ts(at))
    .bind(ts(now()))
    .bind(job_id.to_string())
    .bind(previous.map(ts).unwrap_or_default())
    .bind(node.map(|(id, _)| id.to_string()).unwrap_or_default())
    .bind(node.map_or(0, |(_, epoch)| epoch))
    .execute(&ledger.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
