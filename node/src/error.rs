//! [`ServeError`]: why the serving side could not read or run an app's release (its desired
//! state, its slug, the routes to other nodes). The reconcile loop logs it with its causes
//! ([`chain`]) and tries again at the next sweep; a one-off dyno answers it as
//! `OneOffError::Failed`.

use paas_platform::LedgerError;

/// Why the serving side could not read or run an app's release.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The current release names a slug the ledger does not have.
    #[error("the release's slug is not in the ledger")]
    SlugMissing,
    /// The slug could not be fetched from the node of the grid that built it.
    #[error("cannot fetch slug {checksum}")]
    FetchSlug {
        /// The slug's checksum.
        checksum: String,
        /// Why.
        #[source]
        source: paas_platform::grid::slugs::FetchError,
    },
    /// The slug could not be unpacked for dynos.
    #[error("cannot unpack slug {checksum}")]
    UnpackSlug {
        /// The slug's checksum.
        checksum: String,
        /// Why.
        #[source]
        source: paas_builder::store::StoreError,
    },
    /// Unpacking stopped before it ended (its task panicked or was cancelled).
    #[error("unpacking slug {checksum} stopped")]
    Unpacking {
        /// The slug's checksum.
        checksum: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The unpacked slug's manifest cannot be read.
    #[error("cannot read the manifest of {dir}")]
    Manifest {
        /// The unpacked slug's folder.
        dir: String,
        /// Why.
        #[source]
        source: paas_builder::slug::ArchiveError,
    },
    /// Another node's router URL names no address this node can reach it at; the message says why.
    #[error("{0}")]
    RouterUrl(String),
}

/// The error and its causes as one line, `cannot unpack slug 1a2b: no such file`, as logs and
/// one-off errors show it.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut said = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        said.push_str(": ");
        said.push_str(&e.to_string());
        cause = e.source();
    }
    said
}
