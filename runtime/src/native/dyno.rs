//! One running native dyno: its container (bundle, memory cgroup, uid, runc process), the task
//! that forwards its output to the logs and waits for its exit, memory events turned into R14
//! and R15 lines, booting (`$PORT` accepting), and stopping (SIGTERM to every process, SIGKILL
//! after the grace period).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use paas_sandbox::net::NetLease;
use paas_sandbox::{Container as SandboxContainer, Mount, Network, Plan};

use super::{DEFAULT_PATH, NativeError, NativeRuntime};
use crate::command::ExitStatus;
use crate::dyno::{DynoSpec, Stdin};
use crate::logs::{GuestOutput, LogSource, LogStreamKind};

/// How often a running dyno's memory cgroup is looked at (R14).
const MEMORY_POLL: Duration = Duration::from_secs(1);
/// The shortest time between two R14 lines of one dyno.
const R14_EVERY: Duration = Duration::from_secs(20);
/// How long output may still arrive after the container's exit.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// A native web dyno that did not come up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootError {
    /// Nothing accepted on `$PORT` in time (R10); the dyno is still running.
    #[error("Error R10 (Boot timeout) -> Web process failed to bind to $PORT within {} seconds of launch", .0.as_secs())]
    Timeout(Duration),
    /// The process ended before binding.
    #[error("the process exited before binding to $PORT")]
    Exited,
}

/// The raw streams of an attached native dyno (`paas run`): pipes, or on a terminal the pty's
/// host end (stdin and stdout) and runc's own errors (stderr).
pub struct NativeStdio {
    /// The process's standard input (dropping it closes it; on a terminal, typed bytes).
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    /// Its standard output (on a terminal, the terminal's output: stdout, stderr and echo).
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    /// Its standard error (on a terminal, only runc's own errors).
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
}

/// A running native dyno.
pub struct NativeDyno {
    container: Arc<Container>,
    task: JoinHandle<ExitStatus>,
    addr: SocketAddr,
}

/// A dyno's container (undone when dropped: see [`SandboxContainer`]) and what its logs need.
struct Container {
    sandbox: SandboxContainer,
    log: LogSource,
    memory_bytes: u64,
    /// A stop was asked for (a SIGKILL is then not a memory kill).
    stopping: AtomicBool,
    /// Its network namespace (given back after the container is deleted: fields drop in order).
    lease: Option<NetLease>,
}

/// Reads what a native dyno uses while it runs: its cgroup's memory and CPU time.
#[derive(Clone)]
pub struct UsageProbe(Arc<Container>);

impl UsageProbe {
    /// Bytes of memory now: anonymous memory and swap (0 without a memory cgroup).
    pub fn bytes(&self) -> u64 {
        self.0.sandbox.own_memory()
    }

    /// CPU seconds its processes have used (user and system), from its cgroup's CPU
    /// accounting; `None` where the node has none.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.0.sandbox.cpu_nanos().map(|ns| ns as f64 / 1e9)
    }
}

impl NativeDyno {
    /// What it uses, readable after the dyno is handed to a watcher.
    pub fn usage_probe(&self) -> UsageProbe {
        UsageProbe(self.container.clone())
    }

    /// Starts `command` in a new container; its output goes to `spec.logs` line by line, `stdin`
    /// feeds its standard input. `spec.port` is its `$PORT` (see [`free_port`]).
    pub fn start(
        native: &NativeRuntime,
        spec: DynoSpec,
        command: &str,
        stdin: Stdin,
    ) -> Result<NativeDyno, NativeError> {
        let feed = !matches!(stdin, Stdin::Empty);
        let (container, mut child, _) = Container::create(native, &spec, command, feed, None)?;
        if let Some(mut pipe) = child.stdin.take() {
            tokio::spawn(async move {
                let result = match stdin {
                    Stdin::Empty => Ok(()),
                    Stdin::Bytes(bytes) => pipe.write_all(&bytes).await,
                    Stdin::Reader(mut reader) => tokio::io::copy(&mut reader, &mut pipe).await.map(drop),
                };
                if let Err(e) = result {
                    tracing::debug!("stdin of a native dyno closed early: {e}");
                }
            });
        }
        let output = [
            child.stdout.take().map(|out| forward(out, &container.log, LogStreamKind::Stdout)),
            child.stderr.take().map(|err| forward(err, &container.log, LogStreamKind::Stderr)),
        ];
        let task = tokio::spawn(watch(container.clone(), child, output.into_iter().flatten().collect()));
        let addr = container.addr(spec.port);
        Ok(NativeDyno { container, task, addr })
    }

