//! Container limits beyond memory and pids: block-I/O throttles on the disks a container reads
//! (cgroup v1 `blkio.throttle.*`, v2 `io.max`, written by runc from the bundle), and the size of
//! an overlay's writable layer (its upper and work directories on a tmpfs of their own: a write
//! past it is ENOSPC; the pages count against the container's memory cgroup, as `/tmp` does).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxBlockIoBuilder, LinuxThrottleDevice, LinuxThrottleDeviceBuilder};
use rustix::mount::{MountFlags, UnmountFlags};

use crate::error::{SandboxError, io};

/// Block-I/O limits of one container, on every disk that holds a filesystem it sees (the stack,
/// its lower layers and binds, the node's data dir). 0: no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoLimits {
    /// Bytes per second read.
    pub read_bps: u64,
    /// Bytes per second written.
    pub write_bps: u64,
    /// Read operations per second.
    pub read_iops: u64,
    /// Write operations per second.
    pub write_iops: u64,
}

/// The whole disks (major, minor) under `paths`: a partition's disk (blk-throttle takes disks
/// only); filesystems on no block device (tmpfs, overlay, NFS) give none.
pub(crate) fn disks<'a>(paths: impl IntoIterator<Item = &'a Path>) -> BTreeSet<(i64, i64)> {
    let mut found = BTreeSet::new();
    for path in paths {
        let Ok(meta) = std::fs::metadata(path) else { continue };
        let dev = meta.dev();
        let (major, minor) = (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff), (dev & 0xff) | ((dev >> 12) & !0xff));
        let sys = Path::new("/sys/dev/block").join(format!("{major}:{minor}"));
        if !sys.exists() {
            continue;
        }
        let disk = if sys.join("partition").exists() {
            std::fs::read_to_string(sys.join("../dev")).ok().and_then(|d| parse_dev(d.trim()))
        } else {
            Some((major as i64, minor as i64))
        };
        found.extend(disk);
    }
    found
}

fn parse_dev(text: &str) -> Option<(i64, i64)> {
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The OCI block-I/O section throttling each of `disks` to `limits`.
pub(crate) fn block_io(limits: &IoLimits, disks: &BTreeSet<(i64, i64)>) -> Result<LinuxBlockIo, SandboxError> {
    let rule = |rate: u64| -> Result<Vec<LinuxThrottleDevice>, SandboxError> {
        if rate == 0 {
            return Ok(Vec::new());
        }
        disks
            .iter()
            .map(|&(major, minor)| Ok(LinuxThrottleDeviceBuilder::default().major(major).minor(minor).rate(rate).build()?))
            .collect()
    };
    Ok(LinuxBlockIoBuilder::default()
        .throttle_read_bps_device(rule(limits.read_bps)?)
        .throttle_write_bps_device(rule(limits.write_bps)?)
        .throttle_read_iops_device(rule(limits.read_iops)?)
        .throttle_write_iops_device(rule(limits.write_iops)?)
        .build()?)
}

/// Mounts a tmpfs of `bytes` on `dir` (an overlay's layers directory), never exec/setuid/devices.
pub(crate) fn mount_layers(dir: &Path, bytes: u64) -> Result<(), SandboxError> {
    let options = std::ffi::CString::new(format!("size={bytes},mode=0755"))
        .map_err(|e| SandboxError::Spec(format!("tmpfs options: {e}")))?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV;
    rustix::mount::mount("paas-layers", dir, "tmpfs", flags, options.as_c_str())
        .map_err(|e| io(dir)(std::io::Error::from(e)))
}

/// Unmounts every mount at or below `dir` (deepest first, lazily), so the directory can be
/// removed; a crashed server's bundles keep theirs.
pub(crate) fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
    let mut points: Vec<&str> =
        mounts.lines().filter_map(|line| line.split(' ').nth(4)).filter(|p| Path::new(p).starts_with(dir)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        if let Err(e) = rustix::mount::unmount(point, UnmountFlags::DETACH) {
            tracing::warn!(path = point, "cannot unmount a container's layers: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_filesystem_is_on_a_disk_and_tmpfs_is_not() {
        let root = disks([Path::new("/")]);
        // Where `/` is a block device (not an overlay of a container), its disk is found.
        if std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|l| l.split(' ').nth(4) == Some("/") && l.contains(" - ext4 ")) {
            assert_eq!(root.len(), 1, "{root:?}");
        }
        assert!(disks([Path::new("/proc")]).is_empty());
    }

    #[test]
    fn a_layers_tmpfs_refuses_writes_past_its_size_and_is_unmounted() {
        let dir = tempfile::tempdir().unwrap();
        let layers = dir.path().join("overlay/0");
        std::fs::create_dir_all(&layers).unwrap();
        mount_layers(&layers, 1 << 20).unwrap();
        let err = std::fs::write(layers.join("big"), vec![0u8; 2 << 20]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "{err}");
        unmount_under(dir.path());
        std::fs::remove_dir_all(dir.path()).unwrap();
    }
}
