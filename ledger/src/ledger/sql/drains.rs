//! An app's log drains.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_str, col_ts, col_uuid, conflict_on_unique, now, read_or_not_found, select_all, ts};
use crate::ledger::Result;
use crate::model::LogDrain;

const SELECT: &str = "SELECT d.id, d.app_id, d.url, d.token, d.created_at, d.updated_at FROM log_drains d";

fn from_row(row: &AnyRow) -> Result<LogDrain> {
    Ok(LogDrain {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        url: col_str(row, "url")?,
        token: col_str(row, "token")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

pub(super) async fn list_log_drains(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<LogDrain>> {
    let sql = format!("{SELECT} WHERE d.app_id = $1 ORDER BY d.created_at, d.url");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, from_row).await
}

pub(super) async fn all_log_drains(ledger: &SqlLedger) -> Result<Vec<(String, LogDrain)>> {
    let rows = sqlx::query(
        "SELECT d.id, d.app_id, d.url, d.token, d.created_at, d.updated_at, a.name AS app_name \
         FROM log_drains d JOIN apps a ON a.id = d.app_id WHERE a.deleted_at IS NULL ORDER BY a.name, d.created_at",
    )
    .fetch_all(&ledger.pool)
    .await?;
    rows.iter().map(|row| Ok((col_str(row, "app_name")?, from_row(row)?))).collect()
}

pub(super) async fn add_log_drain(ledger: &SqlLedger, app_id: Uuid, url: &str) -> Result<LogDrain> {
    let time = now();
    let drain = LogDrain {
        id: Uuid::new_v4(),
        app_id,
        url: url.to_string(),
        token: format!("d.{}", Uuid::new_v4()),
        created_at: time,
        updated_at: time,
    };
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query("INSERT INTO log_drains (id, app_id, url, token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
        .bind(drain.id.to_string())
        .bind(app_id.to_string())
        .bind(drain.url.clone())
        .bind(drain.token.clone())
        .bind(ts(time))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("Drain {url} is already added to this app.")))?;
    tx.commit().await?;
    Ok(drain)
}

pub(super) async fn remove_log_drain(ledger: &SqlLedger, app_id: Uuid, which: &str) -> Result<LogDrain> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE d.app_id = $1 AND (d.id = $2 OR d.url = $2 OR d.token = $2)"
    )))
    .bind(app_id.to_string())
    .bind(which.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let drain = read_or_not_found(row, from_row, || format!("Couldn't find drain {which}."))?;
    sqlx::query("DELETE FROM log_drains WHERE id = $1").bind(drain.id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(drain)
}
