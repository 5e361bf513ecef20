//! Autoscaling policies of process types: one row per (app, process type) that ever had one.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_i64, col_str, col_ts, col_uuid, now, select_all, ts};
use crate::autoscale::Policy;
use crate::ledger::Result;

const SELECT: &str = "SELECT s.app_id, s.process_type, s.enabled, s.min_quantity, s.max_quantity, s.p95_ms, \
                      s.created_at, s.updated_at FROM autoscaling s";

fn from_row(row: &AnyRow) -> Result<Policy> {
    Ok(Policy {
        app_id: col_uuid(row, "app_id")?,
        process_type: col_str(row, "process_type")?,
        enabled: col_i64(row, "enabled")? != 0,
        min: col_i64(row, "min_quantity")?,
        max: col_i64(row, "max_quantity")?,
        p95_ms: col_i64(row, "p95_ms")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

pub(super) async fn list_autoscaling(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Policy>> {
    let sql = format!("{SELECT} WHERE s.app_id = $1 ORDER BY s.process_type");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, from_row).await
}

pub(super) async fn enabled_autoscaling(ledger: &SqlLedger) -> Result<Vec<Policy>> {
    let sql = format!(
        "{SELECT} JOIN apps a ON a.id = s.app_id WHERE s.enabled = 1 AND a.deleted_at IS NULL ORDER BY s.app_id, s.process_type"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&ledger.pool).await?;
    rows.iter().map(from_row).collect()
}

pub(super) async fn set_autoscaling(ledger: &SqlLedger, policy: &Policy) -> Result<Policy> {
    let time = now();
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, policy.app_id).await?;
    let found = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.app_id = $1 AND s.process_type = $2")))
        .bind(policy.app_id.to_string())
        .bind(policy.process_type.clone())
        .fetch_optional(&mut *tx)
        .await?;
    let created_at = match found.as_ref().map(from_row).transpose()? {
        Some(old) => {
            sqlx::query(
                "UPDATE autoscaling SET enabled = $1, min_quantity = $2, max_quantity = $3, p95_ms = $4, updated_at = $5 \
                 WHERE app_id = $6 AND process_type = $7",
            )
            .bind(i64::from(policy.enabled))
            .bind(policy.min)
            .bind(policy.max)
            .bind(policy.p95_ms)
            .bind(ts(time))
            .bind(policy.app_id.to_string())
            .bind(policy.process_type.clone())
            .execute(&mut *tx)
            .await?;
            old.created_at
        }
        None => {
            sqlx::query(
                "INSERT INTO autoscaling (app_id, process_type, enabled, min_quantity, max_quantity, p95_ms, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(policy.app_id.to_string())
            .bind(policy.process_type.clone())
            .bind(i64::from(policy.enabled))
            .bind(policy.min)
            .bind(policy.max)
            .bind(policy.p95_ms)
            .bind(ts(time))
            .execute(&mut *tx)
            .await?;
            time
        }
    };
    tx.commit().await?;
    Ok(Policy { created_at, updated_at: time, ..policy.clone() })
}
