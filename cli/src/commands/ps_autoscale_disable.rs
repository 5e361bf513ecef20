//! `paas ps:autoscale:disable web`: stops autoscaling a process type; the formation stays as
//! autoscaling left it (`DELETE /apps/{app}/formation/{type}/autoscaling`).

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Disable autoscaling of a process type (the dynos running stay).
#[derive(Debug, Args)]
pub struct PsAutoscaleDisableCommand {
    /// The process type.
    #[arg(default_value = "web")]
    process_type: String,
    #[command(flatten)]
    app: AppArg,
}

impl PsAutoscaleDisableCommand {
    /// `DELETE /apps/{app}/formation/{type}/autoscaling`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let action = Action::start(&format!("Disabling autoscaling of {} on {}", self.process_type, output::app(&name)));
        let path = format!("/apps/{}/formation/{}/autoscaling", seg(&name), seg(&self.process_type));
        credentials::connect()?.delete(&path).await?;
        action.done();
        Ok(())
    }
}
