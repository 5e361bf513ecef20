//! [`SqlLedger`]: the ledger over sqlx's `Any` driver, one set of queries for SQLite and
//! PostgreSQL. Both schemas store ids and times as text and booleans as integers, so only two
//! things differ per backend: the migrations, and how a writer serialises with the others
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT … FOR UPDATE` on the app's row).

mod addons;
mod app_setups;
mod apps;
mod autoscaling;
mod certs;
mod drains;
mod features;
mod formation;
mod nodes;
mod pipelines;
mod releases;
mod resources;
mod scheduler;
mod slugs;
mod teams;
mod users;
mod webhooks;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};
use uuid::Uuid;

use super::{
    AccessLedger, AccountLedger, AddonLedger, AppFilter, AppLedger, AppUpdate, DeployLedger, DomainLedger, Ledger, LedgerError,
    ReleaseLedger, Result, ScheduleLedger,
};
use crate::access::{AppOwner, Permissions, Relation, Team, TeamMember, TeamRole};
use crate::addons::{Addon, AddonAttachment, AddonFilter, NewAddon};
use crate::model::{PrivateKeyPem, RELEASE_FAILED, RELEASE_SUCCEEDED, SniEndpoint, SniRoutes};
use crate::model::{
    ApiKey, App, AppFeature, Build, Collaborator, ConfigVars, Domain, Formation, FormationUpdate, LogDrain, NewRelease,
    NewSlug, Release, ScheduledJob, Slug, User,
};

/// Which database engine a [`SqlLedger`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (WAL).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The ledger in a SQL database. See the module docs.
#[derive(Debug, Clone)]
pub struct SqlLedger {
    pool: AnyPool,
    backend: Backend,
}

impl SqlLedger {
    /// Connects to `sqlite://PATH?mode=rwc` or `postgres://…` and applies the migrations.
    pub async fn connect(url: &str) -> Result<SqlLedger> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(LedgerError::Invalid(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            )));
        };
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30));
        let pool = options.connect(url).await?;
        match backend {
            Backend::Sqlite => {
                // WAL is a property of the database file: set once, kept by every connection.
                sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
                sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            }
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        Ok(SqlLedger { pool, backend })
    }

    /// The engine behind this ledger.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that writes: on SQLite it takes the write lock at once, so two
    /// writers never both read the same "next version".
    async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Inside a write transaction: checks the app is live and, on PostgreSQL, locks its row until
    /// the transaction ends (every writer of the app's releases and formation does this first).
    async fn lock_app(&self, tx: &mut Transaction<'static, Any>, app_id: Uuid) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT id FROM apps WHERE id = $1 AND deleted_at IS NULL",
            Backend::Postgres => "SELECT id FROM apps WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        };
        let found = sqlx::query(sql).bind(app_id.to_string()).fetch_optional(&mut **tx).await?;
        found.map(|_| ()).ok_or_else(app_not_found)
    }
}

/// The error for an app that does not exist (or is not visible).
pub(crate) fn app_not_found() -> LedgerError {
    LedgerError::NotFound("Couldn't find that app.".into())
}

/// The current time, at the microsecond precision the ledger stores.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// How a time is stored: RFC 3339 UTC with microseconds, which sorts as text.
fn ts(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|e| LedgerError::Corrupt(format!("bad time {text:?}: {e}")))
}

fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::from_str(text).map_err(|e| LedgerError::Corrupt(format!("bad id {text:?}: {e}")))
}

fn col_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

fn col_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

fn col_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

fn col_uuid(row: &AnyRow, col: &str) -> Result<Uuid> {
    parse_uuid(&col_str(row, col)?)
}

fn col_opt_uuid(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    col_opt_str(row, col)?.as_deref().map(parse_uuid).transpose()
}

fn col_ts(row: &AnyRow, col: &str) -> Result<DateTime<Utc>> {
    parse_ts(&col_str(row, col)?)
}

fn col_opt_ts(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    col_opt_str(row, col)?.as_deref().map(parse_ts).transpose()
}

fn col_json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let text = col_str(row, col)?;
    serde_json::from_str(&text).map_err(|e| LedgerError::Corrupt(format!("bad {col} {text:?}: {e}")))
}

/// Turns a unique-constraint violation into [`LedgerError::Conflict`] with `message`.
fn conflict_on_unique(error: sqlx::Error, message: impl FnOnce() -> String) -> LedgerError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => LedgerError::Conflict(message()),
        _ => LedgerError::Database(error),
    }
}

