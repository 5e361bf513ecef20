//! App webhooks as the ledger keeps them: a [`Webhook`] (where an app's events are POSTed, signed
//! with its secret) and the [`WebhookSettings`] it is added or changed with, behind
//! [`WebhookLedger`], a part of [`crate::Ledger`]. Neither `Debug` nor [`shown_url`] shows a
//! secret. Events and their delivery are in `paas_platform::webhooks`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ledger::Result;

/// Webhooks per app at most.
pub const MAX_PER_APP: usize = 10;

/// An app webhook. Its `Debug` shows neither the secret nor the Authorization header, and the
/// URL without its userinfo.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .field("url", &shown_url(&self.url))
            .field("secret", &"..")
            .field("include", &self.include)
            .field("level", &self.level)
            .field("authorization", &self.authorization.as_ref().map(|_| ".."))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A webhook's settings as given to [`WebhookLedger::add_webhook`] and
/// [`WebhookLedger::update_webhook`] (`None` keeps a field on update). Its `Debug` hides the
/// secret, the Authorization header and the URL's userinfo, as [`Webhook`]'s does.
#[derive(Clone, Default, PartialEq, Eq)]
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

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url.as_deref().map(shown_url))
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .field("include", &self.include)
            .field("level", &self.level)
            .field("authorization", &self.authorization.as_ref().map(|a| a.as_ref().map(|_| "..")))
            .finish()
    }
}

/// A URL as logs and messages show it: any userinfo (`user:password@`, often a token) replaced
/// by `***@`. Everything else is kept, so the user can tell which webhook it is.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_s_userinfo_and_its_secret_are_never_shown() {
        assert_eq!(shown_url("https://user:p4ss@hooks.example.com/x?y=1"), "https://***@hooks.example.com/x?y=1");
        assert_eq!(shown_url("http://t0ken@[::1]:8080"), "http://***@[::1]:8080");
        assert_eq!(shown_url("https://hooks.example.com/a@b"), "https://hooks.example.com/a@b", "an @ in the path is no userinfo");
        assert_eq!(shown_url("not a url"), "not a url");
        let now = Utc::now();
        let hook = Webhook {
            id: Uuid::nil(),
            app_id: Uuid::nil(),
            url: "https://user:p4ss@hooks.example.com/".into(),
            secret: "s3cret".into(),
            include: vec!["api:app".into()],
            level: "sync".into(),
            authorization: Some("Bearer t0ken".into()),
            created_at: now,
            updated_at: now,
        };
        let settings = WebhookSettings {
            url: Some(hook.url.clone()),
            secret: Some(hook.secret.clone()),
            authorization: Some(hook.authorization.clone()),
            ..WebhookSettings::default()
        };
        for shown in [format!("{hook:?}"), format!("{settings:?}"), format!("{hook:#?}")] {
            for secret in ["s3cret", "p4ss", "t0ken", "user:"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("hooks.example.com"), "{shown}");
        }
    }
}
