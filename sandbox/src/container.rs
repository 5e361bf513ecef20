//! The node's containers: [`Sandbox`] (the runtime binary, its state root, what the cgroups allow,
//! the node's block of uids) and one [`Container`] (its bundle, memory cgroup and uid; killed,
//! deleted and cleaned up when dropped).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::process::Child;

use crate::bundle::{self, Placement, Plan};
use crate::cgroup::{Cgroups, ContainerCgroup, MemoryEvents};
use crate::error::{SandboxError, io};
use crate::runc::Runc;
use crate::terminal::Terminal;

/// The prefix of every container id paas creates (`paas-<name>-<random>`).
pub const CONTAINER_PREFIX: &str = "paas-";

/// How many containers may run at once on one node (each takes a uid of its own).
pub const MAX_CONTAINERS: u32 = 1024;

/// How containers run on this node.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The OCI runtime binary: `runc` (found on `PATH`) unless configured.
    pub runtime: PathBuf,
    /// Where the runtime's state (`runc/`) and the bundles (`containers/<id>/`) live:
    /// `<data-dir>/runtime`.
    pub state_dir: PathBuf,
    /// Use cgroups for the memory, pids and CPU limits when the node allows (true); false forces
    /// the rlimit fallback (for tests of it).
    pub cgroups: bool,
}

impl SandboxConfig {
    /// runc from `PATH`, state under `<data_dir>/runtime`, cgroups when possible.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        SandboxConfig { runtime: PathBuf::from("runc"), state_dir: data_dir.as_ref().join("runtime"), cgroups: true }
    }
}

/// The node's container runtime. Cheap to clone; all clones share it (and its uids).
#[derive(Clone)]
pub struct Sandbox(Arc<Inner>);

struct Inner {
    runc: Runc,
    containers: PathBuf,
    cgroups: Cgroups,
    uid_base: u32,
    uids: Mutex<BTreeSet<u32>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("runtime", &self.0.runc.binary).field("cgroups", &self.0.cgroups).finish()
    }
}

