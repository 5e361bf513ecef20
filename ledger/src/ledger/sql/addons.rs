//! Add-ons and their attachments. Creating an add-on records it, its first attachment and the
//! release that sets its config vars in one transaction (the service provisioned it before: a
//! failed provisioning writes nothing); attaching, detaching and destroying likewise each make
//! the release that sets or removes the attachment's config vars, on every app concerned.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::releases::{ReleaseRow, current_release_in, insert_release};
use super::{SqlLedger, col_json, col_str, col_ts, col_uuid, conflict_on_unique, now, ts};
use crate::addons::{Addon, AddonAttachment, AddonFilter, NewAddon, config_var};
use crate::ledger::{LedgerError, Result};
use crate::model::{ConfigVars, ProcessTypes, RELEASE_SUCCEEDED, Release};

const ADDON_SELECT: &str = "SELECT a.id, a.name, a.app_id, p.name AS app_name, a.service, a.plan, a.provider_id, \
     a.config, a.created_at, a.updated_at FROM addons a JOIN apps p ON p.id = a.app_id WHERE p.deleted_at IS NULL";

const ATTACHMENT_SELECT: &str = "SELECT t.id, t.name, t.addon_id, a.name AS addon_name, a.service, a.plan, \
     a.app_id AS addon_app_id, \
     ap.name AS addon_app_name, t.app_id, p.name AS app_name, a.config, t.created_at, t.updated_at \
     FROM addon_attachments t JOIN addons a ON a.id = t.addon_id JOIN apps ap ON ap.id = a.app_id \
     JOIN apps p ON p.id = t.app_id WHERE p.deleted_at IS NULL";

/// The ids of the live apps user `$1` holds some permission on (owner, collaborator, team role).
const ACCESSIBLE: &str =
    concat!("(SELECT a.id FROM apps a WHERE a.deleted_at IS NULL AND ", super::apps::accessible_by!("$1"), ")");

