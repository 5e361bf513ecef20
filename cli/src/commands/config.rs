//! `paas config`: lists an app's config vars.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Display an app's config vars.
#[derive(Debug, Args)]
pub struct ConfigCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the config vars as a JSON object.
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    /// Print the config vars as KEY=value lines for a shell.
    #[arg(long, short = 's')]
    shell: bool,
}

impl ConfigCommand {
    /// `GET /apps/{app}/config-vars`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let value = credentials::connect()?.get(&format!("/apps/{}/config-vars", seg(&name))).await?;
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let vars: BTreeMap<String, Option<String>> = parse(value)?;
        if self.shell {
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
