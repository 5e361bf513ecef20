//! `paas access:remove EMAIL`: takes a collaborator's access to an app away.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Remove a collaborator's access to an app.
#[derive(Debug, Args)]
pub struct AccessRemoveCommand {
    /// The collaborator's email.
    email: String,
    #[command(flatten)]
    app: AppArg,
}

impl AccessRemoveCommand {
    /// `DELETE /apps/{app}/collaborators/{email}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Removing {} access from the app {}", self.email, output::app(&name)));
        api.delete(&format!("/apps/{}/collaborators/{}", seg(&name), seg(&self.email))).await?;
        action.done();
        Ok(())
    }
}
