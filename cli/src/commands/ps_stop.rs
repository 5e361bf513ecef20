//! `paas ps:stop DYNO`: stops one dyno (the scheduler starts a fresh one while the formation
//! still asks for it).

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};
use crate::usage::usage_bail;

/// Stop one dyno, e.g. web.1.
#[derive(Debug, Args)]
pub struct PsStopCommand {
    /// The dyno's name, e.g. web.1.
    dyno: String,
    #[command(flatten)]
    app: AppArg,
}

impl PsStopCommand {
    /// `POST /apps/{app}/dynos/{dyno}/actions/stop`.
    pub async fn run(self) -> Result<()> {
        if !self.dyno.contains('.') {
            usage_bail!(
                "{:?} is not a dyno name: type one like `paas ps:stop {}.1` (to stop every {0} dyno, `paas ps:scale {0}=0`)",
                self.dyno,
                self.dyno
            );
        }
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Stopping dyno {} on {}", self.dyno, output::app(&name)));
        api.post(&format!("/apps/{}/dynos/{}/actions/stop", seg(&name), seg(&self.dyno)), &serde_json::json!({}))
            .await?;
        action.done();
        Ok(())
    }
}
