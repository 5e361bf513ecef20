//! The composition root of a node: [`run`] starts everything `paas server` runs in one process
//! from one [`NodeConfig`] — the ledger (SQLite in the data dir, or PostgreSQL), the operator on
//! first start, the wasm and native runtimes, the builder and git, logplex, the grid agent, the
//! Platform API, the rendezvous, the router with the dyno supervisor (`crate::serve`), the
//! scheduler, autoscaling and add-on services — and stops them gracefully on SIGTERM / SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use paas_platform::api::{self, AppState, PlatformConfig};
use paas_platform::ledger::{self, Ledger};
pub use paas_platform::start_error::StartError;
use paas_sandbox::egress::IpNet;
use paas_sandbox::net::DynoNetwork;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::precompile::RuntimePrecompile;
use crate::supervisor::SupervisorConfig;

/// The email of the operator created on first start.
pub const OPERATOR_EMAIL: &str = "operator@localhost";

/// How long requests in flight (API and git) may take to finish once the server is told to stop.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the built-in buildpacks come from.
#[derive(Clone)]
pub enum Buildpacks {
    /// A folder of them (`--buildpacks-dir`), which must exist.
    Dir(PathBuf),
    /// A gzip'd tar the binary carries, installed into `<data-dir>/buildpacks/<hash>/` at start
    /// (once per version; see `paas_builder::builtin`).
    Embedded {
        /// The gzip'd tar.
        archive: &'static [u8],
        /// The SHA-256 of the uncompressed tar, in hex.
        sha256: &'static str,
    },
}

impl std::fmt::Debug for Buildpacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Buildpacks::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            // The archive's hash, not its megabytes.
            Buildpacks::Embedded { sha256, .. } => f.debug_struct("Embedded").field("sha256", sha256).finish_non_exhaustive(),
        }
    }
}

/// Everything `paas server` is told (its flags). Paths may be relative: [`run`] makes each
/// absolute once, against the working directory at start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the SQLite ledger, the operator's key, slugs and runtime state live.
    pub data_dir: PathBuf,
    /// Where the Platform API listens (port 0: any free port).
    pub api_listen: SocketAddr,
    /// Where the Platform API and git are also served over HTTPS (port 0: any free port).
    pub api_tls_listen: Option<SocketAddr>,
    /// Where the router listens (port 0: any free port).
    pub router_listen: SocketAddr,
    /// Where the router also serves apps over HTTPS, choosing each certificate by SNI: an
    /// app's own (its SNI endpoints) for its custom domains, else the server's (port 0: any).
    pub router_tls_listen: Option<SocketAddr>,
    /// Apps are served at `<app>.<domain>`.
    pub domain: String,
    /// `postgres://…` to keep the ledger in PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// The PostgreSQL server of Heroku Postgres add-ons (`--addons-postgres-url`); `None`: a
    /// cluster under `<data-dir>/addons/postgres`, started at the first add-on.
    pub addons_postgres_url: Option<String>,
    /// The built-in buildpacks (`--buildpacks-dir`, or the binary's own).
    pub buildpacks: Buildpacks,
    /// Where the TLS rendezvous of attached one-off dynos listens (port 0: any free port);
    /// `None`: the API's IP and port + 1 (any free port when the API's is 0).
    pub rendezvous_listen: Option<SocketAddr>,
    /// The TLS certificate chain (PEM) of every TLS listener; without it (and `tls_key`), a
    /// local CA in `<data-dir>/tls/` (see [`paas_platform::tls`]).
    pub tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// What one account may take of the API (requests per hour, one-off dynos per app).
    pub api_limits: api::limits::ApiLimits,
    /// Ranges dynos and log drains may reach although the egress policy denies them
    /// (`--egress-allow`); none may overlap the dyno network.
    pub egress_allow: Vec<IpNet>,
    /// Folders on this server whose buildpacks tenants may name (`--buildpack-path`).
    pub buildpack_paths: Vec<PathBuf>,
    /// How many builds run at once on this node (`--max-concurrent-builds`).
    pub max_concurrent_builds: usize,
    /// Builds run unsandboxed, as the server's user (`--insecure-builds`, single-tenant only).
    pub insecure_builds: bool,
    /// What builds may reach (`--build-network`).
    pub build_network: paas_builder::build::BuildNetwork,
    /// What one sandboxed build may write, in bytes (`--build-disk-mib`).
    pub build_disk_limit: u64,
    /// The OCI runtime of native dynos and builds (`--container-runtime`); `None`: `runc` from
    /// PATH if it runs, else native dynos are disabled.
    pub container_runtime: Option<PathBuf>,
    /// The range the containers' network namespaces take their addresses from, or the host's
    /// network (`--dyno-network`).
    pub dyno_network: DynoNetwork,
    /// Web dynos of sleeping apps sleep after this long without a request (`--sleep-after`).
    pub sleep_after: Duration,
    /// A native web dyno that does not accept on `$PORT` this long after launch is killed (R10).
    pub boot_timeout: Duration,
    /// How many wasm instances one app may hold at once (`--max-instances-per-app`).
    pub max_instances_per_app: u32,
    /// A wasm request that keeps a CPU busy this long goes on at the lowest priority (`--cpu-slice`).
    pub cpu_slice: Duration,
    /// How much memory (bytes) the wasm instances of one app may hold together.
    pub max_memory_per_app: usize,
    /// This node in the grid: its name, address, join token and lease (`native` is set by [`run`]).
    pub node: paas_platform::grid::agent::NodeOptions,
    /// How often autoscaling decides ([`paas_platform::autoscale::EVERY`] by default).
    pub autoscale_every: std::time::Duration,
}

