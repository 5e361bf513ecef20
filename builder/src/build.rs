//! A build: source → buildpack detect/compile/release → process types → slug in the store, with
//! the output streamed to an [`OutputSink`] the Heroku way, under a time and memory limit, in its
//! own working folder, with the app's build cache.
//!
//! Layout under the data dir: `builds/<app>-XXXX/{app,env,home,buildpack}` while a build runs
//! (removed after), `cache/<app>/` (the buildpacks' `CACHE_DIR`, kept between builds) and
//! `slugs/` (the [`SlugStore`]).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::buildpack::{Buildpack, ReleaseInfo, ReleaseYamlError};
use crate::detect;
use crate::isolate::{self, Isolation};
use crate::manifest::{NATIVE_STACK, ProcessKind, ProcessTypes, SlugManifest};
use crate::output::OutputSink;
use crate::process::{self, Limits, RunError, Stdout};
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
    /// `RLIMIT_AS` of each buildpack process in bytes (default 64 GiB; needs `prlimit`). It bounds
    /// address space, not use: V8 reserves over 32 GiB for the wasm instances componentize-js runs.
    pub memory_limit: Option<u64>,
    /// `PATH` for buildpacks.
    pub path: String,
    /// Further variables of the stack given to buildpacks (default: `RUSTUP_HOME` so the host's
    /// Rust toolchains are found although `HOME` is the build's).
    pub stack_env: Vec<(String, String)>,
    /// The slug size limit in bytes (default 500 MiB).
    pub max_slug_size: u64,
    /// Run buildpacks in a mount namespace that hides the data dir but for the build's own
    /// folders (default true; see [`crate::isolate`]; skipped with a warning where unavailable).
    pub isolate: bool,
}

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
            path,
            stack_env,
            max_slug_size: store::DEFAULT_MAX_SLUG_SIZE,
            isolate: true,
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
    #[error("no buildpack detected this app (tried {}); add a Cargo.toml, a requirements.txt, pyproject.toml or app.py, a package.json, a public/ folder or static.json, or a Procfile (a .wasm component, or commands run as they are), or set BUILDPACK_URL", .tried.join(", "))]
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
        reason: String,
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
    Precompile(String),
    /// Anything else on the filesystem.
    #[error("build: {0}")]
    Io(#[from] std::io::Error),
}

/// Precompiles a new slug's components for this node's engine (implemented by the runtime,
/// which owns wasmtime and its `.cwasm` cache), so the first request never compiles.
#[async_trait::async_trait]
pub trait Precompile: Send + Sync {
    /// Compiles every component the manifest names; `app_dir` is the built tree.
    async fn precompile(&self, slug: &Slug, manifest: &SlugManifest, app_dir: &Path) -> Result<(), String>;
}

/// Runs builds. Cheap to share behind an `Arc`; builds of one app run one at a time.
pub struct Builder {
    config: BuilderConfig,
    store: SlugStore,
    precompile: Option<Arc<dyn Precompile>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    unshare: Option<Vec<OsString>>,
}

/// Heroku's app name rule: a lowercase letter, then lowercase letters, digits and dashes, 2–30 long.
pub fn is_valid_app_name(name: &str) -> bool {
    (2..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Builder {
    /// A builder with its slug store in `<data_dir>/slugs`.
    /// Probes for build isolation when `config.isolate` is set.
    pub fn new(mut config: BuilderConfig) -> std::io::Result<Builder> {
        std::fs::create_dir_all(&config.data_dir)?;
        config.data_dir = config.data_dir.canonicalize()?;
        let store = SlugStore::new(&config.data_dir)?.with_max_size(config.max_slug_size);
        std::fs::create_dir_all(config.data_dir.join("builds"))?;
        std::fs::create_dir_all(config.data_dir.join("cache"))?;
        let unshare = if config.isolate { Isolation::probe() } else { None };
        if config.isolate && unshare.is_none() {
            tracing::warn!("builds are not isolated: `unshare --mount` is not permitted on this host");
        }
        Ok(Builder { config, store, precompile: None, locks: Mutex::default(), unshare })
    }

    /// Whether builds run isolated from the rest of the data dir.
    pub fn is_isolated(&self) -> bool {
        self.unshare.is_some()
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
        match tokio::fs::remove_dir_all(self.cache_dir(app)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Builds and stores a slug, streaming the output to `out`.
    pub async fn build(&self, request: BuildRequest, out: &dyn OutputSink) -> Result<BuiltSlug, BuildError> {
        if !is_valid_app_name(&request.app) {
            return Err(BuildError::InvalidApp(request.app.clone()));
        }
        let lock = self.app_lock(&request.app);
        let _guard = lock.lock().await;
        let started = Instant::now();
        let work = tempfile::Builder::new()
            .prefix(&format!("{}-", request.app))
            .tempdir_in(self.config.data_dir.join("builds"))?;
        let (build_dir, env_dir, home) = (work.path().join("app"), work.path().join("env"), work.path().join("home"));
        let cache_dir = self.cache_dir(&request.app);
        let stage = match &self.unshare {
            Some(_) => Some(tempfile::Builder::new().prefix("paas-build-stage-").tempdir()?),
            None => None,
        };
        let isolation = match (&self.unshare, &stage) {
            (Some(unshare), Some(stage)) if !isolate::is_within(stage.path(), &self.config.data_dir) => {
                let mut keep = vec![work.path().to_path_buf(), cache_dir.clone()];
                if isolate::is_within(&self.config.buildpacks_dir, &self.config.data_dir) {
                    keep.push(self.config.buildpacks_dir.clone());
                }
                Some(Isolation {
                    unshare: unshare.clone(),
                    hide: self.config.data_dir.clone(),
                    keep,
                    stage: stage.path().to_path_buf(),
                })
            }
            _ => None,
        };
        let limits = Limits {
            deadline: started + self.config.time_limit,
            time_limit: self.config.time_limit,
            memory: self.config.memory_limit,
            isolation,
        };
        for dir in [&build_dir, &env_dir, &home, &cache_dir] {
            tokio::fs::create_dir_all(dir).await?;
        }
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
        let (buildpack, detected) = match url {
            Some(url) => {
                let buildpack = detect::resolve(&url, &self.config.buildpacks_dir, &work.path().join("buildpack"))
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
            precompile.precompile(&slug, &manifest, &build_dir).await.map_err(BuildError::Precompile)?;
            out.detail("Done");
        }
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
        processes.insert(name.to_string(), ProcessKind::from_command(command));
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
