//! What the platform says about a dyno ([`DynoSpec`]: app, name, config vars, size, reuse,
//! concurrency, app directory, network policy, log sink) and how one instance's store is built
//! from it: environment, arguments, stdio, preopens, limits, deadline.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncRead;
use wasmtime::{Store, UpdateDeadline};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::cli::AsyncStdinStream;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::attach::AttachedOutput;
use crate::engine::Runtime;
use crate::error::{StartError, chain};
use crate::fs::{self, Scratch};
use crate::host::DynoState;
use crate::limits::{DynoLimiter, DynoSize, Limits};
use crate::logs::{GuestOutput, LogSink, LogSource, LogStreamKind};
use crate::outbound::OutboundHooks;

/// Which outgoing sockets (`wasi:sockets`) a dyno may open. Outgoing HTTP through
/// `wasi:http/outgoing-handler` is always allowed; raw sockets are denied unless granted here.
/// Both go only where the node's egress policy lets them (see `outbound.rs`), except the
/// attached add-ons' endpoints in `services`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Allow every address (TCP and UDP) and name lookups, under the egress policy.
    pub allow_all: bool,
    /// Addresses TCP connections may be made to, when not `allow_all`, under the egress policy.
    pub allow_tcp_to: Vec<SocketAddr>,
    /// The attached add-ons' endpoints: TCP connect allowed to exactly these, even where the
    /// node's egress policy denies the address (add-on servers listen on a node address).
    pub services: Vec<SocketAddr>,
}

impl NetworkPolicy {
    /// Whether any socket is granted at all (else `wasi:sockets` is off).
    fn grants_sockets(&self) -> bool {
        self.allow_all || !self.allow_tcp_to.is_empty() || !self.services.is_empty()
    }
}

/// Everything the platform decides about one dyno.
#[derive(Debug, Clone)]
pub struct DynoSpec {
    /// The app's name.
    pub app: String,
    /// The dyno's name: `web.1`, `worker.2`, `run.4711`.
    pub dyno: String,
    /// Config vars, given as environment variables.
    pub env: BTreeMap<String, String>,
    /// The dyno size; its limits apply unless `limits` is set.
    pub size: DynoSize,
    /// Limits overriding the size's defaults.
    pub limits: Option<Limits>,
    /// Web dynos: reuse an instance across requests (true: the default for Rust and Python
    /// components) or take a fresh instance per request (false). The app's config var
    /// [`INSTANCE_REUSE_VAR`] overrides the slug's choice ([`DynoSpec::apply_instance_vars`]).
    pub reuse: bool,
    /// Web dynos in reuse mode: an instance is retired after this many requests (and after any
    /// trap). See [`MAX_REQUESTS_PER_INSTANCE`].
    pub max_requests: u64,
    /// Web dynos: instances kept instantiated ahead of requests (fresh mode; one in reuse mode).
    /// See [`READY_INSTANCES`].
    pub ready: usize,
    /// Web dynos: how many requests run at once; more wait their turn.
    pub concurrency: usize,
    /// The slug's app directory, preopened read-only at `/app`.
    pub app_dir: Option<PathBuf>,
    /// The value of `$PORT` (wasm web dynos are called in-process; the variable is set for
    /// apps that read it).
    pub port: u16,
    /// Outgoing socket policy.
    pub network: NetworkPolicy,
    /// Where the dyno's log lines go.
    pub logs: LogSink,
    /// An attached one-off dyno: its stdout and stderr go, as raw bytes, to this pipe instead of
    /// `logs` (which still gets the runtime's own lines: exit status, traps).
    pub attached: Option<AttachedOutput>,
    /// The CPU time its guests use, counted as they run. Clones of the spec share it: a web dyno
    /// woken after a sleep counts on.
    pub cpu: crate::cpu::CpuTime,
}