/// Logs to stderr (stdout carries the lines that tests and scripts read), `RUST_LOG` filters.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The data dir, created if missing and checked writable, as an absolute path: everything the
/// server derives from it (slugs, overlay mounts of native dynos, the SQLite ledger, the
/// operator's key) then holds whatever the working directory of whoever reads it later.
pub fn open_data_dir(dir: &Path) -> Result<PathBuf, StartError> {
    use std::os::unix::fs::DirBuilderExt;
    let shown = absolute(dir, "--data-dir")?;
    // A new data dir is searchable by others but not listable: the add-on servers (users
    // `postgres` and `redis`) reach their own folders in it; the ledger and keys are 0600.
    if !shown.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&shown)
            .map_err(StartError::file(|| format!("cannot create the data dir {} (--data-dir)", shown.display())))?;
    }
    let dir = std::fs::canonicalize(&shown)
        .map_err(StartError::file(|| format!("cannot open the data dir {} (--data-dir)", shown.display())))?;
    let probe = dir.join(".paas-write-check");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(StartError::file(|| format!("the data dir {} is not writable (--data-dir)", dir.display())))?;
    Ok(dir)
}

/// `path` made absolute against the working directory (`flag` names it in the error), without
/// touching the file system: a later change of directory does not change what it names.
pub fn absolute(path: &Path, flag: &str) -> Result<PathBuf, StartError> {
    std::path::absolute(path).map_err(StartError::file(|| format!("cannot make {} an absolute path ({flag})", path.display())))
}

/// The folder of built-in buildpacks, which must exist, as an absolute path without `..`.
pub fn open_buildpacks_dir(dir: &Path) -> Result<PathBuf, StartError> {
    let dir = absolute(dir, "--buildpacks-dir")?;
    match std::fs::canonicalize(&dir) {
        Ok(dir) if dir.is_dir() => Ok(dir),
        Ok(_) => Err(StartError::Config(format!("the buildpacks dir {} is not a directory (--buildpacks-dir)", dir.display()))),
        Err(e) => Err(StartError::file(|| {
            format!(
                "cannot open the buildpacks dir {} (--buildpacks-dir; without it, paas uses the buildpacks \
                 built into it)",
                dir.display()
            )
        })(e)),
    }
}

/// Installs the built-in buildpacks the binary carries into `<data_dir>/buildpacks/` (once per
/// version) and gives back their folder.
fn install_buildpacks(data_dir: &Path, archive: &[u8], sha256: &str) -> Result<PathBuf, StartError> {
    let installed = paas_builder::builtin::install(archive, sha256, &data_dir.join("buildpacks"))
        .map_err(StartError::step("cannot install the built-in buildpacks"))?;
    for name in &installed.removed {
        tracing::info!("previous run: removed buildpacks/{name} (another version's, or half-made)");
    }
    if installed.unpacked {
        tracing::info!(dir = %installed.dir.display(), "installed the built-in buildpacks");
    }
    Ok(installed.dir)
}

