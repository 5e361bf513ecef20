//! `paas drains:remove URL_OR_TOKEN`: stops forwarding an app's log stream to a drain.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;

/// Remove a log drain.
#[derive(Debug, Args)]
pub struct DrainsRemoveCommand {
    /// The drain's URL, token or id.
    drain: String,
    #[command(flatten)]
    app: AppArg,
}

impl DrainsRemoveCommand {
    /// `DELETE /apps/{app}/log-drains/{url_or_token}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let drain = api.delete(&format!("/apps/{}/log-drains/{}", seg(&name), seg(&self.drain))).await?;
        println!("Successfully removed drain {}", drain["url"].as_str().unwrap_or(&self.drain));
        Ok(())
    }
}
