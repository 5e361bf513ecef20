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
//!
//! On a grid every node runs the loop, but only the node holding the grid's leader lease (the
//! coordinator's), up at its epoch, decides a round ([`Autoscaler::leads`]), so each round is
//! decided once. Its window is every node's: a request is measured by the router of the node the
//! client reached, so the leader adds the other nodes' histograms of the app
//! ([`latency`]) to its own, asking every node about every app at once (a peer that hangs costs
//! one [`latency::FETCH_TIMEOUT`] a round), and checks it still leads before each change. One app
//! whose decision fails is logged and skipped; the round goes on.
//!
//! A window is what a node's router measured since the last round's snapshot of it (the
//! baseline). A histogram with no baseline (this node's first round as leader, an app just
//! enabled, a node that did not answer last round) is cumulative since that node started, so it
//! is only recorded as the baseline: the app is decided from the nodes that have one, and not at
//! all this round when none has.

pub mod latency;
mod policy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use paas_metrics::{Buckets, Metrics};

use crate::grid::peers::Peers;
use crate::ledger::Ledger;
use crate::model::{App, FormationUpdate, Quantity};
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

/// On a grid: this node (decisions are its only while it leads the grid at its current epoch),
/// the leader's lease, and the other nodes (whose routers measured the app's requests too).
pub struct GridScope {
    /// Asks the other nodes; names this node.
    pub peers: Peers,
    /// The leader lease (`paas server --node-lease`), as the coordinator holds it.
    pub lease: Duration,
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
    /// On a grid: decide only on the leading node, from every node's measurements. `None`: a
    /// node on its own (it decides, from its own router's measurements).
    pub grid: Option<GridScope>,
}

/// The key of a histogram in a round's `before` map: the node that measured it and the app (by
/// id: a renamed app keeps its baseline).
fn source(node: &str, app: uuid::Uuid) -> String {
    format!("{node}/{app}")
}

