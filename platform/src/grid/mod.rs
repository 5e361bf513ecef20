//! The dyno grid: every `paas server` is a node of its ledger. On SQLite it is the only one; on
//! PostgreSQL several share the ledger. Each node registers (addresses, capacity), heartbeats and
//! holds a lease ([`agent`]); one node at a time is the coordinator ([`coordinator`]), which
//! fences nodes whose lease expired and writes the placement [`placement::plan`] computes; each
//! node runs the dynos assigned to it at its current epoch. Node-to-node requests authenticate
//! with the node's key ([`auth`]); a node fetches a slug it lacks from another ([`slugs`]). From
//! the outside the grid is one platform: any node lists an app's dynos of every node
//! ([`dynos`]) and collates its log stream from every node ([`logs`]), asking them through
//! [`peers`].

pub mod agent;
pub mod auth;
pub mod coordinator;
pub mod dynos;
pub mod logs;
pub mod peers;
pub mod placement;
pub mod slugs;

pub use paas_ledger::grid::{Assignment, Capacity, DynoAction, Leadership, Node, NodeLedger, NodeRegistration};
