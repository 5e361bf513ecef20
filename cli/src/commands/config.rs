//! `paas config`: lists an app's config vars.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Display an app's config vars.
#[derive(Debug, Args)]
pub struct ConfigCommand {
    #[command(flatten)]
    app: AppArg,
    #[command(flatten)]
    format: ConfigFormat,
}

/// How `paas config` and `paas config:get` print the config vars.
#[derive(Debug, Args)]
pub struct ConfigFormat {
    /// Print as JSON (`config:get`: `null` when the var is not set).
    #[arg(long, conflicts_with = "shell")]
    pub json: bool,
    /// Print KEY=value lines for a shell.
    #[arg(long, short = 's')]
    pub shell: bool,
}

/// The app's name and its config vars as the API answers them: `GET /apps/{app}/config-vars`.
pub async fn get_config_vars(app: &AppArg) -> Result<(String, Value)> {
    let name = app.resolve()?;
    let value = credentials::connect()?.get(&format!("/apps/{}/config-vars", seg(&name))).await?;
    Ok((name, value))
}

impl ConfigCommand {
    /// `GET /apps/{app}/config-vars`.
    pub async fn run(self) -> Result<()> {
        let (name, value) = get_config_vars(&self.app).await?;
        if self.format.json {
            output::json(&value);
            return Ok(());
        }
        let vars: BTreeMap<String, Option<String>> = parse(value)?;
        if self.format.shell {
            for (key, value) in &vars {
                println!("{key}={}", shell_quote(value.as_deref().unwrap_or_default()));
            }
            return Ok(());
        }
        output::header(&format!("{name} Config Vars"));
        print!("{}", styled(&vars));
        Ok(())
    }
}

/// `KEY: value` lines, aligned, sorted by key.
pub fn styled(vars: &BTreeMap<String, Option<String>>) -> String {
    let pairs: Vec<(&str, &str)> =
        vars.iter().map(|(key, value)| (key.as_str(), value.as_deref().unwrap_or_default())).collect();
    output::styled_object(&pairs)
}

/// A value quoted for a POSIX shell when it needs to be.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_quotes_only_what_needs_it() {
        assert_eq!(shell_quote("postgres://u:p@h/db"), "postgres://u:p@h/db");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
