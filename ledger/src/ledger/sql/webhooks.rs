//! App webhooks ([`crate::webhooks::WebhookLedger`]).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_opt_str, col_str, col_ts, col_uuid, conflict_on_unique, now, select_all, ts};
use crate::ledger::{LedgerError, Result};
use crate::webhooks::{MAX_PER_APP, Webhook, WebhookLedger, WebhookSettings};

const SELECT: &str = "SELECT id, app_id, url, secret, include_kinds, level, authorization_header, created_at, updated_at \
                      FROM app_webhooks";

fn from_row(row: &AnyRow) -> Result<Webhook> {
    Ok(Webhook {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        url: col_str(row, "url")?,
        secret: col_str(row, "secret")?,
        include: col_str(row, "include_kinds")?.split(',').filter(|k| !k.is_empty()).map(str::to_string).collect(),
        level: col_str(row, "level")?,
        authorization: col_opt_str(row, "authorization_header")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn not_found() -> LedgerError {
    LedgerError::NotFound("Couldn't find that webhook.".into())
}

fn already(url: &str) -> impl FnOnce() -> String + '_ {
    move || format!("Webhook {} is already added to this app.", crate::webhooks::shown_url(url))
}

#[async_trait]
impl WebhookLedger for SqlLedger {
    async fn list_webhooks(&self, app_id: Uuid) -> Result<Vec<Webhook>> {
        let sql = format!("{SELECT} WHERE app_id = $1 ORDER BY created_at, id");
        select_all(self, sqlx::AssertSqlSafe(sql), app_id, from_row).await
    }

    async fn add_webhook(&self, app_id: Uuid, settings: WebhookSettings) -> Result<Webhook> {
        let time = now();
        let missing = |what: &str| LedgerError::Invalid(format!("A webhook needs {what}."));
        let webhook = Webhook {
            id: Uuid::new_v4(),
            app_id,
            url: settings.url.ok_or_else(|| missing("a url"))?,
            secret: settings.secret.ok_or_else(|| missing("a secret"))?,
            include: settings.include.ok_or_else(|| missing("the event kinds it includes"))?,
            level: settings.level.unwrap_or_else(|| "notify".into()),
            authorization: settings.authorization.flatten(),
            created_at: time,
            updated_at: time,
        };
        let mut tx = self.begin_write().await?;
        self.lock_app(&mut tx, app_id).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_webhooks WHERE app_id = $1")
            .bind(app_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_PER_APP {
            return Err(LedgerError::Conflict(format!(
                "This app already has {MAX_PER_APP} webhooks, the most an app may have: remove one before adding another."
            )));
        }
        sqlx::query(
            "INSERT INTO app_webhooks (id, app_id, url, secret, include_kinds, level, authorization_header, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(webhook.id.to_string())
        .bind(app_id.to_string())
        .bind(webhook.url.clone())
        .bind(webhook.secret.clone())
        .bind(webhook.include.join(","))
        .bind(webhook.level.clone())
        .bind(webhook.authorization.clone())
        .bind(ts(time))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, already(&webhook.url)))?;
        tx.commit().await?;
        Ok(webhook)
    }

    async fn find_webhook(&self, app_id: Uuid, id: Uuid) -> Result<Option<Webhook>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE app_id = $1 AND id = $2")))
            .bind(app_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn update_webhook(&self, app_id: Uuid, id: Uuid, settings: WebhookSettings) -> Result<Webhook> {
        let old = self.find_webhook(app_id, id).await?.ok_or_else(not_found)?;
        let url = settings.url.unwrap_or(old.url);
        sqlx::query(
            "UPDATE app_webhooks SET url = $1, secret = $2, include_kinds = $3, level = $4, authorization_header = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(url.clone())
        .bind(settings.secret.unwrap_or(old.secret))
        .bind(settings.include.unwrap_or(old.include).join(","))
        .bind(settings.level.unwrap_or(old.level))
        .bind(settings.authorization.unwrap_or(old.authorization))
        .bind(ts(now()))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_on_unique(e, already(&url)))?;
        self.find_webhook(app_id, id).await?.ok_or_else(not_found)
    }

    async fn remove_webhook(&self, app_id: Uuid, id: Uuid) -> Result<Webhook> {
        let webhook = self.find_webhook(app_id, id).await?.ok_or_else(not_found)?;
        sqlx::query("DELETE FROM app_webhooks WHERE id = $1").bind(id.to_string()).execute(&self.pool).await?;
        Ok(webhook)
    }
}
