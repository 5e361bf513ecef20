//! Slugs travel between nodes. A node serves the slugs of its store to other nodes
//! (`GET /grid/slugs/{checksum}`, node key only: [`serve`]); a node that must run a dyno whose
//! slug it lacks fetches it from the nodes that are up ([`PeerSlugs`]), into a temporary file of
//! its store, bounded by the store's size limit, and keeps it only when its content hashes to the
//! checksum the ledger names. Concurrent requests for one slug download it once.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use paas_builder::{Slug, SlugStore, StoreError};

use super::Node;
use super::agent::Agent;
use super::auth::NodeCaller;
use crate::api::ApiError;
use crate::ledger::Ledger;

/// How long a node waits to connect to another, and for each read of a slug.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// The most one fetch from a peer may take in all (a peer trickling bytes within each read's
/// timeout would otherwise hold the app's setup, and the node's sweep behind it, until the size
/// limit): 10 minutes, as long as a build from a URL may take to fetch its source.
const FETCH_DEADLINE: Duration = Duration::from_secs(600);

/// `GET /grid/slugs/{checksum}`: the slug archive from this node's store, streamed. Only nodes
/// (their key) may ask; a checksum that is not 64 lowercase hex digits is a 400, an absent slug
/// a 404.
pub async fn serve(
    NodeCaller(_node): NodeCaller,
    Extension(store): Extension<SlugStore>,
    Path(checksum): Path<String>,
) -> Result<Response, ApiError> {
    let slug = match store.get(&checksum) {
        Ok(slug) => slug,
        Err(StoreError::InvalidId(_)) => {
            return Err(ApiError::bad_request("A slug checksum is a sha256 in lowercase hex (64 digits)."));
        }
        Err(StoreError::NotFound(_)) => return Err(ApiError::not_found(format!("No slug {checksum} on this node."))),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let file = match tokio::fs::File::open(&slug.path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("No slug {checksum} on this node.")));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        [(header::CONTENT_TYPE, "application/gzip".to_string()), (header::CONTENT_LENGTH, slug.size.to_string())],
        body,
    )
        .into_response())
}

/// Why a slug could not be fetched from any node.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No node that is up gave a slug with the right content.
    #[error("slug {checksum} is on no other node that is up (asked: {asked})")]
    Nowhere {
        /// The slug asked for.
        checksum: String,
        /// The nodes asked, and what each answered.
        asked: String,
    },
    /// Not a checksum.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger could not list the nodes.
    #[error("cannot list the nodes: {0}")]
    Ledger(String),
}

/// Why one node did not give the slug.
#[derive(Debug, thiserror::Error)]
enum PeerError {
    #[error("{0}")]
    Http(String),
    #[error("answered {0}")]
    Status(u16),
    #[error("slug of {size} bytes is over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Fetches slugs this node lacks from the other nodes of the grid.
pub struct PeerSlugs {
    ledger: Arc<dyn Ledger>,
    store: SlugStore,
    agent: Arc<Agent>,
    client: Result<reqwest::Client, String>,
    /// One lock per slug being fetched: a second request waits for the first download.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PeerSlugs {
    /// Fetches into `store` (bounded by its size limit) as `agent`'s node.
    pub fn new(ledger: Arc<dyn Ledger>, store: SlugStore, agent: Arc<Agent>) -> PeerSlugs {
        // TLS (an https api_url) by rustls with the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent("paas-grid")
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(PEER_TIMEOUT)
            .timeout(FETCH_DEADLINE)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"));
        PeerSlugs { ledger, store, agent, client, fetching: Mutex::default() }
    }

    /// Makes sure the slug `checksum` is in the store: there already, or fetched from the first
    /// node that is up and gives bytes hashing to `checksum`.
    pub async fn ensure(&self, checksum: &str) -> Result<(), FetchError> {
        if present(&self.store, checksum)? {
            return Ok(());
        }
        let lock = self.fetching.lock().unwrap_or_else(|e| e.into_inner()).entry(checksum.to_string()).or_default().clone();
        let result = {
            let _fetching = lock.lock().await;
            // A request that waited finds what the first one fetched.
            if present(&self.store, checksum)? { Ok(()) } else { self.fetch(checksum).await.map(|_| ()) }
        };
        let mut fetching = self.fetching.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&lock) == 2 {
            fetching.remove(checksum);
        }
        result
    }

    async fn fetch(&self, checksum: &str) -> Result<Slug, FetchError> {
        let nodes = self.ledger.list_nodes().await.map_err(|e| FetchError::Ledger(e.to_string()))?;
        let mut asked = Vec::new();
        for node in nodes.iter().filter(|node| node.up && node.id != self.agent.id) {
            match self.fetch_from(node, checksum).await {
                Ok(slug) => {
                    tracing::info!(node = %node.name, size = slug.size, "fetched slug {checksum} from node {}", node.name);
                    return Ok(slug);
                }
                // A node without it is no news; anything else (a mismatch, too large) is.
                Err(PeerError::Status(404)) => asked.push(format!("{}: does not have it", node.name)),
                Err(e) => {
                    tracing::warn!(node = %node.name, "slug {checksum} not taken from node {}: {e}", node.name);
                    asked.push(format!("{}: {e}", node.name));
                }
            }
        }
        let asked = if asked.is_empty() { "none".to_string() } else { asked.join("; ") };
        Err(FetchError::Nowhere { checksum: checksum.to_string(), asked })
    }

    async fn fetch_from(&self, node: &Node, checksum: &str) -> Result<Slug, PeerError> {
        let client = self.client.as_ref().map_err(|e| PeerError::Http(e.clone()))?;
        let url = format!("{}/grid/slugs/{checksum}", node.api_url.trim_end_matches('/'));
        let mut request = client.get(&url);
        if let Some(authorization) = self.agent.authorization() {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let mut response = request.send().await.map_err(|e| PeerError::Http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(PeerError::Status(response.status().as_u16()));
        }
        let limit = self.store.max_size();
        if let Some(size) = response.content_length().filter(|size| *size > limit) {
            return Err(PeerError::TooLarge { size, limit });
        }
        let store = self.store.clone();
        let id = checksum.to_string();
        let mut incoming = tokio::task::spawn_blocking(move || store.receive(&id))
            .await
            .map_err(|e| PeerError::Http(e.to_string()))??;
        while let Some(chunk) = response.chunk().await.map_err(|e| PeerError::Http(e.to_string()))? {
            if let Err(e) = incoming.write_all(&chunk) {
                return Err(match e.kind() {
                    std::io::ErrorKind::FileTooLarge => {
                        PeerError::TooLarge { size: incoming.received() + chunk.len() as u64, limit }
                    }
                    _ => PeerError::Store(e.into()),
                });
            }
        }
        // Hashed as it came: kept (renamed into place) only when it is the slug asked for.
        Ok(tokio::task::spawn_blocking(move || incoming.finish()).await.map_err(|e| PeerError::Http(e.to_string()))??)
    }
}

/// Whether the store holds `checksum` (an invalid checksum is an error).
fn present(store: &SlugStore, checksum: &str) -> Result<bool, StoreError> {
    match store.get(checksum) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
