//! App setups (`POST /app-setups`, app.json) as the ledger keeps them: each setup's app, build,
//! status and postdeploy outcome, so that `GET /app-setups/{id}` answers on any node of a grid
//! and after a restart. A setup belongs to its app and goes with it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ledger::Result;

/// The statuses of a setup (Heroku's).
pub const PENDING: &str = "pending";
/// Made, built, scaled, postdeploy run.
pub const SUCCEEDED: &str = "succeeded";
/// Something failed; `failure_message` says what.
pub const FAILED: &str = "failed";

/// An app setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSetup {
    /// Its id.
    pub id: Uuid,
    /// The app it made.
    pub app_id: Uuid,
    /// The app's first build.
    pub build_id: Option<Uuid>,
    /// [`PENDING`], [`SUCCEEDED`] or [`FAILED`].
    pub status: String,
    /// Why it failed.
    pub failure_message: Option<String>,
    /// `scripts.postdeploy`'s last lines of output and exit code, once it ran.
    pub postdeploy: Option<(String, i32)>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl AppSetup {
    /// A new pending setup of `app_id` waiting for `build_id`, made now (microseconds, as the
    /// ledgers keep them).
    pub fn pending(app_id: Uuid, build_id: Uuid) -> Self {
        use chrono::SubsecRound;
        let now = Utc::now().trunc_subsecs(6);
        AppSetup {
            id: Uuid::new_v4(),
            app_id,
            build_id: Some(build_id),
            status: PENDING.into(),
            failure_message: None,
            postdeploy: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The app setups table.
#[async_trait]
pub trait AppSetupLedger: Send + Sync {
    /// Records a new setup (of a live app).
    async fn create_app_setup(&self, setup: &AppSetup) -> Result<()>;
    /// A setup by id (`None` when there is none, or its app was destroyed).
    async fn find_app_setup(&self, id: Uuid) -> Result<Option<AppSetup>>;
    /// Ends a pending setup with `status` (and why, and postdeploy's outcome); a setup that
    /// has ended already is left as it is. Answers the setup as it now is.
    async fn finish_app_setup(
        &self,
        id: Uuid,
        status: &str,
        failure_message: Option<&str>,
        postdeploy: Option<(&str, i32)>,
    ) -> Result<Option<AppSetup>>;
}