impl DynoSpec {
    /// A spec with defaults: `basic` size, reuse on, concurrency 16, no config vars, no `/app`,
    /// `PORT=5000`, no sockets, logs discarded.
    pub fn new(app: impl Into<String>, dyno: impl Into<String>) -> Self {
        DynoSpec {
            app: app.into(),
            dyno: dyno.into(),
            env: BTreeMap::new(),
            size: DynoSize::Basic,
            limits: None,
            reuse: true,
            max_requests: MAX_REQUESTS_PER_INSTANCE,
            ready: READY_INSTANCES,
            concurrency: 16,
            app_dir: None,
            port: 5000,
            network: NetworkPolicy::default(),
            logs: LogSink::discard(),
            attached: None,
            cpu: crate::cpu::CpuTime::new(),
        }
    }

    /// Applies the app's choices about instances from its config vars: [`INSTANCE_REUSE_VAR`]
    /// (`1`/`true`/`on` or `0`/`false`/`off`) over the slug's `reuse`, and
    /// [`INSTANCE_MAX_REQUESTS_VAR`] (a count ≥ 1) over [`MAX_REQUESTS_PER_INSTANCE`]. Returns
    /// a line for the dyno's log for each value that is not understood (and left unapplied).
    pub fn apply_instance_vars(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(value) = self.env.get(INSTANCE_REUSE_VAR) {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "on" | "yes" => self.reuse = true,
                "0" | "false" | "off" | "no" => self.reuse = false,
                _ => problems.push(format!(
                    "{INSTANCE_REUSE_VAR} is not one of 1, true, on, 0, false, off: the slug's choice (reuse = {}) stands",
                    self.reuse
                )),
            }
        }
        if let Some(value) = self.env.get(INSTANCE_MAX_REQUESTS_VAR) {
            match value.trim().parse::<u64>() {
                Ok(n) if n >= 1 => self.max_requests = n,
                _ => problems.push(format!(
                    "{INSTANCE_MAX_REQUESTS_VAR} is not a whole number from 1: instances are retired after {} requests",
                    self.max_requests
                )),
            }
        }
        problems
    }

    /// The limits in force: `limits` if set, else the size's.
    pub fn effective_limits(&self) -> Limits {
        self.limits.clone().unwrap_or_else(|| self.size.limits())
    }

    /// The environment the guest sees: config vars, then `PORT`, `DYNO`, `PS` (which config vars
    /// cannot override), `HOME=/app` and `TMPDIR=/tmp`.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.entry("HOME".into()).or_insert_with(|| "/app".into());
        env.entry("TMPDIR".into()).or_insert_with(|| "/tmp".into());
        env.insert("PORT".into(), self.port.to_string());
        env.insert("DYNO".into(), self.dyno.clone());
        env.insert("PS".into(), self.dyno.clone());
        env.into_iter().collect()
    }
}

/// The config var by which an app chooses instance reuse for its web dynos, whatever the slug
/// says: `PAAS_INSTANCE_REUSE=1` (one instance serves request after request) or `0` (a fresh
/// instance per request).
pub const INSTANCE_REUSE_VAR: &str = "PAAS_INSTANCE_REUSE";

/// The config var setting [`DynoSpec::max_requests`].
pub const INSTANCE_MAX_REQUESTS_VAR: &str = "PAAS_INSTANCE_MAX_REQUESTS";

/// Default [`DynoSpec::max_requests`]: a reused instance is retired after 10,000 requests, so
/// what a guest leaks (memory, table entries) is bounded; one instantiation in 10,000 requests
/// costs nothing measurable, and the replacement is made after a response, not before one.
pub const MAX_REQUESTS_PER_INSTANCE: u64 = 10_000;

/// Default [`DynoSpec::ready`]: a fresh-mode web dyno keeps two instances ready, so a request
/// (or two at once) finds one made; each request's task makes the next after its response.
/// Instances beyond them are made on the request's path. Idle ones are given back when the
/// pool is full, and all when the dyno sleeps.
pub const READY_INSTANCES: usize = 2;

/// Standard input of a worker or one-off run.
pub enum Stdin {
    /// Nothing: reads see end of file.
    Empty,
    /// These bytes, then end of file.
    Bytes(Bytes),
    /// A stream, e.g. the connection of an attached one-off dyno.
    Reader(Box<dyn AsyncRead + Send + Sync + Unpin>),
}

