//! A build: source → buildpack detect/compile/release → process types → slug in the store, with
//! the output streamed to an [`OutputSink`] the Heroku way, under a time and memory limit, in its
//! own working folder, with the app's build cache.
//!
//! Layout under the data dir: while a sandboxed build runs, the app's disk image
//! `cache/<app>/disk.xfs` (or `disk.ext4`, see [`DiskFormat`]) is mounted at `builds/<app>.disk/`, holding `{app,env,home,buildpack}`
//! (wiped each build) and `cache/` (the buildpacks' `CACHE_DIR`, kept between builds); an
//! insecure build works in `builds/<app>-XXXX/{app,env,home,buildpack}` (removed after) with
//! `cache/<app>/` as its `CACHE_DIR`; `slugs/` is the [`SlugStore`].

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::buildpack::{Buildpack, ReleaseInfo, ReleaseYamlError};
use crate::cache::CacheSwap;
use crate::detect;
use crate::manifest::{NATIVE_STACK, ProcessKind, ProcessTypes, SlugManifest};
use crate::output::{BoundedOutput, OutputSink};
use crate::process::{self, Limits, RunError, Stdout};
use crate::sandbox::{self, BuildDisk, BuildIsolation, DiskFormat, Isolation, StepLimits, StepSandbox};
pub use paas_sandbox::net::BuildNetwork;
use crate::procfile::{Procfile, ProcfileError};
use crate::source::{self, Source};
use crate::store::{self, Slug, SlugStore, StoreError};
use crate::tree::{MAX_METADATA_SIZE, TenantTree, TreeError, UntrustedPath};

/// The file a paas-aware buildpack writes in `BUILD_DIR` to declare process types with their
/// kinds (`[processes.web] kind = "wasm" component = "…" reuse = true`).
pub const PROCESS_TYPES_FILE: &str = ".paas/processes.toml";

/// How builds run on this node.
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    /// The data dir: `builds/`, `cache/` and `slugs/` go below it.
    pub data_dir: PathBuf,
    /// The folder of built-in buildpacks (the repo's `buildpacks/`).
    pub buildpacks_dir: PathBuf,
    /// The native stack name given as `STACK` (e.g. `paas-24`).
    pub stack: String,
    /// The time limit of a whole build (default 15 min).
    pub time_limit: Duration,
    /// `RLIMIT_AS` of each buildpack process of an insecure build in bytes (default 64 GiB; needs
    /// `prlimit`). It bounds address space, not use: V8 reserves over 32 GiB for the wasm
    /// instances componentize-js runs. Sandboxed builds have [`BuilderConfig::step_limits`].
    pub memory_limit: Option<u64>,
    /// The memory, process and CPU limits of each sandboxed build step.
    pub step_limits: StepLimits,
    /// What a sandboxed build may write: its disk's size in bytes (build dir, cache, env dir,
    /// home; default 2 GiB), `ENOSPC` past it.
    pub disk_limit: u64,
    /// `PATH` for buildpacks.
    pub path: String,
    /// Further variables of the stack given to buildpacks (default: `RUSTUP_HOME` so the host's
    /// Rust toolchains are found although `HOME` is the build's).
    pub stack_env: Vec<(String, String)>,
    /// The slug size limit in bytes (default 500 MiB).
    pub max_slug_size: u64,
    /// Folders on this server whose buildpacks tenants may name (`paas server --buildpack-path`);
    /// any other buildpack on the filesystem needs an operator's key ([`crate::buildpack_policy`]).
    pub buildpack_paths: Vec<PathBuf>,
    /// How many builds run at once on this node (default [`DEFAULT_CONCURRENT_BUILDS`]); more
    /// wait, saying so in their output. Builds of one app always run one at a time.
    pub max_concurrent_builds: usize,
    /// Where build steps run (default: containers of a runtime detected at start; builds are
    /// refused without one). See [`crate::sandbox`].
    pub isolation: BuildIsolation,
    /// What sandboxed builds may reach: the network under the egress policy (default), or
    /// nothing (`paas server --build-network none`).
    pub build_network: BuildNetwork,
    /// The node's container network that egress builds use (`None`: one of the builder's own).
    pub network: Option<paas_sandbox::net::Network>,
}

/// The default size of a build's disk: 2 GiB.
pub const DEFAULT_DISK_LIMIT: u64 = 2 << 30;

