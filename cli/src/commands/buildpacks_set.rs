//! `paas buildpacks:set PATH_OR_GIT_URL`: sets the buildpack an app's next builds use.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Set an app's buildpack: a git URL (`URL#ref`), a folder on the server, or a built-in's name.
#[derive(Debug, Args)]
pub struct BuildpacksSetCommand {
    /// The buildpack.
    buildpack: String,
    #[command(flatten)]
    app: AppArg,
}

impl BuildpacksSetCommand {
    /// `PUT /apps/{app}/buildpack-installations` `{"updates": [{"buildpack": URL}]}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let body = json!({"updates": [{"buildpack": self.buildpack}]});
        credentials::connect()?.put(&format!("/apps/{}/buildpack-installations", seg(&name)), &body).await?;
        println!("Buildpack set. Next release on {} will use {}.", output::app(&name), self.buildpack);
        println!("Run git push paas main to create a new release using this buildpack.");
        Ok(())
    }
}
