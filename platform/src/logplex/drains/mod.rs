//! Log drains: each drain is a task that follows its app's stream from a cursor of its own and
//! delivers batches to a syslog endpoint ([`syslog`]: RFC 5424, octet-counted, over TCP or TLS) or an
//! HTTP(S) endpoint ([`http`]: logplex's `application/logplex-1` bodies). A failed delivery is
//! retried with a doubling back-off (up to [`MAX_BACKOFF`]); the cursor stays put meanwhile, so a
//! drain that was down loses only what fell off the buffer, and its first batch after it recovers
//! starts with `Error L10 (output buffer overflow): N messages dropped`.
//!
//! Drains go only where the node's egress policy lets tenants go ([`DrainPolicy`]): a URL whose
//! host is a denied address literal is refused at creation (422), a name is resolved at each
//! connection and refused (the refusal is a `paas[logplex]` line in the app's log) when any of
//! its addresses is denied; the connection is made to the addresses checked. HTTP drains follow
//! no redirects; an app has at most [`DEFAULT_MAX_PER_APP`] drains.

pub mod http;
pub mod syslog;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use paas_sandbox::egress::{Denied, EgressError, EgressPolicy};

use tokio::task::AbortHandle;
use uuid::Uuid;

use super::{LogLine, Logplex, overflow_line};
use crate::ledger::{Ledger, LedgerError};
use crate::model::LogDrain;
use crate::webhooks::shown_url;

/// Drains an app may have, unless the operator says otherwise.
pub const DEFAULT_MAX_PER_APP: usize = 5;

/// Where drains may deliver, and how many an app may have.
#[derive(Debug, Clone)]
pub struct DrainPolicy {
    /// The node's egress policy (`paas server --egress-allow` ranges included).
    pub egress: Arc<EgressPolicy>,
    /// Drains per app at most.
    pub max_per_app: usize,
}

impl DrainPolicy {
    /// `egress`, and [`DEFAULT_MAX_PER_APP`] drains per app.
    pub fn new(egress: EgressPolicy) -> DrainPolicy {
        DrainPolicy { egress: Arc::new(egress), max_per_app: DEFAULT_MAX_PER_APP }
    }
}

impl Default for DrainPolicy {
    /// This node's egress policy allowing nothing more (without the node's own addresses when
    /// they cannot be read: the denied ranges still are).
    fn default() -> DrainPolicy {
        let egress = EgressPolicy::for_node(Vec::new()).unwrap_or_else(|e| {
            tracing::warn!("log drains: {e}");
            EgressPolicy::default()
        });
        DrainPolicy::new(egress)
    }
}

/// Lines delivered per batch at most.
pub const BATCH: usize = 500;

/// The first wait after a failed delivery; it doubles on each failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where a drain delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `syslog://host:port` (`syslog+tls://`: over TLS): RFC 5424 frames, octet-counted, over one
    /// TCP connection.
    Syslog {
        /// `host:port`.
        address: String,
        /// Over TLS.
        tls: bool,
    },
    /// `http(s)://host[:port]/path`: one POST per batch.
    Http {
        /// The URL.
        url: String,
    },
}

/// Why a drain URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DrainUrlError {
    /// Not `syslog://` or `http(s)://`.
    #[error("Unsupported drain URL {0}: use syslog://host:port, syslog+tls://host:port or https://host/path.")]
    Scheme(String),
    /// No host or port.
    #[error("Invalid drain URL {0}: it needs a host and a port.")]
    Address(String),
    /// The host is an address drains may not reach.
    #[error(
        "Drain URL {url} is refused: {denied}. Log drains cannot deliver to loopback, link-local, private or this server's own addresses."
    )]
    Denied {
        /// The URL.
        url: String,
        /// The address and why.
        denied: Denied,
    },
    /// The app has as many drains as it may.
    #[error("This app already has {0} log drains, the most an app may have: remove one before adding another.")]
    TooMany(usize),
}

