//! Log sessions: `POST /apps/{app}/log-sessions` makes one; its `logplex_url` carries an
//! unguessable token (the capability: the client sends no `Authorization` to it) that can be
//! opened for an hour. A session belongs to one app **by id** and one user: it never follows a
//! name to another app, its stream checks at connect that the user still sees the app, and the
//! app's destruction, its renaming or the user's removal as a collaborator end its live tails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::watch;
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
    /// The app's id: the session reads this app's stream whatever it is called now.
    pub app_id: Uuid,
    /// The app's name when the session was made (for messages only).
    pub app: String,
    /// Who made it: the stream checks at connect that they may still see the app.
    pub user_id: Uuid,
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

/// What ends a session's live tails: set once the app is destroyed or renamed, or the user
/// loses access. A stream holds one from connect to end.
#[derive(Debug, Clone)]
pub struct TailEnd {
    // Held so that pruning an expired session (its tails live on) does not read as an end.
    _sender: Arc<watch::Sender<bool>>,
    ended: watch::Receiver<bool>,
}

impl TailEnd {
    fn new(sender: &Arc<watch::Sender<bool>>) -> TailEnd {
        TailEnd { _sender: sender.clone(), ended: sender.subscribe() }
    }

    /// An end that never fires: the tail another node asks for ends when that node hangs up.
    pub fn never() -> TailEnd {
        TailEnd::new(&Arc::new(watch::channel(false).0))
    }

    /// Whether the tail must end now.
    pub fn is_ended(&self) -> bool {
        *self.ended.borrow()
    }

    /// Resolves when the tail must end.
    pub async fn wait(&mut self) {
        let _ = self.ended.wait_for(|ended| *ended).await;
    }
}

struct Entry {
    session: LogSession,
    end: Arc<watch::Sender<bool>>,
}

/// The most streams one log session may have open at once: 4 (`heroku logs --tail` opens one).
pub const MAX_STREAMS_PER_SESSION: usize = 4;

/// The most streams one user's log sessions may have open at once, all sessions together: 32.
pub const MAX_STREAMS_PER_USER: usize = 32;

/// The live sessions, by token, and their open streams.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Entry>>, Arc<Mutex<StreamCounts>>);

/// How many streams are open, per session token and per user (an entry goes at zero).
#[derive(Debug, Default)]
struct StreamCounts {
    sessions: HashMap<String, usize>,
    users: HashMap<Uuid, usize>,
}

/// Why a session's stream is not opened: one of the caps on open streams is reached.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamLimit {
    /// The session has [`MAX_STREAMS_PER_SESSION`] streams open.
    #[error(
        "This log session already has {MAX_STREAMS_PER_SESSION} streams open, the most at once: close one, or make another session (heroku logs)."
    )]
    Session,
    /// The user's sessions have [`MAX_STREAMS_PER_USER`] streams open.
    #[error("Your log sessions already have {MAX_STREAMS_PER_USER} streams open, the most at once: close one first.")]
    User,
}

/// An open stream of a session, counted against [`MAX_STREAMS_PER_SESSION`] and
/// [`MAX_STREAMS_PER_USER`] until it is dropped (held by the stream's response body; on a grid it
/// also bounds the tails the stream opens on the other nodes).
#[derive(Debug)]
pub struct StreamPermit {
    counts: Arc<Mutex<StreamCounts>>,
    token: String,
    user: Uuid,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("log streams");
        let StreamCounts { sessions, users } = &mut *counts;
        release(sessions, &self.token);
        release(users, &self.user);
    }
}

/// One fewer under `key`; the entry goes at zero.
fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Logplex {
    /// Makes a log session of the app `app_id` (called `app` now) for the user `user_id`.
    pub fn create_session(
        &self,
        app_id: Uuid,
        app: &str,
        user_id: Uuid,
        request: SessionRequest,
    ) -> Result<LogSession, SessionError> {
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
            app_id,
            app: app.to_string(),
            user_id,
            filter: Filter { dyno: request.dyno.filter(|d| !d.is_empty()), source },
            lines,
            tail: request.tail,
            created_at: Utc::now(),
            token: hex::encode(bytes),
            expires: Instant::now() + self.config().session_ttl,
        };
        let mut sessions = self.sessions().0.lock().expect("log sessions");
        let now = Instant::now();
        sessions.retain(|_, entry| entry.session.expires > now);
        let entry = Entry { session: session.clone(), end: Arc::new(watch::channel(false).0) };
        sessions.insert(session.token.clone(), entry);
        Ok(session)
    }

    /// The unexpired session whose token this is, and what ends its tail.
    pub fn find_session(&self, token: &str) -> Option<(LogSession, TailEnd)> {
        let sessions = self.sessions().0.lock().expect("log sessions");
        sessions
            .get(token)
            .filter(|entry| entry.session.expires > Instant::now())
            .map(|entry| (entry.session.clone(), TailEnd::new(&entry.end)))
    }

    /// Counts a new stream of `session`, unless the session or its user has as many open as
    /// allowed.
    pub fn open_stream(&self, session: &LogSession) -> Result<StreamPermit, StreamLimit> {
        let counts = self.sessions().1.clone();
        let mut open = counts.lock().expect("log streams");
        if open.sessions.get(&session.token).copied().unwrap_or(0) >= MAX_STREAMS_PER_SESSION {
            return Err(StreamLimit::Session);
        }
        if open.users.get(&session.user_id).copied().unwrap_or(0) >= MAX_STREAMS_PER_USER {
            return Err(StreamLimit::User);
        }
        *open.sessions.entry(session.token.clone()).or_default() += 1;
        *open.users.entry(session.user_id).or_default() += 1;
        drop(open);
        Ok(StreamPermit { counts, token: session.token.clone(), user: session.user_id })
    }

    /// The users who hold a session of the app (so that an access change can end the sessions
    /// of those who lost `view`).
    pub fn session_users(&self, app_id: Uuid) -> Vec<Uuid> {
        let sessions = self.sessions().0.lock().expect("log sessions");
        let mut users: Vec<Uuid> =
            sessions.values().filter(|entry| entry.session.app_id == app_id).map(|entry| entry.session.user_id).collect();
        users.sort();
        users.dedup();
        users
    }

    /// Ends the live tails of the app's sessions — of every user (`None`: the app is destroyed)
    /// or of one (a collaborator removed) — and forgets those sessions: their URLs are 404s.
    pub fn end_sessions(&self, app_id: Uuid, user_id: Option<Uuid>) {
        let mut sessions = self.sessions().0.lock().expect("log sessions");
        sessions.retain(|_, entry| {
            let ends = entry.session.app_id == app_id && user_id.is_none_or(|user| entry.session.user_id == user);
            if ends {
                entry.end.send_replace(true);
            }
            !ends
        });
    }

    /// Ends the live tails of the app's sessions (the app was renamed: a tail follows no name);
    /// the sessions stay, and a reconnect reads the same app under its new name.
    pub fn end_tails(&self, app_id: Uuid) {
        let mut sessions = self.sessions().0.lock().expect("log sessions");
        for entry in sessions.values_mut().filter(|entry| entry.session.app_id == app_id) {
            entry.end.send_replace(true);
            entry.end = Arc::new(watch::channel(false).0);
        }
    }
}
