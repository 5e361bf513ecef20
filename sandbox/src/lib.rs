//! paas-sandbox: the boundaries between tenants, shared by the runtime (native dynos, wasm dynos'
//! outgoing requests), the builder (every build step runs in a container) and the platform (log
//! drains). No wasmtime here: it compiles fast and any crate may use it.
//!
//! Containers: every piece of tenant code that is not WebAssembly (native dynos, every build
//! step) runs as an OCI bundle under runc (or any runtime taking runc's arguments), as its own
//! non-root uid, with no capabilities, `no_new_privileges`, a seccomp deny list, new PID, mount,
//! IPC and UTS namespaces, the host's OS as a read-only stack and only the folders its caller
//! names; memory, pids and CPU limits are cgroups where the node allows, rlimits where not.
//!
//! ```text
//! Sandbox::new(SandboxConfig)             checks the runtime binary and root, detects cgroups
//!   .cleanup_stale() -> n                 kills and deletes containers a crashed server left
//!   .take_uid() -> Uid                    a uid no running container has (freed on drop)
//!   .create(name, &uid, &Plan) -> Container    writes the bundle and the memory cgroup
//! Container .run(stdin) -> Child (runc)   .kill(signal), .delete(), .memory_events(); drop cleans up
//!   .run_on_terminal() -> (Child, Terminal)   a plan with a terminal: runc on a pty of its size
//! Plan { args, env, cwd, user, home, mounts: [Mount::Bind | Mount::Overlay], memory_bytes,
//!        processes, cpu_millis, io: IoLimits, network: Network::Host | None | Join(netns), terminal }
//! ```
//!
//! Pieces: `container.rs` (the node's runtime, uids, one container), `bundle.rs` (a plan as
//! `config.json` and a root filesystem), `seccomp.rs` (the system calls denied), `cgroup.rs`
//! (memory cgroups and their counters), `limits.rs` (block-I/O throttles, writable-layer
//! sizes), `runc.rs` (calling the runtime binary), `terminal.rs` (the pty a container on a
//! terminal runs on), `watchdog.rs` (the process that
//! kills the containers once the server is gone, however it ended), `egress.rs`
//! (which addresses a tenant may reach), `net/` (each container's network namespace and veth
//! pair on the node's range, and the nftables table that enforces the egress policy on them),
//! `tree.rs` (a tenant's folder read by the host through a capability: no link leads out).

pub mod egress;
pub mod net;
pub mod tree;
mod bundle;
mod cgroup;
mod container;
mod error;
mod limits;
mod runc;
mod seccomp;
mod terminal;
mod watchdog;

pub use bundle::{Mount, Network, Plan};
pub use cgroup::MemoryEvents;
pub use container::{CONTAINER_PREFIX, Container, MAX_CONTAINERS, Sandbox, SandboxConfig, Uid};
pub use error::SandboxError;
pub use limits::IoLimits;
pub use terminal::Terminal;
pub use watchdog::Watchdog;
