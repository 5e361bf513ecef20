//! Outgoing connections of wasm dynos under the node's egress policy
//! ([`paas_sandbox::egress::EgressPolicy`]): the `wasi:http` `send_request` hook and the
//! `wasi:sockets` address check. A request's host is resolved once, every address is checked,
//! and the connection goes to a checked address (a second lookup could answer differently: DNS
//! rebinding). A refusal is `HttpRequestDenied` for the guest and a `paas[web.1]: outbound request
//! to 127.0.0.1:5000 denied (loopback)` line in the app's log. Requests for `http://<app>.<domain>`
//! go to the node's router, whatever its address: app-to-app calls work.
//!
//! After the connection, the request is sent as wasmtime-wasi-http's `default_send_request` does
//! (HTTP/1.1, TLS with the authority as SNI and the webpki roots, the request options' timeouts).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use paas_sandbox::egress::{EgressError, EgressPolicy, IpNet, connect_any};
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::dyno::NetworkPolicy;
use crate::logs::LogSource;

/// Where requests for the node's apps (`http://<app>.<domain>/`) go: the router's listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppsRoute {
    /// Apps are served at `<app>.<domain>` (lowercase, no trailing dot).
    pub domain: String,
    /// The router's address.
    pub router: SocketAddr,
}

impl AppsRoute {
    /// A route for `<app>.<domain>` to `router` (a router listening on the unspecified address
    /// is reached on loopback).
    pub fn new(domain: &str, mut router: SocketAddr) -> Self {
        match router.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => router.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => router.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        AppsRoute { domain: domain.trim_end_matches('.').to_ascii_lowercase(), router }
    }

    /// Whether `host` is `<app>.<domain>` (one label before the domain).
    fn serves(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        host.len() > self.domain.len() + 1
            && host.is_char_boundary(host.len() - self.domain.len() - 1)
            && {
                let (app, domain) = host.split_at(host.len() - self.domain.len());
                domain.eq_ignore_ascii_case(&self.domain)
                    && app.strip_suffix('.').is_some_and(|app| !app.is_empty() && !app.contains('.'))
            }
    }
}

/// The node's outbound rules, shared by every dyno of the runtime.
#[derive(Debug)]
pub(crate) struct Outbound {
    policy: EgressPolicy,
    apps: OnceLock<AppsRoute>,
}

impl Outbound {
    /// The policy with the operator's allowed ranges and this node's addresses.
    pub fn for_node(allowed: Vec<IpNet>) -> Result<Self, EgressError> {
        Ok(Outbound { policy: EgressPolicy::for_node(allowed)?, apps: OnceLock::new() })
    }

    /// Routes `http://<app>.<domain>` to the router. Set once; false if already set otherwise.
    pub fn set_apps_route(&self, route: AppsRoute) -> bool {
        self.apps.get_or_init(|| route.clone()) == &route
    }

    /// The addresses a request for `host:port` may connect to: the router for the node's apps
    /// (plain HTTP), else `host` resolved once, every address checked.
    async fn destinations(&self, host: &str, port: u16, tls: bool) -> Result<Vec<SocketAddr>, EgressError> {
        match self.apps.get() {
            Some(route) if !tls && route.serves(host) => Ok(vec![route.router]),
            _ => self.policy.resolve(host, port).await,
        }
    }

