//! `paas apps:transfer RECIPIENT`: gives an app to a team (by name) or, from a team, to one of
//! its members (by email).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Transfer an app to a team or to a member of its team.
#[derive(Debug, Args)]
pub struct AppsTransferCommand {
    /// A team's name, or a user's email.
    recipient: String,
    /// Lock the app upon transfer (team members get no implicit access).
    #[arg(short = 'l', long)]
    locked: bool,
    #[command(flatten)]
    app: AppArg,
}

impl AppsTransferCommand {
    /// `PATCH /teams/apps/{app} {"owner"}` (then `{"locked": true}` with `--locked`).
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Transferring {} to {}", output::app(&name), self.recipient));
        let path = format!("/teams/apps/{}", seg(&name));
        api.patch(&path, &json!({ "owner": self.recipient })).await?;
        if self.locked {
            api.patch(&path, &json!({ "locked": true })).await?;
        }
        action.done();
        Ok(())
    }
}
