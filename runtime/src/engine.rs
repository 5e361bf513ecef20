//! The runtime: one wasmtime `Engine` per process (component model, pooling allocator,
//! copy-on-write memory images, epoch interruption driven by one background ticker), the host
//! linker, and loading components through the on-disk cache.
//!
//! Density: a component is compiled (or mapped from the cache) and pre-instantiated once per
//! process and shared by every app and dyno that runs the same bytes, for as long as one of them
//! holds it. Instances come from one pool of `max_instances` slots; web dynos that reuse
//! instances keep idle ones, and when the pool is full the least recently used dyno gives one
//! back ([`Runtime::release_idle_instance`]), so more such dynos than slots still serve.
//!
//! Sharing: an app holds at most `max_instances_per_app` of the pool's slots (see `slots.rs`),
//! and a guest call that keeps a thread busy past its CPU slice goes on in the low-priority
//! background lane (see `lanes.rs`), so no app can take the pool or the CPU from the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, PoolingAllocatorMetrics};

use crate::cache;
use crate::component::{self, Component};
use crate::error::{LoadError, RuntimeError, SlugComponentError, chain};
use crate::host::{self, DynoState};
use crate::cpu::CpuTime;
use crate::lanes::{Background, CPU_SLICE, InlineCall};
use crate::limits::DynoSize;
use crate::outbound::{AppsRoute, Outbound};
use crate::slots::{AppShare, AppSlots, MAX_INSTANCES_PER_APP, MAX_MEMORY_PER_APP, Slot};

/// How the process-wide runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components (`.cwasm`) are cached.
    pub cache_dir: PathBuf,
    /// Where each dyno's scratch directory (its `/tmp`) is created.
    pub scratch_dir: PathBuf,
    /// Give each dyno's `/tmp` its own tmpfs of [`crate::Limits::tmp_bytes`] (writes past it fail
    /// with ENOSPC). Needs `CAP_SYS_ADMIN` (root); false: a plain directory on the host's disk
    /// without a quota.
    pub tmp_quota: bool,
    /// Use the pooling instance allocator (pre-reserved slots, fast instantiation).
    pub pooling: bool,
    /// Pool size: how many component instances may be alive at once over all dynos.
    pub max_instances: u32,
    /// How many of the pool's instances one app may hold at once (over all its dynos: running,
    /// idle for reuse, workers, one-offs); more requests wait for one of the app's own. See
    /// [`MAX_INSTANCES_PER_APP`].
    pub max_instances_per_app: u32,
    /// How much linear memory one app's instances may hold together, in bytes; an instance
    /// growing past it (once the app's idle instances are given back) traps with R15. See
    /// [`MAX_MEMORY_PER_APP`].
    pub max_memory_per_app: usize,
    /// A guest call that has kept a thread busy this long goes on in the background lane (nice
    /// 19, apart from the router and the API). See [`CPU_SLICE`].
    pub cpu_slice: Duration,
    /// Threads of the background lane (default: one per core).
    pub background_threads: usize,
    /// The largest linear memory any instance may grow to (the largest dyno size).
    pub max_memory_bytes: usize,
    /// Period of the epoch ticker; deadlines are enforced with this granularity.
    pub epoch_tick: Duration,
    /// Bytes at the start of a freed linear memory (and of a freed table) reset in place and kept
    /// resident for the next instance, instead of given back to the kernel. See [`KEEP_RESIDENT`].
    pub keep_resident: usize,
    /// Freed instance slots kept warm (their `keep_resident` bytes resident), for reuse by the
    /// same component. See [`WARM_SLOTS`].
    pub warm_slots: u32,
    /// Ranges guests may reach although the egress policy denies them (`paas server
    /// --egress-allow`): loopback, the node's addresses, link-local, private ranges are denied
    /// otherwise (see `paas_sandbox::egress`).
    pub egress_allow: Vec<paas_sandbox::egress::IpNet>,
}

/// Default [`RuntimeConfig::keep_resident`]: 1 MiB.
///
/// Every request of an app without instance reuse takes a fresh instance from the pool and gives
/// it back after. By default wasmtime resets a freed linear memory with `madvise(DONTNEED)`:
/// under load that was 7% of the server's CPU in `madvise` itself, TLB shootdowns to every core
/// running the process, and page faults (12%) as the next instance touched the same pages again
/// (`bench/flamegraph.sh`, fresh mode, #22). With `keep_resident` above 0 and the kernel's
/// `PAGEMAP_SCAN` (Linux 6.7+, used when present), only the pages an instance wrote are reset,
/// by copying, up to this many bytes; the rest still goes back to the kernel. The cost: a warm
/// slot keeps up to this much of what its last instance touched resident (a hello-world touches
/// well under 1 MiB; at most `warm_slots` slots are warm). Last stop measured 0 as good as
/// 16–256 KiB in-process without `PAGEMAP_SCAN` (memset of the whole prefix).
pub const KEEP_RESIDENT: usize = 1 << 20;

