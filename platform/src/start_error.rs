//! [`StartError`]: why `paas server` could not start, or stopped on a failure. It is the error of
//! paas-node's composition root and of what it calls here while starting: the server's TLS
//! material ([`crate::tls`]) and this node's registration ([`crate::grid::agent`]). Each variant
//! says what failed and keeps its cause as the error's source, so the CLI's `{:#}` prints the
//! whole chain (`cannot open the ledger: …`).

use std::net::SocketAddr;

use crate::ledger::LedgerError;

/// A library's error kept whole as the cause of a [`StartError::Step`] or [`StartError::Invalid`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why `paas server` could not start, or stopped on a failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A flag's value cannot be used (`--join` without a PostgreSQL ledger, an `--egress-allow`
    /// range over the dyno network, a URL of another scheme); the message says which and what to
    /// do.
    #[error("{0}")]
    Config(String),
    /// A file or folder of the server's could not be made, read or written; the message names
    /// it (and its flag).
    #[error("{what}")]
    File {
        /// What could not be done, naming the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds something else than it should (a key that is not PEM, a certificate that
    /// does not go with its key, a `node-key` of another shape); the message names it.
    #[error("{what}")]
    Invalid {
        /// What is wrong, naming the file.
        what: String,
        /// Why it could not be read, when a library said.
        #[source]
        source: Option<BoxError>,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} for {purpose}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What listens there (`the API`, `the router over HTTPS (--router-tls-listen)`).
        purpose: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A part of the server could not be set up or started, or failed while it ran; `step`
    /// says which (`cannot set up TLS`, `the router failed`).
    #[error("{step}")]
    Step {
        /// The step, as the operator reads it.
        step: &'static str,
        /// What failed in it.
        #[source]
        source: BoxError,
    },
    /// An I/O error with nothing more to say (the address of a bound listener).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl StartError {
    /// `map_err` for a failed step of the server: `.map_err(StartError::step("cannot set up TLS"))`.
    pub fn step<E: Into<BoxError>>(step: &'static str) -> impl FnOnce(E) -> StartError {
        move |source| StartError::Step { step, source: source.into() }
    }

    /// `map_err` for a file or folder: `.map_err(StartError::file(|| format!("cannot write {}", …)))`.
    pub fn file(what: impl FnOnce() -> String) -> impl FnOnce(std::io::Error) -> StartError {
        move |source| StartError::File { what: what(), source }
    }

    /// `map_err` for a file whose content is wrong, with the library's reason as the cause.
    pub fn invalid<E: Into<BoxError>>(what: impl FnOnce() -> String) -> impl FnOnce(E) -> StartError {
        move |source| StartError::Invalid { what: what(), source: Some(source.into()) }
    }

    /// `map_err` for a listener that could not be bound at `addr`.
    pub fn listen(addr: SocketAddr, purpose: &'static str) -> impl FnOnce(std::io::Error) -> StartError {
        move |source| StartError::Listen { addr, purpose, source }
    }
}
