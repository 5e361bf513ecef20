//! `paas apps:destroy NAME --confirm NAME`: permanently deletes an app, and the `paas` git remote
//! of the current repo if it pointed to it.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::git;
use crate::output::{self, Action};
use crate::usage::usage_bail;

/// Permanently destroy an app.
#[derive(Debug, Args)]
pub struct AppsDestroyCommand {
    /// The app to destroy [default: the -a/--app app]
    name: Option<String>,
    #[command(flatten)]
    app: AppArg,
    /// The app's name again, to confirm.
    #[arg(long, value_name = "NAME")]
    confirm: Option<String>,
}

impl AppsDestroyCommand {
    /// `DELETE /apps/{app}` once `--confirm` names the app.
    pub async fn run(self) -> Result<()> {
        let name = match self.name {
            Some(name) => name,
            None => self.app.resolve()?,
        };
        match self.confirm.as_deref() {
            Some(confirm) if confirm == name => {}
            Some(confirm) => usage_bail!("confirmation {confirm:?} did not match {name:?}: nothing was destroyed"),
            None => usage_bail!(
                "this permanently destroys {} and its data; to proceed, type `paas apps:destroy {name} --confirm {name}`",
                output::app(&name)
            ),
        }
        let api = credentials::connect()?;
        let action = Action::start(&format!("Destroying {} (including all add-ons)", output::app(&name)));
        api.delete(&format!("/apps/{}", seg(&name))).await?;
        action.done();
        if git::remote_app().as_deref() == Some(name.as_str()) {
            git::remove_remote(git::REMOTE)?;
        }
        Ok(())
    }
}
