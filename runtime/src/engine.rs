//! The runtime: one wasmtime `Engine` per process (component model, pooling allocator,
//! copy-on-write memory images, epoch interruption driven by one background ticker), the host
//! linker, and loading components through the on-disk cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache;
use crate::component::{self, Component};
use crate::error::{LoadError, RuntimeError, chain};
use crate::host::{self, DynoState};
use crate::limits::DynoSize;

/// How the process-wide runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components (`.cwasm`) are cached.
    pub cache_dir: PathBuf,
    /// Where each dyno's scratch directory (its `/tmp`) is created.
    pub scratch_dir: PathBuf,
    /// Use the pooling instance allocator (pre-reserved slots, fast instantiation).
    pub pooling: bool,
    /// Pool size: how many component instances may be alive at once over all dynos.
    pub max_instances: u32,
    /// The largest linear memory any instance may grow to (the largest dyno size).
    pub max_memory_bytes: usize,
    /// Period of the epoch ticker; deadlines are enforced with this granularity.
    pub epoch_tick: Duration,
}

impl RuntimeConfig {
    /// Defaults with everything stored under `data_dir` (`cache/`, `scratch/`).
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        let data_dir = data_dir.as_ref();
        RuntimeConfig {
            cache_dir: data_dir.join("cache"),
            scratch_dir: data_dir.join("scratch"),
            pooling: true,
            max_instances: 1000,
            max_memory_bytes: DynoSize::Performance.limits().memory_bytes,
            epoch_tick: Duration::from_millis(10),
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
    loaded: Mutex<HashMap<String, Component>>,
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
        Ok(Runtime(Arc::new(Inner { engine, linker, config, engine_hash, loaded: Mutex::default() })))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The configuration the runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.0.config
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

    /// Same as [`Runtime::load_component`], from bytes.
    pub fn load_component_bytes(&self, bytes: &[u8]) -> Result<Component, LoadError> {
        component::check_header(bytes)?;
        let sha256 = cache::sha256_hex(bytes);
        if let Some(component) = self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(&sha256) {
            return Ok(component.clone());
        }
        let (compiled, outcome) = cache::load_or_compile(&self.0.engine, &self.0.config.cache_dir, &sha256, bytes)?;
        let component = component::prepare(&self.0.engine, &self.0.linker, &compiled, sha256.clone(), outcome)?;
        self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).insert(sha256, component.clone());
        Ok(component)
    }

    /// Forgets a component loaded earlier (its dynos keep running); its cache file stays.
    pub fn unload(&self, sha256: &str) {
        self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).remove(sha256);
    }
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
            .max_unused_warm_slots(n.min(100));
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
