//! `paas git:remote -a APP`: points the `paas` git remote of the current repo at an existing app,
//! e.g. after cloning its source.

use anyhow::Result;
use clap::Args;

use crate::api::{parse, seg};
use crate::credentials;
use crate::git;
use crate::models::AppView;
use crate::usage::usage_bail;

/// Set the `paas` git remote of the current repo to an app.
#[derive(Debug, Args)]
pub struct GitRemoteCommand {
    /// The app.
    #[arg(short = 'a', long = "app", value_name = "APP")]
    app: String,
    /// The name of the git remote to set.
    #[arg(short = 'r', long, default_value = git::REMOTE)]
    remote: String,
}

impl GitRemoteCommand {
    /// `GET /apps/{app}` (so the app must exist and be visible), then `git remote add|set-url`.
    pub async fn run(self) -> Result<()> {
        if !git::in_repo() {
            usage_bail!("not inside a git repo: run `git init` first, or cd into your app's repo");
        }
        let api = credentials::connect()?;
        let app: AppView = parse(api.get(&format!("/apps/{}", seg(&self.app))).await?)?;
        let url = git::app_url(api.base_url(), &app.name);
        git::set_remote(&self.remote, &url)?;
        println!("set git remote {} to {url}", self.remote);
        Ok(())
    }
}
