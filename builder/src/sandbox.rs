//! Where build steps run: every buildpack executable (detect, compile, release), the clone of a
//! `BUILDPACK_URL` and whatever they start (npm, pip, cargo, componentize-py/js) run in an OCI
//! container of [`paas_sandbox`] as the build's own unprivileged uid ([`StepSandbox`]): no
//! capabilities, `no_new_privileges`, seccomp, own PID, mount, IPC, UTS and network namespaces,
//! the host's stack read-only, the buildpacks and the host's Rust toolchain read-only, and
//! writable only the build's disk (build dir, cache, env dir, home, a cloned buildpack) and a
//! fresh `/tmp`; memory, pids and CPU limited by cgroups.
//!
//! The build's disk ([`BuildDisk`]) is the app's sparse image (`cache/<app>/disk.xfs`, the size
//! of the disk limit), loop-mounted for the build: what a build writes (source, dependencies,
//! the cache it keeps) is capped there, past it the build gets `ENOSPC`. Folders are seen at
//! their host paths inside the container, so buildpacks see the same paths either way. The disk
//! is XFS with reflinks ([`DiskFormat`]), so the copy of the cache each build works on (see
//! [`crate::cache`]) shares its blocks: near-instant, and no space until the build writes; ext4
//! (`disk.ext4`, a full copy) where `mkfs.xfs` is missing or the disk is under 300 MiB.
//!
//! Without a container runtime builds are refused ([`BuildIsolation`]), unless the operator
//! chose [`BuildIsolation::Insecure`] (`paas server --insecure-builds`, single-tenant only):
//! buildpacks then run as the server's own user, on the host.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use paas_sandbox::net::{BuildNetwork, NetLease, Network as ContainerNetwork};
use paas_sandbox::{Mount, Plan, Sandbox, SandboxConfig, Uid};

/// How build steps are isolated (`paas server`: a shared [`Sandbox`]; `--insecure-builds`).
#[derive(Debug, Clone, Default)]
pub enum BuildIsolation {
    /// A container runtime of the builder's own (runc from `PATH`, state in
    /// `<data-dir>/runtime`); builds are refused where it cannot run.
    #[default]
    Detect,
    /// The node's sandbox (shared with native dynos: one block of uids, one state root).
    Sandbox(Sandbox),
    /// No sandbox: buildpacks run as the server's user on the host. Single-tenant only.
    Insecure,
}

/// The isolation a builder settled on at start.
#[derive(Debug, Clone)]
pub(crate) enum Isolation {
    /// Containers, on the container network for egress (`None`: loopback only).
    Sandbox(Sandbox, Option<ContainerNetwork>),
    /// Builds run on the host, as the operator asked.
    Insecure,
    /// Builds are refused, and why.
    Unavailable(String),
}

impl Isolation {
    /// Resolves the configured choice (`data_dir` holds a detected runtime's state). Egress
    /// builds use `network`, or (detected runtimes) a container network of their own on a free
    /// range; where none can be made they get loopback only, with a warning.
    pub(crate) fn resolve(
        choice: &BuildIsolation,
        data_dir: &Path,
        build_network: BuildNetwork,
        network: Option<&ContainerNetwork>,
    ) -> Isolation {
        let sandbox = match choice {
            BuildIsolation::Sandbox(sandbox) => sandbox.clone(),
            BuildIsolation::Insecure => return Isolation::Insecure,
            BuildIsolation::Detect => match Sandbox::new(SandboxConfig::new(data_dir)) {
                Ok(sandbox) => sandbox,
                Err(e) => return Isolation::Unavailable(e.to_string()),
            },
        };
        let network = match (build_network, network) {
            (BuildNetwork::None, _) => None,
            (BuildNetwork::Egress, Some(network)) => Some(network.clone()),
            (BuildNetwork::Egress, None) => {
                let made = paas_sandbox::egress::EgressPolicy::for_node(Vec::new())
                    .map_err(|e| e.to_string())
                    .and_then(|policy| {
                        ContainerNetwork::on_free_range(paas_sandbox::net::STANDALONE_RANGE.parse().expect("range"), 24, policy)
                            .map_err(|e| e.to_string())
                    });
                match made {
                    Ok(network) => Some(network),
                    Err(e) => {
                        tracing::warn!("builds get no network (loopback only): {e}");
                        None
                    }
                }
            }
        };
        Isolation::Sandbox(sandbox, network)
    }
}

/// The limits of each step of one build.
#[derive(Debug, Clone, Copy)]
pub struct StepLimits {
    /// Memory (cgroup) in bytes, `/tmp` included.
    pub memory_bytes: u64,
    /// Processes and threads.
    pub processes: u32,
    /// CPU in thousandths of a core.
    pub cpu_millis: u64,
}

impl Default for StepLimits {
    fn default() -> Self {
        StepLimits { memory_bytes: 4 << 30, processes: 2048, cpu_millis: 2000 }
    }
}

