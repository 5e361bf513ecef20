//! Control groups of containers. Each container gets a memory cgroup that paas creates itself,
//! with the container's memory limit, as the parent of the cgroup runc creates (`paas/<id>/dyno`):
//! the OOM killer then acts at the parent, whose counters (limit hits, kills) outlive runc's
//! cgroup, so a memory kill can be told from any other `SIGKILL` (a dyno logs it as R15). The
//! pids and CPU limits are set by runc on its own cgroup.
//!
//! cgroup v1 (hybrid or legacy): runc's relative `cgroupsPath` puts the container under the
//! cgroup of `paas server` in every hierarchy. cgroup v2: under `/paas/<id>` of the unified
//! hierarchy (controllers enabled on the way down). No usable memory hierarchy: no cgroup of our
//! own; the bundle falls back to rlimits (see `bundle.rs`).

use std::path::{Path, PathBuf};

use crate::error::{SandboxError, io};

/// What this node's cgroups allow.
#[derive(Debug, Clone)]
pub(crate) enum Cgroups {
    /// cgroup v1: the directories of this process's cgroup in each hierarchy (memory first),
    /// and in the one with the `cpuacct` controller (CPU time), if mounted.
    V1 { memory: PathBuf, all: Vec<PathBuf>, cpuacct: Option<PathBuf> },
    /// cgroup v2: the unified hierarchy's mount point.
    V2 { root: PathBuf },
    /// No memory cgroup can be created here, and why.
    Unavailable(String),
}

/// The memory cgroup of one container.
#[derive(Debug)]
pub(crate) struct ContainerCgroup {
    dir: PathBuf,
    v2: bool,
    /// runc's intermediate directories (`paas/<id>` in each v1 hierarchy), removed with it.
    intermediates: Vec<PathBuf>,
    /// The file that counts the container's CPU time: `cpu.stat` (v2, `usage_usec`) or the
    /// `cpuacct` hierarchy's `paas/<id>/cpuacct.usage` (v1, nanoseconds). Both are the parent of
    /// runc's cgroup, so they count every process of the container and outlive runc's cgroup.
    cpu_file: Option<PathBuf>,
    /// `cgroupsPath` for runc.
    pub runc_path: String,
}

/// What the memory cgroup observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryEvents {
    /// How often the usage hit the limit (reclaim or OOM followed).
    pub limit_hits: u64,
    /// OOM kills counted by the kernel (cgroup v2 only: v1 counts them in runc's cgroup).
    pub oom_kills: u64,
}

impl Cgroups {
    /// Finds this process's cgroups and checks that a memory cgroup can be created under them.
    pub fn detect() -> Cgroups {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let found = v1_dirs(&own, &mounts);
        let memory = found.iter().find(|(controllers, _)| controllers.split(',').any(|c| c == "memory"));
        let cgroups = match (memory, unified_root(&mounts)) {
            (Some((_, memory)), _) => Cgroups::V1 {
                memory: memory.clone(),
                all: found.iter().map(|(_, dir)| dir.clone()).collect(),
                cpuacct: found.iter().find(|(c, _)| c.split(',').any(|c| c == "cpuacct")).map(|(_, dir)| dir.clone()),
            },
            (None, Some(root)) if root.join("cgroup.controllers").is_file() => Cgroups::V2 { root },
            _ => return Cgroups::Unavailable("no cgroup v1 memory hierarchy nor cgroup v2 is mounted".into()),
        };
        let base = cgroups.base();
        match std::fs::create_dir_all(&base) {
            Ok(()) => cgroups,
            Err(e) => Cgroups::Unavailable(format!("cannot create {}: {e}", base.display())),
        }
    }

