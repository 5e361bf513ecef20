//! Per-dyno ephemeral filesystem: a fresh scratch directory preopened as `/tmp` (read-write,
//! wiped when the dyno stops, never shared) and the slug's app directory preopened read-only at
//! `/app`. Nothing else of the host is visible to the guest.

use std::path::{Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::StartError;

/// A dyno's scratch directory. Removed with everything in it on [`Scratch::wipe`] or drop.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Scratch {
    /// Creates a fresh, empty directory under `root` named after the app and dyno.
    pub fn create(root: &Path, app: &str, dyno: &str) -> Result<Scratch, StartError> {
        let prefix = format!("{}-{}-", sanitize(app), sanitize(dyno));
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(root).map_err(|e| {
            StartError::Filesystem { dyno: dyno.to_string(), detail: format!("scratch directory in `{}`: {e}", root.display()) }
        })?;
        let path = dir.path().to_path_buf();
        Ok(Scratch { dir: Some(dir), path })
    }

    /// The host path of the scratch directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it.
    pub fn wipe(&mut self) {
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
        let mut a = Scratch::create(root.path(), "my-app", "web.1").unwrap();
        let b = Scratch::create(root.path(), "my-app", "web.1").unwrap();
        assert_ne!(a.path(), b.path());
        std::fs::write(a.path().join("f"), "x").unwrap();
        let path = a.path().to_path_buf();
        a.wipe();
        assert!(!path.exists());
        assert!(b.path().exists());
    }
}
