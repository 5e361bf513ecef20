//! Worker and one-off dynos: run a `wasi:cli/run` component to completion and give back its
//! exit status. Arguments and stdin can be passed. Stopping asks the guest to exit (the stop file
//! appears in its `/tmp`, as `SIGTERM` would on Heroku) and kills it after a grace period.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use wasmtime_wasi::I32Exit;

use crate::component::{Component, ComponentKind, Pre};
use crate::dyno::{DynoContext, DynoSpec, Stdin};
use crate::engine::Runtime;
use crate::error::{HandleError, StartError, chain};
use crate::web::classify;

/// The file that appears in a worker's `/tmp` when it is asked to stop; its guest path is also
/// given in `$PAAS_STOP_FILE`. Guests that poll for it can shut down cleanly.
pub const STOP_FILE: &str = "/tmp/.paas-stop";

/// How a worker or one-off run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// The guest returned from `run` (0 for `Ok`, 1 for `Err`) or called `exit` with this code.
    Exited(i32),
    /// The guest trapped (panic, out of memory, …).
    Trapped(String),
    /// The run exceeded its deadline (`Limits::run_timeout`).
    TimedOut,
    /// The dyno was stopped and did not exit within the grace period.
    Stopped,
}

impl ExitStatus {
    /// The status as a process exit code: the guest's code, 134 for a trap (as for `SIGABRT`),
    /// 124 for a timeout (as `timeout(1)`), 137 for a kill after stop (as for `SIGKILL`).
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(code) => *code,
            ExitStatus::Trapped(_) => 134,
            ExitStatus::TimedOut => 124,
            ExitStatus::Stopped => 137,
        }
    }

    /// Whether the run exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

/// What a wasm worker or one-off dyno uses, readable while it runs and after.
#[derive(Debug, Clone)]
pub struct WasmUsage {
    memory: Arc<std::sync::atomic::AtomicUsize>,
    cpu: crate::cpu::CpuTime,
}

impl WasmUsage {
    /// Bytes of linear memory its instance holds now (0 once it ended).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.load(std::sync::atomic::Ordering::Relaxed) as u64
    }

    /// CPU time its guest has used.
    pub fn cpu(&self) -> &crate::cpu::CpuTime {
        &self.cpu
    }
}

/// A running worker or one-off dyno.
pub struct CommandDyno {
    ctx: Arc<DynoContext>,
    task: JoinHandle<ExitStatus>,
}

impl CommandDyno {
    /// Starts running `component` (which must export `wasi:cli/run`) with `args` (after
    /// `argv[0]`, which is the dyno's name) and `stdin`.
    pub fn start(
        runtime: &Runtime,
        component: &Component,
        mut spec: DynoSpec,
        args: Vec<String>,
        stdin: Stdin,
    ) -> Result<CommandDyno, StartError> {
        let Pre::Command(pre) = &component.0.pre else {
            return Err(StartError::WrongKind { wanted: ComponentKind::Command, found: component.kind() });
        };
        spec.env.insert("PAAS_STOP_FILE".into(), STOP_FILE.into());
        let ctx = DynoContext::new(runtime, &spec)?;
        let argv: Vec<String> = std::iter::once(spec.dyno.clone()).chain(args).collect();
        let pre = pre.clone();
        let run_ctx = ctx.clone();
        let task = runtime.spawn_guest(&ctx.cpu, async move {
            let ctx = run_ctx;
            let timeout = ctx.limits.run_timeout;
            let run = async {
                // Held for the whole run: the instance counts against the app's share.
                let _slot = ctx.instance_slot().await;
                let mut store = ctx.new_store(&argv, stdin, timeout).map_err(wasmtime::Error::msg)?;
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            };
            let result = match timeout {
                Some(t) => tokio::time::timeout(t, run).await.ok(),
                None => Some(run.await),
            };
            let status = match result {
                None => ExitStatus::TimedOut,
                Some(Ok(Ok(()))) => ExitStatus::Exited(0),
                Some(Ok(Err(()))) => ExitStatus::Exited(1),
                Some(Err(e)) => match e.downcast_ref::<I32Exit>() {
                    Some(exit) => ExitStatus::Exited(exit.0),
                    None => match classify(&e, &ctx.limits) {
                        HandleError::Timeout(_) => ExitStatus::TimedOut,
                        HandleError::MemoryExceeded { .. } => ExitStatus::Trapped(classify(&e, &ctx.limits).to_string()),
                        _ => ExitStatus::Trapped(chain(&e)),
                    },
                },
            };
            log_exit(&ctx, &status);
            status
        });
        Ok(CommandDyno { ctx, task })
    }

