//! The dyno supervisor: reconciles each app's desired formation ([`AppSpec`]: the serving side,
//! `crate::serve`, translates the ledger into it) with the dynos running on this node, and
//! publishes every app's up web dynos into the router's [`RouteTable`].
//!
//! Per app there is one small record behind an async mutex (its spec, loaded components, dynos);
//! no thread and no long-lived task per app. Tasks exist only for what waits: a worker dyno's
//! run, a crashed dyno's delayed restart, a retiring dyno's grace period.
//!
//! ```text
//! Supervisor::new(runtime, table, logs, config)
//!   .apply(AppSpec)            start / stop / replace dynos; publish routes, domains, maintenance
//!   .restart(app, target)      ps:restart (all, a type, or one dyno)
//!   .remove(app)               app destroyed: stop everything, drop the routes
//!   .dynos(app) -> Vec<DynoStatus>   for `ps`
//!   .spawn_sleeper(every)      idle web dynos of sleeping apps release their instances
//! ```

mod app;
mod backend;
mod backoff;
mod slot;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use paas_router::RouteTable;
use paas_runtime::{DynoSize, LogSink, Runtime};

pub use backend::{WasmBackend, backend_error};
pub use backoff::restart_delay;

use app::AppRun;

/// How the supervisor behaves; `SupervisorConfig::default()` gives Heroku's numbers.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// How long a stopping dyno has between SIGTERM (the stop request) and being killed. 30 s.
    pub stop_grace: Duration,
    /// How long a web dyno taken out of the routes still accepts requests (those that picked
    /// it from the previous route) before it stops. 1 s.
    pub drain: Duration,
    /// The wait before the third restart of a crashing dyno; it doubles after each crash.
    pub backoff_base: Duration,
    /// The longest wait between restarts of a crashing dyno. 5 minutes.
    pub backoff_max: Duration,
    /// A dyno that stayed up this long has its crash count reset. 10 minutes.
    pub crash_reset: Duration,
    /// Web dynos of sleeping apps ([`AppSpec::sleeps`]) with no request for this long release
    /// their instances until the next request. 30 minutes.
    pub idle_after: Duration,
    /// Runs native process types (runc); `None`: they are reported crashed.
    pub native: Option<paas_runtime::NativeRuntime>,
    /// How long a native web dyno has to accept on `$PORT` before R10. 60 s.
    pub boot_timeout: Duration,
}

impl SupervisorConfig {
    /// How often the sleeper should look for idle dynos: half of [`SupervisorConfig::idle_after`],
    /// at most 30 s, so a dyno sleeps between `idle_after` and 1.5 × `idle_after` after its last
    /// request.
    pub fn sleep_check_every(&self) -> Duration {
        (self.idle_after / 2).clamp(Duration::from_millis(1), Duration::from_secs(30))
    }
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            stop_grace: Duration::from_secs(30),
            drain: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            crash_reset: Duration::from_secs(600),
            idle_after: Duration::from_secs(30 * 60),
            native: None,
            boot_timeout: Duration::from_secs(60),
        }
    }
}

/// What an app should be running: its current release and formation. The default is an
/// unnamed app with no release, no process, nothing set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppSpec {
    /// The app's name (`<app>.<domain>` in the route table).
    pub app: String,
    /// The release version the dynos run (`v12` is 12).
    pub release: i64,
    /// The slug's unpacked app directory, preopened read-only at `/app`.
    pub app_dir: PathBuf,
    /// Config vars.
    pub env: BTreeMap<String, String>,
    /// Process types with their quantity and size.
    pub processes: BTreeMap<String, ProcessSpec>,
    /// Maintenance mode: the router answers H80.
    pub maintenance: bool,
    /// Custom domains routed to the app besides `<app>.<domain>`.
    pub domains: Vec<String>,
    /// Web dynos sleep when idle (`eco` dynos, feature `sleep`); see [`SupervisorConfig::idle_after`].
    pub sleeps: bool,
    /// Heroku's feature `preboot`: replaced web dynos keep serving until their replacements are
    /// up. Without it (Heroku's default) old dynos get SIGTERM as the new ones start. Other
    /// process types are always stopped as their replacements start.
    pub preboot: bool,
    /// The endpoints of the add-ons attached to the app: its dynos may open TCP connections to
    /// exactly these (wasm: [`NetworkPolicy::services`](paas_runtime::NetworkPolicy); native: their
    /// network namespace's grants), wherever else the node's egress policy lets nothing through.
    /// A change restarts the dynos (attaching and detaching make a new release anyway).
    pub services: Vec<std::net::SocketAddr>,
    /// The dynos of the formation this node runs (`web.2`), when nodes share the formation (the
    /// grid's placement); `None`: every one. A dyno placed elsewhere is stopped here.
    pub placed: Option<std::collections::BTreeSet<String>>,
}

