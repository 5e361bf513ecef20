//! [`TcpBackend`]: a native dyno reached over TCP at `<its address>:$PORT` (its network
//! namespace's address; loopback on the host's network), through a pool of keep-alive HTTP/1.1
//! connections of its own. A request without a body (most) or with one of a known length is
//! exchanged by the router itself ([`crate::wire`]) in the request's task; an upgrade or a body of
//! unknown length goes through hyper's client, whose connections are pooled apart.
//!
//! Each backend (one dyno) owns its pool: no lock or hash map shared between dynos, nothing
//! hashed per request, and no task spawned per request (hyper-util's pool spawned one per
//! HTTP/1 request to wait for the connection to be reusable). A connection goes back to the pool
//! when the response body has ended; the most recently used idle connection is taken first. The
//! pool goes with the backend: when a dyno leaves the route table, its connections are closed
//! once the requests in flight on them end, so a later dyno at the same address never gets them.

use std::collections::VecDeque;
use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::backend::{Backend, BackendError, BackendFuture, BoxError, ConnectTime, RouterBody, into_router_body};
use crate::conn::coarse_ms;
use crate::wire::{self, Wire, WireError};

/// Idle connections kept per dyno; more are closed when their response ends.
const MAX_IDLE: usize = 64;
/// An idle connection unused this long is closed (when the pool is next used).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a pooled connection may take to become ready for its next request.
const READY_WAIT: Duration = Duration::from_millis(50);
/// Giving up on connecting to a dyno: it is unreachable (H10).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A native dyno listening on `addr`, with its own connection pool. Clones share the pool.
#[derive(Clone, Debug)]
pub struct TcpBackend {
    pool: Arc<Pool>,
}

#[derive(Debug)]
struct Pool {
    addr: SocketAddr,
    /// Giving up on connecting: the dyno (or node) is unreachable.
    connect_timeout: Duration,
    /// Connections of hyper's client (upgrades, bodies of unknown length).
    hyper: IdleList<SendRequest<RouterBody>>,
    /// Connections of the router's own exchange (the other requests: [`crate::wire`]).
    wire: IdleList<Wire>,
}

/// Idle connections, the most recently used at the back.
#[derive(Debug)]
struct IdleList<C>(Mutex<VecDeque<Idle<C>>>);

#[derive(Debug)]
struct Idle<C> {
    conn: C,
    /// [`coarse_ms`] when it went idle (two clock reads a request: the coarse clock's are cheap).
    since: u64,
}

impl<C> IdleList<C> {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle<C>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle connection that `usable` accepts; expired ones are dropped.
    fn checkout(&self, mut usable: impl FnMut(&mut C) -> bool) -> Option<C> {
        let mut idle = self.lock();
        let expired = coarse_ms().saturating_sub(IDLE_TIMEOUT.as_millis() as u64);
        while idle.front().is_some_and(|front| front.since <= expired) {
            idle.pop_front();
        }
        while let Some(Idle { mut conn, .. }) = idle.pop_back() {
            if usable(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Takes back a connection whose response has ended.
    fn put(&self, conn: C) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { conn, since: coarse_ms() });
        }
    }
}

impl<C> Default for IdleList<C> {
    fn default() -> Self {
        IdleList(Mutex::default())
    }
}

impl TcpBackend {
    /// A backend for the dyno at `addr`, with an empty pool: keep-alive connections, at most 64
    /// idle ones of each client, closed after 90 s unused; connecting gives up after 5 s.
    pub fn new(addr: SocketAddr) -> Self {
        Self::with_connect_timeout(addr, CONNECT_TIMEOUT)
    }

    /// [`TcpBackend::new`], giving up on connecting after `connect_timeout`.
    pub fn with_connect_timeout(addr: SocketAddr, connect_timeout: Duration) -> Self {
        let pool = Pool { addr, connect_timeout, hyper: IdleList::default(), wire: IdleList::default() };
        TcpBackend { pool: Arc::new(pool) }
    }

    /// The dyno's address.
    pub fn addr(&self) -> SocketAddr {
        self.pool.addr
    }

    /// How many idle keep-alive connections to the dyno the pool holds now.
    pub fn idle_connections(&self) -> usize {
        let hyper = self.pool.hyper.lock().iter().filter(|idle| !idle.conn.is_closed()).count();
        hyper + self.pool.wire.lock().len()
    }
}

impl Backend for TcpBackend {
    fn call(&self, req: Request<RouterBody>) -> BackendFuture {
        match wire::body_length(&req) {
            Some(0) => Box::pin(self.pool.clone().exchange(req)),
            Some(length) => Box::pin(self.pool.clone().exchange_with_body(req, length)),
            None => Box::pin(self.pool.clone().send(req)),
        }
    }
}

impl wire::Keep for Pool {
    fn keep(&self, wire: Wire) {
        self.wire.put(wire);
    }
}

