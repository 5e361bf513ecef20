//! paas-platform: the control plane — the Heroku Platform API v3 (axum), authentication, deploys,
//! logplex, add-on services, the scheduler and the grid (composed into a node by paas-node),
//! over the append-only release ledger and its domain types (`App`, `Release`, `Formation`, …),
//! which are in paas-ledger and re-exported here.

pub mod addons;
pub mod certs;
pub mod logplex;
pub mod names;
pub mod webhooks;

// The ledger, its records and the secrets it stores live in paas-ledger; their paths here stay
// as they were (`paas_platform::model::App`, `crate::ledger::Ledger`).
pub use paas_ledger::{Ledger, LedgerError, access, auth, ledger, model, pipelines, setups};
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
