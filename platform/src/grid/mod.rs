//! The dyno grid: several `paas server` nodes sharing one PostgreSQL ledger. [`placement`] decides
//! which node runs which dyno (a pure function).

pub mod placement;
