//! The router's settings, with Heroku's defaults.

use std::time::Duration;

/// How the router serves. `RouterConfig::default()` gives Heroku's limits.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Time a dyno has to start its response (status and headers) before the router answers
    /// 503 H12 and drops the call. Heroku: 30 s. On an HTTP/1 connection the listener's
    /// watchdog keeps it, so H12 may come up to one of its ticks late (a quarter of the shortest
    /// timeout, at most 1 s).
    pub request_timeout: Duration,
    /// A keep-alive connection with no request in flight and no bytes moving for this long is
    /// closed; a dyno's response body that sends nothing for this long is cut off (H15).
    /// Heroku: 55 s.
    pub idle_timeout: Duration,
    /// Slow-client protection: an HTTP/1 client has this long from the first byte of a request
    /// to the end of its headers, or the connection is dropped.
    pub header_read_timeout: Duration,
    /// Largest request body accepted; larger ones get 413 (H25) before or while being read.
    pub max_body_bytes: u64,
    /// On shutdown, how long requests in flight may take to finish before connections are cut.
    pub shutdown_grace: Duration,
    /// `X-Forwarded-Proto` and the log's `protocol=`: `http`, or `https` behind a TLS terminator.
    pub forwarded_proto: &'static str,
    /// The name the router adds to `Via` (`1.1 paas`).
    pub via: String,
    /// How long what the router sends on a client's TCP connection may go unacknowledged before
    /// the kernel gives the connection up (`TCP_USER_TIMEOUT`, plain listener): a client gone
    /// without closing (a laptop shut, a NAT that forgot it) otherwise holds its connection for
    /// the kernel's ~15 minutes of retransmissions while a streamed response (server-sent events,
    /// a WebSocket) keeps writing into the socket's buffer.
    pub unacknowledged_timeout: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(55),
            header_read_timeout: Duration::from_secs(10),
            max_body_bytes: 100 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            forwarded_proto: "http",
            via: "paas".to_string(),
            unacknowledged_timeout: Duration::from_secs(60),
        }
    }
}
