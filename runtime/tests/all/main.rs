//! The one integration test binary of paas-runtime: real wasmtime, real components built from
//! source (`tests/guests`, `examples/`), real hyper requests.

mod addon_sockets;
mod command;
mod density;
mod egress;
mod examples;
mod fs;
mod languages;
mod limits;
mod load;
mod logs;
mod native;
mod native_limits;
mod runc;
mod tenants;
mod util;
mod web;
