//! The node's serving side: the router on `--router-listen`, the dyno supervisor on the node's
//! one [`Runtime`], and the loop that drives the supervisor from the ledger — every app at start,
//! one app on each change the API reports, and a cheap periodic sweep (apps whose release, name
//! or maintenance changed outside the API, e.g. a build finishing).
//!
//! Router and dyno log lines go to the app's logplex stream (`paas[router]`, `app[web.1]`,
//! `paas[web.1]`), and are also printed on the server's stdout as `<time> <app> heroku[router]: …`
//! / `<time> <app> app[web.1]: …`.

mod actions;
mod desired;
mod directory;
mod logfeed;
mod metrics;
mod oneoff;
mod routes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use paas_builder::SlugStore;
use paas_platform::Ledger;
use paas_platform::start_error::StartError;
use paas_platform::ledger::AppFilter;
use paas_platform::model::App;
use paas_platform::serving::{Change, DynoDirectory, Notice};
use paas_router::{RouteTable, Router, RouterConfig};
use paas_runtime::{LogSink, Runtime};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use crate::supervisor::{Supervisor, SupervisorConfig};
use desired::Desired;
use directory::Directory;

/// How often the ledger is swept for changes made outside the API.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// What the serving side is given when the node starts.
pub(crate) struct ServeContext {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    /// The router's listener.
    pub router_listener: TcpListener,
    /// The router's HTTPS listener (`--router-tls-listen`): connections whose handshake chose a
    /// certificate by SNI ([`paas_platform::certs::SniCerts`]).
    pub router_tls: Option<paas_platform::https::TlsListener>,
    /// Every committed change, as it happens.
    pub changes: mpsc::UnboundedReceiver<Notice>,
    /// The node's app metrics: the router counts requests into it, the serving side samples its
    /// dynos into it; `GET /metrics` and `GET /apps/{app}/metrics` read it.
    pub metrics: Arc<paas_metrics::Metrics>,
    /// The log collator: dyno, router and state-change lines go here.
    pub logs: paas_platform::logplex::Logplex,
    /// Resolves when the server shuts down.
    pub shutdown: BoxFuture<'static, ()>,
    /// The dynos this node runs: every one (a single node), or those the grid's coordinator
    /// assigned to it (nodes sharing a PostgreSQL ledger).
    pub placements: paas_platform::grid::agent::Placements,
    /// This node of the grid (its id, and the key it sends to other nodes).
    pub agent: Arc<paas_platform::grid::agent::Agent>,
}

/// The started serving side.
pub(crate) struct Serving {
    /// Its dynos, for the API.
    pub dynos: Arc<dyn DynoDirectory>,
    /// Runs the router and the supervisor until shutdown (then stops every dyno).
    pub task: BoxFuture<'static, Result<(), StartError>>,
}

