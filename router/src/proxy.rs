//! One request through the router: Host → app route → random web dyno, with the request
//! timeout, the body limit, error pages and the router log line written when the response ends.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use rand::RngExt;

use crate::backend::{BackendError, BoxError, ConnectTime, RouterBody, into_router_body};
use crate::config::RouterConfig;
use crate::conn::ConnState;
use crate::grid::{self, PeerError, Peers, Served};
use crate::headers::{self, Forwarded};
use crate::log::{ErrorCode, LogLine, RouterLog};
use crate::pages;
use crate::table::{AppRoute, RouteTable, normalize_host};
use crate::upgrade;

/// The client side of a request: who connected, and to which of the router's addresses.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// The router's address the client connected to (its port is `X-Forwarded-Port`).
    pub local: SocketAddr,
}

/// What every request needs: the table, the settings, the log sink.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) table: Arc<RouteTable>,
    pub(crate) config: RouterConfig,
    pub(crate) log: Arc<dyn RouterLog>,
    /// On a grid: the nodes whose forwarded requests this router serves (see [`crate::grid`]).
    pub(crate) peers: Option<Arc<dyn Peers>>,
}

/// A router log line waiting for the end of the response body to learn `service=` and `bytes=`.
pub(crate) struct PendingLog {
    /// The app's route (its name and metrics; no copy of the name per request).
    app: Arc<AppRoute>,
    line: LogLine,
    service_start: Instant,
    idle_timeout: Duration,
}

impl PendingLog {
    fn finish(mut self, bytes: u64, log: &dyn RouterLog) {
        let connect = self.line.connect.unwrap_or_default();
        self.line.service = Some(self.service_start.elapsed().saturating_sub(connect));
        self.line.bytes = Some(bytes);
        crate::metrics::record(&self.app.metrics, &self.line);
        log.log(&self.app.app, &self.line);
    }
}

