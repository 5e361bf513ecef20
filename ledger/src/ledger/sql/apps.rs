//! Apps: create (with release v1), find, list, update, destroy.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::releases::{ReleaseRow, insert_release};
use super::{
    SqlLedger, app_not_found, col_i64, col_opt_str, col_opt_ts, col_opt_uuid, col_str, col_ts, col_uuid,
    conflict_on_unique, now, select_optional, ts,
};
use crate::ledger::{AppFilter, AppUpdate, Result};
use crate::access::TeamRef;
use crate::model::{App, ConfigVars, ProcessTypes, UserRef};

/// The select list of an app row (with its owner's email and last release time), as a literal so
/// that `concat!` can extend it.
macro_rules! app_select {
    () => {
        "SELECT a.id, a.name, a.owner_id, u.email AS owner_email, a.team_id, t.name AS team_name, a.locked, \
         a.maintenance, a.created_at, a.updated_at, \
         (SELECT MAX(r.created_at) FROM releases r WHERE r.app_id = a.id) AS released_at \
         FROM apps a JOIN users u ON u.id = a.owner_id LEFT JOIN teams t ON t.id = a.team_id \
         WHERE a.deleted_at IS NULL"
    };
}

/// The condition that the user whose id is bound at `$n` holds some permission on app `a` (the
/// SQL form of [`crate::access::permissions_of`] for non-operators): they own it (a personal
/// app), collaborate on it, are an admin of its team, or a member or viewer of its team while it
/// is unlocked.
macro_rules! accessible_by {
    ($user:literal) => {
        concat!(
            "((a.team_id IS NULL AND a.owner_id = ", $user, ") \
             OR EXISTS (SELECT 1 FROM collaborators c WHERE c.app_id = a.id AND c.user_id = ", $user, ") \
             OR EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = a.team_id AND m.user_id = ", $user, " \
                        AND (m.role = 'admin' OR a.locked = 0)))"
        )
    };
}
pub(super) use accessible_by;

fn app_from_row(row: &AnyRow) -> Result<App> {
    Ok(App {
        id: col_uuid(row, "id")?,
        name: col_str(row, "name")?,
        owner: UserRef { id: col_uuid(row, "owner_id")?, email: col_str(row, "owner_email")? },
        team: match (col_opt_uuid(row, "team_id")?, col_opt_str(row, "team_name")?) {
            (Some(id), Some(name)) => Some(TeamRef { id, name }),
            _ => None,
        },
        locked: col_i64(row, "locked")? != 0,
        maintenance: col_i64(row, "maintenance")? != 0,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
        released_at: col_opt_ts(row, "released_at")?,
    })
}

pub(super) async fn app_by_id(ledger: &SqlLedger, app_id: Uuid) -> Result<App> {
    let sql = concat!(app_select!(), " AND a.id = $1");
    select_optional(ledger, sql, app_id, app_from_row).await?.ok_or_else(app_not_found)
}

pub(super) async fn create_app(ledger: &SqlLedger, name: &str, owner: Uuid) -> Result<App> {
    create_app_in(ledger, name, owner, None).await
}

/// Creates an app; in a team (`Some((team, locked))`) its creator becomes a collaborator with all
/// four permissions, in the same transaction.
pub(super) async fn create_app_in(
    ledger: &SqlLedger,
    name: &str,
    owner: Uuid,
    team: Option<(Uuid, bool)>,
) -> Result<App> {
    let id = Uuid::new_v4();
    let time = now();
    let mut tx = ledger.begin_write().await?;
    sqlx::query(
        "INSERT INTO apps (id, name, owner_id, team_id, locked, maintenance, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(id.to_string())
    .bind(name.to_string())
    .bind(owner.to_string())
    .bind(team.map(|(team, _)| team.to_string()))
    .bind(i64::from(team.is_some_and(|(_, locked)| locked)))
    .bind(ts(time))
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("Name {name} is already taken.")))?;
    if team.is_some() {
        super::resources::insert_collaborator(&mut tx, id, owner, crate::access::Permissions::ALL).await?;
    }
    let initial = ReleaseRow {
        description: "Initial release",
        slug_id: None,
        process_types: &ProcessTypes::new(),
        config_vars: &ConfigVars::new(),
        addons: &[],
        status: crate::model::RELEASE_SUCCEEDED,
    };
    insert_release(&mut tx, id, owner, initial).await?;
    tx.commit().await?;
    app_by_id(ledger, id).await
}