impl AppSpec {
    /// Whether this node runs the formation's dyno `name`.
    pub fn runs_here(&self, name: &str) -> bool {
        self.placed.as_ref().is_none_or(|placed| placed.contains(name))
    }
}

/// One process type of the formation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// What runs.
    pub program: Program,
    /// The command shown by `ps` (the Procfile line).
    pub command: String,
    /// How many dynos.
    pub quantity: u32,
    /// Their size.
    pub size: DynoSize,
}

/// What a process type runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A WebAssembly component: `web` serves `wasi:http`, other types run `wasi:cli/run`.
    Wasm {
        /// The component file (absolute, inside the app directory).
        component: PathBuf,
        /// Web dynos: reuse an instance across requests.
        reuse: bool,
        /// Arguments of a `wasi:cli` component.
        args: Vec<String>,
        /// The same process as a native command (the slug carries both): run as a native dyno
        /// when the component cannot be loaded or started, with a log line saying why.
        native_fallback: Option<String>,
    },
    /// A native command, run by a native dyno ([`SupervisorConfig::native`]).
    Native {
        /// The command line.
        command: String,
    },
}

/// A dyno's state, as `ps` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynoState {
    /// Being started.
    Starting,
    /// Running (a web dyno: in the route table).
    Up,
    /// Exited or failed to start; restarted after a backoff.
    Crashed,
    /// A sleeping web dyno: no instance until the next request.
    Idle,
}

impl DynoState {
    /// Heroku's word: `starting`, `up`, `crashed`, `idle`.
    pub fn as_str(self) -> &'static str {
        match self {
            DynoState::Starting => "starting",
            DynoState::Up => "up",
            DynoState::Crashed => "crashed",
            DynoState::Idle => "idle",
        }
    }
}

/// One dyno as `ps` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoStatus {
    /// `web.1`.
    pub name: String,
    /// `web`.
    pub process_type: String,
    /// The command or component.
    pub command: String,
    /// Its size.
    pub size: DynoSize,
    /// Its state.
    pub state: DynoState,
    /// When it entered that state.
    pub since: SystemTime,
    /// When this dyno was first started (restarts keep it).
    pub created: SystemTime,
    /// The release it runs.
    pub release: i64,
    /// How many times in a row it crashed.
    pub crashes: u32,
    /// How many times it was restarted after a crash, in all.
    pub restarts: u32,
    /// Bytes of memory it holds now: a wasm dyno's instances' linear memory (web: every
    /// instance it holds; worker: its one instance), a native dyno's cgroup (anonymous memory
    /// and swap); `None` while it does not run (crashed, starting).
    pub memory_bytes: Option<u64>,
    /// CPU seconds it has used: a wasm dyno's guest calls (thread CPU time around each poll;
    /// a web dyno counts on across sleeps), a native dyno's cgroup; `None` while it does not
    /// run, or where the node does not count a native dyno's CPU (no `cpuacct`).
    pub cpu_seconds: Option<f64>,
}

/// What an app holds of the node's wasm runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppUsage {
    /// Instance slots taken (instances running, ready or idle, workers').
    pub instances: u64,
    /// Linear memory of those instances, in bytes.
    pub memory_bytes: u64,
}

/// The dyno supervisor of one node. Cheap to clone; all clones are the same supervisor.
#[derive(Clone)]
pub struct Supervisor(Arc<Shared>);

pub(crate) struct Shared {
    runtime: Runtime,
    table: Arc<RouteTable>,
    logs: LogSink,
    config: SupervisorConfig,
    apps: Mutex<HashMap<String, Arc<tokio::sync::Mutex<AppRun>>>>,
}

