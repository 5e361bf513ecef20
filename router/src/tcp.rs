//! [`TcpBackend`]: a native dyno reached over TCP at `<its address>:$PORT` (its network
//! namespace's address; loopback on the host's network), through a pooled HTTP/1.1 client shared
//! by all TCP backends.

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::backend::{Backend, BackendError, BackendFuture, BoxError, RouterBody, into_router_body};

/// A pool of keep-alive HTTP/1.1 connections to native dynos. One is enough per process;
/// [`TcpBackend::new`] uses a shared one.
#[derive(Clone, Debug)]
pub struct TcpPool {
    client: Client<HttpConnector, RouterBody>,
}

impl TcpPool {
    /// A pool that keeps idle connections for 90 s, at most 64 per dyno, and gives up
    /// connecting after 5 s.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .build(connector);
        TcpPool { client }
    }

    /// A backend for the dyno listening at `addr`, using this pool.
    pub fn backend(&self, addr: SocketAddr) -> TcpBackend {
        let authority = addr.to_string().parse().expect("a socket address is a URI authority");
        TcpBackend { addr, authority, client: self.client.clone() }
    }
}

impl Default for TcpPool {
    fn default() -> Self {
        Self::new()
    }
}

/// A native dyno listening on `addr` (its `$PORT` on loopback).
#[derive(Clone, Debug)]
pub struct TcpBackend {
    addr: SocketAddr,
    /// `addr` as the authority of the URIs handed to the pool, parsed once.
    authority: Authority,
    client: Client<HttpConnector, RouterBody>,
}

impl TcpBackend {
    /// A backend for the dyno at `addr`, on the process-wide [`TcpPool`].
    pub fn new(addr: SocketAddr) -> Self {
        static SHARED: OnceLock<TcpPool> = OnceLock::new();
        SHARED.get_or_init(TcpPool::new).backend(addr)
    }

    /// The dyno's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Backend for TcpBackend {
    fn call(&self, mut req: Request<RouterBody>) -> BackendFuture {
        // `http://<addr><path>` from parts: no formatting and parsing per request.
        let mut uri = std::mem::take(req.uri_mut()).into_parts();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = Some(self.authority.clone());
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        match Uri::from_parts(uri) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(error) => return Box::pin(async move { Err(BackendError::Other(Box::new(error))) }),
        }
        *req.version_mut() = http::Version::HTTP_11;
        let response = self.client.request(req);
        Box::pin(async move {
            match response.await {
                Ok(response) => Ok(response.map(into_router_body)),
                Err(error) => Err(classify(error)),
            }
        })
    }
}

/// Sorts a client error into unreachable (never connected), closed without response, or other.
fn classify(error: hyper_util::client::legacy::Error) -> BackendError {
    if error.is_connect() {
        return BackendError::Unreachable(Box::new(error));
    }
    let mut source = error.source();
    let mut closed = false;
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            closed |= hyper.is_incomplete_message() || hyper.is_canceled();
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            closed |= matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            );
        }
        source = cause.source();
    }
    let error: BoxError = Box::new(error);
    if closed { BackendError::ClosedWithoutResponse(Some(error)) } else { BackendError::Other(error) }
}