/// What every container of one build shares: the node's sandbox, the build's uid, its mounts.
#[derive(Debug)]
pub struct StepSandbox {
    pub(crate) sandbox: Sandbox,
    pub(crate) uid: Uid,
    pub(crate) name: String,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) limits: StepLimits,
    /// Where each step's network namespace comes from; `None`: loopback only.
    pub(crate) network: Option<ContainerNetwork>,
}

impl StepSandbox {
    /// A network namespace for one step: on the node's container network (egress under its
    /// policy), or loopback only.
    pub(crate) fn lease(&self) -> Result<NetLease, paas_sandbox::net::NetError> {
        match &self.network {
            Some(network) => network.attach(&self.name),
            None => Ok(NetLease::loopback()),
        }
    }

    /// The plan of one step: `program args…` in `cwd` with exactly `env`, on `lease`; with
    /// `merge`, its stderr goes to its stdout (runc copies each stream through a pipe of its
    /// own, which would reorder lines written to both).
    pub(crate) fn plan(
        &self,
        program: &Path,
        args: &[std::ffi::OsString],
        cwd: &Path,
        env: &[(String, std::ffi::OsString)],
        lease: &NetLease,
        merge: bool,
    ) -> Plan {
        let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
        let home = env.iter().find(|(k, _)| k == "HOME").map(|(_, v)| text(v)).unwrap_or_else(|| "/tmp".into());
        Plan {
            hostname: String::new(),
            args: merge
                .then(|| ["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"].map(String::from))
                .into_iter()
                .flatten()
                .chain(std::iter::once(text(program.as_os_str())))
                .chain(args.iter().map(|a| text(a)))
                .collect(),
            env: env.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            cwd: text(cwd.as_os_str()),
            user: "build".into(),
            home,
            mounts: self.mounts.clone(),
            memory_bytes: self.limits.memory_bytes,
            processes: self.limits.processes,
            cpu_millis: Some(self.limits.cpu_millis),
            io: None,
            network: lease.plan_network(),
            terminal: None,
        }
    }

    /// The container name prefix of this build's steps.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// A read-only bind of a host folder at the same path inside.
pub(crate) fn read_only(dir: &Path) -> Mount {
    Mount::Bind { source: dir.to_path_buf(), destination: dir.display().to_string(), writable: false }
}

/// A writable bind of a host folder at the same path inside.
pub(crate) fn writable(dir: &Path) -> Mount {
    Mount::Bind { source: dir.to_path_buf(), destination: dir.display().to_string(), writable: true }
}

/// The file system of build disks, chosen once per builder ([`DiskFormat::for_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    /// XFS with reflinks: `cp --reflink` shares blocks, so the cache copy costs no time nor space.
    Xfs,
    /// ext4: no reflinks, the cache copy is a full one (a cache fits in half the disk).
    Ext4,
}

/// The smallest XFS file system `mkfs.xfs` makes (xfsprogs 5.19 and later).
pub const XFS_MIN_SIZE: u64 = 300 << 20;

impl DiskFormat {
    /// XFS where `mkfs.xfs` runs and `size` is at least [`XFS_MIN_SIZE`]; ext4 else.
    pub fn for_size(size: u64) -> DiskFormat {
        let xfs = size >= XFS_MIN_SIZE && tool("mkfs.xfs", &["-V"], &[]).is_ok();
        if xfs { DiskFormat::Xfs } else { DiskFormat::Ext4 }
    }

    /// The image's file name in the app's cache folder: named by its file system, so an image of
    /// the other one (made before `mkfs.xfs` was installed) is replaced, not mounted as this one.
    pub fn image_name(self) -> &'static str {
        match self {
            DiskFormat::Xfs => "disk.xfs",
            DiskFormat::Ext4 => "disk.ext4",
        }
    }

    /// The `mount -t` type and options (XFS: `nouuid`, as a copied image, a data dir's backup,
    /// has the UUID of its original and would not mount beside it).
    fn mount_options(self) -> [&'static str; 4] {
        match self {
            DiskFormat::Xfs => ["-o", "loop,nosuid,nodev,noatime,nouuid", "-t", "xfs"],
            DiskFormat::Ext4 => ["-o", "loop,nosuid,nodev,noatime", "-t", "ext4"],
        }
    }

    /// Makes an empty file system on `image`, its root owned by root.
    fn make(self, image: &Path) -> std::io::Result<()> {
        match self {
            // -K: nothing to discard on a fresh sparse file.
            DiskFormat::Xfs => tool("mkfs.xfs", &["-q", "-f", "-K", "-m", "reflink=1"], &[image.as_os_str()]),
            DiskFormat::Ext4 => {
                let ext4 = ["-q", "-F", "-m", "0", "-i", "8192", "-O", "^has_journal", "-E", "root_owner=0:0"];
                tool("mkfs.ext4", &ext4, &[image.as_os_str()])
            }
        }
    }
}

/// The app's build disk, mounted over the build's folder while the build runs (unmounted on
/// drop).
#[derive(Debug)]
pub struct BuildDisk {
    mountpoint: PathBuf,
}

