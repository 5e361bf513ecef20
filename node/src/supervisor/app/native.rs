//! Native process types in the supervisor: starting a native dyno (a web one on a free port, up
//! once `<its address>:$PORT` accepts, R10 after the boot timeout), watching it until it exits
//! (crash, restart with backoff) or is stopped (SIGTERM, grace, SIGKILL), and its route (a
//! `paas_router::TcpBackend`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{AppRun, Run, Shared};
use paas_runtime::{BootError, DynoSpec, NativeDyno, Stdin, free_port};
use crate::supervisor::{AppSpec, ProcessSpec, Program};

/// The message of a native process type on a node without a container runtime.
pub const NATIVE_UNSUPPORTED: &str = "native dynos are not enabled on this node (paas server runs them with runc: install it or pass --container-runtime)";

/// A running native dyno as the supervisor holds it.
pub(super) struct NativeRun {
    /// The stop request (with its grace) to the watcher.
    pub stop: oneshot::Sender<Duration>,
    /// The watcher task.
    pub task: JoinHandle<()>,
    /// A web dyno's route: its `$PORT` at its network namespace's address (loopback on the
    /// host's network), with the router's pool of keep-alive connections to it, made once so
    /// that republishing the app's routes keeps the connections.
    pub route: Option<paas_router::TcpBackend>,
    /// Its memory and CPU time, for `ps` and the metrics.
    pub usage: paas_runtime::UsageProbe,
}

impl AppRun {
    /// Starts the native dyno `name` running `command`; a web dyno is returned once it accepts
    /// on its port. The error is the crash reason (empty when the dyno logged it already).
    pub(super) async fn start_native(
        &mut self,
        shared: &Arc<Shared>,
        name: &str,
        command: &str,
        spec: &AppSpec,
        process: &ProcessSpec,
    ) -> Result<Run, String> {
        let Some(native) = shared.config.native.clone() else { return Err(NATIVE_UNSUPPORTED.to_string()) };
        let mut dyno_spec = DynoSpec::new(&self.name, name);
        dyno_spec.env = spec.env.clone();
        dyno_spec.size = process.size;
        dyno_spec.app_dir = Some(spec.app_dir.clone());
        dyno_spec.logs = shared.logs.clone();
        dyno_spec.network.services = spec.services.clone();
        let is_web = name.starts_with("web.");
        if is_web {
            dyno_spec.port = free_port().map_err(|e| format!("no free port for $PORT: {e}"))?;
        }
        let dyno = NativeDyno::start(&native, dyno_spec, command, Stdin::Empty).map_err(|e| e.to_string())?;
        if is_web {
            match dyno.wait_for_port(shared.config.boot_timeout).await {
                Ok(()) => {}
                Err(BootError::Timeout(_)) => {
                    // R10 is logged; Heroku kills such a dyno at once.
                    dyno.stop(Duration::ZERO).await;
                    return Err(String::new());
                }
                Err(BootError::Exited) => {
                    dyno.wait().await;
                    return Err(String::new());
                }
            }
        }
        let route = is_web.then(|| paas_router::TcpBackend::new(dyno.addr()));
        let usage = dyno.usage_probe();
        let (stop, task) = watch(shared, self.name.clone(), name.to_string(), self.next_generation, dyno, is_web);
        Ok(Run::Native(NativeRun { stop, task, route, usage }))
    }

    /// A component that cannot run: its process's native command runs instead when it has one
    /// and this node runs native dynos; otherwise the dyno crashed of `reason`.
    pub(super) async fn fall_back_or_crash(
        &mut self,
        shared: &Arc<Shared>,
        name: &str,
        reason: String,
        spec: &AppSpec,
        process: &ProcessSpec,
    ) {
        let command = match &process.program {
            Program::Wasm { native_fallback: Some(command), .. } if shared.config.native.is_some() => command,
            _ => return self.crashed(shared, name, reason, true),
        };
        shared.log(
            &self.name,
            name,
            format!("The component cannot run ({reason}); running the native command `{command}` instead"),
        );
        match self.start_native(shared, name, command, spec, process).await {
            Ok(run) => self.up(shared, name, run, spec.release),
            Err(reason) => self.crashed(shared, name, reason, true),
        }
    }
}

/// Waits for the dyno to exit (a crash: restarted after the backoff) or to be asked to stop (a
/// web dyno first drains: requests that picked it from the previous route still reach it).
fn watch(
    shared: &Arc<Shared>,
    app: String,
    name: String,
    generation: u64,
    dyno: NativeDyno,
    is_web: bool,
) -> (oneshot::Sender<Duration>, JoinHandle<()>) {
    let (stop_tx, mut stop_rx) = oneshot::channel::<Duration>();
    let weak = Arc::downgrade(shared);
    let drain = shared.config.drain;
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                grace = &mut stop_rx => {
                    // A dropped sender (the app is gone) stops at once.
                    let grace = grace.unwrap_or(Duration::ZERO);
                    if is_web && !grace.is_zero() {
                        tokio::time::sleep(drain).await;
                    }
                    dyno.stop(grace).await;
                    return;
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => if dyno.is_finished() { break },
            }
        }
        dyno.wait().await;
        let Some(shared) = weak.upgrade() else { return };
        if let Some(run) = shared.weak_app(&app) {
            let mut run = run.lock().await;
            if run.dynos.get(&name).is_some_and(|d| d.generation == generation) {
                // The dyno logged how it exited.
                run.crashed(&shared, &name, String::new(), true);
            }
        }
    });
    (stop_tx, task)
}