fn addon_from_row(row: &AnyRow) -> Result<Addon> {
    Ok(Addon {
        id: col_uuid(row, "id")?,
        name: col_str(row, "name")?,
        app_id: col_uuid(row, "app_id")?,
        app_name: col_str(row, "app_name")?,
        service: col_str(row, "service")?,
        plan: col_str(row, "plan")?,
        provider_id: col_str(row, "provider_id")?,
        config: col_json(row, "config")?,
        config_vars: Vec::new(),
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn attachment_from_row(row: &AnyRow) -> Result<AddonAttachment> {
    let name = col_str(row, "name")?;
    let config: BTreeMap<String, String> = col_json(row, "config")?;
    Ok(AddonAttachment {
        id: col_uuid(row, "id")?,
        config_vars: config.keys().map(|key| config_var(&name, key)).collect(),
        name,
        addon_id: col_uuid(row, "addon_id")?,
        addon_name: col_str(row, "addon_name")?,
        addon_service: col_str(row, "service")?,
        addon_plan: col_str(row, "plan")?,
        addon_app_id: col_uuid(row, "addon_app_id")?,
        addon_app_name: col_str(row, "addon_app_name")?,
        app_id: col_uuid(row, "app_id")?,
        app_name: col_str(row, "app_name")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

/// Fills in the config vars the add-on's attachments set on the app that owns it.
async fn with_config_vars(ledger: &SqlLedger, mut addon: Addon) -> Result<Addon> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM addon_attachments WHERE addon_id = $1 AND app_id = $2 ORDER BY name")
            .bind(addon.id.to_string())
            .bind(addon.app_id.to_string())
            .fetch_all(&ledger.pool)
            .await?;
    let mut vars: Vec<String> =
        names.iter().flat_map(|name| addon.config.keys().map(move |key| config_var(name, key))).collect();
    vars.sort();
    addon.config_vars = vars;
    Ok(addon)
}

pub(super) async fn list_addons(ledger: &SqlLedger, filter: AddonFilter) -> Result<Vec<Addon>> {
    let (condition, key) = match filter {
        AddonFilter::All => (String::new(), None),
        AddonFilter::AccessibleBy(user) => (
            format!(
                " AND (a.app_id IN {ACCESSIBLE} OR a.id IN (SELECT addon_id FROM addon_attachments WHERE app_id IN {ACCESSIBLE}))"
            ),
            Some(user),
        ),
        AddonFilter::App(app) => (
            " AND (a.app_id = $1 OR a.id IN (SELECT addon_id FROM addon_attachments WHERE app_id = $1))".into(),
            Some(app),
        ),
        AddonFilter::Addon(addon) => (" AND a.id = $1".into(), Some(addon)),
    };
    let sql = format!("{ADDON_SELECT}{condition} ORDER BY a.created_at, a.name");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(key) = key {
        query = query.bind(key.to_string());
    }
    let rows = query.fetch_all(&ledger.pool).await?;
    let mut addons = Vec::with_capacity(rows.len());
    for row in &rows {
        addons.push(with_config_vars(ledger, addon_from_row(row)?).await?);
    }
    Ok(addons)
}

pub(super) async fn find_addon(ledger: &SqlLedger, name_or_id: &str) -> Result<Option<Addon>> {
    let sql = format!("{ADDON_SELECT} AND (a.name = $1 OR a.id = $1)");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name_or_id.trim().to_string()).fetch_optional(&ledger.pool).await?;
    match row {
        Some(row) => Ok(Some(with_config_vars(ledger, addon_from_row(&row)?).await?)),
        None => Ok(None),
    }
}

pub(super) async fn list_attachments(ledger: &SqlLedger, filter: AddonFilter) -> Result<Vec<AddonAttachment>> {
    let (condition, key) = match filter {
        AddonFilter::All => (String::new(), None),
        AddonFilter::AccessibleBy(user) => (format!(" AND t.app_id IN {ACCESSIBLE}"), Some(user)),
        AddonFilter::App(app) => (" AND t.app_id = $1".into(), Some(app)),
        AddonFilter::Addon(addon) => (" AND t.addon_id = $1".into(), Some(addon)),
    };
    let sql = format!("{ATTACHMENT_SELECT}{condition} ORDER BY t.created_at, t.name");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(key) = key {
        query = query.bind(key.to_string());
    }
    let rows = query.fetch_all(&ledger.pool).await?;
    rows.iter().map(attachment_from_row).collect()
}

pub(super) async fn find_attachment(
    ledger: &SqlLedger,
    name_or_id: &str,
    app_id: Option<Uuid>,
) -> Result<Option<AddonAttachment>> {
    let row = match app_id {
        Some(app) => {
            let sql = format!("{ATTACHMENT_SELECT} AND t.app_id = $2 AND (t.id = $1 OR t.name = $1)");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(name_or_id.trim().to_string())
                .bind(app.to_string())
                .fetch_optional(&ledger.pool)
                .await?
        }
        None => {
            let sql = format!("{ATTACHMENT_SELECT} AND t.id = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name_or_id.trim().to_string()).fetch_optional(&ledger.pool).await?
        }
    };
    row.as_ref().map(attachment_from_row).transpose()
}

/// The attachments of an add-on, with every app they are on locked (in id order) in `tx`.
async fn lock_attached_apps(ledger: &SqlLedger, tx: &mut Transaction<'static, Any>, addon_id: Uuid) -> Result<Vec<AddonAttachment>> {
    let attachments = list_attachments(ledger, AddonFilter::Addon(addon_id)).await?;
    let mut apps: Vec<Uuid> = attachments.iter().map(|a| a.app_id).collect();
    apps.sort();
    apps.dedup();
    for app in &apps {
        ledger.lock_app(tx, *app).await?;
    }
    Ok(attachments)
}

async fn attachment_in(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<AddonAttachment> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{ATTACHMENT_SELECT} AND t.id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref()
        .map(attachment_from_row)
        .transpose()?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on attachment.".into()))
}

/// Inserts an attachment of `addon_id` on `app_id` under the first free name of `names`.
async fn insert_attachment(
    tx: &mut Transaction<'static, Any>,
    addon_id: Uuid,
    app_id: Uuid,
    names: &[String],
) -> Result<Uuid> {
    let taken: Vec<String> = sqlx::query_scalar("SELECT name FROM addon_attachments WHERE app_id = $1")
        .bind(app_id.to_string())
        .fetch_all(&mut **tx)
        .await?;
    let name = names.iter().find(|name| !taken.contains(name)).ok_or_else(|| {
        LedgerError::Conflict(match names {
            [one] => format!("Name {one} is already used by another add-on attachment on this app."),
            _ => "Every default attachment name is already used on this app: give one (--as NAME).".into(),
        })
    })?;
    let id = Uuid::new_v4();
    let time = ts(now());
    sqlx::query(
        "INSERT INTO addon_attachments (id, addon_id, app_id, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id.to_string())
    .bind(addon_id.to_string())
    .bind(app_id.to_string())
    .bind(name.clone())
    .bind(time)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("Name {name} is already used on this app.")))?;
    Ok(id)
}

/// Records the app's next release with `changes` to its config vars (the app is locked) and the
/// plans of the add-ons attached to it now.
async fn addon_release(
    tx: &mut Transaction<'static, Any>,
    app_id: Uuid,
    user_id: Uuid,
    description: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<Uuid> {
    let current = current_release_in(tx, app_id).await?;
    let (slug_id, process_types, mut config) = match &current {
        Some(r) => (r.slug_id, r.process_types.clone(), r.config_vars.clone()),
        None => (None, ProcessTypes::new(), ConfigVars::new()),
    };
    for (key, value) in changes {
        match value {
            Some(value) => config.insert(key.clone(), value.clone()),
            None => config.remove(key),
        };
    }
    let (_, addons) = attached_now(tx, app_id).await?;
    let row = ReleaseRow {
        description,
        slug_id,
        process_types: &process_types,
        config_vars: &config,
        addons: &addons,
        status: RELEASE_SUCCEEDED,
    };
    insert_release(tx, app_id, user_id, row).await
}

/// What the add-ons attached to the app now set: their config vars with their values, and their
/// plan names (`heroku-postgresql:essential-0`, sorted, once each), as a release lists them.
pub(super) async fn attached_now(
    tx: &mut Transaction<'static, Any>,
    app_id: Uuid,
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT t.name, a.config, a.service, a.plan FROM addon_attachments t JOIN addons a ON a.id = t.addon_id \
         WHERE t.app_id = $1",
    )
    .bind(app_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let (mut vars, mut plans) = (BTreeMap::new(), Vec::new());
    for row in &rows {
        let name: String = row.try_get(0)?;
        let config: BTreeMap<String, String> = col_json(row, "config")?;
        vars.extend(config.into_iter().map(|(key, value)| (config_var(&name, &key), value)));
        plans.push(format!("{}:{}", row.try_get::<String, _>(2)?, row.try_get::<String, _>(3)?));
    }
    plans.sort();
    plans.dedup();
    Ok((vars, plans))
}

/// Whether a release was made by attaching, detaching (destroying detaches) or updating an add-on:
/// the config vars it changed are the add-on's.
pub(super) fn is_addon_release(description: &str) -> bool {
    ["Attach ", "Detach ", "Update "].iter().any(|verb| description.starts_with(verb)) && description.contains(" (@ref:")
}

/// What attaching (`Some` values) or detaching (`None`) `attachment` changes in its app's config.
fn attachment_changes(attachment: &AddonAttachment, config: &BTreeMap<String, String>, attach: bool) -> BTreeMap<String, Option<String>> {
    config
        .iter()
        .map(|(key, value)| (config_var(&attachment.name, key), attach.then(|| value.clone())))
        .collect()
}

async fn addon_config_in(tx: &mut Transaction<'static, Any>, addon_id: Uuid) -> Result<BTreeMap<String, String>> {
    let text: Option<String> = sqlx::query_scalar("SELECT config FROM addons WHERE id = $1")
        .bind(addon_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let text = text.ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on.".into()))?;
    serde_json::from_str(&text).map_err(|e| LedgerError::Corrupt(format!("bad add-on config: {e}")))
}

async fn release(ledger: &SqlLedger, app_id: Uuid, id: Uuid) -> Result<Release> {
    super::releases::find_release(ledger, app_id, &id.to_string())
        .await?
        .ok_or_else(|| LedgerError::Corrupt(format!("release {id} vanished after insert")))
}

pub(super) async fn create_addon(
    ledger: &SqlLedger,
    user_id: Uuid,
    new: NewAddon,
) -> Result<(Addon, AddonAttachment, Release)> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, new.app_id).await?;
    let id = Uuid::new_v4();
    let time = ts(now());
    let config = serde_json::to_string(&new.config).map_err(|e| LedgerError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO addons (id, name, app_id, service, plan, provider_id, config, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id.to_string())
    .bind(new.name.clone())
    .bind(new.app_id.to_string())
    .bind(new.service.clone())
    .bind(new.plan.clone())
    .bind(new.provider_id.clone())
    .bind(config)
    .bind(time)
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("Name {} is already taken by another add-on.", new.name)))?;
    let attachment_id = insert_attachment(&mut tx, id, new.app_id, &new.attachment_names).await?;
    let attachment = attachment_in(&mut tx, attachment_id).await?;
    let description = format!("Attach {} (@ref:{})", attachment.name, new.name);
    let changes = attachment_changes(&attachment, &new.config, true);
    let release_id = addon_release(&mut tx, new.app_id, user_id, &description, &changes).await?;
    tx.commit().await?;
    let addon = find_addon(ledger, &id.to_string()).await?.ok_or_else(|| LedgerError::Corrupt("add-on vanished".into()))?;
    Ok((addon, attachment, release(ledger, new.app_id, release_id).await?))
}

pub(super) async fn attach_addon(
    ledger: &SqlLedger,
    addon_id: Uuid,
    app_id: Uuid,
    user_id: Uuid,
    names: Vec<String>,
) -> Result<(AddonAttachment, Release)> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let config = addon_config_in(&mut tx, addon_id).await?;
    let attachment_id = insert_attachment(&mut tx, addon_id, app_id, &names).await?;
    let attachment = attachment_in(&mut tx, attachment_id).await?;
    let description = format!("Attach {} (@ref:{})", attachment.name, attachment.addon_name);
    let changes = attachment_changes(&attachment, &config, true);
    let release_id = addon_release(&mut tx, app_id, user_id, &description, &changes).await?;
    tx.commit().await?;
    Ok((attachment, release(ledger, app_id, release_id).await?))
}

/// Deletes an attachment and records the release that removes its config vars (the app is locked).
async fn detach_in(
    tx: &mut Transaction<'static, Any>,
    attachment: &AddonAttachment,
    config: &BTreeMap<String, String>,
    user_id: Uuid,
) -> Result<Uuid> {
    sqlx::query("DELETE FROM addon_attachments WHERE id = $1").bind(attachment.id.to_string()).execute(&mut **tx).await?;
    let description = format!("Detach {} (@ref:{})", attachment.name, attachment.addon_name);
    let changes = attachment_changes(attachment, config, false);
    addon_release(tx, attachment.app_id, user_id, &description, &changes).await
}

pub(super) async fn detach_addon(
    ledger: &SqlLedger,
    attachment_id: Uuid,
    user_id: Uuid,
) -> Result<(AddonAttachment, Release)> {
    let found = find_attachment(ledger, &attachment_id.to_string(), None)
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on attachment.".into()))?;
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, found.app_id).await?;
    let attachment = attachment_in(&mut tx, attachment_id).await?;
    let config = addon_config_in(&mut tx, attachment.addon_id).await?;
    let release_id = detach_in(&mut tx, &attachment, &config, user_id).await?;
    tx.commit().await?;
    Ok((attachment, release(ledger, found.app_id, release_id).await?))
}

pub(super) async fn destroy_addon(ledger: &SqlLedger, addon_id: Uuid, user_id: Uuid) -> Result<(Addon, Vec<Release>)> {
    let addon = find_addon(ledger, &addon_id.to_string())
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on.".into()))?;
    let mut tx = ledger.begin_write().await?;
    let attachments = lock_attached_apps(ledger, &mut tx, addon_id).await?;
    let mut made = Vec::new();
    for attachment in &attachments {
        // Read again under the locks: one detached meanwhile is gone.
        if let Ok(attachment) = attachment_in(&mut tx, attachment.id).await {
            made.push((attachment.app_id, detach_in(&mut tx, &attachment, &addon.config, user_id).await?));
        }
    }
    sqlx::query("DELETE FROM addon_attachments WHERE addon_id = $1").bind(addon_id.to_string()).execute(&mut *tx).await?;
    let deleted = sqlx::query("DELETE FROM addons WHERE id = $1").bind(addon_id.to_string()).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(LedgerError::NotFound("Couldn't find that add-on.".into()));
    }
    tx.commit().await?;
    let mut releases = Vec::new();
    for (app, id) in made {
        releases.push(release(ledger, app, id).await?);
    }
    Ok((addon, releases))
}