impl BuildDisk {
    /// Mounts the image `format` names in `dir` (created, sparse, as an empty file system of
    /// `size` bytes when missing or of another size; an image of another format is removed) at
    /// `mountpoint`, `nosuid,nodev`.
    pub(crate) fn mount(dir: &Path, format: DiskFormat, size: u64, mountpoint: &Path) -> std::io::Result<BuildDisk> {
        for other in [DiskFormat::Xfs, DiskFormat::Ext4].into_iter().filter(|&f| f != format) {
            match std::fs::remove_file(dir.join(other.image_name())) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let image = dir.join(format.image_name());
        let fresh = std::fs::metadata(&image).map(|m| m.len() != size).unwrap_or(true);
        if fresh {
            let _ = std::fs::remove_file(&image);
            std::fs::File::create(&image)?.set_len(size)?;
            format.make(&image)?;
        }
        std::fs::create_dir_all(mountpoint)?;
        // A server that crashed mid-build left it mounted: never mount one image twice.
        let _ = tool("umount", &[], &[mountpoint.as_os_str()]);
        tool("mount", &format.mount_options(), &[image.as_os_str(), mountpoint.as_os_str()])?;
        Ok(BuildDisk { mountpoint: mountpoint.to_path_buf() })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Whether (almost) nothing is left of it: less than 1 MiB or 16 inodes.
    pub fn is_full(&self) -> bool {
        rustix::fs::statvfs(&self.mountpoint)
            .is_ok_and(|fs| fs.f_bavail.saturating_mul(fs.f_frsize) < 1 << 20 || fs.f_favail < 16)
    }
}

impl Drop for BuildDisk {
    fn drop(&mut self) {
        if let Err(e) = tool("umount", &[], &[self.mountpoint.as_os_str()]) {
            tracing::warn!(path = %self.mountpoint.display(), "cannot unmount a build disk ({e}); detaching it");
            let _ = tool("umount", &["--lazy"], &[self.mountpoint.as_os_str()]);
        }
        let _ = std::fs::remove_dir(&self.mountpoint);
    }
}

/// Runs a system tool (`mkfs.xfs`, `mkfs.ext4`, `mount`, `umount`), its stderr in the error.
fn tool(program: &str, options: &[&str], paths: &[&std::ffi::OsStr]) -> std::io::Result<()> {
    let output = std::process::Command::new(program)
        .args(options)
        .args(paths)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run {program}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(std::io::Error::other(format!("{program} failed ({}): {}", output.status, stderr.trim())))
}

/// Gives `dir` and everything below it to `uid` (and its group), never following a link: the
/// tree is the tenant's, and nothing of it runs while this does.
pub(crate) fn chown_tree(dir: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            std::os::unix::fs::lchown(&path, Some(uid), Some(uid))?;
            if entry.file_type()?.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_tree_changes_links_not_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/file"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a/link")).unwrap();
        if chown_tree(dir.path(), 4242).is_err() {
            return; // not root: nothing to check here
        }
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(dir.path().join("a/b/file")).unwrap().uid(), 4242);
        assert_eq!(std::fs::symlink_metadata(dir.path().join("a/link")).unwrap().uid(), 4242);
        assert_eq!(std::fs::metadata(outside.path()).unwrap().uid(), 0, "the link's target is untouched");
    }

    /// The file system type `path` is mounted with.
    fn mounted_type(path: &Path) -> Option<String> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let path = path.display().to_string();
        let line = mounts.lines().find(|l| l.split(' ').nth(4) == Some(path.as_str()))?;
        line.split(" - ").nth(1)?.split(' ').next().map(String::from)
    }

    #[test]
    fn an_ext4_build_disk_of_before_xfs_is_replaced_by_an_xfs_one() {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
            return; // mounting a disk needs root
        }
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("disk");
        let ext4 = BuildDisk::mount(dir.path(), DiskFormat::Ext4, 64 << 20, &mountpoint).unwrap();
        assert_eq!(mounted_type(&mountpoint).as_deref(), Some("ext4"));
        drop(ext4);
        let xfs = BuildDisk::mount(dir.path(), DiskFormat::Xfs, 512 << 20, &mountpoint).unwrap();
        assert_eq!(mounted_type(&mountpoint).as_deref(), Some("xfs"));
        assert!(!dir.path().join("disk.ext4").exists(), "the old image is removed");
        drop(xfs);
        assert_eq!(mounted_type(&mountpoint), None);
        // An image copied beside it (same UUID) still mounts.
        std::fs::create_dir_all(dir.path().join("copy")).unwrap();
        std::fs::copy(dir.path().join("disk.xfs"), dir.path().join("copy/disk.xfs")).unwrap();
        let _first = BuildDisk::mount(dir.path(), DiskFormat::Xfs, 512 << 20, &mountpoint).unwrap();
        let copy = dir.path().join("copy");
        let _second = BuildDisk::mount(&copy, DiskFormat::Xfs, 512 << 20, &copy.join("disk")).unwrap();
    }
}