/// Default [`RuntimeConfig::warm_slots`]: 100. A warm slot of a component that instantiates
/// again skips re-mapping its memory image; with [`KEEP_RESIDENT`] 0 a warm slot costs page
/// tables, not resident data, so a hundred (a tenth of the pool) is cheap.
pub const WARM_SLOTS: u32 = 100;

/// The largest component read from a tenant's app tree: a slug's own limit (500 MiB).
pub const MAX_COMPONENT_SIZE: u64 = 500 * 1024 * 1024;

impl RuntimeConfig {
    /// Defaults with everything stored under `data_dir` (`cache/`, `scratch/`).
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        let data_dir = data_dir.as_ref();
        RuntimeConfig {
            cache_dir: data_dir.join("cache"),
            scratch_dir: data_dir.join("scratch"),
            tmp_quota: true,
            pooling: true,
            max_instances: 1000,
            max_instances_per_app: MAX_INSTANCES_PER_APP,
            max_memory_per_app: MAX_MEMORY_PER_APP,
            cpu_slice: CPU_SLICE,
            background_threads: std::thread::available_parallelism().map_or(2, usize::from),
            max_memory_bytes: DynoSize::Performance.limits().memory_bytes,
            epoch_tick: Duration::from_millis(10),
            keep_resident: KEEP_RESIDENT,
            warm_slots: WARM_SLOTS,
            egress_allow: Vec::new(),
        }
    }
}

/// The process-wide wasm runtime. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    engine: Engine,
    linker: Linker<DynoState>,
    config: RuntimeConfig,
    engine_hash: String,
    /// sha256 → the loaded component, while an app or a dyno holds it (weak: the last holder
    /// dropping it frees its code and `InstancePre`).
    loaded: Mutex<HashMap<String, Weak<component::Inner>>>,
    /// Dynos that keep idle instances, asked for one when the pool is full.
    keepers: Mutex<Vec<Weak<dyn IdleInstances>>>,
    /// Each app's share of the pool.
    app_slots: AppSlots,
    /// Where guest calls past their CPU slice run.
    background: Background,
    /// [`coarse_ms`] when it started.
    started_ms: u64,
    /// Where guests' outgoing requests and sockets may go.
    outbound: Arc<Outbound>,
}

/// Something that keeps idle instances (a web dyno reusing them) and can give one back.
pub(crate) trait IdleInstances: Send + Sync {
    /// The app whose instances these are.
    fn app(&self) -> &str;
    /// When it last served a request ([`Runtime::now_ms`]): the oldest gives back first.
    fn last_used(&self) -> u64;
    /// Drops one idle instance, returning its slots to the pool; false if it has none.
    fn release_one(&self) -> bool;
}

