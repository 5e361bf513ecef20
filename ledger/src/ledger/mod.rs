//! The ledger: every piece of control-plane state, behind the [`Ledger`] trait. Releases are
//! append-only; each change that makes a release allocates the next version in the same
//! transaction as the release. [`open`] gives the SQL implementation for SQLite (embedded
//! default) or PostgreSQL.

mod sql;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::access::{AppOwner, Permissions, Relation, Team, TeamMember, TeamRole};
use crate::addons::{Addon, AddonAttachment, AddonFilter, NewAddon};
use crate::model::{PrivateKeyPem, SniEndpoint, SniRoutes};
use crate::model::{
    ApiKey, App, AppFeature, Build, Collaborator, ConfigVars, Domain, Formation, FormationUpdate, LogDrain, NewRelease, NewSlug,
    Release, ScheduledJob, Slug, User,
};

pub use sql::SqlLedger;

/// What can go wrong in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The thing does not exist (the message says what).
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness rule would be broken (app name taken, …).
    #[error("{0}")]
    Conflict(String),
    /// The request breaks a rule of the domain (unknown process type, negative quantity, …).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("corrupt ledger data: {0}")]
    Corrupt(String),
}

/// Result of a ledger operation.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// Which apps a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppFilter {
    /// Every live app (operators).
    All,
    /// Apps the user holds some permission on (see [`crate::access::permissions_of`]).
    AccessibleBy(Uuid),
    /// A team's apps: all of them, or those `visible_to` a user.
    Team {
        /// The team.
        team: Uuid,
        /// Only the apps this user holds some permission on.
        visible_to: Option<Uuid>,
    },
}

/// Changes to an app's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppUpdate {
    /// A new name (validated by the caller).
    pub name: Option<String>,
    /// Maintenance mode on or off.
    pub maintenance: Option<bool>,
}

/// The control plane's store: every part of it, each a trait of its own (the first eight here,
/// the others beside their records). Callers hold an `Arc<dyn Ledger>` and call any part's
/// methods on it. One implementation ([`SqlLedger`]) serves SQLite and PostgreSQL; the
/// conformance suite in `platform/tests/all` runs against both.
pub trait Ledger:
    AccountLedger
    + AppLedger
    + ReleaseLedger
    + DomainLedger
    + DeployLedger
    + AccessLedger
    + AddonLedger
    + ScheduleLedger
    + crate::grid::NodeLedger
    + crate::pipelines::PipelineLedger
    + crate::webhooks::WebhookLedger
    + crate::setups::AppSetupLedger
    + Send
    + Sync
    + 'static
{
}

/// Users, their API keys (stored hashed) and the dyno sizes granted to them. A part of [`Ledger`].
#[async_trait]
pub trait AccountLedger: Send + Sync {
    /// Creates a user (with an optional password, stored hashed) and a first API key, which is
    /// returned in clear: the only time it is known.
    async fn create_user(&self, email: &str, password: Option<&str>, operator: bool) -> Result<(User, String)>;
    /// A user by email or id.
    async fn find_user(&self, email_or_id: &str) -> Result<Option<User>>;
    /// The first operator, if any.
    async fn find_operator(&self) -> Result<Option<User>>;
    /// The user an API key belongs to, and the key's record.
    async fn authenticate_key(&self, key: &str) -> Result<Option<(User, ApiKey)>>;
    /// The user whose email and password these are.
    async fn authenticate_password(&self, email: &str, password: &str) -> Result<Option<User>>;
    /// Makes a new API key for a user; returns it in clear with its record.
    async fn create_api_key(&self, user_id: Uuid, description: &str) -> Result<(ApiKey, String)>;
    /// The user's API keys (never their values).
    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKey>>;
    /// Revokes one of the user's API keys.
    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid) -> Result<ApiKey>;
    /// The dyno sizes an operator granted the user (canonical names), or `None`: the default
    /// ([`crate::sizes::DEFAULT_GRANTED_SIZES`]).
    async fn dyno_sizes(&self, user_id: Uuid) -> Result<Option<Vec<String>>>;
    /// Sets the dyno sizes the user may use (`None`: back to the default).
    async fn set_dyno_sizes(&self, user_id: Uuid, sizes: Option<Vec<String>>) -> Result<()>;
}

