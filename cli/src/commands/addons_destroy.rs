//! `paas addons:destroy ADDON --confirm APP`: drops the add-on's data and detaches it from every
//! app (a release on each).

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};
use crate::usage::usage_bail;

/// Permanently destroy an add-on and its data.
#[derive(Debug, Args)]
pub struct AddonsDestroyCommand {
    /// The add-on's name or id, or its attachment name on the app (DATABASE).
    #[arg(value_name = "ADDON")]
    addon: String,
    #[command(flatten)]
    app: AppArg,
    /// The app's name again, to confirm.
    #[arg(long, value_name = "APP")]
    confirm: Option<String>,
}

impl AddonsDestroyCommand {
    /// `DELETE /apps/{app}/addons/{addon}` once `--confirm` names the app.
    pub async fn run(self) -> Result<()> {
        let app = self.app.resolve()?;
        match self.confirm.as_deref() {
            Some(confirm) if confirm == app => {}
            Some(confirm) => usage_bail!("confirmation {confirm:?} did not match {app:?}: nothing was destroyed"),
            None => usage_bail!(
                "this permanently destroys {} and its data; to proceed, type `paas addons:destroy {} -a {app} --confirm {app}`",
                self.addon,
                self.addon
            ),
        }
        let api = credentials::connect()?;
        let action = Action::start(&format!("Destroying {} on {}", self.addon, output::app(&app)));
        api.delete(&format!("/apps/{}/addons/{}", seg(&app), seg(&self.addon))).await?;
        action.done();
        Ok(())
    }
}
