//! A tenant's folder (a build dir after the buildpacks ran, an unpacked source or slug): the host
//! reads it only through a [`TenantTree`], a `cap_std::fs::Dir`, so every path a tenant wrote
//! resolves inside the folder (neither `..` nor a symbolic link may leave it), and a metadata file
//! (Procfile, `.paas/processes.toml`, `.slugignore`) that is itself a symbolic link is refused.
//!
//! Errors name the path the tenant wrote, never anything read from where a link points.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, Metadata};

/// The largest metadata file read from a tenant's tree (Procfile, `.paas/processes.toml`,
/// `.slugignore`): 1 MiB.
pub const MAX_METADATA_SIZE: u64 = 1 << 20;

/// The files of an app that paas or its buildpacks read as metadata: none may be a symbolic link
/// (checked as soon as the source is unpacked, before any buildpack runs, and again when read).
pub const METADATA_FILES: &[&str] = &["Procfile", ".paas/processes.toml", ".slugignore", "app.json", "static.json"];

/// A path as a tenant wrote it (in a Procfile, a `processes.toml`, an archive): only ever
/// resolved inside a [`TenantTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntrustedPath<'a>(pub &'a Path);

impl<'a> UntrustedPath<'a> {
    /// Wraps a tenant-written path (`/`-separated, relative to the tree).
    pub fn new(path: &'a (impl AsRef<Path> + ?Sized)) -> UntrustedPath<'a> {
        UntrustedPath(path.as_ref())
    }

    /// The path for messages (the tenant's own words).
    pub fn shown(&self) -> String {
        self.0.display().to_string()
    }
}

/// A tenant's file that the host would not read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// A metadata file is a symbolic link.
    #[error("{0} is a symbolic link; paas does not follow links in metadata files")]
    Symlink(String),
    /// The path leaves the tree (`..`, an absolute path, or a link pointing out).
    #[error("{0} leads outside the app's folder (an absolute path, `..` or a symbolic link pointing out); paas reads only files inside it")]
    Outside(String),
    /// Not a regular file.
    #[error("{0} is not a regular file")]
    NotAFile(String),
    /// Over the size limit.
    #[error("{path} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The path.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A metadata file that is not UTF-8 text.
    #[error("{0} is not UTF-8 text")]
    NotText(String),
    /// Reading failed otherwise.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// A folder whose contents a tenant controls, opened as a capability.
#[derive(Debug)]
pub struct TenantTree {
    root: PathBuf,
    dir: Dir,
}

impl TenantTree {
    /// Opens the tree rooted at `root` (a path the host chose, e.g. the build dir).
    pub fn open(root: &Path) -> io::Result<TenantTree> {
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
        Ok(TenantTree { root: root.to_path_buf(), dir })
    }

