//! Native dynos: apps that cannot become WebAssembly run as processes in an OCI container under
//! runc (or any runtime taking runc's arguments: `--container-runtime`). Each dyno gets a bundle
//! generated from its [`DynoSpec`](crate::DynoSpec) (see `bundle.rs` for what it sees), runs as its own
//! non-root uid with no capabilities, `no_new_privileges`, a seccomp deny list, new PID, mount,
//! IPC and UTS namespaces, and the host's network (a web dyno binds `127.0.0.1:$PORT`; the
//! router reaches it with `paas_router::TcpBackend`). Memory and process limits are cgroups where
//! the node allows (see `cgroup.rs`), rlimits where it does not. stdout and stderr lines go to the
//! dyno's [`LogSink`](crate::LogSink) exactly as a wasm dyno's.
//!
//! ```text
//! NativeRuntime::new(NativeConfig)       checks the runtime binary, detects cgroups
//!   .cleanup_stale() -> n                kills and deletes containers left by a crashed server
//! NativeDyno::start(&nrt, spec, command, Stdin)     output to spec.logs
//!   .wait_for_port(timeout)              web dynos: until 127.0.0.1:$PORT accepts (R10 after)
//!   .wait() -> ExitStatus, .stop(grace) -> ExitStatus  (SIGTERM to all, SIGKILL after grace)
//! NativeDyno::attach(&nrt, spec, command) -> (NativeDyno, NativeStdio)   one-offs: raw streams
//! NativeDyno::attach_tty(&nrt, spec, command, rows, cols) -> (NativeDyno, NativeStdio)  on a pty
//! run_native_oneoff(&nrt, spec, command, Stdin) -> ExitStatus           as run_oneoff
//! ```
//!
//! A command runs as `bash -c`, in `/app`, after sourcing `/app/.profile.d/*.sh` (as Heroku does).
//! Exit statuses are the process's (`128 + n` when killed by signal `n`): a memory kill is
//! `Exited(137)` with `Error R15 (Memory quota vastly exceeded)` logged first; a dyno that had
//! to be killed after its grace period is [`ExitStatus::Stopped`](crate::ExitStatus).

mod bundle;
mod cgroup;
mod dyno;
mod runc;
mod seccomp;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use dyno::{BootError, NativeDyno, NativeStdio, free_port, run_native_oneoff};

use cgroup::Cgroups;
use runc::Runc;

/// The prefix of every container id paas creates (`paas-<app>-<dyno>-<random>`).
pub const CONTAINER_PREFIX: &str = "paas-";

/// How many native dynos may run at once on one node (each takes a uid of its own).
const MAX_DYNOS: u32 = 1024;

/// How native dynos run on this node.
#[derive(Debug, Clone)]
pub struct NativeConfig {
    /// The OCI runtime binary: `runc` (found on `PATH`) unless configured.
    pub runtime: PathBuf,
    /// Where the runtime's state (`runc/`) and the bundles (`containers/<id>/`) live:
    /// `<data-dir>/runtime`.
    pub state_dir: PathBuf,
    /// Use cgroups for the memory and pids limits when the node allows (true); false forces the
    /// rlimit fallback (for tests of it).
    pub cgroups: bool,
}

impl NativeConfig {
    /// runc from `PATH`, state under `<data_dir>/runtime`, cgroups when possible.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        NativeConfig { runtime: PathBuf::from("runc"), state_dir: data_dir.as_ref().join("runtime"), cgroups: true }
    }
}

/// Why a native dyno could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The runtime binary is missing or broken.
    #[error("cannot run the container runtime `{}`: {detail} (install runc, or pass --container-runtime PATH)", .binary.display())]
    Runtime {
        /// The binary.
        binary: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A runtime command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its standard error.
        detail: String,
    },
    /// A file or directory of the bundle could not be written.
    #[error("cannot prepare `{}`: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The OCI configuration could not be built or saved.
    #[error("cannot write the container's config.json: {0}")]
    Bundle(#[from] oci_spec::OciSpecError),
    /// The dyno's spec is not usable.
    #[error("invalid native dyno: {0}")]
    Spec(String),
    /// Every uid of the node's range is in use.
    #[error("too many native dynos on this node (at most {MAX_DYNOS})")]
    Full,
}