impl Sandbox {
    /// Checks that the runtime binary runs and that this process is root (runc needs it), creates
    /// the state directories and finds what the node's cgroups allow (logged once).
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let runc = Runc { binary: config.runtime.clone(), root: config.state_dir.join("runc") };
        let version = runc.version()?;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1));
        if uid != Some("0") {
            let detail = format!("it runs containers as root, and paas server runs as uid {}", uid.unwrap_or("?"));
            return Err(SandboxError::Runtime { binary: config.runtime, detail });
        }
        let containers = config.state_dir.join("containers");
        for dir in [&runc.root, &containers] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let cgroups =
            if config.cgroups { Cgroups::detect() } else { Cgroups::Unavailable("disabled by configuration".into()) };
        tracing::info!(runtime = %config.runtime.display(), %version, "containers: {}", cgroups.describe());
        // Each node takes its own block of uids, so that containers of two nodes on one host
        // (tests) do not share a uid (RLIMIT_NPROC counts per uid).
        let block =
            config.state_dir.to_string_lossy().bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let uid_base = 100_000 + (block % 4096) * MAX_CONTAINERS;
        Ok(Sandbox(Arc::new(Inner { runc, containers, cgroups, uid_base, uids: Mutex::default() })))
    }

    /// What enforces the limits here (one line, for `paas server`'s start-up log).
    pub fn enforcement(&self) -> String {
        self.0.cgroups.describe()
    }

    /// The runtime binary and its state root.
    pub(crate) fn runc(&self) -> &Runc {
        &self.0.runc
    }

    /// The runtime's state root (`runc --root`).
    pub fn state_root(&self) -> &Path {
        &self.0.runc.root
    }

    /// Kills and deletes every container under the state root and removes every bundle (left by a
    /// `paas server` that crashed): call once at start, before any container runs. Returns how
    /// many containers were removed.
    pub async fn cleanup_stale(&self) -> Result<usize, SandboxError> {
        // The root's folders too: `runc list` was seen to leave out a running one-off's container.
        let mut ids: std::collections::BTreeSet<String> = self.0.runc.list().await?.into_iter().collect();
        if let Ok(entries) = std::fs::read_dir(&self.0.runc.root) {
            ids.extend(entries.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)));
        }
        for id in &ids {
            match self.0.runc.delete(id).await {
                Ok(()) => tracing::info!(container = %id, "previous run: killed and deleted its container"),
                Err(e) => tracing::warn!(container = %id, "cannot delete a stale container: {e}"),
            }
        }
        for pid in self.0.runc.kill_orphaned_runs() {
            tracing::info!(pid, "previous run: killed its `runc run`, which outlived its container");
        }
        let bundles = std::fs::read_dir(&self.0.containers).map_err(io(&self.0.containers))?;
        for bundle in bundles.flatten() {
            let id = bundle.file_name().to_string_lossy().into_owned();
            self.0.cgroups.remove_stale(&id);
            crate::limits::unmount_under(&bundle.path());
            if let Err(e) = std::fs::remove_dir_all(bundle.path()) {
                tracing::warn!(path = %bundle.path().display(), "cannot remove a stale bundle: {e}");
            }
        }
        Ok(ids.len())
    }

    /// A uid of this node's block that no running container has, reserved until every clone of
    /// the returned [`Uid`] is dropped.
    pub fn take_uid(&self) -> Result<Uid, SandboxError> {
        let mut taken = self.0.uids.lock().unwrap_or_else(|e| e.into_inner());
        let uid = (self.0.uid_base..self.0.uid_base + MAX_CONTAINERS)
            .find(|u| !taken.contains(u))
            .ok_or(SandboxError::Full(MAX_CONTAINERS))?;
        taken.insert(uid);
        Ok(Uid(Arc::new(UidGuard { sandbox: self.clone(), uid })))
    }

    /// Writes the bundle of a new container running as `uid` (its id: `paas-<name>-<random>`,
    /// `name` cleaned to runc's alphabet) with a memory cgroup of `plan.memory_bytes` where the
    /// node allows. Nothing runs until [`Container::run`].
    pub fn create(&self, name: &str, uid: &Uid, plan: &Plan) -> Result<Container, SandboxError> {
        if plan.args.is_empty() {
            return Err(SandboxError::Spec("the container has no command".into()));
        }
        let id = format!("{CONTAINER_PREFIX}{}-{}", clean(name), random_suffix());
        let cgroup = self.0.cgroups.create(&id, plan.memory_bytes)?;
        let container = Container {
            bundle: self.0.containers.join(&id),
            id,
            runc: self.0.runc.clone(),
            cgroup,
            terminal: plan.terminal,
            ended: AtomicBool::new(false),
            uid: uid.clone(),
        };
        let placement = Placement {
            dir: &container.bundle,
            hostname: if plan.hostname.is_empty() { &container.id } else { &plan.hostname },
            uid: uid.get(),
            cgroups_path: container.cgroup.as_ref().map(|c| c.runc_path.clone()),
        };
        bundle::write(plan, &placement)?;
        Ok(container)
    }
}

/// A uid reserved for one container or one build (a build's steps share it).
#[derive(Clone)]
pub struct Uid(Arc<UidGuard>);

impl Uid {
    /// The number.
    pub fn get(&self) -> u32 {
        self.0.uid
    }
}

impl std::fmt::Debug for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uid({})", self.0.uid)
    }
}

struct UidGuard {
    sandbox: Sandbox,
    uid: u32,
}

impl Drop for UidGuard {
    fn drop(&mut self) {
        self.sandbox.0.uids.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.uid);
    }
}

