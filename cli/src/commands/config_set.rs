//! `paas config:set KEY=VALUE...`: sets config vars, which makes a new release.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value};

use crate::api::{Api, parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::ReleaseView;
use crate::output::{self, Action};

/// Set one or more config vars, making a new release.
#[derive(Debug, Args)]
pub struct ConfigSetCommand {
    /// The vars to set, each KEY=VALUE (e.g. FOO=bar 'GREETING=hello world').
    #[arg(value_name = "KEY=VALUE", required = true, value_parser = parse_key_value)]
    vars: Vec<(String, String)>,
    #[command(flatten)]
    app: AppArg,
}

impl ConfigSetCommand {
    /// `PATCH /apps/{app}/config-vars`, then reads the new release's version.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let keys: Vec<&str> = self.vars.iter().map(|(key, _)| key.as_str()).collect();
        let body: Map<String, Value> =
            self.vars.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect();
        let action = Action::start(&format!("Setting {} and restarting {}", keys.join(", "), output::app(&name)));
        let answer = api.patch(&format!("/apps/{}/config-vars", seg(&name)), &Value::Object(body)).await?;
        finish(action, &api, &name).await?;
        let all: BTreeMap<String, Option<String>> = parse(answer)?;
        let set: BTreeMap<String, Option<String>> =
            all.into_iter().filter(|(key, _)| keys.contains(&key.as_str())).collect();
        print!("{}", super::config::styled(&set));
        Ok(())
    }
}

/// Ends a config change's action line with `done, vN` (the newest release).
pub async fn finish(action: Action, api: &Api, app: &str) -> Result<()> {
    let newest = api.page(&format!("/apps/{}/releases", seg(app)), "version ..; order=desc, max=1").await?;
    match newest.into_iter().next().map(parse::<ReleaseView>).transpose()? {
        Some(release) => action.done_with(&format!("v{}", release.version)),
        None => action.done(),
    }
    Ok(())
}

/// Parses one `KEY=VALUE` argument (the value may contain `=` and be empty).
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        Some(_) => Err(format!("the name is missing before `=`: type KEY=VALUE, e.g. `paas config:set FOO{text}`")),
        None => Err(format!("expected KEY=VALUE: type e.g. `paas config:set {text}=value`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_key_value_splits_at_the_first_equals_sign() {
        assert_eq!(parse_key_value("FOO=bar"), Ok(("FOO".into(), "bar".into())));
        assert_eq!(parse_key_value("URL=a=b"), Ok(("URL".into(), "a=b".into())));
        assert_eq!(parse_key_value("EMPTY="), Ok(("EMPTY".into(), String::new())));
        assert!(parse_key_value("FOO").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_key_value("=bar").is_err());
    }
}
