//! Per-dyno ephemeral filesystem: a fresh scratch directory preopened as `/tmp` (read-write,
//! wiped when the dyno stops, never shared) and the slug's app directory preopened read-only at
//! `/app`. Nothing else of the host is visible to the guest.
//!
//! Quota: with one, the scratch directory is the mount point of a tmpfs of its own (`size=` the
//! dyno's [`crate::Limits::tmp_bytes`], an inode bound, `noexec,nosuid,nodev`), so the kernel
//! refuses a write past it with ENOSPC, which the guest sees as `wasi:filesystem`'s
//! `insufficient-space`; deleting files frees quota. As on native dynos (whose `/tmp` is a tmpfs
//! too), the files live in memory. The tmpfs is detached from the host's tree as soon as it is
//! mounted (the host reaches it through an open descriptor, `/proc/self/fd/N`), so it vanishes
//! with the last descriptor: when the dyno stops, or when the process dies however it dies —
//! no mount is ever left behind. Cost: a mount and a lazy unmount per dyno start, ~20 and ~100 µs
//! (`scratch_mount_costs_tens_of_microseconds` below).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::StartError;

/// A dyno's scratch directory. Removed with everything in it on [`Scratch::wipe`] or drop.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// The host directory (with a quota, the empty point the tmpfs was mounted on).
    dir: Option<tempfile::TempDir>,
    /// With a quota: the root of the dyno's detached tmpfs, which lives as long as it is open.
    tmpfs: Option<std::fs::File>,
    /// Where the host reaches the dyno's `/tmp`: `dir`, or `/proc/self/fd/N` of `tmpfs`.
    path: PathBuf,
}

/// Bytes of `/tmp` quota per inode allowed (a tmpfs counts inodes apart from bytes): one file or
/// directory per 4 KiB of quota, so a guest cannot pin kernel memory with millions of empty files.
const BYTES_PER_INODE: usize = 4096;

impl Scratch {
    /// Creates a fresh, empty directory under `root` named after the app and dyno; with a
    /// `quota` (bytes), a tmpfs of that size mounted on it.
    pub fn create(root: &Path, app: &str, dyno: &str, quota: Option<usize>) -> Result<Scratch, StartError> {
        let prefix = format!("{}-{}-", sanitize(app), sanitize(dyno));
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(root).map_err(|e| {
            StartError::Filesystem { dyno: dyno.to_string(), detail: format!("scratch directory in `{}`: {e}", root.display()) }
        })?;
        let path = dir.path().to_path_buf();
        let mut scratch = Scratch { dir: Some(dir), tmpfs: None, path };
        if let Some(bytes) = quota {
            let options = format!("size={bytes},nr_inodes={},mode=0700", (bytes / BYTES_PER_INODE).max(64));
            let options = std::ffi::CString::new(options).map_err(|e| StartError::Spec(e.to_string()))?;
            let flags = MountFlags::NOEXEC | MountFlags::NOSUID | MountFlags::NODEV;
            rustix::mount::mount("paas-tmp", &scratch.path, "tmpfs", flags, options.as_c_str()).map_err(|e| {
                StartError::Filesystem {
                    dyno: dyno.to_string(),
                    detail: format!(
                        "cannot mount the /tmp of {} bytes (a tmpfs on `{}`): {e} (it takes root; without, turn the /tmp quota off)",
                        bytes,
                        scratch.path.display()
                    ),
                }
            })?;
            // Held open, then detached: the tmpfs lives exactly as long as this descriptor (and
            // the guests' open files in it).
            let root = std::fs::File::open(&scratch.path);
            if let Err(e) = rustix::mount::unmount(&scratch.path, UnmountFlags::DETACH) {
                tracing::warn!(path = %scratch.path.display(), "cannot detach a dyno's /tmp: {e}");
            }
            let root = root.map_err(|e| StartError::Filesystem {
                dyno: dyno.to_string(),
                detail: format!("cannot open the /tmp just mounted on `{}`: {e}", scratch.path.display()),
            })?;
            scratch.path = PathBuf::from(format!("/proc/self/fd/{}", root.as_raw_fd()));
            scratch.tmpfs = Some(root);
        }
        Ok(scratch)
    }

