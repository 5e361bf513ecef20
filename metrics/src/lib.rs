//! paas-metrics: what each app does, per process type, for operators (`GET /metrics`, Prometheus
//! text) and for the app's users (`GET /apps/{app}/metrics`, a one-minute series of 24 hours).
//!
//! - [`Metrics`]: the node's registry, app name → [`AppMetrics`]. Looked up when a route is made,
//!   never per request.
//! - [`AppMetrics::web`]: the router's counters of the app's web process ([`RequestMetrics`]):
//!   relaxed atomic adds on the app's own counters, no lock on the request path.
//! - [`AppMetrics::set_processes`]: the gauges the node samples every few seconds (dynos, memory,
//!   restarts, CPU time, wasm instances held), per process type.
//! - [`Metrics::close_minute`]: once a minute, each app's [`Series`] gets the minute's point.
//!
//! The budget of one app: its live counters (~1.7 KiB: 5 classes, 9 codes, 79 histogram buckets,
//! bytes, and their copy at the last minute; each dyno's last CPU reading) and a series of at
//! most 1,440 points of 76 bytes (≈107 KiB), stored only for minutes with requests, CPU time,
//! restarts or changed gauges. 5,000 apps with traffic in every minute of the day hold about
//! 0.5 GiB; idle apps hold their counters only.

mod histogram;
mod prometheus;
mod requests;
mod series;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use histogram::{BOUNDS, Buckets, Histogram, bounds_us};
pub use requests::{CLASSES, CODES, Request, RequestCounts, RequestMetrics};
pub use series::{MINUTES, Percentiles, Point, PointView, Series, minute_of};

/// The gauges of one process type of an app, as last sampled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProcessGauges {
    /// Dynos running (up, starting or idle).
    pub dynos: u64,
    /// Memory of its dynos, in bytes: linear memory of a wasm dyno's instances; a native
    /// dyno's cgroup (anonymous memory and swap).
    pub memory_bytes: u64,
    /// Restarts after a crash since the dynos were started (cumulative).
    pub restarts: u64,
    /// CPU seconds its dynos used since the app's metrics began (a counter: what a dyno used
    /// before it was restarted or stopped stays counted): wasm dynos' guest calls (thread CPU
    /// time), native dynos' cgroups. `None` where none of its dynos is measured.
    pub cpu_seconds: Option<f64>,
}

/// One dyno's memory and CPU time, for `ps` and the API's `current` view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DynoMemory {
    /// `web.1`.
    pub name: String,
    /// `web`.
    pub process_type: String,
    /// Bytes (see [`ProcessGauges::memory_bytes`]).
    pub memory_bytes: u64,
    /// CPU seconds this dyno has used since it started (`None`: not measured).
    pub cpu_seconds: Option<f64>,
}

/// Everything recorded of one app.
#[derive(Debug, Default)]
pub struct AppMetrics {
    /// The router's counters of the app's web process.
    pub web: RequestMetrics,
    state: Mutex<AppState>,
}

#[derive(Debug, Default)]
struct AppState {
    processes: BTreeMap<String, ProcessGauges>,
    dynos: Vec<DynoMemory>,
    instances: u64,
    series: Series,
    /// The web counters at the last closed minute.
    last: RequestCounts,
    /// Restarts (all types) at the last closed minute.
    last_restarts: u64,
    /// Each dyno's CPU seconds at the last sample (a lower reading later: it restarted).
    dyno_cpu: HashMap<String, f64>,
    /// CPU seconds per process type, summed from the dynos' increments (never decreases).
    cpu: BTreeMap<String, f64>,
    /// All types' CPU seconds at the last closed minute.
    last_cpu: f64,
}

