//! Slugs (the ledger's record of each archive in the slug store), build output and each app's
//! buildpack.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{SqlLedger, col_i64, col_json, col_opt_str, col_str, col_ts, col_uuid, now, select_optional, ts};
use crate::ledger::{LedgerError, Result};
use crate::model::{NewSlug, Slug};

const SLUG_SELECT: &str = "SELECT id, app_id, checksum, size, stack, commit_sha, buildpack, process_types, created_at \
                           FROM slugs";

fn slug_from_row(row: &AnyRow) -> Result<Slug> {
    Ok(Slug {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        checksum: col_str(row, "checksum")?,
        size: col_i64(row, "size")?,
        stack: col_str(row, "stack")?,
        commit: col_opt_str(row, "commit_sha")?,
        buildpack: col_opt_str(row, "buildpack")?,
        process_types: col_json(row, "process_types")?,
        created_at: col_ts(row, "created_at")?,
    })
}

pub(super) async fn create_slug(ledger: &SqlLedger, app_id: Uuid, slug: NewSlug) -> Result<Slug> {
    let id = Uuid::new_v4();
    let process_types =
        serde_json::to_string(&slug.process_types).map_err(|e| LedgerError::Invalid(format!("process types: {e}")))?;
    sqlx::query(
        "INSERT INTO slugs (id, app_id, checksum, size, stack, commit_sha, buildpack, process_types, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_string())
    .bind(app_id.to_string())
    .bind(slug.checksum)
    .bind(slug.size)
    .bind(slug.stack)
    .bind(slug.commit)
    .bind(slug.buildpack)
    .bind(process_types)
    .bind(ts(now()))
    .execute(&ledger.pool)
    .await?;
    find_slug(ledger, app_id, id)
        .await?
        .ok_or_else(|| LedgerError::Corrupt(format!("slug {id} vanished after being recorded")))
}

pub(super) async fn find_slug(ledger: &SqlLedger, app_id: Uuid, slug_id: Uuid) -> Result<Option<Slug>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SLUG_SELECT} WHERE app_id = $1 AND id = $2")))
        .bind(app_id.to_string())
        .bind(slug_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    row.as_ref().map(slug_from_row).transpose()
}

pub(super) async fn find_any_slug(ledger: &SqlLedger, slug_id: Uuid) -> Result<Option<Slug>> {
    let sql = format!("{SLUG_SELECT} WHERE id = $1");
    select_optional(ledger, sqlx::AssertSqlSafe(sql), slug_id, slug_from_row).await
}

pub(super) async fn record_build_output(
    ledger: &SqlLedger,
    build_id: Uuid,
    buildpack: Option<&str>,
    output: &str,
) -> Result<()> {
    let done = sqlx::query("UPDATE builds SET buildpack = $1, output = $2, updated_at = $3 WHERE id = $4")
        .bind(buildpack.map(str::to_string))
        .bind(output.to_string())
        .bind(ts(now()))
        .bind(build_id.to_string())
        .execute(&ledger.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(LedgerError::NotFound("Couldn't find that build.".into()));
    }
    Ok(())
}

pub(super) async fn build_output(ledger: &SqlLedger, build_id: Uuid) -> Result<Option<String>> {
    let row = sqlx::query("SELECT output FROM builds WHERE id = $1")
        .bind(build_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that build.".into()))?;
    col_opt_str(&row, "output")
}

pub(super) async fn buildpack(ledger: &SqlLedger, app_id: Uuid) -> Result<Option<String>> {
    let sql = "SELECT url FROM app_buildpacks WHERE app_id = $1";
    select_optional(ledger, sql, app_id, |row| col_str(row, "url")).await
}

pub(super) async fn set_buildpack(ledger: &SqlLedger, app_id: Uuid, url: Option<&str>) -> Result<()> {
    match url {
        Some(url) => {
            sqlx::query(
                "INSERT INTO app_buildpacks (app_id, url, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
            )
            .bind(app_id.to_string())
            .bind(url.to_string())
            .bind(ts(now()))
            .execute(&ledger.pool)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM app_buildpacks WHERE app_id = $1")
                .bind(app_id.to_string())
                .execute(&ledger.pool)
                .await?;
        }
    }
    Ok(())
}
