//! `paas apps:rename NEWNAME`: renames an app, and repoints the `paas` git remote of the current
//! repo if it pointed to the old name.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::git;
use crate::models::AppView;
use crate::output::{self, Action};

/// Rename an app.
#[derive(Debug, Args)]
pub struct AppsRenameCommand {
    /// The app's new name.
    new_name: String,
    #[command(flatten)]
    app: AppArg,
}

impl AppsRenameCommand {
    /// `PATCH /apps/{app} {"name": new_name}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let action = Action::start(&format!("Renaming {} to {}", output::app(&name), output::app(&self.new_name)));
        let app: AppView = parse(api.patch(&format!("/apps/{}", seg(&name)), &json!({ "name": self.new_name })).await?)?;
        action.done();
        let git_url = git::app_url(api.base_url(), &app.name);
        if git::remote_app().as_deref() == Some(name.as_str()) {
            git::set_remote(git::REMOTE, &git_url)?;
        }
        println!("{} | {git_url}", app.web_url);
        Ok(())
    }
}
