//! Dyno sizes and the resource limits each one gets: memory per instance, wall-clock deadlines,
//! table and instance counts, live resources (fds, streams) per instance, the `/tmp` quota.

use std::time::Duration;

use std::sync::Arc;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use crate::engine::Runtime;
use crate::slots::AppShare;

const MIB: usize = 1024 * 1024;

/// Heroku-style dyno size. Each size maps to a set of [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DynoSize {
    /// 128 MiB of linear memory per instance.
    #[default]
    Basic,
    /// 512 MiB of linear memory per instance.
    Standard,
    /// 2 GiB of linear memory per instance.
    Performance,
}

impl DynoSize {
    /// The default limits for this size.
    pub fn limits(self) -> Limits {
        let memory_bytes = match self {
            DynoSize::Basic => 128 * MIB,
            DynoSize::Standard => 512 * MIB,
            DynoSize::Performance => 2048 * MIB,
        };
        // `/tmp` holds as much as memory, as the tmpfs at `/tmp` of a native dyno of the size.
        Limits {
            memory_bytes,
            tmp_bytes: memory_bytes,
            cpu_millis: self.cpu_millis(),
            io: self.io_limits(),
            ..Limits::default()
        }
    }

    /// How many processes and threads a native dyno of this size may have (Heroku's numbers).
    pub fn max_processes(self) -> u32 {
        match self {
            DynoSize::Basic => 256,
            DynoSize::Standard => 512,
            DynoSize::Performance => 16_384,
        }
    }

    /// The CPU a native dyno of this size may use, in thousandths of a core (cgroup v2
    /// `cpu.max`, v1 `cpu.cfs_quota_us` over a 100 ms period): basic one core, standard two,
    /// performance eight. (Wasm dynos have the background lane instead: see `lanes.rs`.)
    pub fn cpu_millis(self) -> u64 {
        match self {
            DynoSize::Basic => 1000,
            DynoSize::Standard => 2000,
            DynoSize::Performance => 8000,
        }
    }

    /// The block-I/O limits of a native dyno of this size, on each disk it reads or writes
    /// (cgroup v2 `io.max`, v1 `blkio.throttle.*`): basic 64 MiB/s and 2,000 operations/s each
    /// way, standard twice that, performance eight times.
    pub fn io_limits(self) -> paas_sandbox::IoLimits {
        let times = match self {
            DynoSize::Basic => 1,
            DynoSize::Standard => 2,
            DynoSize::Performance => 8,
        };
        let (bps, iops) = (times * 64 * MIB as u64, times * 2000);
        paas_sandbox::IoLimits { read_bps: bps, write_bps: bps, read_iops: iops, write_iops: iops }
    }

    /// The size's name as the platform spells it (`basic`, `standard`, `performance`).
    pub fn as_str(self) -> &'static str {
        match self {
            DynoSize::Basic => "basic",
            DynoSize::Standard => "standard",
            DynoSize::Performance => "performance",
        }
    }
}

impl std::str::FromStr for DynoSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(DynoSize::Basic),
            "standard" => Ok(DynoSize::Standard),
            "performance" => Ok(DynoSize::Performance),
            other => Err(format!("unknown dyno size `{other}` (expected basic, standard or performance)")),
        }
    }
}

/// Resource limits of one dyno. Memory and table limits apply to each instance (store); the
/// deadlines are enforced with epoch interruption (busy guests) and a host timer (waiting guests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory per instance, in bytes. Growing past it traps the instance.
    pub memory_bytes: usize,
    /// Wall-clock deadline of one web request, from instantiation (or pick-up of a reused
    /// instance) to the return of the guest's handler. Default 30 s, as Heroku's router.
    pub request_timeout: Duration,
    /// Wall-clock deadline of a worker or one-off run; `None` runs until it exits or is stopped.
    pub run_timeout: Option<Duration>,
    /// Maximum core instances per store.
    pub instances: usize,
    /// Maximum tables per store.
    pub tables: usize,
    /// Maximum elements per table.
    pub table_elements: usize,
    /// Maximum live host resources of one instance (open files and directories, streams,
    /// pollables, HTTP requests and fields, sockets): the capacity of its `ResourceTable`. One
    /// more traps the instance with "resource table has no free keys". See [`MAX_RESOURCES`].
    pub resources: usize,
    /// Bytes a dyno may write to its scratch: a wasm dyno's `/tmp`, a native dyno's `/app` (the
    /// writable layer over the slug). Each is a tmpfs of this size: a write past it fails with
    /// ENOSPC (`insufficient-space` in `wasi:filesystem`). Default: the size's memory.
    pub tmp_bytes: usize,
    /// Native dynos: the CPU they may use, in thousandths of a core. See [`DynoSize::cpu_millis`].
    pub cpu_millis: u64,
    /// Native dynos: block-I/O limits. See [`DynoSize::io_limits`].
    pub io: paas_sandbox::IoLimits,
}

