//! Log sessions and log drains.

use serde::{Deserialize, Serialize};

use super::{NameRef, app_ref, nullable, time};
use crate::logplex::session::LogSession;
use crate::model::{App, LogDrain};

/// A log session (`POST /apps/{app}/log-sessions`): where to read the app's log stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSessionView {
    /// When it was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The stream's URL (Server-Sent Events); it needs no API key: the URL is the capability.
    #[serde(deserialize_with = "nullable")]
    pub logplex_url: String,
    /// When it was made (sessions never change).
    pub updated_at: String,
}

impl LogSessionView {
    /// `session`, read at `url`.
    pub fn new(session: &LogSession, url: String) -> LogSessionView {
        let created = time(session.created_at);
        LogSessionView { created_at: created.clone(), id: session.id.to_string(), logplex_url: url, updated_at: created }
    }
}

/// A log drain (`GET /apps/{app}/log-drains`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogDrainView {
    /// The add-on that made it (none: drains are added by hand).
    pub addon: Option<NameRef>,
    /// Its app.
    pub app: NameRef,
    /// When it was added.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The token naming the drain to the receiver, `d.<uuid>`.
    pub token: String,
    /// When it last changed.
    pub updated_at: String,
    /// Where the logs go; its password masked unless the caller may manage the app.
    #[serde(deserialize_with = "nullable")]
    pub url: String,
}

impl LogDrainView {
    /// `drain` of `app`, its URL whole.
    pub fn new(drain: &LogDrain, app: &App) -> LogDrainView {
        LogDrainView {
            addon: None,
            app: app_ref(app),
            created_at: time(drain.created_at),
            id: drain.id.to_string(),
            token: drain.token.clone(),
            updated_at: time(drain.updated_at),
            url: drain.url.clone(),
        }
    }
}
