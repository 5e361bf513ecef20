//! [`SandboxError`]: why a container could not be prepared, started or controlled.

use std::path::{Path, PathBuf};

/// Why a container could not be prepared, started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The runtime binary is missing or broken, or cannot run containers here (not root).
    #[error("cannot run the container runtime `{}`: {detail} (install runc, or pass --container-runtime PATH)", .binary.display())]
    Runtime {
        /// The binary.
        binary: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A runtime command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its standard error.
        detail: String,
    },
    /// A file or directory of the bundle could not be written.
    #[error("cannot prepare `{}`: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The OCI configuration could not be built or saved.
    #[error("cannot write the container's config.json: {0}")]
    Bundle(#[from] oci_spec::OciSpecError),
    /// The container's plan is not usable.
    #[error("invalid container: {0}")]
    Spec(String),
    /// The container's network namespace could not be made.
    #[error("cannot make the container's network: {0}")]
    Network(#[from] crate::net::NetError),
    /// The pseudo-terminal of a container on a terminal could not be opened.
    #[error("cannot open a pseudo-terminal for the container: {0}")]
    Terminal(#[source] std::io::Error),
    /// Every uid of the node's range is in use.
    #[error("too many containers on this node (at most {0})")]
    Full(u32),
}

/// Maps an I/O error on `path` to [`SandboxError::Io`].
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io { path, source }
}