impl AppMetrics {
    fn state(&self) -> std::sync::MutexGuard<'_, AppState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the sampled gauges: per process type, each dyno's memory and CPU time, and the
    /// wasm instances the app holds. A process type no longer listed is forgotten (its CPU
    /// time stays in the app's total). Each type's `cpu_seconds` is set here from the dynos'
    /// readings: what each used since the last sample (all of it when it restarted since).
    pub fn set_processes(&self, mut processes: BTreeMap<String, ProcessGauges>, dynos: Vec<DynoMemory>, instances: u64) {
        let mut state = self.state();
        let mut seen = HashMap::with_capacity(dynos.len());
        for dyno in &dynos {
            let Some(now) = dyno.cpu_seconds else { continue };
            let before = state.dyno_cpu.get(&dyno.name).copied().unwrap_or(0.0);
            let used = if now >= before { now - before } else { now };
            *state.cpu.entry(dyno.process_type.clone()).or_default() += used;
            seen.insert(dyno.name.clone(), now);
        }
        state.dyno_cpu = seen;
        for (kind, gauges) in &mut processes {
            gauges.cpu_seconds = state.cpu.get(kind).copied();
        }
        // Restarts are cumulative per dyno; a type whose dynos were replaced must not count back.
        let before: u64 = state.processes.values().map(|p| p.restarts).sum();
        let after: u64 = processes.values().map(|p| p.restarts).sum();
        if after < before {
            state.last_restarts = state.last_restarts.saturating_sub(before - after);
        }
        state.processes = processes;
        state.dynos = dynos;
        state.instances = instances;
    }

    /// The gauges as last sampled, per process type.
    pub fn processes(&self) -> BTreeMap<String, ProcessGauges> {
        self.state().processes.clone()
    }

    /// Each dyno's memory as last sampled.
    pub fn dynos(&self) -> Vec<DynoMemory> {
        self.state().dynos.clone()
    }

    /// The wasm instances the app held at the last sample.
    pub fn instances(&self) -> u64 {
        self.state().instances
    }

    /// Closes the minute `minute`: stores its point (requests since the last close, gauges now).
    pub fn close_minute(&self, minute: u32) {
        let now = self.web.snapshot();
        let mut state = self.state();
        let requests = now.since(&state.last);
        let restarts_now: u64 = state.processes.values().map(|p| p.restarts).sum();
        let restarts = restarts_now.saturating_sub(state.last_restarts);
        let cpu_now: f64 = state.cpu.values().sum();
        let gauges = series::Gauges {
            memory_bytes: state.processes.values().map(|p| p.memory_bytes).sum(),
            instances: state.instances,
            dynos: state.processes.values().map(|p| p.dynos).sum(),
            cpu_ms: ((cpu_now - state.last_cpu).max(0.0) * 1000.0).round() as u64,
        };
        state.series.push(Point::new(minute, &requests, restarts, gauges));
        state.last = now;
        state.last_restarts = restarts_now;
        state.last_cpu = cpu_now;
    }

    /// Every minute from `from` to `to` (minutes since the epoch, inclusive), as the API answers.
    pub fn minutes(&self, from: u32, to: u32) -> Vec<PointView> {
        self.state().series.minutes(from, to).iter().map(PointView::from).collect()
    }

    /// Bytes this app's metrics hold (the struct and its series).
    pub fn held_bytes(&self) -> usize {
        let state = self.state();
        std::mem::size_of::<AppMetrics>()
            + state.series.heap_bytes()
            + state.dynos.iter().map(|d| std::mem::size_of::<DynoMemory>() + d.name.len() + d.process_type.len()).sum::<usize>()
            + state.processes.keys().map(|k| k.len() + 64).sum::<usize>()
            + state.dyno_cpu.keys().chain(state.cpu.keys()).map(|k| k.len() + 48).sum::<usize>()
    }
}

/// A node-wide gauge (the wasm instance pool): name, help, value.
pub type NodeGauge = (&'static str, &'static str, f64);

/// The node's registry of app metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    apps: RwLock<HashMap<String, Arc<AppMetrics>>>,
    node: Mutex<Vec<NodeGauge>>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics of `app`, made on first use.
    pub fn app(&self, app: &str) -> Arc<AppMetrics> {
        if let Some(found) = self.get(app) {
            return found;
        }
        self.apps.write().unwrap_or_else(|e| e.into_inner()).entry(app.to_string()).or_default().clone()
    }

    /// The metrics of `app`, if any were made.
    pub fn get(&self, app: &str) -> Option<Arc<AppMetrics>> {
        self.apps.read().unwrap_or_else(|e| e.into_inner()).get(app).cloned()
    }

    /// Forgets `app` (destroyed or renamed).
    pub fn remove(&self, app: &str) {
        self.apps.write().unwrap_or_else(|e| e.into_inner()).remove(app);
    }

    /// Every app's metrics, sorted by name.
    pub fn apps(&self) -> Vec<(String, Arc<AppMetrics>)> {
        let mut all: Vec<_> =
            self.apps.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Closes the minute that contains `at` for every app.
    pub fn close_minute(&self, at: DateTime<Utc>) {
        let minute = minute_of(at);
        for (_, app) in self.apps() {
            app.close_minute(minute);
        }
    }

    /// Replaces the node-wide gauges.
    pub fn set_node(&self, gauges: Vec<NodeGauge>) {
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = gauges;
    }

    /// Everything, in Prometheus' text format (0.0.4).
    pub fn prometheus(&self) -> String {
        let node = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone();
        prometheus::render(&self.apps(), &node)
    }
}

