//! `paas drains`: lists an app's log drains (`URL (token)`).

use anyhow::Result;
use clap::Args;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::LogDrainView;
use crate::output;

/// List an app's log drains.
#[derive(Debug, Args)]
pub struct DrainsCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the drains as JSON.
    #[arg(long)]
    json: bool,
}

impl DrainsCommand {
    /// `GET /apps/{app}/log-drains`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let drains = api.get(&format!("/apps/{}/log-drains", seg(&name))).await?;
        if self.json {
            output::json(&drains);
            return Ok(());
        }
        let list: Vec<LogDrainView> = parse_all(drains.as_array().cloned().unwrap_or_default())?;
        if list.is_empty() {
            println!("{} has no drains.", output::app(&name));
        }
        for drain in list {
            println!("{} ({})", drain.url, drain.token);
        }
        Ok(())
    }
}
