//! Add-ons as the ledger keeps them: an [`Addon`] (a resource on a service's server, owned by
//! the app it was created on) and its [`AddonAttachment`]s, whose credentials reach each app as
//! config vars named by [`config_var`]. The services that provision them are in
//! `paas_platform::addons`.

use std::collections::BTreeMap;

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
    /// Its name (`paas_platform::addons::catalog::generate_addon_name` makes one).
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