/// The `Content-Type` of [`Metrics::prometheus`].
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_minute_holds_the_requests_since_the_last_and_the_gauges_now() {
        let metrics = Metrics::new();
        let app = metrics.app("hello");
        assert!(Arc::ptr_eq(&app, &metrics.app("hello")));
        let ok = Request { status: 200, code: None, took: Duration::from_millis(40), bytes_in: 0, bytes_out: 5 };
        for _ in 0..10 {
            app.web.record(ok);
        }
        let web = ProcessGauges { dynos: 2, memory_bytes: 4 << 20, restarts: 1, cpu_seconds: None };
        app.set_processes([("web".to_string(), web)].into(), Vec::new(), 3);
        app.close_minute(100);
        app.web.record(ok);
        app.close_minute(101);
        let minutes = app.minutes(99, 102);
        assert_eq!(minutes.iter().map(|m| m.requests["2xx"]).collect::<Vec<_>>(), [0, 10, 1, 0]);
        assert_eq!((minutes[1].dynos, minutes[1].memory_bytes, minutes[1].instances, minutes[1].restarts), (2, 4 << 20, 3, 1));
        assert_eq!(minutes[2].restarts, 0, "restarts are counted once");
        assert_eq!(minutes[3].dynos, 2, "gauges carry into quiet minutes");
        let p50 = minutes[1].response_time_ms.p50.unwrap();
        assert!((36.0..=44.0).contains(&p50), "{p50}");
        assert!(app.held_bytes() < 4096);
        metrics.remove("hello");
        assert!(metrics.get("hello").is_none());
    }

    /// CPU time is a counter per process type fed by each dyno's readings: a dyno that
    /// restarted (a lower reading) or stopped must not take back what it used.
    #[test]
    fn cpu_time_counts_on_across_restarts_and_stopped_dynos() {
        let app = AppMetrics::default();
        let dyno = |name: &str, kind: &str, cpu: Option<f64>| DynoMemory {
            name: name.into(),
            process_type: kind.into(),
            memory_bytes: 0,
            cpu_seconds: cpu,
        };
        let types = || -> BTreeMap<String, ProcessGauges> {
            ["web", "worker"].map(|t| (t.to_string(), ProcessGauges { dynos: 1, ..ProcessGauges::default() })).into()
        };
        app.set_processes(types(), vec![dyno("web.1", "web", Some(1.0)), dyno("worker.1", "worker", Some(2.0))], 0);
        app.close_minute(10);
        // worker.1 restarted (0.5 s since), web.1 used 2 s more.
        app.set_processes(types(), vec![dyno("web.1", "web", Some(3.0)), dyno("worker.1", "worker", Some(0.5))], 0);
        app.close_minute(11);
        // worker.1 is gone; a native dyno without CPU accounting reports none.
        app.set_processes(types(), vec![dyno("web.1", "web", Some(3.0)), dyno("web.2", "web", None)], 0);
        app.close_minute(12);
        let processes = app.processes();
        assert_eq!(processes["web"].cpu_seconds, Some(3.0));
        assert_eq!(processes["worker"].cpu_seconds, Some(2.5));
        let minutes = app.minutes(10, 12);
        assert_eq!(minutes.iter().map(|m| m.cpu_seconds).collect::<Vec<_>>(), [3.0, 2.5, 0.0]);
        let text = {
            let metrics = Metrics::new();
            metrics.app("a").set_processes(types(), vec![dyno("worker.1", "worker", Some(0.25))], 0);
            metrics.prometheus()
        };
        assert!(text.contains("paas_dyno_cpu_seconds_total{app=\"a\",process_type=\"worker\"} 0.25"), "{text}");
    }
}
