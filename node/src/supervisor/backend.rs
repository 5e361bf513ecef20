//! The router's view of a wasm web dyno: [`WasmBackend`] implements `paas_router::Backend` over
//! [`WebDyno::handle`], called in-process, mapping the dyno's errors to the router's codes.

use http::Request;
use http_body_util::BodyExt;
use paas_router::{Backend, BackendError, BackendFuture, RouterBody, into_router_body};

use paas_runtime::{BodyError, HandleError, WebDyno};

/// A wasm web dyno as a router backend.
#[derive(Clone)]
pub struct WasmBackend(pub WebDyno);

impl Backend for WasmBackend {
    fn call(&self, req: Request<RouterBody>) -> BackendFuture {
        call(self.0.clone(), req)
    }
}

/// Serves `req` on `dyno` (taken, not cloned again: its count is a line every serving thread
/// writes).
pub(crate) fn call(dyno: WebDyno, req: Request<RouterBody>) -> BackendFuture {
    // The router's body errors (e.g. over the size limit) become the guest's body errors.
    let req = req.map(|body| body.map_err(|e| BodyError::InternalError(Some(e.to_string()))));
    Box::pin(async move {
        match dyno.handle(req).await {
            Ok(response) => {
                // The guest's call ran in this request's own task (most do). Before its response
                // is written, the other requests ready on this thread take their turn: under load
                // the thread runs their calls one after another and then writes their responses
                // together, as `wasmtime serve` does by handing requests to instance tasks. A
                // client on the same cores (a benchmark's, a proxy's, another app's) is then
                // woken once for many responses, not once for each: on 2 cores with wrk, a
                // quarter fewer involuntary context switches of the server and 4 % less CPU
                // per request (README, Performance). Idle, it costs one more poll of the task.
                tokio::task::yield_now().await;
                Ok(response.map(into_router_body))
            }
            Err(e) => Err(backend_error(e)),
        }
    })
}

/// Maps a wasm dyno's failure to the router's: gone or cannot instantiate → unreachable (another
/// dyno is tried, then H10); trap, memory, no response → closed without response (H13); its own
/// deadline → timeout (H12); a `wasi:http` error code → other (H99).
pub fn backend_error(e: HandleError) -> BackendError {
    match e {
        HandleError::Stopped | HandleError::Instantiate(_) => BackendError::Unreachable(Box::new(e)),
        HandleError::Trap(_)
        | HandleError::MemoryExceeded { .. }
        | HandleError::AppMemoryExceeded { .. }
        | HandleError::NoResponse => {
            BackendError::ClosedWithoutResponse(Some(Box::new(e)))
        }
        HandleError::Timeout(_) => BackendError::Timeout,
        HandleError::Guest(_) => BackendError::Other(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn errors_map_to_heroku_codes() {
        assert!(matches!(backend_error(HandleError::Stopped), BackendError::Unreachable(_)));
        assert!(matches!(backend_error(HandleError::Instantiate("x".into())), BackendError::Unreachable(_)));
        assert!(matches!(backend_error(HandleError::Trap("x".into())), BackendError::ClosedWithoutResponse(_)));
        assert!(matches!(backend_error(HandleError::NoResponse), BackendError::ClosedWithoutResponse(_)));
        assert!(matches!(backend_error(HandleError::Timeout(Duration::from_secs(30))), BackendError::Timeout));
        assert!(matches!(backend_error(HandleError::Guest("x".into())), BackendError::Other(_)));
    }
}
