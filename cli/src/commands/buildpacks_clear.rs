//! `paas buildpacks:clear`: goes back to detecting an app's buildpack.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Clear an app's buildpack: its next builds detect one.
#[derive(Debug, Args)]
pub struct BuildpacksClearCommand {
    #[command(flatten)]
    app: AppArg,
}

impl BuildpacksClearCommand {
    /// `PUT /apps/{app}/buildpack-installations` `{"updates": []}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let body = json!({"updates": []});
        credentials::connect()?.put(&format!("/apps/{}/buildpack-installations", seg(&name)), &body).await?;
        println!("Buildpacks cleared. Next release on {} will detect buildpacks normally.", output::app(&name));
        Ok(())
    }
}