/// What every instance of one dyno shares: built once at dyno start.
pub(crate) struct DynoContext {
    pub runtime: Runtime,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    pub network: NetworkPolicy,
    pub log: LogSource,
    pub attached: Option<AttachedOutput>,
    pub scratch: std::sync::Mutex<Scratch>,
    pub scratch_path: PathBuf,
    /// `/tmp` and `/app`, opened once at dyno start and shared by its instances (a store takes
    /// a clone: no system call). `None` once the scratch directory is wiped.
    preopens: std::sync::Mutex<Option<WasiFilesystemCtx>>,
    /// The app's share of instance slots and memory (shared with its other dynos).
    pub share: Arc<crate::slots::AppShare>,
    /// Bytes of linear memory the dyno's instances hold now (its metrics' memory).
    pub memory: Arc<std::sync::atomic::AtomicUsize>,
    /// CPU time of its guests' calls.
    pub cpu: crate::cpu::CpuTime,
}

impl DynoContext {
    pub fn new(runtime: &Runtime, spec: &DynoSpec) -> Result<Arc<DynoContext>, StartError> {
        if spec.app.is_empty() || spec.dyno.is_empty() {
            return Err(StartError::Spec("app and dyno names must not be empty".into()));
        }
        if let Some(dir) = &spec.app_dir
            && !dir.is_dir()
        {
            return Err(StartError::Filesystem {
                dyno: spec.dyno.clone(),
                detail: format!("app directory `{}` is not a directory", dir.display()),
            });
        }
        let limits = spec.effective_limits();
        let quota = runtime.config().tmp_quota.then_some(limits.tmp_bytes);
        let scratch = Scratch::create(&runtime.config().scratch_dir, &spec.app, &spec.dyno, quota)?;
        let mut opened = WasiCtxBuilder::new();
        fs::preopen(&mut opened, scratch.path(), spec.app_dir.as_deref())
            .map_err(|e| StartError::Filesystem { dyno: spec.dyno.clone(), detail: chain(&e) })?;
        let preopens = opened.build().filesystem().clone();
        Ok(Arc::new(DynoContext {
            runtime: runtime.clone(),
            env: spec.environment(),
            limits,
            network: spec.network.clone(),
            log: LogSource { app: spec.app.as_str().into(), dyno: spec.dyno.as_str().into(), sink: spec.logs.clone() },
            attached: spec.attached.clone(),
            scratch_path: scratch.path().to_path_buf(),
            scratch: std::sync::Mutex::new(scratch),
            preopens: std::sync::Mutex::new(Some(preopens)),
            share: runtime.app_share(&spec.app),
            memory: Arc::default(),
            cpu: spec.cpu.clone(),
        }))
    }

    /// The host path of the dyno's `/tmp`.
    pub fn scratch_path(&self) -> &Path {
        &self.scratch_path
    }

    /// A slot of the app's share of the instance pool, for one new instance (waits while the
    /// app's running instances hold them all).
    pub async fn instance_slot(&self) -> crate::slots::Slot {
        self.runtime.instance_slot(&self.log.app, &self.share.slots).await
    }

    /// Removes the scratch directory (and closes the dyno's own descriptors of `/tmp` and
    /// `/app`: a tmpfs goes once the instances holding it are gone too).
    pub fn wipe_scratch(&self) {
        self.preopens.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.scratch.lock().unwrap_or_else(|e| e.into_inner()).wipe();
    }

