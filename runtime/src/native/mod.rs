//! Native dynos: apps that cannot become WebAssembly run as processes in an OCI container under
//! runc (or any runtime taking runc's arguments: `--container-runtime`), in a container of
//! [`paas_sandbox`]: each dyno's [`DynoSpec`](crate::DynoSpec) becomes a [`paas_sandbox::Plan`]
//! (the slug at `/app` under a writable overlay, user `dyno`), run as its own non-root uid with
//! no capabilities, `no_new_privileges`, a seccomp deny list, new PID, mount, IPC and UTS
//! namespaces, and a network namespace of its own on the node's container network
//! ([`paas_sandbox::net`]: a veth pair, the egress policy's firewall; a web dyno binds
//! `0.0.0.0:$PORT` and the router reaches it at `<its address>:$PORT` with
//! the router's TCP backend), or the host's network where the node has none (a web dyno then
//! binds `127.0.0.1:$PORT`). Memory and process limits are cgroups where the node allows,
//! rlimits where it does not. stdout and stderr lines go to the dyno's
//! [`LogSink`](crate::LogSink) exactly as a wasm dyno's.
//!
//! ```text
//! NativeRuntime::new(NativeConfig)       checks the runtime binary, detects cgroups
//!   .cleanup_stale() -> n                kills and deletes containers left by a crashed server
//! NativeDyno::start(&nrt, spec, command, Stdin)     output to spec.logs
//!   .with_network(Network)               dynos get network namespaces (paas server: --dyno-network)
//!   .wait_for_port(timeout)              web dynos: until <address>:$PORT accepts (R10 after)
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

pub use dyno::{BootError, NativeDyno, NativeStdio, UsageProbe, free_port, run_native_oneoff};
pub use paas_sandbox::CONTAINER_PREFIX;
use paas_sandbox::Sandbox;
use paas_sandbox::net::Network;

/// How native dynos run on this node: the container runtime's configuration.
pub type NativeConfig = paas_sandbox::SandboxConfig;

/// Why a native dyno could not be started or controlled.
pub type NativeError = paas_sandbox::SandboxError;

/// The `PATH` of a native dyno unless a config var sets one.
pub(crate) const DEFAULT_PATH: &str = "/app/bin:/usr/local/bin:/usr/bin:/bin";

/// The node's native-dyno runtime: the node's [`Sandbox`] and its container network. Cheap to
/// clone; all clones share it.
#[derive(Clone, Debug)]
pub struct NativeRuntime {
    pub(crate) sandbox: Sandbox,
    /// Where each dyno gets its network namespace; `None`: the host's network.
    pub(crate) network: Option<Network>,
}

impl NativeRuntime {
    /// Checks that the runtime binary runs, creates the state directories and finds what the
    /// node's cgroups allow (logged once).
    pub fn new(config: NativeConfig) -> Result<NativeRuntime, NativeError> {
        Sandbox::new(config).map(NativeRuntime::with_sandbox)
    }

    /// Native dynos on a sandbox the node shares with its builds (on the host's network until
    /// [`NativeRuntime::with_network`]).
    pub fn with_sandbox(sandbox: Sandbox) -> NativeRuntime {
        NativeRuntime { sandbox, network: None }
    }

    /// Each dyno then gets a network namespace of its own on `network`.
    pub fn with_network(mut self, network: Network) -> NativeRuntime {
        self.network = Some(network);
        self
    }

    /// The node's sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The dynos' network, when they have namespaces of their own.
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    /// What enforces the limits here (one line, for `paas server`'s start-up log).
    pub fn enforcement(&self) -> String {
        self.sandbox.enforcement()
    }

    /// The runtime's state root (`runc --root`).
    pub fn state_root(&self) -> &std::path::Path {
        self.sandbox.state_root()
    }

    /// Kills and deletes every container under the state root and removes every bundle (left by a
    /// `paas server` that crashed): call once at start, before any dyno runs. Returns how many
    /// containers were removed.
    pub async fn cleanup_stale(&self) -> Result<usize, NativeError> {
        self.sandbox.cleanup_stale().await
    }
}