/// The node's native-dyno runtime. Cheap to clone; all clones share it.
#[derive(Clone)]
pub struct NativeRuntime(Arc<Inner>);

struct Inner {
    runc: Runc,
    containers: PathBuf,
    cgroups: Cgroups,
    uid_base: u32,
    uids: Mutex<BTreeSet<u32>>,
}

impl std::fmt::Debug for NativeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeRuntime").field("runtime", &self.0.runc.binary).field("cgroups", &self.0.cgroups).finish()
    }
}

impl NativeRuntime {
    /// Checks that the runtime binary runs, creates the state directories and finds what the
    /// node's cgroups allow (logged once).
    pub fn new(config: NativeConfig) -> Result<NativeRuntime, NativeError> {
        let runc = Runc { binary: config.runtime.clone(), root: config.state_dir.join("runc") };
        let version = runc.version()?;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1));
        if uid != Some("0") {
            let detail = format!("it runs containers as root, and paas server runs as uid {}", uid.unwrap_or("?"));
            return Err(NativeError::Runtime { binary: config.runtime, detail });
        }
        let containers = config.state_dir.join("containers");
        for dir in [&runc.root, &containers] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let cgroups =
            if config.cgroups { Cgroups::detect() } else { Cgroups::Unavailable("disabled by configuration".into()) };
        tracing::info!(runtime = %config.runtime.display(), %version, "native dynos: {}", cgroups.describe());
        // Each node takes its own block of uids, so that dynos of two nodes on one host (tests)
        // do not share a uid (RLIMIT_NPROC counts per uid).
        let block =
            config.state_dir.to_string_lossy().bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let uid_base = 100_000 + (block % 4096) * MAX_DYNOS;
        Ok(NativeRuntime(Arc::new(Inner { runc, containers, cgroups, uid_base, uids: Mutex::default() })))
    }

    /// What enforces the limits here (one line, for `paas server`'s start-up log).
    pub fn enforcement(&self) -> String {
        self.0.cgroups.describe()
    }

    /// The runtime's state root (`runc --root`).
    pub fn state_root(&self) -> &Path {
        &self.0.runc.root
    }

    /// Kills and deletes every container under the state root and removes every bundle (left by a
    /// `paas server` that crashed): call once at start, before any dyno runs. Returns how many
    /// containers were removed.
    pub async fn cleanup_stale(&self) -> Result<usize, NativeError> {
        let ids = self.0.runc.list().await?;
        for id in &ids {
            if let Err(e) = self.0.runc.delete(id).await {
                tracing::warn!(container = %id, "cannot delete a stale container: {e}");
            }
        }
        let bundles = std::fs::read_dir(&self.0.containers).map_err(io(&self.0.containers))?;
        for bundle in bundles.flatten() {
            let id = bundle.file_name().to_string_lossy().into_owned();
            self.0.cgroups.remove_stale(&id);
            if let Err(e) = std::fs::remove_dir_all(bundle.path()) {
                tracing::warn!(path = %bundle.path().display(), "cannot remove a stale bundle: {e}");
            }
        }
        Ok(ids.len())
    }

    /// A free uid for a new dyno, given back when the guard drops.
    fn take_uid(&self) -> Result<UidGuard, NativeError> {
        let mut taken = self.0.uids.lock().unwrap_or_else(|e| e.into_inner());
        let uid =
            (self.0.uid_base..self.0.uid_base + MAX_DYNOS).find(|u| !taken.contains(u)).ok_or(NativeError::Full)?;
        taken.insert(uid);
        Ok(UidGuard { runtime: self.clone(), uid })
    }
}

/// A dyno's uid, reserved while it lives.
struct UidGuard {
    runtime: NativeRuntime,
    uid: u32,
}

impl Drop for UidGuard {
    fn drop(&mut self) {
        self.runtime.0.uids.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.uid);
    }
}

/// Maps an I/O error on `path` to [`NativeError::Io`].
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NativeError {
    let path = path.to_path_buf();
    move |source| NativeError::Io { path, source }
}