/// Records an add-on's new config (its server moved: the same credentials at another address)
/// and, on each app it is attached to, a release setting the attachment's config vars to it:
/// `Update DATABASE (@ref:postgresql-…)`.
pub(super) async fn update_addon_config(
    ledger: &SqlLedger,
    addon_id: Uuid,
    config: BTreeMap<String, String>,
    user_id: Uuid,
) -> Result<Vec<Release>> {
    let addon = find_addon(ledger, &addon_id.to_string())
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on.".into()))?;
    let mut tx = ledger.begin_write().await?;
    let attachments = lock_attached_apps(ledger, &mut tx, addon_id).await?;
    let text = serde_json::to_string(&config).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    sqlx::query("UPDATE addons SET config = $1, updated_at = $2 WHERE id = $3")
        .bind(text)
        .bind(ts(now()))
        .bind(addon_id.to_string())
        .execute(&mut *tx)
        .await?;
    let mut made = Vec::new();
    for attachment in &attachments {
        if let Ok(attachment) = attachment_in(&mut tx, attachment.id).await {
            let description = format!("Update {} (@ref:{}): its server moved", attachment.name, addon.name);
            let changes = attachment_changes(&attachment, &config, true);
            made.push((attachment.app_id, addon_release(&mut tx, attachment.app_id, user_id, &description, &changes).await?));
        }
    }
    tx.commit().await?;
    let mut releases = Vec::new();
    for (app, id) in made {
        releases.push(release(ledger, app, id).await?);
    }
    Ok(releases)
}

pub(super) async fn update_addon_plan(ledger: &SqlLedger, addon_id: Uuid, plan: &str) -> Result<Addon> {
    let done = sqlx::query("UPDATE addons SET plan = $1, updated_at = $2 WHERE id = $3")
        .bind(plan.to_string())
        .bind(ts(now()))
        .bind(addon_id.to_string())
        .execute(&ledger.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(LedgerError::NotFound("Couldn't find that add-on.".into()));
    }
    find_addon(ledger, &addon_id.to_string()).await?.ok_or_else(|| LedgerError::NotFound("Couldn't find that add-on.".into()))
}
