//! Logplex: one collated log stream per app — dyno output (`app[web.1]`), router lines
//! (`paas[router]`), dyno state changes (`paas[web.1]`) and API and build events (`app[api]`) —
//! kept in a bounded ring buffer per app ([`ring`]) and read by log sessions ([`session`], the
//! SSE stream of `heroku logs` / `paas logs`) and drains ([`drains`]).
//!
//! Publishing never waits on readers: a line goes into the app's ring (a short, synchronous
//! critical section) and wakes whoever follows the app. A reader that falls more than the
//! buffer behind loses the oldest lines and is told how many ([`overflow_line`]). Per app the
//! state is a ring and a watch channel; there are no per-app tasks or threads.

pub mod drains;
pub mod ring;
pub mod session;
pub mod sse;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

pub use ring::{Read, Ring};
pub use session::{LogSession, SessionRequest, StreamLimit, StreamPermit, TailEnd};

/// The lines kept per app, as Heroku keeps.
pub const DEFAULT_CAPACITY: usize = 1500;

/// How long a log session's URL can be opened after it was made.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(60 * 60);

/// Who wrote a line: the app (its dynos, and `app[api]` events) or the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `app[web.1]`, `app[api]`.
    App,
    /// `paas[router]`, `paas[web.1]` (state changes), `paas[logplex]`.
    Paas,
}

impl Source {
    /// Reads `app`, `paas` (or Heroku's `heroku`).
    pub fn parse(text: &str) -> Option<Source> {
        match text.trim().to_ascii_lowercase().as_str() {
            "app" => Some(Source::App),
            "paas" | "heroku" => Some(Source::Paas),
            _ => None,
        }
    }

    /// `app` or `paas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Paas => "paas",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an app's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its place in the app's stream (from 1, increasing); 0 before it is published.
    pub id: u64,
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// `app` or `paas`.
    pub source: Source,
    /// `web.1`, `router`, `api`, …
    pub process: String,
    /// The text, one line.
    pub text: String,
}

impl LogLine {
    /// A line not yet published.
    pub fn new(source: Source, process: &str, timestamp: DateTime<Utc>, text: &str) -> LogLine {
        LogLine { id: 0, timestamp, source, process: process.to_string(), text: text.to_string() }
    }
}

/// Logplex's format: `2026-11-21T20:45:30.020000+00:00 app[web.1]: text`.
impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}[{}]: {}", timestamp(self.timestamp), self.source, self.process, self.text)
    }
}

/// A time as logplex writes it: microseconds and `+00:00`.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// The line a reader gets when `dropped` lines fell off the buffer before it read them.
pub fn overflow_line(dropped: u64) -> LogLine {
    LogLine::new(
        Source::Paas,
        "logplex",
        Utc::now(),
        &format!("Error L10 (output buffer overflow): {dropped} messages dropped"),
    )
}

/// Which lines a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A dyno (`web.1`) or a process type (`web`, `router`, `api`).
    pub dyno: Option<String>,
    /// Only lines of this source.
    pub source: Option<Source>,
}