/// Starts serving apps with the node's wasm runtime (and native runtime, in `supervisor`); called
/// once the ledger is open and the listeners are bound.
pub(crate) async fn start(runtime: &Runtime, config: SupervisorConfig, context: ServeContext) -> Result<Serving, StartError> {
    // Each app's requests are counted into the server's metrics as the router serves them.
    let table = Arc::new(RouteTable::with_metrics(context.domain.clone(), context.metrics.clone()));
    // Dynos' requests for http://<app>.<domain>/ go to this router (its address is denied
    // to them otherwise).
    let router_addr = context.router_listener.local_addr().map_err(StartError::step("the router's address"))?;
    runtime.set_apps_route(paas_runtime::AppsRoute::new(&context.domain, router_addr));
    let (logs, log_rx) = LogSink::channel(10_000);
    // Dyno output and state changes go to the app's log stream (app[web.1] / paas[web.1]).
    logfeed::spawn(log_rx, logs.clone(), context.logs.clone());
    let sleep_check_every = config.sleep_check_every();
    let native = config.native.clone();
    let supervisor = Supervisor::new(runtime.clone(), table.clone(), logs.clone(), config);
    supervisor.spawn_sleeper(sleep_check_every);
    let slugs = SlugStore::new(&context.data_dir).map_err(StartError::step("cannot open the slug store"))?;
    // Slugs built on other nodes of the grid are fetched from them.
    let peers = Arc::new(paas_platform::grid::slugs::PeerSlugs::new(context.ledger.clone(), slugs.clone(), context.agent.clone()));
    let oneoffs = Arc::new(oneoff::OneOffs {
        runtime: runtime.clone(),
        native,
        ledger: context.ledger.clone(),
        slugs: slugs.clone(),
        unpacked: context.data_dir.join("runtime/slugs"),
        peers: Some(peers.clone()),
        logs,
        running: Default::default(),
        grid: context.placements.current().is_some(),
    });
    metrics::spawn_sampler(supervisor.clone(), runtime.clone(), context.metrics.clone(), oneoffs.clone());
    // On a grid: the restart and stop requests after this point are this node's to carry out.
    let actions = match context.placements.current() {
        Some(_) => Some(
            actions::ActionCursor::start(context.ledger.as_ref())
                .await
                .map_err(StartError::step("cannot read the restart requests"))?,
        ),
        None => None,
    };
    let driver = Arc::new(Driver {
        ledger: context.ledger.clone(),
        supervisor: supervisor.clone(),
        oneoffs: oneoffs.clone(),
        desired: Desired {
            ledger: context.ledger.clone(),
            slugs,
            unpacked: context.data_dir.join("runtime/slugs"),
            placements: context.placements.clone(),
            peers: Some(peers),
        },
        seen: Mutex::default(),
        reconciling: Default::default(),
        logplex: context.logs.clone(),
        actions,
    });
    // A restarted server brings back every app's last release and formation before it serves.
    driver.sweep().await.map_err(StartError::step("cannot read the apps from the ledger"))?;
    tokio::spawn(driver.clone().follow(context.changes));
    tokio::spawn(driver.clone().sweep_forever());
    tokio::spawn(driver.clone().follow_placements());
    // On a grid: other nodes' web dynos for the apps with none here, and the hop secrets
    // (derived from node keys, not the keys) their forwarded requests are checked against.
    let peers = match (context.placements.current(), context.agent.hop_credential()) {
        (Some(_), Some(credential)) => {
            let keys = Arc::new(routes::NodeKeys::default());
            let remote = routes::RemoteRoutes {
                ledger: context.ledger.clone(),
                table: table.clone(),
                node_id: context.agent.id,
                credential,
                keys: keys.clone(),
                listen: router_addr,
            };
            tokio::spawn(remote.start(driver.clone()).await);
            Some(keys)
        }
        _ => None,
    };

    let logplex = context.logs.clone();
    // Room for about 16k router lines waiting for stdout on each thread that serves requests.
    let stdout = logfeed::StdoutLines::spawn(4 << 20);
    // The router's plain listener gives up on silent clients as the API's listeners do.
    let config = RouterConfig { unacknowledged_timeout: paas_platform::listen::UNACKNOWLEDGED_TIMEOUT, ..RouterConfig::default() };
    let router = Router::new(table, config).with_log(Arc::new(move |app: &str, line: &paas_router::LogLine| {
        thread_local! {
            /// The buffer each line is formatted in, kept by the thread (no allocation per line).
            static PRINTED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        // Formatted once per request: the stream gets the line, stdout the same bytes after
        // the time and app.
        let at = chrono::Utc::now();
        PRINTED.with_borrow_mut(|printed| {
            printed.clear();
            push_stamp(printed, at);
            for piece in [" ", app, " heroku[router]: "] {
                printed.push_str(piece);
            }
            let text = printed.len();
            line.write_to(printed);
            logplex.publish_at(app, paas_platform::logplex::Source::Paas, "router", at, &printed[text..]);
            printed.push('\n');
            stdout.send(printed);
            // A line with a huge path does not keep its buffer.
            printed.shrink_to(4096);
        });
    }));
    let router = match peers {
        Some(keys) => router.with_peers(keys),
        None => router,
    };
    let (listener, shutdown) = (context.router_listener, context.shutdown);
    // --router-tls-listen: the same router on the HTTPS listener's connections, stopping with it.
    let (shutdown, https) = match context.router_tls {
        Some(tls) => {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopped = move || {
                let mut rx = stop_rx.clone();
                async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                }
            };
            let (local, accepted) = tls.into_parts();
            let https = tokio::spawn(router.for_https().serve_accepted_with_shutdown(accepted, local, stopped()));
            let shutdown: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = Box::pin(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            });
            (shutdown, Some(https))
        }
        None => (shutdown, None),
    };
    let stopping = oneoffs.clone();
    let task = Box::pin(async move {
        router.serve_with_shutdown(listener, shutdown).await.map_err(StartError::step("the router failed"))?;
        if let Some(https) = https {
            https
                .await
                .map_err(StartError::step("the router's HTTPS listener"))?
                .map_err(StartError::step("the router's HTTPS listener failed"))?;
        }
        // Dynos get SIGTERM, then SIGKILL after their grace period, as on Heroku.
        tokio::join!(supervisor.shutdown(), stopping.stop_all());
        Ok(())
    });
    let directory = Directory { supervisor: driver.supervisor.clone(), ledger: context.ledger, oneoffs };
    Ok(Serving { dynos: Arc::new(directory), task })
}

