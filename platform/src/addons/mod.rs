//! Add-ons: attached services whose credentials reach an app as config vars. The catalog of
//! services and plans ([`catalog`]), the ledger's records ([`Addon`], [`AddonAttachment`], kept in `paas_ledger::addons`), and
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

pub use paas_ledger::addons::{Addon, AddonAttachment, AddonFilter, NewAddon, config_var};

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
