//! Users and their API keys.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{
    SqlLedger, col_i64, col_opt_str, col_str, col_ts, col_uuid, conflict_on_unique, now,
    read_or_not_found, select_all, ts,
};
use crate::auth;
use crate::ledger::{LedgerError, Result};
use crate::model::{ApiKey, User};

const USER_COLUMNS: &str = "id, email, operator, created_at, updated_at";

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: col_uuid(row, "id")?,
        email: col_str(row, "email")?,
        operator: col_i64(row, "operator")? != 0,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn key_from_row(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: col_uuid(row, "key_id")?,
        user_id: col_uuid(row, "key_user_id")?,
        description: col_str(row, "key_description")?,
        created_at: col_ts(row, "key_created_at")?,
    })
}

pub(super) async fn create_user(
    ledger: &SqlLedger,
    email: &str,
    password: Option<&str>,
    operator: bool,
) -> Result<(User, String)> {
    let email = email.trim().to_lowercase();
    let time = now();
    let user = User { id: Uuid::new_v4(), email, operator, created_at: time, updated_at: time };
    // Hash before taking the write lock: Argon2 is slow on purpose.
    let password_hash = match password {
        Some(password) => Some(auth::hash(password).await.map_err(|e| LedgerError::Corrupt(e.to_string()))?),
        None => None,
    };
    let mut tx = ledger.begin_write().await?;
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, operator, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(user.id.to_string())
    .bind(user.email.clone())
    .bind(password_hash)
    .bind(i64::from(operator))
    .bind(ts(time))
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("A user with email {} already exists.", user.email)))?;
    let key = auth::generate_api_key();
    insert_key(&mut tx, user.id, &auth::hash_api_key(&key), "created with the user").await?;
    tx.commit().await?;
    Ok((user, key))
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: Uuid,
    key_hash: &str,
    description: &str,
) -> Result<ApiKey> {
    let key = ApiKey { id: Uuid::new_v4(), user_id, description: description.to_string(), created_at: now() };
    sqlx::query("INSERT INTO api_keys (id, user_id, key_hash, description, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(key.id.to_string())
        .bind(user_id.to_string())
        .bind(key_hash.to_string())
        .bind(key.description.clone())
        .bind(ts(key.created_at))
        .execute(&mut **tx)
        .await?;
    Ok(key)
}

pub(super) async fn find_user(ledger: &SqlLedger, email_or_id: &str) -> Result<Option<User>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1 OR id = $2"
    )))
    .bind(email_or_id.trim().to_lowercase())
    .bind(email_or_id.to_string())
    .fetch_optional(&ledger.pool)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn find_operator(ledger: &SqlLedger) -> Result<Option<User>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE operator = 1 ORDER BY created_at LIMIT 1"
    )))
    .fetch_optional(&ledger.pool)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn authenticate_key(ledger: &SqlLedger, key: &str) -> Result<Option<(User, ApiKey)>> {
    let row = sqlx::query(
        "SELECT u.id, u.email, u.operator, u.created_at, u.updated_at, k.id AS key_id, \
         k.user_id AS key_user_id, k.description AS key_description, k.created_at AS key_created_at \
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1",
    )
    .bind(auth::hash_api_key(key))
    .fetch_optional(&ledger.pool)
    .await?;
    row.as_ref().map(|row| Ok((user_from_row(row)?, key_from_row(row)?))).transpose()
}

pub(super) async fn authenticate_password(ledger: &SqlLedger, email: &str, password: &str) -> Result<Option<User>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
    )))
    .bind(email.trim().to_lowercase())
    .fetch_optional(&ledger.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(hash) = col_opt_str(&row, "password_hash")? else { return Ok(None) };
    if !auth::verify(password, &hash).await.map_err(|e| LedgerError::Corrupt(e.to_string()))? {
        return Ok(None);
    }
    Ok(Some(user_from_row(&row)?))
}

pub(super) async fn create_api_key(ledger: &SqlLedger, user_id: Uuid, description: &str) -> Result<(ApiKey, String)> {
    let mut tx = ledger.begin_write().await?;
    let key = auth::generate_api_key();
    let record = insert_key(&mut tx, user_id, &auth::hash_api_key(&key), description).await?;
    tx.commit().await?;
    Ok((record, key))
}

const KEY_COLUMNS: &str = "id AS key_id, user_id AS key_user_id, description AS key_description, \
                           created_at AS key_created_at";

pub(super) async fn list_api_keys(ledger: &SqlLedger, user_id: Uuid) -> Result<Vec<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id");
    select_all(ledger, sqlx::AssertSqlSafe(sql), user_id, key_from_row).await
}

pub(super) async fn delete_api_key(ledger: &SqlLedger, user_id: Uuid, key_id: Uuid) -> Result<ApiKey> {
    let mut tx = ledger.begin_write().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND id = $2"
    )))
    .bind(user_id.to_string())
    .bind(key_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let key = read_or_not_found(row, key_from_row, || "Couldn't find that authorization.".into())?;
    sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(key_id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(key)
}

pub(super) async fn dyno_sizes(ledger: &SqlLedger, user_id: Uuid) -> Result<Option<Vec<String>>> {
    let row = sqlx::query("SELECT dyno_sizes FROM users WHERE id = $1")
        .bind(user_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    let row = read_or_not_found(row, |row| col_opt_str(row, "dyno_sizes"), || "Couldn't find that user.".into())?;
    row.map(|json| {
        serde_json::from_str(&json).map_err(|e| LedgerError::Corrupt(format!("dyno sizes of user {user_id}: {e}")))
    })
    .transpose()
}

pub(super) async fn set_dyno_sizes(ledger: &SqlLedger, user_id: Uuid, sizes: Option<Vec<String>>) -> Result<()> {
    let json = sizes.map(|sizes| serde_json::Value::from(sizes).to_string());
    let mut tx = ledger.begin_write().await?;
    let updated = sqlx::query("UPDATE users SET dyno_sizes = $1, updated_at = $2 WHERE id = $3")
        .bind(json)
        .bind(ts(now()))
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(LedgerError::NotFound("Couldn't find that user.".into()));
    }
    tx.commit().await?;
    Ok(())
}
