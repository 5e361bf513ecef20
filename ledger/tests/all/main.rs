//! The integration tests of paas-ledger, in one binary: the conformance suite, each check run
//! against SQLite and against a real PostgreSQL (`backends`).

#[macro_use]
mod backends;
mod addon_ledger;
mod app_setups;
mod ledger;
mod teams;
