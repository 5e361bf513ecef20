//! Routing across the nodes of a grid: a request for an app with no web dyno on this node goes
//! to another node's router that runs one ([`PeerBackend`], one keep-alive pool per node), which
//! serves it with its own dynos and never sends it on.
//!
//! The hop is authenticated: the sending node puts its credential (its node key) in
//! [`X_PAAS_HOP`]; the receiving router asks its [`Peers`] whether it is a node's. Only then does
//! it keep the `X-Forwarded-*`, `X-Request-Id` and `X-Request-Start` the sending router set (the
//! original client's), serve the request with local dynos only, and leave the router log line to
//! the sending router, telling it the outcome in [`X_PAAS_CODE`] / [`X_PAAS_DYNO`]. The header is
//! removed from every request, vouched for or not, so no dyno ever sees a node's credential, and
//! a forged one is an ordinary outside request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue, Request};

use crate::backend::{Backend, BackendError, BackendFuture, BoxError, RouterBody};
use crate::log::ErrorCode;
use crate::tcp::TcpBackend;

/// Request header: the sending node's credential (`Node <key>`).
pub static X_PAAS_HOP: HeaderName = HeaderName::from_static("x-paas-hop");
/// Response header of a hop: the router error code the serving node answered with.
pub static X_PAAS_CODE: HeaderName = HeaderName::from_static("x-paas-router-code");
/// Response header of a hop: the dyno that served it (`web.2`).
pub static X_PAAS_DYNO: HeaderName = HeaderName::from_static("x-paas-dyno");

/// Who this router takes forwarded requests from: the nodes of its grid.
pub trait Peers: Send + Sync + 'static {
    /// Whether `credential` (the value of [`X_PAAS_HOP`]) is a node's. Called once per forwarded
    /// request: it must not wait on I/O.
    fn vouch(&self, credential: &HeaderValue) -> bool;
}

/// Removes [`X_PAAS_HOP`] from a request; whether a node sent it (`peers` vouched for it).
pub(crate) fn take_hop(headers: &mut HeaderMap, peers: Option<&dyn Peers>) -> bool {
    match headers.remove(&X_PAAS_HOP) {
        Some(credential) => peers.is_some_and(|peers| peers.vouch(&credential)),
        None => false,
    }
}

/// What the serving node said of a forwarded request that it answered, carried in the response's
/// extensions to the sending router's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Served {
    /// Its router error code, if it answered with one.
    pub(crate) code: Option<ErrorCode>,
    /// The dyno that served it.
    pub(crate) dyno: Option<String>,
}

/// Why another node gave no response.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The node's router could not be reached: the node is down or cut off. The platform's own
    /// failure, not the app's: H99 when no other dyno can take the request.
    #[error("node unreachable: {0}")]
    Down(#[source] BoxError),
    /// The node runs no web dyno of the app that is up (placed there but still starting, or just
    /// moved away): its H14, or H10 when its dyno crashed.
    #[error("the node has no web dyno of the app up ({0})")]
    NoDyno(ErrorCode),
}

impl PeerError {
    /// The router error code a request gets when this was the last dyno tried.
    pub(crate) fn code(error: &BoxError) -> Option<ErrorCode> {
        match error.downcast_ref::<PeerError>()? {
            PeerError::Down(_) => Some(ErrorCode::H99),
            PeerError::NoDyno(code) => Some(*code),
        }
    }
}

/// Connecting to another node's router gives up after this: the node is unreachable.
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A node found unreachable is not tried again for this long: requests go straight to the app's
/// other dynos rather than each waiting for its own connect to fail (a machine gone off the
/// network answers nothing until the connect timeout).
const PEER_DOWN_FOR: Duration = Duration::from_secs(1);

/// Another node's router, reached over a pool of keep-alive connections of its own; every
/// request carries this node's credential. Clones share the pool: one per node, shared by the
/// route entries of all the dynos that node runs.
#[derive(Clone, Debug)]
pub struct PeerBackend {
    router: TcpBackend,
    credential: HeaderValue,
    /// Until when the node counts as unreachable (its last connect failed).
    down_until: Arc<Mutex<Option<Instant>>>,
}

impl PeerBackend {
    /// A node whose router listens at `addr`; `credential` is what its [`Peers`] checks.
    pub fn new(addr: SocketAddr, credential: HeaderValue) -> Self {
        let mut credential = credential;
        credential.set_sensitive(true);
        let router = TcpBackend::with_connect_timeout(addr, PEER_CONNECT_TIMEOUT);
        PeerBackend { router, credential, down_until: Arc::default() }
    }

    fn down_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.down_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node's router address.
    pub fn addr(&self) -> SocketAddr {
        self.router.addr()
    }
}

