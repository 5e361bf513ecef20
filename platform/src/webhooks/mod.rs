//! App webhooks, as Heroku's: an app's events (a release made, a build, a formation change, a
//! dyno started…) are POSTed as JSON to each of its webhooks that includes that kind, signed
//! with the webhook's secret (`Heroku-Webhook-Hmac-SHA256`); `sync` webhooks are retried with
//! back-off ([`delivery`]). Webhooks go only where log drains may (the node's egress policy). The
//! webhooks themselves are in the ledger ([`WebhookLedger`]); recent events and deliveries are
//! kept in memory per app ([`delivery::Outbox`]).

pub mod delivery;
pub mod event;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ledger::{LedgerError, Result};

pub use delivery::Outbox;
pub use event::Event;

/// The event kinds a webhook may include (Heroku's names).
pub const KINDS: [&str; 11] = [
    "api:addon",
    "api:addon-attachment",
    "api:app",
    "api:build",
    "api:collaborator",
    "api:domain",
    "api:dyno",
    "api:formation",
    "api:release",
    "api:sni-endpoint",
    "dyno",
];

/// Webhooks per app at most.
pub const MAX_PER_APP: usize = 10;

/// An app webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// The app's id.
    pub app_id: Uuid,
    /// Where events go (`http(s)://`).
    pub url: String,
    /// The key of the HMAC signature (never shown back).
    pub secret: String,
    /// The event kinds it receives.
    pub include: Vec<String>,
    /// `notify` (one attempt) or `sync` (retried with back-off).
    pub level: String,
    /// An `Authorization` header value sent with each delivery, if set.
    pub authorization: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A webhook's settings as given to [`WebhookLedger::add_webhook`] and
/// [`WebhookLedger::update_webhook`] (`None` keeps a field on update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Where events go.
    pub url: Option<String>,
    /// The signing secret.
    pub secret: Option<String>,
    /// Event kinds.
    pub include: Option<Vec<String>>,
    /// `notify` or `sync`.
    pub level: Option<String>,
    /// `Some(None)` clears the Authorization header.
    pub authorization: Option<Option<String>>,
}

/// Checks event kinds (known, at least one) and a level; the error says what is allowed.
pub fn check_settings(include: Option<&[String]>, level: Option<&str>) -> Result<()> {
    if let Some(include) = include {
        if include.is_empty() {
            return Err(LedgerError::Invalid(format!("include needs at least one event kind: {}.", KINDS.join(", "))));
        }
        if let Some(unknown) = include.iter().find(|kind| !KINDS.contains(&kind.as_str())) {
            return Err(LedgerError::Invalid(format!("Event kind {unknown:?} is unknown: use {}.", KINDS.join(", "))));
        }
    }
    match level {
        None | Some("notify" | "sync") => Ok(()),
        Some(other) => Err(LedgerError::Invalid(format!("Level {other:?} is unknown: use notify or sync."))),
    }
}

/// The webhook table.
#[async_trait]
pub trait WebhookLedger: Send + Sync {
    /// The app's webhooks, oldest first.
    async fn list_webhooks(&self, app_id: Uuid) -> Result<Vec<Webhook>>;
    /// Adds a webhook (url, secret, include and level given); the same URL twice on an app is a
    /// conflict, and so is more than [`MAX_PER_APP`].
    async fn add_webhook(&self, app_id: Uuid, settings: WebhookSettings) -> Result<Webhook>;
    /// One of the app's webhooks by id.
    async fn find_webhook(&self, app_id: Uuid, id: Uuid) -> Result<Option<Webhook>>;
    /// Changes a webhook.
    async fn update_webhook(&self, app_id: Uuid, id: Uuid, settings: WebhookSettings) -> Result<Webhook>;
    /// Removes a webhook.
    async fn remove_webhook(&self, app_id: Uuid, id: Uuid) -> Result<Webhook>;
}
