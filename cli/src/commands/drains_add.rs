//! `paas drains:add URL`: forwards an app's log stream to a syslog or HTTP endpoint.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::LogDrainView;

/// Add a log drain: syslog://host:port or http://host/path.
#[derive(Debug, Args)]
pub struct DrainsAddCommand {
    /// Where to send the app's log lines.
    url: String,
    #[command(flatten)]
    app: AppArg,
}

impl DrainsAddCommand {
    /// `POST /apps/{app}/log-drains {"url"}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let drain: LogDrainView = parse(api.post(&format!("/apps/{}/log-drains", seg(&name)), &json!({ "url": self.url })).await?)?;
        println!("Successfully added drain {} ({})", self.url, drain.token);
        Ok(())
    }
}