impl Filter {
    /// Whether `line` passes. `paas[logplex]` notices (lines lost) reach every reader.
    pub fn accepts(&self, line: &LogLine) -> bool {
        if line.source == Source::Paas && line.process == "logplex" {
            return true;
        }
        if self.source.is_some_and(|source| source != line.source) {
            return false;
        }
        match &self.dyno {
            None => true,
            Some(dyno) => {
                line.process == *dyno
                    || line.process.strip_prefix(dyno.as_str()).is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

/// How a [`Logplex`] is sized.
#[derive(Debug, Clone, Copy)]
pub struct LogplexConfig {
    /// Lines kept per app.
    pub capacity: usize,
    /// How long a log session's URL stays valid.
    pub session_ttl: Duration,
}

impl Default for LogplexConfig {
    fn default() -> LogplexConfig {
        LogplexConfig { capacity: DEFAULT_CAPACITY, session_ttl: DEFAULT_SESSION_TTL }
    }
}

/// One app's stream: its ring, and a watch of its newest id that followers wait on.
#[derive(Debug)]
pub struct AppLog {
    ring: Mutex<Ring>,
    newest: watch::Sender<u64>,
}

impl AppLog {
    /// Runs `f` on the ring (briefly: publishers wait for it).
    pub fn with_ring<T>(&self, f: impl FnOnce(&Ring) -> T) -> T {
        f(&self.ring.lock().expect("log ring"))
    }

    /// A receiver that changes whenever a line is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

/// Where each [`Logplex`]'s id comes from.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The collator: every app's stream, the log sessions, the drains. Cheap to clone.
#[derive(Clone)]
pub struct Logplex {
    inner: Arc<Inner>,
}

struct Inner {
    config: LogplexConfig,
    /// Tells this collator apart from others in the process (see [`Logplex::with_app`]).
    id: u64,
    apps: RwLock<HashMap<String, Arc<AppLog>>>,
    /// Moves on whenever a stream leaves `apps` (forgotten, renamed): a stream a thread kept
    /// from before is looked up again.
    generation: AtomicU64,
    sessions: session::Sessions,
    drains: drains::Running,
    webhooks: crate::webhooks::Outbox,
    closed: watch::Sender<bool>,
}

impl Default for Logplex {
    fn default() -> Logplex {
        Logplex::new(LogplexConfig::default())
    }
}

impl fmt::Debug for Logplex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logplex").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Logplex {
    /// An empty collator.
    pub fn new(config: LogplexConfig) -> Logplex {
        Logplex {
            inner: Arc::new(Inner {
                config,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                apps: RwLock::default(),
                generation: AtomicU64::new(0),
                sessions: session::Sessions::default(),
                drains: drains::Running::default(),
                webhooks: Default::default(),
                closed: watch::channel(false).0,
            }),
        }
    }

    /// Its sizes.
    pub fn config(&self) -> LogplexConfig {
        self.inner.config
    }

    /// The app's stream, made empty if it has none yet.
    pub fn app(&self, app: &str) -> Arc<AppLog> {
        if let Some(log) = self.inner.apps.read().expect("log apps").get(app) {
            return log.clone();
        }
        let mut apps = self.inner.apps.write().expect("log apps");
        apps.entry(app.to_string())
            .or_insert_with(|| {
                Arc::new(AppLog { ring: Mutex::new(Ring::new(self.inner.config.capacity)), newest: watch::channel(0).0 })
            })
            .clone()
    }

    /// Publishes `text` (each of its lines) to the app's stream, stamped now. Never waits.
    pub fn publish(&self, app: &str, source: Source, process: &str, text: &str) {
        self.publish_at(app, source, process, Utc::now(), text);
    }

    /// Runs `f` on the app's stream: the one this thread used last when it is the same app's of
    /// this collator and no stream left since, without the map's lock, a hash or a reference
    /// count (a publish runs once per request); otherwise [`Logplex::app`]'s.
    fn with_app<T>(&self, app: &str, f: impl FnOnce(&AppLog) -> T) -> T {
        /// The last stream a publish on this thread used.
        struct Last {
            logplex: u64,
            generation: u64,
            app: String,
            log: Arc<AppLog>,
        }
        thread_local! {
            static LAST: std::cell::RefCell<Option<Last>> = const { std::cell::RefCell::new(None) };
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        LAST.with_borrow_mut(|last| match last {
            Some(last) if last.logplex == self.inner.id && last.generation == generation && last.app == app => f(&last.log),
            // Another app: the entry is kept, its name's buffer reused (no allocation per switch
            // when requests for many apps alternate).
            Some(last) => {
                last.logplex = self.inner.id;
                last.generation = generation;
                last.app.clear();
                last.app.push_str(app);
                last.log = self.app(app);
                f(&last.log)
            }
            None => {
                let log = self.app(app);
                let out = f(&log);
                *last = Some(Last { logplex: self.inner.id, generation, app: app.to_string(), log });
                out
            }
        })
    }

    /// Publishes `text` (each of its lines) written at `timestamp`. Never waits on readers.
    pub fn publish_at(&self, app: &str, source: Source, process: &str, timestamp: DateTime<Utc>, text: &str) {
        self.with_app(app, |log| {
            let mut newest = 0;
            {
                let mut ring = log.ring.lock().expect("log ring");
                for piece in text.trim_end_matches(['\n', '\r']).split('\n') {
                    let piece = piece.trim_end_matches('\r');
                    newest = ring.push_parts(source, process, timestamp, piece);
                }
            }
            // Followers are woken only if there are any (the watch's value, taken under its
            // write lock, is only a signal: nobody reads it as the newest id). One that
            // subscribes after this count still reads the line: followers subscribe before they
            // first read the ring, and the line was pushed under the ring's lock before the
            // count was read.
            if log.newest.receiver_count() > 0 {
                log.newest.send_replace(newest);
            }
        });
    }

    /// Reports that `messages` of the app's lines were lost before they reached its stream
    /// (`paas[logplex]: Error L10 …`): a reader who misses the report is still told of them.
    pub fn publish_lost(&self, app: &str, messages: u64) {
        let log = self.app(app);
        let id = log.ring.lock().expect("log ring").push_report(overflow_line(messages), messages);
        log.newest.send_replace(id);
    }

    /// An API event: `app[api]: {text}`.
    pub fn api_event(&self, app: &str, text: &str) {
        self.publish(app, Source::App, "api", text);
    }

    /// Forgets a destroyed app's stream, ends its log sessions and their tails (a new app of the
    /// same name is another app) and stops its drains.
    pub fn forget(&self, app_id: Uuid, app: &str) {
        {
            let mut apps = self.inner.apps.write().expect("log apps");
            apps.remove(app);
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.end_sessions(app_id, None);
        self.inner.drains.stop_app(app);
        self.inner.webhooks.forget(app_id);
    }

    /// The app webhooks' events and deliveries ([`crate::webhooks::Outbox`]).
    pub fn webhooks(&self) -> &crate::webhooks::Outbox {
        &self.inner.webhooks
    }

    /// A renamed app keeps its stream and its drains; its live tails end (a tail follows no
    /// name), and its sessions reconnect to the app under the new name.
    pub fn rename(&self, app_id: Uuid, old: &str, new: &str) {
        self.end_tails(app_id);
        {
            let mut apps = self.inner.apps.write().expect("log apps");
            if let Some(log) = apps.remove(old) {
                apps.insert(new.to_string(), log);
            }
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
        }
        for mut target in self.inner.drains.stop_app(old) {
            target.app = new.to_string();
            if let Err(e) = self.start_drain(target) {
                tracing::warn!("log drain of {new} not restarted: {e}");
            }
        }
    }

    /// Ends every follower (server shutdown): tails close so the server can stop.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
        self.inner.drains.stop_all();
    }

    /// Resolves when [`Logplex::close`] is called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.inner.closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    /// Whether [`Logplex::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    pub(crate) fn sessions(&self) -> &session::Sessions {
        &self.inner.sessions
    }

    pub(crate) fn running_drains(&self) -> &drains::Running {
        &self.inner.drains
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of the stream's last ten lines, oldest first.
    fn texts(log: &AppLog) -> Vec<String> {
        log.with_ring(|r| r.tail(10, |_| true).iter().map(|l| l.text.clone()).collect())
    }

    #[test]
    fn lines_read_as_logplex_writes_them() {
        let time = DateTime::parse_from_rfc3339("2026-11-21T20:45:30.02Z").unwrap().with_timezone(&Utc);
        let line = LogLine::new(Source::App, "web.1", time, "hello");
        assert_eq!(line.to_string(), "2026-11-21T20:45:30.020000+00:00 app[web.1]: hello");
    }

    #[test]
    fn filters_by_dyno_type_and_source() {
        let line = |source, process: &str| LogLine::new(source, process, Utc::now(), "x");
        let web = Filter { dyno: Some("web".into()), source: None };
        assert!(web.accepts(&line(Source::App, "web.1")));
        assert!(web.accepts(&line(Source::Paas, "web.2")));
        assert!(!web.accepts(&line(Source::App, "worker.1")));
        assert!(!web.accepts(&line(Source::App, "webby.1")));
        let one = Filter { dyno: Some("web.1".into()), source: Some(Source::App) };
        assert!(one.accepts(&line(Source::App, "web.1")));
        assert!(!one.accepts(&line(Source::App, "web.10")));
        assert!(!one.accepts(&line(Source::Paas, "web.1")));
        assert!(one.accepts(&line(Source::Paas, "logplex")));
    }

    #[tokio::test]
    async fn a_renamed_app_keeps_its_stream_and_followers() {
        let logs = Logplex::default();
        logs.publish("old", Source::App, "web.1", "before");
        let followed = logs.app("old");
        logs.rename(Uuid::new_v4(), "old", "new");
        logs.publish("new", Source::App, "web.1", "after");
        assert_eq!(texts(&followed), ["before", "after"]);
        assert_eq!(logs.app("old").with_ring(Ring::last_id), 0);
    }

    #[test]
    fn a_thread_does_not_keep_publishing_into_a_stream_that_left() {
        // Each publish below runs on this one thread, which keeps the stream it used last.
        let logs = Logplex::default();
        logs.publish("a", Source::App, "web.1", "first app a");
        let forgotten = logs.app("a");
        logs.forget(Uuid::new_v4(), "a");
        logs.publish("a", Source::App, "web.1", "second app a");
        assert_eq!(texts(&forgotten), ["first app a"]);
        assert_eq!(texts(&logs.app("a")), ["second app a"]);

        let renamed = logs.app("a");
        logs.rename(Uuid::new_v4(), "a", "b");
        logs.publish("a", Source::App, "web.1", "a new app a");
        assert_eq!(texts(&renamed), ["second app a"]);
        assert_eq!(texts(&logs.app("a")), ["a new app a"]);

        // Another collator's app of the same name is another stream.
        let other = Logplex::default();
        other.publish("a", Source::App, "web.1", "elsewhere");
        logs.publish("a", Source::App, "web.1", "here");
        assert_eq!(texts(&other.app("a")), ["elsewhere"]);
        assert_eq!(texts(&logs.app("a")), ["a new app a", "here"]);
    }

    #[tokio::test]
    async fn followers_are_woken_and_a_late_one_reads_what_came_before_it() {
        let logs = Logplex::default();
        logs.publish("a", Source::App, "web.1", "nobody follows");
        let log = logs.app("a");
        let mut newest = log.subscribe();
        assert_eq!(texts(&log), ["nobody follows"]);
        logs.publish("a", Source::App, "web.1", "followed");
        tokio::time::timeout(Duration::from_secs(5), newest.changed()).await.expect("woken").expect("open");
        assert_eq!(*newest.borrow_and_update(), 2);
    }

    #[test]
    fn publishing_splits_lines_and_never_waits() {
        let logs = Logplex::new(LogplexConfig { capacity: 2, ..LogplexConfig::default() });
        logs.publish("a", Source::App, "web.1", "one\ntwo\r\nthree\n");
        assert_eq!(texts(&logs.app("a")), ["two", "three"]);
    }
}