/// Heroku's log timestamp: `2026-11-21T18:59:17.123456+00:00`. The part up to the second is
/// formatted once a second per thread and copied; the microseconds are written digit by digit
/// (this runs once per request).
fn push_stamp(out: &mut String, at: chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    thread_local! {
        /// The second last stamped on this thread, and its `2026-11-21T18:59:17.`.
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let second = at.timestamp();
    SECOND.with_borrow_mut(|(last, prefix)| {
        if *last != second {
            use std::fmt::Write;
            prefix.clear();
            let _ = write!(
                prefix,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                at.year(),
                at.month(),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            *last = second;
        }
        out.push_str(prefix);
    });
    let micros = at.nanosecond() % 1_000_000_000 / 1000;
    for place in [100_000, 10_000, 1000, 100, 10, 1] {
        out.push(char::from(b'0' + (micros / place % 10) as u8));
    }
    out.push_str("+00:00");
}

/// What the sweep last saw of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    name: String,
    released_at: Option<chrono::DateTime<chrono::Utc>>,
    maintenance: bool,
    /// On a grid: when the app's formation, domains, features and drains last changed (a
    /// change made through another node's API).
    stamp: Option<String>,
    /// Its last reconcile failed (a slug no node could give yet): the next sweep tries again.
    failed: bool,
}

/// Drives the supervisor from the ledger.
struct Driver {
    ledger: Arc<dyn Ledger>,
    supervisor: Supervisor,
    oneoffs: Arc<oneoff::OneOffs>,
    desired: Desired,
    /// App id → what the last sweep saw.
    seen: Mutex<HashMap<uuid::Uuid, Seen>>,
    /// App id → its reconcile's turn: one reconcile of an app at a time, each reading the desired
    /// state (this node's placement included) when its turn comes. Without it a sweep's
    /// reconcile, read before the placement gave this node a dyno and applied after the
    /// placement follower's, stopped that dyno again, and nothing started it until the next
    /// change (a loaded e2e run: b's web dyno up, then stopped within the millisecond, for good).
    reconciling: std::sync::Mutex<HashMap<uuid::Uuid, Arc<Mutex<()>>>>,
    /// The app streams, whose drains follow the ledger on a grid.
    logplex: paas_platform::logplex::Logplex,
    /// On a grid: the last restart or stop request taken (read once, at start).
    actions: Option<actions::ActionCursor>,
}

impl Driver {
    /// Applies every change the API reports, in order; each notice's `done` is dropped once
    /// its change is applied (the API's response waits for it).
    async fn follow(self: Arc<Self>, mut changes: tokio::sync::mpsc::UnboundedReceiver<Notice>) {
        while let Some(Notice { change, done }) = changes.recv().await {
            self.apply(&change).await;
            drop(done);
        }
    }

    /// Applies one change: the app's desired state, then the restart it asks for.
    async fn apply(&self, change: &Change) {
        // On a grid, this node's coordinator (if it leads) places the app's dynos again at once
        // (a restart changes no formation: the coordinator's tick covers it anyway).
        if !matches!(change, Change::Restart { .. }) {
            self.desired.placements.formation_changed();
        }
        let (app, target) = match change {
            Change::Apps => {
                if let Err(e) = self.sweep().await {
                    tracing::warn!("cannot sweep the ledger: {}", crate::error::chain(&e));
                }
                return;
            }
            Change::App(app) => (app.as_str(), None),
            Change::Restart { app, target } => (app.as_str(), Some(target.as_deref())),
        };
        match self.ledger.find_app(app).await {
            Ok(Some(found)) => {
                self.reconcile(&found).await;
                match target {
                    // On a grid every node carries out the ledger's requests in their order,
                    // this one's included: they are read from there.
                    Some(_) if self.actions.is_some() => self.catch_up_actions().await,
                    Some(target) => self.restart(&found, target).await,
                    None => {}
                }
            }
            // Gone (destroyed) or renamed: the sweep settles which.
            Ok(None) => {
                if let Err(e) = self.sweep().await {
                    tracing::warn!("cannot sweep the ledger: {}", crate::error::chain(&e));
                }
            }
            Err(e) => tracing::warn!(app, "cannot read the app: {e:#}"),
        }
    }

    /// `ps:restart` / `ps:stop` on this node's dynos: `run.1` (or `run`) stops one-off dynos;
    /// anything else restarts the formation's.
    async fn restart(&self, app: &App, target: Option<&str>) {
        match target {
            Some(one) if self.oneoffs.stop(&app.name, one) => {}
            target => self.supervisor.restart(&app.name, target).await,
        }
    }

    /// Whether this node shares its ledger with others (its dynos are placed).
    fn on_grid(&self) -> bool {
        self.desired.placements.current().is_some()
    }

    /// On a grid: carries out, on this node's dynos, the restart and stop requests recorded
    /// since the last one it took, whichever node's API took them, in their order. No lock is
    /// held while they are carried out (see [`actions`]).
    async fn catch_up_actions(&self) {
        let Some(cursor) = &self.actions else { return };
        loop {
            let actions = match cursor.take(self.ledger.as_ref()).await {
                Ok(actions) => actions,
                Err(e) => return tracing::warn!("cannot read the restart requests (tried again at the next sweep): {e}"),
            };
            let more = actions.len() >= 1000;
            for action in actions {
                tracing::debug!(seq = action.seq, app = %action.app_id, target = ?action.target, "carrying out a {} request", action.action);
                match self.ledger.find_app(&action.app_id.to_string()).await {
                    Ok(Some(app)) => self.restart(&app, action.target.as_deref()).await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!(app = %action.app_id, "cannot read the app for a restart request (not carried out here): {e:#}"),
                }
            }
            if !more {
                return;
            }
        }
    }

    /// Reconciles the apps whose dynos placed on this node changed: the grid's coordinator
    /// moved some, or this node was fenced (it then runs none).
    async fn follow_placements(self: Arc<Self>) {
        let mut placements = self.desired.placements.subscribe();
        let mut before = placements.borrow_and_update().clone();
        while placements.changed().await.is_ok() {
            let now = placements.borrow_and_update().clone();
            let changed: Vec<uuid::Uuid> = match (&before, &now) {
                (Some(old), Some(new)) => {
                    let ids: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).copied().collect();
                    ids.into_iter().filter(|id| old.get(id) != new.get(id)).collect()
                }
                _ => Vec::new(),
            };
            before = now;
            for id in changed {
                match self.ledger.find_app(&id.to_string()).await {
                    Ok(Some(app)) => self.reconcile(&app).await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!(app = %id, "cannot read the app: {e:#}"),
                }
            }
        }
    }

    async fn sweep_forever(self: Arc<Self>) {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            if let Err(e) = self.sweep().await {
                tracing::warn!("cannot sweep the ledger: {}", crate::error::chain(&e));
            }
        }
    }

    /// One query for all apps; reconciles only those whose release, name or maintenance changed
    /// (and new ones); removes apps that are gone.
    async fn sweep(&self) -> Result<(), paas_platform::LedgerError> {
        // Nodes sharing a ledger also see changes made through another node's API: restarts and
        // stops (numbered requests, taken first, whatever else this sweep fails to read), then
        // formation, domains, features and drains (stamps).
        self.catch_up_actions().await;
        let apps = self.ledger.list_apps(AppFilter::All).await?;
        let grid = self.on_grid();
        let mut stamps = match grid {
            true => self.ledger.app_stamps().await?,
            false => Default::default(),
        };
        let mut changed = Vec::new();
        {
            let mut seen = self.seen.lock().await;
            let mut live = HashMap::new();
            for app in apps {
                let now = Seen {
                    name: app.name.clone(),
                    released_at: app.released_at,
                    maintenance: app.maintenance,
                    stamp: stamps.remove(&app.id),
                    failed: false,
                };
                if seen.get(&app.id) != Some(&now) {
                    changed.push(app.clone());
                }
                live.insert(app.id, now);
            }
            for (id, old) in seen.iter() {
                if live.get(id).is_none_or(|now| now.name != old.name) {
                    self.supervisor.remove(&old.name).await;
                }
            }
            self.reconciling.lock().unwrap_or_else(|e| e.into_inner()).retain(|id, _| live.contains_key(id));
            *seen = live;
        }
        for app in changed {
            self.reconcile(&app).await;
            if grid {
                self.sync_drains(&app).await;
            }
        }
        Ok(())
    }

    /// On a grid: runs the app's drains as the ledger has them (one added or removed through
    /// another node's API). Each node delivers the lines it produced, so none is sent twice.
    async fn sync_drains(&self, app: &App) {
        match self.ledger.list_log_drains(app.id).await {
            Ok(drains) => self.logplex.sync_drains(&app.name, &drains),
            Err(e) => tracing::warn!(app = %app.name, "cannot read the app's log drains: {e}"),
        }
    }

    /// Reads the app's desired state and applies it.
    async fn reconcile(&self, app: &App) {
        let turn = self.reconciling.lock().unwrap_or_else(|e| e.into_inner()).entry(app.id).or_default().clone();
        let _turn = turn.lock().await;
        match self.desired.of(app).await {
            Ok(spec) => self.supervisor.apply(spec).await,
            Err(e) => {
                tracing::warn!(app = %app.name, "cannot run the app's release: {}", crate::error::chain(&e));
                // Tried again at the next sweep (a slug's node may be back by then).
                if let Some(seen) = self.seen.lock().await.get_mut(&app.id) {
                    seen.failed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stamp_is_herokus_log_time() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T18:59:17.123456789Z").unwrap().with_timezone(&chrono::Utc);
        let mut out = String::new();
        super::push_stamp(&mut out, at);
        assert_eq!(out, "2026-11-21T18:59:17.123456+00:00");
        assert_eq!(out, at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string());
        // The same second again (its prefix is kept), then the next one, and a leap second.
        for stamp in ["2026-11-21T18:59:17.000001Z", "2026-11-21T18:59:18.9Z", "2026-12-31T23:59:59.999999Z"] {
            let at = chrono::DateTime::parse_from_rfc3339(stamp).unwrap().with_timezone(&chrono::Utc);
            out.clear();
            super::push_stamp(&mut out, at);
            assert_eq!(out, at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string());
        }
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_micro_opt(23, 59, 59, 1_500_000).unwrap().and_utc();
        out.clear();
        super::push_stamp(&mut out, leap);
        assert_eq!(out, "2016-12-31T23:59:59.500000+00:00");
    }
}