/// One container: created by [`Sandbox::create`], started by [`Container::run`]. Dropping it
/// kills and deletes the container (unless runc returned on its own), removes its bundle and
/// cgroup, and gives its uid back when no one else holds it.
pub struct Container {
    id: String,
    runc: Runc,
    bundle: PathBuf,
    cgroup: Option<ContainerCgroup>,
    terminal: Option<(u16, u16)>,
    ended: AtomicBool,
    uid: Uid,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("id", &self.id).field("uid", &self.uid).finish()
    }
}

impl Container {
    /// Starts `runc run` in the foreground: the returned child is runc, whose exit status is the
    /// container's (`128 + n` when killed by signal `n`). stdout and stderr are piped, stdin too
    /// when `stdin` (else `/dev/null`). A container whose plan asks for a terminal is started
    /// with [`Container::run_on_terminal`] instead. Killing the child does not kill the
    /// container: [`Container::kill`] or drop does.
    pub fn run(&self, stdin: bool) -> Result<Child, SandboxError> {
        if self.terminal.is_some() {
            return Err(SandboxError::Spec("the container has a terminal: start it with run_on_terminal".into()));
        }
        self.runc.run(&self.bundle, &self.id, stdin)
    }

    /// As [`Container::run`] for a plan with a terminal: runc runs on a pty of the plan's size
    /// and relays the container's terminal to it; the [`Terminal`] is its host end (the
    /// process's output, echo included, to read; what is typed, to write). runc's own errors go
    /// to the child's piped stderr.
    pub fn run_on_terminal(&self) -> Result<(Child, Terminal), SandboxError> {
        let Some((rows, cols)) = self.terminal else {
            return Err(SandboxError::Spec("the container has no terminal: start it with run".into()));
        };
        self.runc.run_on_terminal(&self.bundle, &self.id, rows, cols)
    }

    /// `runc run` as a command whose standard streams the caller sets (no terminal): the
    /// container's process writes to them directly (e.g. one pipe for stdout and stderr, in
    /// order). Its exit status is the container's; it is killed if dropped, not the container.
    pub fn command(&self) -> tokio::process::Command {
        self.runc.run_command(&self.bundle, &self.id)
    }

    /// The container's id (as `runc list` shows it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container's uid.
    pub fn uid(&self) -> u32 {
        self.uid.get()
    }

    /// Sends `signal` (`TERM`, `KILL`) to every process of the container.
    pub async fn kill(&self, signal: &str) -> Result<(), SandboxError> {
        self.runc.kill(&self.id, signal).await
    }

    /// Kills every process and removes the container now (drop does it too, blocking).
    pub async fn delete(&self) -> Result<(), SandboxError> {
        let deleted = self.runc.delete(&self.id).await;
        if deleted.is_ok() {
            self.ended.store(true, Ordering::Release);
        }
        deleted
    }

    /// Records that runc returned on its own (it then deleted the container itself).
    pub fn ended(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Whether the container has a memory cgroup (else rlimits stand in).
    pub fn has_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// The memory counters, when the container has a memory cgroup.
    pub fn memory_events(&self) -> MemoryEvents {
        self.cgroup.as_ref().map(ContainerCgroup::events).unwrap_or_default()
    }

    /// The container's own memory now (anonymous memory and swap), 0 without a cgroup.
    pub fn own_memory(&self) -> u64 {
        self.cgroup.as_ref().map_or(0, ContainerCgroup::own_memory)
    }

    /// The CPU time its processes have used so far, in nanoseconds (`None` without a cgroup
    /// that counts it).
    pub fn cpu_nanos(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(ContainerCgroup::cpu_nanos)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.ended.load(Ordering::Acquire) {
            self.runc.delete_now(&self.id);
        }
        crate::limits::unmount_under(&self.bundle);
        if let Err(e) = std::fs::remove_dir_all(&self.bundle)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.bundle.display(), "cannot remove a container's bundle: {e}");
        }
    }
}

/// A name made of characters runc accepts in ids (`[A-Za-z0-9_.-]`).
fn clean(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// 8 hex digits that differ between containers.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
    format!("{:08x}", hasher.finish() as u32)
}