/// Refuses an `--egress-allow` range that overlaps the dyno network: wasm dynos (whose egress
/// policy knows nothing of veths) could then reach native dynos and builds directly, around the
/// router.
fn check_egress_allow(config: &NodeConfig) -> Result<(), StartError> {
    let DynoNetwork::Range(range) = config.dyno_network else { return Ok(()) };
    let dynos = IpNet::V4(range);
    match config.egress_allow.iter().find(|a| a.contains(&dynos.network()) || dynos.contains(&a.network())) {
        Some(allowed) => Err(StartError::Config(format!(
            "--egress-allow {allowed} overlaps the dyno network {range} (--dyno-network): dynos could reach each \
             other around the router; allow a range outside it, or move the dyno network"
        ))),
        None => Ok(()),
    }
}

/// Raises the soft limit on open files to the hard limit, as servers do: every connection, idle
/// reused instance (its preopened directories) and log drain holds descriptors, and a thousand
/// apps outgrow the common default soft limit of 1,024 long before the hard one.
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::info!(from = ?limit.current, to = ?limit.maximum, "raised the open files limit"),
            Err(e) => tracing::warn!("cannot raise the open files limit from {:?}: {e}", limit.current),
        }
    }
}

/// The node's one wasm runtime (engine and `.cwasm` cache in `<data-dir>/runtime`), after
/// removing what a previous server left: dynos' `/tmp` folders and half-unpacked slugs.
fn wasm_runtime(config: &NodeConfig) -> Result<paas_runtime::Runtime, StartError> {
    let mut runtime_config = paas_runtime::RuntimeConfig::new(config.data_dir.join("runtime"));
    runtime_config.egress_allow = config.egress_allow.clone();
    runtime_config.max_instances_per_app = config.max_instances_per_app;
    runtime_config.cpu_slice = config.cpu_slice;
    runtime_config.max_memory_per_app = config.max_memory_per_app;
    let runtime = paas_runtime::Runtime::new(runtime_config).map_err(StartError::step("cannot start the wasm runtime"))?;
    let stale = runtime.remove_stale_scratch();
    if stale > 0 {
        tracing::info!("removed {stale} dyno /tmp folder(s) left by a previous paas server");
    }
    // Slugs a killed server was unpacking for dynos are never taken for whole ones (only a
    // finished tree is renamed into place); the half-made trees are removed.
    let mut partial = Vec::new();
    paas_builder::leftovers::remove_with_prefix(&config.data_dir.join("runtime/slugs"), ".unpacking-", &mut partial);
    for line in partial {
        tracing::info!("previous run: {line}");
    }
    Ok(runtime)
}

/// The native-dyno runtime (state in `<data-dir>/runtime`), after removing the containers a
/// crashed server left behind. A runtime named with `--container-runtime` must run; the default
/// `runc` may be missing (native dynos are then disabled).
async fn native_runtime(config: &NodeConfig) -> Result<Option<paas_runtime::NativeRuntime>, StartError> {
    let mut native_config = paas_runtime::NativeConfig::new(&config.data_dir);
    if let Some(binary) = &config.container_runtime {
        native_config.runtime = binary.clone();
    }
    let native = match paas_runtime::NativeRuntime::new(native_config) {
        Ok(native) => native,
        Err(e) if config.container_runtime.is_none() => {
            tracing::warn!("native dynos are disabled: {e}");
            return Ok(None);
        }
        Err(e) => return Err(StartError::step("--container-runtime")(e)),
    };
    let stale = native.cleanup_stale().await.map_err(StartError::step("cannot remove the containers of a previous run"))?;
    if stale > 0 {
        tracing::info!("removed {stale} container(s) left by a previous paas server");
    }
    let range = match config.dyno_network {
        DynoNetwork::Host => {
            tracing::warn!("--dyno-network host: native dynos share the host's network (single-tenant only)");
            return Ok(Some(native));
        }
        DynoNetwork::Range(range) => range,
    };
    let egress = paas_sandbox::egress::EgressPolicy::new(config.egress_allow.clone(), Vec::new());
    // Containers may call other apps through the router on this node's address.
    let router: Vec<SocketAddr> = [Some(config.router_listen), config.router_tls_listen].into_iter().flatten().collect();
    let network = paas_sandbox::net::Network::new(paas_sandbox::net::NetworkConfig { range, egress, router })
        .map_err(StartError::step("cannot set up the containers' network (--dyno-network; `host` runs without one)"))?;
    Ok(Some(native.with_network(network)))
}

