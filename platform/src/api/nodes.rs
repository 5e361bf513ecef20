//! The grid's endpoints (not Heroku's): `GET /nodes` lists the nodes with their dynos and free
//! capacity, `POST /nodes/tokens` issues a join token (both operators only, 403 otherwise), and
//! `GET /grid/node` answers a node calling with its node key ([`NodeCaller`]) with its record.
//! Who may call each is in the permission table (`permissions.rs`).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{Value, json};

use super::{ApiError, AppState, CurrentUser};
use crate::grid::auth::NodeCaller;
use crate::grid::placement::Demand;
use crate::ledger::AppFilter;

/// How long a join token is valid.
pub const JOIN_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// `GET /nodes`: every node, with its dynos (`app`, `name`) and what is used and free.
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ledger = &state.ledger;
    let nodes = ledger.list_nodes().await?;
    let assignments = ledger.list_assignments().await?;
    let names: HashMap<_, _> = ledger.list_apps(AppFilter::All).await?.into_iter().map(|a| (a.id, a.name)).collect();
    let demands: HashMap<_, _> =
        ledger.formation_demands().await?.into_iter().map(|f| ((f.app, f.process_type), f.demand)).collect();
    let body = nodes
        .iter()
        .map(|node| {
            let mut used = Demand { memory_mib: 0, millicores: 0 };
            let mut dynos = Vec::new();
            for a in assignments.iter().filter(|a| a.node_id == node.id && a.epoch == node.epoch && node.up) {
                if let Some(demand) = demands.get(&(a.dyno.app, a.dyno.process_type.clone())) {
                    used.memory_mib += demand.memory_mib;
                    used.millicores += demand.millicores;
                }
                let app = names.get(&a.dyno.app).cloned().unwrap_or_else(|| a.dyno.app.to_string());
                dynos.push(json!({ "app": app, "name": a.dyno.name(), "type": a.dyno.process_type }));
            }
            let capacity = node.capacity;
            json!({
                "id": node.id,
                "name": node.name,
                "state": if node.up { "up" } else { "down" },
                "api_url": node.api_url,
                "router_url": node.router_url,
                "version": node.version,
                "epoch": node.epoch,
                "registered_at": node.registered_at,
                "heartbeat_at": node.heartbeat_at,
                "lease_expires_at": node.lease_expires_at,
                "capacity": capacity,
                "used": used,
                "free": {
                    "memory_mib": capacity.memory_mib.saturating_sub(used.memory_mib),
                    "millicores": capacity.millicores.saturating_sub(used.millicores),
                },
                "dynos": dynos,
            })
        })
        .collect();
    Ok(Json(Value::Array(body)))
}

/// `POST /nodes/tokens`: a join token for a new node, valid for an hour, shown once.
pub(super) async fn create_token(State(state): State<AppState>, caller: CurrentUser) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (token, expires_at) = state.ledger.create_join_token(caller.user.id, JOIN_TOKEN_TTL).await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "expires_at": expires_at }))))
}

/// `GET /grid/node`: the calling node's record (node key only).
pub(super) async fn whoami(NodeCaller(node): NodeCaller) -> Json<Value> {
    Json(json!(node))
}
