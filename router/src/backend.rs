//! The seam between the router and a dyno: the [`Backend`] trait, the body type both sides speak,
//! and [`BackendError`], which decides the Heroku error code of a failed call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// A boxed error, as carried by bodies and backend failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body of requests handed to a backend and of the responses it returns.
///
/// Any `http_body::Body<Data = Bytes>` that is `Send + 'static` converts with [`into_router_body`];
/// a hyper client's `Incoming` and `wasmtime-wasi-http`'s `HyperOutgoingBody` (an `UnsyncBoxBody`,
/// hence not `Sync`) both do.
pub type RouterBody = UnsyncBoxBody<Bytes, BoxError>;

/// The future a [`Backend`] returns.
pub type BackendFuture =
    Pin<Box<dyn Future<Output = Result<Response<RouterBody>, BackendError>> + Send + 'static>>;

/// One web dyno as the router sees it: something that answers an HTTP request.
///
/// A wasm dyno is called in-process; a native dyno over TCP ([`crate::TcpBackend`]). The router
/// drops the returned future when the request times out (H12) or the client goes away, so a
/// backend must not rely on being polled to completion.
///
/// Upgrades (WebSocket): a request with `Connection: upgrade` reaches the backend with its
/// `Upgrade` header; a backend that answers `101` with hyper's `OnUpgrade` in the response's
/// extensions (as [`crate::TcpBackend`] does) gets its connection spliced to the client's.
pub trait Backend: Send + Sync + 'static {
    /// Serves one request. The request's `Host` header is the one the client sent; its URI is in
    /// origin form (`/path?query`); `X-Request-Id`, `X-Forwarded-*` and `Via` are set.
    fn call(&self, req: Request<RouterBody>) -> BackendFuture;
}

impl<B: Backend + ?Sized> Backend for Arc<B> {
    fn call(&self, req: Request<RouterBody>) -> BackendFuture {
        (**self).call(req)
    }
}

/// Why a backend gave no response. Each kind maps to one Heroku error code.
///
/// For an in-process wasm dyno (`paas_runtime::WebDyno::handle`), the natural mapping is:
/// stopped or cannot instantiate → [`Unreachable`](Self::Unreachable) (another dyno is tried,
/// then H10); trap, memory limit, no response → [`ClosedWithoutResponse`](Self::ClosedWithoutResponse)
/// (H13, as a native process dying mid-request); its own deadline → [`Timeout`](Self::Timeout) (H12);
/// anything else → [`Other`](Self::Other) (H99).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The dyno could not be reached (connection refused, nothing listening, dyno gone).
    /// The router tries the app's other web dynos when the request has no body, then answers H10.
    #[error("dyno unreachable: {0}")]
    Unreachable(#[source] BoxError),
    /// The dyno accepted the request and closed the connection without a response (H13).
    #[error("connection closed without response")]
    ClosedWithoutResponse(#[source] Option<BoxError>),
    /// The dyno gave up on the request itself, past its deadline (H12, as the router's own timeout).
    #[error("dyno timed out")]
    Timeout,
    /// Anything else (H99).
    #[error("backend error: {0}")]
    Other(#[source] BoxError),
}

/// How long a backend spent getting a connection to its dyno, reported in the router log line's
/// `connect=` field. A backend may insert it into its response's extensions; the router takes
/// `0ms` otherwise (an in-process call has no connect phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectTime(pub Duration);

/// Boxes any body into a [`RouterBody`].
pub fn into_router_body<B>(body: B) -> RouterBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// A [`RouterBody`] holding `bytes`.
pub fn full_body(bytes: impl Into<Bytes>) -> RouterBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// An empty [`RouterBody`].
pub fn empty_body() -> RouterBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A [`Backend`] made of a closure, for in-process dynos and tests.
///
/// ```
/// use paas_router::{FnBackend, full_body};
/// let hello = FnBackend::new(|_req| async { Ok(http::Response::new(full_body("hi"))) });
/// ```
pub struct FnBackend<F>(F);

impl<F, Fut> FnBackend<F>
where
    F: Fn(Request<RouterBody>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<RouterBody>, BackendError>> + Send + 'static,
{
    /// Wraps `f`, called once per request.
    pub fn new(f: F) -> Self {
        FnBackend(f)
    }
}

impl<F, Fut> Backend for FnBackend<F>
where
    F: Fn(Request<RouterBody>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<RouterBody>, BackendError>> + Send + 'static,
{
    fn call(&self, req: Request<RouterBody>) -> BackendFuture {
        Box::pin((self.0)(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that is `Send` but not `Sync`, like `wasmtime-wasi-http`'s `HyperOutgoingBody`.
    struct NotSync(std::cell::Cell<bool>);

    impl http_body::Body for NotSync {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            let first = self.0.replace(false);
            std::task::Poll::Ready(first.then(|| Ok(http_body::Frame::data(Bytes::from_static(b"wasm")))))
        }
    }

    #[tokio::test]
    async fn bodies_that_are_not_sync_become_router_bodies() {
        let body = into_router_body(NotSync(std::cell::Cell::new(true)));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "wasm");
    }
}
