//! The integration tests of paas-platform, in one binary: the ledger conformance suite (SQLite
//! and PostgreSQL) and the Platform API tested in-process.

mod addon_ledger;
mod addon_storage;
mod api;
mod api_addons;
mod api_metrics;
mod autoscale;
mod api_pipelines;
mod api_redis;
mod app_setups;
mod backends;
mod changes;
mod drains;
mod fuzz_corpus;
mod grid;
mod grid_platform;
mod grid_slugs;
mod ledger;
mod limits;
mod listeners;
mod log_sessions;
mod logs;
mod openapi;
mod permissions;
mod release_phase;
mod scheduler;
mod sni_endpoints;
mod teams;
mod webhook_kinds;
