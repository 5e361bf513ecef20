//! paas-node: one node of paas, assembled in one place (being moved here from `cli`,
//! `platform/src/server.rs` and `runtime/src/supervisor`).
