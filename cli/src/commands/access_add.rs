//! `paas access:add EMAIL`: makes a user a collaborator on an app.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Give a user access to an app as a collaborator.
#[derive(Debug, Args)]
pub struct AccessAddCommand {
    /// The user's email.
    email: String,
    #[command(flatten)]
    app: AppArg,
}

impl AccessAddCommand {
    /// `POST /apps/{app}/collaborators {"user": email}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Adding {} access to the app {}", self.email, output::app(&name)));
        api.post(&format!("/apps/{}/collaborators", seg(&name)), &json!({ "user": self.email })).await?;
        action.done();
        Ok(())
    }
}