    /// The host directory preopened as the dyno's `/tmp`.
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.ctx.scratch_path()
    }

    /// What it uses, read as it runs (for `ps` and the metrics).
    pub fn usage(&self) -> WasmUsage {
        WasmUsage { memory: self.ctx.memory.clone(), cpu: self.ctx.cpu.clone() }
    }

    /// Whether the run has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the run to end, then wipes the dyno's `/tmp`.
    pub async fn wait(self) -> ExitStatus {
        let status = self.task.await.unwrap_or_else(|e| ExitStatus::Trapped(format!("host task failed: {e}")));
        self.ctx.wipe_scratch();
        status
    }

    /// Waits for the run to end, or, if `stop` resolves first, stops it as [`CommandDyno::stop`]
    /// does; wipes the dyno's `/tmp` either way.
    pub async fn wait_or_stop(mut self, stop: impl Future<Output = ()>, grace: Duration) -> ExitStatus {
        tokio::select! {
            joined = &mut self.task => {
                self.ctx.wipe_scratch();
                joined.unwrap_or_else(|e| ExitStatus::Trapped(format!("host task failed: {e}")))
            }
            () = stop => self.stop(grace).await,
        }
    }

    /// Asks the guest to stop (creates [`STOP_FILE`] in its `/tmp`), waits up to `grace`, then
    /// kills it; wipes the dyno's `/tmp` either way.
    pub async fn stop(mut self, grace: Duration) -> ExitStatus {
        let stop_file = self.ctx.scratch_path().join(STOP_FILE.trim_start_matches("/tmp/"));
        if let Err(e) = std::fs::write(&stop_file, b"") {
            tracing::warn!(path = %stop_file.display(), "cannot create the stop file: {e}");
        }
        let status = match tokio::time::timeout(grace, &mut self.task).await {
            Ok(joined) => joined.unwrap_or_else(|e| ExitStatus::Trapped(format!("host task failed: {e}"))),
            Err(_) => {
                self.task.abort();
                let _ = (&mut self.task).await;
                log_exit(&self.ctx, &ExitStatus::Stopped);
                ExitStatus::Stopped
            }
        };
        self.ctx.wipe_scratch();
        status
    }
}

fn log_exit(ctx: &DynoContext, status: &ExitStatus) {
    let line = match status {
        ExitStatus::Trapped(detail) => format!("Process crashed (exit status 134): {detail}"),
        ExitStatus::TimedOut => "Process exceeded its run time limit and was killed (exit status 124)".to_string(),
        ExitStatus::Stopped => "Stopping process with SIGKILL (exit status 137)".to_string(),
        ExitStatus::Exited(code) => format!("Process exited with status {code}"),
    };
    ctx.log.runtime_line(line);
}

/// Runs a one-off dyno to completion: [`CommandDyno::start`] then [`CommandDyno::wait`].
pub async fn run_oneoff(
    runtime: &Runtime,
    component: &Component,
    spec: DynoSpec,
    args: Vec<String>,
    stdin: Stdin,
) -> Result<ExitStatus, StartError> {
    Ok(CommandDyno::start(runtime, component, spec, args, stdin)?.wait().await)
}
