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
    /// components) or take a fresh instance per request (false).
    pub reuse: bool,
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
            concurrency: 16,
            app_dir: None,
            port: 5000,
            network: NetworkPolicy::default(),
            logs: LogSink::discard(),
            attached: None,
        }
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
    pub app_dir: Option<PathBuf>,
    pub network: NetworkPolicy,
    pub log: LogSource,
    pub attached: Option<AttachedOutput>,
    pub scratch: std::sync::Mutex<Scratch>,
    pub scratch_path: PathBuf,
    /// The app's share of instance slots and memory (shared with its other dynos).
    pub share: Arc<crate::slots::AppShare>,
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
        Ok(Arc::new(DynoContext {
            runtime: runtime.clone(),
            env: spec.environment(),
            limits,
            app_dir: spec.app_dir.clone(),
            network: spec.network.clone(),
            log: LogSource { app: spec.app.as_str().into(), dyno: spec.dyno.as_str().into(), sink: spec.logs.clone() },
            attached: spec.attached.clone(),
            scratch_path: scratch.path().to_path_buf(),
            scratch: std::sync::Mutex::new(scratch),
            share: runtime.app_share(&spec.app),
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

    /// Removes the scratch directory.
    pub fn wipe_scratch(&self) {
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
        fs::preopen(&mut b, &self.scratch_path, self.app_dir.as_deref()).map_err(|e| chain(&e))?;
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
        let state = DynoState {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(self.runtime.outbound().clone(), self.log.clone()),
            table,
            limits: DynoLimiter::new(
                self.limits.store_limits(),
                self.share.clone(),
                self.runtime.clone(),
                self.log.app.clone(),
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
        store.data_mut().deadline = timeout.map(|t| Instant::now() + t);
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
}
