//! `paas config:unset KEY...`: removes config vars, which makes a new release.

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value};

use super::config_set::finish;
use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Unset one or more config vars, making a new release.
#[derive(Debug, Args)]
pub struct ConfigUnsetCommand {
    /// The names of the vars to unset.
    #[arg(value_name = "KEY", required = true)]
    keys: Vec<String>,
    #[command(flatten)]
    app: AppArg,
}

impl ConfigUnsetCommand {
    /// `PATCH /apps/{app}/config-vars` with `null` for each key.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let body: Map<String, Value> = self.keys.iter().map(|key| (key.clone(), Value::Null)).collect();
        let action =
            Action::start(&format!("Unsetting {} and restarting {}", self.keys.join(", "), output::app(&name)));
        api.patch(&format!("/apps/{}/config-vars", seg(&name)), &Value::Object(body)).await?;
        finish(action, &api, &name).await
    }
}