/// Default [`Limits::resources`]: 1,024 live resources per instance, the classic `ulimit -n`.
/// Every open file of a guest is one host file descriptor; a hello-world request uses about 10
/// entries (request, fields, body, streams, outparam), a busy one tens.
pub const MAX_RESOURCES: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 * MIB,
            request_timeout: Duration::from_secs(30),
            run_timeout: None,
            instances: 64,
            tables: 64,
            table_elements: 100_000,
            resources: MAX_RESOURCES,
            tmp_bytes: 128 * MIB,
            cpu_millis: DynoSize::Basic.cpu_millis(),
            io: DynoSize::Basic.io_limits(),
        }
    }
}

impl Limits {
    /// The `StoreLimits` a store of this dyno is created with; exceeding memory traps.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .instances(self.instances)
            .tables(self.tables)
            .table_elements(self.table_elements)
            .trap_on_grow_failure(true)
            .build()
    }
}

/// The limiter of one instance's store: the dyno's own limits ([`StoreLimits`]), then its app's
/// memory share: growing past it first makes the app's least recently used idle instances give
/// their memory back, then traps with [`AppMemoryExceeded`]. What it took goes back when the
/// store is dropped.
pub(crate) struct DynoLimiter {
    instance: StoreLimits,
    share: Arc<AppShare>,
    runtime: Runtime,
    app: Arc<str>,
    /// Bytes of the app's share this store holds.
    held: usize,
    /// The linear memory of the dyno's instances (this store's `held` is part of it).
    dyno_memory: Arc<std::sync::atomic::AtomicUsize>,
}

/// The trap of an instance growing its memory past its app's share.
#[derive(Debug, thiserror::Error)]
#[error("the app's instances together would hold more than {} MiB of memory", .limit_bytes >> 20)]
pub(crate) struct AppMemoryExceeded {
    pub limit_bytes: usize,
}

impl DynoLimiter {
    pub fn new(
        instance: StoreLimits,
        share: Arc<AppShare>,
        runtime: Runtime,
        app: Arc<str>,
        dyno_memory: Arc<std::sync::atomic::AtomicUsize>,
    ) -> DynoLimiter {
        DynoLimiter { instance, share, runtime, app, held: 0, dyno_memory }
    }
}

impl ResourceLimiter for DynoLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if !self.instance.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        let more = desired.saturating_sub(current);
        loop {
            if self.share.reserve(more) {
                self.held += more;
                self.dyno_memory.fetch_add(more, std::sync::atomic::Ordering::Relaxed);
                return Ok(true);
            }
            if !self.runtime.release_idle_instance_of(Some(&self.app)) {
                return Err(AppMemoryExceeded { limit_bytes: self.share.memory_max() }.into());
            }
        }
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.instance.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.instance.instances()
    }

    fn tables(&self) -> usize {
        self.instance.tables()
    }

    fn memories(&self) -> usize {
        self.instance.memories()
    }
}

impl Drop for DynoLimiter {
    fn drop(&mut self) {
        self.share.release(self.held);
        self.dyno_memory.fetch_sub(self.held, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_heroku_like_memory() {
        assert_eq!(DynoSize::Basic.limits().memory_bytes, 128 * MIB);
        assert_eq!(DynoSize::Standard.limits().memory_bytes, 512 * MIB);
        assert_eq!(DynoSize::Performance.limits().memory_bytes, 2048 * MIB);
        assert_eq!(DynoSize::Basic.limits().request_timeout, Duration::from_secs(30));
        assert_eq!(DynoSize::Standard.limits().tmp_bytes, 512 * MIB);
    }

    #[test]
    fn sizes_parse_from_their_names() {
        for size in [DynoSize::Basic, DynoSize::Standard, DynoSize::Performance] {
            assert_eq!(size.as_str().parse::<DynoSize>(), Ok(size));
        }
        assert_eq!(
            "huge".parse::<DynoSize>(),
            Err("unknown dyno size `huge` (expected basic, standard or performance)".to_string())
        );
    }
}