impl Backend for PeerBackend {
    fn call(&self, mut req: Request<RouterBody>) -> BackendFuture {
        if self.down_until().is_some_and(|until| Instant::now() < until) {
            let error = Box::new(PeerError::Down("unreachable a moment ago".into()));
            return Box::pin(std::future::ready(Err(BackendError::Unreachable(error))));
        }
        req.headers_mut().insert(X_PAAS_HOP.clone(), self.credential.clone());
        let sent = self.router.call(req);
        let down_until = self.down_until.clone();
        Box::pin(async move {
            let mut response = match sent.await {
                Ok(response) => response,
                Err(BackendError::Unreachable(error)) => {
                    *down_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + PEER_DOWN_FOR);
                    return Err(BackendError::Unreachable(Box::new(PeerError::Down(error))));
                }
                Err(other) => return Err(other),
            };
            let headers = response.headers_mut();
            let code = headers.remove(&X_PAAS_CODE).and_then(|v| parse_code(v.to_str().ok()?));
            let dyno = headers.remove(&X_PAAS_DYNO).and_then(|v| v.to_str().ok().map(str::to_string));
            if let Some(code @ (ErrorCode::H10 | ErrorCode::H14)) = code {
                // Another dyno may take it (the router tries the others when it can replay it).
                return Err(BackendError::Unreachable(Box::new(PeerError::NoDyno(code))));
            }
            response.extensions_mut().insert(Served { code, dyno });
            Ok(response)
        })
    }
}

/// Marks a response of this router to a forwarded request with its outcome, for the sending
/// router's log line: the error code, or the dyno that served it.
pub(crate) fn mark_served(headers: &mut HeaderMap, code: Option<ErrorCode>, dyno: Option<&str>) {
    headers.remove(&X_PAAS_CODE);
    headers.remove(&X_PAAS_DYNO);
    if let Some(code) = code {
        headers.insert(X_PAAS_CODE.clone(), HeaderValue::from_static(code.as_str()));
    }
    if let Some(value) = dyno.and_then(|d| HeaderValue::from_str(d).ok()) {
        headers.insert(X_PAAS_DYNO.clone(), value);
    }
}

/// `H12` → [`ErrorCode::H12`].
fn parse_code(text: &str) -> Option<ErrorCode> {
    use ErrorCode::*;
    [H10, H12, H13, H14, H15, H25, H27, H80, H99].into_iter().find(|code| code.as_str() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Only(&'static str);

    impl Peers for Only {
        fn vouch(&self, credential: &HeaderValue) -> bool {
            credential == self.0
        }
    }

    #[test]
    fn the_hop_header_is_removed_whether_or_not_a_node_sent_it() {
        let mut headers = HeaderMap::new();
        headers.insert(X_PAAS_HOP.clone(), HeaderValue::from_static("Node forged"));
        assert!(!take_hop(&mut headers, Some(&Only("Node real"))));
        assert!(headers.is_empty());
        headers.insert(X_PAAS_HOP.clone(), HeaderValue::from_static("Node real"));
        assert!(!take_hop(&mut headers, None), "a router without peers takes no hop");
        assert!(headers.is_empty());
        headers.insert(X_PAAS_HOP.clone(), HeaderValue::from_static("Node real"));
        assert!(take_hop(&mut headers, Some(&Only("Node real"))));
        assert!(headers.is_empty());
        assert!(!take_hop(&mut headers, Some(&Only("Node real"))));
    }

    #[tokio::test]
    async fn a_node_found_unreachable_is_not_tried_again_for_a_moment() {
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let peer = PeerBackend::new(addr, HeaderValue::from_static("Node k"));
        let call = || peer.call(Request::new(crate::backend::empty_body()));
        let Err(BackendError::Unreachable(first)) = call().await else { panic!("a closed port is unreachable") };
        assert!(first.to_string().contains("node unreachable") && !first.to_string().contains("a moment ago"), "{first}");
        // Something listens there now, but the node counts as down for PEER_DOWN_FOR.
        let _listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let Err(BackendError::Unreachable(second)) = call().await else { panic!("not tried") };
        assert!(second.to_string().contains("a moment ago"), "{second}");
        assert_eq!(PeerError::code(&second), Some(ErrorCode::H99));
    }

    #[test]
    fn codes_round_trip_and_unknown_ones_are_none() {
        for code in [ErrorCode::H10, ErrorCode::H12, ErrorCode::H99, ErrorCode::H27] {
            assert_eq!(parse_code(code.as_str()), Some(code));
        }
        assert_eq!(parse_code("H1"), None);
        let mut headers = HeaderMap::new();
        headers.insert(X_PAAS_CODE.clone(), HeaderValue::from_static("H99"));
        mark_served(&mut headers, None, Some("web.2"));
        assert!(!headers.contains_key(&X_PAAS_CODE), "a dyno's own header does not pass for the router's");
        assert_eq!(headers[&X_PAAS_DYNO], "web.2");
    }
}