impl Endpoint {
    /// Reads a drain URL.
    pub fn parse(url: &str) -> Result<Endpoint, DrainUrlError> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| DrainUrlError::Scheme(url.to_string()))?;
        let authority = rest.find(['/', '?']).map_or(rest, |i| &rest[..i]);
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        if authority.is_empty() {
            return Err(DrainUrlError::Address(url.to_string()));
        }
        let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        match scheme.to_ascii_lowercase().as_str() {
            "syslog" | "syslog+tls" if has_port => {
                Ok(Endpoint::Syslog { address: authority.to_string(), tls: scheme.eq_ignore_ascii_case("syslog+tls") })
            }
            "syslog" | "syslog+tls" => Err(DrainUrlError::Address(url.to_string())),
            "http" | "https" => {
                reqwest::Url::parse(url).map_err(|_| DrainUrlError::Address(url.to_string()))?;
                Ok(Endpoint::Http { url: url.to_string() })
            }
            _ => Err(DrainUrlError::Scheme(url.to_string())),
        }
    }

    /// The host when it is an address literal (names are checked when resolved).
    pub fn literal_address(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Syslog { address, .. } => {
                let host = address.rsplit_once(':').map_or(address.as_str(), |(host, _)| host);
                host.trim_start_matches('[').trim_end_matches(']').parse().ok()
            }
            // The URL parser's host: `http://0x7f.1/` is 127.0.0.1 there, as in reqwest.
            Endpoint::Http { url } => {
                let url = reqwest::Url::parse(url).ok()?;
                url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
            }
        }
    }

    /// Refuses a URL whose host is an address literal the policy denies.
    pub fn check(&self, url: &str, egress: &EgressPolicy) -> Result<(), DrainUrlError> {
        match self.literal_address().map(|ip| egress.check(ip)) {
            Some(Err(denied)) => Err(DrainUrlError::Denied { url: url.to_string(), denied }),
            _ => Ok(()),
        }
    }
}

/// A drain as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainTarget {
    /// The drain's id.
    pub id: Uuid,
    /// The app's name.
    pub app: String,
    /// Its URL.
    pub url: String,
    /// Its token (`d.<uuid>`): the syslog hostname, the `Logplex-Drain-Token` header.
    pub token: String,
}

impl DrainTarget {
    /// A drain of the ledger, of app `app`.
    pub fn of(drain: &LogDrain, app: &str) -> DrainTarget {
        DrainTarget { id: drain.id, app: app.to_string(), url: drain.url.clone(), token: drain.token.clone() }
    }
}

/// The drains running, by id, and the policy they follow.
#[derive(Debug, Default)]
pub struct Running {
    running: Mutex<HashMap<Uuid, (DrainTarget, AbortHandle)>>,
    policy: OnceLock<DrainPolicy>,
}

impl Running {
    /// Stops the app's drains and gives them back.
    pub(crate) fn stop_app(&self, app: &str) -> Vec<DrainTarget> {
        let mut stopped = Vec::new();
        self.running.lock().expect("drains").retain(|_, (target, task)| {
            if target.app == app {
                task.abort();
                stopped.push(target.clone());
            }
            target.app != app
        });
        stopped
    }

    pub(crate) fn stop_all(&self) {
        for (_, (_, task)) in self.running.lock().expect("drains").drain() {
            task.abort();
        }
    }
}

impl Logplex {
    /// Sets the policy drains follow (`paas server`: the node's, with its `--egress-allow`
    /// ranges), before any drain starts. False when a policy was already in use.
    pub fn set_drain_policy(&self, policy: DrainPolicy) -> bool {
        self.running_drains().policy.set(policy).is_ok()
    }

    /// The policy drains follow ([`DrainPolicy::default`] unless set).
    pub fn drain_policy(&self) -> &DrainPolicy {
        self.running_drains().policy.get_or_init(DrainPolicy::default)
    }

    /// Reads a new drain's URL and refuses a host address the policy denies.
    pub fn check_drain_url(&self, url: &str) -> Result<Endpoint, DrainUrlError> {
        let endpoint = Endpoint::parse(url)?;
        endpoint.check(url, &self.drain_policy().egress)?;
        Ok(endpoint)
    }