    /// Starts `command` in a new container with its standard streams handed to the caller (a
    /// one-off dyno attached to `paas run`); only runtime lines go to `spec.logs`.
    pub fn attach(
        native: &NativeRuntime,
        spec: DynoSpec,
        command: &str,
    ) -> Result<(NativeDyno, NativeStdio), NativeError> {
        Self::attached(native, spec, command, None)
    }

    /// As [`NativeDyno::attach`], on a pseudo-terminal of `rows` × `cols` (a one-off attached
    /// from a terminal: `paas run bash`): runc allocates it and relays it to a pty of ours
    /// ([`paas_sandbox::Terminal`]), so `stdin` is typed into it, `stdout` carries the
    /// terminal's output (the process's stdout and stderr, echo included) and `stderr` only
    /// runc's own errors. `TERM` is `xterm` unless a config var sets it. The
    /// size is fixed at start (no resize yet).
    pub fn attach_tty(
        native: &NativeRuntime,
        mut spec: DynoSpec,
        command: &str,
        rows: u16,
        cols: u16,
    ) -> Result<(NativeDyno, NativeStdio), NativeError> {
        spec.env.entry("TERM".into()).or_insert_with(|| "xterm".into());
        Self::attached(native, spec, command, Some((rows, cols)))
    }

    fn attached(
        native: &NativeRuntime,
        spec: DynoSpec,
        command: &str,
        terminal: Option<(u16, u16)>,
    ) -> Result<(NativeDyno, NativeStdio), NativeError> {
        let (container, mut child, pty) = Container::create(native, &spec, command, true, terminal)?;
        let stdio = match (pty, child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(pty), _, _, Some(stderr)) => {
                let (stdout, stdin) = tokio::io::split(pty);
                NativeStdio { stdin: Box::new(stdin), stdout: Box::new(stdout), stderr: Box::new(stderr) }
            }
            (None, Some(stdin), Some(stdout), Some(stderr)) => {
                NativeStdio { stdin: Box::new(stdin), stdout: Box::new(stdout), stderr: Box::new(stderr) }
            }
            _ => return Err(NativeError::Spec("the runtime's standard streams are not pipes".into())),
        };
        let task = tokio::spawn(watch(container.clone(), child, Vec::new()));
        let addr = container.addr(spec.port);
        Ok((NativeDyno { container, task, addr }, stdio))
    }

    /// The container's id (as `runc list` shows it).
    pub fn container_id(&self) -> &str {
        self.container.sandbox.id()
    }

    /// Where the router reaches `$PORT`: `<the dyno's address>:$PORT` in its network namespace
    /// (`127.0.0.1:$PORT` on the host's network).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the process has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until something accepts connections on [`NativeDyno::addr`], the process ends, or
    /// `timeout` passes (R10, logged; the dyno keeps running: stop it).
    pub async fn wait_for_port(&self, timeout: Duration) -> Result<(), BootError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.task.is_finished() {
                return Err(BootError::Exited);
            }
            let attempt = tokio::time::timeout(Duration::from_millis(250), tokio::net::TcpStream::connect(self.addr));
            if let Ok(Ok(_)) = attempt.await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let error = BootError::Timeout(timeout);
                self.container.log.runtime_line(error.to_string());
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to end.
    pub async fn wait(self) -> ExitStatus {
        join(self.task).await
    }

    /// SIGTERM to every process of the dyno; SIGKILL to all after `grace` if they did not exit.
    pub async fn stop(mut self, grace: Duration) -> ExitStatus {
        let container = self.container.clone();
        container.stopping.store(true, Ordering::Release);
        if let Err(e) = container.sandbox.kill("TERM").await {
            tracing::debug!(container = %container.sandbox.id(), "SIGTERM: {e}");
        }
        if let Ok(joined) = tokio::time::timeout(grace, &mut self.task).await {
            return joined.unwrap_or_else(|e| ExitStatus::Trapped(format!("host task failed: {e}")));
        }
        container.log.runtime_line("Stopping process with SIGKILL");
        if let Err(e) = container.sandbox.kill("KILL").await {
            tracing::debug!(container = %container.sandbox.id(), "SIGKILL: {e}");
        }
        if tokio::time::timeout(OUTPUT_DRAIN + Duration::from_secs(3), &mut self.task).await.is_err() {
            // runc itself is stuck: dropping the task kills it; the container is deleted on drop.
            self.task.abort();
        }
        ExitStatus::Stopped
    }
}

