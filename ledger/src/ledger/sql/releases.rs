//! The append-only release ledger: listing, config var changes, builder releases, rollbacks.
//! Every writer locks the app first ([`SqlLedger::lock_app`]) and allocates the next version in
//! the same transaction as the insert; `UNIQUE (app_id, version)` backs it up. A release whose
//! release phase failed is recorded with status `failed`: it takes a version but never becomes
//! current (the newest `succeeded` release is), and makes no formation.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use super::{
    SqlLedger, col_i64, col_json, col_opt_uuid, col_str, col_ts, col_uuid, now, read_or_not_found,
    select_all, select_optional, ts,
};
use crate::ledger::{LedgerError, Result};
use crate::model::{ConfigVars, NewRelease, ProcessTypes, RELEASE_PHASE, RELEASE_SUCCEEDED, Release, UserRef};

macro_rules! release_select {
    () => {
        "SELECT r.id, r.app_id, r.version, r.description, r.slug_id, r.process_types, r.config_vars, \
         r.addons, r.user_id, u.email AS user_email, r.status, r.created_at, \
         (SELECT MAX(m.version) FROM releases m WHERE m.app_id = r.app_id AND m.status = 'succeeded') AS newest \
         FROM releases r JOIN users u ON u.id = r.user_id WHERE r.app_id = $1"
    };
}

fn release_from_row(row: &AnyRow) -> Result<Release> {
    let version = col_i64(row, "version")?;
    Ok(Release {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        version,
        description: col_str(row, "description")?,
        slug_id: col_opt_uuid(row, "slug_id")?,
        process_types: col_json(row, "process_types")?,
        config_vars: col_json(row, "config_vars")?,
        addons: col_json(row, "addons")?,
        user: UserRef { id: col_uuid(row, "user_id")?, email: col_str(row, "user_email")? },
        status: col_str(row, "status")?,
        created_at: col_ts(row, "created_at")?,
        current: row.try_get::<Option<i64>, _>("newest")? == Some(version),
    })
}