impl Runtime {
    /// Creates the engine and starts its epoch ticker thread (which ends with the engine).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        for dir in [&config.cache_dir, &config.scratch_dir] {
            std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Dir { path: dir.clone(), source })?;
        }
        let engine = Engine::new(&engine_config(&config)).map_err(|e| RuntimeError::Engine { detail: chain(&e) })?;
        let linker = host::linker(&engine).map_err(|e| RuntimeError::Engine { detail: chain(&e) })?;
        spawn_epoch_ticker(&engine, config.epoch_tick);
        let engine_hash = cache::engine_hash(&engine);
        let outbound = Arc::new(Outbound::for_node(config.egress_allow.clone())?);
        let background = Background::new(config.background_threads, config.cpu_slice)
            .map_err(|e| RuntimeError::Engine { detail: format!("cannot start the background lane: {e}") })?;
        // An app's share can be no more than the pool.
        let per_app = config.max_instances_per_app.min(config.max_instances);
        let app_slots = AppSlots::new(per_app, config.max_memory_per_app);
        Ok(Runtime(Arc::new(Inner {
            engine,
            linker,
            config,
            engine_hash,
            loaded: Mutex::default(),
            keepers: Mutex::default(),
            app_slots,
            background,
            started_ms: coarse_ms(),
            outbound,
        })))
    }

    /// Removes the dynos' scratch directories (and unmounts their `/tmp`s) that a crashed
    /// process using the same data directory left; call once at start, before any dyno runs.
    /// Returns how many there were.
    pub fn remove_stale_scratch(&self) -> usize {
        crate::fs::remove_stale(&self.0.config.scratch_dir)
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The configuration the runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.0.config
    }

    /// Sends guests' requests for `http://<app>.<domain>/` to the router at `route.router`
    /// (the router's own address is denied to them otherwise). Set once, when the router
    /// listens; false if a different route was set before.
    pub fn set_apps_route(&self, route: AppsRoute) -> bool {
        self.0.outbound.set_apps_route(route)
    }

    /// The outbound policy of every dyno.
    pub(crate) fn outbound(&self) -> &Arc<Outbound> {
        &self.0.outbound
    }

    /// The cache file a component with this sha256 is (or would be) stored in.
    pub fn cache_path(&self, sha256: &str) -> PathBuf {
        cache::cache_path(&self.0.config.cache_dir, sha256, &self.0.engine_hash)
    }

    /// Loads a component file: checks it, compiles it once (or maps it from the cache), checks
    /// its imports and exports against what the host provides, and pre-instantiates it.
    ///
    /// This blocks (compiling takes seconds): call it from `spawn_blocking` in async code.
    pub fn load_component(&self, path: impl AsRef<Path>) -> Result<Component, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        self.load_component_bytes(&bytes)
    }

    /// Loads the component at `component` (relative to `app_dir`, as the tenant's manifest or
    /// Procfile names it) from a built or unpacked app tree, read through a
    /// [`TenantTree`](paas_sandbox::tree::TenantTree): a link leading out of the tree is never
    /// followed, a FIFO never opened, and at most [`MAX_COMPONENT_SIZE`] bytes are read.
    /// Blocking, as [`Runtime::load_component`].
    pub fn load_slug_component(&self, app_dir: &Path, component: &Path) -> Result<Component, SlugComponentError> {
        use paas_sandbox::tree::{TenantTree, UntrustedPath};
        let tree = TenantTree::open(app_dir).map_err(SlugComponentError::OpenTree)?;
        let path = UntrustedPath::new(component);
        let bytes = tree.read(path, MAX_COMPONENT_SIZE)?;
        self.load_component_bytes(&bytes).map_err(|error| SlugComponentError::Load { path: path.shown(), error })
    }

    /// Same as [`Runtime::load_component`], from bytes. The same bytes loaded again while an
    /// earlier load is still held (by any app) give that same component: one copy of the code.
    pub fn load_component_bytes(&self, bytes: &[u8]) -> Result<Component, LoadError> {
        component::check_header(bytes)?;
        let sha256 = cache::sha256_hex(bytes);
        if let Some(component) = self.loaded(&sha256) {
            return Ok(component);
        }
        let (compiled, outcome) = cache::load_or_compile(&self.0.engine, &self.0.config.cache_dir, &sha256, bytes)?;
        let component = component::prepare(&self.0.engine, &self.0.linker, &compiled, sha256.clone(), outcome)?;
        let mut loaded = self.0.loaded.lock().unwrap_or_else(|e| e.into_inner());
        // Two apps may have loaded the same bytes at once: keep the first, so both share it.
        if let Some(first) = loaded.get(&sha256).and_then(Weak::upgrade) {
            return Ok(Component(first));
        }
        loaded.retain(|_, held| held.strong_count() > 0);
        loaded.insert(sha256, Arc::downgrade(&component.0));
        Ok(component)
    }

    fn loaded(&self, sha256: &str) -> Option<Component> {
        self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(sha256).and_then(Weak::upgrade).map(Component)
    }

    /// Forgets a component loaded earlier if nothing holds it any more (its cache file stays).
    /// A component another app still runs stays loaded and shared.
    pub fn unload(&self, sha256: &str) {
        let mut loaded = self.0.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.get(sha256).is_some_and(|held| held.strong_count() == 0) {
            loaded.remove(sha256);
        }
    }

    /// How many distinct components are loaded (held by some app or dyno) right now.
    pub fn loaded_components(&self) -> usize {
        self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|held| held.strong_count() > 0).count()
    }

    /// The pooling allocator's counts (instances, memories, tables, stacks in use; warm slots and
    /// the bytes they keep resident); `None` without the pooling allocator.
    pub fn pool_metrics(&self) -> Option<PoolingAllocatorMetrics> {
        self.0.engine.pooling_allocator_metrics()
    }

    /// Milliseconds since the runtime started, on the coarse monotonic clock (it moves in steps
    /// of the kernel's tick, a few milliseconds, and costs a fraction of a precise read): the
    /// clock of [`IdleInstances::last_used`] and of when a web dyno last had a request.
    pub fn now_ms(&self) -> u64 {
        coarse_ms().saturating_sub(self.0.started_ms)
    }

    /// Registers a dyno that keeps idle instances.
    pub(crate) fn register_keeper(&self, keeper: Weak<dyn IdleInstances>) {
        let mut keepers = self.0.keepers.lock().unwrap_or_else(|e| e.into_inner());
        // Stopped dynos leave dead entries: sweep them before the list would grow.
        if keepers.len() == keepers.capacity() {
            keepers.retain(|k| k.strong_count() > 0);
        }
        keepers.push(keeper);
    }

    /// The pool is full: the least recently used dyno with an idle instance drops it, freeing its
    /// slots. False when no dyno has an idle instance (every slot serves a request).
    pub(crate) fn release_idle_instance(&self) -> bool {
        self.release_idle_instance_of(None)
    }

    /// Same, among the dynos of `app` only (`None`: of any app).
    pub(crate) fn release_idle_instance_of(&self, app: Option<&str>) -> bool {
        let mut live: Vec<Arc<dyn IdleInstances>> = {
            let mut keepers = self.0.keepers.lock().unwrap_or_else(|e| e.into_inner());
            keepers.retain(|k| k.strong_count() > 0);
            keepers.iter().filter_map(Weak::upgrade).filter(|k| app.is_none_or(|app| k.app() == app)).collect()
        };
        live.sort_by_key(|k| k.last_used());
        live.iter().any(|k| k.release_one())
    }

    /// The share (instance slots, memory) of `app`, shared by all its dynos.
    pub(crate) fn app_share(&self, app: &str) -> Arc<AppShare> {
        self.0.app_slots.of(app)
    }

    /// What `app` holds of the runtime now, over all its dynos: instance slots taken and linear
    /// memory in bytes.
    pub fn app_usage(&self, app: &str) -> (usize, usize) {
        self.app_share(app).usage()
    }

    /// One of `app`'s slots for a new instance: a free one, else one of the app's own idle
    /// instances given back, else the next one the app's running instances free (waits).
    pub(crate) async fn instance_slot(&self, app: &str, slots: &Arc<Semaphore>) -> Slot {
        loop {
            if let Some(slot) = self.try_instance_slot(app, slots) {
                return slot;
            }
            if slots.available_permits() == 0 {
                // The semaphore is never closed.
                if let Ok(slot) = slots.clone().acquire_owned().await {
                    return slot;
                }
            }
        }
    }

    /// One of `app`'s slots if one is free or an idle instance of the app can give its up.
    pub(crate) fn try_instance_slot(&self, app: &str, slots: &Arc<Semaphore>) -> Option<Slot> {
        loop {
            if let Ok(slot) = slots.clone().try_acquire_owned() {
                return Some(slot);
            }
            if !self.release_idle_instance_of(Some(app)) {
                return None;
            }
        }
    }

    /// Runs a guest call as a task of the current runtime, moved to the background lane once it
    /// has used its CPU slice. Aborting the handle ends it wherever it runs. Its CPU time counts
    /// into `cpu` (its dyno's).
    pub(crate) fn spawn_guest<F>(&self, cpu: &CpuTime, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.background.spawn(fut, cpu.clone())
    }

    /// A guest call polled in the task that awaits it, moved to the background lane once it has
    /// used its CPU slice, and going on as a task of its own if dropped before it ends
    /// ([`InlineCall`]).
    pub(crate) fn call_guest<'a, F>(&'a self, cpu: &'a CpuTime, fut: F) -> InlineCall<'a, F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.background.inline(fut, cpu)
    }
}

/// Whether instantiating failed only because the pool has no free slot of some kind.
pub(crate) fn is_pool_full(e: &wasmtime::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some())
}

/// Milliseconds on the coarse monotonic clock.
fn coarse_ms() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    u64::try_from(now.tv_sec).unwrap_or(0).saturating_mul(1000).saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000)
}

fn engine_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.memory_init_cow(true);
    if config.pooling {
        let n = config.max_instances;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(8))
            .total_stacks(n)
            .max_memory_size(config.max_memory_bytes)
            .max_unused_warm_slots(n.min(config.warm_slots))
            .linear_memory_keep_resident(config.keep_resident)
            .table_keep_resident(config.keep_resident)
            // Where the kernel has PAGEMAP_SCAN (6.7+), only the pages an instance touched are
            // reset (up to `keep_resident` bytes), without `madvise`.
            .pagemap_scan(Enabled::Auto);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

fn spawn_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("paas-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawn the epoch ticker thread");
}
