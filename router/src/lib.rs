//! paas-router: the Host-based routing table (`<app>.<domain>` and custom domains), random choice
//! among an app's web dynos, proxying (in-process to wasm dynos, TCP to native ones), timeouts,
//! Heroku-style router log lines and error codes (H10, H12, H13, H14, H15, H25, H27, H80, H99).
//!
//! Three pieces, shared through `Arc`s:
//!
//! - [`RouteTable`]: who answers which host. The dyno supervisor calls [`RouteTable::set_web`]
//!   when web dynos come up or go away, [`RouteTable::set_crashed`] when the web process crashed,
//!   the platform calls [`RouteTable::add_domain`] / [`RouteTable::set_maintenance`] /
//!   [`RouteTable::remove_app`]. Changes apply to the next request; requests in flight finish on
//!   the route they started with. On a grid, [`RouteTable::set_remote`] adds the app's web dynos
//!   on other nodes, reached through their routers ([`PeerBackend`]); they serve only while this
//!   node has no web dyno of the app up, and a router takes forwarded requests only from the
//!   nodes its [`Peers`] vouches for (`Router::with_peers`; see the `grid` module).
//! - [`Backend`]: one web dyno. [`TcpBackend`] reaches a native dyno at `<its address>:$PORT`; a wasm
//!   dyno is a small adapter over `paas_runtime::WebDyno::handle` (see [`BackendError`] for the
//!   error mapping), e.g.
//!
//!   ```ignore
//!   struct Wasm(paas_runtime::WebDyno);
//!   impl paas_router::Backend for Wasm {
//!       fn call(&self, req: http::Request<RouterBody>) -> BackendFuture {
//!           let dyno = self.0.clone();
//!           // The router's body errors (e.g. over the size limit) become the guest's body errors.
//!           let req = req.map(|body| body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string()))));
//!           Box::pin(async move {
//!               match dyno.handle(req).await {
//!                   Ok(response) => Ok(response.map(paas_router::into_router_body)),
//!                   Err(e) => Err(/* mapping: see BackendError */ BackendError::Other(e.into())),
//!               }
//!           })
//!       }
//!   }
//!   ```
//! - [`RouterLog`]: receives one [`LogLine`] per request, tagged with the app; `line.to_string()`
//!   is Heroku's router line, for the logplex to store as `heroku[router]: …`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use paas_router::{MemoryLog, RouteTable, Router, RouterConfig, TcpBackend, WebDyno};
//!
//! # async fn run() -> std::io::Result<()> {
//! let table = Arc::new(RouteTable::new("localhost"));
//! table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new("127.0.0.1:5001".parse().unwrap()))]);
//! let log = Arc::new(MemoryLog::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("router listening on http://{}/", listener.local_addr()?);
//! let router = Router::new(table.clone(), RouterConfig::default()).with_log(log);
//! router.serve_with_shutdown(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod backend;
mod config;
mod conn;
mod grid;
mod headers;
mod log;
mod metrics;
mod pages;
mod proxy;
mod server;
mod table;
mod tcp;
mod upgrade;
mod wire;

pub use backend::{
    Backend, BackendError, BackendFuture, BoxError, ConnectTime, FnBackend, RouterBody, empty_body,
    full_body, into_router_body,
};
pub use config::RouterConfig;
pub use grid::{PeerBackend, PeerError, Peers, X_PAAS_HOP};
pub use headers::{
    X_FORWARDED_FOR, X_FORWARDED_PORT, X_FORWARDED_PROTO, X_REQUEST_ID, X_REQUEST_START, is_valid_request_id,
};
pub use log::{ErrorCode, LogLine, MemoryLog, NoLog, RouterLog};
pub use proxy::{BodyTooLarge, ClientInfo};
pub use server::Router;
pub use table::{AppRoute, RouteTable, TableError, WebDyno, normalize_host};
pub use tcp::TcpBackend;
