//! Native dynos: apps that cannot become WebAssembly run as processes in an OCI container under
//! runc (or any runtime taking runc's arguments: `--container-runtime`), in a container of
//! [`paas_sandbox`]: each dyno's [`DynoSpec`](crate::DynoSpec) becomes a [`paas_sandbox::Plan`]
//! (the slug at `/app` under a writable overlay, user `dyno`), run as its own non-root uid with
//! no capabilities, `no_new_privileges`, a seccomp deny list, new PID, mount, IPC and UTS
//! namespaces, and the host's network (a web dyno binds `127.0.0.1:$PORT`; the router reaches it
//! with `paas_router::TcpBackend`). Memory and process limits are cgroups where the node allows,
//! rlimits where it does not. stdout and stderr lines go to the dyno's
//! [`LogSink`](crate::LogSink) exactly as a wasm dyno's.
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

mod dyno;

pub use dyno::{BootError, NativeDyno, NativeStdio, free_port, run_native_oneoff};
pub use paas_sandbox::CONTAINER_PREFIX;
use paas_sandbox::Sandbox;

/// How native dynos run on this node: the container runtime's configuration.
pub type NativeConfig = paas_sandbox::SandboxConfig;

/// Why a native dyno could not be started or controlled.
pub type NativeError = paas_sandbox::SandboxError;

/// The `PATH` of a native dyno unless a config var sets one.
pub(crate) const DEFAULT_PATH: &str = "/app/bin:/usr/local/bin:/usr/bin:/bin";

/// The node's native-dyno runtime: the node's [`Sandbox`]. Cheap to clone; all clones share it.
#[derive(Clone, Debug)]
pub struct NativeRuntime(pub(crate) Sandbox);

impl NativeRuntime {
    /// Checks that the runtime binary runs, creates the state directories and finds what the
    /// node's cgroups allow (logged once).
    pub fn new(config: NativeConfig) -> Result<NativeRuntime, NativeError> {
        Sandbox::new(config).map(NativeRuntime)
    }

    /// Native dynos on a sandbox the node shares with its builds.
    pub fn with_sandbox(sandbox: Sandbox) -> NativeRuntime {
        NativeRuntime(sandbox)
    }

    /// The node's sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.0
    }

    /// What enforces the limits here (one line, for `paas server`'s start-up log).
    pub fn enforcement(&self) -> String {
        self.0.enforcement()
    }

    /// The runtime's state root (`runc --root`).
    pub fn state_root(&self) -> &std::path::Path {
        self.0.state_root()
    }

    /// Kills and deletes every container under the state root and removes every bundle (left by a
    /// `paas server` that crashed): call once at start, before any dyno runs. Returns how many
    /// containers were removed.
    pub async fn cleanup_stale(&self) -> Result<usize, NativeError> {
        self.0.cleanup_stale().await
    }
}
