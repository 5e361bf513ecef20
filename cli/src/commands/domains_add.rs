//! `paas domains:add HOSTNAME`: adds a custom domain to an app.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::DomainView;
use crate::output::{self, Action};

/// Add a custom domain to an app.
#[derive(Debug, Args)]
pub struct DomainsAddCommand {
    /// The hostname, e.g. www.example.com.
    hostname: String,
    #[command(flatten)]
    app: AppArg,
    /// Print the new domain as JSON.
    #[arg(long)]
    json: bool,
}

impl DomainsAddCommand {
    /// `POST /apps/{app}/domains {"hostname"}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Adding {} to {}", self.hostname, output::app(&name)));
        let value = api.post(&format!("/apps/{}/domains", seg(&name)), &json!({ "hostname": self.hostname })).await?;
        action.done();
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let domain: DomainView = parse(value)?;
        if let Some(target) = domain.cname.filter(|target| !target.is_empty()) {
            println!("Configure your app's DNS provider to point to the DNS Target {target}.");
        }
        Ok(())
    }
}