/// Routes one request. The returned log, if any, is to be finished when the body ends.
pub(crate) async fn route<B>(
    shared: &Shared,
    mut req: Request<B>,
    client: ClientInfo,
    conn: Option<&ConnState>,
) -> (Response<RouterBody>, Option<PendingLog>)
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = &shared.config;
    let host_header = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    // HTTP/2 (and absolute-form requests) may carry the host in the URI only.
    let authority = if host_header.is_none() { req.uri().authority().map(|a| a.to_string()) } else { None };
    let host = normalize_host(host_header.or(authority.as_deref()).unwrap_or_default());
    // Forwarded by another node of the grid: its router set the client's headers and logs the
    // request; it is served here, by this node's dynos only.
    let hop = grid::take_hop(req.headers_mut(), shared.peers.as_deref());
    let Some(app) = shared.table.lookup_normalized(&host) else {
        tracing::debug!(%host, hop, "no app for host");
        if hop {
            // An app this node does not know yet (created through another node moments ago):
            // no dyno of it here, so the sending node tries another rather than answering 404.
            let mut response = pages::error_response(ErrorCode::H14);
            grid::mark_served(response.headers_mut(), Some(ErrorCode::H14), None);
            return (response, None);
        }
        return (pages::no_such_app(), None);
    };

    let upgrade = upgrade::take(&mut req);
    let (mut parts, body) = req.into_parts();
    let request_id = headers::request_id(&parts.headers);
    // Room for the headers added below at once, rather than growing the map twice on the way.
    parts.headers.reserve(8);
    let fwd = if hop {
        headers::prepare_hop_request(&mut parts.headers)
    } else {
        let forwarded = Forwarded {
            client_ip: client.remote.ip(),
            port: client.local.port(),
            proto: config.forwarded_proto,
        };
        headers::prepare_request(&mut parts.headers, &request_id, &forwarded, parts.version, &config.via)
    };
    if let Some(value) = authority.and_then(|a| HeaderValue::from_str(&a).ok()) {
        parts.headers.insert(header::HOST, value);
    }
    if let Some(upgrade) = &upgrade {
        upgrade.restore_request_headers(&mut parts.headers);
    }
    let line = LogLine {
        code: None,
        method: parts.method.clone(),
        path: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_string(),
        host,
        request_id,
        fwd,
        dyno: None,
        connect: None,
        service: None,
        status: 0,
        bytes: None,
        protocol: config.forwarded_proto,
    };
    let fail = |code: ErrorCode, line: LogLine| -> (Response<RouterBody>, Option<PendingLog>) {
        let mut response = pages::error_response(code);
        let line = LogLine { code: Some(code), status: response.status().as_u16(), ..line };
        if hop {
            grid::mark_served(response.headers_mut(), Some(code), line.dyno.as_deref());
        } else {
            crate::metrics::record(&app.metrics, &line);
            shared.log.log(&app.app, &line);
        }
        set_request_id(&mut response, &line.request_id);
        (response, None)
    };

    if app.maintenance {
        return fail(ErrorCode::H80, line);
    }
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|len| len > config.max_body_bytes) {
        return fail(ErrorCode::H25, line);
    }
    // This node's web dynos; without any, those on other nodes (not for a forwarded request).
    let web = if hop || !app.web.is_empty() { &app.web } else { &app.remote };
    if web.is_empty() {
        return fail(if app.crashed { ErrorCode::H10 } else { ErrorCode::H14 }, line);
    }

    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        // Absolute form (or h2's full URI): dynos get the origin form.
        parts.uri = line.path.parse().unwrap_or_else(|_| http::Uri::from_static("/"));
    }
    parts.version = http::Version::HTTP_11;
    // A request without a body (most) gets an empty one: nothing to box, count or limit.
    let (body, over_limit) = if body.is_end_stream() {
        (crate::backend::empty_body(), None)
    } else {
        let over = Arc::new(AtomicBool::new(false));
        let limited = LimitedBody {
            inner: into_router_body(body),
            read: 0,
            max: config.max_body_bytes,
            over: over.clone(),
            // A forwarded request's bytes were counted by the node the client reached (as its
            // log line is written there): counted once.
            metrics: (!hop).then(|| app.metrics.clone()),
        };
        (limited.boxed_unsync(), Some(over))
    };
    // A request without a body can be replayed on another dyno when the first is unreachable.
    let replay = (web.len() > 1 && over_limit.is_none()).then(|| parts.clone());
    let mut request = Some(Request::from_parts(parts, body));

    let started = Instant::now();
    let deadline = started + config.request_timeout;
    let (first, dynos) = (rand::rng().random_range(0..web.len()), web.len());
    let mut last_dyno = None;
    for attempt in 0..dynos {
        // The randomly chosen dyno first, then the others in turn.
        let dyno = &web[(first + attempt) % dynos];
        last_dyno = Some(dyno.name.as_str());
        let req = match request.take() {
            Some(req) => req,
            None => match &replay {
                Some(parts) => Request::from_parts(parts.clone(), crate::backend::empty_body()),
                None => break,
            },
        };
        let with_dyno = |service: Duration| LogLine {
            dyno: Some(dyno.name.clone()),
            connect: Some(Duration::ZERO),
            service: Some(service),
            bytes: Some(0),
            ..line.clone()
        };
        // Dropped with this future if the client goes away while the dyno works: H27.
        let interrupted = Interrupted { shared, app: &app.app, metrics: &app.metrics, line: &line, dyno: &dyno.name, started, armed: !hop };
        // An HTTP/1 connection's watchdog keeps the deadline; otherwise a timer does.
        let outcome = match conn.filter(|conn| conn.is_http1()) {
            Some(conn) => {
                // The first try starts as the request does (no second read of the clock).
                let left = if attempt == 0 { config.request_timeout } else { deadline.saturating_duration_since(Instant::now()) };
                conn.within(left, dyno.backend.call(req)).await
            }
            None => tokio::time::timeout_at(deadline.into(), dyno.backend.call(req)).await.ok(),
        };
        interrupted.disarm();
        let over = over_limit.as_ref().is_some_and(|over| over.load(Ordering::Acquire));
        match outcome {
            None | Some(Err(BackendError::Timeout)) => {
                return fail(ErrorCode::H12, with_dyno(started.elapsed()));
            }
            Some(_) if over => return fail(ErrorCode::H25, with_dyno(started.elapsed())),
            Some(Ok(mut response)) => {
                let switched = upgrade.and_then(|upgrade| upgrade.accept(&mut response, config.idle_timeout));
                let (mut parts, body) = response.into_parts();
                if hop {
                    headers::prepare_hop_response(&mut parts.headers);
                    grid::mark_served(&mut parts.headers, None, Some(&dyno.name));
                } else {
                    headers::prepare_response(&mut parts.headers, parts.version, &config.via);
                }
                if let Some(protocol) = switched {
                    upgrade::restore_response_headers(&mut parts.headers, protocol);
                }
                let connect = parts.extensions.get::<ConnectTime>().map_or(Duration::ZERO, |c| c.0);
                // Served by another node: its dyno, and its error code if it answered with one.
                let (code, served_by) = match parts.extensions.remove::<Served>() {
                    Some(served) => (served.code, served.dyno.unwrap_or_else(|| dyno.name.clone())),
                    None => (None, dyno.name.clone()),
                };
                let line = LogLine {
                    code,
                    status: parts.status.as_u16(),
                    dyno: Some(served_by),
                    connect: Some(connect),
                    ..line
                };
                if hop {
                    return (Response::from_parts(parts, body), None);
                }
                let pending = PendingLog {
                    app,
                    line,
                    service_start: started,
                    idle_timeout: config.idle_timeout,
                };
                return (Response::from_parts(parts, body), Some(pending));
            }
            Some(Err(BackendError::Unreachable(error))) => {
                tracing::debug!(app = %app.app, dyno = %dyno.name, %error, "dyno unreachable");
                if replay.is_none() || attempt + 1 == dynos {
                    // A node that is down: H99; a node without the app's dyno up: its code.
                    let code = PeerError::code(&error).unwrap_or(ErrorCode::H10);
                    return fail(code, with_dyno(started.elapsed()));
                }
            }
            Some(Err(BackendError::ClosedWithoutResponse(_))) => {
                return fail(ErrorCode::H13, with_dyno(started.elapsed()));
            }
            Some(Err(BackendError::Other(error))) => {
                tracing::warn!(app = %app.app, dyno = %dyno.name, %error, "backend error");
                return fail(ErrorCode::H99, with_dyno(started.elapsed()));
            }
        }
    }
    fail(ErrorCode::H99, LogLine { dyno: last_dyno.map(str::to_string), ..line })
}

