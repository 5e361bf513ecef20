//! `paas domains:remove HOSTNAME`: removes a custom domain from an app.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Remove a custom domain from an app.
#[derive(Debug, Args)]
pub struct DomainsRemoveCommand {
    /// The hostname, e.g. www.example.com.
    hostname: String,
    #[command(flatten)]
    app: AppArg,
}

impl DomainsRemoveCommand {
    /// `DELETE /apps/{app}/domains/{hostname}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Removing {} from {}", self.hostname, output::app(&name)));
        api.delete(&format!("/apps/{}/domains/{}", seg(&name), seg(&self.hostname))).await?;
        action.done();
        Ok(())
    }
}
