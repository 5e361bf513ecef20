//! [`Router`]: accepts connections, speaks HTTP/1.1 and h2c with keep-alive, routes each request,
//! enforces the idle and header timeouts, and shuts down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::backend::{BoxError, RouterBody};
use crate::config::RouterConfig;
use crate::conn::{Told, Tracked, Watchdog, Watched};
use crate::log::{NoLog, RouterLog};
use crate::proxy::{ClientInfo, LoggedBody, Shared, route};
use crate::table::RouteTable;

/// The HTTP router. Cheap to clone; clones share the table, settings and log sink.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

impl Router {
    /// A router over `table` (keep a clone of the `Arc` to update routes while it serves).
    /// Log lines are discarded until [`Router::with_log`] sets a sink.
    pub fn new(table: Arc<RouteTable>, config: RouterConfig) -> Self {
        Router { shared: Arc::new(Shared { table, config, log: Arc::new(NoLog), peers: None }) }
    }

    /// The same router, sending its log lines to `log`.
    pub fn with_log(self, log: Arc<dyn RouterLog>) -> Self {
        let shared = Shared {
            table: self.shared.table.clone(),
            config: self.shared.config.clone(),
            log,
            peers: self.shared.peers.clone(),
        };
        Router { shared: Arc::new(shared) }
    }

    /// The same router, serving the requests that the nodes `peers` vouches for forward to it
    /// (with this node's dynos only; see [`crate::grid`]).
    pub fn with_peers(self, peers: Arc<dyn crate::grid::Peers>) -> Self {
        let shared = Shared {
            table: self.shared.table.clone(),
            config: self.shared.config.clone(),
            log: self.shared.log.clone(),
            peers: Some(peers),
        };
        Router { shared: Arc::new(shared) }
    }

    /// The same router (table, log, settings) answering as a TLS terminator: its requests carry
    /// `X-Forwarded-Proto: https` and its log lines `protocol=https`. For
    /// [`Router::serve_accepted_with_shutdown`] on an HTTPS listener.
    pub fn for_https(&self) -> Router {
        let mut shared = (*self.shared).clone();
        shared.config.forwarded_proto = "https";
        Router { shared: Arc::new(shared) }
    }

    /// The routing table.
    pub fn table(&self) -> &Arc<RouteTable> {
        &self.shared.table
    }

    /// The settings.
    pub fn config(&self) -> &RouterConfig {
        &self.shared.config
    }

