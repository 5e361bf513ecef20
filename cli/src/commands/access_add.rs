//! `paas access:add EMAIL`: makes a user a collaborator on an app.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::access_update::permission_list;
use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Give a user access to an app as a collaborator.
#[derive(Debug, Args)]
pub struct AccessAddCommand {
    /// The user's email.
    email: String,
    /// Comma-separated permissions: deploy, operate, manage (view is always given) [default: all].
    #[arg(short = 'p', long)]
    permissions: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl AccessAddCommand {
    /// `POST /apps/{app}/collaborators {"user": email, "permissions"?}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let mut message = format!("Adding {} access to the app {}", self.email, output::app(&name));
        let mut body = json!({ "user": self.email });
        if let Some(permissions) = &self.permissions {
            let permissions = permission_list(permissions);
            message.push_str(&format!(" with {} permissions", permissions.join(", ")));
            body["permissions"] = json!(permissions);
        }
        let action = Action::start(&message);
        api.post(&format!("/apps/{}/collaborators", seg(&name)), &body).await?;
        action.done();
        Ok(())
    }
}