    /// The folder on the host (for spawning tools that run inside a sandbox, never for reading).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The capability itself, for walking the tree.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Reads a metadata file as text: `Ok(None)` when it does not exist; refused when it (the
    /// last component) is a symbolic link, when a folder on the way leaves the tree, when it is
    /// not a regular file or over `limit` bytes.
    pub fn read_metadata(&self, path: UntrustedPath<'_>, limit: u64) -> Result<Option<String>, TreeError> {
        let meta = match self.symlink_metadata(path) {
            Ok(meta) => meta,
            Err(TreeError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            return Err(TreeError::Symlink(path.shown()));
        }
        if !meta.is_file() {
            return Err(TreeError::NotAFile(path.shown()));
        }
        let bytes = self.read(path, limit)?;
        String::from_utf8(bytes).map(Some).map_err(|_| TreeError::NotText(path.shown()))
    }

    /// Fails on the first of [`METADATA_FILES`] that is a symbolic link (or lies behind a link
    /// leaving the tree); missing files are fine.
    pub fn refuse_linked_metadata(&self) -> Result<(), TreeError> {
        for name in METADATA_FILES {
            let path = UntrustedPath::new(*name);
            match self.symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(TreeError::Symlink(path.shown())),
                Ok(_) => {}
                Err(TreeError::Io { source, .. }) if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads a file (a component): symbolic links are followed only while they stay inside the
    /// tree; refused when it is not a regular file or over `limit` bytes.
    pub fn read(&self, path: UntrustedPath<'_>, limit: u64) -> Result<Vec<u8>, TreeError> {
        // Checked before opening: opening a FIFO would block the host until a writer came.
        if !self.dir.metadata(path.0).map_err(|e| classify(path, e))?.is_file() {
            return Err(TreeError::NotAFile(path.shown()));
        }
        let file = self.dir.open(path.0).map_err(|e| classify(path, e))?;
        let meta = file.metadata().map_err(|e| classify(path, e))?;
        if !meta.is_file() {
            return Err(TreeError::NotAFile(path.shown()));
        }
        if meta.len() > limit {
            return Err(TreeError::TooLarge { path: path.shown(), limit });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| classify(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(TreeError::TooLarge { path: path.shown(), limit });
        }
        Ok(bytes)
    }

    /// Whether `path` is a regular file inside the tree (links followed only inside it).
    pub fn is_file(&self, path: UntrustedPath<'_>) -> bool {
        self.dir.metadata(path.0).is_ok_and(|m| m.is_file())
    }

    /// The metadata of `path` itself (a link is not followed); folders on the way stay inside.
    pub fn symlink_metadata(&self, path: UntrustedPath<'_>) -> Result<Metadata, TreeError> {
        self.dir.symlink_metadata(path.0).map_err(|e| classify(path, e))
    }

    /// Every path below the root, relative to it, sorted so parents come before their children;
    /// links are listed, never followed.
    pub fn walk(&self) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(relative) = stack.pop() {
            let dir = if relative.as_os_str().is_empty() { self.dir.try_clone()? } else { self.dir.open_dir_nofollow(&relative)? };
            for entry in dir.entries()? {
                let entry = entry?;
                let child = relative.join(entry.file_name());
                if entry.file_type()?.is_dir() {
                    stack.push(child.clone());
                }
                out.push(child);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// `open_dir` that refuses a link (a folder swapped for a link while walking).
trait OpenDirNoFollow {
    fn open_dir_nofollow(&self, path: &Path) -> io::Result<Dir>;
}

impl OpenDirNoFollow for Dir {
    fn open_dir_nofollow(&self, path: &Path) -> io::Result<Dir> {
        if self.symlink_metadata(path)?.file_type().is_symlink() {
            return Err(io::Error::other(format!("{} is a symbolic link, not a folder", path.display())));
        }
        self.open_dir(path)
    }
}

/// cap-std answers a path that would leave the tree with `PermissionDenied` (the host runs as
/// root, so that is what it means here).
fn classify(path: UntrustedPath<'_>, error: io::Error) -> TreeError {
    match error.kind() {
        io::ErrorKind::PermissionDenied => TreeError::Outside(path.shown()),
        _ => TreeError::Io { path: path.shown(), source: error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree_with_secret() -> (tempfile::TempDir, tempfile::TempDir, TenantTree) {
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("secret"), "web: the-operator-key\n").unwrap();
        let app = tempfile::tempdir().unwrap();
        std::fs::write(app.path().join("real"), "web: app.wasm\n").unwrap();
        symlink(host.path().join("secret"), app.path().join("Procfile")).unwrap();
        symlink("real", app.path().join("inner-link")).unwrap();
        symlink(host.path(), app.path().join("out")).unwrap();
        symlink("../../..", app.path().join("up")).unwrap();
        let tree = TenantTree::open(app.path()).unwrap();
        (host, app, tree)
    }

    #[test]
    fn a_metadata_file_that_is_a_symlink_is_refused_without_quoting_its_target() {
        let (_host, _app, tree) = tree_with_secret();
        let error = tree.read_metadata(UntrustedPath::new("Procfile"), MAX_METADATA_SIZE).unwrap_err();
        assert_eq!(error.to_string(), "Procfile is a symbolic link; paas does not follow links in metadata files");
        let error = tree.read_metadata(UntrustedPath::new("inner-link"), MAX_METADATA_SIZE).unwrap_err();
        assert!(matches!(error, TreeError::Symlink(_)), "even a link inside the tree: {error}");
        assert_eq!(tree.read_metadata(UntrustedPath::new("missing"), 10).unwrap(), None);
        assert_eq!(tree.read_metadata(UntrustedPath::new("real"), 100).unwrap().unwrap(), "web: app.wasm\n");
    }

    #[test]
    fn reads_never_leave_the_tree() {
        let (_host, _app, tree) = tree_with_secret();
        for path in ["out/secret", "up/etc/passwd", "../secret", "/etc/passwd", "Procfile"] {
            let error = tree.read(UntrustedPath::new(path), 1 << 20).unwrap_err();
            assert!(matches!(error, TreeError::Outside(_)), "{path}: {error}");
            assert!(!error.to_string().contains("operator-key"));
            assert!(!tree.is_file(UntrustedPath::new(path)), "{path}");
        }
        let error = tree.read_metadata(UntrustedPath::new("out/secret"), 100).unwrap_err();
        assert!(matches!(error, TreeError::Outside(_)), "{error}");
        assert_eq!(tree.read(UntrustedPath::new("inner-link"), 100).unwrap(), b"web: app.wasm\n");
        let error = tree.read(UntrustedPath::new("real"), 5).unwrap_err();
        assert_eq!(error.to_string(), "real is larger than the limit of 5 bytes");
    }

    #[test]
    fn a_fifo_or_folder_is_refused_without_blocking() {
        let (_host, app, tree) = tree_with_secret();
        let made = std::process::Command::new("mkfifo").arg(app.path().join("fifo")).status().unwrap();
        assert!(made.success());
        std::fs::create_dir(app.path().join("dir")).unwrap();
        for name in ["fifo", "dir"] {
            let error = tree.read_metadata(UntrustedPath::new(name), 100).unwrap_err();
            assert_eq!(error.to_string(), format!("{name} is not a regular file"));
            assert!(matches!(tree.read(UntrustedPath::new(name), 100), Err(TreeError::NotAFile(_))));
        }
    }

    #[test]
    fn walks_without_following_links() {
        let (_host, app, tree) = tree_with_secret();
        std::fs::create_dir(app.path().join("sub")).unwrap();
        std::fs::write(app.path().join("sub/f"), "x").unwrap();
        let listed: Vec<String> = tree.walk().unwrap().iter().map(|p| p.display().to_string()).collect();
        assert_eq!(listed, ["Procfile", "inner-link", "out", "real", "sub", "sub/f", "up"]);
    }
}
