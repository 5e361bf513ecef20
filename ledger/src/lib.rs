//! paas-ledger: every piece of paas's control-plane state, behind one trait, in SQLite (the
//! embedded default) or PostgreSQL (several nodes sharing it as a grid), through sqlx. Releases
//! are append-only: each change that makes one allocates the next version in the same
//! transaction. What the state is used for (the Platform API, deploys, the grid's agents and
//! coordinator, add-on services) is in `paas-platform`; this crate has no HTTP and no tasks.
//!
//! Its pieces:
//!
//! - [`Ledger`]: the store, in twelve parts (a `dyn Ledger` answers every part's methods;
//!   callers need not name the parts): users and keys ([`AccountLedger`]), apps and their
//!   features and drains ([`AppLedger`]), releases, config vars and formation
//!   ([`ReleaseLedger`]), domains and SNI endpoints ([`DomainLedger`]), builds and slugs
//!   ([`DeployLedger`]), collaborators and teams ([`AccessLedger`]), add-ons ([`AddonLedger`]),
//!   scheduled jobs and autoscaling ([`ScheduleLedger`]), and beside their records
//!   [`grid::NodeLedger`], [`pipelines::PipelineLedger`], [`webhooks::WebhookLedger`] and
//!   [`setups::AppSetupLedger`].
//!   [`LedgerError`] is what goes wrong.
//! - [`SqlLedger`]: the one implementation, over sqlx's `Any` driver; [`open`] connects and
//!   applies the migrations (`ledger/migrations/sqlite` or `ledger/migrations/postgres`, built
//!   into the binary), [`sqlite_url`] names the embedded file in a data dir. The conformance
//!   suite in `platform/tests/all` runs against both engines.
//! - The records it reads and writes: [`model`] (users, apps, releases, formations, domains,
//!   SNI endpoints, builds, slugs, drains, features, scheduled jobs), [`access`] (permissions,
//!   teams, and [`access::permissions_of`], the rule the ledger's listings filter by),
//!   [`addons`], [`grid`] (nodes, leases, dyno assignments), [`pipelines`], [`webhooks`],
//!   [`setups`], [`autoscale`] (policies) and [`sizes`] (dyno sizes).
//! - [`auth`]: the secrets it stores hashed: API keys (SHA-256) and passwords (Argon2id, off the
//!   async workers).
//!
//! ```no_run
//! # async fn run() -> paas_ledger::Result<()> {
//! let url = paas_ledger::sqlite_url(std::path::Path::new("/var/lib/paas"));
//! let ledger = paas_ledger::open(&url).await?;
//! let (user, _key) = ledger.create_user("op@example.com", None, true).await?;
//! let app = ledger.create_app("hello", user.id).await?;
//! assert_eq!(ledger.current_release(app.id).await?.map(|r| r.version), Some(1));
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod addons;
pub mod auth;
pub mod autoscale;
pub mod grid;
pub mod ledger;
pub mod model;
pub mod pipelines;
pub mod setups;
pub mod sizes;
pub mod webhooks;

pub use ledger::{
    AccessLedger, AccountLedger, AddonLedger, AppFilter, AppLedger, AppUpdate, DeployLedger, DomainLedger, Ledger, LedgerError,
    ReleaseLedger, Result, ScheduleLedger, SqlLedger, open, sqlite_url,
};
