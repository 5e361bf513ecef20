//! One `ps` across the grid: `GET /apps/{app}/dynos` (`paas ps`, `heroku ps`) lists the app's
//! dynos of every node, whichever node answers. [`GridDynos`] wraps this node's directory: it
//! asks each other node that is up for its dynos of the app (`GET /grid/apps/{id}/dynos`, node
//! key only: [`serve`]) and lists them with the name of the node that runs them. A node that
//! does not answer within [`ASK_TIMEOUT`] is left out (and logged). One-off dynos start on this
//! node.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, State};
use uuid::Uuid;

use super::auth::NodeCaller;
use super::peers::Peers;
use crate::api::{ApiError, AppState};
use crate::model::{App, Dyno};
use crate::serving::{DynoDirectory, OneOff, OneOffError, OneOffRequest};

/// How long a listing waits for another node.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// This node's own directory, for the other nodes' requests (never asks further).
#[derive(Clone)]
pub struct LocalDynos(pub Arc<dyn DynoDirectory>);

/// `GET /grid/apps/{app_id}/dynos`: this node's dynos of the app, for another node's listing.
pub async fn serve(
    NodeCaller(_node): NodeCaller,
    State(state): State<AppState>,
    Extension(LocalDynos(local)): Extension<LocalDynos>,
    Path(app_id): Path<Uuid>,
) -> Result<Json<Vec<Dyno>>, ApiError> {
    let app = super::peers::app_asked(&state, app_id).await?;
    Ok(Json(local.dynos(&app).await))
}

/// This node's directory, listing the other nodes' dynos too.
pub struct GridDynos {
    local: Arc<dyn DynoDirectory>,
    peers: Peers,
}

impl GridDynos {
    /// Wraps `local`; asks the nodes `peers` finds.
    pub fn new(local: Arc<dyn DynoDirectory>, peers: Peers) -> GridDynos {
        GridDynos { local, peers }
    }
}

#[async_trait::async_trait]
impl DynoDirectory for GridDynos {
    async fn dynos(&self, app: &App) -> Vec<Dyno> {
        self.dynos_by_node(app).await.into_iter().map(|(dyno, _)| dyno).collect()
    }

    async fn dynos_by_node(&self, app: &App) -> Vec<(Dyno, Option<String>)> {
        let here = self.peers.agent().name().to_string();
        let mut all: Vec<(Dyno, Option<String>)> =
            self.local.dynos(app).await.into_iter().map(|dyno| (dyno, Some(here.clone()))).collect();
        let others = self.peers.others().await;
        let (path, peers) = (&format!("/grid/apps/{}/dynos", app.id), &self.peers);
        let asked = others.iter().map(|node| async move {
            let answer = match peers.get(node, path, Some(ASK_TIMEOUT)).await {
                Ok(response) => response.json::<Vec<Dyno>>().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            (node, answer)
        });
        for (node, answer) in futures::future::join_all(asked).await {
            match answer {
                Ok(dynos) => {
                    // Only the app asked about, whatever a node sends.
                    let dynos = dynos.into_iter().filter(|dyno| dyno.app_id == app.id);
                    all.extend(dynos.map(|dyno| (dyno, Some(node.name.clone()))));
                }
                Err(e) => tracing::warn!(node = %node.name, app = %app.name, "dynos of node {} not listed: {e}", node.name),
            }
        }
        all.sort_by(|(a, _), (b, _)| order(a).cmp(&order(b)));
        all
    }

    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        self.local.start_oneoff(app, request).await
    }

    async fn oneoffs_running(&self, app: &App) -> usize {
        self.local.oneoffs_running(app).await
    }
}

/// By process type, then number (`web.2` before `web.10`).
fn order(dyno: &Dyno) -> (&str, u64, &str) {
    let number = dyno.name.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(u64::MAX);
    (dyno.process_type.as_str(), number, dyno.name.as_str())
}