/// Runs the node until SIGTERM or SIGINT.
pub async fn run(mut config: NodeConfig) -> Result<(), StartError> {
    // Every path made absolute once, here: runc's overlay mounts, builds and the ledger read them
    // from other working directories (a relative data dir broke native dynos).
    if let Buildpacks::Dir(dir) = &mut config.buildpacks {
        *dir = open_buildpacks_dir(dir)?;
    }
    config.data_dir = open_data_dir(&config.data_dir)?;
    let buildpacks_dir = match config.buildpacks {
        Buildpacks::Dir(ref dir) => dir.clone(),
        Buildpacks::Embedded { archive, sha256 } => install_buildpacks(&config.data_dir, archive, sha256)?,
    };
    config.buildpack_paths =
        config.buildpack_paths.iter().map(|dir| absolute(dir, "--buildpack-path")).collect::<Result<_, _>>()?;
    config.tls_cert = config.tls_cert.map(|cert| absolute(&cert, "--tls-cert")).transpose()?;
    config.tls_key = config.tls_key.map(|key| absolute(&key, "--tls-key")).transpose()?;
    // A bare name (`runc`) is looked up on PATH; a path such as `./bin/runc` is made absolute.
    if let Some(binary) = config.container_runtime.as_mut().filter(|b| b.components().count() > 1) {
        *binary = absolute(binary, "--container-runtime")?;
    }
    check_egress_allow(&config)?;
    raise_open_files_limit();
    let runtime = wasm_runtime(&config)?;
    let native = native_runtime(&config).await?;
    // Nothing in a container outlives this process, however it ends (held until run returns).
    let _watchdog =
        native.as_ref().map(|n| n.sandbox().watchdog()).transpose().map_err(StartError::step("--container-runtime"))?;
    // Builds run in the same sandbox as native dynos (one uid block, one state root), on the
    // same container network; without one they are refused unless --insecure-builds.
    let build_isolation = match (&native, config.insecure_builds) {
        (_, true) => paas_builder::sandbox::BuildIsolation::Insecure,
        (Some(native), false) => paas_builder::sandbox::BuildIsolation::Sandbox(native.sandbox().clone()),
        (None, false) => paas_builder::sandbox::BuildIsolation::Detect,
    };
    let container_network = native.as_ref().and_then(|n| n.network().cloned());
    config.node.native = native.is_some();
    let supervisor = SupervisorConfig {
        idle_after: config.sleep_after,
        native,
        boot_timeout: config.boot_timeout,
        ..Default::default()
    };
    if config.database_url.is_none() {
        restrict_sqlite_ledger(&config.data_dir)?;
    }
    // Nodes share a ledger on PostgreSQL only; on SQLite this server is the one node.
    let placing = config.database_url.as_deref().is_some_and(|url| url.starts_with("postgres"));
    if config.node.join.is_some() && !placing {
        return Err(StartError::Config("--join needs the grid's PostgreSQL ledger: add --database-url postgres://…".into()));
    }
    let url = config.database_url.clone().unwrap_or_else(|| ledger::sqlite_url(&config.data_dir));
    let ledger = ledger::open(&url).await.map_err(StartError::step("cannot open the ledger"))?;
    ensure_operator(ledger.as_ref(), &config.data_dir).await?;
    // Where the add-on servers paas runs itself listen: the dyno network's service address.
    let addon_host = paas_platform::addons::host::AddonHost::of(container_network.as_ref());
    let (addon_services, addon_cluster) = addon_services(&config, addon_host)?;
    let redis = start_redis(&config.data_dir, addon_host, ledger.as_ref()).await?;
    let addon_services = addon_services.with_redis(redis.clone());
    // The add-ons of servers paas runs itself (its Redis servers; its PostgreSQL cluster unless
    // the operator's is used) name where those listen now (a new --dyno-network, or add-ons made
    // before the service address existed).
    {
        use paas_platform::addons::catalog::{POSTGRES, REDIS};
        let local: &[&str] = if addon_cluster.is_some() { &[POSTGRES, REDIS] } else { &[REDIS] };
        match paas_platform::addons::host::rehost_urls(ledger.as_ref(), &addon_host, local).await {
            Ok(0) => {}
            Ok(moved) => tracing::info!("{moved} add-on(s) now name {} in their URLs", addon_host.url_host()),
            Err(e) => tracing::error!("cannot give the add-ons their new address: {e}"),
        }
    }

    let api_listener = TcpListener::bind(config.api_listen)
        .await
        .map_err(StartError::listen(config.api_listen, "the API"))?;
    let router_listener = TcpListener::bind(config.router_listen)
        .await
        .map_err(StartError::listen(config.router_listen, "the router"))?;
    let router_tls_listener = match config.router_tls_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(StartError::listen(addr, "the router over HTTPS (--router-tls-listen)"))?,
        ),
        None => None,
    };
    let api_tls_listener = match config.api_tls_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(StartError::listen(addr, "the API over HTTPS (--api-tls-listen)"))?,
        ),
        None => None,
    };
    let api_addr = api_listener.local_addr()?;
    let router_addr = router_listener.local_addr()?;
    // TLS: the given certificate, or the local CA's for loopback and the domain.
    let tls = paas_platform::tls::ServerTls::load_or_create(
        &config.data_dir,
        &paas_platform::tls::domain_hosts(&config.domain),
        config.tls_cert.as_deref(),
        config.tls_key.as_deref(),
    )
    .map_err(StartError::step("cannot set up TLS"))?;
    // The router's HTTPS: each handshake's certificate chosen by SNI among the apps' own (read
    // from the ledger after each API change and every few seconds), else the server's.
    let sni_certs = paas_platform::certs::SniCerts::new(
        Arc::new(paas_platform::certs::LedgerCertificates::new(ledger.clone())),
        tls.certified_key(),
    );
    sni_certs.reload().await;
    let router_tls = match router_tls_listener {
        Some(listener) => {
            let config = sni_certs.server_config().map_err(StartError::step("cannot set up the router's TLS"))?;
            Some(paas_platform::https::TlsListener::new(listener, config, "router-https")?)
        }
        None => None,
    };
    let router_tls_addr = router_tls.as_ref().map(axum::serve::Listener::local_addr).transpose()?;
    let rendezvous_listen = config.rendezvous_listen.unwrap_or_else(|| {
        let port = match config.api_listen.port() {
            0 => 0,
            port => port.saturating_add(1),
        };
        SocketAddr::new(config.api_listen.ip(), port)
    });
    let rendezvous_listener = TcpListener::bind(rendezvous_listen)
        .await
        .map_err(StartError::listen(rendezvous_listen, "the rendezvous (--rendezvous-listen)"))?;
    let rendezvous = paas_platform::rendezvous::Rendezvous::new(rendezvous_listener.local_addr()?);

    // Builds: the builder, and git smart HTTP at <api-url>/<app>.git on the API listener.
    let mut builder_config = paas_builder::BuilderConfig::new(&config.data_dir, &buildpacks_dir);
    builder_config.buildpack_paths = config.buildpack_paths.clone();
    builder_config.max_concurrent_builds = config.max_concurrent_builds;
    builder_config.isolation = build_isolation;
    builder_config.build_network = config.build_network;
    builder_config.network = container_network.clone();
    builder_config.disk_limit = config.build_disk_limit;
    // Each new slug's components are compiled for this node's engine when the slug is made.
    let builder = paas_builder::Builder::new(builder_config)
        .map_err(StartError::step("cannot set up the builder"))?
        .with_precompile(Arc::new(RuntimePrecompile(runtime.clone())));
    // Logs: one collated stream per app, and the drains kept in the ledger.
    let logs = paas_platform::logplex::Logplex::default();
    let egress = paas_sandbox::egress::EgressPolicy::for_node(config.egress_allow.clone())
        .map_err(StartError::step("cannot set up the egress policy of log drains"))?;
    logs.set_drain_policy(paas_platform::logplex::drains::DrainPolicy::new(egress));
    logs.start_saved_drains(ledger.as_ref()).await.map_err(StartError::step("cannot read the log drains"))?;
    // This server as a node of the grid: registered, heartbeating on its own task.
    let grid = paas_platform::grid::agent::GridConfig { join: config.node.join.clone(), lease: config.node.lease, placing };
    let agent = paas_platform::grid::agent::Agent::start(
        ledger.clone(),
        &config.data_dir,
        config.node.registration(api_addr, router_addr),
        grid,
    )
    .await
    .map_err(StartError::step("cannot register this server as a node"))?;
    let deploys = paas_platform::deploys::Deploys::start(
        ledger.clone(),
        Arc::new(builder),
        config.data_dir.join("repos"),
        logs.clone(),
        agent.id,
    )
    .await
    .map_err(StartError::step("cannot start the git endpoint"))?;
    let state = AppState {
        ledger: ledger.clone(),
        config: Arc::new(PlatformConfig {
            domain: config.domain.clone(),
            router_port: Some(router_addr.port()),
            api_url: format!("http://{api_addr}"),
        }),
        deploys: Some(deploys.clone()),
        logs: logs.clone(),
        limits: Arc::new(api::limits::Limits::new(config.api_limits)),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    agent.spawn(stopped(stop_rx.clone()));
    if router_tls_addr.is_some() {
        tokio::spawn(sni_certs.clone().reload_every(paas_platform::certs::RELOAD_EVERY, stopped(stop_rx.clone())));
    }
    // Apps: the router and the dyno supervisor, told of every committed change.
    let (changes, changes_rx) = paas_platform::serving::Changes::channel();
    deploys.set_changes(changes.clone());
    let metrics = Arc::new(paas_metrics::Metrics::new());
    tokio::spawn(paas_platform::autoscale::close_minutes(metrics.clone(), stopped(stop_rx.clone())));
    let autoscaler = paas_platform::autoscale::Autoscaler {
        ledger: ledger.clone(),
        metrics: metrics.clone(),
        logs: logs.clone(),
        changes: changes.clone(),
        every: config.autoscale_every,
        grid: agent.on_grid().then(|| paas_platform::autoscale::GridScope {
            peers: paas_platform::grid::peers::Peers::new(ledger.clone(), agent.clone()),
            lease: config.node.lease,
        }),
    };
    tokio::spawn(autoscaler.run(stopped(stop_rx.clone())));
    let serving = crate::serve::start(
        &runtime,
        supervisor,
        crate::serve::ServeContext {
            ledger: ledger.clone(),
            data_dir: config.data_dir.clone(),
            domain: config.domain.clone(),
            router_listener,
            router_tls,
            changes: changes_rx,
            metrics: metrics.clone(),
            logs: logs.clone(),
            shutdown: Box::pin(stopped(stop_rx.clone())),
            placements: agent.placements(),
            agent: agent.clone(),
        },
    )
    .await
    .map_err(StartError::step("cannot start serving apps"))?;
    // The release phase and the scheduler start one-off dynos on the serving side.
    deploys.set_dynos(serving.dynos.clone());
    let scheduler = paas_platform::scheduler::Scheduler::new(
        ledger.clone(),
        logs.clone(),
        serving.dynos.clone(),
        Arc::new(paas_platform::scheduler::SystemClock),
    )
    .on_node(agent.clone());
    tokio::spawn(scheduler.run(stopped(stop_rx.clone())));
    // Heroku Postgres storage limits: each database's size against its plan's, every 30 s.
    let storage = paas_platform::addons::storage::StorageEnforcer::new(ledger.clone(), logs.clone(), addon_services.postgres());
    tokio::spawn(storage.run(paas_platform::addons::storage::CHECK_EVERY, stopped(stop_rx.clone())));
    // On a grid the API lists every node's dynos and collates every node's log lines.
    let peers = paas_platform::grid::peers::Peers::new(ledger.clone(), agent.clone());
    let dynos: Arc<dyn paas_platform::serving::DynoDirectory> = match agent.on_grid() {
        true => Arc::new(paas_platform::grid::dynos::GridDynos::new(serving.dynos.clone(), peers.clone())),
        false => serving.dynos.clone(),
    };
    let api = api::app(state)
        .merge(deploys.git_router())
        .layer(axum::middleware::from_fn_with_state(changes, paas_platform::serving::notify_changes))
        .layer(axum::Extension(dynos))
        .layer(axum::Extension(metrics))
        .layer(axum::Extension(paas_platform::grid::dynos::LocalDynos(serving.dynos)))
        .layer(axum::Extension(peers))
        .layer(axum::Extension(rendezvous.clone()))
        .layer(axum::Extension(tls.clone()))
        .layer(axum::Extension(sni_certs.clone()))
        .layer(axum::Extension(addon_services))
        // Slugs served to other nodes (GET /grid/slugs/{checksum}).
        .layer(axum::Extension(paas_builder::SlugStore::new(&config.data_dir).map_err(StartError::step("cannot open the slug store"))?));
    let api_tls = match api_tls_listener {
        Some(listener) => Some(paas_platform::https::TlsListener::new(listener, tls.server_config(), "https")?),
        None => None,
    };
    let api_tls_addr = api_tls.as_ref().map(axum::serve::Listener::local_addr).transpose()?;
    // Both API listeners drop a client that does not send its headers in time (slowloris).
    use axum::serve::ListenerExt;
    use paas_platform::listen::{HEADER_READ_TIMEOUT, give_up_on_silent_peers, serve};
    let api_tls_server = api_tls.map(|listener| {
        tokio::spawn(serve(listener, api.clone(), HEADER_READ_TIMEOUT, stopped(stop_rx.clone())))
    });
    let api_listener = api_listener.tap_io(|tcp: &mut tokio::net::TcpStream| give_up_on_silent_peers(tcp));
    let api_server = serve(api_listener, api, HEADER_READ_TIMEOUT, stopped(stop_rx.clone()));
    // On a stop, requests in flight get STOP_GRACE to finish; then their connections are cut.
    let api_server = {
        let stop = stopped(stop_rx.clone());
        async move {
            tokio::select! {
                () = api_server => {}
                () = async { stop.await; tokio::time::sleep(STOP_GRACE).await } => {
                    tracing::warn!("API requests still in flight after {} s; cutting them", STOP_GRACE.as_secs());
                }
            }
        }
    };
    let router_server = serving.task;
    // Handlers are in place before the addresses are printed: whoever reads them may signal at once.
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(StartError::step("cannot handle SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(StartError::step("cannot handle SIGINT"))?;
    println!("API listening on http://{api_addr}/");
    if let Some(addr) = api_tls_addr {
        println!("API listening on https://{addr}/");
    }
    println!("Router listening on http://{router_addr}/");
    if let Some(addr) = router_tls_addr {
        println!("Router listening on https://{addr}/");
    }
    println!("Rendezvous listening on rendezvous://{}/", rendezvous.addr());
    if let Some(ca) = tls.ca_pem() {
        println!("TLS certificates signed by the local CA {}", ca.display());
    }
    let rendezvous_task = tokio::spawn({
        let (rendezvous, tls, stop) = (rendezvous.clone(), tls.clone(), stopped(stop_rx.clone()));
        async move { rendezvous.serve(rendezvous_listener, &tls, stop).await }
    });

    let stop_deploys = deploys.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutting down");
        // Builds are cancelled at once (their containers deleted, recorded failed); the
        // listeners stop accepting; requests in flight get STOP_GRACE; dynos get SIGTERM,
        // then SIGKILL after their grace period.
        stop_deploys.stop_builds();
        let _ = stop_tx.send(true);
        // Tails end, so the API server's graceful shutdown is not held open by them.
        logs.close();
    });
    let ((), router_result) = tokio::join!(api_server, router_server);
    router_result.map_err(StartError::step("the router failed"))?;
    rendezvous_task.await.map_err(StartError::step("the rendezvous failed"))?.map_err(StartError::step("the rendezvous failed"))?;
    if let Some(server) = api_tls_server {
        server.await.map_err(StartError::step("the HTTPS API server failed"))?;
    }
    if let Some(cluster) = addon_cluster {
        cluster.stop().await;
    }
    redis.stop_all().await;
    println!("paas server stopped");
    Ok(())
}

