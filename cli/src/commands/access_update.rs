//! `paas access:update EMAIL --permissions deploy,operate`: sets what a collaborator may do
//! (`view` is always kept).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Update a collaborator's permissions on an app.
#[derive(Debug, Args)]
pub struct AccessUpdateCommand {
    /// The collaborator's email.
    email: String,
    /// Comma-separated permissions: deploy, operate, manage (view is always given).
    #[arg(short = 'p', long)]
    permissions: String,
    #[command(flatten)]
    app: AppArg,
}

/// `deploy,operate` as Heroku's CLI sends it: with `view`, sorted, without repeats.
pub fn permission_list(text: &str) -> Vec<String> {
    let mut list: Vec<String> = text.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    list.push("view".to_string());
    list.sort();
    list.dedup();
    list
}

impl AccessUpdateCommand {
    /// `PATCH /teams/apps/{app}/collaborators/{email} {"permissions"}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let permissions = permission_list(&self.permissions);
        let action = Action::start(&format!(
            "Updating {} in application {} with {} permissions",
            self.email,
            output::app(&name),
            permissions.join(",")
        ));
        let path = format!("/teams/apps/{}/collaborators/{}", seg(&name), seg(&self.email));
        api.patch(&path, &json!({ "permissions": permissions })).await?;
        action.done();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn permission_lists_gain_view_and_are_sorted() {
        assert_eq!(super::permission_list("operate,deploy"), ["deploy", "operate", "view"]);
        assert_eq!(super::permission_list("view, manage,"), ["manage", "view"]);
    }
}
