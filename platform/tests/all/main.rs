//! The integration tests of paas-platform, in one binary: the Platform API tested in-process,
//! on SQLite and PostgreSQL ledgers. The ledger's own conformance suite is paas-ledger's; its
//! backends (and its add-on fixture) are shared by path.

#[macro_use]
#[path = "../../../ledger/tests/all/backends.rs"]
mod backends;
#[allow(dead_code)]
#[path = "../../../ledger/tests/all/addon_ledger.rs"]
mod addon_ledger;
mod addon_rehost;
mod addon_storage;
mod api;
mod api_addons;
mod api_metrics;
mod autoscale;
mod api_pipelines;
mod api_redis;
mod changes;
mod drains;
mod fuzz_corpus;
mod grid;
mod grid_platform;
mod grid_slugs;
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

/// Whether the tests run as root (network namespaces, other users' processes).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}