pub(super) async fn find_app(ledger: &SqlLedger, name_or_id: &str) -> Result<Option<App>> {
    let sql = concat!(app_select!(), " AND (a.name = $1 OR a.id = $1)");
    select_optional(ledger, sql, name_or_id, app_from_row).await
}

pub(super) async fn find_app_by_hostname(ledger: &SqlLedger, hostname: &str, domain: &str) -> Result<Option<App>> {
    let hostname = hostname.trim_end_matches('.').to_lowercase();
    if let Some(name) = hostname.strip_suffix(&format!(".{}", domain.to_lowercase()))
        && !name.contains('.')
    {
        let sql = concat!(app_select!(), " AND a.name = $1");
        return select_optional(ledger, sql, name, app_from_row).await;
    }
    let sql = concat!(app_select!(), " AND a.id IN (SELECT d.app_id FROM domains d WHERE d.hostname = $1)");
    select_optional(ledger, sql, hostname, app_from_row).await
}

pub(super) async fn list_apps(ledger: &SqlLedger, filter: AppFilter) -> Result<Vec<App>> {
    let rows = match filter {
        AppFilter::All => sqlx::query(concat!(app_select!(), " ORDER BY a.name")).fetch_all(&ledger.pool).await?,
        AppFilter::AccessibleBy(user) => {
            sqlx::query(concat!(app_select!(), " AND ", accessible_by!("$1"), " ORDER BY a.name"))
                .bind(user.to_string())
                .fetch_all(&ledger.pool)
                .await?
        }
        AppFilter::Team { team, visible_to: None } => {
            sqlx::query(concat!(app_select!(), " AND a.team_id = $1 ORDER BY a.name"))
                .bind(team.to_string())
                .fetch_all(&ledger.pool)
                .await?
        }
        AppFilter::Team { team, visible_to: Some(user) } => {
            sqlx::query(concat!(app_select!(), " AND a.team_id = $1 AND ", accessible_by!("$2"), " ORDER BY a.name"))
                .bind(team.to_string())
                .bind(user.to_string())
                .fetch_all(&ledger.pool)
                .await?
        }
    };
    rows.iter().map(app_from_row).collect()
}

pub(super) async fn update_app(ledger: &SqlLedger, app_id: Uuid, update: AppUpdate) -> Result<App> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let time = ts(now());
    if let Some(name) = &update.name {
        sqlx::query("UPDATE apps SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name.clone())
            .bind(time.clone())
            .bind(app_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, || format!("Name {name} is already taken.")))?;
    }
    if let Some(maintenance) = update.maintenance {
        sqlx::query("UPDATE apps SET maintenance = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(maintenance))
            .bind(time)
            .bind(app_id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    app_by_id(ledger, app_id).await
}

pub(super) async fn destroy_app(ledger: &SqlLedger, app_id: Uuid) -> Result<App> {
    let app = app_by_id(ledger, app_id).await?;
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query("UPDATE apps SET deleted_at = $1 WHERE id = $2")
        .bind(ts(now()))
        .bind(app_id.to_string())
        .execute(&mut *tx)
        .await?;
    // What is not ledger history goes with the app: its hostnames become free again.
    for sql in [
        "DELETE FROM domains WHERE app_id = $1",
        "DELETE FROM sni_endpoints WHERE app_id = $1",
        "DELETE FROM collaborators WHERE app_id = $1",
        "DELETE FROM formations WHERE app_id = $1",
        "DELETE FROM log_drains WHERE app_id = $1",
        // Webhooks hold a secret and maybe an Authorization header; a destroyed app leaves its
        // pipeline and stops autoscaling.
        "DELETE FROM app_webhooks WHERE app_id = $1",
        "DELETE FROM pipeline_couplings WHERE app_id = $1",
        "DELETE FROM autoscaling WHERE app_id = $1",
        "DELETE FROM app_setups WHERE app_id = $1",
    ] {
        sqlx::query(sql).bind(app_id.to_string()).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(app)
}