/// Apps, and what is set on each: features and log drains. A part of [`Ledger`].
#[async_trait]
pub trait AppLedger: Send + Sync {
    // Apps.
    /// Creates an app owned by `owner`, with release v1 `Initial release`, in one transaction.
    async fn create_app(&self, name: &str, owner: Uuid) -> Result<App>;
    /// A live app by name or id.
    async fn find_app(&self, name_or_id: &str) -> Result<Option<App>>;
    /// The live app a hostname routes to: `<name>.<domain>` or a custom domain.
    async fn find_app_by_hostname(&self, hostname: &str, domain: &str) -> Result<Option<App>>;
    /// Live apps, sorted by name.
    async fn list_apps(&self, filter: AppFilter) -> Result<Vec<App>>;
    /// Renames an app or switches maintenance mode.
    async fn update_app(&self, app_id: Uuid, update: AppUpdate) -> Result<App>;
    /// Destroys an app: it disappears from every listing; its releases stay in the ledger.
    async fn destroy_app(&self, app_id: Uuid) -> Result<App>;

    // Log drains.
    /// The app's log drains, oldest first.
    async fn list_log_drains(&self, app_id: Uuid) -> Result<Vec<LogDrain>>;
    /// Every live app's log drains, with the app's name (what `paas server` forwards at start).
    async fn all_log_drains(&self) -> Result<Vec<(String, LogDrain)>>;
    /// Adds a drain (its token made here); the same URL twice is a conflict.
    async fn add_log_drain(&self, app_id: Uuid, url: &str) -> Result<LogDrain>;
    /// Removes a drain by id, URL or token.
    async fn remove_log_drain(&self, app_id: Uuid, which: &str) -> Result<LogDrain>;

    // App features.
    /// The app's features that were ever set, by name (others are disabled).
    async fn list_app_features(&self, app_id: Uuid) -> Result<Vec<AppFeature>>;
    /// Turns a feature on or off (the caller checks the name is known).
    async fn set_app_feature(&self, app_id: Uuid, name: &str, enabled: bool) -> Result<AppFeature>;
}