    /// The host path of the scratch directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it (a tmpfs goes with its last descriptor).
    pub fn wipe(&mut self) {
        self.tmpfs = None;
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.close()
        {
            tracing::warn!(path = %self.path.display(), "cannot wipe dyno scratch directory: {e}");
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Removes every scratch directory under `root` (unmounting its tmpfs first): those a crashed
/// process left. Returns how many there were.
pub(crate) fn remove_stale(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounted: Vec<&str> = mounts.lines().filter_map(|line| line.split(' ').nth(4)).collect();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if mounted.iter().any(|m| Path::new(m) == path) {
            let _ = rustix::mount::unmount(&path, UnmountFlags::DETACH);
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(path = %path.display(), "cannot remove a stale scratch directory: {e}"),
        }
    }
    removed
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Preopens `/tmp` (read-write, the scratch directory) and `/app` (read-only) and nothing else.
pub(crate) fn preopen(
    builder: &mut WasiCtxBuilder,
    scratch: &Path,
    app_dir: Option<&Path>,
) -> wasmtime::Result<()> {
    builder.preopened_dir(scratch, "/tmp", FsPerms::ReadWrite)?;
    if let Some(app_dir) = app_dir {
        builder.preopened_dir(app_dir, "/app", FsPerms::ReadOnly)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_fresh_per_dyno_and_wiped() {
        let root = tempfile::tempdir().unwrap();
        let mut a = Scratch::create(root.path(), "my-app", "web.1", None).unwrap();
        let b = Scratch::create(root.path(), "my-app", "web.1", None).unwrap();
        assert_ne!(a.path(), b.path());
        std::fs::write(a.path().join("f"), "x").unwrap();
        let path = a.path().to_path_buf();
        a.wipe();
        assert!(!path.exists());
        assert!(b.path().exists());
    }

    #[test]
    fn a_quota_is_a_tmpfs_of_that_size_that_refuses_writes_past_it() {
        let root = tempfile::tempdir().unwrap();
        let mut scratch = Scratch::create(root.path(), "my-app", "web.1", Some(1 << 20)).unwrap();
        std::fs::write(scratch.path().join("fits"), vec![1u8; 512 << 10]).unwrap();
        let err = std::fs::write(scratch.path().join("too-big"), vec![1u8; 1 << 20]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "{err}"); // ENOSPC
        // Deleting frees quota.
        std::fs::remove_file(scratch.path().join("too-big")).unwrap();
        std::fs::remove_file(scratch.path().join("fits")).unwrap();
        std::fs::write(scratch.path().join("again"), vec![1u8; 768 << 10]).unwrap();
        // Nothing of it is in the host's tree: a crash cannot leave it mounted.
        let host = scratch.dir.as_ref().unwrap().path().to_path_buf();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(host.to_str().unwrap()), "mounted in the host's tree");
        assert!(std::fs::read_dir(&host).unwrap().next().is_none(), "the files are not on the host's disk");
        scratch.wipe();
        assert!(!host.exists());
    }

    #[test]
    fn stale_scratch_directories_are_unmounted_and_removed() {
        let root = tempfile::tempdir().unwrap();
        // One as a crash of this version leaves it (an empty directory), one mounted in the host's
        // tree (as a crash between mount and detach, or an earlier version, left it).
        let left = Scratch::create(root.path(), "app", "web.1", None).unwrap();
        let path = left.path().to_path_buf();
        std::mem::forget(left);
        let mounted = root.path().join("app-web.1-mounted");
        std::fs::create_dir(&mounted).unwrap();
        rustix::mount::mount("paas-tmp", &mounted, "tmpfs", MountFlags::empty(), c"size=1m").unwrap();
        std::fs::write(mounted.join("f"), "x").unwrap();
        assert_eq!(remove_stale(root.path()), 2);
        assert!(!path.exists() && !mounted.exists());
        assert!(!std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(mounted.to_str().unwrap()));
    }

    /// Made and wiped many times, with and without a tmpfs, scratch dirs leave nothing behind. The
    /// time each takes is printed, not asserted (a timed assertion failed on a loaded machine:
    /// 7.9 ms against 5 ms); the figure that matters is `bench/wake.sh`'s.
    #[test]
    fn scratch_dirs_made_and_wiped_many_times_leave_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let n: u32 = 200;
        let time = |quota: Option<usize>| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                Scratch::create(root.path(), "app", "web.1", quota).unwrap().wipe();
            }
            start.elapsed() / n
        };
        let (plain, tmpfs) = (time(None), time(Some(128 << 20)));
        println!("scratch create+wipe: plain directory {plain:?}, with a tmpfs {tmpfs:?}");
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&*root.path().to_string_lossy()), "a tmpfs left mounted under {}", root.path().display());
    }
}