/// What a node measured between its baseline `before` and `now` (`None`: no baseline, no window).
/// A count that went down means the node restarted after the baseline: all it holds now came since.
fn window_of(before: Option<&Buckets>, now: &Buckets) -> Option<Buckets> {
    let before = before?;
    let restarted = now.sum_us < before.sum_us || now.counts.iter().zip(&before.counts).any(|(n, b)| n < b);
    Some(if restarted { now.clone() } else { now.since(before) })
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
            if !self.leads().await {
                // Another node decides; a later lead's first round only takes baselines.
                before.clear();
                continue;
            }
            if let Err(e) = self.tick(&mut before).await {
                tracing::warn!("autoscaling: cannot read the policies: {e}");
            }
        }
    }

    /// Whether this node decides this round: on its own, always; on a grid, only while it is up
    /// at its epoch (not fenced) and holds the grid's leader lease (the coordinator's, whose
    /// `term` fences the placement), so each round is decided once across the grid.
    pub async fn leads(&self) -> bool {
        let Some(grid) = &self.grid else { return true };
        let agent = grid.peers.agent();
        if agent.epoch().is_none() {
            return false;
        }
        match self.ledger.acquire_leadership(agent.id, grid.lease).await {
            Ok(leadership) => leadership.is_some(),
            Err(e) => {
                tracing::warn!("autoscaling: cannot tell whether this node leads the grid: {e}");
                false
            }
        }
    }

    /// One round of decisions. An app whose decision fails (the ledger refused its change, a
    /// read failed) is logged and skipped: the other apps are still decided. Only failing to
    /// read the policies ends the round.
    pub async fn tick(&self, before: &mut HashMap<String, Buckets>) -> Result<(), crate::ledger::LedgerError> {
        let policies = self.ledger.enabled_autoscaling().await?;
        let mut apps = Vec::new();
        // The router measures the web process only.
        for policy in policies.into_iter().filter(|p| p.process_type == "web") {
            match self.ledger.find_app(&policy.app_id.to_string()).await {
                Ok(Some(app)) => apps.push((policy, app)),
                Ok(None) => {}
                Err(e) => tracing::warn!(app = %policy.app_id, "autoscaling: no decision this round: {e}"),
            }
        }
        let measured = self.measured(apps.iter().map(|(_, app)| app)).await;
        let mut seen = HashMap::new();
        for ((policy, app), nodes) in apps.iter().zip(measured) {
            let mut window: Option<Buckets> = None;
            for (node, now) in nodes {
                let key = source(&node, app.id);
                if let Some(part) = window_of(before.get(&key), &now) {
                    window.get_or_insert_with(Buckets::default).add(&part);
                }
                seen.insert(key, now);
            }
            // No node has a baseline yet: the next round has a window.
            let Some(window) = window else { continue };
            if let Err(e) = self.decide(policy, app, &window).await {
                tracing::warn!(app = %policy.app_id, process_type = %policy.process_type, "autoscaling: no decision this round: {e}");
            }
        }
        *before = seen;
        Ok(())
    }

    /// Decides one policy from its window (every node's): scales if the decision differs and this
    /// node still leads.
    async fn decide(&self, policy: &Policy, app: &App, window: &Buckets) -> Result<(), crate::ledger::LedgerError> {
        let formation = self.ledger.list_formation(app.id).await?;
        let Some(current) = formation.iter().find(|f| f.process_type == policy.process_type) else { return Ok(()) };
        let ceiling = match self.is_wasm(app.id).await {
            true => Some(wasm_ceiling(&current.size)),
            false => None,
        };
        let p95_ms = window.quantile_us(0.95).map(|us| us as f64 / 1000.0);
        let decision = decide(policy, current.quantity, p95_ms, ceiling);
        if decision.quantity == current.quantity {
            return Ok(());
        }
        if !self.leads().await {
            // The lease moved during the round: the new leader decides.
            return Ok(());
        }
        let update = FormationUpdate {
            process_type: policy.process_type.clone(),
            quantity: Some(Quantity::Absolute(decision.quantity)),
            size: None,
        };
        let formation = self.ledger.update_formation(app.id, vec![update]).await?;
        let scale: Vec<String> = formation.iter().map(|f| format!("{}@{}:{}", f.process_type, f.quantity, f.size)).collect();
        self.logs.api_event(&app.name, &format!("Scaled to {} by autoscaling ({})", scale.join(" "), decision.reason));
        // Sent now; the decision does not wait for the dynos (the receiver is dropped).
        drop(self.changes.send(Change::App(app.name.clone())));
        Ok(())
    }

    /// Each app's web response-time histogram as each node's router measured it (cumulative), in
    /// the order of `apps`: this node's, and on a grid every other node's that answers (`GET
    /// /grid/apps/{id}/latency`), all asked at once, each within [`latency::FETCH_TIMEOUT`].
    async fn measured<'a>(&self, apps: impl Iterator<Item = &'a App>) -> Vec<Vec<(String, Buckets)>> {
        let local = |app: &App| self.metrics.get(&app.name).map(|m| m.web.snapshot().latency).unwrap_or_default();
        let Some(grid) = &self.grid else { return apps.map(|app| vec![(String::new(), local(app))]).collect() };
        let this = grid.peers.agent().id.to_string();
        let others = grid.peers.others().await;
        let asked = apps.map(|app| {
            let fetches = others.iter().map(move |node| async move {
                match latency::fetch(&grid.peers, node, app.id).await {
                    Ok(buckets) => Some((node.id.to_string(), buckets)),
                    Err(e) => {
                        tracing::warn!(app = %app.name, node = %node.name, "autoscaling: that node's measurements are left out: {e}");
                        None
                    }
                }
            });
            let mine = (this.clone(), local(app));
            async move { std::iter::once(mine).chain(futures::future::join_all(fetches).await.into_iter().flatten()).collect() }
        });
        futures::future::join_all(asked).await
    }

    /// Whether the app's current release runs as WebAssembly (its slug's stack is `wasi-p2`).
    async fn is_wasm(&self, app_id: uuid::Uuid) -> bool {
        let Ok(Some(release)) = self.ledger.current_release(app_id).await else { return false };
        let Some(slug_id) = release.slug_id else { return false };
        matches!(self.ledger.find_slug(app_id, slug_id).await, Ok(Some(slug)) if slug.stack == "wasi-p2")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(counts: &[(usize, u64)], sum_us: u64) -> Buckets {
        let mut b = Buckets { sum_us, ..Buckets::default() };
        for &(i, n) in counts {
            b.counts[i] = n;
        }
        b
    }

    #[test]
    fn a_histogram_with_no_baseline_is_no_window() {
        assert_eq!(window_of(None, &buckets(&[(70, 5000)], 5_000_000_000)), None, "since boot is not the last round's window");
        let before = buckets(&[(10, 4), (70, 5000)], 5_000_000_400);
        let now = buckets(&[(10, 9), (70, 5000)], 5_000_000_900);
        assert_eq!(window_of(Some(&before), &now), Some(buckets(&[(10, 5)], 500)));
    }

    #[test]
    fn a_node_restarted_since_its_baseline_counts_all_it_holds_now() {
        let before = buckets(&[(10, 4), (70, 5000)], 5_000_000_400);
        let now = buckets(&[(10, 7)], 700);
        assert_eq!(window_of(Some(&before), &now), Some(now.clone()), "not a saturated difference of two unrelated histograms");
    }
}
