//! `paas config:get KEY`: prints one config var's value (an empty line when it is not set).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::config::shell_quote;
use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Display one config var's value.
#[derive(Debug, Args)]
pub struct ConfigGetCommand {
    /// The config var's name.
    key: String,
    #[command(flatten)]
    app: AppArg,
    /// Print the value as JSON (`null` when it is not set).
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    /// Print KEY=value for a shell.
    #[arg(long, short = 's')]
    shell: bool,
}

impl ConfigGetCommand {
    /// `GET /apps/{app}/config-vars`, picking one key.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let value = credentials::connect()?.get(&format!("/apps/{}/config-vars", seg(&name))).await?;
        let vars: BTreeMap<String, Option<String>> = parse(value)?;
        let value = vars.get(&self.key).cloned().flatten();
        if self.json {
            output::json(&value.map_or(Value::Null, |value| json!(value)));
        } else if self.shell {
            println!("{}={}", self.key, shell_quote(value.as_deref().unwrap_or_default()));
        } else {
            println!("{}", value.unwrap_or_default());
        }
        Ok(())
    }
}