/// `row` read by `read`, or [`LedgerError::NotFound`] saying `missing()` when there is none.
fn read_or_not_found<T>(
    row: Option<AnyRow>,
    read: fn(&AnyRow) -> Result<T>,
    missing: impl FnOnce() -> String,
) -> Result<T> {
    row.as_ref().map(read).transpose()?.ok_or_else(|| LedgerError::NotFound(missing()))
}

/// Every row `sql` selects with `$1` bound to `key` (an app's id, mostly), each read by `read`.
async fn select_all<T>(
    ledger: &SqlLedger,
    sql: impl sqlx::SqlSafeStr + Send,
    key: impl ToString + Send,
    read: fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    let rows = sqlx::query(sql).bind(key.to_string()).fetch_all(&ledger.pool).await?;
    rows.iter().map(read).collect()
}

/// The row `sql` selects with `$1` bound to `key`, read by `read`; `None` when there is none.
async fn select_optional<T>(
    ledger: &SqlLedger,
    sql: impl sqlx::SqlSafeStr + Send,
    key: impl ToString + Send,
    read: fn(&AnyRow) -> Result<T>,
) -> Result<Option<T>> {
    let row = sqlx::query(sql).bind(key.to_string()).fetch_optional(&ledger.pool).await?;
    row.as_ref().map(read).transpose()
}

#[async_trait]
impl AccountLedger for SqlLedger {
    async fn create_user(&self, email: &str, password: Option<&str>, operator: bool) -> Result<(User, String)> {
        users::create_user(self, email, password, operator).await
    }
    async fn find_user(&self, email_or_id: &str) -> Result<Option<User>> {
        users::find_user(self, email_or_id).await
    }
    async fn find_operator(&self) -> Result<Option<User>> {
        users::find_operator(self).await
    }
    async fn authenticate_key(&self, key: &str) -> Result<Option<(User, ApiKey)>> {
        users::authenticate_key(self, key).await
    }
    async fn authenticate_password(&self, email: &str, password: &str) -> Result<Option<User>> {
        users::authenticate_password(self, email, password).await
    }
    async fn create_api_key(&self, user_id: Uuid, description: &str) -> Result<(ApiKey, String)> {
        users::create_api_key(self, user_id, description).await
    }
    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKey>> {
        users::list_api_keys(self, user_id).await
    }
    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid) -> Result<ApiKey> {
        users::delete_api_key(self, user_id, key_id).await
    }
    async fn dyno_sizes(&self, user_id: Uuid) -> Result<Option<Vec<String>>> {
        users::dyno_sizes(self, user_id).await
    }
    async fn set_dyno_sizes(&self, user_id: Uuid, sizes: Option<Vec<String>>) -> Result<()> {
        users::set_dyno_sizes(self, user_id, sizes).await
    }
}

#[async_trait]
impl AppLedger for SqlLedger {
    async fn create_app(&self, name: &str, owner: Uuid) -> Result<App> {
        apps::create_app(self, name, owner).await
    }
    async fn find_app(&self, name_or_id: &str) -> Result<Option<App>> {
        apps::find_app(self, name_or_id).await
    }
    async fn find_app_by_hostname(&self, hostname: &str, domain: &str) -> Result<Option<App>> {
        apps::find_app_by_hostname(self, hostname, domain).await
    }
    async fn list_apps(&self, filter: AppFilter) -> Result<Vec<App>> {
        apps::list_apps(self, filter).await
    }
    async fn update_app(&self, app_id: Uuid, update: AppUpdate) -> Result<App> {
        apps::update_app(self, app_id, update).await
    }
    async fn destroy_app(&self, app_id: Uuid) -> Result<App> {
        apps::destroy_app(self, app_id).await
    }
    async fn list_log_drains(&self, app_id: Uuid) -> Result<Vec<LogDrain>> {
        drains::list_log_drains(self, app_id).await
    }
    async fn all_log_drains(&self) -> Result<Vec<(String, LogDrain)>> {
        drains::all_log_drains(self).await
    }
    async fn add_log_drain(&self, app_id: Uuid, url: &str) -> Result<LogDrain> {
        drains::add_log_drain(self, app_id, url).await
    }
    async fn remove_log_drain(&self, app_id: Uuid, which: &str) -> Result<LogDrain> {
        drains::remove_log_drain(self, app_id, which).await
    }
    async fn list_app_features(&self, app_id: Uuid) -> Result<Vec<AppFeature>> {
        features::list_app_features(self, app_id).await
    }
    async fn set_app_feature(&self, app_id: Uuid, name: &str, enabled: bool) -> Result<AppFeature> {
        features::set_app_feature(self, app_id, name, enabled).await
    }
}