/// The SQLite ledger holds every app's config vars (add-on credentials among them): its files are
/// the server's alone (0600), whoever else may pass through the data dir (the add-on cluster's
/// user does). SQLite gives its WAL and shared-memory files the database file's mode.
fn restrict_sqlite_ledger(data_dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let db = data_dir.join("paas.db");
    if !db.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
            .map_err(StartError::file(|| format!("cannot create {}", db.display())))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = data_dir.join(format!("paas.db{suffix}"));
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(StartError::file(|| format!("cannot restrict {}", path.display())))?;
        }
    }
    Ok(())
}

/// The add-on services: Heroku Postgres on the operator's server, or on the local cluster
/// (given back too, to stop it with the server).
fn addon_services(
    config: &NodeConfig,
    host: paas_platform::addons::host::AddonHost,
) -> Result<(paas_platform::addons::AddonServices, Option<Arc<paas_platform::addons::cluster::Cluster>>), StartError> {
    use paas_platform::addons::postgres::{PostgresServer, PostgresService};
    let (server, cluster) = match &config.addons_postgres_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            (PostgresServer::External(url.clone()), None)
        }
        Some(_) => return Err(StartError::Config("--addons-postgres-url must be a postgres://… URL".into())),
        None => {
            let cluster = Arc::new(paas_platform::addons::cluster::Cluster::new(
                config.data_dir.join("addons").join("postgres"),
                host,
            ));
            cluster.start_if_initialised();
            (PostgresServer::Local(cluster.clone()), Some(cluster))
        }
    };
    Ok((paas_platform::addons::AddonServices::new(PostgresService::new(server)), cluster))
}

