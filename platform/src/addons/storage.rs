//! Heroku Postgres storage limits, enforced as Heroku does for Essential plans: every 30 s the
//! size of each add-on's database (`pg_database_size`) is held against its plan's
//! [`storage_mib`](super::catalog::Plan::storage_mib). Over it, the add-on's role loses write
//! access: its sessions are ended and new ones are read-only (`ALTER ROLE … SET
//! default_transaction_read_only = on`); the owning app's log says so as
//! `app[heroku-postgres]`. Freeing space takes a read-write transaction (`BEGIN READ WRITE;
//! TRUNCATE …` or `DROP TABLE`), or a bigger plan. A role that writes on anyway (read-only is
//! its sessions' default, which it may change) and grows past 110 % of the limit may no longer
//! log in (`NOLOGIN`). Back under the limit, both are lifted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor};

use super::postgres::PostgresService;
use super::{AddonError, AddonFilter, catalog};
use crate::ledger::Ledger;
use crate::logplex::{Logplex, Source};

/// How often the sizes are checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// What a check did to one add-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageChange {
    /// Over its limit: sessions ended, new ones read-only.
    Restricted,
    /// Far over its limit while restricted: its role may not log in.
    LockedOut,
    /// Back under its limit: write access (and login) restored.
    Restored,
}

/// The periodic check of Heroku Postgres add-ons' sizes (see the module docs).
pub struct StorageEnforcer {
    ledger: Arc<dyn Ledger>,
    logs: Logplex,
    postgres: Arc<PostgresService>,
    limit_override: Option<u64>,
}

impl StorageEnforcer {
    /// The enforcer of the add-ons in `ledger` on `postgres`, logging to `logs`.
    pub fn new(ledger: Arc<dyn Ledger>, logs: Logplex, postgres: Arc<PostgresService>) -> StorageEnforcer {
        StorageEnforcer { ledger, logs, postgres, limit_override: None }
    }

    /// Every plan's limit is `bytes` instead (tests fill a real database past a small limit).
    pub fn with_limit(mut self, bytes: u64) -> StorageEnforcer {
        self.limit_override = Some(bytes);
        self
    }

    /// Checks every `every` until `stop` completes.
    pub async fn run(self, every: Duration, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = self.check_now().await {
                tracing::warn!("cannot check the Heroku Postgres add-ons' sizes: {e}");
            }
        }
    }

    /// Checks every Heroku Postgres add-on now; gives back the add-ons (by name) it changed.
    pub async fn check_now(&self) -> Result<Vec<(String, StorageChange)>, AddonError> {
        let addons = self.ledger.list_addons(AddonFilter::All).await.map_err(|e| AddonError::Unavailable(e.to_string()))?;
        let addons: Vec<_> = addons.into_iter().filter(|a| a.service == catalog::POSTGRES).collect();
        if addons.is_empty() {
            return Ok(Vec::new());
        }
        let (mut admin, _, _) = self.postgres.admin().await?;
        let mut changes = Vec::new();
        for addon in addons {
            let Ok((_, plan)) = catalog::resolve_plan(&addon.plan_name()) else { continue };
            let limit = self.limit_override.unwrap_or(plan.storage_mib * 1024 * 1024);
            match enforce(&mut admin, &addon.provider_id, limit).await {
                Ok(Some((change, size))) => {
                    let text = message(&change, &addon.name, &addon.plan_name(), size, limit);
                    self.logs.publish(&addon.app_name, Source::App, "heroku-postgres", &text);
                    tracing::info!("{}: {text}", addon.app_name);
                    changes.push((addon.name.clone(), change));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot check the size of add-on {}: {e}", addon.name),
            }
        }
        let _ = admin.close().await;
        Ok(changes)
    }
}

/// The owning app's log line for a change.
fn message(change: &StorageChange, name: &str, plan: &str, size: u64, limit: u64) -> String {
    let mib = |bytes: u64| format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0));
    match change {
        StorageChange::Restricted => format!(
            "{name} ({plan}) uses {} of its {} storage limit: write access revoked (sessions ended, new ones \
             read-only). Free space (TRUNCATE or DROP in a read-write transaction) or upgrade the plan.",
            mib(size),
            mib(limit)
        ),
        StorageChange::LockedOut => format!(
            "{name} ({plan}) uses {} of its {} storage limit and kept writing: logins refused until it is back \
             under the limit (upgrade the plan).",
            mib(size),
            mib(limit)
        ),
        StorageChange::Restored => {
            format!("{name} ({plan}) uses {} of its {} storage limit: write access restored.", mib(size), mib(limit))
        }
    }
}

/// Holds one database against its limit; the change made, if any, and its size.
async fn enforce(
    admin: &mut sqlx::PgConnection,
    role: &str,
    limit: u64,
) -> Result<Option<(StorageChange, u64)>, sqlx::Error> {
    if !super::postgres::is_resource_name(role) {
        return Ok(None);
    }
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size($1)").bind(role).fetch_one(&mut *admin).await?;
    let size = size.max(0) as u64;
    let (can_login, read_only): (bool, bool) = sqlx::query_as(
        "SELECT rolcanlogin, coalesce(rolconfig, '{}') @> ARRAY['default_transaction_read_only=on'] \
         FROM pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_one(&mut *admin)
    .await?;
    let over = size > limit;
    let far_over = size > limit + limit / 10;
    let change = if !over && (read_only || !can_login) {
        admin.execute(sqlx::AssertSqlSafe(format!("ALTER ROLE {role} RESET default_transaction_read_only"))).await?;
        admin.execute(sqlx::AssertSqlSafe(format!("ALTER ROLE {role} LOGIN"))).await?;
        StorageChange::Restored
    } else if over && !read_only {
        admin.execute(sqlx::AssertSqlSafe(format!("ALTER ROLE {role} SET default_transaction_read_only = on"))).await?;
        StorageChange::Restricted
    } else if far_over && can_login {
        admin.execute(sqlx::AssertSqlSafe(format!("ALTER ROLE {role} NOLOGIN"))).await?;
        StorageChange::LockedOut
    } else {
        return Ok(None);
    };
    // Sessions pick up a role's settings when they start: end those running.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
        .bind(role)
        .execute(&mut *admin)
        .await?;
    Ok(Some((change, size)))
}
