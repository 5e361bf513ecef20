//! The build cache, replaced atomically: a build works on a copy of the cache the last successful
//! build left (`<cache>.saved`, copied to `<cache>`, the `CACHE_DIR` buildpacks get, with
//! `cp -a --reflink=auto`), and only a build that succeeds swaps its copy in (two renames). A
//! failed or killed build leaves the saved cache as it was, so whatever it half-wrote (or a
//! process of it still writes) never reaches the next build. On an XFS build disk (see
//! [`crate::sandbox::DiskFormat`]) the copy is a reflink of each file: it shares the saved
//! cache's blocks until the build writes, so it is near-instant and takes no room. On ext4 and
//! for insecure builds it is a full copy.
//!
//! Where the copy does not fit (on ext4, a cache over half the build's disk) the build works on the saved
//! cache in place, with a marker (the folder `<cache>.in-place`): a killed or failed build then leaves no
//! saved cache, and the next build starts from an empty one rather than from what it left.
//!
//! A build always works at the same path, so caches that record absolute paths (cargo's, a venv)
//! stay valid. A crash between the two renames of [`CacheSwap::commit`] leaves `<cache>.saved.old`
//! and no `<cache>.saved`: [`CacheSwap::begin`] takes the old one back.

use std::io;
use std::path::{Path, PathBuf};

/// One build's working copy of the cache, swapped in by [`CacheSwap::commit`].
#[derive(Debug)]
pub(crate) struct CacheSwap {
    work: PathBuf,
    saved: PathBuf,
    old: PathBuf,
    /// The copy did not fit: the build works on the saved cache itself (marked by this file).
    in_place: Option<PathBuf>,
}

/// `<path>` with `suffix` added to its file name (`cache` → `cache.saved`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The folders a cache at `work` keeps beside it (for purging): the saved copy, a half-swapped
/// old one, the in-place marker.
pub(crate) fn kept_beside(work: &Path) -> [PathBuf; 3] {
    [sibling(work, ".saved"), sibling(work, ".saved.old"), sibling(work, ".in-place")]
}

impl CacheSwap {
    /// Makes `work` a fresh copy of the saved cache (the cache a build before this scheme left at
    /// `work` becomes the saved one; none: an empty one). Blocking.
    pub(crate) fn begin(work: &Path) -> io::Result<CacheSwap> {
        let [saved, old, _] = kept_beside(work);
        let marker = sibling(work, ".in-place");
        let mut swap = CacheSwap { work: work.to_path_buf(), saved, old, in_place: None };
        if !swap.saved.exists() && swap.old.exists() {
            std::fs::rename(&swap.old, &swap.saved)?;
        }
        remove(&swap.old)?;
        if marker.exists() && !swap.saved.exists() {
            // A build that worked in place did not finish: what it left is not trusted.
            tracing::warn!(cache = %work.display(), "the last build on this cache in place did not finish: starting from an empty cache");
            remove(&swap.work)?;
        }
        remove(&marker)?;
        if !swap.saved.exists() {
            match std::fs::rename(&swap.work, &swap.saved) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(&swap.saved)?,
                other => other?,
            }
        }
        remove(&swap.work)?;
        if let Err(e) = copy_tree(&swap.saved, &swap.work) {
            tracing::warn!(cache = %work.display(), "the build works on its cache in place ({e})");
            remove(&swap.work)?;
            std::fs::create_dir_all(&marker)?;
            std::fs::rename(&swap.saved, &swap.work)?;
            swap.in_place = Some(marker);
        }
        Ok(swap)
    }

    /// The build succeeded: its copy becomes the saved cache. Blocking.
    pub(crate) fn commit(self) -> io::Result<()> {
        if let Some(marker) = &self.in_place {
            std::fs::rename(&self.work, &self.saved)?;
            return remove(marker);
        }
        std::fs::rename(&self.saved, &self.old)?;
        std::fs::rename(&self.work, &self.saved)?;
        remove(&self.old)
    }
}

