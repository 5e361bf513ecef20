//! Another node's measurements of an app, for the grid's autoscaler: `GET
//! /grid/apps/{app_id}/latency` (node key) answers this node's router's response-time histogram of
//! the app's web process, cumulative since the node started (`{"counts": [79 counts], "sum_us"}`,
//! the buckets of [`paas_metrics::bounds_us`] and the one past them).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use paas_metrics::{BOUNDS, Buckets, Metrics};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{ApiError, AppState};
use crate::grid::Node;
use crate::grid::auth::NodeCaller;
use crate::grid::peers::{PeerError, Peers};

/// How long the autoscaler waits for a node's answer.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// A histogram on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct Latency {
    /// Count per bucket, not cumulative ([`BOUNDS`] + 1 of them).
    pub counts: Vec<u64>,
    /// Sum of the recorded times, µs.
    pub sum_us: u64,
}

/// `GET /grid/apps/{app_id}/latency`: this node's web response-time histogram of the app.
pub async fn serve(
    NodeCaller(_node): NodeCaller,
    State(state): State<AppState>,
    registry: Option<axum::Extension<Arc<Metrics>>>,
    Path(app_id): Path<Uuid>,
) -> Result<Json<Latency>, ApiError> {
    let app = crate::grid::peers::app_asked(&state, app_id).await?;
    let buckets = registry.and_then(|axum::Extension(m)| m.get(&app.name)).map(|m| m.web.snapshot().latency).unwrap_or_default();
    Ok(Json(Latency { counts: buckets.counts.to_vec(), sum_us: buckets.sum_us }))
}

/// Asks `node` for its histogram of the app `app_id`.
pub async fn fetch(peers: &Peers, node: &Node, app_id: Uuid) -> Result<Buckets, PeerError> {
    let path = format!("/grid/apps/{app_id}/latency");
    let answer: Latency = peers
        .get(node, &path, Some(FETCH_TIMEOUT))
        .await?
        .json()
        .await
        .map_err(|e| PeerError::Http(format!("not a histogram: {e}")))?;
    let counts: [u64; BOUNDS + 1] =
        answer.counts.try_into().map_err(|c: Vec<u64>| PeerError::Http(format!("{} buckets, not {}", c.len(), BOUNDS + 1)))?;
    Ok(Buckets { counts, sum_us: answer.sum_us })
}
