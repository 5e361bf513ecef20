//! `paas config:get KEY`: prints one config var's value (an empty line when it is not set).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::config::{ConfigFormat, get_config_vars, shell_quote};
use crate::api::parse;
use crate::app_arg::AppArg;
use crate::output;

/// Display one config var's value.
#[derive(Debug, Args)]
pub struct ConfigGetCommand {
    /// The config var's name.
    key: String,
    #[command(flatten)]
    app: AppArg,
    #[command(flatten)]
    format: ConfigFormat,
}

impl ConfigGetCommand {
    /// `GET /apps/{app}/config-vars`, picking one key.
    pub async fn run(self) -> Result<()> {
        let (_, value) = get_config_vars(&self.app).await?;
        let vars: BTreeMap<String, Option<String>> = parse(value)?;
        let value = vars.get(&self.key).cloned().flatten();
        if self.format.json {
            output::json(&value.map_or(Value::Null, |value| json!(value)));
        } else if self.format.shell {
            println!("{}={}", self.key, shell_quote(value.as_deref().unwrap_or_default()));
        } else {
            println!("{}", value.unwrap_or_default());
        }
        Ok(())
    }
}