    /// Routes one request in-process, exactly as a request arriving on a connection would be
    /// (minus the connection's timeouts). The log line is written when the response body ends.
    pub async fn handle<B>(&self, req: Request<B>, client: ClientInfo) -> Response<RouterBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (response, pending) = route(&self.shared, req, client, None).await;
        response.map(|body| LoggedBody::new(body, pending, self.shared.clone(), ()).boxed_unsync())
    }

    /// Serves connections from `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending()).await
    }

    /// Serves connections from `listener` until `shutdown` completes; then stops accepting,
    /// lets requests in flight finish for up to [`RouterConfig::shutdown_grace`], closes idle
    /// keep-alive connections, and returns.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        let unacknowledged_ms = u32::try_from(self.shared.config.unacknowledged_timeout.as_millis()).unwrap_or(u32::MAX);
        self.serve_incoming(Plain { listener, unacknowledged_ms }, local, shutdown).await
    }

    /// [`Router::serve_with_shutdown`] for connections accepted elsewhere (a TLS listener that
    /// hands over each connection once its handshake is done), listening at `local`. Give this
    /// router a [`RouterConfig::forwarded_proto`] of `https`.
    pub async fn serve_accepted_with_shutdown<IO>(
        self,
        accepted: tokio::sync::mpsc::Receiver<(IO, std::net::SocketAddr)>,
        local: std::net::SocketAddr,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_incoming(accepted, local, shutdown).await
    }

    async fn serve_incoming<I: Incoming>(
        self,
        mut listener: I,
        local: std::net::SocketAddr,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            // Our watchdog enforces the header deadline without cutting idle keep-alive short.
            .header_read_timeout(None)
            // A response's head and its first body bytes go out in one `write` from one buffer
            // rather than a `writev` of several (README, Performance).
            .writev(false);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let config = &self.shared.config;
        let watchdog = Watchdog::new(config.header_read_timeout, config.idle_timeout, config.request_timeout);
        let mut ticker = tokio::time::interval(watchdog.tick());
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = ticker.tick() => watchdog.look(),
                accepted = listener.next() => match accepted {
                    None => break,
                    Some(Ok((stream, remote))) => {
                        let conn = serve_connection(
                            self.shared.clone(),
                            builder.clone(),
                            stream,
                            ClientInfo { remote, local },
                            watchdog.watch(),
                        );
                        connections.spawn(conn);
                    }
                    Some(Err(error)) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!(%error, "router accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        watchdog.stop();
        // Idle connections are still cut while the others drain.
        let drained = tokio::time::timeout(self.shared.config.shutdown_grace, async {
            loop {
                tokio::select! {
                    joined = connections.join_next() => if joined.is_none() { break },
                    _ = ticker.tick() => watchdog.look(),
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(left = connections.len(), "router shutdown grace over; cutting connections");
            connections.shutdown().await;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("table", &self.shared.table).finish_non_exhaustive()
    }
}

/// Where a router's connections come from: a TCP listener, or connections accepted elsewhere.
trait Incoming: Send {
    /// A connection.
    type Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    /// The next connection and its peer; `None` once no more can come.
    fn next(&mut self) -> impl Future<Output = Option<io::Result<(Self::Io, std::net::SocketAddr)>>> + Send;
}

/// A TCP listener whose connections get `TCP_NODELAY` and give up on a peer that stops
/// acknowledging after `unacknowledged_ms` ([`RouterConfig::unacknowledged_timeout`]).
struct Plain {
    listener: TcpListener,
    unacknowledged_ms: u32,
}

impl Incoming for Plain {
    type Io = TcpStream;
    async fn next(&mut self) -> Option<io::Result<(TcpStream, std::net::SocketAddr)>> {
        let accepted = self.listener.accept().await;
        if let Ok((stream, _)) = &accepted {
            let _ = stream.set_nodelay(true);
            if let Err(e) = rustix::net::sockopt::set_tcp_user_timeout(stream, self.unacknowledged_ms) {
                tracing::debug!("cannot set TCP_USER_TIMEOUT on a connection: {e}");
            }
        }
        Some(accepted)
    }
}

impl<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Incoming
    for tokio::sync::mpsc::Receiver<(IO, std::net::SocketAddr)>
{
    type Io = IO;
    async fn next(&mut self) -> Option<io::Result<(IO, std::net::SocketAddr)>> {
        self.recv().await.map(Ok)
    }
}

async fn serve_connection<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static>(
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: IO,
    client: ClientInfo,
    watched: Watched,
) {
    let state = watched.state.clone();
    let io = TokioIo::new(Tracked { inner: stream, state: state.clone() });
    let service_state = state.clone();
    let service = service_fn(move |mut req: Request<hyper::body::Incoming>| {
        // Here, before hyper reads on, not in `route`: see `own_host`.
        crate::headers::own_host(req.headers_mut());
        let guard = service_state.begin();
        let shared = shared.clone();
        async move {
            let (response, pending) = route(&shared, req, client, Some(guard.state())).await;
            Ok::<_, Infallible>(response.map(|body| LoggedBody::new(body, pending, shared, guard)))
        }
    });
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut closing_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(remote = %client.remote, %error, "router connection ended");
                }
                return;
            }
            told = state.told() => {
                if told & Told::SLOW_CLIENT != 0 {
                    tracing::debug!(remote = %client.remote, "request headers too slow; dropping connection");
                    return;
                }
                match closing_since {
                    None => {
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(tokio::time::Instant::now());
                    }
                    // Still idle a second after it was asked to close: cut.
                    Some(since) if told & Told::IDLE != 0 && since.elapsed() > Duration::from_secs(1) => return,
                    Some(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain listener's connections give up on a silent peer after the configured time, not
    /// the kernel's ~15 minutes (its default reads 0).
    #[tokio::test]
    async fn plain_connections_give_up_on_a_peer_that_stops_acknowledging() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut plain = Plain { listener, unacknowledged_ms: 60_000 };
        let client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = plain.next().await.unwrap().unwrap();
        assert_eq!(rustix::net::sockopt::tcp_user_timeout(&accepted).unwrap(), 60_000);
        assert!(accepted.nodelay().unwrap());
        assert_eq!(rustix::net::sockopt::tcp_user_timeout(&client).unwrap(), 0, "the kernel's default");
    }
}
