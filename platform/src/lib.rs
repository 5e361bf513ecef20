//! paas-platform: the control plane — domain types (`App`, `Release`, `Formation`, …), the
//! append-only release ledger (sqlx: SQLite by default, PostgreSQL at scale), the Heroku Platform
//! API v3 (axum), authentication, deploys, logplex, add-ons, the scheduler and the grid (composed
//! into a node by paas-node).

pub mod access;
pub mod addons;
pub mod auth;
pub mod certs;
pub mod ledger;
pub mod logplex;
pub mod model;
pub mod names;
pub mod pipelines;
pub mod setups;
pub mod webhooks;

pub use ledger::{Ledger, LedgerError};
pub mod api;
pub mod autoscale;
pub mod deploys;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod grid;
pub mod https;
pub mod listen;
pub mod scheduler;
pub mod rendezvous;
pub mod serving;
pub mod start_error;
pub mod tls;
