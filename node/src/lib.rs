//! paas-node: one node of paas, assembled in one place. `paas server` parses its flags into a
//! [`NodeConfig`] and calls [`run`]; everything else the server runs starts from there.
//!
//! - [`server`]: the composition root. It opens the ledger, makes the operator on first start,
//!   starts the wasm runtime (`paas-runtime`) and the native one (runc, `paas-sandbox`), the
//!   builder and git endpoint (`paas-builder`, with [`precompile`] compiling each new slug for
//!   this node's engine), logplex, the grid agent, the Platform API, the rendezvous of one-off
//!   dynos, the scheduler, autoscaling and the add-on services (all `paas-platform`), then the
//!   serving side below, and stops everything on SIGTERM / SIGINT.
//! - [`supervisor`]: reconciles each app's desired formation with the dynos running on this
//!   node and publishes the up web dynos into the router's table (`paas-router`).
//! - `serve`: the serving side: the router on its listeners, the supervisor driven from the
//!   ledger (every app at start, one app on each change the API reports, a periodic sweep), the
//!   desired state of each app (its release's slug unpacked once per node), one-off dynos, the
//!   dyno directory the API lists, log feeding and metrics sampling, and on a grid the routes
//!   to other nodes' dynos.
//!
//! `paas-runtime` only runs dynos; `paas-platform` only knows the serving side through
//! `paas_platform::serving` (the change feed and the `DynoDirectory` the API lists and starts
//! one-off dynos with), which this crate implements.

mod error;
pub mod precompile;
mod serve;
pub mod server;
pub mod supervisor;

pub use error::ServeError;
pub use server::{Buildpacks, NodeConfig, run};
