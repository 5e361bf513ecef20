//! paas-runtime: runs dynos. One wasmtime `Engine` per process, WebAssembly component dynos (web
//! dynos serving `wasi:http`, worker and one-off dynos running `wasi:cli/run`), per-dyno
//! ephemeral filesystems, limits, and log capture.
//!
//! ```text
//! Runtime::new(RuntimeConfig)            one engine, .cwasm cache, epoch ticker
//!   .load_component(path) -> Component   checked, compiled once, pre-instantiated
//! WebDyno::start(&rt, &c, DynoSpec)      .handle(hyper::Request) -> Response, .stop()
//! CommandDyno::start(&rt, &c, spec, args, stdin)   .wait() -> ExitStatus, .stop()
//! run_oneoff(&rt, &c, spec, args, stdin) -> ExitStatus
//! NativeRuntime::new(NativeConfig)       native dynos under runc (see `native`)
//! NativeDyno::start(&nrt, spec, command, stdin)   .wait_for_port, .wait, .stop
//! LogSink::channel(n) -> (sink, Receiver<LogLine>)
//! ```

mod attach;
mod cache;
mod command;
mod component;
mod cpu;
mod dyno;
mod engine;
mod error;
mod fs;
mod host;
mod lanes;
mod limits;
mod logs;
mod native;
mod outbound;
mod permits;
mod slots;
mod web;

pub use attach::{ATTACHED_BUFFER, AttachedOutput, AttachedReader, attached_output};
pub use cache::CacheOutcome;
pub use command::{CommandDyno, ExitStatus, STOP_FILE, WasmUsage, run_oneoff};
pub use component::{Component, ComponentKind};
pub use cpu::CpuTime;
pub use dyno::{
    DynoSpec, INSTANCE_MAX_REQUESTS_VAR, INSTANCE_REUSE_VAR, MAX_REQUESTS_PER_INSTANCE, NetworkPolicy, READY_INSTANCES, Stdin,
};
pub use engine::{KEEP_RESIDENT, MAX_COMPONENT_SIZE, Runtime, RuntimeConfig, WARM_SLOTS};
pub use error::{HandleError, LoadError, RuntimeError, SlugComponentError, StartError};
pub use lanes::{BACKGROUND_NICE, CPU_SLICE};
pub use limits::{DynoSize, Limits, MAX_RESOURCES};
pub use slots::{MAX_INSTANCES_PER_APP, MAX_MEMORY_PER_APP};
pub use logs::{LogLine, LogSink, LogStreamKind, MAX_LINE_BYTES};
pub use outbound::AppsRoute;
pub use native::{
    BootError, CONTAINER_PREFIX, NativeConfig, NativeDyno, NativeError, NativeRuntime, NativeStdio, UsageProbe, free_port,
    run_native_oneoff,
};
pub use web::{BodyError, ResponseBody, WebDyno, error_response};
