//! Serves the API router on a listener (plain TCP, or [`crate::https::TlsListener`]) as
//! `axum::serve` does — HTTP/1.1 and h2c, upgrades, graceful shutdown — but with a deadline on
//! reading each request's headers ([`HEADER_READ_TIMEOUT`]): a client that sends half a request
//! line and stops (slowloris) is dropped instead of holding a connection and its task forever.
//! Accepted TCP connections give up on a peer that stopped acknowledging after
//! [`UNACKNOWLEDGED_TIMEOUT`] ([`give_up_on_silent_peers`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::serve::Listener;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

/// How long a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long what the server sends on an accepted connection may go unacknowledged before the
/// kernel gives the connection up (`TCP_USER_TIMEOUT`). A client that vanished without closing
/// (a laptop shut, a NAT that forgot it) otherwise keeps its connection for the kernel's ~15
/// minutes of retransmissions: a log tail's writes (a keep-alive every 15 s) keep going into the
/// socket's buffer, and the tail holds one of its user's 32 streams all that while.
pub const UNACKNOWLEDGED_TIMEOUT: Duration = Duration::from_secs(60);

/// Sets [`UNACKNOWLEDGED_TIMEOUT`] on an accepted connection (best effort: a socket that refuses
/// keeps the kernel's default).
pub fn give_up_on_silent_peers(stream: &tokio::net::TcpStream) {
    let millis = u32::try_from(UNACKNOWLEDGED_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
    if let Err(e) = rustix::net::sockopt::set_tcp_user_timeout(stream, millis) {
        tracing::debug!("cannot set TCP_USER_TIMEOUT on a connection: {e}");
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the open connections
/// finish. Request headers must arrive within `header_read_timeout`.
pub async fn serve<L: Listener>(
    mut listener: L,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (io, _peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(
            router.clone().map_request(|request: Request<Incoming>| request.map(Body::new)),
        );
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::trace!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