#[async_trait]
impl ReleaseLedger for SqlLedger {
    async fn list_releases(&self, app_id: Uuid) -> Result<Vec<Release>> {
        releases::list_releases(self, app_id).await
    }
    async fn find_release(&self, app_id: Uuid, version_or_id: &str) -> Result<Option<Release>> {
        releases::find_release(self, app_id, version_or_id).await
    }
    async fn current_release(&self, app_id: Uuid) -> Result<Option<Release>> {
        releases::current_release(self, app_id).await
    }
    async fn update_config_vars(
        &self,
        app_id: Uuid,
        user_id: Uuid,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(ConfigVars, Option<Release>)> {
        releases::update_config_vars(self, app_id, user_id, changes).await
    }
    async fn create_release(&self, app_id: Uuid, user_id: Uuid, release: NewRelease) -> Result<Release> {
        releases::create_release(self, app_id, user_id, release, RELEASE_SUCCEEDED).await
    }
    async fn rollback(&self, app_id: Uuid, user_id: Uuid, target: Uuid) -> Result<Release> {
        releases::rollback(self, app_id, user_id, target, RELEASE_SUCCEEDED).await
    }
    async fn create_failed_release(&self, app_id: Uuid, user_id: Uuid, release: NewRelease) -> Result<Release> {
        releases::create_release(self, app_id, user_id, release, RELEASE_FAILED).await
    }
    async fn failed_rollback(&self, app_id: Uuid, user_id: Uuid, target: Uuid) -> Result<Release> {
        releases::rollback(self, app_id, user_id, target, RELEASE_FAILED).await
    }
    async fn list_formation(&self, app_id: Uuid) -> Result<Vec<Formation>> {
        formation::list_formation(self, app_id).await
    }
    async fn update_formation(&self, app_id: Uuid, updates: Vec<FormationUpdate>) -> Result<Vec<Formation>> {
        formation::update_formation(self, app_id, updates).await
    }
    async fn record_dyno_action(&self, app_id: Uuid, user_id: Uuid, action: &str, target: Option<&str>) -> Result<()> {
        formation::record_dyno_action(self, app_id, user_id, action, target).await
    }
}

#[async_trait]
impl DomainLedger for SqlLedger {
    async fn list_domains(&self, app_id: Uuid) -> Result<Vec<Domain>> {
        resources::list_domains(self, app_id).await
    }
    async fn add_domain(&self, app_id: Uuid, hostname: &str) -> Result<Domain> {
        resources::add_domain(self, app_id, hostname).await
    }
    async fn remove_domain(&self, app_id: Uuid, hostname_or_id: &str) -> Result<Domain> {
        resources::remove_domain(self, app_id, hostname_or_id).await
    }
    async fn set_domain_sni_endpoint(&self, app_id: Uuid, hostname_or_id: &str, endpoint: Option<&str>) -> Result<Domain> {
        certs::set_domain_endpoint(self, app_id, hostname_or_id, endpoint).await
    }
    async fn list_sni_endpoints(&self, app_id: Uuid) -> Result<Vec<SniEndpoint>> {
        certs::list(self, app_id).await
    }
    async fn create_sni_endpoint(&self, app_id: Uuid, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint> {
        certs::create(self, app_id, chain, key).await
    }
    async fn update_sni_endpoint(&self, app_id: Uuid, name_or_id: &str, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint> {
        certs::update(self, app_id, name_or_id, chain, key).await
    }
    async fn remove_sni_endpoint(&self, app_id: Uuid, name_or_id: &str) -> Result<SniEndpoint> {
        certs::remove(self, app_id, name_or_id).await
    }
    async fn sni_routes(&self) -> Result<SniRoutes> {
        certs::routes(self).await
    }
    async fn find_sni_endpoints(&self, ids: &[Uuid]) -> Result<Vec<SniEndpoint>> {
        certs::find_by_ids(self, ids).await
    }
}

#[async_trait]
impl DeployLedger for SqlLedger {
    async fn list_builds(&self, app_id: Uuid) -> Result<Vec<Build>> {
        resources::list_builds(self, app_id).await
    }
    async fn create_build(
        &self,
        app_id: Uuid,
        user_id: Uuid,
        source_version: Option<&str>,
        node_id: Option<Uuid>,
    ) -> Result<Build> {
        resources::create_build(self, app_id, user_id, source_version, node_id).await
    }
    async fn interrupted_builds(&self, node_id: Uuid) -> Result<Vec<(String, Build)>> {
        resources::interrupted_builds(self, node_id).await
    }
    async fn finish_build(
        &self,
        build_id: Uuid,
        status: &str,
        slug_id: Option<Uuid>,
        release_id: Option<Uuid>,
    ) -> Result<Build> {
        resources::finish_build(self, build_id, status, slug_id, release_id).await
    }
    async fn record_build_output(&self, build_id: Uuid, buildpack: Option<&str>, output: &str) -> Result<()> {
        slugs::record_build_output(self, build_id, buildpack, output).await
    }
    async fn build_output(&self, build_id: Uuid) -> Result<Option<String>> {
        slugs::build_output(self, build_id).await
    }
    async fn create_slug(&self, app_id: Uuid, slug: NewSlug) -> Result<Slug> {
        slugs::create_slug(self, app_id, slug).await
    }
    async fn find_slug(&self, app_id: Uuid, slug_id: Uuid) -> Result<Option<Slug>> {
        slugs::find_slug(self, app_id, slug_id).await
    }
    async fn find_any_slug(&self, slug_id: Uuid) -> Result<Option<Slug>> {
        slugs::find_any_slug(self, slug_id).await
    }
    async fn buildpack(&self, app_id: Uuid) -> Result<Option<String>> {
        slugs::buildpack(self, app_id).await
    }
    async fn set_buildpack(&self, app_id: Uuid, url: Option<&str>) -> Result<()> {
        slugs::set_buildpack(self, app_id, url).await
    }
}

#[async_trait]
impl AccessLedger for SqlLedger {
    async fn list_collaborators(&self, app_id: Uuid) -> Result<Vec<Collaborator>> {
        resources::list_collaborators(self, app_id).await
    }
    async fn add_collaborator(&self, app_id: Uuid, user_id: Uuid) -> Result<Collaborator> {
        resources::add_collaborator(self, app_id, user_id, Permissions::ALL).await
    }
    async fn add_collaborator_with(&self, app_id: Uuid, user_id: Uuid, permissions: Permissions) -> Result<Collaborator> {
        resources::add_collaborator(self, app_id, user_id, permissions).await
    }
    async fn update_collaborator(&self, app_id: Uuid, who: &str, permissions: Permissions) -> Result<Collaborator> {
        resources::update_collaborator(self, app_id, who, permissions).await
    }
    async fn remove_collaborator(&self, app_id: Uuid, who: &str) -> Result<Collaborator> {
        resources::remove_collaborator(self, app_id, who).await
    }
    async fn create_team(&self, name: &str, creator: Uuid) -> Result<Team> {
        teams::create_team(self, name, creator).await
    }
    async fn find_team(&self, name_or_id: &str) -> Result<Option<Team>> {
        teams::find_team(self, name_or_id).await
    }
    async fn list_teams(&self, user_id: Uuid) -> Result<Vec<(Team, TeamRole)>> {
        teams::list_teams(self, user_id).await
    }
    async fn destroy_team(&self, team_id: Uuid) -> Result<Team> {
        teams::destroy_team(self, team_id).await
    }
    async fn list_team_members(&self, team_id: Uuid) -> Result<Vec<TeamMember>> {
        teams::list_team_members(self, team_id).await
    }
    async fn set_team_member(&self, team_id: Uuid, user_id: Uuid, role: TeamRole, create: bool) -> Result<TeamMember> {
        teams::set_team_member(self, team_id, user_id, role, create).await
    }
    async fn remove_team_member(&self, team_id: Uuid, who: &str) -> Result<TeamMember> {
        teams::remove_team_member(self, team_id, who).await
    }
    async fn team_role(&self, team_id: Uuid, user_id: Uuid) -> Result<Option<TeamRole>> {
        teams::team_role(self, team_id, user_id).await
    }
    async fn relation(&self, app: &App, user_id: Uuid) -> Result<Relation> {
        teams::relation(self, app, user_id).await
    }
    async fn create_team_app(&self, name: &str, creator: Uuid, team_id: Uuid, locked: bool) -> Result<App> {
        apps::create_app_in(self, name, creator, Some((team_id, locked))).await
    }
    async fn set_app_locked(&self, app_id: Uuid, locked: bool) -> Result<App> {
        teams::set_app_locked(self, app_id, locked).await
    }
    async fn transfer_app(&self, app_id: Uuid, to: AppOwner) -> Result<App> {
        teams::transfer_app(self, app_id, to).await
    }
    async fn default_team(&self, user_id: Uuid) -> Result<Option<Team>> {
        teams::default_team(self, user_id).await
    }
    async fn set_default_team(&self, user_id: Uuid, team_id: Option<Uuid>) -> Result<()> {
        teams::set_default_team(self, user_id, team_id).await
    }
}

#[async_trait]
impl AddonLedger for SqlLedger {
    async fn create_addon(&self, user_id: Uuid, addon: NewAddon) -> Result<(Addon, AddonAttachment, Release)> {
        addons::create_addon(self, user_id, addon).await
    }
    async fn list_addons(&self, filter: AddonFilter) -> Result<Vec<Addon>> {
        addons::list_addons(self, filter).await
    }
    async fn find_addon(&self, name_or_id: &str) -> Result<Option<Addon>> {
        addons::find_addon(self, name_or_id).await
    }
    async fn update_addon_plan(&self, addon_id: Uuid, plan: &str) -> Result<Addon> {
        addons::update_addon_plan(self, addon_id, plan).await
    }
    async fn update_addon_config(
        &self,
        addon_id: Uuid,
        config: std::collections::BTreeMap<String, String>,
        user_id: Uuid,
    ) -> Result<Vec<Release>> {
        addons::update_addon_config(self, addon_id, config, user_id).await
    }
    async fn destroy_addon(&self, addon_id: Uuid, user_id: Uuid) -> Result<(Addon, Vec<Release>)> {
        addons::destroy_addon(self, addon_id, user_id).await
    }
    async fn attach_addon(
        &self,
        addon_id: Uuid,
        app_id: Uuid,
        user_id: Uuid,
        names: Vec<String>,
    ) -> Result<(AddonAttachment, Release)> {
        addons::attach_addon(self, addon_id, app_id, user_id, names).await
    }
    async fn detach_addon(&self, attachment_id: Uuid, user_id: Uuid) -> Result<(AddonAttachment, Release)> {
        addons::detach_addon(self, attachment_id, user_id).await
    }
    async fn list_attachments(&self, filter: AddonFilter) -> Result<Vec<AddonAttachment>> {
        addons::list_attachments(self, filter).await
    }
    async fn find_attachment(&self, name_or_id: &str, app_id: Option<Uuid>) -> Result<Option<AddonAttachment>> {
        addons::find_attachment(self, name_or_id, app_id).await
    }
}

#[async_trait]
impl ScheduleLedger for SqlLedger {
    async fn list_autoscaling(&self, app_id: Uuid) -> Result<Vec<crate::autoscale::Policy>> {
        autoscaling::list_autoscaling(self, app_id).await
    }
    async fn enabled_autoscaling(&self) -> Result<Vec<crate::autoscale::Policy>> {
        autoscaling::enabled_autoscaling(self).await
    }
    async fn set_autoscaling(&self, policy: &crate::autoscale::Policy) -> Result<crate::autoscale::Policy> {
        autoscaling::set_autoscaling(self, policy).await
    }
    async fn list_scheduled_jobs(&self, app_id: Uuid) -> Result<Vec<ScheduledJob>> {
        scheduler::list_scheduled_jobs(self, app_id).await
    }
    async fn all_scheduled_jobs(&self) -> Result<Vec<(String, ScheduledJob)>> {
        scheduler::all_scheduled_jobs(self).await
    }
    async fn add_scheduled_job(&self, app_id: Uuid, schedule: &str, command: &str) -> Result<ScheduledJob> {
        scheduler::add_scheduled_job(self, app_id, schedule, command).await
    }
    async fn remove_scheduled_job(&self, app_id: Uuid, job_id: Uuid) -> Result<ScheduledJob> {
        scheduler::remove_scheduled_job(self, app_id, job_id).await
    }
    async fn claim_scheduled_run(
        &self,
        job_id: Uuid,
        previous: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
        node: Option<(Uuid, i64)>,
    ) -> Result<bool> {
        scheduler::claim_scheduled_run(self, job_id, previous, at, node).await
    }
}

impl Ledger for SqlLedger {}
