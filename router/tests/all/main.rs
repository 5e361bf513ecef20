//! paas-router integration tests: a real router on 127.0.0.1:0, real hyper clients, native dynos
//! played by small hyper servers, and closure backends for fault injection.

mod support;

mod errors;
mod grid;
mod headers;
mod logs;
mod pool;
mod routing;
mod server;
mod wire;
