//! Metrics over time and what follows from them: each app's one-minute series is closed at the
//! turn of every minute ([`close_minutes`]), and process types with autoscaling on are scaled
//! to keep their p95 response time under a target ([`Autoscaler`]).
//!
//! Autoscaling, as Heroku's (a paas extension of the API: `PUT /apps/{app}/formation/{type}/autoscaling`):
//! every [`Autoscaler::every`] (60 s; `paas server --autoscale-every`), each enabled process
//! type's p95 response time over that window (the router's histogram, this node's requests) is
//! compared with its target:
//!
//! - above the target: scale up in proportion, `ceil(quantity × p95 / target)`, at least one more;
//! - under half the target, or no requests: one dyno fewer;
//! - always within `min..=max`, and for a wasm app within the dyno size's instance budget
//!   ([`wasm_ceiling`]): the app's memory share holds that many instances of the size at its limit.
//!
//! A decision is an ordinary scale (a formation change in the ledger, applied by the supervisor)
//! and one `app[api]` line in the app's log stream, as `ps:scale` writes:
//! `Scaled to web@3:Basic by autoscaling (p95 412 ms > target 200 ms)`.

mod policy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use paas_metrics::{Buckets, Metrics};

use crate::ledger::Ledger;
use crate::model::{FormationUpdate, Quantity};
use crate::serving::{Change, Changes};

pub use policy::{Decision, Policy, decide, wasm_ceiling};

/// How often autoscaling decides by default (Heroku: within a minute).
pub const EVERY: Duration = Duration::from_secs(60);

/// Closes every app's minute at each turn of the wall-clock minute, until `shutdown`.
pub async fn close_minutes(metrics: Arc<Metrics>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let into_minute = Duration::new(u64::from(now.second()), now.nanosecond().min(999_999_999));
        let wait = Duration::from_secs(60).saturating_sub(into_minute);
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
        // Just past the turn: the minute that ended is the one a second ago.
        metrics.close_minute(Utc::now() - chrono::Duration::seconds(1));
    }
}

/// Scales the process types with autoscaling on.
pub struct Autoscaler {
    /// The ledger (policies, formations).
    pub ledger: Arc<dyn Ledger>,
    /// This node's metrics.
    pub metrics: Arc<Metrics>,
    /// The app's log streams (one `app[api]` line per decision).
    pub logs: crate::logplex::Logplex,
    /// Tells the serving side of each formation change.
    pub changes: Changes,
    /// How often it decides.
    pub every: Duration,
}

impl Autoscaler {
    /// Decides every [`Autoscaler::every`] until `shutdown`.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        // The web histogram of each app at the last decision: each window is what came after.
        let mut before: HashMap<String, Buckets> = HashMap::new();
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.every) => {}
            }
            if let Err(e) = self.tick(&mut before).await {
                tracing::warn!("autoscaling: {e}");
            }
        }
    }

    /// One round of decisions.
    pub async fn tick(&self, before: &mut HashMap<String, Buckets>) -> Result<(), crate::ledger::LedgerError> {
        let policies = self.ledger.enabled_autoscaling().await?;
        let mut seen = HashMap::new();
        for policy in policies {
            let Some(app) = self.ledger.find_app(&policy.app_id.to_string()).await? else { continue };
            // The router measures the web process only.
            if policy.process_type != "web" {
                continue;
            }
            let now = self.metrics.get(&app.name).map(|m| m.web.snapshot().latency).unwrap_or_default();
            let window = before.get(&app.name).map_or_else(|| now.clone(), |b| now.since(b));
            seen.insert(app.name.clone(), now);
            let formation = self.ledger.list_formation(app.id).await?;
            let Some(current) = formation.iter().find(|f| f.process_type == policy.process_type) else { continue };
            let ceiling = match self.is_wasm(app.id).await {
                true => Some(wasm_ceiling(&current.size)),
                false => None,
            };
            let p95_ms = window.quantile_us(0.95).map(|us| us as f64 / 1000.0);
            let decision = decide(&policy, current.quantity, p95_ms, ceiling);
            if decision.quantity == current.quantity {
                continue;
            }
            let update = FormationUpdate {
                process_type: policy.process_type.clone(),
                quantity: Some(Quantity::Absolute(decision.quantity)),
                size: None,
            };
            let formation = self.ledger.update_formation(app.id, vec![update]).await?;
            let scale: Vec<String> =
                formation.iter().map(|f| format!("{}@{}:{}", f.process_type, f.quantity, f.size)).collect();
            self.logs.api_event(&app.name, &format!("Scaled to {} by autoscaling ({})", scale.join(" "), decision.reason));
            // Sent now; the decision does not wait for the dynos (the receiver is dropped).
            drop(self.changes.send(Change::App(app.name.clone())));
        }
        *before = seen;
        Ok(())
    }

    /// Whether the app's current release runs as WebAssembly (its slug's stack is `wasi-p2`).
    async fn is_wasm(&self, app_id: uuid::Uuid) -> bool {
        let Ok(Some(release)) = self.ledger.current_release(app_id).await else { return false };
        let Some(slug_id) = release.slug_id else { return false };
        matches!(self.ledger.find_slug(app_id, slug_id).await, Ok(Some(slug)) if slug.stack == "wasi-p2")
    }
}