/// How many builds run at once on a node by default: 2.
pub const DEFAULT_CONCURRENT_BUILDS: usize = 2;

/// Host variables passed on to buildpacks: where the CA certificates are, and proxies.
const HOST_NETWORK_ENV: [&str; 13] = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

impl BuilderConfig {
    /// Defaults for a data dir and a buildpacks folder; `PATH` and `RUSTUP_HOME` are taken from
    /// the host's Rust installation when there is one (`$CARGO_HOME/bin`, `~/.cargo/bin`).
    pub fn new(data_dir: impl Into<PathBuf>, buildpacks_dir: impl Into<PathBuf>) -> BuilderConfig {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| Some(home.clone()?.join(".cargo")));
        let rustup_home = std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| Some(home?.join(".rustup")));
        let mut path = String::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        if let Some(bin) = cargo_home.map(|c| c.join("bin")).filter(|b| b.is_dir()) {
            path = format!("{}:{path}", bin.display());
        }
        let mut stack_env: Vec<(String, String)> = rustup_home
            .filter(|r| r.is_dir())
            .map(|r| ("RUSTUP_HOME".to_string(), r.display().to_string()))
            .into_iter()
            .collect();
        // The host's CA bundle and proxy settings, so buildpacks' downloads (npm, pip, curl)
        // trust what the host trusts although HOME (and any ~/.npmrc) is the build's.
        for name in HOST_NETWORK_ENV {
            if let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) {
                stack_env.push((name.to_string(), value.to_string_lossy().into_owned()));
            }
        }
        BuilderConfig {
            data_dir: data_dir.into(),
            buildpacks_dir: buildpacks_dir.into(),
            stack: NATIVE_STACK.to_string(),
            time_limit: Duration::from_secs(15 * 60),
            memory_limit: Some(64 << 30),
            step_limits: StepLimits::default(),
            disk_limit: DEFAULT_DISK_LIMIT,
            path,
            stack_env,
            max_slug_size: store::DEFAULT_MAX_SLUG_SIZE,
            buildpack_paths: Vec::new(),
            max_concurrent_builds: DEFAULT_CONCURRENT_BUILDS,
            isolation: BuildIsolation::Detect,
            build_network: BuildNetwork::Egress,
            network: None,
        }
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The app's name.
    pub app: String,
    /// Its source.
    pub source: Source,
    /// The app's config vars, given to buildpacks as `ENV_DIR` files.
    pub config_vars: BTreeMap<String, String>,
    /// The buildpack to use instead of detection (`paas buildpacks:set`); `BUILDPACK_URL` in
    /// `config_vars` is used when this is `None`.
    pub buildpack_url: Option<String>,
    /// The commit being built, given as `SOURCE_VERSION`.
    pub source_version: Option<String>,
}

/// A successful build.
#[derive(Debug, Clone)]
pub struct BuiltSlug {
    /// The stored slug.
    pub slug: Slug,
    /// Its manifest (process types, stack).
    pub manifest: SlugManifest,
    /// The buildpack that built it (`rust`, or a URL).
    pub buildpack: String,
    /// What the buildpack's `bin/detect` called the app (`Rust`).
    pub detected: String,
    /// What `bin/release` printed (config var defaults, add-ons).
    pub release: ReleaseInfo,
    /// How long the build took.
    pub duration: Duration,
}

