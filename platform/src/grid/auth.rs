//! Node-to-node authentication: a node presents its key (`Authorization: Node <key>`, the key
//! in its data dir's `node-key`, stored hashed in the ledger) and [`NodeCaller`] extracts the
//! node it belongs to. A user's API key is not a node key, nor the other way round.
//!
//! Requests one node's router forwards to another's carry a *hop secret* instead
//! ([`hop_secret`]): derived from the node key with its own label, stored hashed beside the
//! key's hash, and checked only by routers. A hop header captured on the wire is therefore not
//! the node key: it opens no `/grid/*` endpoint and no API.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderValue;

pub use paas_ledger::grid::hop_secret;

use super::Node;
use crate::api::{ApiError, AppState};

/// The `Authorization` scheme of node keys.
pub const SCHEME: &str = "Node";

/// The `Authorization` header a node sends with its key.
pub fn authorization(key: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{SCHEME} {key}")).ok()
}

/// The value of a forwarded request's hop header for the node whose key is `key`.
pub fn hop_credential(key: &str) -> Option<HeaderValue> {
    authorization(&hop_secret(key))
}

/// The node calling, authenticated by its key; anything else is a 401.
#[derive(Debug, Clone)]
pub struct NodeCaller(pub Node);

/// The key in an `Authorization: Node <key>` header.
fn node_key(parts: &Parts) -> Option<&str> {
    key_of(parts.headers.get(http::header::AUTHORIZATION)?)
}

/// The key in a `Node <key>` value (what [`authorization`] makes); `None` for any other value.
pub fn key_of(value: &HeaderValue) -> Option<&str> {
    let (scheme, key) = value.to_str().ok()?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case(SCHEME).then_some(key.trim())
}

impl FromRequestParts<AppState> for NodeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<NodeCaller, ApiError> {
        let Some(key) = node_key(parts) else { return Err(ApiError::unauthorized()) };
        match state.ledger.authenticate_node(key).await? {
            Some(node) => Ok(NodeCaller(node)),
            None => Err(ApiError::unauthorized()),
        }
    }
}
