//! `paas scheduler:remove ID`: an app's scheduled job runs no more.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Remove a scheduled job (by id, or the start of it that names one job).
#[derive(Debug, Args)]
pub struct SchedulerRemoveCommand {
    /// The job's id, as `paas scheduler` lists it.
    id: String,
    #[command(flatten)]
    app: AppArg,
}

impl SchedulerRemoveCommand {
    /// `DELETE /apps/{app}/scheduled-jobs/{id}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let job = api.delete(&format!("/apps/{}/scheduled-jobs/{}", seg(&name), seg(&self.id))).await?;
        println!(
            "Removed scheduled job {} (`{}`) from {}",
            job["id"].as_str().unwrap_or(&self.id),
            job["command"].as_str().unwrap_or(""),
            output::app(&name)
        );
        Ok(())
    }
}