    /// Whether a guest socket may be used with `addr` (`wasi:sockets`) under the dyno's grants:
    /// connections to an attached add-on's endpoint always; with `allow_all`, binds anywhere and
    /// connections and datagrams under the egress policy; else connections to `allow_tcp_to`
    /// under the policy, and only the implicit bind (unspecified address, any port) `connect`
    /// is checked against first. A refused connection is logged.
    pub fn socket_allowed(&self, grants: &NetworkPolicy, addr: SocketAddr, use_: SocketAddrUse, log: &LogSource) -> bool {
        match use_ {
            SocketAddrUse::TcpConnect if grants.services.contains(&addr) => true,
            SocketAddrUse::TcpConnect if grants.allow_all || grants.allow_tcp_to.contains(&addr) => {
                self.policy_allows(addr, log)
            }
            SocketAddrUse::TcpConnect => {
                log.runtime_line(format!("outbound connection to {addr} denied (not an attached add-on)"));
                false
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if grants.allow_all => true,
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ if grants.allow_all => self.policy_allows(addr, log),
            _ => false,
        }
    }

    /// Whether the egress policy lets a socket reach `addr`; a refusal is logged with its reason.
    fn policy_allows(&self, addr: SocketAddr, log: &LogSource) -> bool {
        match self.policy.check(addr.ip()) {
            Ok(()) => true,
            Err(denied) => {
                log.runtime_line(format!("outbound connection to {addr} denied ({})", denied.reason));
                false
            }
        }
    }
}

/// The `wasi:http` hooks of one instance: its requests go out under the node's policy.
pub(crate) struct OutboundHooks {
    outbound: Arc<Outbound>,
    log: LogSource,
}

impl OutboundHooks {
    pub fn new(outbound: Arc<Outbound>, log: LogSource) -> Self {
        OutboundHooks { outbound, log }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    /// wasmtime's own list, without the default's `Arc` made for every header of every incoming
    /// request (7 allocations a request through the router, ~5% of its allocations).
    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send> {
        drop(fut);
        let (outbound, log) = (self.outbound.clone(), self.log.clone());
        Box::new(async move {
            let (res, io) = send(&outbound, &log, request, options.unwrap_or_default()).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture))
        })
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        let rustls = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(_)) = rustls {
            ErrorCode::TlsCertificateError
        } else {
            ErrorCode::TlsProtocolError
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// The webpki roots, once per process (the default hook builds them for every request).
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// Connects to a checked address of the request's authority (TLS for https), or refuses.
async fn connect(
    outbound: &Outbound,
    log: &LogSource,
    uri: &http::Uri,
    connect_timeout: Duration,
) -> Result<Box<dyn Stream>, Error> {
    let tls = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let connect = async {
        let addrs = outbound.destinations(host, port, tls).await?;
        connect_any(host, port, &addrs).await
    };
    let stream = match tokio::time::timeout(connect_timeout, connect).await {
        Err(_) => return Err(Error::ConnectionTimeout),
        Ok(Ok(stream)) => stream,
        Ok(Err(EgressError::Denied { denied, .. })) => {
            let to = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                Ok(_) => format!("{host}:{port}"),
                Err(_) => format!("{host}:{port} ({})", denied.addr),
            };
            log.runtime_line(format!("outbound request to {to} denied ({})", denied.reason));
            return Err(Error::HttpRequestDenied);
        }
        Ok(Err(EgressError::Connect { source, .. })) => return Err(Error::Connect(source)),
        Ok(Err(e)) => return Err(Error::DnsError { rcode: Some(e.to_string()), info_code: None }),
    };
    if !tls {
        return Ok(Box::new(stream));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    // As wasmtime-wasi-http's default sender answers a name TLS cannot verify.
    let name = rustls::pki_types::ServerName::try_from(bare.to_owned())
        .map_err(|_| Error::DnsError { rcode: Some("invalid dns name".into()), info_code: None })?;
    let stream = tls_connector().connect(name, stream).await.map_err(Error::Tls)?;
    Ok(Box::new(stream))
}

/// Sends `req` as `default_send_request` does, over a connection [`connect`] made.
async fn send(
    outbound: &Outbound,
    log: &LogSource,
    mut req: http::Request<WasiBody>,
    options: RequestOptions,
) -> Result<(http::Response<ResponseBody>, impl Future<Output = Result<(), Error>> + Send + use<>), Error> {
    const DEFAULT: Duration = Duration::from_secs(600);
    let connect_timeout = options.connect_timeout.unwrap_or(DEFAULT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(DEFAULT);
    // Tokio panics on an interval of zero.
    let between_bytes = options.between_bytes_timeout.unwrap_or(DEFAULT).max(Duration::from_nanos(1));

    let stream = connect(outbound, log, req.uri(), connect_timeout).await?;
    let (mut sender, conn) =
        tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
    // The request line carries the path only (scheme and authority are for proxies).
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut conn = Some(conn);
    let response = async {
        let res = tokio::time::timeout(first_byte_timeout, sender.send_request(req))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut timeout = tokio::time::interval(between_bytes);
        timeout.reset();
        Ok::<_, Error>(res.map(|incoming| ResponseBody { incoming, timeout }))
    };
    let mut response = std::pin::pin!(response);
    // Wait for the response while driving the connection.
    let res = std::future::poll_fn(|cx| {
        if let Poll::Ready(res) = response.as_mut().poll(cx) {
            return Poll::Ready(res);
        }
        let Some(c) = conn.as_mut() else { return Poll::Pending };
        let done = ready!(Pin::new(c).poll(cx));
        conn = None;
        match done {
            Ok(()) => response.as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(Error::from(e))),
        }
    })
    .await?;
    Ok((res, async move {
        match conn {
            None => Ok(()),
            Some(conn) => conn.await.map_err(|e| if e.is_timeout() { Error::HttpResponseTimeout } else { e.into() }),
        }
    }))
}

/// A response body with the request options' between-bytes timeout.
struct ResponseBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(if e.is_timeout() { Error::HttpResponseTimeout } else { e.into() })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_route_serves_one_label_under_the_domain() {
        let route = AppsRoute::new("Apps.Example.", "127.0.0.1:8080".parse().unwrap());
        for (host, yes) in [
            ("shop.apps.example", true),
            ("SHOP.APPS.EXAMPLE.", true),
            ("apps.example", false),
            (".apps.example", false),
            ("a.b.apps.example", false),
            ("shopapps.example", false),
            ("shop.apps.example.evil", false),
            ("é.apps.example", true),
        ] {
            assert_eq!(route.serves(host), yes, "{host}");
        }
        assert_eq!(AppsRoute::new("a", "0.0.0.0:80".parse().unwrap()).router, "127.0.0.1:80".parse().unwrap());
        assert_eq!(AppsRoute::new("a", "[::]:80".parse().unwrap()).router, "[::1]:80".parse().unwrap());
    }
}
