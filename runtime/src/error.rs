//! The errors at this crate's boundary. `wasmtime::Error`s are turned into text (with their
//! whole cause chain) where they enter, so every variant here is plain data.

use std::path::PathBuf;
use std::time::Duration;

use crate::component::ComponentKind;

/// Formats a wasmtime error with its cause chain (`{:#}`).
pub(crate) fn chain(e: &wasmtime::Error) -> String {
    format!("{e:#}")
}

/// Why a component could not be loaded. Every problem with a component is found at load,
/// never at the first request.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read component `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component: {reason}")]
    NotAComponent {
        /// What was found instead.
        reason: String,
    },
    /// The component failed validation or compilation.
    #[error("invalid component: {detail}")]
    Invalid {
        /// wasmtime's error chain.
        detail: String,
    },
    /// The component imports interfaces the host does not provide.
    #[error("component imports {} which this host does not provide", .missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))]
    MissingImports {
        /// The missing imports, by name (`package/interface@version`).
        missing: Vec<String>,
        /// wasmtime's error chain for the first one.
        detail: String,
    },
    /// The component exports neither `wasi:http/incoming-handler` nor `wasi:cli/run`.
    #[error(
        "unsupported world: the component exports neither `wasi:http/incoming-handler@0.2.x` (web) nor `wasi:cli/run@0.2.x` (worker, one-off); it exports [{}]",
        .exports.join(", ")
    )]
    UnsupportedWorld {
        /// What the component exports.
        exports: Vec<String>,
    },
    /// The compiled-code cache could not be written or read.
    #[error("component cache `{path}`: {source}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why a component named by a slug (its manifest or Procfile) could not be loaded from the
/// app's tree ([`crate::Runtime::load_slug_component`]).
#[derive(Debug, thiserror::Error)]
pub enum SlugComponentError {
    /// The app's folder could not be opened.
    #[error("cannot open the app's folder: {0}")]
    OpenTree(std::io::Error),
    /// The file could not be read inside the tree (a link out, not a regular file, too large…).
    #[error(transparent)]
    Read(#[from] paas_sandbox::tree::TreeError),
    /// The file is not a component this host can run.
    #[error("{path}: {error}")]
    Load {
        /// The path as the slug names it.
        path: String,
        /// Why it could not be loaded.
        error: LoadError,
    },
}

/// Why the runtime itself could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime rejected the engine configuration.
    #[error("cannot create the wasmtime engine: {detail}")]
    Engine {
        /// wasmtime's error chain.
        detail: String,
    },
    /// A runtime directory could not be created.
    #[error("cannot create `{path}`: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The egress policy could not be set up (the node's addresses could not be read).
    #[error("cannot set up the egress policy: {0}")]
    Egress(#[from] paas_sandbox::egress::EgressError),
}

/// Why a dyno could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The component's world does not fit the kind of dyno.
    #[error("a {wanted} dyno needs a {wanted} component, but this component is a {found} component")]
    WrongKind {
        /// The kind the dyno needs.
        wanted: ComponentKind,
        /// The component's kind.
        found: ComponentKind,
    },
    /// The dyno's scratch directory or its `/app` directory could not be set up.
    #[error("cannot set up the filesystem of dyno {dyno}: {detail}")]
    Filesystem {
        /// The dyno's name.
        dyno: String,
        /// What failed.
        detail: String,
    },
    /// The dyno's spec is not usable.
    #[error("invalid dyno spec: {0}")]
    Spec(String),
}

/// Why one request to a web dyno got no response from the guest. Only the instance that served
/// the request is thrown away; the dyno keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// The guest did not finish within the request deadline.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The guest trapped (panic, out of memory, …).
    #[error("application error: {0}")]
    Trap(String),
    /// The guest tried to grow its memory past the dyno's limit (and trapped).
    #[error("Error R15 (Memory quota vastly exceeded): the instance tried to grow its memory past {} MiB", .limit_bytes >> 20)]
    MemoryExceeded {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The guest tried to grow its memory past what its app's instances may hold together (and
    /// trapped), once the app's idle instances were given back.
    #[error("Error R15 (Memory quota vastly exceeded): the app's instances together tried to grow past {} MiB", .limit_bytes >> 20)]
    AppMemoryExceeded {
        /// The app's share, in bytes.
        limit_bytes: usize,
    },
    /// The guest returned without setting a response.
    #[error("the application returned without a response")]
    NoResponse,
    /// The guest answered with a `wasi:http` error code instead of a response.
    #[error("the application answered with an error: {0}")]
    Guest(String),
    /// A new instance could not be created.
    #[error("cannot instantiate the application: {0}")]
    Instantiate(String),
    /// The dyno is stopping or stopped.
    #[error("the dyno is stopped")]
    Stopped,
}

impl HandleError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            HandleError::Timeout(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            HandleError::Stopped => http::StatusCode::SERVICE_UNAVAILABLE,
            HandleError::Guest(_) => http::StatusCode::BAD_GATEWAY,
            HandleError::Trap(_)
            | HandleError::MemoryExceeded { .. }
            | HandleError::AppMemoryExceeded { .. }
            | HandleError::NoResponse
            | HandleError::Instantiate(_) => {
                http::StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}
