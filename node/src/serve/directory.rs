//! The supervisor's dynos as the Platform API lists them (`GET /apps/{app}/dynos`, `paas ps`),
//! one-off dynos first, and one-off dynos started for the API ([`super::oneoff`]).

use std::collections::HashMap;
use std::sync::Arc;

use paas_platform::Ledger;
use paas_platform::model::{App, Dyno};
use paas_platform::serving::{DynoDirectory, OneOff, OneOffError, OneOffRequest};
use paas_runtime::DynoSize;
use sha2::{Digest, Sha256};

use crate::supervisor::Supervisor;

/// Lists the supervisor's dynos of an app, with the formation's size names (`Standard-2X`).
pub struct Directory {
    /// The supervisor.
    pub supervisor: Supervisor,
    /// The ledger, for the formation's size names.
    pub ledger: Arc<dyn Ledger>,
    /// The node's one-off dynos.
    pub oneoffs: Arc<super::oneoff::OneOffs>,
}

#[async_trait::async_trait]
impl DynoDirectory for Directory {
    async fn dynos(&self, app: &App) -> Vec<Dyno> {
        let sizes: HashMap<String, String> = match self.ledger.list_formation(app.id).await {
            Ok(formation) => formation.into_iter().map(|f| (f.process_type, f.size)).collect(),
            Err(_) => HashMap::new(),
        };
        let formation = self.supervisor.dynos(&app.name).await.into_iter().map(|d| Dyno {
                id: dyno_id(app, &d.name),
                app_id: app.id,
                name: d.name,
                size: sizes.get(&d.process_type).cloned().unwrap_or_else(|| size_name(d.size).to_string()),
                process_type: d.process_type,
                command: d.command,
                state: d.state.as_str().to_string(),
                release_version: d.release,
                created_at: d.created.into(),
                updated_at: d.since.into(),
            });
        self.oneoffs.of(&app.name).into_iter().chain(formation).collect()
    }

    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        self.oneoffs.start(app, request).await
    }

    async fn oneoffs_running(&self, app: &App) -> usize {
        self.oneoffs.of(&app.name).len()
    }
}

/// A stable id per (app, dyno name).
pub(super) fn dyno_id(app: &App, name: &str) -> uuid::Uuid {
    let digest = Sha256::new().chain_update(app.id.as_bytes()).chain_update(name.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn size_name(size: DynoSize) -> &'static str {
    match size {
        DynoSize::Basic => "Basic",
        DynoSize::Standard => "Standard-1X",
        DynoSize::Performance => "Performance-M",
    }
}