    /// One line for the logs: what is enforced how.
    pub fn describe(&self) -> String {
        match self {
            Cgroups::V1 { memory, .. } => {
                format!("cgroup v1: memory and pids limits in cgroups under {}", memory.join("paas").display())
            }
            Cgroups::V2 { root } => {
                format!("cgroup v2: memory and pids limits in cgroups under {}", root.join("paas").display())
            }
            Cgroups::Unavailable(why) => {
                format!(
                    "no cgroups ({why}): memory limited by RLIMIT_DATA, processes by RLIMIT_NPROC of each container's own uid"
                )
            }
        }
    }

    /// Whether limits are cgroups.
    pub fn available(&self) -> bool {
        !matches!(self, Cgroups::Unavailable(_))
    }

    /// Where the containers' memory cgroups are created.
    fn base(&self) -> PathBuf {
        match self {
            Cgroups::V1 { memory, .. } => memory.join("paas"),
            Cgroups::V2 { root } => root.join("paas"),
            Cgroups::Unavailable(_) => PathBuf::new(),
        }
    }

    /// Creates the memory cgroup of container `id`, limited to `memory_bytes`.
    pub fn create(&self, id: &str, memory_bytes: u64) -> Result<Option<ContainerCgroup>, SandboxError> {
        let dir = self.base().join(id);
        let cgroup = match self {
            Cgroups::Unavailable(_) => return Ok(None),
            Cgroups::V1 { all, cpuacct, .. } => ContainerCgroup {
                dir: dir.clone(),
                v2: false,
                intermediates: all.iter().map(|d| d.join("paas").join(id)).collect(),
                cpu_file: cpuacct.as_ref().map(|d| d.join("paas").join(id).join("cpuacct.usage")),
                runc_path: format!("paas/{id}/dyno"),
            },
            Cgroups::V2 { root } => {
                for parent in [root.clone(), self.base()] {
                    let control = parent.join("cgroup.subtree_control");
                    std::fs::write(&control, "+memory +pids").map_err(io(&control))?;
                    // CPU limits where the controller is available (runc then sets cpu.max).
                    let _ = std::fs::write(&control, "+cpu");
                }
                ContainerCgroup {
                    dir: dir.clone(),
                    v2: true,
                    intermediates: Vec::new(),
                    cpu_file: Some(dir.join("cpu.stat")),
                    runc_path: format!("/paas/{id}/dyno"),
                }
            }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let (limit, swap, subtree) = if cgroup.v2 {
            ("memory.max", "memory.swap.max", Some("+memory +pids"))
        } else {
            ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", None)
        };
        let limit = dir.join(limit);
        std::fs::write(&limit, memory_bytes.to_string()).map_err(io(&limit))?;
        // Where the node swaps, a dyno may swap up to its quota again (R14), then is killed
        // (R15): Heroku's "vastly exceeded" at twice the quota. Without swap accounting the
        // file is missing and RAM alone is limited.
        let swap_limit = if cgroup.v2 { memory_bytes } else { 2 * memory_bytes };
        if let Err(e) = std::fs::write(dir.join(swap), swap_limit.to_string())
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(cgroup = %dir.display(), "swap limit not set: {e}");
        }
        if let Some(controllers) = subtree {
            let control = dir.join("cgroup.subtree_control");
            std::fs::write(&control, controllers).map_err(io(&control))?;
            let _ = std::fs::write(&control, "+cpu");
        }
        Ok(Some(cgroup))
    }

    /// Removes the cgroups left by container `id` (after a crash of `paas server`).
    pub fn remove_stale(&self, id: &str) {
        if let Cgroups::V1 { all, .. } = self {
            for dir in all {
                let _ = std::fs::remove_dir(dir.join("paas").join(id).join("dyno"));
                let _ = std::fs::remove_dir(dir.join("paas").join(id));
            }
        } else if self.available() {
            let _ = std::fs::remove_dir(self.base().join(id).join("dyno"));
            let _ = std::fs::remove_dir(self.base().join(id));
        }
    }
}

