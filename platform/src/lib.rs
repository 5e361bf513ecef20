//! paas-platform: the control plane — domain types (`App`, `Release`, `Formation`, …), the
//! append-only release ledger (sqlx: SQLite by default, PostgreSQL at scale), the Heroku Platform
//! API v3 (axum), authentication, and the scheduler that turns formations into dynos.