    /// Starts forwarding the app's new lines to a drain (replacing a running one of that id).
    pub fn start_drain(&self, target: DrainTarget) -> Result<(), DrainUrlError> {
        let endpoint = Endpoint::parse(&target.url)?;
        let (id, kept) = (target.id, target.clone());
        // The drain forwards what is published from now on, whenever its task first runs.
        let cursor = self.app(&target.app).with_ring(|ring| ring.last_id());
        let task = tokio::spawn(forward(self.clone(), target, endpoint, cursor)).abort_handle();
        if let Some((_, old)) = self.running_drains().running.lock().expect("drains").insert(id, (kept, task)) {
            old.abort();
        }
        Ok(())
    }

    /// Starts every drain kept in the ledger (`paas server` at start). A drain whose URL this
    /// server cannot speak is skipped with a warning.
    pub async fn start_saved_drains(&self, ledger: &dyn Ledger) -> Result<(), LedgerError> {
        for (app, drain) in ledger.all_log_drains().await? {
            if let Err(e) = self.start_drain(DrainTarget::of(&drain, &app)) {
                tracing::warn!("log drain {} of {app} not started: {e}", shown_url(&drain.url));
            }
        }
        Ok(())
    }

    /// Runs exactly `drains` for the app called `app`: starts those not running (under this
    /// name), stops the app's others; a running drain keeps its cursor. A grid's node calls it
    /// when another node's API added or removed one.
    pub fn sync_drains(&self, app: &str, drains: &[LogDrain]) {
        let running: Vec<(Uuid, String)> = {
            let running = self.running_drains().running.lock().expect("drains");
            running.iter().map(|(id, (target, _))| (*id, target.app.clone())).collect()
        };
        for (id, name) in &running {
            if name == app && !drains.iter().any(|d| d.id == *id) {
                self.stop_drain(*id);
            }
        }
        for drain in drains {
            if running.iter().any(|(id, name)| *id == drain.id && name == app) {
                continue;
            }
            if let Err(e) = self.start_drain(DrainTarget::of(drain, app)) {
                tracing::warn!("log drain {} of {app} not started: {e}", shown_url(&drain.url));
            }
        }
    }

    /// Stops a drain.
    pub fn stop_drain(&self, id: Uuid) {
        if let Some((_, task)) = self.running_drains().running.lock().expect("drains").remove(&id) {
            task.abort();
        }
    }
}

/// A connection (or none) to a drain's endpoint, delivering batches.
enum Delivery {
    Syslog(syslog::SyslogConnection),
    Http(http::HttpDrain),
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The endpoint resolved to an address the egress policy denies (recorded in the app's log).
    Denied(String),
    /// Anything else (retried).
    Failed(String),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Denied(e) | DeliveryError::Failed(e) => f.write_str(e),
        }
    }
}

impl DeliveryError {
    /// `name resolves to 10.0.0.1 denied (private)` for a refusal, else a failure.
    pub fn of_egress(e: &EgressError) -> DeliveryError {
        match e {
            EgressError::Denied { host, denied, .. } => DeliveryError::Denied(format!("{host} resolves to {denied}")),
            e => DeliveryError::Failed(format!("cannot connect: {e}")),
        }
    }
}

impl From<String> for DeliveryError {
    fn from(e: String) -> DeliveryError {
        DeliveryError::Failed(e)
    }
}

impl Delivery {
    async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), DeliveryError> {
        match self {
            Delivery::Syslog(c) => c.deliver(lines).await,
            Delivery::Http(h) => h.deliver(lines).await,
        }
    }
}