/// Heroku Redis: a server per add-on under `<data-dir>/addons/redis`; those of the ledger's
/// add-ons start now (folders of none are removed).
async fn start_redis(
    data_dir: &Path,
    host: paas_platform::addons::host::AddonHost,
    ledger: &dyn Ledger,
) -> Result<Arc<paas_platform::addons::redis::RedisService>, StartError> {
    use paas_platform::addons::{AddonFilter, catalog};
    let redis = Arc::new(paas_platform::addons::redis::RedisService::new(data_dir.join("addons").join("redis"), host));
    let known: Vec<String> = ledger
        .list_addons(AddonFilter::All)
        .await
        .map_err(StartError::step("cannot read the add-ons"))?
        .into_iter()
        .filter(|addon| addon.service == catalog::REDIS)
        .map(|addon| addon.provider_id)
        .collect();
    redis.start_existing(&known).await;
    Ok(redis)
}

/// Makes sure an operator exists and `<data-dir>/operator-api-key` (mode 0600) holds a key of
/// theirs: on first start it creates both; if the file is missing later (a new data dir on a
/// shared PostgreSQL ledger), it writes a new key.
pub async fn ensure_operator(ledger: &dyn Ledger, data_dir: &Path) -> Result<(), StartError> {
    let key_path = data_dir.join("operator-api-key");
    let (said, key) = match ledger.find_operator().await? {
        None => {
            let (user, key) = ledger.create_user(OPERATOR_EMAIL, None, true).await?;
            (format!("Created operator {}", user.email), key)
        }
        Some(operator) if !key_path.exists() => {
            let (_, key) = ledger.create_api_key(operator.id, "operator key in the data dir").await?;
            (format!("Made a new API key for operator {}", operator.email), key)
        }
        Some(operator) => {
            println!("Operator {}; API key in {}", operator.email, key_path.display());
            return Ok(());
        }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)
        .map_err(StartError::file(|| format!("cannot write {}", key_path.display())))?;
    writeln!(file, "{key}").map_err(StartError::file(|| format!("cannot write {}", key_path.display())))?;
    println!("{said}; API key written to {}", key_path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dir_is_created_and_given_back_absolute_without_dot_dots() {
        let dir = tempfile::tempdir().unwrap();
        let relative = Path::new("paas-data-relative-test");
        let opened = open_data_dir(&dir.path().join("a/../").join(relative)).unwrap();
        assert_eq!(opened, std::fs::canonicalize(dir.path()).unwrap().join(relative));
        assert!(opened.is_dir());
        assert!(!opened.join(".paas-write-check").exists(), "the probe is removed");
        // A relative path is taken against the working directory, once.
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(relative, "--data-dir").unwrap(), cwd.join(relative));
    }

    #[test]
    fn a_data_dir_that_cannot_be_created_or_written_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "in the way").unwrap();
        for (data_dir, said) in [
            (file.join("paas-data"), format!("cannot create the data dir {}/paas-data (--data-dir)", file.display())),
            (file.clone(), format!("cannot create the data dir {} (--data-dir)", file.display())),
            // proc: a folder nobody, root included, may create files in.
            (PathBuf::from("/proc/paas-data"), "cannot create the data dir /proc/paas-data (--data-dir)".to_string()),
            (PathBuf::from("/proc"), "the data dir /proc is not writable (--data-dir)".to_string()),
        ] {
            let error = format!("{:#}", open_data_dir(&data_dir).unwrap_err());
            assert!(error.starts_with(&said), "{data_dir:?}: {error}");
        }
    }

    #[test]
    fn a_missing_buildpacks_dir_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let error = format!("{:#}", open_buildpacks_dir(&dir.path().join("nowhere")).unwrap_err());
        assert!(error.starts_with(&format!("cannot open the buildpacks dir {}/nowhere", dir.path().display())), "{error}");
        let opened = open_buildpacks_dir(&dir.path().join("x/..")).unwrap_err();
        assert!(format!("{opened:#}").contains("cannot open the buildpacks dir"), "x does not exist: {opened:#}");
        std::fs::create_dir(dir.path().join("x")).unwrap();
        assert_eq!(open_buildpacks_dir(&dir.path().join("x/..")).unwrap(), std::fs::canonicalize(dir.path()).unwrap());
    }
}