/// The append-only releases, the config vars they carry, and the formation they run with. A part of [`Ledger`].
#[async_trait]
pub trait ReleaseLedger: Send + Sync {
    // Releases and config vars.
    /// The app's releases, oldest first.
    async fn list_releases(&self, app_id: Uuid) -> Result<Vec<Release>>;
    /// One release, by version number (`3` or `v3`) or id.
    async fn find_release(&self, app_id: Uuid, version_or_id: &str) -> Result<Option<Release>>;
    /// The current release: the newest that succeeded.
    async fn current_release(&self, app_id: Uuid) -> Result<Option<Release>>;
    /// Sets (`Some`) and unsets (`None`) config vars. When that changes anything, records the
    /// next release (`Set A, B config vars` / `Remove C config vars`) in the same transaction.
    /// Gives back the resulting config vars and the new release, if one was made.
    async fn update_config_vars(
        &self,
        app_id: Uuid,
        user_id: Uuid,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(ConfigVars, Option<Release>)>;
    /// Records the next release running `release.slug_id` with the current config vars and
    /// add-ons; new process types get a formation (`web` 1 dyno, others 0). The builder calls it.
    async fn create_release(&self, app_id: Uuid, user_id: Uuid, release: NewRelease) -> Result<Release>;
    /// Records the next release as a copy of `target`'s slug, process types and config vars:
    /// `Rollback to vN`. Nothing is rebuilt. Add-ons' config vars and plans follow the app's
    /// attachments of now, not of `target` (a destroyed add-on's URL does not come back).
    async fn rollback(&self, app_id: Uuid, user_id: Uuid, target: Uuid) -> Result<Release>;
    /// Records what [`ReleaseLedger::create_release`] would have, as a release whose release phase
    /// failed: the next version, status `failed`; the current release stays current.
    async fn create_failed_release(&self, app_id: Uuid, user_id: Uuid, release: NewRelease) -> Result<Release>;
    /// Records what [`ReleaseLedger::rollback`] would have, as a release whose release phase failed.
    async fn failed_rollback(&self, app_id: Uuid, user_id: Uuid, target: Uuid) -> Result<Release>;

    // Formation and dynos.
    /// The formation of the current release's process types, sorted by type.
    async fn list_formation(&self, app_id: Uuid) -> Result<Vec<Formation>>;
    /// Applies scale/resize updates atomically: all or none. Unknown process types and negative
    /// results are [`LedgerError::Invalid`] naming what the release has.
    async fn update_formation(&self, app_id: Uuid, updates: Vec<FormationUpdate>) -> Result<Vec<Formation>>;
    /// Records a restart or stop request (`action`) for all dynos, a process type or one dyno.
    async fn record_dyno_action(&self, app_id: Uuid, user_id: Uuid, action: &str, target: Option<&str>) -> Result<()>;
}

/// Custom domains and the SNI endpoints (custom certificates) they serve with. A part of [`Ledger`].
#[async_trait]
pub trait DomainLedger: Send + Sync {
    /// The app's custom domains, sorted by hostname.
    async fn list_domains(&self, app_id: Uuid) -> Result<Vec<Domain>>;
    /// Adds a custom domain (hostnames are unique across apps).
    async fn add_domain(&self, app_id: Uuid, hostname: &str) -> Result<Domain>;
    /// Removes a custom domain by hostname or id.
    async fn remove_domain(&self, app_id: Uuid, hostname_or_id: &str) -> Result<Domain>;
    /// Sets the SNI endpoint (by name or id, of the same app) a custom domain serves with, or
    /// none.
    async fn set_domain_sni_endpoint(&self, app_id: Uuid, hostname_or_id: &str, endpoint: Option<&str>) -> Result<Domain>;
    /// The app's SNI endpoints, oldest first.
    async fn list_sni_endpoints(&self, app_id: Uuid) -> Result<Vec<SniEndpoint>>;
    /// Adds an SNI endpoint (its certificate already validated) under a new unique name; an app
    /// has at most [`crate::model::MAX_SNI_ENDPOINTS_PER_APP`].
    async fn create_sni_endpoint(&self, app_id: Uuid, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint>;
    /// Replaces an SNI endpoint's certificate and key (by name or id).
    async fn update_sni_endpoint(&self, app_id: Uuid, name_or_id: &str, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint>;
    /// Removes an SNI endpoint (by name or id); its domains serve with none.
    async fn remove_sni_endpoint(&self, app_id: Uuid, name_or_id: &str) -> Result<SniEndpoint>;
    /// Every live app's custom domains and SNI endpoints, without certificates or keys.
    async fn sni_routes(&self) -> Result<SniRoutes>;
    /// The SNI endpoints with these ids (any app's; `domains` left empty), with their
    /// certificates and keys.
    async fn find_sni_endpoints(&self, ids: &[Uuid]) -> Result<Vec<SniEndpoint>>;
}

/// Builds and their output, the slugs they make, and each app's buildpack. A part of [`Ledger`].
#[async_trait]
pub trait DeployLedger: Send + Sync {
    /// The app's builds, oldest first.
    async fn list_builds(&self, app_id: Uuid) -> Result<Vec<Build>>;
    /// Records a pending build, run by the node `node_id`.
    async fn create_build(
        &self,
        app_id: Uuid,
        user_id: Uuid,
        source_version: Option<&str>,
        node_id: Option<Uuid>,
    ) -> Result<Build>;
    /// The pending builds of live apps that the node `node_id` runs (or that no node recorded),
    /// with their app's name, oldest first: what that node left when it stopped.
    async fn interrupted_builds(&self, node_id: Uuid) -> Result<Vec<(String, Build)>>;
    /// Marks a build finished: `succeeded` with its slug and release, or `failed`.
    async fn finish_build(
        &self,
        build_id: Uuid,
        status: &str,
        slug_id: Option<Uuid>,
        release_id: Option<Uuid>,
    ) -> Result<Build>;
    /// Stores a build's buildpack and whole output (newline-separated lines).
    async fn record_build_output(&self, build_id: Uuid, buildpack: Option<&str>, output: &str) -> Result<()>;
    /// A build's stored output; `None` while it has none (pending).
    async fn build_output(&self, build_id: Uuid) -> Result<Option<String>>;

    // Slugs and buildpacks.
    /// Records a slug built for the app (its archive is in the slug store, named by checksum).
    async fn create_slug(&self, app_id: Uuid, slug: NewSlug) -> Result<Slug>;
    /// One of the app's slugs by id.
    async fn find_slug(&self, app_id: Uuid, slug_id: Uuid) -> Result<Option<Slug>>;
    /// A slug by id whichever app it was built for (a release may be made from another app's
    /// slug, as Heroku's pipelines promote one; the caller checks access to that app).
    async fn find_any_slug(&self, slug_id: Uuid) -> Result<Option<Slug>>;
    /// The app's buildpack (`paas buildpacks:set`), if set.
    async fn buildpack(&self, app_id: Uuid) -> Result<Option<String>>;
    /// Sets (`Some`) or clears (`None`) the app's buildpack.
    async fn set_buildpack(&self, app_id: Uuid, url: Option<&str>) -> Result<()>;
}

/// Who may work on an app besides its owner: collaborators, teams and their members. A part of [`Ledger`].
#[async_trait]
pub trait AccessLedger: Send + Sync {
    /// The app's collaborators (not the owner), sorted by email.
    async fn list_collaborators(&self, app_id: Uuid) -> Result<Vec<Collaborator>>;
    /// Adds a collaborator with all four permissions.
    async fn add_collaborator(&self, app_id: Uuid, user_id: Uuid) -> Result<Collaborator>;
    /// Adds a collaborator with these permissions.
    async fn add_collaborator_with(&self, app_id: Uuid, user_id: Uuid, permissions: Permissions) -> Result<Collaborator>;
    /// Sets a collaborator's permissions (by their email or id, or the collaboration's id).
    async fn update_collaborator(&self, app_id: Uuid, who: &str, permissions: Permissions) -> Result<Collaborator>;
    /// Removes a collaborator by their email or id, or the collaboration's id.
    async fn remove_collaborator(&self, app_id: Uuid, who: &str) -> Result<Collaborator>;
    /// Creates a team whose first member, an admin, is `creator`.
    async fn create_team(&self, name: &str, creator: Uuid) -> Result<Team>;
    /// A live team by name or id.
    async fn find_team(&self, name_or_id: &str) -> Result<Option<Team>>;
    /// The teams the user is a member of, with their role, by name.
    async fn list_teams(&self, user_id: Uuid) -> Result<Vec<(Team, TeamRole)>>;
    /// Deletes a team that owns no live app (its members go with it).
    async fn destroy_team(&self, team_id: Uuid) -> Result<Team>;
    /// The team's members, by email.
    async fn list_team_members(&self, team_id: Uuid) -> Result<Vec<TeamMember>>;
    /// Sets a member's role; `create` adds the user when they are not a member yet. The last
    /// admin cannot be demoted.
    async fn set_team_member(&self, team_id: Uuid, user_id: Uuid, role: TeamRole, create: bool) -> Result<TeamMember>;
    /// Removes a member (email or user id) and their grants on the team's apps; not the last admin.
    async fn remove_team_member(&self, team_id: Uuid, who: &str) -> Result<TeamMember>;
    /// The user's role in the team, if they are a member.
    async fn team_role(&self, team_id: Uuid, user_id: Uuid) -> Result<Option<TeamRole>>;
    /// What the user is to the app: team role and collaborator grant.
    async fn relation(&self, app: &App, user_id: Uuid) -> Result<Relation>;
    /// Creates an app owned by a team; its creator is a collaborator with all four permissions.
    async fn create_team_app(&self, name: &str, creator: Uuid, team_id: Uuid, locked: bool) -> Result<App>;
    /// Locks or unlocks a team app.
    async fn set_app_locked(&self, app_id: Uuid, locked: bool) -> Result<App>;
    /// Gives the app to a user or a team (see [`AppOwner`]).
    async fn transfer_app(&self, app_id: Uuid, to: AppOwner) -> Result<App>;
    /// The user's default team, if set.
    async fn default_team(&self, user_id: Uuid) -> Result<Option<Team>>;
    /// Sets or clears the user's default team.
    async fn set_default_team(&self, user_id: Uuid, team_id: Option<Uuid>) -> Result<()>;
}

/// Add-ons and their attachments; each change is a release of the apps it touches. A part of [`Ledger`].
#[async_trait]
pub trait AddonLedger: Send + Sync {
    /// Records a provisioned add-on, its first attachment (the first of
    /// `attachment_names` free on the app) and the release that sets its config vars
    /// (`Attach DATABASE (@ref:postgresql-…)`), in one transaction.
    async fn create_addon(&self, user_id: Uuid, addon: NewAddon) -> Result<(Addon, AddonAttachment, Release)>;
    /// Add-ons, oldest first.
    async fn list_addons(&self, filter: AddonFilter) -> Result<Vec<Addon>>;
    /// An add-on (of a live app) by name or id.
    async fn find_addon(&self, name_or_id: &str) -> Result<Option<Addon>>;
    /// Records an add-on's new plan (the service applied it).
    async fn update_addon_plan(&self, addon_id: Uuid, plan: &str) -> Result<Addon>;
    /// Records an add-on's new config (its server moved: the same credentials at another
    /// address) and a release on each app it is attached to, setting the new values there.
    async fn update_addon_config(
        &self,
        addon_id: Uuid,
        config: std::collections::BTreeMap<String, String>,
        user_id: Uuid,
    ) -> Result<Vec<Release>>;
    /// Removes an add-on: each attachment is detached in a release of its app; gives back the
    /// add-on (for the service to deprovision) and those releases.
    async fn destroy_addon(&self, addon_id: Uuid, user_id: Uuid) -> Result<(Addon, Vec<Release>)>;
    /// Attaches an add-on to an app under the first of `names` free there, in a new release.
    async fn attach_addon(
        &self,
        addon_id: Uuid,
        app_id: Uuid,
        user_id: Uuid,
        names: Vec<String>,
    ) -> Result<(AddonAttachment, Release)>;
    /// Detaches: the attachment's config vars are removed in a new release of its app.
    async fn detach_addon(&self, attachment_id: Uuid, user_id: Uuid) -> Result<(AddonAttachment, Release)>;
    /// Attachments, oldest first.
    async fn list_attachments(&self, filter: AddonFilter) -> Result<Vec<AddonAttachment>>;
    /// An attachment by id, or (with `app_id`) by its name on that app.
    async fn find_attachment(&self, name_or_id: &str, app_id: Option<Uuid>) -> Result<Option<AddonAttachment>>;
}

/// What runs on its own: scheduled jobs (each run claimed once) and autoscaling policies. A part of [`Ledger`].
#[async_trait]
pub trait ScheduleLedger: Send + Sync {
    // Autoscaling (crate::autoscale).
    /// The app's autoscaling policies that were ever set, by process type.
    async fn list_autoscaling(&self, app_id: Uuid) -> Result<Vec<crate::autoscale::Policy>>;
    /// Every enabled policy of an app that exists.
    async fn enabled_autoscaling(&self) -> Result<Vec<crate::autoscale::Policy>>;
    /// Stores the policy of its (app, process type), enabled or not (the caller checks it).
    async fn set_autoscaling(&self, policy: &crate::autoscale::Policy) -> Result<crate::autoscale::Policy>;

    // Scheduled jobs.
    /// The app's scheduled jobs, oldest first.
    async fn list_scheduled_jobs(&self, app_id: Uuid) -> Result<Vec<ScheduledJob>>;
    /// Every live app's scheduled jobs, with the app's name (what the scheduler runs).
    async fn all_scheduled_jobs(&self) -> Result<Vec<(String, ScheduledJob)>>;
    /// Adds a job (the caller checks the schedule parses); at most
    /// [`crate::model::MAX_SCHEDULED_JOBS`] per app.
    async fn add_scheduled_job(&self, app_id: Uuid, schedule: &str, command: &str) -> Result<ScheduledJob>;
    /// Removes one of the app's jobs.
    async fn remove_scheduled_job(&self, app_id: Uuid, job_id: Uuid) -> Result<ScheduledJob>;
    /// Claims the job's run at `at`: sets its `last_run_at` to `at` if it is still `previous`,
    /// and (`node`: the claiming node's id and epoch) that node is still up at that epoch.
    /// `false` when another scheduler (sharing the ledger) got there first, the job is gone, or
    /// the node was fenced.
    async fn claim_scheduled_run(
        &self,
        job_id: Uuid,
        previous: Option<chrono::DateTime<chrono::Utc>>,
        at: chrono::DateTime<chrono::Utc>,
        node: Option<(Uuid, i64)>,
    ) -> Result<bool>;
}

/// Opens (creating it if needed) and migrates the ledger at `url`: `sqlite://PATH` or
/// `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Ledger>> {
    Ok(Arc::new(SqlLedger::connect(url).await?))
}

/// The URL of the embedded SQLite ledger in a data dir (created if missing).
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("paas.db").display().to_string();
    // The URL's path is percent-decoded: escape what would end or change it.
    let mut escaped = String::new();
    for c in path.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            ' ' => escaped.push_str("%20"),
            c => escaped.push(c),
        }
    }
    format!("sqlite://{escaped}?mode=rwc")
}