impl Pool {
    /// A new TCP connection to the dyno.
    async fn connect_stream(&self) -> Result<TcpStream, BackendError> {
        let timeout = self.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(BackendError::Unreachable(Box::new(error))),
            Err(_) => {
                let error = io::Error::new(io::ErrorKind::TimedOut, format!("connecting took over {timeout:?}"));
                return Err(BackendError::Unreachable(Box::new(error)));
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// A new connection to the dyno, its HTTP/1.1 side driven by a task of its own (which also
    /// completes upgrades, e.g. WebSocket, handing the socket to the router's splice).
    async fn connect(&self) -> Result<SendRequest<RouterBody>, BackendError> {
        let stream = self.connect_stream().await?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| BackendError::Unreachable(Box::new(error)))?;
        let addr = self.addr;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%addr, %error, "dyno connection ended");
            }
        });
        Ok(sender)
    }

    /// Sends a request without a body the router's own way ([`crate::wire`]), on a pooled
    /// connection or a new one. A pooled connection the dyno closed before answering (it closes
    /// idle ones when it likes) is replaced by a new one for an idempotent request; the others
    /// cannot know whether the dyno acted on them, and get H13.
    async fn exchange(self: Arc<Self>, req: Request<RouterBody>) -> Result<Response<RouterBody>, BackendError> {
        let (parts, _) = req.into_parts();
        let head = wire::encode_head(&parts);
        let head_request = parts.method == http::Method::HEAD;
        loop {
            let (mut conn, connect) = self.wire_conn().await?;
            match conn.exchange(&head, head_request).await {
                Ok(response_head) => return Ok(self.respond(conn, response_head, connect)),
                Err(WireError::Closed(_)) if connect.is_none() && parts.method.is_idempotent() => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Sends a request with a body of `length` bytes the router's own way, on a pooled connection
    /// or a new one. Sent once: its body cannot be sent again.
    async fn exchange_with_body(self: Arc<Self>, req: Request<RouterBody>, length: u64) -> Result<Response<RouterBody>, BackendError> {
        let (parts, body) = req.into_parts();
        let head = wire::encode_head(&parts);
        let (mut conn, connect) = self.wire_conn().await?;
        let head_request = parts.method == http::Method::HEAD;
        let response_head = conn.exchange_with_body(head, head_request, body, length).await?;
        Ok(self.respond(conn, response_head, connect))
    }

    /// A pooled connection of the router's own exchange, or a new one and how long it took.
    async fn wire_conn(&self) -> Result<(Wire, Option<Duration>), BackendError> {
        if let Some(conn) = self.wire.checkout(Wire::is_usable) {
            return Ok((conn, None));
        }
        let started = Instant::now();
        let conn = Wire::new(self.connect_stream().await?);
        Ok((conn, Some(started.elapsed())))
    }

    /// The response read on `conn`, which goes back to the pool once its body has ended.
    fn respond(self: &Arc<Self>, conn: Wire, head: wire::Head, connect: Option<Duration>) -> Response<RouterBody> {
        let mut response = wire::respond(conn, head, self.clone());
        if let Some(connect) = connect {
            response.extensions_mut().insert(ConnectTime(connect));
        }
        response
    }

    /// Sends `req` on a pooled connection, or a new one. A request a pooled connection could not
    /// take (closed meanwhile, the request not written) goes on the next one.
    async fn send(self: Arc<Self>, mut req: Request<RouterBody>) -> Result<Response<RouterBody>, BackendError> {
        // The router hands over origin-form URIs (`/path?query`), which is what goes on the wire.
        *req.version_mut() = http::Version::HTTP_11;
        let mut connect = Duration::ZERO;
        loop {
            let (mut sender, pooled) = match self.hyper.checkout(|sender| !sender.is_closed()) {
                Some(sender) => (sender, true),
                None => {
                    let started = Instant::now();
                    let sender = self.connect().await?;
                    connect = started.elapsed();
                    (sender, false)
                }
            };
            // A pooled connection may still be finishing its previous exchange (e.g. the rest
            // of a request body the dyno answered early): one still busy after a moment is
            // dropped rather than waited for.
            if !sender.is_ready() {
                let ready = if pooled {
                    matches!(tokio::time::timeout(READY_WAIT, sender.ready()).await, Ok(Ok(())))
                } else {
                    sender.ready().await.is_ok()
                };
                if !ready {
                    if pooled {
                        continue;
                    }
                    return Err(BackendError::ClosedWithoutResponse(None));
                }
            }
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let switching = response.status() == http::StatusCode::SWITCHING_PROTOCOLS;
                    // An upgraded connection is the client's now: never pooled.
                    let back = (!switching).then(|| (sender, self.clone()));
                    let mut response = response.map(|body| into_router_body(PooledBody { inner: body, back }));
                    // A pooled connection took no connecting: nothing to say (read as zero).
                    if !connect.is_zero() {
                        response.extensions_mut().insert(ConnectTime(connect));
                    }
                    return Ok(response);
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if pooled => req = unsent,
                    _ => return Err(classify(error.into_error())),
                },
            }
        }
    }
}

/// A dyno's response body: its connection goes back to the pool once the body has ended.
struct PooledBody {
    inner: Incoming,
    back: Option<(SendRequest<RouterBody>, Arc<Pool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((sender, pool)) = self.back.take()
            && !sender.is_closed()
        {
            pool.hyper.put(sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.release(),
            // A failed body leaves the connection unusable: it is not pooled.
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body with nothing to read (HEAD, 204, 304) may never be polled. One dropped before
        // its end leaves the connection mid-response: hyper closes it, and it is not pooled.
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}

/// Sorts a failed exchange into closed without response (the dyno closed or reset the
/// connection before answering) or other.
fn classify(error: hyper::Error) -> BackendError {
    let mut closed = error.is_incomplete_message() || error.is_canceled();
    let mut source = error.source();
    while let Some(cause) = source {
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
