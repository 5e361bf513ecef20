//! An app's features (preboot, sleep): stored only once set.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_i64, col_str, col_ts, col_uuid, now, select_all, ts};
use crate::ledger::Result;
use crate::model::AppFeature;

const SELECT: &str = "SELECT f.app_id, f.name, f.enabled, f.created_at, f.updated_at FROM app_features f";

fn from_row(row: &AnyRow) -> Result<AppFeature> {
    Ok(AppFeature {
        app_id: col_uuid(row, "app_id")?,
        name: col_str(row, "name")?,
        enabled: col_i64(row, "enabled")? != 0,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

pub(super) async fn list_app_features(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<AppFeature>> {
    let sql = format!("{SELECT} WHERE f.app_id = $1 ORDER BY f.name");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, from_row).await
}

pub(super) async fn set_app_feature(ledger: &SqlLedger, app_id: Uuid, name: &str, enabled: bool) -> Result<AppFeature> {
    let time = now();
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let found = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE f.app_id = $1 AND f.name = $2")))
        .bind(app_id.to_string())
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let feature = match found.as_ref().map(from_row).transpose()? {
        Some(mut feature) => {
            if feature.enabled != enabled {
                sqlx::query("UPDATE app_features SET enabled = $1, updated_at = $2 WHERE app_id = $3 AND name = $4")
                    .bind(i64::from(enabled))
                    .bind(ts(time))
                    .bind(app_id.to_string())
                    .bind(name.to_string())
                    .execute(&mut *tx)
                    .await?;
                feature.enabled = enabled;
                feature.updated_at = time;
            }
            feature
        }
        None => {
            sqlx::query(
                "INSERT INTO app_features (app_id, name, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(app_id.to_string())
            .bind(name.to_string())
            .bind(i64::from(enabled))
            .bind(ts(time))
            .execute(&mut *tx)
            .await?;
            AppFeature { app_id, name: name.to_string(), enabled, created_at: time, updated_at: time }
        }
    };
    tx.commit().await?;
    Ok(feature)
}