impl ContainerCgroup {
    /// The counters so far.
    pub fn events(&self) -> MemoryEvents {
        if self.v2 {
            let events = std::fs::read_to_string(self.dir.join("memory.events")).unwrap_or_default();
            MemoryEvents { limit_hits: field(&events, "max"), oom_kills: field(&events, "oom_kill") }
        } else {
            let failcnt = std::fs::read_to_string(self.dir.join("memory.failcnt")).unwrap_or_default();
            MemoryEvents { limit_hits: failcnt.trim().parse().unwrap_or(0), oom_kills: 0 }
        }
    }

    /// The container's own memory now, in bytes: anonymous memory in RAM and in swap (page cache,
    /// which the kernel reclaims at the limit, is not counted). Above the limit only with swap.
    pub fn own_memory(&self) -> u64 {
        let stat = std::fs::read_to_string(self.dir.join("memory.stat")).unwrap_or_default();
        if self.v2 {
            let swap = std::fs::read_to_string(self.dir.join("memory.swap.current")).unwrap_or_default();
            field(&stat, "anon") + swap.trim().parse::<u64>().unwrap_or(0)
        } else {
            field(&stat, "total_rss") + field(&stat, "total_swap")
        }
    }

    /// The CPU time the container's processes have used so far (user and system), in
    /// nanoseconds; `None` where the node does not count it (no `cpuacct` hierarchy).
    pub fn cpu_nanos(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.cpu_file.as_ref()?).ok()?;
        if self.v2 {
            Some(field(&text, "usage_usec").saturating_mul(1000))
        } else {
            text.trim().parse().ok()
        }
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        // runc removed its own cgroup (`dyno`) when the container ended.
        for dir in self.intermediates.iter().chain(std::iter::once(&self.dir)) {
            if let Err(e) = std::fs::remove_dir(dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %dir.display(), "cannot remove a container's cgroup: {e}");
            }
        }
    }
}

/// `key N` in a flat-keyed cgroup file.
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// This process's cgroup directory in each mounted v1 hierarchy, and in the v2 one when both
/// are mounted (hybrid: runc places the container there too): (controllers, directory).
fn v1_dirs(own: &str, mountinfo: &str) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let wanted: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        for mount in mountinfo.lines() {
            let Some((before, after)) = mount.split_once(" - ") else { continue };
            let fields: Vec<&str> = before.split(' ').collect();
            let rest: Vec<&str> = after.split(' ').collect();
            let kind = if wanted.is_empty() { "cgroup2" } else { "cgroup" };
            if fields.len() < 5 || rest.first() != Some(&kind) {
                continue;
            }
            let options: Vec<&str> = rest.get(2).map(|o| o.split(',').collect()).unwrap_or_default();
            if wanted.iter().all(|c| options.contains(c)) {
                let relative = path.strip_prefix(fields[3]).unwrap_or(path).trim_start_matches('/');
                found.push((controllers.to_string(), Path::new(fields[4]).join(relative)));
                break;
            }
        }
    }
    found
}

/// The mount point of the cgroup v2 hierarchy, if mounted.
fn unified_root(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|mount| {
        let (before, after) = mount.split_once(" - ")?;
        if !after.starts_with("cgroup2 ") {
            return None;
        }
        before.split(' ').nth(4).map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
33 25 0:29 /docker /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct";

    #[test]
    fn own_v1_cgroups_are_found_under_their_mounts() {
        let own = "4:memory:/process_api/abc\n8:pids:/\n2:cpu,cpuacct:/docker/x\n0::/";
        let dirs = v1_dirs(own, MOUNTINFO);
        assert_eq!(
            dirs,
            [
                ("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")),
                ("pids".to_string(), PathBuf::from("/sys/fs/cgroup/pids")),
                ("cpu,cpuacct".to_string(), PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/x")),
                (String::new(), PathBuf::from("/sys/fs/cgroup/unified")),
            ]
        );
        assert_eq!(unified_root(MOUNTINFO), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn flat_keyed_fields_are_read() {
        assert_eq!(field("low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\n", "max"), 17);
        assert_eq!(field("low 0\n", "oom_kill"), 0);
    }
}
