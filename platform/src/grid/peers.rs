//! Requests to the other nodes of the grid: the nodes that are up besides this one, and an HTTP
//! client that sends this node's key ([`super::auth`]) to their APIs. Used to list an app's
//! dynos on every node ([`super::dynos`]) and to collate its log stream ([`super::logs`]).

use std::sync::Arc;
use std::time::Duration;

use axum::http::header;

use super::Node;
use super::agent::Agent;
use crate::api::{ApiError, AppState};
use crate::ledger::Ledger;
use crate::model::App;

/// How long a node waits to connect to another.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The other nodes, and how to ask them.
#[derive(Clone)]
pub struct Peers {
    ledger: Arc<dyn Ledger>,
    agent: Arc<Agent>,
    client: Result<reqwest::Client, String>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").field("node", &self.agent.id).finish_non_exhaustive()
    }
}

/// Why a node did not answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The request failed (not reached, timed out, cut).
    #[error("{0}")]
    Http(String),
    /// It answered an error status.
    #[error("answered {0}")]
    Status(u16),
}

impl Peers {
    /// Requests as `agent`'s node; nodes listed in `ledger`.
    pub fn new(ledger: Arc<dyn Ledger>, agent: Arc<Agent>) -> Peers {
        // TLS (an https api_url) by rustls with the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent("paas-grid")
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"));
        Peers { ledger, agent, client }
    }

    /// This node.
    pub fn agent(&self) -> &Arc<Agent> {
        &self.agent
    }

    /// The nodes that are up, except this one (none on a single node).
    pub async fn others(&self) -> Vec<Node> {
        if !self.agent.on_grid() {
            return Vec::new();
        }
        match self.ledger.list_nodes().await {
            Ok(nodes) => nodes.into_iter().filter(|node| node.up && node.id != self.agent.id).collect(),
            Err(e) => {
                tracing::warn!("cannot list the grid's nodes: {e}");
                Vec::new()
            }
        }
    }

    /// `GET {node's API}{path}` with this node's key; an error status is an error.
    pub async fn get(&self, node: &Node, path: &str, timeout: Option<Duration>) -> Result<reqwest::Response, PeerError> {
        let client = self.client.as_ref().map_err(|e| PeerError::Http(e.clone()))?;
        let mut request = client.get(format!("{}{path}", node.api_url.trim_end_matches('/')));
        if let Some(authorization) = self.agent.authorization() {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(|e| PeerError::Http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(PeerError::Status(response.status().as_u16()));
        }
        Ok(response)
    }
}

/// The live app another node asks about, by id (never by name: a name may have moved on).
pub async fn app_asked(state: &AppState, app_id: uuid::Uuid) -> Result<App, ApiError> {
    state
        .ledger
        .find_app(&app_id.to_string())
        .await?
        .filter(|app| app.id == app_id)
        .ok_or_else(|| ApiError::not_found("Couldn't find that app."))
}
