//! Log drains: each drain is a task that follows its app's stream from a cursor of its own and
//! delivers batches to a syslog endpoint ([`syslog`]: RFC 5424, octet-counted, over TCP or TLS) or an
//! HTTP(S) endpoint ([`http`]: logplex's `application/logplex-1` bodies). A failed delivery is
//! retried with a doubling back-off (up to [`MAX_BACKOFF`]); the cursor stays put meanwhile, so a
//! drain that was down loses only what fell off the buffer, and its first batch after it recovers
//! starts with `Error L10 (output buffer overflow): N messages dropped`.

pub mod http;
pub mod syslog;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::AbortHandle;
use uuid::Uuid;

use super::{LogLine, Logplex, overflow_line};
use crate::ledger::{Ledger, LedgerError};
use crate::model::LogDrain;

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
            "http" | "https" => Ok(Endpoint::Http { url: url.to_string() }),
            _ => Err(DrainUrlError::Scheme(url.to_string())),
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

/// The drains running, by id.
#[derive(Debug, Default)]
pub struct Running(Mutex<HashMap<Uuid, (DrainTarget, AbortHandle)>>);

impl Running {
    /// Stops the app's drains and gives them back.
    pub(crate) fn stop_app(&self, app: &str) -> Vec<DrainTarget> {
        let mut stopped = Vec::new();
        self.0.lock().expect("drains").retain(|_, (target, task)| {
            if target.app == app {
                task.abort();
                stopped.push(target.clone());
            }
            target.app != app
        });
        stopped
    }

    pub(crate) fn stop_all(&self) {
        for (_, (_, task)) in self.0.lock().expect("drains").drain() {
            task.abort();
        }
    }
}

impl Logplex {
    /// Starts forwarding the app's new lines to a drain (replacing a running one of that id).
    pub fn start_drain(&self, target: DrainTarget) -> Result<(), DrainUrlError> {
        let endpoint = Endpoint::parse(&target.url)?;
        let (id, kept) = (target.id, target.clone());
        // The drain forwards what is published from now on, whenever its task first runs.
        let cursor = self.app(&target.app).with_ring(|ring| ring.last_id());
        let task = tokio::spawn(forward(self.clone(), target, endpoint, cursor)).abort_handle();
        if let Some((_, old)) = self.running_drains().0.lock().expect("drains").insert(id, (kept, task)) {
            old.abort();
        }
        Ok(())
    }

    /// Starts every drain kept in the ledger (`paas server` at start). A drain whose URL this
    /// server cannot speak is skipped with a warning.
    pub async fn start_saved_drains(&self, ledger: &dyn Ledger) -> Result<(), LedgerError> {
        for (app, drain) in ledger.all_log_drains().await? {
            if let Err(e) = self.start_drain(DrainTarget::of(&drain, &app)) {
                tracing::warn!("log drain {} of {app} not started: {e}", drain.url);
            }
        }
        Ok(())
    }

    /// Stops a drain.
    pub fn stop_drain(&self, id: Uuid) {
        if let Some((_, task)) = self.running_drains().0.lock().expect("drains").remove(&id) {
            task.abort();
        }
    }
}

/// A connection (or none) to a drain's endpoint, delivering batches.
enum Delivery {
    Syslog(syslog::SyslogConnection),
    Http(http::HttpDrain),
}

impl Delivery {
    async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), String> {
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
    let mut delivery = match endpoint {
        Endpoint::Syslog { address, tls } => {
            Delivery::Syslog(syslog::SyslogConnection::new(address, tls, target.token.clone()))
        }
        Endpoint::Http { url } => Delivery::Http(http::HttpDrain::new(url, target.token.clone())),
    };
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
            }
            Err(e) => {
                tracing::warn!("log drain {} of {} failed, retrying in {backoff:?}: {e}", target.url, target.app);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