/// The drain's task: follows the app after `cursor`, until stopped.
async fn forward(logplex: Logplex, target: DrainTarget, endpoint: Endpoint, mut cursor: u64) {
    let log = logplex.app(&target.app);
    let mut newest = log.subscribe();
    let egress = logplex.drain_policy().egress.clone();
    let mut delivery = match endpoint {
        Endpoint::Syslog { address, tls } => {
            Delivery::Syslog(syslog::SyslogConnection::new(address, tls, target.token.clone(), egress))
        }
        Endpoint::Http { url } => Delivery::Http(http::HttpDrain::new(url, target.token.clone(), egress)),
    };
    // The last refusal recorded in the app's log (once, not at every retry).
    let mut refused: Option<String> = None;
    let mut lost = 0u64;
    let mut backoff = FIRST_BACKOFF;
    loop {
        newest.borrow_and_update();
        let read = log.with_ring(|ring| ring.read_after(cursor, BATCH));
        lost += read.dropped;
        cursor += read.dropped;
        if read.lines.is_empty() && lost == 0 {
            if newest.changed().await.is_err() {
                return;
            }
            continue;
        }
        let mut batch: Vec<LogLine> = Vec::with_capacity(read.lines.len() + 1);
        if lost > 0 {
            batch.push(overflow_line(lost));
        }
        batch.extend(read.lines.iter().map(|line| LogLine::clone(line)));
        match delivery.deliver(&batch).await {
            Ok(()) => {
                cursor = read.lines.last().map_or(cursor, |line| line.id);
                lost = 0;
                backoff = FIRST_BACKOFF;
                refused = None;
            }
            Err(e) => {
                if let DeliveryError::Denied(why) = &e
                    && refused.as_ref() != Some(why)
                {
                    let text = format!("Log drain {} refused: {why}", shown_url(&target.url));
                    logplex.publish(&target.app, super::Source::Paas, "logplex", &text);
                    refused = Some(why.clone());
                }
                tracing::warn!("log drain {} of {} failed, retrying in {backoff:?}: {e}", shown_url(&target.url), target.app);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drains running, by id: (app, task id).
    fn running(logs: &Logplex) -> std::collections::BTreeMap<Uuid, (String, tokio::task::Id)> {
        let running = logs.running_drains().running.lock().unwrap();
        running.iter().map(|(id, (target, task))| (*id, (target.app.clone(), task.id()))).collect()
    }

    #[tokio::test]
    async fn syncing_starts_and_stops_drains_and_leaves_running_ones_alone() {
        let logs = Logplex::default();
        let drain = |url: &str| LogDrain {
            id: Uuid::new_v4(),
            app_id: Uuid::nil(),
            url: url.into(),
            token: format!("d.{}", Uuid::new_v4()),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let (one, two) = (drain("syslog://192.0.2.10:514"), drain("https://192.0.2.11/logs"));
        logs.sync_drains("app", &[one.clone(), two.clone()]);
        let first = running(&logs);
        assert_eq!(first.keys().collect::<Vec<_>>().len(), 2);
        // Added elsewhere and removed elsewhere: `two` stops, `one` keeps its task (and cursor).
        logs.sync_drains("app", std::slice::from_ref(&one));
        let now = running(&logs);
        assert_eq!(now.len(), 1);
        assert_eq!(now[&one.id], first[&one.id]);
        // Renamed on another node: the drain follows the app under its new name.
        logs.sync_drains("renamed", std::slice::from_ref(&one));
        assert_eq!(running(&logs)[&one.id].0, "renamed");
        logs.sync_drains("renamed", &[]);
        assert!(running(&logs).is_empty());
    }

    #[test]
    fn drain_urls() {
        assert_eq!(
            Endpoint::parse("syslog://logs.example.com:514"),
            Ok(Endpoint::Syslog { address: "logs.example.com:514".into(), tls: false })
        );
        assert_eq!(
            Endpoint::parse("https://user:pw@logs.example.com/drain?x=1"),
            Ok(Endpoint::Http { url: "https://user:pw@logs.example.com/drain?x=1".into() })
        );
        assert_eq!(Endpoint::parse("http://example.com"), Ok(Endpoint::Http { url: "http://example.com".into() }));
        assert!(matches!(Endpoint::parse("http://"), Err(DrainUrlError::Address(_))));
        assert!(matches!(Endpoint::parse("syslog://nohost"), Err(DrainUrlError::Address(_))));
        assert!(matches!(Endpoint::parse("ftp://x:1"), Err(DrainUrlError::Scheme(_))));
        assert_eq!(Endpoint::parse("syslog+tls://x:6514"), Ok(Endpoint::Syslog { address: "x:6514".into(), tls: true }));
        assert!(matches!(Endpoint::parse("syslog+tls://x"), Err(DrainUrlError::Address(_))));
    }
}
