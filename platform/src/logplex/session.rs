//! Log sessions: `POST /apps/{app}/log-sessions` makes one; its `logplex_url` carries an
//! unguessable token (the capability: the client sends no `Authorization` to it) that expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;

use super::{DEFAULT_CAPACITY, Filter, Logplex, Source};

/// The lines a session sends when it names none (Heroku's default).
pub const DEFAULT_LINES: usize = 100;

/// What a client asks for (Heroku's body: `{"dyno", "lines", "source", "tail"}`, all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRequest {
    /// A dyno (`web.1`) or process type (`web`).
    pub dyno: Option<String>,
    /// How many past lines (default 100; more than the buffer holds means all of it).
    pub lines: Option<usize>,
    /// `app` or `paas` (`heroku`).
    pub source: Option<String>,
    /// Follow new lines.
    pub tail: bool,
}

/// A log session, as its URL's token finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSession {
    /// The session's id.
    pub id: Uuid,
    /// The app's name.
    pub app: String,
    /// Which lines.
    pub filter: Filter,
    /// How many past lines.
    pub lines: usize,
    /// Follow new lines.
    pub tail: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The capability token in its URL.
    pub token: String,
    expires: Instant,
}

/// Why a session cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// The source is neither `app` nor `paas`.
    #[error("Unknown log source {0:?}: use app or paas.")]
    Source(String),
}

/// The live sessions, by token.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, LogSession>>);

impl Logplex {
    /// Makes a log session of `app`.
    pub fn create_session(&self, app: &str, request: SessionRequest) -> Result<LogSession, SessionError> {
        let source = request
            .source
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| Source::parse(s).ok_or_else(|| SessionError::Source(s.to_string())))
            .transpose()?;
        // More than the buffer holds is all of it (Heroku's maximum is 1,500 too).
        let lines = request.lines.unwrap_or(DEFAULT_LINES).min(DEFAULT_CAPACITY.max(self.config().capacity));
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let session = LogSession {
            id: Uuid::new_v4(),
            app: app.to_string(),
            filter: Filter { dyno: request.dyno.filter(|d| !d.is_empty()), source },
            lines,
            tail: request.tail,
            created_at: Utc::now(),
            token: hex::encode(bytes),
            expires: Instant::now() + self.config().session_ttl,
        };
        let mut sessions = self.sessions().0.lock().expect("log sessions");
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(session.token.clone(), session.clone());
        Ok(session)
    }

    /// The unexpired session whose token this is.
    pub fn find_session(&self, token: &str) -> Option<LogSession> {
        let sessions = self.sessions().0.lock().expect("log sessions");
        sessions.get(token).filter(|s| s.expires > Instant::now()).cloned()
    }
}
