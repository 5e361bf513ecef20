//! Add-ons: attached services whose credentials reach an app as config vars. The catalog of
//! services and plans ([`catalog`]), the ledger's records ([`Addon`], [`AddonAttachment`]), and
//! the services that provision them ([`postgres`], on a server of the operator's or a
//! [`cluster`] that `paas server` runs itself, with [`storage`] limits; [`redis`], a server per
//! add-on).

pub mod catalog;
pub mod cluster;
pub mod host;
pub mod postgres;
mod process;
pub mod redis;
pub mod storage;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An add-on: a resource on a service's server, owned by the app it was created on.
#[derive(Clone, PartialEq, Eq)]
pub struct Addon {
    /// Its id.
    pub id: Uuid,
    /// Its name, unique on the platform (`postgresql-calm-12345`).
    pub name: String,
    /// The app that owns it (Heroku's billing app).
    pub app_id: Uuid,
    /// That app's name.
    pub app_name: String,
    /// The service (`heroku-postgresql`).
    pub service: String,
    /// The plan's name without the service (`essential-0`).
    pub plan: String,
    /// The resource's name on the service's server (database and role).
    pub provider_id: String,
    /// What an attachment named `NAME` sets: `NAME_<key>` = value. Secret.
    pub config: BTreeMap<String, String>,
    /// The config vars its attachments set on the owning app (`DATABASE_URL`), sorted.
    pub config_vars: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Addon {
    // The config holds credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addon")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("app_name", &self.app_name)
            .field("service", &self.service)
            .field("plan", &self.plan)
            .field("config_vars", &self.config_vars)
            .finish_non_exhaustive()
    }
}

impl Addon {
    /// `heroku-postgresql:essential-0`.
    pub fn plan_name(&self) -> String {
        format!("{}:{}", self.service, self.plan)
    }
}

/// An add-on attached to an app under a name: the app's config has `<name>_<key>` for each of
/// the add-on's config keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonAttachment {
    /// Its id.
    pub id: Uuid,
    /// The name on the app (`DATABASE`), unique there.
    pub name: String,
    /// The add-on's id.
    pub addon_id: Uuid,
    /// The add-on's name.
    pub addon_name: String,
    /// The add-on's service (`heroku-postgresql`).
    pub addon_service: String,
    /// The add-on's plan without the service (`essential-0`).
    pub addon_plan: String,
    /// The app that owns the add-on.
    pub addon_app_id: Uuid,
    /// That app's name.
    pub addon_app_name: String,
    /// The app it is attached to.
    pub app_id: Uuid,
    /// That app's name.
    pub app_name: String,
    /// The config vars it sets (`DATABASE_URL`), sorted.
    pub config_vars: Vec<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An add-on to record, already provisioned.
#[derive(Clone)]
pub struct NewAddon {
    /// The app it is created on (and first attached to).
    pub app_id: Uuid,
    /// Its name (see [`catalog::generate_addon_name`]).
    pub name: String,
    /// The service.
    pub service: String,
    /// The plan (without the service).
    pub plan: String,
    /// The resource's name on the service's server.
    pub provider_id: String,
    /// What its attachments set (secret).
    pub config: BTreeMap<String, String>,
    /// The first attachment's name: the first of these that is free on the app.
    pub attachment_names: Vec<String>,
}

/// Which add-ons or attachments a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddonFilter {
    /// All of them (operators).
    All,
    /// Those on apps the user owns or collaborates on.
    AccessibleBy(Uuid),
    /// Add-ons owned by or attached to the app; attachments to the app.
    App(Uuid),
    /// The add-on's attachments.
    Addon(Uuid),
}

/// The config var an attachment named `name` sets for config key `key`: `DATABASE` + `URL` is
/// `DATABASE_URL`.
pub fn config_var(name: &str, key: &str) -> String {
    format!("{name}_{key}")
}

/// What can go wrong provisioning or deprovisioning an add-on.
#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    /// The service is not known here (the message names those that are).
    #[error("{0}")]
    UnknownService(String),
    /// The service's server could not be set up or reached.
    #[error("add-on service unavailable: {0}")]
    Unavailable(String),
    /// The server refused (the message holds no credentials).
    #[error("add-on provisioning failed: {0}")]
    Failed(String),
}

/// What a service gives back for a new resource.
#[derive(Clone)]
pub struct Provisioned {
    /// Its name on the server.
    pub provider_id: String,
    /// What attachments set (secret).
    pub config: BTreeMap<String, String>,
}

/// The services behind add-ons on this platform: `paas server` builds one and hands it to the
/// API as an axum extension.
#[derive(Clone)]
pub struct AddonServices {
    postgres: Arc<postgres::PostgresService>,
    redis: Option<Arc<redis::RedisService>>,
}

impl AddonServices {
    /// The services, with Heroku Postgres on `postgres` (and no Heroku Redis until
    /// [`AddonServices::with_redis`]).
    pub fn new(postgres: postgres::PostgresService) -> AddonServices {
        AddonServices { postgres: Arc::new(postgres), redis: None }
    }

    /// The same with Heroku Redis on `redis`.
    pub fn with_redis(mut self, redis: Arc<redis::RedisService>) -> AddonServices {
        self.redis = Some(redis);
        self
    }

    /// Heroku Postgres (the storage limits' check reads sizes there).
    pub fn postgres(&self) -> Arc<postgres::PostgresService> {
        self.postgres.clone()
    }

    fn redis(&self) -> Result<&redis::RedisService, AddonError> {
        self.redis.as_deref().ok_or_else(|| AddonError::Unavailable("Heroku Redis is not enabled on this server".into()))
    }

    /// Provisions a resource of `service` on `plan` (both known to the catalog).
    pub async fn provision(&self, service: &str, plan: &catalog::Plan) -> Result<Provisioned, AddonError> {
        match service {
            catalog::POSTGRES => self.postgres.provision(plan).await,
            catalog::REDIS => self.redis()?.provision(plan).await,
            other => Err(AddonError::UnknownService(format!("No provider for add-on service {other}."))),
        }
    }

    /// Applies a new plan to a resource.
    pub async fn change_plan(&self, addon: &Addon, plan: &catalog::Plan) -> Result<(), AddonError> {
        match addon.service.as_str() {
            catalog::POSTGRES => self.postgres.change_plan(&addon.provider_id, plan).await,
            catalog::REDIS => self.redis()?.change_plan(&addon.provider_id, plan).await,
            other => Err(AddonError::UnknownService(format!("No provider for add-on service {other}."))),
        }
    }

    /// Removes a resource and its data.
    pub async fn deprovision(&self, service: &str, provider_id: &str) -> Result<(), AddonError> {
        match service {
            catalog::POSTGRES => self.postgres.deprovision(provider_id).await,
            catalog::REDIS => self.redis()?.deprovision(provider_id).await,
            other => Err(AddonError::UnknownService(format!("No provider for add-on service {other}."))),
        }
    }
}
