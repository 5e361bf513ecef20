//! An app's custom domains, collaborators and builds.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{
    SqlLedger, col_opt_str, col_opt_uuid, col_str, col_ts, col_uuid, conflict_on_unique, now,
    read_or_not_found, select_all, select_optional, ts,
};
use crate::ledger::{LedgerError, Result};
use crate::access::{Permission, Permissions};
use crate::model::{Build, Collaborator, Domain, SniEndpointRef, UserRef};

/// A domain and the name of its SNI endpoint (`$1`: the app).
pub(super) const DOMAIN_SELECT: &str = "SELECT d.id, d.app_id, d.hostname, d.sni_endpoint_id, e.name AS sni_endpoint_name, \
                                        d.created_at, d.updated_at FROM domains d \
                                        LEFT JOIN sni_endpoints e ON e.id = d.sni_endpoint_id WHERE d.app_id = $1";

pub(super) fn domain_from_row(row: &AnyRow) -> Result<Domain> {
    let sni_endpoint = match (col_opt_uuid(row, "sni_endpoint_id")?, col_opt_str(row, "sni_endpoint_name")?) {
        (Some(id), Some(name)) => Some(SniEndpointRef { id, name }),
        _ => None,
    };
    Ok(Domain {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        hostname: col_str(row, "hostname")?,
        sni_endpoint,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

pub(super) async fn list_domains(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Domain>> {
    let sql = format!("{DOMAIN_SELECT} ORDER BY d.hostname");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, domain_from_row).await
}

pub(super) async fn add_domain(ledger: &SqlLedger, app_id: Uuid, hostname: &str) -> Result<Domain> {
    let time = now();
    let domain =
        Domain { id: Uuid::new_v4(), app_id, hostname: hostname.to_lowercase(), sni_endpoint: None, created_at: time, updated_at: time };
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query("INSERT INTO domains (id, app_id, hostname, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(domain.id.to_string())
        .bind(app_id.to_string())
        .bind(domain.hostname.clone())
        .bind(ts(time))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("Domain {} is already added to an app.", domain.hostname)))?;
    tx.commit().await?;
    Ok(domain)
}

pub(super) async fn remove_domain(ledger: &SqlLedger, app_id: Uuid, hostname_or_id: &str) -> Result<Domain> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{DOMAIN_SELECT} AND (d.hostname = $2 OR d.id = $3)")))
        .bind(app_id.to_string())
        .bind(hostname_or_id.to_lowercase())
        .bind(hostname_or_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let domain = read_or_not_found(row, domain_from_row, || format!("Couldn't find domain {hostname_or_id}."))?;
    sqlx::query("DELETE FROM domains WHERE id = $1").bind(domain.id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(domain)
}

const COLLABORATOR_SELECT: &str = "SELECT c.id, c.app_id, c.user_id, u.email, c.permissions, c.created_at, \
                                   c.updated_at FROM collaborators c JOIN users u ON u.id = c.user_id WHERE c.app_id = $1";

fn collaborator_from_row(row: &AnyRow) -> Result<Collaborator> {
    Ok(Collaborator {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        user: UserRef { id: col_uuid(row, "user_id")?, email: col_str(row, "email")? },
        permissions: read_permissions(&col_str(row, "permissions")?)?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

/// A stored permission set, `view,deploy`.
pub(super) fn read_permissions(text: &str) -> Result<Permissions> {
    text.split(',')
        .filter(|name| !name.is_empty())
        .map(|name| name.parse::<Permission>())
        .collect::<std::result::Result<Permissions, crate::access::UnknownPermission>>()
        .map_err(|e| LedgerError::Corrupt(format!("bad permissions {text:?}: {e}")))
}

/// Inserts a collaborator row (in the caller's transaction); a second row for the same user is a
/// conflict. Gives back the row's id.
pub(super) async fn insert_collaborator(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app_id: Uuid,
    user_id: Uuid,
    permissions: Permissions,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO collaborators (id, app_id, user_id, permissions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id.to_string())
    .bind(app_id.to_string())
    .bind(user_id.to_string())
    .bind(permissions.to_csv())
    .bind(ts(now()))
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, || "That user is already a collaborator on the app.".into()))?;
    Ok(id)
}

pub(super) async fn list_collaborators(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Collaborator>> {
    let sql = format!("{COLLABORATOR_SELECT} ORDER BY u.email");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, collaborator_from_row).await
}

pub(super) async fn add_collaborator(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    permissions: Permissions,
) -> Result<Collaborator> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let personal_owner: Option<String> =
        sqlx::query_scalar("SELECT owner_id FROM apps WHERE id = $1 AND team_id IS NULL")
            .bind(app_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    if personal_owner == Some(user_id.to_string()) {
        return Err(LedgerError::Invalid("That user owns the app already.".into()));
    }
    let id = insert_collaborator(&mut tx, app_id, user_id, permissions).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{COLLABORATOR_SELECT} AND c.id = $2")))
        .bind(app_id.to_string())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    collaborator_from_row(&row)
}

/// Sets a collaborator's permissions (by their email or id).
pub(super) async fn update_collaborator(
    ledger: &SqlLedger,
    app_id: Uuid,
    who: &str,
    permissions: Permissions,
) -> Result<Collaborator> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{COLLABORATOR_SELECT} AND (u.email = $2 OR u.id = $3 OR c.id = $3)")))
        .bind(app_id.to_string())
        .bind(who.trim().to_lowercase())
        .bind(who.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let found = read_or_not_found(row, collaborator_from_row, || format!("{who} is not a collaborator on this app."))?;
    let time = now();
    sqlx::query("UPDATE collaborators SET permissions = $1, updated_at = $2 WHERE id = $3")
        .bind(permissions.to_csv())
        .bind(ts(time))
        .bind(found.id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Collaborator { permissions, updated_at: time, ..found })
}

/// The user's collaborator grant on the app, if any.
pub(super) async fn collaborator_permissions(ledger: &SqlLedger, app_id: Uuid, user_id: Uuid) -> Result<Option<Permissions>> {
    let text: Option<String> = sqlx::query_scalar("SELECT permissions FROM collaborators WHERE app_id = $1 AND user_id = $2")
        .bind(app_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    text.as_deref().map(read_permissions).transpose()
}

pub(super) async fn remove_collaborator(ledger: &SqlLedger, app_id: Uuid, who: &str) -> Result<Collaborator> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{COLLABORATOR_SELECT} AND (u.email = $2 OR u.id = $3 OR c.id = $3)"
    )))
    .bind(app_id.to_string())
    .bind(who.trim().to_lowercase())
    .bind(who.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let collaborator = read_or_not_found(row, collaborator_from_row, || format!("{who} is not a collaborator on this app."))?;
    sqlx::query("DELETE FROM collaborators WHERE id = $1")
        .bind(collaborator.id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(collaborator)
}

const BUILD_SELECT: &str = "SELECT b.id, b.app_id, b.user_id, u.email, b.status, b.source_version, b.slug_id, \
                            b.release_id, b.buildpack, b.created_at, b.updated_at FROM builds b JOIN users u ON u.id = b.user_id";

fn build_from_row(row: &AnyRow) -> Result<Build> {
    Ok(Build {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        user: UserRef { id: col_uuid(row, "user_id")?, email: col_str(row, "email")? },
        status: col_str(row, "status")?,
        source_version: col_opt_str(row, "source_version")?,
        slug_id: col_opt_uuid(row, "slug_id")?,
        release_id: col_opt_uuid(row, "release_id")?,
        buildpack: col_opt_str(row, "buildpack")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

async fn build_by_id(ledger: &SqlLedger, build_id: Uuid) -> Result<Build> {
    let sql = format!("{BUILD_SELECT} WHERE b.id = $1");
    select_optional(ledger, sqlx::AssertSqlSafe(sql), build_id, build_from_row)
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that build.".into()))
}

pub(super) async fn list_builds(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Build>> {
    let sql = format!("{BUILD_SELECT} WHERE b.app_id = $1 ORDER BY b.created_at, b.id");
    select_all(ledger, sqlx::AssertSqlSafe(sql), app_id, build_from_row).await
}

/// The pending builds of live apps that `node_id` ran (or that no node recorded), with their
/// app's name.
pub(super) async fn interrupted_builds(ledger: &SqlLedger, node_id: Uuid) -> Result<Vec<(String, Build)>> {
    let sql = format!(
        "{BUILD_SELECT} JOIN apps a ON a.id = b.app_id WHERE b.status = 'pending' AND a.deleted_at IS NULL \
         AND (b.node_id = $1 OR b.node_id IS NULL) ORDER BY b.created_at, b.id"
    );
    let sql = sql.replacen("SELECT b.id,", "SELECT a.name AS app_name, b.id,", 1);
    select_all(ledger, sqlx::AssertSqlSafe(sql), node_id, |row| Ok((col_str(row, "app_name")?, build_from_row(row)?))).await
}

pub(super) async fn create_build(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    source_version: Option<&str>,
    node_id: Option<Uuid>,
) -> Result<Build> {
    let id = Uuid::new_v4();
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query(
        "INSERT INTO builds (id, app_id, user_id, status, source_version, created_at, updated_at, node_id) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $5, $6)",
    )
    .bind(id.to_string())
    .bind(app_id.to_string())
    .bind(user_id.to_string())
    .bind(source_version.map(str::to_string))
    .bind(ts(now()))
    .bind(node_id.map(|id| id.to_string()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    build_by_id(ledger, id).await
}

pub(super) async fn finish_build(
    ledger: &SqlLedger,
    build_id: Uuid,
    status: &str,
    slug_id: Option<Uuid>,
    release_id: Option<Uuid>,
) -> Result<Build> {
    let done = sqlx::query(
        "UPDATE builds SET status = $1, slug_id = $2, release_id = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(status.to_string())
    .bind(slug_id.map(|id| id.to_string()))
    .bind(release_id.map(|id| id.to_string()))
    .bind(ts(now()))
    .bind(build_id.to_string())
    .execute(&ledger.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(LedgerError::NotFound("Couldn't find that build.".into()));
    }
    build_by_id(ledger, build_id).await
}