/// Removes a folder and what it holds; one that is not there is fine.
fn remove(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `cp -a --reflink=auto FROM TO` (a reflink where the file system shares blocks, a copy else):
/// owners, modes, times and links as they are, links never followed.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let output = std::process::Command::new("cp")
        .args(["-a", "--reflink=auto", "--no-target-directory"])
        .arg(from)
        .arg(to)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run cp: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!("cannot copy the build cache: {}", String::from_utf8_lossy(&output.stderr).trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn a_failed_build_leaves_the_saved_cache_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("cache");
        // A cache from before: it becomes the saved one.
        std::fs::create_dir_all(work.join("deps")).unwrap();
        std::fs::write(work.join("deps/a"), "good").unwrap();
        let first = CacheSwap::begin(&work).unwrap();
        std::fs::write(work.join("deps/a"), "half-written").unwrap();
        std::fs::write(work.join("junk"), "x").unwrap();
        drop(first); // failed, or the server was killed here
        let second = CacheSwap::begin(&work).unwrap();
        assert_eq!(read(&work.join("deps/a")), "good");
        assert!(!work.join("junk").exists());
        std::fs::write(work.join("deps/b"), "new").unwrap();
        second.commit().unwrap();
        assert!(!work.exists() && !dir.path().join("cache.saved.old").exists());
        let _third = CacheSwap::begin(&work).unwrap();
        assert_eq!(read(&work.join("deps/b")), "new", "a successful build's cache is kept");
    }

    #[test]
    fn a_crash_between_the_renames_of_a_commit_keeps_the_previous_cache() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("cache");
        std::fs::create_dir_all(dir.path().join("cache.saved.old")).unwrap();
        std::fs::write(dir.path().join("cache.saved.old/a"), "previous").unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("a"), "unfinished").unwrap();
        let _swap = CacheSwap::begin(&work).unwrap();
        assert_eq!(read(&work.join("a")), "previous");
    }

    #[test]
    fn a_build_that_worked_in_place_and_did_not_finish_leaves_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("cache");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("half"), "a killed build's").unwrap();
        std::fs::create_dir_all(dir.path().join("cache.in-place")).unwrap();
        let _swap = CacheSwap::begin(&work).unwrap();
        assert!(!work.join("half").exists());
        assert!(!dir.path().join("cache.in-place").exists());
    }

    /// Regression: on the ext4 build disk each build's copy of a 279 MB cache took as much room
    /// again (the cache fit in half the disk) and 35–50 s of writeback.
    #[test]
    fn a_cache_swap_on_the_build_disk_takes_no_extra_space() {
        use crate::sandbox::{BuildDisk, DiskFormat};
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
            return; // mounting a disk needs root
        }
        let format = DiskFormat::for_size(1 << 30);
        assert_eq!(format, DiskFormat::Xfs, "mkfs.xfs is missing: .ci/setup installs xfsprogs");
        let dir = tempfile::tempdir().unwrap();
        let disk = BuildDisk::mount(dir.path(), format, 1 << 30, &dir.path().join("disk")).unwrap();
        let used = || {
            rustix::fs::sync();
            let fs = rustix::fs::statvfs(disk.path()).unwrap();
            (fs.f_blocks - fs.f_bfree) * fs.f_frsize
        };
        // A 100 MB cache: 100 files of 1 MB.
        let work = disk.path().join("cache");
        std::fs::create_dir_all(work.join("deps")).unwrap();
        let mb: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        for i in 0..100 {
            std::fs::write(work.join(format!("deps/{i}")), &mb).unwrap();
        }
        let before = used();
        let swap = CacheSwap::begin(&work).unwrap();
        assert!(swap.in_place.is_none(), "the build works on a copy");
        let grown = used() - before;
        assert!(grown < 4 << 20, "the copy of a 100 MB cache took {} KiB", grown >> 10);
        assert_eq!(std::fs::read(work.join("deps/99")).unwrap(), mb);
        // What the build writes reaches its copy only.
        std::fs::write(work.join("deps/0"), "rewritten").unwrap();
        drop(swap);
        assert_eq!(std::fs::read(dir.path().join("disk/cache.saved/deps/0")).unwrap(), mb);
    }

    #[test]
    fn a_first_build_gets_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("cache");
        let _swap = CacheSwap::begin(&work).unwrap();
        assert!(work.is_dir() && std::fs::read_dir(&work).unwrap().next().is_none());
    }
}
