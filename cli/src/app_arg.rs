//! The `-a/--app` option every app command takes, and how the app is found when it is left out:
//! `PAAS_APP`, else the app the `paas` git remote of the current repo points to.

use anyhow::Result;
use clap::Args;

use crate::credentials::env;
use crate::git;
use crate::usage::usage_bail;

/// The app a command acts on.
#[derive(Debug, Clone, Args)]
pub struct AppArg {
    /// The app to act on [default: $PAAS_APP, else the app of the `paas` git remote]
    #[arg(short = 'a', long = "app", value_name = "APP")]
    pub app: Option<String>,
}

impl AppArg {
    /// The app's name: `--app`, else `PAAS_APP`, else the `paas` git remote's app.
    pub fn resolve(&self) -> Result<String> {
        if let Some(app) = self.app.clone().or_else(|| env("PAAS_APP")).or_else(git::remote_app) {
            return Ok(app);
        }
        usage_bail!(
            "no app specified: pass -a/--app APP, set PAAS_APP, or run this inside a git repo \
             with a `{}` remote (`paas apps:create` adds one)",
            git::REMOTE
        )
    }
}
