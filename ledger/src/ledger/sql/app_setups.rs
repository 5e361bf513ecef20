//! App setups ([`crate::setups::AppSetupLedger`]).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_opt_str, col_opt_uuid, col_str, col_ts, col_uuid, now, select_optional, ts};
use crate::ledger::{LedgerError, Result};
use crate::setups::{AppSetup, AppSetupLedger, PENDING};

const SELECT: &str = "SELECT s.id, s.app_id, s.build_id, s.status, s.failure_message, s.postdeploy_output, \
                      s.postdeploy_exit_code, s.created_at, s.updated_at FROM app_setups s \
                      JOIN apps a ON a.id = s.app_id AND a.deleted_at IS NULL";

fn from_row(row: &AnyRow) -> Result<AppSetup> {
    let code: Option<i64> = row.try_get("postdeploy_exit_code")?;
    let postdeploy = match (col_opt_str(row, "postdeploy_output")?, code) {
        (Some(output), Some(code)) => {
            let code = i32::try_from(code).map_err(|_| LedgerError::Corrupt(format!("bad exit code {code}")))?;
            Some((output, code))
        }
        _ => None,
    };
    Ok(AppSetup {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        build_id: col_opt_uuid(row, "build_id")?,
        status: col_str(row, "status")?,
        failure_message: col_opt_str(row, "failure_message")?,
        postdeploy,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

#[async_trait]
impl AppSetupLedger for SqlLedger {
    async fn create_app_setup(&self, setup: &AppSetup) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.lock_app(&mut tx, setup.app_id).await?;
        sqlx::query(
            "INSERT INTO app_setups (id, app_id, build_id, status, failure_message, postdeploy_output, \
             postdeploy_exit_code, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(setup.id.to_string())
        .bind(setup.app_id.to_string())
        .bind(setup.build_id.map(|id| id.to_string()))
        .bind(setup.status.clone())
        .bind(setup.failure_message.clone())
        .bind(setup.postdeploy.as_ref().map(|(output, _)| output.clone()))
        .bind(setup.postdeploy.as_ref().map(|(_, code)| i64::from(*code)))
        .bind(ts(setup.created_at))
        .bind(ts(setup.updated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_app_setup(&self, id: Uuid) -> Result<Option<AppSetup>> {
        select_optional(self, sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")), id, from_row).await
    }

    async fn finish_app_setup(
        &self,
        id: Uuid,
        status: &str,
        failure_message: Option<&str>,
        postdeploy: Option<(&str, i32)>,
    ) -> Result<Option<AppSetup>> {
        sqlx::query(
            "UPDATE app_setups SET status = $1, failure_message = $2, postdeploy_output = $3, postdeploy_exit_code = $4, \
             updated_at = $5 WHERE id = $6 AND status = $7",
        )
        .bind(status.to_string())
        .bind(failure_message.map(str::to_string))
        .bind(postdeploy.map(|(output, _)| output.to_string()))
        .bind(postdeploy.map(|(_, code)| i64::from(code)))
        .bind(ts(now()))
        .bind(id.to_string())
        .bind(PENDING.to_string())
        .execute(&self.pool)
        .await?;
        self.find_app_setup(id).await
    }
}
