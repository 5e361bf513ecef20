//! `paas builds:cache:purge -a APP --confirm APP`: empties an app's build cache.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};
use crate::usage::usage_bail;

/// Empty an app's build cache (the next build starts from scratch).
#[derive(Debug, Args)]
pub struct BuildsCachePurgeCommand {
    #[command(flatten)]
    app: AppArg,
    /// The app's name again, to confirm.
    #[arg(long, value_name = "APP")]
    confirm: Option<String>,
}

impl BuildsCachePurgeCommand {
    /// `DELETE /apps/{app}/build-cache` once `--confirm` names the app.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        match self.confirm.as_deref() {
            Some(confirm) if confirm == name => {}
            Some(confirm) => usage_bail!("confirmation {confirm:?} did not match {name:?}: the cache was kept"),
            None => usage_bail!(
                "this deletes the build cache of {}; to proceed, type `paas builds:cache:purge -a {name} --confirm {name}`",
                output::app(&name)
            ),
        }
        let action = Action::start(&format!("Purging build cache of {}", output::app(&name)));
        credentials::connect()?.delete(&format!("/apps/{}/build-cache", seg(&name))).await?;
        action.done();
        Ok(())
    }
}
