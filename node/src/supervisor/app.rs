//! One app's dynos: reconciling them with its [`AppSpec`], starting each dyno (wasm web or
//! command; native ones are reported crashed), crash restarts with backoff, retiring old dynos
//! with their grace period, and publishing the up web dynos into the route table.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod native;

use super::slot::{SlotBackend, WebSlot};
use super::backoff::restart_delay;
use super::{AppSpec, DynoState, DynoStatus, ProcessSpec, Program, Shared};
use paas_runtime::{CommandDyno, Component, DynoSpec, ExitStatus, Stdin, WasmUsage};

/// How often a worker's watcher checks whether its run ended.
const WORKER_POLL: Duration = Duration::from_millis(100);


/// One app on this node.
pub(crate) struct AppRun {
    name: String,
    spec: Option<AppSpec>,
    components: HashMap<PathBuf, Component>,
    dynos: BTreeMap<String, Dyno>,
    next_generation: u64,
}

struct Dyno {
    process_type: String,
    command: String,
    size: paas_runtime::DynoSize,
    release: i64,
    state: DynoState,
    since: SystemTime,
    created: SystemTime,
    up_since: Instant,
    crashes: u32,
    /// Restarts after a crash, in all.
    restarts: u32,
    generation: u64,
    run: Run,
}

enum Run {
    None,
    Web(Arc<WebSlot>),
    /// A worker: the stop request (with its grace) to its watcher task, that task, and what
    /// the worker uses.
    Command(oneshot::Sender<Duration>, JoinHandle<()>, WasmUsage),
    /// A native dyno (runc).
    Native(native::NativeRun),
}

impl AppRun {
    pub(crate) fn new(name: &str) -> AppRun {
        AppRun { name: name.to_string(), spec: None, components: HashMap::new(), dynos: BTreeMap::new(), next_generation: 0 }
    }

