//! `paas builds:output [ID]`: prints a build's output (default: the newest build's).

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::BuildView;
use crate::output;

/// Show a build's output (a running build's as it is written, until it ends).
#[derive(Debug, Args)]
pub struct BuildsOutputCommand {
    /// The build's id [default: the newest build]
    id: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl BuildsOutputCommand {
    /// `GET /apps/{app}/builds/{id}/output`, printed as it comes.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let id = match self.id {
            Some(id) => id,
            None => {
                let range = "created_at ..; max=1, order=desc";
                let newest: Vec<BuildView> = parse_all(api.page(&format!("/apps/{}/builds", seg(&name)), range).await?)?;
                match newest.into_iter().next() {
                    Some(build) => build.id,
                    None => bail!("{} has no builds", output::app(&name)),
                }
            }
        };
        let path = format!("/apps/{}/builds/{}/output", seg(&name), seg(&id));
        let mut response = api.get_streaming(&path).await?;
        let mut stdout = std::io::stdout();
        while let Some(chunk) = response.chunk().await.context("the build's output was cut off")? {
            stdout.write_all(&chunk)?;
            stdout.flush()?;
        }
        Ok(())
    }
}