    /// A new store for one instance, with its deadline set `timeout` from now.
    pub fn new_store(
        &self,
        args: &[String],
        stdin: Stdin,
        timeout: Option<Duration>,
    ) -> Result<Store<DynoState>, String> {
        let mut b = WasiCtxBuilder::new();
        b.envs(&self.env).args(args);
        if let Some(terminal) = &self.attached {
            b.stdout(terminal.clone());
            b.stderr(terminal.clone());
        } else {
            b.stdout(GuestOutput::new(self.log.clone(), LogStreamKind::Stdout));
            b.stderr(GuestOutput::new(self.log.clone(), LogStreamKind::Stderr));
        }
        match stdin {
            Stdin::Empty => {}
            Stdin::Bytes(bytes) => {
                b.stdin(MemoryInputPipe::new(bytes));
            }
            Stdin::Reader(reader) => {
                b.stdin(AsyncStdinStream::new(reader));
            }
        }
        let preopens = self.preopens.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let preopens = preopens.ok_or_else(|| "the dyno stopped: its /tmp is gone".to_string())?;
        // Granted sockets still go only where the node's egress policy lets them, but for the
        // attached add-ons' endpoints (see `Outbound::socket_allowed`).
        if self.network.grants_sockets() {
            let (outbound, log, grants) = (self.runtime.outbound().clone(), self.log.clone(), self.network.clone());
            b.allow_tcp(true)
                .allow_udp(grants.allow_all)
                .allow_ip_name_lookup(grants.allow_all)
                .socket_addr_check(move |addr, use_| {
                    let ok = outbound.socket_allowed(&grants, addr, use_, &log);
                    Box::pin(async move { ok })
                });
        } else {
            b.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.limits.resources);
        let mut wasi = b.build();
        *wasi.filesystem() = preopens;
        let state = DynoState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(self.runtime.outbound().clone(), self.log.clone()),
            table,
            limits: DynoLimiter::new(
                self.limits.store_limits(),
                self.share.clone(),
                self.runtime.clone(),
                self.log.app.clone(),
                self.memory.clone(),
            ),
            deadline: None,
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        // On every epoch tick a running guest yields to the async executor (so a busy guest
        // neither starves other requests on its thread nor escapes `abort`), and traps with
        // `Trap::Interrupt` once its deadline has passed.
        store.epoch_deadline_callback(|ctx| match ctx.data().deadline {
            Some(deadline) if Instant::now() >= deadline => Err(wasmtime::Trap::Interrupt.into()),
            _ => Ok(UpdateDeadline::Yield(1)),
        });
        store.set_epoch_deadline(1);
        Self::set_deadline(&mut store, timeout);
        Ok(store)
    }

    /// Sets the store's deadline `timeout` from now (`None`: no deadline).
    pub fn set_deadline(store: &mut Store<DynoState>, timeout: Option<Duration>) {
        Self::set_deadline_at(store, timeout.map(|t| Instant::now() + t));
    }

    /// Sets the store's deadline (`None`: no deadline).
    pub fn set_deadline_at(store: &mut Store<DynoState>, deadline: Option<Instant>) {
        store.data_mut().deadline = deadline;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_has_config_vars_and_dyno_variables() {
        let mut spec = DynoSpec::new("shop", "web.1");
        spec.env.insert("GREETING".into(), "hi".into());
        spec.env.insert("DYNO".into(), "spoofed".into());
        let env: BTreeMap<_, _> = spec.environment().into_iter().collect();
        assert_eq!(env["GREETING"], "hi");
        assert_eq!(env["DYNO"], "web.1");
        assert_eq!(env["PS"], "web.1");
        assert_eq!(env["PORT"], "5000");
        assert_eq!(env["TMPDIR"], "/tmp");
    }

    #[test]
    fn config_vars_choose_instance_reuse_over_the_slug() {
        let mut spec = DynoSpec::new("shop", "web.1");
        spec.reuse = false;
        spec.env.insert(INSTANCE_REUSE_VAR.into(), "1".into());
        spec.env.insert(INSTANCE_MAX_REQUESTS_VAR.into(), "500".into());
        assert!(spec.apply_instance_vars().is_empty());
        assert!(spec.reuse);
        assert_eq!(spec.max_requests, 500);
        spec.env.insert(INSTANCE_REUSE_VAR.into(), "Off".into());
        assert!(spec.apply_instance_vars().is_empty());
        assert!(!spec.reuse);
        spec.env.insert(INSTANCE_REUSE_VAR.into(), "maybe".into());
        spec.env.insert(INSTANCE_MAX_REQUESTS_VAR.into(), "0".into());
        let problems = spec.apply_instance_vars();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("reuse = false"), "{problems:?}");
        assert_eq!((spec.reuse, spec.max_requests), (false, 500));
    }
}