pub(super) async fn list_releases(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Release>> {
    select_all(ledger, concat!(release_select!(), " ORDER BY r.version"), app_id, release_from_row).await
}

pub(super) async fn find_release(ledger: &SqlLedger, app_id: Uuid, version_or_id: &str) -> Result<Option<Release>> {
    let text = version_or_id.trim();
    let number = text.strip_prefix('v').or(text.strip_prefix('V')).unwrap_or(text);
    let row = match number.parse::<i64>() {
        Ok(version) => {
            sqlx::query(concat!(release_select!(), " AND r.version = $2"))
                .bind(app_id.to_string())
                .bind(version)
                .fetch_optional(&ledger.pool)
                .await?
        }
        Err(_) => {
            sqlx::query(concat!(release_select!(), " AND r.id = $2"))
                .bind(app_id.to_string())
                .bind(text.to_lowercase())
                .fetch_optional(&ledger.pool)
                .await?
        }
    };
    row.as_ref().map(release_from_row).transpose()
}

pub(super) async fn current_release(ledger: &SqlLedger, app_id: Uuid) -> Result<Option<Release>> {
    let sql = concat!(release_select!(), " AND r.status = 'succeeded' ORDER BY r.version DESC LIMIT 1");
    select_optional(ledger, sql, app_id, release_from_row).await
}

/// The current release (the newest that succeeded) inside a write transaction (the app is locked).
pub(super) async fn current_release_in(tx: &mut Transaction<'static, Any>, app_id: Uuid) -> Result<Option<Release>> {
    let row = sqlx::query(concat!(release_select!(), " AND r.status = 'succeeded' ORDER BY r.version DESC LIMIT 1"))
        .bind(app_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(release_from_row).transpose()
}

/// What a new release records besides its app, author, version and time.
pub(super) struct ReleaseRow<'a> {
    /// `Deploy 2b93a215`, `Rollback to v3`, …
    pub description: &'a str,
    /// The slug it runs, if any.
    pub slug_id: Option<Uuid>,
    /// The slug's process types.
    pub process_types: &'a ProcessTypes,
    /// The config vars' snapshot.
    pub config_vars: &'a ConfigVars,
    /// The attached add-ons' snapshot.
    pub addons: &'a [String],
    /// `succeeded` or `failed`.
    pub status: &'a str,
}

/// Inserts the app's next release inside `tx` (whose caller holds the app's lock) with
/// `row.status`; gives back its id. A succeeded release also makes sure each process type but
/// `release` has a formation row (`web` 1 dyno, others 0).
pub(super) async fn insert_release(
    tx: &mut Transaction<'static, Any>,
    app_id: Uuid,
    user_id: Uuid,
    row: ReleaseRow<'_>,
) -> Result<Uuid> {
    let ReleaseRow { description, slug_id, process_types, config_vars, addons, status } = row;
    let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = $1")
        .bind(app_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let id = Uuid::new_v4();
    let time = ts(now());
    sqlx::query(
        "INSERT INTO releases (id, app_id, version, description, slug_id, process_types, config_vars, \
         addons, user_id, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id.to_string())
    .bind(app_id.to_string())
    .bind(version)
    .bind(description.to_string())
    .bind(slug_id.map(|slug| slug.to_string()))
    .bind(json(process_types))
    .bind(json(config_vars))
    .bind(json(addons))
    .bind(user_id.to_string())
    .bind(status.to_string())
    .bind(time.clone())
    .execute(&mut **tx)
    .await?;
    if status != RELEASE_SUCCEEDED {
        return Ok(id);
    }
    for process_type in process_types.keys().filter(|t| *t != RELEASE_PHASE) {
        sqlx::query(
            "INSERT INTO formations (id, app_id, process_type, quantity, size, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (app_id, process_type) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(app_id.to_string())
        .bind(process_type.clone())
        .bind(i64::from(process_type == "web"))
        .bind(crate::sizes::DEFAULT_SIZE)
        .bind(time.clone())
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("UPDATE apps SET updated_at = $1 WHERE id = $2")
        .bind(time)
        .bind(app_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// The JSON text of a snapshot column.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings serialise")
}

/// Inserts the app's next release inside `tx` (as [`insert_release`] does), commits `tx` and
/// reads the release back.
async fn commit_release(
    ledger: &SqlLedger,
    mut tx: Transaction<'static, Any>,
    app_id: Uuid,
    user_id: Uuid,
    row: ReleaseRow<'_>,
) -> Result<Release> {
    let id = insert_release(&mut tx, app_id, user_id, row).await?;
    tx.commit().await?;
    find_release(ledger, app_id, &id.to_string())
        .await?
        .ok_or_else(|| LedgerError::Corrupt(format!("release {id} vanished after insert")))
}

/// `Set A, B config vars` / `Remove C config vars` / both, joined by `; `.
fn config_description(set: &[&str], removed: &[&str]) -> String {
    let mut parts = Vec::new();
    if !set.is_empty() {
        parts.push(format!("Set {} config vars", set.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("Remove {} config vars", removed.join(", ")));
    }
    parts.join("; ")
}

pub(super) async fn update_config_vars(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    changes: BTreeMap<String, Option<String>>,
) -> Result<(ConfigVars, Option<Release>)> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let current = current_release_in(&mut tx, app_id).await?;
    let mut config = current.as_ref().map(|r| r.config_vars.clone()).unwrap_or_default();
    let (mut set, mut removed) = (Vec::new(), Vec::new());
    for (key, value) in &changes {
        match value {
            Some(value) if config.get(key) != Some(value) => {
                config.insert(key.clone(), value.clone());
                set.push(key.as_str());
            }
            None if config.remove(key).is_some() => removed.push(key.as_str()),
            _ => {}
        }
    }
    if set.is_empty() && removed.is_empty() {
        return Ok((config, None));
    }
    let (slug_id, process_types, addons) = match &current {
        Some(r) => (r.slug_id, r.process_types.clone(), r.addons.clone()),
        None => (None, ProcessTypes::new(), Vec::new()),
    };
    let description = config_description(&set, &removed);
    let row = ReleaseRow {
        description: &description,
        slug_id,
        process_types: &process_types,
        config_vars: &config,
        addons: &addons,
        status: RELEASE_SUCCEEDED,
    };
    let release = commit_release(ledger, tx, app_id, user_id, row).await?;
    Ok((config, Some(release)))
}

/// Records a build's (or a slug's) release with `status`: `succeeded` makes it current.
pub(super) async fn create_release(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    release: NewRelease,
    status: &str,
) -> Result<Release> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let current = current_release_in(&mut tx, app_id).await?;
    let (config, addons) = match &current {
        Some(r) => (r.config_vars.clone(), r.addons.clone()),
        None => (ConfigVars::new(), Vec::new()),
    };
    let row = ReleaseRow {
        description: &release.description,
        slug_id: Some(release.slug_id),
        process_types: &release.process_types,
        config_vars: &config,
        addons: &addons,
        status,
    };
    commit_release(ledger, tx, app_id, user_id, row).await
}

/// Records `Rollback to vN` with `status`: `succeeded` makes it current.
pub(super) async fn rollback(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    target: Uuid,
    status: &str,
) -> Result<Release> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let row = sqlx::query(concat!(release_select!(), " AND r.id = $2"))
        .bind(app_id.to_string())
        .bind(target.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let target = read_or_not_found(row, release_from_row, || "Couldn't find that release.".into())?;
    let description = format!("Rollback to v{}", target.version);
    let (config, addons) = rollback_config(&mut tx, app_id, &target).await?;
    let row = ReleaseRow {
        description: &description,
        slug_id: target.slug_id,
        process_types: &target.process_types,
        config_vars: &config,
        addons: &addons,
        status,
    };
    commit_release(ledger, tx, app_id, user_id, row).await
}

/// The config vars and add-on plans of a rollback to `target`: its own config vars, except that
/// add-ons' config vars follow the attachments of now, not of then (a destroyed add-on's URL does
/// not come back; one attached since stays). An add-on's vars are those that any attach or detach
/// release of the app changed, and those the app's attachments set now.
async fn rollback_config(
    tx: &mut Transaction<'static, Any>,
    app_id: Uuid,
    target: &Release,
) -> Result<(ConfigVars, Vec<String>)> {
    let (now, plans) = super::addons::attached_now(tx, app_id).await?;
    let history = sqlx::query(concat!(release_select!(), " ORDER BY r.version"))
        .bind(app_id.to_string())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(release_from_row)
        .collect::<Result<Vec<_>>>()?;
    let mut config = target.config_vars.clone();
    let none = ConfigVars::new();
    for (i, release) in history.iter().enumerate() {
        if !super::addons::is_addon_release(&release.description) {
            continue;
        }
        let before = if i == 0 { &none } else { &history[i - 1].config_vars };
        let keys = before.keys().chain(release.config_vars.keys());
        for key in keys.filter(|k| before.get(*k) != release.config_vars.get(*k)) {
            config.remove(key);
        }
    }
    config.extend(now);
    Ok((config, plans))
}

#[cfg(test)]
mod tests {
    use super::config_description;

    #[test]
    fn descriptions() {
        assert_eq!(config_description(&["FOO"], &[]), "Set FOO config vars");
        assert_eq!(config_description(&["A", "B"], &[]), "Set A, B config vars");
        assert_eq!(config_description(&[], &["C"]), "Remove C config vars");
        assert_eq!(config_description(&["A"], &["C"]), "Set A config vars; Remove C config vars");
    }
}
