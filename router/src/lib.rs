//! paas-router: the Host-based routing table (`<app>.<domain>` and custom domains), random choice
//! among an app's web dynos, proxying (in-process to wasm dynos, TCP to native ones), timeouts,
//! Heroku-style router log lines and error codes (H10, H12, H14, …).
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
//! Router::new(table.clone(), RouterConfig::default()).with_log(log).serve(listener).await
//! # }
//! ```

mod backend;
mod config;
mod conn;
mod headers;
mod log;
mod pages;
mod proxy;
mod server;
mod table;
mod tcp;

pub use backend::{
    Backend, BackendError, BackendFuture, BoxError, ConnectTime, FnBackend, RouterBody, empty_body,
    full_body, into_router_body,
};
pub use config::RouterConfig;
pub use headers::{is_valid_request_id, X_FORWARDED_FOR, X_FORWARDED_PORT, X_FORWARDED_PROTO, X_REQUEST_ID};
pub use log::{ErrorCode, LogLine, MemoryLog, NoLog, RouterLog};
pub use proxy::{BodyTooLarge, ClientInfo};
pub use server::Router;
pub use table::{AppRoute, RouteTable, TableError, WebDyno, normalize_host};
pub use tcp::{TcpBackend, TcpPool};