/// Logs H27 when dropped: the request future was abandoned (client gone) while a dyno worked.
struct Interrupted<'a> {
    shared: &'a Shared,
    app: &'a str,
    metrics: &'a paas_metrics::AppMetrics,
    line: &'a LogLine,
    dyno: &'a str,
    started: Instant,
    armed: bool,
}

impl Interrupted<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Interrupted<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let line = LogLine {
            code: Some(ErrorCode::H27),
            status: ErrorCode::H27.status().as_u16(),
            dyno: Some(self.dyno.to_string()),
            connect: Some(Duration::ZERO),
            service: Some(self.started.elapsed()),
            bytes: Some(0),
            ..self.line.clone()
        };
        crate::metrics::record(self.metrics, &line);
        self.shared.log.log(self.app, &line);
    }
}

fn set_request_id(response: &mut Response<RouterBody>, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(&headers::X_REQUEST_ID, value);
    }
}

/// The request body of the limit: fails once more than `max` bytes have been read, and says so
/// in `over`, so a dyno's resulting failure is reported as 413 rather than its own error.
struct LimitedBody {
    inner: RouterBody,
    read: u64,
    max: u64,
    over: Arc<AtomicBool>,
    /// The app's metrics: request body bytes are counted as they are read (`None`: a forwarded
    /// request, counted by the node that forwarded it).
    metrics: Option<Arc<paas_metrics::AppMetrics>>,
}

/// The error a dyno reading an over-limit request body gets.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub struct BodyTooLarge(pub u64);

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                    if let Some(metrics) = &this.metrics {
                        metrics.web.add_bytes_in(data.len() as u64);
                    }
                    if this.read > this.max {
                        this.over.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(this.max)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body sent to the client: counts bytes, writes the router log line when it ends
/// (or is dropped, e.g. the client went away), and holds the connection's in-flight mark.
/// A dyno body that sends nothing for [`RouterConfig::idle_timeout`] is cut off (H15).
pub(crate) struct LoggedBody<G: Send + 'static> {
    inner: RouterBody,
    bytes: u64,
    pending: Option<PendingLog>,
    /// Where the line goes: the request's own reference to the router's settings (one shared
    /// count fewer a request than a clone of the log sink's).
    shared: Arc<Shared>,
    /// Armed the first time the dyno's body is not ready; reset by every frame.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
    _guard: G,
}

impl<G: Send + Unpin + 'static> LoggedBody<G> {
    pub(crate) fn new(inner: RouterBody, pending: Option<PendingLog>, shared: Arc<Shared>, guard: G) -> Self {
        LoggedBody { inner, bytes: 0, pending, shared, idle: None, _guard: guard }
    }

    fn finish(&mut self, code: Option<ErrorCode>) {
        if let Some(mut pending) = self.pending.take() {
            if let Some(code) = code {
                pending.line.code = Some(code);
                pending.line.status = code.status().as_u16();
            }
            pending.finish(self.bytes, &*self.shared.log);
        }
    }
}

/// The error the client's connection gets when the dyno's body stalls.
#[derive(Debug, thiserror::Error)]
#[error("no response bytes from the dyno for {0:?}")]
struct IdleBody(Duration);

impl<G: Send + Unpin + 'static> Body for LoggedBody<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(None);
                } else if let (Some(idle), Some(pending)) = (&mut this.idle, &this.pending) {
                    idle.as_mut().reset(tokio::time::Instant::now() + pending.idle_timeout);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.finish(None),
            Poll::Pending => {
                let Some(timeout) = this.pending.as_ref().map(|p| p.idle_timeout) else {
                    return Poll::Pending;
                };
                let idle = this.idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if idle.as_mut().poll(cx).is_ready() {
                    this.finish(Some(ErrorCode::H15));
                    return Poll::Ready(Some(Err(Box::new(IdleBody(timeout)))));
                }
            }
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

impl<G: Send + 'static> Drop for LoggedBody<G> {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.finish(self.bytes, &*self.shared.log);
        }
    }
}