    pub(crate) async fn apply(&mut self, shared: &Arc<Shared>, spec: AppSpec) {
        shared.table.set_maintenance(&self.name, spec.maintenance);
        if let Err(e) = shared.table.set_domains(&self.name, &spec.domains) {
            tracing::warn!(app = %self.name, "custom domains not routed: {e}");
        }
        let old = self.spec.replace(spec.clone());
        let code_changed = old.as_ref().is_none_or(|o| {
            o.release != spec.release || o.app_dir != spec.app_dir || o.env != spec.env || o.services != spec.services
        });
        let wanted: Vec<&Path> = spec
            .processes
            .values()
            .filter_map(|p| match &p.program {
                Program::Wasm { component, .. } => Some(component.as_path()),
                Program::Native { .. } => None,
            })
            .collect();
        // Components of earlier releases are let go: once no app or dyno holds one it leaves
        // the runtime's in-memory cache (one that other apps still run stays loaded and shared),
        // so memory does not grow with every deploy.
        self.components.retain(|path, component| {
            let keep = wanted.contains(&path.as_path());
            if !keep {
                shared.runtime.unload(component.sha256());
            }
            keep
        });

        let stale: Vec<String> = self
            .dynos
            .iter()
            .filter(|(name, dyno)| {
                let Some(process) = spec.processes.get(&dyno.process_type) else { return true };
                let changed = old.as_ref().and_then(|o| o.processes.get(&dyno.process_type)).is_none_or(|before| !same_process(before, process));
                code_changed || changed || number(name) > process.quantity || !spec.runs_here(name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        self.replace(shared, stale).await;
    }

    /// Restarts the dynos matching `target` (all, a type, or a name), as [`AppRun::replace`] does.
    pub(crate) async fn restart(&mut self, shared: &Arc<Shared>, target: Option<&str>) {
        let names: Vec<String> = self
            .dynos
            .iter()
            .filter(|(name, dyno)| target.is_none_or(|t| t == name.as_str() || t == dyno.process_type))
            .map(|(name, _)| name.clone())
            .collect();
        self.replace(shared, names).await;
    }

    /// Stops the dynos `names` and starts what the formation then misses. With preboot, web
    /// dynos are stopped only once their replacements are up and routed; every other dyno gets
    /// SIGTERM as its replacement starts (Heroku's order without preboot).
    async fn replace(&mut self, shared: &Arc<Shared>, names: Vec<String>) {
        let preboot = self.spec.as_ref().is_some_and(|s| s.preboot);
        let removed = names.into_iter().filter_map(|n| self.dynos.remove(&n).map(|d| (n, d)));
        let (after, now): (Vec<_>, Vec<_>) = removed.partition(|(_, dyno)| preboot && dyno.process_type == "web");
        if !now.is_empty() {
            // Out of the routes first: requests wait for (or miss) the new dynos, as on Heroku.
            self.publish(shared);
        }
        for (name, dyno) in now {
            self.retire(shared, &name, dyno);
        }
        self.start_missing(shared).await;
        self.publish(shared);
        for (name, dyno) in after {
            self.retire(shared, &name, dyno);
        }
    }

    /// Stops every dyno (app removed or node shutting down); returns the stopping tasks.
    pub(crate) fn stop_all(&mut self, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
        self.spec = None;
        let dynos = std::mem::take(&mut self.dynos);
        dynos.into_iter().filter_map(|(name, dyno)| self.retire(shared, &name, dyno)).collect()
    }

    pub(crate) fn statuses(&self) -> Vec<DynoStatus> {
        let mut all: Vec<DynoStatus> = self
            .dynos
            .iter()
            .map(|(name, d)| {
                let (state, since) = match &d.run {
                    Run::Web(slot) => slot.state(),
                    _ => (d.state, d.since),
                };
                DynoStatus {
                    name: name.clone(),
                    process_type: d.process_type.clone(),
                    command: d.command.clone(),
                    size: d.size,
                    state,
                    since,
                    created: d.created,
                    release: d.release,
                    crashes: d.crashes,
                    restarts: d.restarts,
                    memory_bytes: match &d.run {
                        Run::Web(slot) => Some(slot.awake().map_or(0, |dyno| dyno.memory_bytes())),
                        Run::Command(_, _, usage) => Some(usage.memory_bytes()),
                        Run::Native(run) => Some(run.usage.bytes()),
                        Run::None => None,
                    },
                    cpu_seconds: match &d.run {
                        Run::Web(slot) => Some(slot.cpu().seconds()),
                        Run::Command(_, _, usage) => Some(usage.cpu().seconds()),
                        Run::Native(run) => run.usage.cpu_seconds(),
                        Run::None => None,
                    },
                }
            })
            .collect();
        all.sort_by(|a, b| (&a.process_type, number(&a.name)).cmp(&(&b.process_type, number(&b.name))));
        all
    }

    /// Puts web dynos idle for `idle` to sleep when the app sleeps; their instances are dropped
    /// (after the grace period for requests in flight) and the next request wakes them.
    pub(crate) fn sleep_idle(&self, shared: &Arc<Shared>, idle: Duration) {
        if !self.spec.as_ref().is_some_and(|s| s.sleeps) {
            return;
        }
        for dyno in self.dynos.values() {
            if let Run::Web(slot) = &dyno.run
                && let Some(web) = slot.sleep_if_idle(idle)
            {
                let grace = shared.config.stop_grace;
                tokio::spawn(async move { web.stop(grace).await });
            }
        }
    }

    /// A dyno's run ended on its own: it crashed; restart it after the backoff.
    pub(crate) fn exited(&mut self, shared: &Arc<Shared>, name: &str, generation: u64, status: &ExitStatus) {
        if self.dynos.get(name).is_some_and(|d| d.generation == generation) {
            self.crashed(shared, name, format!("Process exited with status {}", status.code()), true);
        }
    }

    /// A crashed dyno's backoff is over: start it again, unless it was replaced meanwhile.
    pub(crate) async fn retry(&mut self, shared: &Arc<Shared>, name: &str, generation: u64) {
        if self.dynos.get(name).is_some_and(|d| d.generation == generation && d.state == DynoState::Crashed) {
            self.launch(shared, name).await;
            self.publish(shared);
        }
    }

    /// Adds and starts every dyno the formation has and this node does not.
    async fn start_missing(&mut self, shared: &Arc<Shared>) {
        let Some(spec) = self.spec.clone() else { return };
        for (process_type, process) in &spec.processes {
            for n in 1..=process.quantity {
                let name = format!("{process_type}.{n}");
                if self.dynos.contains_key(&name) || !spec.runs_here(&name) {
                    continue;
                }
                let now = SystemTime::now();
                self.dynos.insert(
                    name.clone(),
                    Dyno {
                        process_type: process_type.clone(),
                        command: process.command.clone(),
                        size: process.size,
                        release: spec.release,
                        state: DynoState::Starting,
                        since: now,
                        created: now,
                        up_since: Instant::now(),
                        crashes: 0,
                        restarts: 0,
                        generation: 0,
                        run: Run::None,
                    },
                );
                self.launch(shared, &name).await;
            }
        }
    }

    /// Starts the dyno `name` (already in the table, state starting or crashed).
    async fn launch(&mut self, shared: &Arc<Shared>, name: &str) {
        let (Some(spec), Some(dyno)) = (self.spec.clone(), self.dynos.get_mut(name)) else { return };
        self.next_generation += 1;
        dyno.generation = self.next_generation;
        let Some(process) = spec.processes.get(&dyno.process_type).cloned() else { return };
        shared.log(&self.name, name, format!("Starting process with command `{}`", process.command));
        let (component, reuse, args) = match &process.program {
            Program::Native { command } => {
                return match self.start_native(shared, name, command, &spec, &process).await {
                    Ok(run) => self.up(shared, name, run, spec.release),
                    // Without a container runtime a restart cannot help.
                    Err(reason) => self.crashed(shared, name, reason, shared.config.native.is_some()),
                };
            }
            Program::Wasm { component, reuse, args, .. } => (component.clone(), *reuse, args.clone()),
        };
        let component = match self.component(shared, &spec.app_dir, &component).await {
            Ok(component) => component,
            Err(e) => return self.fall_back_or_crash(shared, name, e, &spec, &process).await,
        };
        let mut dyno_spec = DynoSpec::new(&self.name, name);
        dyno_spec.env = spec.env.clone();
        dyno_spec.size = process.size;
        dyno_spec.reuse = reuse;
        dyno_spec.network.services = spec.services.clone();
        dyno_spec.app_dir = Some(spec.app_dir.clone());
        dyno_spec.logs = shared.logs.clone();
        for problem in dyno_spec.apply_instance_vars() {
            shared.log(&self.name, name, problem);
        }
        let is_web = self.dynos.get(name).is_some_and(|d| d.process_type == "web");
        let run = if is_web {
            match WebSlot::start(&shared.runtime, &component, dyno_spec) {
                Ok(slot) => {
                    let prewarmed = match slot.awake() {
                        Some(web) => web.prewarm().await,
                        None => Ok(()),
                    };
                    match prewarmed {
                        Ok(()) => Run::Web(slot),
                        Err(e) => return self.fall_back_or_crash(shared, name, e.to_string(), &spec, &process).await,
                    }
                }
                Err(e) => return self.fall_back_or_crash(shared, name, e.to_string(), &spec, &process).await,
            }
        } else {
            match CommandDyno::start(&shared.runtime, &component, dyno_spec, args, Stdin::Empty) {
                Ok(command) => {
                    let generation = self.next_generation;
                    let usage = command.usage();
                    let (stop, task) = watch_worker(shared, self.name.clone(), name.to_string(), generation, command);
                    Run::Command(stop, task, usage)
                }
                Err(e) => return self.fall_back_or_crash(shared, name, e.to_string(), &spec, &process).await,
            }
        };
        self.up(shared, name, run, spec.release);
    }

    /// The dyno `name` started: it is up.
    fn up(&mut self, shared: &Arc<Shared>, name: &str, run: Run, release: i64) {
        if let Some(dyno) = self.dynos.get_mut(name) {
            let from = dyno.state;
            dyno.run = run;
            dyno.state = DynoState::Up;
            dyno.since = SystemTime::now();
            dyno.up_since = Instant::now();
            dyno.release = release;
            shared.log(&self.name, name, format!("State changed from {} to up", from.as_str()));
        }
    }

    /// Marks `name` crashed (logging why, unless `reason` is empty) and, when `retry`,
    /// schedules its restart.
    fn crashed(&mut self, shared: &Arc<Shared>, name: &str, reason: String, retry: bool) {
        let Some(dyno) = self.dynos.get_mut(name) else { return };
        if !reason.is_empty() {
            shared.log(&self.name, name, reason);
        }
        let from = dyno.state;
        if from == DynoState::Up && dyno.up_since.elapsed() >= shared.config.crash_reset {
            dyno.crashes = 0;
        }
        dyno.crashes += 1;
        dyno.restarts += 1;
        dyno.state = DynoState::Crashed;
        dyno.since = SystemTime::now();
        dyno.run = Run::None;
        if from != DynoState::Crashed {
            shared.log(&self.name, name, format!("State changed from {} to crashed", from.as_str()));
        }
        let (is_web, crashes, generation) = (dyno.process_type == "web", dyno.crashes, dyno.generation);
        if retry {
            let delay = restart_delay(crashes, shared.config.backoff_base, shared.config.backoff_max);
            schedule_retry(shared, self.name.clone(), name.to_string(), generation, delay);
        }
        if is_web {
            self.publish(shared);
        }
    }

    /// Publishes the up web dynos; with none up and one crashed, the app is marked crashed (H10).
    fn publish(&self, shared: &Arc<Shared>) {
        let mut crashed = false;
        let mut web = Vec::new();
        for (name, dyno) in &self.dynos {
            if dyno.process_type != "web" {
                continue;
            }
            match &dyno.run {
                Run::Web(slot) if dyno.state == DynoState::Up => {
                    web.push(paas_router::WebDyno::new(name.clone(), SlotBackend(slot.clone())));
                }
                Run::Native(native::NativeRun { route: Some(route), .. }) if dyno.state == DynoState::Up => {
                    web.push(paas_router::WebDyno::new(name.clone(), route.clone()));
                }
                _ => crashed |= dyno.state == DynoState::Crashed,
            }
        }
        let crashed = crashed && web.is_empty();
        shared.table.set_web(&self.name, web);
        shared.table.set_crashed(&self.name, crashed);
    }

    /// Stops a dyno that left the formation: SIGTERM, then up to the grace period.
    fn retire(&self, shared: &Arc<Shared>, name: &str, dyno: Dyno) -> Option<JoinHandle<()>> {
        let grace = shared.config.stop_grace;
        match dyno.run {
            Run::None => None,
            Run::Web(slot) => {
                shared.log(&self.name, name, "Stopping all processes with SIGTERM".to_string());
                // Requests that picked this dyno from the previous route still reach it while
                // it drains; then it refuses new ones and in-flight ones get the grace period.
                let drain = shared.config.drain;
                Some(tokio::spawn(async move {
                    tokio::time::sleep(drain).await;
                    if let Some(web) = slot.retire() {
                        web.stop(grace).await;
                    }
                }))
            }
            Run::Command(stop, task, _) | Run::Native(native::NativeRun { stop, task, .. }) => {
                shared.log(&self.name, name, "Stopping all processes with SIGTERM".to_string());
                let _ = stop.send(grace);
                Some(task)
            }
        }
    }

    /// The component at `path` (inside `app_dir`, an unpacked slug whose files a tenant wrote),
    /// read by [`Runtime::load_slug_component`]: a link in the slug never leads the host out of it.
    async fn component(&mut self, shared: &Arc<Shared>, app_dir: &Path, path: &Path) -> Result<Component, String> {
        if let Some(component) = self.components.get(path) {
            return Ok(component.clone());
        }
        let runtime = shared.runtime.clone();
        let (root, file) = (app_dir.to_path_buf(), path.to_path_buf());
        let loaded = tokio::task::spawn_blocking(move || {
            let relative = file.strip_prefix(&root).map_err(|_| "the component is not inside the app's folder".to_string())?;
            runtime.load_slug_component(&root, relative).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("cannot load the component: {e}"))?
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        self.components.insert(path.to_path_buf(), loaded.clone());
        Ok(loaded)
    }
}

impl Shared {
    /// One line on a dyno's `runtime` stream (Heroku's `heroku[web.1]: …` lines).
    fn log(&self, app: &str, dyno: &str, line: String) {
        self.logs.runtime_line(app, dyno, line);
    }
}

/// Whether two process specs run the same thing (only the quantity may differ).
fn same_process(a: &ProcessSpec, b: &ProcessSpec) -> bool {
    a.program == b.program && a.size == b.size && a.command == b.command
}

/// `web.3` → 3.
fn number(name: &str) -> u32 {
    name.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(u32::MAX)
}

/// Runs a worker until it ends (then reports the crash) or is asked to stop (with a grace).
fn watch_worker(
    shared: &Arc<Shared>,
    app: String,
    name: String,
    generation: u64,
    command: CommandDyno,
) -> (oneshot::Sender<Duration>, JoinHandle<()>) {
    let (stop_tx, mut stop_rx) = oneshot::channel::<Duration>();
    let weak = Arc::downgrade(shared);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                grace = &mut stop_rx => {
                    // A dropped sender (the app is gone) stops at once.
                    command.stop(grace.unwrap_or(Duration::ZERO)).await;
                    return;
                }
                () = tokio::time::sleep(WORKER_POLL) => if command.is_finished() { break },
            }
        }
        let status = command.wait().await;
        let Some(shared) = weak.upgrade() else { return };
        if let Some(run) = shared.weak_app(&app) {
            run.lock().await.exited(&shared, &name, generation, &status);
        }
    });
    (stop_tx, task)
}

/// Restarts a crashed dyno after `delay`, if it is still the same crashed dyno then.
fn schedule_retry(shared: &Arc<Shared>, app: String, name: String, generation: u64, delay: Duration) {
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let Some(shared) = weak.upgrade() else { return };
        if let Some(run) = shared.weak_app(&app) {
            run.lock().await.retry(&shared, &name, generation).await;
        }
    });
}