impl Container {
    /// Where `port` of the container is reached from the node: its namespace's address, or
    /// loopback on the host's network.
    fn addr(&self, port: u16) -> SocketAddr {
        let ip = self.lease.as_ref().and_then(NetLease::address).unwrap_or(Ipv4Addr::LOCALHOST);
        SocketAddr::V4(SocketAddrV4::new(ip, port))
    }

    fn create(
        native: &NativeRuntime,
        spec: &DynoSpec,
        command: &str,
        stdin: bool,
        terminal: Option<(u16, u16)>,
    ) -> Result<(Arc<Container>, tokio::process::Child, Option<paas_sandbox::Terminal>), NativeError> {
        if spec.app.is_empty() || spec.dyno.is_empty() || command.trim().is_empty() {
            return Err(NativeError::Spec("app, dyno and command must not be empty".into()));
        }
        if let Some(dir) = &spec.app_dir
            && !dir.is_dir()
        {
            return Err(NativeError::Spec(format!("app directory `{}` is not a directory", dir.display())));
        }
        let uid = native.sandbox.take_uid()?;
        let limits = spec.effective_limits();
        let memory_bytes = limits.memory_bytes as u64;
        let mut env = spec.environment();
        for (name, value) in [("PATH", DEFAULT_PATH), ("LANG", "C.UTF-8")] {
            if !env.iter().any(|(k, _)| k == name) {
                env.push((name.into(), value.into()));
            }
        }
        let name = format!("{}-{}", spec.app, spec.dyno);
        let mut lease = native.network.as_ref().map(|network| network.attach(&name)).transpose()?;
        // The app's add-ons, and nothing else of the node (dropping the lease takes them back).
        if let Some(lease) = lease.as_mut() {
            lease.grant(&spec.network.services)?;
        }
        let plan = Plan {
            hostname: String::new(),
            args: shell(command),
            env,
            cwd: "/app".into(),
            user: "dyno".into(),
            home: "/app".into(),
            mounts: vec![Mount::Overlay {
                lower: spec.app_dir.clone(),
                destination: "/app".into(),
                quota_bytes: Some(limits.tmp_bytes as u64),
            }],
            memory_bytes,
            processes: spec.size.max_processes(),
            cpu_millis: Some(limits.cpu_millis),
            io: Some(limits.io),
            network: lease.as_ref().map_or(Network::Host, NetLease::plan_network),
            terminal,
        };
        let sandbox = native.sandbox.create(&name, &uid, &plan)?;
        let (child, pty) = match terminal {
            Some(_) => sandbox.run_on_terminal().map(|(child, pty)| (child, Some(pty)))?,
            None => (sandbox.run(stdin)?, None),
        };
        let log = LogSource { app: spec.app.as_str().into(), dyno: spec.dyno.as_str().into(), sink: spec.logs.clone() };
        let container = Arc::new(Container { sandbox, log, memory_bytes, stopping: AtomicBool::new(false), lease });
        Ok((container, child, pty))
    }
}