/// Why a build failed. Its `Display` is the line to show the pusher.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Not a valid app name.
    #[error("invalid app name `{0}`")]
    InvalidApp(String),
    /// The source could not be unpacked.
    #[error("could not unpack the source: {0}")]
    Source(std::io::Error),
    /// No buildpack detected the app.
    #[error("no buildpack detected this app (tried {}); add a Cargo.toml, a Gemfile, a requirements.txt, pyproject.toml or app.py, a package.json, a pom.xml or system.properties, a composer.json or index.php, a go.mod, a public/ folder or static.json, or a Procfile (a .wasm component, or commands run as they are), or set BUILDPACK_URL", .tried.join(", "))]
    NoBuildpack {
        /// The buildpacks tried.
        tried: Vec<String>,
    },
    /// The `BUILDPACK_URL` buildpack could not be used.
    #[error("could not use buildpack {url}: {reason}")]
    Buildpack {
        /// The URL or path.
        url: String,
        /// Why.
        reason: crate::detect::BuildpackError,
    },
    /// A buildpack process could not run or timed out.
    #[error("build {0}")]
    Run(#[from] RunError),
    /// `bin/compile` failed.
    #[error("failed to compile {detected} app: bin/compile of the {buildpack} buildpack exited with {status}")]
    Compile {
        /// The buildpack.
        buildpack: String,
        /// What detect called the app.
        detected: String,
        /// Its exit status.
        status: String,
    },
    /// `bin/compile` failed having filled the build's disk.
    #[error("failed to compile {detected} app: the build filled its disk ({} MiB for the build dir, cache, env dir and home; `paas builds:cache:purge` empties the cache)", .limit >> 20)]
    DiskFull {
        /// What detect called the app.
        detected: String,
        /// The disk's size in bytes.
        limit: u64,
    },
    /// `bin/release` failed.
    #[error("bin/release of the {buildpack} buildpack exited with {status}")]
    Release {
        /// The buildpack.
        buildpack: String,
        /// Its exit status.
        status: String,
    },
    /// `bin/release` printed something unreadable.
    #[error(transparent)]
    ReleaseYaml(#[from] ReleaseYamlError),
    /// A file of the app's tree the host would not read (a link in a metadata file, a path
    /// leaving the tree, too large).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The app's Procfile is invalid.
    #[error(transparent)]
    Procfile(#[from] ProcfileError),
    /// The process types are inconsistent (a component that is not there, a bad processes.toml).
    #[error("{0}")]
    ProcessTypes(String),
    /// The slug could not be stored (e.g. too large).
    #[error(transparent)]
    Slug(#[from] StoreError),
    /// The components could not be precompiled.
    #[error("could not precompile the components: {0}")]
    Precompile(#[from] PrecompileError),
    /// Builds of tenant code need a container runtime, and this node has none.
    #[error("builds are refused on this node: they run tenant code, which needs a container sandbox, and {0}; an operator whose every app is their own may start `paas server --insecure-builds` (single-tenant only)")]
    Unsandboxed(String),
    /// The build's disk could not be made or mounted.
    #[error("could not mount the build's disk: {0}")]
    Disk(std::io::Error),
    /// Anything else on the filesystem.
    #[error("build: {0}")]
    Io(#[from] std::io::Error),
}

/// Gives a sandboxed build's disk back to root when the build is over (the next build's uid gets
/// it at its start).
struct Owner(PathBuf);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Err(e) = sandbox::chown_tree(&self.0, 0) {
            tracing::warn!(path = %self.0.display(), "cannot give a build's disk back to root: {e}");
        }
    }
}

/// The folders of the stack outside `/usr` that build containers see read-only: the `PATH`
/// entries that are not the stack's own (`~/.cargo/bin`) and `RUSTUP_HOME`, where they exist.
fn toolchain_dirs(config: &BuilderConfig) -> Vec<PathBuf> {
    let stack = ["/usr", "/bin", "/sbin", "/lib"];
    let rustup = config.stack_env.iter().filter(|(k, _)| k == "RUSTUP_HOME").map(|(_, v)| PathBuf::from(v));
    let mut dirs: Vec<PathBuf> = config
        .path
        .split(':')
        .map(PathBuf::from)
        .chain(rustup)
        .filter(|dir| dir.is_absolute() && dir.is_dir() && !stack.iter().any(|s| dir.starts_with(s)))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Precompiles a new slug's components for this node's engine (implemented by the runtime,
/// which owns wasmtime and its `.cwasm` cache), so the first request never compiles.
#[async_trait::async_trait]
pub trait Precompile: Send + Sync {
    /// Compiles every component the manifest names; `app_dir` is the built tree.
    async fn precompile(&self, slug: &Slug, manifest: &SlugManifest, app_dir: &Path) -> Result<(), PrecompileError>;
}

/// Why a process type's component could not be precompiled ([`Precompile`]).
#[derive(Debug, thiserror::Error)]
#[error("{process}: {error}")]
pub struct PrecompileError {
    /// The process type whose component failed.
    pub process: String,
    /// Why (the runtime's error, kept whole).
    pub error: crate::BoxError,
}

/// Runs builds. Cheap to share behind an `Arc`; builds of one app run one at a time.
pub struct Builder {
    config: BuilderConfig,
    store: SlugStore,
    precompile: Option<Arc<dyn Precompile>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    slots: Arc<tokio::sync::Semaphore>,
    isolation: Isolation,
    /// The file system of sandboxed builds' disks.
    disk_format: DiskFormat,
    /// Host folders of the stack outside `/usr` that buildpacks use (the Rust toolchain),
    /// read-only in build containers.
    toolchain: Vec<PathBuf>,
}

/// Heroku's app name rule: a lowercase letter, then lowercase letters, digits and dashes, 2–30 long.
pub fn is_valid_app_name(name: &str) -> bool {
    (2..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Builder {
    /// A builder with its slug store in `<data_dir>/slugs`. Finds the container runtime when
    /// `config.isolation` says to detect it (builds are refused, with the reason, without one).
    pub fn new(mut config: BuilderConfig) -> std::io::Result<Builder> {
        std::fs::create_dir_all(&config.data_dir)?;
        config.data_dir = config.data_dir.canonicalize()?;
        // Build containers see folders at their host paths, which must then hold no `..` nor link.
        if let Ok(dir) = config.buildpacks_dir.canonicalize() {
            config.buildpacks_dir = dir;
        }
        let store = SlugStore::new(&config.data_dir)?.with_max_size(config.max_slug_size);
        std::fs::create_dir_all(config.data_dir.join("builds"))?;
        std::fs::create_dir_all(config.data_dir.join("cache"))?;
        let isolation =
            Isolation::resolve(&config.isolation, &config.data_dir, config.build_network, config.network.as_ref());
        match &isolation {
            Isolation::Sandbox(_, network) => {
                let reach = if network.is_some() { "egress under the policy" } else { "no network" };
                tracing::info!("builds run in containers ({reach})");
            }
            Isolation::Insecure => tracing::warn!("builds run unsandboxed, as this server's user (--insecure-builds)"),
            Isolation::Unavailable(why) => tracing::warn!("builds are refused: {why}"),
        }
        let disk_format = DiskFormat::for_size(config.disk_limit);
        if matches!(isolation, Isolation::Sandbox(..)) {
            match disk_format {
                DiskFormat::Xfs => tracing::info!("build disks are XFS: each build's copy of its cache shares its blocks"),
                DiskFormat::Ext4 if config.disk_limit < sandbox::XFS_MIN_SIZE => tracing::info!(
                    "build disks are ext4 (XFS needs 300 MiB): each build copies its whole cache, which fits in half the disk"
                ),
                DiskFormat::Ext4 => tracing::warn!(
                    "build disks are ext4 (no mkfs.xfs: install xfsprogs): each build copies its whole cache, which fits in half the disk"
                ),
            }
            for line in crate::leftovers::unmount_stale_disks(&config.data_dir.join("builds")) {
                tracing::info!("previous run: {line}");
            }
        }
        let toolchain = toolchain_dirs(&config);
        let slots = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_builds.max(1)));
        Ok(Builder { config, store, precompile: None, locks: Mutex::default(), slots, isolation, disk_format, toolchain })
    }

    /// The app's build disk image, used while its sandboxed builds run (see [`crate::sandbox`]).
    pub fn disk_image(&self, app: &str) -> PathBuf {
        self.cache_dir(app).join(self.disk_format.image_name())
    }

    /// Whether build steps run in containers.
    pub fn is_isolated(&self) -> bool {
        matches!(self.isolation, Isolation::Sandbox(..))
    }

    /// Precompiles each new slug's components with `precompile`.
    pub fn with_precompile(mut self, precompile: Arc<dyn Precompile>) -> Builder {
        self.precompile = Some(precompile);
        self
    }

    /// The slug store.
    pub fn store(&self) -> &SlugStore {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &BuilderConfig {
        &self.config
    }

    /// The app's build cache folder (`CACHE_DIR`).
    pub fn cache_dir(&self, app: &str) -> PathBuf {
        self.config.data_dir.join("cache").join(app)
    }

    /// Empties the app's build cache (`paas builds:cache:purge`), waiting for a running build.
    pub async fn purge_cache(&self, app: &str) -> Result<(), BuildError> {
        if !is_valid_app_name(app) {
            return Err(BuildError::InvalidApp(app.to_string()));
        }
        let lock = self.app_lock(app);
        let _guard = lock.lock().await;
        let cache = self.cache_dir(app);
        for dir in std::iter::once(cache.clone()).chain(crate::cache::kept_beside(&cache)) {
            match tokio::fs::remove_dir_all(dir).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Ends what a previous server on this data dir left of its builds (see
    /// [`crate::leftovers`]), logging each thing ended; returns how many. Call once at start,
    /// before any build, after the node's stale containers are removed.
    pub fn end_leftovers(&self) -> usize {
        let ended = crate::leftovers::end_leftovers(&self.config.data_dir);
        for line in &ended {
            tracing::info!("previous run: {line}");
        }
        ended.len()
    }

    /// Builds and stores a slug, streaming the output to `out`.
    pub async fn build(&self, request: BuildRequest, out: &dyn OutputSink) -> Result<BuiltSlug, BuildError> {
        if !is_valid_app_name(&request.app) {
            return Err(BuildError::InvalidApp(request.app.clone()));
        }
        let out = &BoundedOutput::new(out);
        let lock = self.app_lock(&request.app);
        let _guard = match lock.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                out.step(&format!("Waiting for the build of {} already running", request.app));
                lock.lock().await
            }
        };
        let _slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let slots = self.config.max_concurrent_builds.max(1);
                out.step(&format!("Waiting for a build slot ({slots} builds run at once on this node)"));
                self.slots.clone().acquire_owned().await.expect("the build semaphore is never closed")
            }
        };
        let started = Instant::now();
        let (sandbox, network) = match &self.isolation {
            Isolation::Sandbox(sandbox, network) => (Some(sandbox.clone()), network.clone()),
            Isolation::Insecure => (None, None),
            Isolation::Unavailable(why) => return Err(BuildError::Unsandboxed(why.clone())),
        };
        // Sandboxed: everything the build writes lives on the app's disk (see `sandbox.rs`),
        // mounted at the same path each build (`builds/<app>.disk`, one build per app at a time):
        // caches that record paths (cargo's) stay valid. Insecure builds work in a folder of
        // their own, removed after.
        let (disk, _work, root) = match &sandbox {
            Some(_) => {
                let (dir, format) = (self.cache_dir(&request.app), self.disk_format);
                let mountpoint = self.config.data_dir.join("builds").join(format!("{}.disk", request.app));
                let limit = self.config.disk_limit;
                tokio::fs::create_dir_all(self.cache_dir(&request.app)).await?;
                let disk = tokio::task::spawn_blocking(move || BuildDisk::mount(&dir, format, limit, &mountpoint))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .map_err(BuildError::Disk)?;
                let root = disk.path().to_path_buf();
                (Some(disk), None, root)
            }
            None => {
                let work = tempfile::Builder::new()
                    .prefix(&format!("{}-", request.app))
                    .tempdir_in(self.config.data_dir.join("builds"))?;
                let root = work.path().to_path_buf();
                (None, Some(work), root)
            }
        };
        let (build_dir, env_dir, home) = (root.join("app"), root.join("env"), root.join("home"));
        let cache_dir = match &disk {
            Some(disk) => disk.path().join("cache"),
            None => self.cache_dir(&request.app),
        };
        let clone_dir = root.join("buildpack");
        for dir in [&build_dir, &env_dir, &home, &clone_dir] {
            // A server that crashed mid-build may have left them on the disk.
            if let Err(e) = tokio::fs::remove_dir_all(dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(e.into());
            }
        }
        for dir in [&build_dir, &env_dir, &home] {
            tokio::fs::create_dir_all(dir).await?;
        }
        // The build works on a copy of the cache, swapped in only if it succeeds (`cache.rs`).
        let work_cache = cache_dir.clone();
        let cache = tokio::task::spawn_blocking(move || CacheSwap::begin(&work_cache))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        // git clones a BUILDPACK_URL as the build's uid, from repositories it does not own.
        tokio::fs::write(home.join(".gitconfig"), "[safe]\n\tdirectory = *\n").await?;
        let fetch = (request.source.clone(), build_dir.clone());
        tokio::task::spawn_blocking(move || source::fetch(&fetch.0, &fetch.1))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .map_err(BuildError::Source)?;
        for (name, value) in &request.config_vars {
            if !name.is_empty() && !name.contains('/') && name != "." && name != ".." {
                tokio::fs::write(env_dir.join(name), value).await?;
            }
        }
        let env = self.env(&home, request.source_version.as_deref());
        let url = request.buildpack_url.clone().or_else(|| request.config_vars.get("BUILDPACK_URL").cloned());
        // The build's uid owns its disk while it runs, root again after (`owner` drops first).
        let (step, _owner) = match (&sandbox, &disk) {
            (Some(sandbox), Some(disk)) => {
                let uid = sandbox.take_uid().map_err(RunError::Container)?;
                let (path, id) = (disk.path().to_path_buf(), uid.get());
                tokio::task::spawn_blocking(move || sandbox::chown_tree(&path, id))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??;
                let owner = Owner(disk.path().to_path_buf());
                let mut mounts = vec![sandbox::writable(disk.path()), sandbox::read_only(&self.config.buildpacks_dir)];
                mounts.extend(self.toolchain.iter().map(|dir| sandbox::read_only(dir)));
                if let Some(local) = url.as_deref().and_then(|u| detect::local_path(u, &self.config.buildpacks_dir))
                    && let Ok(local) = local.canonicalize()
                    && local.is_dir()
                    && !local.starts_with(&self.config.buildpacks_dir)
                {
                    mounts.push(sandbox::read_only(&local));
                }
                let step = StepSandbox {
                    sandbox: sandbox.clone(),
                    uid,
                    name: format!("build-{}", request.app),
                    mounts,
                    limits: self.config.step_limits,
                    network: network.clone(),
                };
                (Some(Arc::new(step)), Some(owner))
            }
            _ => (None, None),
        };
        let limits = Limits {
            deadline: started + self.config.time_limit,
            time_limit: self.config.time_limit,
            memory: self.config.memory_limit,
            sandbox: step,
            records: Some(self.config.data_dir.join("builds")),
        };

        let (buildpack, detected) = match url {
            Some(url) => {
                let buildpack = detect::resolve(&url, &self.config.buildpacks_dir, &clone_dir, &env, &limits)
                    .await
                    .map_err(|reason| BuildError::Buildpack { url: url.clone(), reason })?;
                let detected = detect::detect_one(&buildpack, &build_dir, &env, &limits).await?;
                (buildpack.clone(), detected.unwrap_or(buildpack.name))
            }
            None => {
                let buildpacks = detect::buildpacks_in(&self.config.buildpacks_dir);
                detect::detect(&buildpacks, &build_dir, &env, &limits).await?.ok_or_else(|| BuildError::NoBuildpack {
                    tried: buildpacks.iter().map(|b| b.name.clone()).collect(),
                })?
            }
        };
        out.step(&format!("Building with {} buildpack", buildpack.name));
        out.step(&format!("{detected} app detected"));

        let compile = buildpack.bin("compile").expect("an opened buildpack has bin/compile");
        let args = [&build_dir, &cache_dir, &env_dir].map(|p| p.as_os_str().to_owned());
        let done = process::run(&compile, &args, &build_dir, &env, &limits, Stdout::Stream, out).await?;
        if !done.status.success() {
            if disk.as_ref().is_some_and(BuildDisk::is_full) {
                return Err(BuildError::DiskFull { detected, limit: self.config.disk_limit });
            }
            return Err(BuildError::Compile {
                buildpack: buildpack.name.clone(),
                detected,
                status: describe(done.status),
            });
        }
        let release = self.release(&buildpack, &build_dir, &env, &limits, out).await?;
        let processes = process_types(&build_dir, &release, out).await?;

        let mut manifest = SlugManifest::new(&self.config.stack, processes);
        manifest.buildpack = Some(buildpack.name.clone());
        manifest.source_version = request.source_version.clone();
        out.step("Compressing...");
        let (store, dir, m) = (self.store.clone(), build_dir.clone(), manifest.clone());
        let slug = tokio::task::spawn_blocking(move || store.create(&dir, &m))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        out.detail(&format!("Done: {}", store::human_size(slug.size)));
        if let Some(precompile) = &self.precompile {
            out.step("Compiling components for this node...");
            precompile.precompile(&slug, &manifest, &build_dir).await?;
            out.detail("Done");
        }
        tokio::task::spawn_blocking(move || cache.commit()).await.map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(BuiltSlug {
            slug,
            manifest,
            buildpack: buildpack.name,
            detected,
            release,
            duration: started.elapsed(),
        })
    }

    async fn release(
        &self,
        buildpack: &Buildpack,
        build_dir: &Path,
        env: &[(String, OsString)],
        limits: &Limits,
        out: &dyn OutputSink,
    ) -> Result<ReleaseInfo, BuildError> {
        let Some(program) = buildpack.bin("release") else { return Ok(ReleaseInfo::default()) };
        let args = [build_dir.as_os_str().to_owned()];
        let done = process::run(&program, &args, build_dir, env, limits, Stdout::Capture, out).await?;
        if !done.status.success() {
            return Err(BuildError::Release { buildpack: buildpack.name.clone(), status: describe(done.status) });
        }
        Ok(ReleaseInfo::parse(&done.stdout)?)
    }

    /// The buildpacks' whole environment: nothing of the server's own.
    fn env(&self, home: &Path, source_version: Option<&str>) -> Vec<(String, OsString)> {
        let mut env = vec![
            ("PATH".to_string(), OsString::from(&self.config.path)),
            ("HOME".to_string(), home.as_os_str().to_owned()),
            ("STACK".to_string(), OsString::from(&self.config.stack)),
            ("LANG".to_string(), OsString::from("C.UTF-8")),
        ];
        if let Some(version) = source_version {
            env.push(("SOURCE_VERSION".to_string(), version.into()));
        }
        env.extend(self.config.stack_env.iter().map(|(k, v)| (k.clone(), OsString::from(v))));
        env
    }

    fn app_lock(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().expect("locks").entry(app.to_string()).or_default().clone()
    }
}

/// Process types: the buildpack's `default_process_types`, overridden by its
/// `.paas/processes.toml`, overridden by the app's Procfile. Components must exist.
async fn process_types(
    build_dir: &Path,
    release: &ReleaseInfo,
    out: &dyn OutputSink,
) -> Result<BTreeMap<String, ProcessKind>, BuildError> {
    out.step("Discovering process types");
    let mut processes: BTreeMap<String, ProcessKind> = release
        .default_process_types
        .iter()
        .map(|(name, command)| (name.clone(), ProcessKind::from_command(command)))
        .collect();
    let mut from_buildpack: Vec<&str> = release.default_process_types.keys().map(String::as_str).collect();
    let tree = TenantTree::open(build_dir)?;
    let declared = match tree.read_metadata(UntrustedPath::new(PROCESS_TYPES_FILE), MAX_METADATA_SIZE)? {
        Some(text) => toml::from_str::<ProcessTypes>(&text)
            .map_err(|e| BuildError::ProcessTypes(format!("{PROCESS_TYPES_FILE} written by the buildpack: {e}")))?
            .processes,
        None => BTreeMap::new(),
    };
    from_buildpack.extend(declared.keys().map(String::as_str));
    processes.extend(declared.clone());
    let procfile = match tree.read_metadata(UntrustedPath::new("Procfile"), MAX_METADATA_SIZE)? {
        Some(text) => Procfile::parse(&text)?,
        None => Procfile::default(),
    };
    for (name, command) in procfile.entries() {
        // A buildpack that built a component for the Procfile's own command recorded that
        // command as the component's native fallback: the Procfile line does not replace it.
        if declared.get(name).is_some_and(|kind| kind.is_wasm() && kind.native_command() == Some(command)) {
            continue;
        }
        let mut kind = ProcessKind::from_command(command);
        // The Procfile names the component; `processes.toml` may say how its instances are used
        // (a prebuilt `web: app.wasm` with `reuse = true` beside it reuses instances).
        if let (ProcessKind::Wasm { reuse, .. }, Some(ProcessKind::Wasm { reuse: declared_reuse, .. })) =
            (&mut kind, declared.get(name))
        {
            *reuse = *declared_reuse;
        }
        processes.insert(name.to_string(), kind);
    }
    if !procfile.is_empty() {
        let names: Vec<&str> = procfile.entries().map(|(n, _)| n).collect();
        out.detail(&format!("Procfile declares types -> {}", names.join(", ")));
    }
    let mut defaults: Vec<&str> = from_buildpack.into_iter().filter(|n| procfile.command(n).is_none()).collect();
    defaults.sort_unstable();
    defaults.dedup();
    if !defaults.is_empty() {
        out.detail(&format!("Default types for buildpack -> {}", defaults.join(", ")));
    }
    if processes.is_empty() {
        out.detail("No process types: add a Procfile to run this app");
    }
    for (name, kind) in &processes {
        let manifest = SlugManifest::new("", BTreeMap::from([(name.clone(), kind.clone())]));
        manifest.validate().map_err(|e| BuildError::ProcessTypes(e.to_string()))?;
        if let ProcessKind::Wasm { component, .. } = kind
            && !tree.is_file(UntrustedPath::new(component))
        {
            return Err(BuildError::ProcessTypes(format!(
                "process type `{name}` names the component {component}, which the build did not produce (or which leaves the app's folder)"
            )));
        }
    }
    Ok(processes)
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}
