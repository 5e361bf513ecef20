//! App webhooks.

use serde::{Deserialize, Serialize};

use super::{NameRef, app_ref, time};
use crate::model::App;
use crate::webhooks::Webhook;

/// An app webhook (`GET /apps/{app}/webhooks`): never its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookView {
    /// Its app.
    pub app: NameRef,
    /// When it was added.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The kinds of events it receives (`api:release`, …).
    pub include: Vec<String>,
    /// `notify` or `sync`.
    pub level: String,
    /// When it last changed.
    pub updated_at: String,
    /// Where the events go.
    pub url: String,
}

impl WebhookView {
    /// `hook` of `app`.
    pub fn new(hook: &Webhook, app: &App) -> WebhookView {
        WebhookView {
            app: app_ref(app),
            created_at: time(hook.created_at),
            id: hook.id.to_string(),
            include: hook.include.clone(),
            level: hook.level.clone(),
            updated_at: time(hook.updated_at),
            url: hook.url.clone(),
        }
    }
}