/// Waits for runc to return (logging R14 while the dyno's own memory, swap included, is over
/// its quota: possible only where the node swaps), lets the output drain, logs R15 for a memory
/// kill and the exit.
async fn watch(container: Arc<Container>, mut child: tokio::process::Child, output: Vec<JoinHandle<()>>) -> ExitStatus {
    let mut last_r14: Option<Instant> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            () = tokio::time::sleep(MEMORY_POLL) => {
                let used = container.sandbox.own_memory();
                if used > container.memory_bytes && last_r14.is_none_or(|t| t.elapsed() >= R14_EVERY) {
                    container.log.runtime_line(format!(
                        "Error R14 (Memory quota exceeded): {} MiB of {} MiB",
                        used >> 20,
                        container.memory_bytes >> 20
                    ));
                    last_r14 = Some(Instant::now());
                }
            }
        }
    };
    container.sandbox.ended();
    for task in output {
        let _ = tokio::time::timeout(OUTPUT_DRAIN, task).await;
    }
    let code = match status {
        Ok(status) => {
            status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(9))
        }
        Err(e) => {
            container.log.runtime_line(format!("cannot wait for the container runtime: {e}"));
            return ExitStatus::Trapped(e.to_string());
        }
    };
    let memory = container.sandbox.memory_events();
    let stopping = container.stopping.load(Ordering::Acquire);
    if memory.oom_kills > 0 || (code == 137 && !stopping && memory.limit_hits > 0) {
        container.log.runtime_line(format!(
            "Error R15 (Memory quota vastly exceeded): the process used its {} MiB and was killed",
            container.memory_bytes >> 20
        ));
    }
    container.log.runtime_line(format!("Process exited with status {code}"));
    ExitStatus::Exited(code)
}

/// Sends one of the process's output streams to the logs, line by line.
fn forward(stream: impl AsyncRead + Unpin + Send + 'static, log: &LogSource, kind: LogStreamKind) -> JoinHandle<()> {
    let mut sink = GuestOutput::new(log.clone(), kind);
    tokio::spawn(async move {
        let mut stream = stream;
        if let Err(e) = tokio::io::copy(&mut stream, &mut sink).await {
            tracing::debug!("output of a native dyno: {e}");
        }
    })
}

async fn join(task: JoinHandle<ExitStatus>) -> ExitStatus {
    task.await.unwrap_or_else(|e| ExitStatus::Trapped(format!("host task failed: {e}")))
}

/// Runs `command` once in a native dyno, output to `spec.logs`: [`NativeDyno::start`] then
/// [`NativeDyno::wait`] (the shape of [`run_oneoff`](crate::run_oneoff)).
pub async fn run_native_oneoff(
    native: &NativeRuntime,
    spec: DynoSpec,
    command: &str,
    stdin: Stdin,
) -> Result<ExitStatus, NativeError> {
    Ok(NativeDyno::start(native, spec, command, stdin)?.wait().await)
}

/// A port free on loopback now, for a web dyno's `$PORT`, and not one of the last 4096 this
/// process handed out (two dynos starting at once must not both get a port
/// neither has bound yet). Another process could still take it before the dyno binds it; the
/// dyno then fails to bind and crashes, and its restart gets another.
pub fn free_port() -> std::io::Result<u16> {
    static RECENT: std::sync::Mutex<std::collections::VecDeque<u16>> =
        std::sync::Mutex::new(std::collections::VecDeque::new());
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..64 {
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        if !recent.contains(&port) {
            if recent.len() == RECENT_PORTS {
                recent.pop_front();
            }
            recent.push_back(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no loopback port free that was not just handed out"))
}

/// How many recently handed-out ports [`free_port`] avoids.
const RECENT_PORTS: usize = 4096;


/// `bash -c` with the app's `.profile.d` scripts sourced first, as on Heroku. bash stays the
/// container's PID 1 (the trailing `exit` keeps it from exec'ing the command): a namespace's init
/// ignores signals it has no handler for, so the app itself must not be PID 1, or SIGTERM would
/// not stop it.
fn shell(command: &str) -> Vec<String> {
    let script = format!("for f in /app/.profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done; unset f\n{command}\nexit $?");
    vec!["/bin/bash".into(), "-c".into(), script]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_not_handed_out_twice() {
        let ports: std::collections::HashSet<u16> = (0..200).map(|_| free_port().unwrap()).collect();
        assert_eq!(ports.len(), 200);
    }

    #[test]
    fn the_app_is_never_pid_1_and_profile_d_is_sourced() {
        let args = shell("gunicorn app:app");
        assert_eq!(args[..2], ["/bin/bash", "-c"]);
        assert!(args[2].starts_with("for f in /app/.profile.d/*.sh;"), "{args:?}");
        assert!(args[2].ends_with("\ngunicorn app:app\nexit $?"), "{args:?}");
    }
}