impl Supervisor {
    /// A supervisor running dynos on `runtime`, publishing web dynos into `table`, sending the
    /// dynos' log lines (and its own, on each dyno's `runtime` stream) to `logs`.
    pub fn new(runtime: Runtime, table: Arc<RouteTable>, logs: LogSink, config: SupervisorConfig) -> Self {
        Supervisor(Arc::new(Shared { runtime, table, logs, config, apps: Mutex::default() }))
    }

    /// The route table it publishes into.
    pub fn table(&self) -> &Arc<RouteTable> {
        &self.0.table
    }

    /// Makes `spec` the app's desired state and reconciles: a new release (or new config vars)
    /// replaces every dyno (with [`AppSpec::preboot`], new web dynos take traffic before the old
    /// ones are stopped); a changed quantity starts or stops dynos; domains and maintenance go
    /// to the route table.
    /// Applying the same spec again changes nothing.
    pub async fn apply(&self, spec: AppSpec) {
        let run = self.app_run(&spec.app);
        let mut run = run.lock().await;
        run.apply(&self.0, spec).await;
    }

    /// Restarts the app's dynos: all (`None`), one process type (`Some("web")`) or one dyno
    /// (`Some("web.1")`), in the same order as [`Supervisor::apply`] replaces them.
    pub async fn restart(&self, app: &str, target: Option<&str>) {
        let Some(run) = self.existing(app) else { return };
        run.lock().await.restart(&self.0, target).await;
    }

    /// Stops everything of `app` and removes its routes (app destroyed).
    pub async fn remove(&self, app: &str) {
        let run = self.0.apps.lock().unwrap_or_else(|e| e.into_inner()).remove(app);
        self.0.table.remove_app(app);
        if let Some(run) = run {
            run.lock().await.stop_all(&self.0);
        }
    }

    /// The apps it runs, sorted.
    pub fn apps(&self) -> Vec<String> {
        let mut apps: Vec<String> = self.0.apps.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        apps.sort();
        apps
    }

    /// The dynos of `app`, by process type then number.
    pub async fn dynos(&self, app: &str) -> Vec<DynoStatus> {
        match self.existing(app) {
            Some(run) => run.lock().await.statuses(),
            None => Vec::new(),
        }
    }

    /// What `app` holds of the wasm runtime now.
    pub fn usage(&self, app: &str) -> AppUsage {
        let (instances, memory) = self.0.runtime.app_usage(app);
        AppUsage { instances: instances as u64, memory_bytes: memory as u64 }
    }

    /// Puts to sleep the idle web dynos of every sleeping app (one pass).
    pub async fn sleep_idle(&self) {
        let runs: Vec<_> = self.0.apps.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for run in runs {
            run.lock().await.sleep_idle(&self.0, self.0.config.idle_after);
        }
    }

    /// Runs [`Supervisor::sleep_idle`] every `every` for as long as the supervisor lives.
    pub fn spawn_sleeper(&self, every: Duration) {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(shared) = weak.upgrade() else { return };
                Supervisor(shared).sleep_idle().await;
            }
        });
    }

    /// Stops every dyno of every app, giving each the grace period; returns when all stopped.
    pub async fn shutdown(&self) {
        let runs: Vec<_> = self.0.apps.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        let mut stopping = Vec::new();
        for (name, run) in runs {
            self.0.table.remove_app(&name);
            stopping.extend(run.lock().await.stop_all(&self.0));
        }
        for task in stopping {
            let _ = task.await;
        }
    }

    fn existing(&self, app: &str) -> Option<Arc<tokio::sync::Mutex<AppRun>>> {
        self.0.apps.lock().unwrap_or_else(|e| e.into_inner()).get(app).cloned()
    }

    fn app_run(&self, app: &str) -> Arc<tokio::sync::Mutex<AppRun>> {
        self.0
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(app.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(AppRun::new(app))))
            .clone()
    }
}

impl Shared {
    fn weak_app(self: &Arc<Self>, app: &str) -> Option<Arc<tokio::sync::Mutex<AppRun>>> {
        self.apps.lock().unwrap_or_else(|e| e.into_inner()).get(app).cloned()
    }
}
